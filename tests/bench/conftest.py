"""Fixtures for the benchmark tests: each benchmark's ``--quick`` mode, run once on a tiny budget."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[2]
BENCH = REPO / "bench"
sys.path.insert(0, str(BENCH))  # the benchmarks are scripts; their helpers are imported by the tests

# Tiny budgets on top of --quick, so that each benchmark finishes in seconds.
TINY = {
    "search": ["--seeds", "2", "--budgets", "3,6", "--workers", "1"],
    "early_stopping": ["--trials", "2", "--epochs", "2", "--rows", "120"],
    "warm_start": ["--trials", "2"],
    "overhead": ["--trials", "1", "--epochs", "1"],
}


@dataclass(frozen=True)
class BenchRun:
    result: subprocess.CompletedProcess[str]
    figures: dict[str, Any]


def run_bench(name: str, *args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SM_")}
    return subprocess.run(
        [sys.executable, str(BENCH / f"{name}.py"), *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )


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
