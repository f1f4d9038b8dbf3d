"""Bayesian search's cold start: the first batch of a parallel search is space-filling."""

from __future__ import annotations

import itertools
from typing import Any

import numpy as np

from amtflow.local.engine import make_strategy
from amtflow.local.engine._gp import maximin_point

SPACE_2D: dict[str, Any] = {
    "Strategy": "Bayesian",
    "HyperParameterTuningJobObjective": {"Type": "Minimize", "MetricName": "loss"},
    "ParameterRanges": {
        "ContinuousParameterRanges": [
            {"Name": "x", "MinValue": "0", "MaxValue": "1", "ScalingType": "Linear"},
            {"Name": "y", "MinValue": "0", "MaxValue": "1", "ScalingType": "Linear"},
        ]
    },
}


def _min_distance(configs: list[dict[str, Any]]) -> float:
    points = np.array([[c["x"], c["y"]] for c in configs])
    return min(float(np.linalg.norm(a - b)) for a, b in itertools.combinations(points, 2))


def test_first_batch_of_eight_is_space_filling_where_random_points_crowd() -> None:
    # Eight configurations before any result: the Latin hypercube's five, then three far from all.
    bayes, rand = [], []
    for seed in range(10):
        s = make_strategy(SPACE_2D, seed)
        r = make_strategy({**SPACE_2D, "Strategy": "Random"}, seed)
        bayes.append(_min_distance([s.suggest() or {} for _ in range(8)]))
        rand.append(_min_distance([r.suggest() or {} for _ in range(8)]))
    assert min(bayes) > 0.1
    assert float(np.mean(bayes)) > 2 * float(np.mean(rand))


def test_maximin_point_is_the_candidate_farthest_from_existing_points() -> None:
    existing = np.array([[0.0, 0.0], [1.0, 1.0]])
    candidates = np.array([[0.1, 0.1], [1.0, 0.0], [0.6, 0.6]])
    assert maximin_point(existing, candidates).tolist() == [1.0, 0.0]
    assert maximin_point(np.zeros((0, 2)), candidates).tolist() == [0.1, 0.1]
