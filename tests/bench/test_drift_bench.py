"""bench/drift.py: warm vs cold after a moderate and a severe shift, through the application in the twin."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path
from typing import Any

import pytest
from bench_support import BENCH, run_bench


def _load_bench(name: str) -> Any:
    """Import ``bench/<name>.py`` under a name of its own (``drift`` alone is the core package)."""
    spec = importlib.util.spec_from_file_location(f"amtflow_bench_{name}", BENCH / f"{name}.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while the class is built
    spec.loader.exec_module(module)
    return module


_bench = _load_bench("drift")
OUT_OF_REACH = _bench.OUT_OF_REACH
Job = _bench.Job
profile = _bench.profile
trials_ratio = _bench.trials_ratio
trials_to_reach = _bench.trials_to_reach
seed_ratios = _bench.seed_ratios


@pytest.mark.slow
def test_quick_run_writes_the_documented_json(tmp_path: Path) -> None:
    target = tmp_path / "drift.json"

    result = run_bench("drift", "--quick", "--trials", "2", "--json", str(target), cwd=tmp_path)

    assert result.returncode == 0, result.stderr[-3000:]
    data = json.loads(target.read_text())
    assert set(data) == {"moderate", "severe"}
    for shift in ("moderate", "severe"):
        assert set(data[shift]) == {"trials_ratio", "interval"}
        assert data[shift]["interval"]["n"] == 1
        # Trials needed are launch indices in 1..budget + 1 (budget 2 here).
        assert 1 / 3 <= data[shift]["trials_ratio"] <= 3.0
    out = result.stdout
    assert "moderate seed 0: cold best" in out
    assert "severe seed 0: cold best" in out
    assert "warm (from amtf-drift-" in out


def _job(objectives: tuple[float | None, ...]) -> Job:
    return Job("amtf-x", None, (), objectives)


def test_trials_to_reach_counts_launch_indices_and_never_reaching_counts_budget_plus_one() -> None:
    losses = (0.30, None, 0.12, 0.10)
    assert trials_to_reach(losses, 0.12) == 3
    assert trials_to_reach(losses, 0.30) == 1
    assert trials_to_reach(losses, 0.05) == 5


def test_the_ratio_sums_trials_needed_over_seeds_against_each_cold_starts_best() -> None:
    cold_a, warm_a = _job((0.30, 0.20, 0.10, 0.15)), _job((0.10, 0.25, 0.22, 0.21))
    cold_b, warm_b = _job((0.05, 0.30)), _job((0.30, 0.20))

    assert trials_ratio([(cold_a, warm_a)]) == (1 / 3, 1, 3)
    # Seed b: the cold start's best comes first; the warm start never reaches it (budget 2 + 1).
    assert trials_ratio([(cold_a, warm_a), (cold_b, warm_b)]) == (4 / 4, 4, 4)


def test_per_seed_ratios_divide_each_warm_start_by_its_own_cold_start() -> None:
    cold_a, warm_a = _job((0.30, 0.20, 0.10, 0.15)), _job((0.10, 0.25, 0.22, 0.21))
    cold_b, warm_b = _job((0.05, 0.30)), _job((0.30, 0.20))

    assert seed_ratios([(cold_a, warm_a), (cold_b, warm_b)]) == [1 / 3, 3.0]


def test_a_job_without_objectives_has_no_best() -> None:
    with pytest.raises(RuntimeError, match="no trial reported an objective"):
        _ = _job((None, None)).best


def test_the_severe_arm_moves_only_the_severe_threshold_and_both_arms_keep_the_whole_budget() -> None:
    warm = profile("m", trials=4, seed=2, severe_threshold=OUT_OF_REACH)
    plain = profile("m", trials=4, seed=2, severe_threshold=None)

    assert warm["warm_start"]["drift"] == {"moderate": 0.1, "severe": OUT_OF_REACH}
    assert plain["warm_start"]["drift"] == {"moderate": 0.1, "severe": 0.25}
    for doc in (warm, plain):
        assert doc["warm_start"]["transfer_budget_fraction"] == 1.0
        assert doc["tuning"]["limits"]["max_jobs"] == 4
        assert doc["tuning"]["random_seed"] == 2
        assert doc["tuning"]["early_stopping"] == "Off"
        assert "completion" not in doc["tuning"]
        assert doc["promotion"]["cross_dataset"] == "threshold"
        assert doc["tuning"]["objective"] == {"metric": "validation:logloss", "goal": "Minimize"}
        assert doc["training"]["metrics"][0]["name"] == "validation:logloss"
