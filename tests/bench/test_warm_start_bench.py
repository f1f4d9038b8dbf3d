"""bench/warm_start.py through the real engine on a tiny budget."""

from __future__ import annotations

import pytest
from bench_support import BenchRun
from warm_start import METRIC, Trial, best_after, overrides, trials_to_reach

pytestmark = pytest.mark.slow


def test_quick_run_writes_the_documented_json(bench_results: dict[str, BenchRun]) -> None:
    figures = bench_results["warm_start"].figures

    assert set(figures) == {"trials_ratio"}
    # Trials needed are launch indices in 1..budget + 1 (budget 2 here).
    assert 1 / 3 <= figures["trials_ratio"] <= 3.0


def test_quick_run_reports_cold_and_warm(bench_results: dict[str, BenchRun]) -> None:
    out = bench_results["warm_start"].result.stdout
    assert "seed 0: cold best" in out
    assert "trials ratio" in out
    assert "mean best objective after k trials" in out


def _trial(index: int, objective: float | None) -> Trial:
    return Trial(f"job-{index:03d}-abcd", index, "Completed", objective, 10, {})


def test_trials_to_reach_counts_launch_indices_and_never_reaching_counts_budget_plus_one() -> None:
    # the objective is a log-loss: lower is better
    trials = [_trial(1, 0.30), _trial(2, None), _trial(3, 0.12), _trial(4, 0.10)]
    assert trials_to_reach(trials, 0.12, budget=4) == 3
    assert trials_to_reach(trials, 0.30, budget=4) == 1
    assert trials_to_reach(trials, 0.05, budget=4) == 5


def test_best_after_looks_at_the_first_trials_launched() -> None:
    trials = [_trial(1, 0.30), _trial(2, None), _trial(3, 0.12)]
    assert [best_after(trials, k) for k in (1, 2, 3)] == [0.30, 0.30, 0.12]
    assert best_after([_trial(1, None)], 1) is None


def test_jobs_minimise_the_validation_log_loss_with_their_whole_budget() -> None:
    settings = overrides(trials=20, parallel=2, seed=1)
    assert settings["tuning"]["objective"] == {"metric": METRIC, "goal": "Minimize"}
    assert settings["training"]["static_hyperparameters"] == {"eval_metric": "logloss"}
    assert settings["tuning"]["early_stopping"] == "Off"
    assert settings["tuning"]["completion"] == {"not_improving": None}
