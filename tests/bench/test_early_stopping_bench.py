"""bench/early_stopping.py: replaying recorded curves through the engine's stopping decisions."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
from bench_support import BenchResults, run_bench
from early_stopping import (
    ASHA_GRACE,
    CURVES,
    METHODS,
    Outcome,
    Recorded,
    _Stopper,
    equal_loss,
    figures,
    load_curves,
    replay,
)

pytestmark = pytest.mark.slow


def test_quick_run_writes_the_documented_json(bench_results: BenchResults) -> None:
    figures_ = bench_results["early_stopping"].figures

    assert set(figures_) == {"epochs_saved_fraction", "relative_loss", "by_method", "equal_loss", "seeds"}
    variants = {f"optuna_asha:g{g}" for g in ASHA_GRACE}
    assert set(figures_["by_method"]) == (set(METHODS) - {"off"}) | variants
    assert figures_["equal_loss"]["verdict"] in {"ahead", "level", "behind"}
    for method in figures_["by_method"].values():
        assert 0.0 <= method["epochs_saved_fraction"] < 1.0  # stopping never costs epochs
        assert math.isfinite(method["relative_loss"])
        interval = method["epochs_saved_interval"]
        assert interval["low"] <= interval["median"] <= interval["high"]
        assert interval["n"] == figures_["seeds"]
    assert figures_["epochs_saved_fraction"] == figures_["by_method"]["hyperband"]["epochs_saved_fraction"]


def test_quick_run_reports_the_verdicts(bench_results: BenchResults) -> None:
    out = bench_results["early_stopping"].result.stdout
    assert out.count("PASS") + out.count("MISS") == len(METHODS) - 1 + len(ASHA_GRACE) + 1
    assert "auto vs ASHA at equal loss" in out
    assert "replayed from 200 recorded curves" in out


def test_the_recorded_curves_are_committed_and_complete() -> None:
    epochs, pool = load_curves(CURVES)
    assert (epochs, len(pool)) == (30, 200)
    assert all(len(t.curve) == epochs for t in pool if not t.failed)


class _StopAt(_Stopper):
    def __init__(self, rule: dict[str, int]) -> None:
        self.rule = rule
        self.ended: list[tuple[str, float | None]] = []

    def report(self, trial: str, step: int, value: float) -> bool:
        return self.rule.get(trial) == step

    def end(self, trial: str, config: object, objective: float | None) -> None:
        self.ended.append((trial, objective))


def test_replay_stops_a_trial_where_told_and_keeps_its_last_value() -> None:
    trials = [Recorded({"x": "1"}, (3.0, 2.0, 1.0), False), Recorded({"x": "2"}, (2.0, 1.5, 0.5), False)]
    stopper = _StopAt({"trial-002": 2})

    outcomes = replay(trials, stopper, parallel=2)

    assert outcomes == [Outcome(3, 1.0), Outcome(2, 1.5)]
    assert stopper.ended == [("trial-002", 1.5), ("trial-001", 1.0)]


def test_a_diverged_trial_has_no_objective() -> None:
    outcomes = replay([Recorded({}, (1.0, 0.5), True)], _Stopper(), parallel=1)
    assert outcomes == [Outcome(2, None)]


def test_figures_per_seed_are_epochs_saved_and_relative_loss() -> None:
    off = [[Outcome(10, 1.0), Outcome(10, 2.0)], [Outcome(10, 1.0), Outcome(10, 1.0)]]
    auto = [[Outcome(10, 1.0), Outcome(5, 3.0)], [Outcome(2, 1.5), Outcome(10, 1.1)]]

    result = figures({"off": off, "auto": auto})["auto"]

    # seed 0: 25% saved, best kept; seed 1: 40% saved, best 1.1 instead of 1.0 (+10%)
    assert result["epochs_saved_fraction"] == pytest.approx(0.325)
    assert result["relative_loss"] == pytest.approx(0.05)
    assert result["worst_relative_loss"] == pytest.approx(0.1)
    assert result["seeds_losing"] == 1


def test_a_missing_peer_package_is_skipped_with_a_note(tmp_path: Path) -> None:
    done = run_bench(
        "early_stopping", "--quick", "--seeds", "1", "--trials", "4", cwd=tmp_path, hide={"optuna"}
    )
    assert done.returncode == 0, done.stderr
    assert "note: optuna_asha skipped: optuna is not installed" in done.stdout


def _figure(saved: float, loss: float, low: float, high: float) -> dict[str, object]:
    return {
        "epochs_saved_fraction": saved,
        "relative_loss": loss,
        "epochs_saved_interval": {"median": saved, "low": low, "high": high, "n": 10},
    }


def test_equal_loss_picks_the_asha_variant_saving_most_at_no_more_loss_than_auto() -> None:
    by_method = {
        "auto": _figure(0.53, 0.008, 0.50, 0.56),
        "optuna_asha": _figure(0.72, 0.12, 0.70, 0.74),  # saves more, but loses more: not comparable
        "optuna_asha:g8": _figure(0.45, 0.006, 0.42, 0.48),
        "optuna_asha:g10": _figure(0.40, 0.003, 0.38, 0.42),
        "hyperband": _figure(0.60, 0.001, 0.58, 0.62),  # not an ASHA variant
    }

    matched = equal_loss(by_method)

    assert matched["peer"] == "optuna_asha:g8"
    assert matched["verdict"] == "ahead"  # 0.50 > 0.48: the intervals do not overlap


def test_equal_loss_calls_overlapping_intervals_level_and_lower_ones_behind() -> None:
    auto = _figure(0.53, 0.008, 0.49, 0.56)
    level = _figure(0.53, 0.006, 0.50, 0.54)
    ahead_of_auto = _figure(0.60, 0.008, 0.58, 0.62)
    assert equal_loss({"auto": auto, "optuna_asha:g8": level})["verdict"] == "level"
    assert equal_loss({"auto": auto, "optuna_asha:g6": ahead_of_auto})["verdict"] == "behind"
    assert equal_loss({"auto": auto, "optuna_asha": _figure(0.72, 0.12, 0.7, 0.74)})["peer"] is None
