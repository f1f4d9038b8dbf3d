"""Fixtures for the benchmark tests: each benchmark's ``--quick`` mode, run once on a tiny budget."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from bench_support import TINY, BenchRun, run_bench


@pytest.fixture(scope="session")
def bench_results(tmp_path_factory: pytest.TempPathFactory) -> dict[str, BenchRun]:
    """Every benchmark's JSON, from one tiny ``--quick`` run each (shared by the tests)."""
    out = tmp_path_factory.mktemp("bench-results")
    runs = {}
    for name, extra in TINY.items():
        target = out / f"{name}.json"
        result = run_bench(name, "--quick", *extra, "--json", str(target), cwd=out)
        assert result.returncode == 0, f"{name}: {result.stderr[-2000:]}"
        runs[name] = BenchRun(result, json.loads(target.read_text()))
    return runs


@pytest.fixture(scope="session")
def results_dir(bench_results: dict[str, BenchRun], tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("bench-table")
    for name, run in bench_results.items():
        (out / f"{name}.json").write_text(json.dumps(run.figures))
    return out
