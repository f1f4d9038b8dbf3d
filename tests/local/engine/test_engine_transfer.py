"""TransferLearning in the Bayesian strategy: the parents' configurations proposed first are their best,
distinct and spread; the parents' model steers the search while the new results agree with it and fades
once they do not; the parents' values are never results on the new data."""

from __future__ import annotations

from typing import Any

import numpy as np

from amtflow.local.engine import SearchSpace, make_strategy, warm_start_strategy
from amtflow.local.engine._transfer import ParentModel, fit_weight, top_configurations

CONFIG: dict[str, Any] = {
    "Strategy": "Bayesian",
    "HyperParameterTuningJobObjective": {"Type": "Minimize", "MetricName": "loss"},
    "ParameterRanges": {
        "ContinuousParameterRanges": [
            {"Name": "x", "MinValue": "0", "MaxValue": "10", "ScalingType": "Linear"},
            {"Name": "y", "MinValue": "0", "MaxValue": "10", "ScalingType": "Linear"},
        ]
    },
}
SPACE = SearchSpace.from_ranges(CONFIG["ParameterRanges"])


def bowl(c: dict[str, Any], at: tuple[float, float] = (3.0, 7.0)) -> float:
    return float((c["x"] - at[0]) ** 2 + (c["y"] - at[1]) ** 2)


def parents(n: int = 30, seed: int = 0) -> list[tuple[dict[str, Any], float]]:
    rng = np.random.default_rng(seed)
    out = []
    for x, y in rng.uniform(0, 10, size=(n, 2)):
        c = {"x": float(x), "y": float(y)}
        out.append((c, bowl(c)))
    return out


def test_top_configurations_are_the_best_first_without_duplicates_or_near_duplicates() -> None:
    results = [
        ({"x": 3.0, "y": 7.0}, 0.0),
        ({"x": 3.0, "y": 7.0}, 0.0),  # the same configuration twice
        ({"x": 3.1, "y": 7.1}, 0.02),  # next to the best: one chance, not two
        ({"x": 6.0, "y": 2.0}, 0.5),
        ({"x": 1.0, "y": 1.0}, 0.7),
        ({"x": 9.0, "y": 9.0}, 5.0),
        ({"x": 5.0, "y": 5.0}, 6.0),
        ({"x": 8.0, "y": 1.0}, 7.0),
        ({"x": 0.0, "y": 9.0}, 8.0),
    ]

    top = top_configurations(results, SPACE, k=3)

    assert top == [{"x": 3.0, "y": 7.0}, {"x": 6.0, "y": 2.0}, {"x": 1.0, "y": 1.0}]


def test_top_configurations_come_only_from_the_parents_better_half() -> None:
    results = [({"x": 3.0, "y": 7.0}, 0.0), ({"x": 3.05, "y": 7.0}, 0.1)] + [
        ({"x": float(i), "y": 0.0}, 10.0 + i) for i in range(10)
    ]

    top = top_configurations(results, SPACE, k=4)

    # Only the better half (6 of 12) are candidates; the second best is a near-duplicate of the best, and
    # x = 1 and 2 are next to x = 0: fewer than k rather than a worse half's configuration.
    assert top == [{"x": 3.0, "y": 7.0}, {"x": 0.0, "y": 0.0}, {"x": 3.0, "y": 0.0}]


def test_transfer_learning_proposes_the_parents_diverse_best_first_and_keeps_their_values_out() -> None:
    s = make_strategy(CONFIG, seed=1)
    results = [({k: str(v) for k, v in c.items()}, value) for c, value in parents()]

    warm_start_strategy(s, "TransferLearning", results, max_parallel=2)
    first = [s.suggest() for _ in range(5)]

    best = min(parents(), key=lambda r: r[1])[0]
    assert first[0] == SPACE.parse({k: str(v) for k, v in best.items()})
    points = [SPACE.encode(c) for c in first if c is not None]
    gaps = [np.linalg.norm(a - b) for i, a in enumerate(points) for b in points[i + 1 :]]
    assert min(gaps) > 0.15
    assert s.observed == []  # the parents' values are not results of this job


def _weight_after(at: tuple[float, float], n: int = 12) -> float:
    model = ParentModel(SPACE)
    for c, v in parents():
        model.add(c, v)
    rng = np.random.default_rng(5)
    observed = []
    for x, y in rng.uniform(0, 10, size=(n, 2)):
        c = {"x": float(x), "y": float(y)}
        observed.append((c, bowl(c, at)))
    model.prior_mean(observed, np.random.default_rng(0))
    return model.weight


def test_the_parents_weight_stays_while_the_new_results_agree_and_falls_after_a_severe_shift() -> None:
    assert _weight_after((3.0, 7.0)) > 0.8  # same optimum: the parents' ranking holds
    assert _weight_after((3.5, 6.5)) > 0.8  # a moderate shift
    assert _weight_after((9.0, 1.0)) == 0.0  # the optimum moved across the space: a cold search


def test_after_a_severe_shift_the_search_runs_without_the_parents_model() -> None:
    model = ParentModel(SPACE)
    for c, v in parents():
        model.add(c, v)
    rng = np.random.default_rng(1)
    observed = [
        (c, bowl(c, (9.0, 1.0)))
        for c in ({"x": float(x), "y": float(y)} for x, y in rng.uniform(0, 10, size=(10, 2)))
    ]

    assert model.prior_mean(observed, np.random.default_rng(0)) is None
    assert model.prior_mean(observed[:1], np.random.default_rng(0)) is not None  # before evidence: trusted


def test_the_weight_is_full_trust_until_the_new_results_spread() -> None:
    def mean(points: np.ndarray) -> np.ndarray:
        return np.asarray(points[:, 0])

    same = [({"x": 5.0, "y": float(y)}, float(y)) for y in range(4)]  # the parents' mean cannot rank them

    assert fit_weight(mean, SPACE, same[:1]) == 1.0
    assert 0.9 < fit_weight(mean, SPACE, same) <= 1.0
