"""Bayesian search's cold start (the first batch of a parallel search is space-filling) and its kernel fit."""

from __future__ import annotations

import itertools
from typing import Any

import numpy as np
import pytest

from amtflow.local.engine import make_strategy
from amtflow.local.engine._gp import default_kernel, fit_kernel, log_prior, maximin_point, standardise

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


@pytest.mark.parametrize("length_scale", [0.5, np.array([0.3, 1.0, 2.0])])
def test_the_kernel_prior_gradient_matches_its_finite_differences(length_scale: Any) -> None:
    kernel = default_kernel(length_scale)
    theta = kernel.theta + np.random.default_rng(1).normal(scale=0.5, size=kernel.theta.shape)
    value, grad = log_prior(kernel, theta)
    step = 1e-6
    for i in range(len(theta)):
        moved = theta.copy()
        moved[i] += step
        assert (log_prior(kernel, moved)[0] - value) / step == pytest.approx(grad[i], rel=1e-4, abs=1e-4)


def test_a_fit_on_a_handful_of_rugged_results_keeps_its_length_scale_inside_the_cube() -> None:
    # Six unrelated results in 3-D: maximum likelihood explains them with a length scale at its lower
    # bound (every point its own bump); the prior keeps it on the cube's scale, so the model still
    # generalises between points.
    rng = np.random.default_rng(0)
    x, y = rng.random((6, 3)), standardise(rng.normal(size=6))
    scales = []
    for seed in range(5):
        fitted = fit_kernel(default_kernel(0.5), x, y, restarts=1, seed=seed)
        scales.append(float(fitted.k1.k2.length_scale))
    assert min(scales) > 0.1, scales
    assert max(scales) < 2.0, scales


def test_a_parallel_search_fits_its_kernel_from_the_second_result() -> None:
    # Eight at once: the ninth suggestion comes with two results and seven pending. With the priors, a
    # fit on two results is safe, so the model it uses has learnt from them instead of the default kernel.
    s = make_strategy(SPACE_2D, seed=0)
    batch = [s.suggest() or {} for _ in range(8)]
    for config in batch[:2]:
        s.on_result(config, (config["x"] - 0.3) ** 2 + (config["y"] - 0.7) ** 2)
    assert s.suggest() is not None
    fitted = s._kernel  # type: ignore[attr-defined]
    assert fitted is not None
    assert fitted.get_params() != default_kernel().get_params()
