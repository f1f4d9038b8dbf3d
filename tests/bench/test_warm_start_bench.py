"""bench/warm_start.py: TransferLearning vs cold start through the engine's strategy layer."""

from __future__ import annotations

import pytest
from bench_support import BenchResults
from warm_start import LARGE, TASKS, cold_needed, key, prior_configs, summarise, trials_to_reach, within_noise

from amtflow.local.engine._transfer import TOP_K

pytestmark = pytest.mark.slow


def test_quick_run_writes_the_documented_json(bench_results: BenchResults) -> None:
    figures = bench_results["warm_start"].figures

    assert set(figures) == {"trials_ratio", "interval", "tasks", "seeds", "budget"}
    assert set(figures["tasks"]) == set(TASKS)
    assert figures["interval"] == figures["tasks"][LARGE]["ratio"]
    # Trials needed are launch indices in 1..budget + 1 (budget 2 here).
    assert 1 / 3 <= figures["trials_ratio"] <= 3.0
    for task in figures["tasks"].values():
        assert set(task) == {"ratio", "sum_ratio", "severe_regret", "peer_ratio", "ratio_within_noise"}
        assert task["ratio"]["n"] == figures["seeds"] == 1


def test_quick_run_reports_both_tasks_and_the_verdicts(bench_results: BenchResults) -> None:
    out = bench_results["warm_start"].result.stdout
    assert "cancer seed 0: moderate cold best" in out
    assert "synthetic (large validation)" in out
    assert "cancer (noisy validation)" in out
    assert out.count("PASS") + out.count("MISS") == 2 * len(TASKS)


def test_trials_to_reach_counts_launch_indices_and_never_reaching_counts_budget_plus_one() -> None:
    values = [0.30, 0.20, 0.12, 0.10]  # log-loss: lower is better
    assert trials_to_reach(values, 0.12) == 3
    assert trials_to_reach(values, 0.30) == 1
    assert trials_to_reach(values, 0.05) == 5
    assert cold_needed([0.3, 0.1, 0.2, 0.1]) == 2  # the first trial that found the final best


def test_the_peer_is_seeded_with_as_many_best_configurations_as_the_engine_proposes_first() -> None:
    parent = [({"eta": e / 10}, abs(e - 4) / 10) for e in range(1, 10)] + [({"eta": 0.4}, 0.0)]
    first = prior_configs(parent, parallel=2)
    assert len(first) == TOP_K
    assert first[:3] == [{"eta": 0.4}, {"eta": 0.3}, {"eta": 0.5}]  # best first, the duplicate once
    assert len(prior_configs(parent, parallel=TOP_K + 2)) == TOP_K + 2


def test_summary_per_seed_ratios_and_severe_regret() -> None:
    seed = {
        "moderate_cold": [0.5, 0.4, 0.3, 0.2],  # best 0.2 at trial 4
        "moderate_warm": [0.25, 0.2, 0.3, 0.3],  # reaches 0.2 at trial 2 -> ratio 0.5
        "moderate_peer": [0.3, 0.3, 0.3, 0.3],  # never -> 5 / 4
        "severe_cold": [0.4, 0.4, 0.4, 0.4],
        "severe_warm": [0.44, 0.5, 0.5, 0.5],  # +10 %
    }
    figures = summarise([seed])
    assert figures["ratio"]["median"] == pytest.approx(0.5)
    assert figures["peer_ratio"]["median"] == pytest.approx(1.25)
    assert figures["severe_regret"]["median"] == pytest.approx(0.1)
    assert figures["sum_ratio"] == pytest.approx(0.5)


def test_within_noise_compares_per_row_losses_paired_on_the_same_validation_rows() -> None:
    best, close, worse = {"eta": 0.1}, {"eta": 0.2}, {"eta": 0.3}
    rows = {
        key(best): [0.10, 0.20, 0.30, 0.40],
        key(close): [0.12, 0.18, 0.33, 0.39],  # mean difference 0.005, standard error ~0.012
        key(worse): [0.15, 0.25, 0.35, 0.45],  # 0.05 worse on every row: no noise explains it
    }
    assert within_noise(rows, [worse, close, best], best) == [0.0, 1.0, 1.0]


def test_the_second_figure_counts_trials_to_reach_the_noise_of_the_cold_starts_best() -> None:
    seed = {
        "moderate_cold": [0.5, 0.4, 0.3, 0.2],
        "moderate_warm": [0.25, 0.2, 0.3, 0.3],
        "moderate_cold_near": [0.0, 0.0, 1.0, 1.0],  # within noise of the best from trial 3
        "moderate_warm_near": [1.0, 1.0, 0.0, 0.0],  # from trial 1 -> 1 / 3
        "severe_cold": [0.4],
        "severe_warm": [0.4],
    }
    assert summarise([seed])["ratio_within_noise"]["median"] == pytest.approx(1 / 3)
