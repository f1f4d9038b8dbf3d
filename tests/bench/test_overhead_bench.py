"""bench/overhead.py on a tiny budget."""

from __future__ import annotations

import math

import pytest
from bench_support import BenchResults

pytestmark = pytest.mark.slow


def test_quick_run_writes_the_documented_json(bench_results: BenchResults) -> None:
    figures = bench_results["overhead"].figures

    assert set(figures) == {"overhead_fraction", "interval"}
    assert math.isfinite(figures["overhead_fraction"])
    interval = figures["interval"]
    assert interval["n"] == 1  # one repeat in the quick run: the interval is the value itself
    assert interval["low"] == interval["median"] == interval["high"]
    assert figures["overhead_fraction"] > -0.9  # the engine cannot run the same trials for nothing


def test_quick_run_times_both_runners(bench_results: BenchResults) -> None:
    out = bench_results["overhead"].result.stdout
    assert "repeat 0 engine" in out
    assert "repeat 0 bare" in out
    assert "shortest trial in the bare loop" in out
