"""bench/early_stopping.py through the real engine on a tiny budget."""

from __future__ import annotations

import math

import pytest
from bench_support import BenchRun
from early_stopping import overrides

pytestmark = pytest.mark.slow


def test_quick_run_writes_the_documented_json(bench_results: dict[str, BenchRun]) -> None:
    figures = bench_results["early_stopping"].figures

    assert set(figures) == {"epochs_saved_fraction", "relative_loss", "by_method"}
    assert set(figures["by_method"]) == {"auto", "hyperband"}
    for method in figures["by_method"].values():
        assert set(method) == {"epochs_saved_fraction", "relative_loss"}
        assert 0.0 <= method["epochs_saved_fraction"] < 1.0  # stopping never costs epochs
        assert math.isfinite(method["relative_loss"])
    assert figures["epochs_saved_fraction"] == figures["by_method"]["hyperband"]["epochs_saved_fraction"]


def test_quick_run_reports_each_job_and_the_verdicts(bench_results: dict[str, BenchRun]) -> None:
    out = bench_results["early_stopping"].result.stdout
    for method in ("off", "auto", "hyperband"):
        assert f"seed 0 {method}" in out
    assert out.count("PASS") + out.count("MISS") == 2


def test_the_three_jobs_differ_only_in_how_they_stop() -> None:
    off, auto, hyperband = (
        overrides(m, epochs=20, trials=8, parallel=2, seed=3) for m in ("off", "auto", "hyperband")
    )
    assert off["tuning"]["strategy"] == auto["tuning"]["strategy"] == "Random"
    assert (off["tuning"]["early_stopping"], auto["tuning"]["early_stopping"]) == ("Off", "Auto")
    assert hyperband["tuning"]["strategy"] == "Hyperband"
    assert hyperband["tuning"]["hyperband"] == {"min_resource": 2, "max_resource": 20}
    assert off["tuning"]["limits"] == hyperband["tuning"]["limits"]
    assert off["tuning"]["random_seed"] == hyperband["tuning"]["random_seed"] == 3
