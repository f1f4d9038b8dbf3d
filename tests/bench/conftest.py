"""Fixtures for the benchmark tests: each benchmark's ``--quick`` mode, run once on a tiny budget."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from bench_support import BenchResults, BenchRun


@pytest.fixture(scope="session")
def bench_results(tmp_path_factory: pytest.TempPathFactory) -> BenchResults:
    """Every benchmark's JSON, from one tiny ``--quick`` run each, made when a test first asks for it and
    shared by the tests (the overhead benchmark runs through ``run_all.py``, which run_all's tests read)."""
    return BenchResults(tmp_path_factory.mktemp("bench-results"))


@pytest.fixture(scope="session")
def results_dir(bench_results: BenchResults, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("bench-table")
    for name in bench_results.names:
        run: BenchRun = bench_results[name]
        (out / f"{name}.json").write_text(json.dumps(run.figures))
    return out
