"""bench/run_all.py: runs the benchmarks and tabulates their figures against the targets."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from bench_support import BenchResults, run_bench

pytestmark = pytest.mark.slow


def test_table_from_every_benchmark_result(results_dir: Path) -> None:
    done = run_bench("run_all", "--table-only", "--out", str(results_dir), cwd=results_dir)

    assert done.returncode == 0, done.stderr
    out = done.stdout
    for row in ("search", "early_stopping", "warm_start", "overhead"):
        assert row in out
    assert "hartmann6 bayesian p1 b3" in out
    assert "trials ratio (TransferLearning / cold)" in out
    assert "engine vs bare Optuna loop" in out


def test_runs_a_benchmark_and_collects_its_json(bench_results: BenchResults) -> None:
    # bench_results' overhead run is `run_all.py --quick --only overhead -- --trials 1 --epochs 1`
    done = bench_results.run_all
    overhead = bench_results["overhead"]

    assert done.returncode == 0, done.stderr
    assert json.loads(bench_results.run_all_summary.read_text()) == {"overhead": overhead.figures}
    assert (bench_results.out / "overhead.json").exists()
    # --quick and the arguments after -- reach the benchmark; its output passes through
    assert "== overhead: " in done.stdout
    assert (
        done.stdout.split("== overhead: ", 1)[1].split("\n", 1)[0].endswith("--quick --trials 1 --epochs 1")
    )
    assert "repeat 0 engine" in done.stdout
    assert "== overhead: exit 0 after" in done.stdout


def test_a_missing_result_is_reported(tmp_path: Path) -> None:
    done = run_bench("run_all", "--table-only", "--only", "warm_start", "--out", str(tmp_path), cwd=tmp_path)

    assert done.returncode == 1
    assert "failed: warm_start" in done.stderr


def test_an_unknown_benchmark_is_named(tmp_path: Path) -> None:
    done = run_bench("run_all", "--only", "speed", "--out", str(tmp_path), cwd=tmp_path)

    assert done.returncode == 2
    assert "--only: unknown speed; choose from search, early_stopping, warm_start, overhead" in done.stderr
