"""Strategies: Grid exhaustiveness, seeded reproducibility across processes, pending-aware Bayesian
search, Hyperband rung decisions."""

from __future__ import annotations

import itertools
import json
import subprocess
import sys
from typing import Any

import numpy as np
import pytest

from amtflow.local.engine import (
    BayesianStrategy,
    Decision,
    GridStrategy,
    HyperbandStrategy,
    SearchSpace,
    ServiceError,
    make_strategy,
)

QUADRATIC_CONFIG: dict[str, Any] = {
    "Strategy": "Bayesian",
    "HyperParameterTuningJobObjective": {"Type": "Minimize", "MetricName": "loss"},
    "ParameterRanges": {
        "ContinuousParameterRanges": [
            {"Name": "x", "MinValue": "-5", "MaxValue": "5", "ScalingType": "Linear"},
            {"Name": "y", "MinValue": "-5", "MaxValue": "5", "ScalingType": "Linear"},
        ]
    },
}


def quadratic(c: dict[str, Any]) -> float:
    return float((c["x"] - 1.2) ** 2 + (c["y"] + 0.7) ** 2)


def run_sequential(strategy_name: str, seed: int, budget: int) -> float:
    s = make_strategy({**QUADRATIC_CONFIG, "Strategy": strategy_name}, seed)
    best = float("inf")
    for _ in range(budget):
        c = s.suggest()
        assert c is not None
        v = quadratic(c)
        s.on_result(c, v)
        best = min(best, v)
    return best


def test_grid_runs_every_categorical_combination_exactly_once() -> None:
    config = {
        "Strategy": "Grid",
        "ParameterRanges": {
            "CategoricalParameterRanges": [
                {"Name": "a", "Values": ["1", "2", "3"]},
                {"Name": "b", "Values": ["x", "y"]},
                {"Name": "c", "Values": ["on", "off"]},
            ]
        },
    }
    s = make_strategy(config, seed=3)
    seen = []
    while (c := s.suggest()) is not None:
        seen.append((c["a"], c["b"], c["c"]))
        s.on_result(c, 1.0)
    assert len(seen) == 12
    assert sorted(seen) == sorted(itertools.product(["1", "2", "3"], ["x", "y"], ["on", "off"]))
    assert isinstance(s, GridStrategy)
    assert s.size == 12


def test_grid_refuses_numeric_ranges() -> None:
    with pytest.raises(ServiceError, match="Grid supports only CategoricalParameterRanges"):
        make_strategy({**QUADRATIC_CONFIG, "Strategy": "Grid"}, seed=1)


def test_unknown_strategy_is_a_validation_error() -> None:
    with pytest.raises(ServiceError, match="Bayesian, Random, Grid or Hyperband"):
        make_strategy({**QUADRATIC_CONFIG, "Strategy": "Genetic"}, seed=1)


_CHILD = """
import json, sys
from amtflow.local.engine import make_strategy
config = json.loads(sys.argv[1])
s = make_strategy(config, seed=11)
out = []
for _ in range(8):
    c = s.suggest()
    s.on_result(c, (c["x"] - 1.2) ** 2 + (c["y"] + 0.7) ** 2)
    out.append(c)
print(json.dumps(out))
"""


@pytest.mark.parametrize("strategy", ["Random", "Bayesian"])
def test_same_seed_and_request_give_the_same_configurations_in_another_process(strategy: str) -> None:
    config = {**QUADRATIC_CONFIG, "Strategy": strategy}
    here = []
    s = make_strategy(config, seed=11)
    for _ in range(8):
        c = s.suggest()
        assert c is not None
        s.on_result(c, quadratic(c))
        here.append(c)
    child = subprocess.run(
        [sys.executable, "-c", _CHILD, json.dumps(config)],
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    )
    assert json.loads(child.stdout) == json.loads(json.dumps(here))
    other = make_strategy(config, seed=12)
    assert [other.suggest() for _ in range(3)] != here[:3]


@pytest.mark.slow
def test_bayesian_finds_a_better_optimum_than_random_search_at_the_same_budget() -> None:
    seeds = range(3)
    bayes = [run_sequential("Bayesian", s, 12) for s in seeds]
    rand = [run_sequential("Random", s, 12) for s in seeds]
    assert float(np.mean(bayes)) < 0.05
    assert float(np.mean(bayes)) < float(np.mean(rand)) / 5


def test_bayesian_spreads_parallel_suggestions_instead_of_repeating_one() -> None:
    s = make_strategy(QUADRATIC_CONFIG, seed=5)
    assert isinstance(s, BayesianStrategy)
    for _ in range(8):
        c = s.suggest()
        assert c is not None
        s.on_result(c, quadratic(c))
    batch = [s.suggest() for _ in range(4)]
    assert len(s.pending) == 4
    points = np.array([[c["x"], c["y"]] for c in batch if c is not None])
    distances = [np.linalg.norm(a - b) for a, b in itertools.combinations(points, 2)]
    assert min(distances) > 0.05


def run_parallel(strategy_name: str, seed: int, budget: int, parallelism: int) -> float:
    """Asynchronous: ``parallelism`` suggestions before any result, then one more per result."""
    s = make_strategy({**QUADRATIC_CONFIG, "Strategy": strategy_name}, seed)
    pending: list[dict[str, Any]] = []
    best, issued, told = float("inf"), 0, 0
    while told < budget:
        while len(pending) < parallelism and issued < budget:
            c = s.suggest()
            assert c is not None
            pending.append(c)
            issued += 1
        c = pending.pop(0)
        v = quadratic(c)
        s.on_result(c, v)
        told += 1
        best = min(best, v)
    return best


@pytest.mark.slow
def test_bayesian_with_four_trials_in_flight_still_beats_random_search() -> None:
    seeds = range(5)
    bayes = [run_parallel("Bayesian", s, 16, 4) for s in seeds]
    rand = [run_parallel("Random", s, 16, 4) for s in seeds]
    assert float(np.median(bayes)) < 0.05
    assert float(np.median(bayes)) < float(np.median(rand)) / 10


def test_transfer_learning_parents_results_steer_the_first_suggestions() -> None:
    # Parents saw the same bowl shifted a little: the new job should start near (1.2, -0.7), not at random.
    s = make_strategy(QUADRATIC_CONFIG, seed=3)
    rng = np.random.default_rng(0)
    for _ in range(25):
        x, y = rng.uniform(-5, 5, size=2)
        s.add_related({"x": float(x), "y": float(y)}, 10.0 + (x - 1.5) ** 2 + (y + 0.4) ** 2)
    c = s.suggest()
    assert c is not None
    assert len(s.observed) == 0  # the parents' values are not results of this job
    assert quadratic(c) < 3.0


def test_maximize_objective_is_maximised() -> None:
    config = {**QUADRATIC_CONFIG, "HyperParameterTuningJobObjective": {"Type": "Maximize", "MetricName": "m"}}
    s = make_strategy(config, seed=2)
    best = -float("inf")
    for _ in range(12):
        c = s.suggest()
        assert c is not None
        v = -quadratic(c)
        s.on_result(c, v)
        best = max(best, v)
    assert best > -0.1


def test_transfer_learning_prior_is_proposed_first() -> None:
    s = make_strategy(QUADRATIC_CONFIG, seed=1)
    s.add_prior([{"x": 1.0, "y": -1.0}])
    assert s.suggest() == {"x": 1.0, "y": -1.0}


def test_history_from_parents_counts_as_observations() -> None:
    s = make_strategy(QUADRATIC_CONFIG, seed=1)
    for x in np.linspace(-4, 4, 6):
        s.add_history({"x": float(x), "y": 0.0}, quadratic({"x": x, "y": 0.0}))
    assert len(s.observed) == 6
    c = s.suggest()  # with history, the first suggestion is already model-based
    assert c is not None
    assert abs(float(c["x"]) - 1.2) < 2.5


def hyperband(seed: int = 0) -> HyperbandStrategy:
    space = SearchSpace.from_ranges(
        {"ContinuousParameterRanges": [{"Name": "x", "MinValue": "0", "MaxValue": "1"}]}
    )
    return HyperbandStrategy(space, maximize=False, seed=seed, min_resource=1, max_resource=27)


def test_hyperband_brackets_and_rungs() -> None:
    hb = hyperband()
    assert hb.s_max == 3
    assert hb.rungs(0) == [1, 3, 9]
    assert hb.rungs(1) == [3, 9]
    assert hb.rungs(2) == [9]
    assert hb.rungs(3) == []


def test_hyperband_stops_trials_outside_the_top_third_at_a_rung() -> None:
    hb = hyperband()
    for t in ("t1", "t2", "t3", "t4"):
        hb.assign_bracket(t, 0)
    # rung at step 1 (loss, lower is better); continue iff rank <= ceil(n / 3)
    assert hb.on_report("t1", 1, 0.5) is Decision.CONTINUE  # [0.5]: rank 1 <= 1
    assert hb.on_report("t2", 1, 0.9) is Decision.STOP  # [0.5, 0.9]: rank 2 > 1
    assert hb.on_report("t3", 1, 0.4) is Decision.CONTINUE  # [.., 0.4]: rank 1 <= 1
    assert hb.on_report("t4", 1, 0.45) is Decision.CONTINUE  # 4 values: rank 2 <= ceil(4/3) = 2
    assert hb.on_report("t4", 3, 0.3) is Decision.CONTINUE  # first value at rung 3
    # steps between rungs never stop
    assert hb.on_report("t4", 2, 99.0) is Decision.CONTINUE


def test_hyperband_never_stops_before_its_brackets_first_rung() -> None:
    hb = hyperband()
    for i in range(6):
        hb.assign_bracket(f"t{i}", 2)  # first rung at 9
        for step in range(1, 9):
            assert hb.on_report(f"t{i}", step, 10.0 + i) is Decision.CONTINUE


def test_hyperband_rungs_at_the_same_resource_are_shared_by_brackets() -> None:
    hb = hyperband()
    hb.assign_bracket("a", 0)
    hb.assign_bracket("b", 1)
    hb.assign_bracket("c", 1)
    assert hb.on_report("a", 3, 0.2) is Decision.CONTINUE  # bracket 0's second rung, first value
    # bracket 1's first rung is the same resource: b and c are ranked against a
    assert hb.on_report("b", 3, 0.5) is Decision.STOP  # [0.2, 0.5]: rank 2 > 1
    assert hb.on_report("c", 3, 0.1) is Decision.CONTINUE  # [.., 0.1]: rank 1


def test_hyperband_proposes_the_configurations_random_search_would() -> None:
    config = {**QUADRATIC_CONFIG, "StrategyConfig": {"HyperbandStrategyConfig": {"MaxResource": 27}}}
    hb = make_strategy({**config, "Strategy": "Hyperband"}, seed=4)
    rnd = make_strategy({**config, "Strategy": "Random"}, seed=4)
    configs = []
    for i in range(6):
        c = hb.suggest()
        assert c is not None
        hb.on_report(f"t{i}", 1, quadratic(c))  # draws the trial's bracket between suggestions
        configs.append(c)
    assert configs == [rnd.suggest() for _ in range(6)]


def test_hyperband_needs_a_max_resource() -> None:
    config = {**QUADRATIC_CONFIG, "Strategy": "Hyperband"}
    with pytest.raises(ServiceError, match="MaxResource"):
        make_strategy(config, seed=1)
    s = make_strategy(config, seed=1, static_hyperparameters={"epochs": "9"})
    assert isinstance(s, HyperbandStrategy)
    assert s.max_resource == 9


@pytest.mark.parametrize("strategy", ["Random", "Bayesian", "Hyperband"])
def test_no_configuration_of_a_discrete_space_is_suggested_twice(strategy: str) -> None:
    config: dict[str, Any] = {
        "Strategy": strategy,
        "HyperParameterTuningJobObjective": {"Type": "Minimize", "MetricName": "loss"},
        "ResourceLimits": {"MaxNumberOfTrainingJobs": 6, "MaxParallelTrainingJobs": 1},
        "ParameterRanges": {
            "CategoricalParameterRanges": [{"Name": "kind", "Values": ["a", "b", "c"]}],
            "IntegerParameterRanges": [{"Name": "n", "MinValue": "1", "MaxValue": "2"}],
        },
    }
    if strategy == "Hyperband":
        config["StrategyConfig"] = {"HyperbandStrategyConfig": {"MinResource": 1, "MaxResource": 9}}
    s = make_strategy(config, seed=3)
    seen = []
    for _ in range(6):
        suggestion = s.suggest()
        assert suggestion is not None
        assert suggestion not in seen
        seen.append(suggestion)
        s.on_result(suggestion, float(len(seen)))
    assert s.suggest() is None  # every configuration was tried
