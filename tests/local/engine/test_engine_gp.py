"""The Gaussian-process pieces of Bayesian search: log expected improvement, the kernel fit, the
acquisition's multi-start climb, and the space-filling first batch of a parallel search."""

from __future__ import annotations

import itertools
from typing import Any

import numpy as np
import pytest
from scipy.stats import norm

from amtflow.local.engine import BayesianStrategy, make_strategy
from amtflow.local.engine._gp import (
    Posterior,
    _length_scale_slice,
    _neg_log_posterior,
    default_kernel,
    fit_map,
    log_expected_improvement,
    maximin_point,
    maximise_log_ei,
)

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


def _posterior(n: int = 12, seed: int = 0) -> tuple[Posterior, float, np.ndarray]:
    rng = np.random.default_rng(seed)
    x = rng.random((n, 2))
    y = np.sin(6 * x[:, 0]) + np.cos(4 * x[:, 1])
    y = (y - y.mean()) / y.std()
    kernel = fit_map(default_kernel(np.full(2, 0.5)), x, y, restarts=1, rng=rng)
    return Posterior(kernel, x, y), float(y.min()), rng.random((300, 2))


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


def test_log_expected_improvement_is_the_log_of_ei_and_stays_finite_where_ei_underflows() -> None:
    posterior, best, cand = _posterior()
    ei = posterior.expected_improvement(cand, best)
    log_ei = log_expected_improvement(posterior, cand, best)
    ok = ei > 1e-200
    assert np.allclose(log_ei[ok], np.log(ei[ok]), rtol=1e-6, atol=1e-9)
    # Far below any reachable value: EI is 0.0 in floating point, log EI still ranks the points.
    far = log_expected_improvement(posterior, cand, best - 60.0)
    assert np.all(posterior.expected_improvement(cand, best - 60.0) == 0.0)
    assert np.all(np.isfinite(far))
    mu, sigma = posterior.predict(cand)
    z = (best - 60.0 - mu) / sigma
    asymptotic = np.log(sigma) + norm.logpdf(z) - 2 * np.log(-z)  # EI ~ sigma phi(z) / z^2, z -> -inf
    assert np.allclose(far, asymptotic, rtol=1e-3)


@pytest.mark.parametrize("seed", range(5))
def test_more_acquisition_starts_never_give_a_worse_point(seed: int) -> None:
    posterior, best, cand = _posterior(seed=seed)
    mask = np.ones(2, dtype=bool)
    best_candidate = float(np.max(log_expected_improvement(posterior, cand, best)))
    _, one = maximise_log_ei(posterior, best, cand, mask=mask, snap=lambda u: u, starts=1)
    x5, five = maximise_log_ei(posterior, best, cand, mask=mask, snap=lambda u: u, starts=5)
    assert best_candidate <= one <= five
    assert five == pytest.approx(float(log_expected_improvement(posterior, x5, best)[0]))
    assert np.all((x5 >= 0.0) & (x5 <= 1.0))


def test_kernel_fit_gradient_matches_finite_differences_with_and_without_prior() -> None:
    rng = np.random.default_rng(1)
    x = rng.random((10, 3))
    y = np.sin(3 * x).sum(axis=1)
    y = (y - y.mean()) / y.std()
    kernel = default_kernel(np.full(3, 0.5))
    ls = _length_scale_slice(kernel)
    theta = kernel.theta + 0.1
    for sd in (0.0, 1.0):
        value, grad = _neg_log_posterior(theta, kernel, x, y, ls, 0.0, sd)
        numeric = np.array(
            [
                (_neg_log_posterior(theta + h, kernel, x, y, ls, 0.0, sd)[0] - value) / 1e-6
                for h in np.eye(len(theta)) * 1e-6
            ]
        )
        assert np.allclose(grad, numeric, rtol=1e-3, atol=1e-3)


def test_length_scale_prior_keeps_a_fit_on_three_points_near_its_median() -> None:
    x = np.array([[0.1, 0.2], [0.5, 0.9], [0.8, 0.4]])
    y = np.array([-1.0, 0.2, 0.8])
    rng = np.random.default_rng(0)
    with_prior = fit_map(default_kernel(0.5), x, y, restarts=2, rng=rng, median=0.25, sd=0.2)
    assert float(with_prior.k1.k2.length_scale) == pytest.approx(0.25 * np.sqrt(2), rel=0.5)


def test_suggestions_after_the_initial_design_come_from_the_fitted_model() -> None:
    s = make_strategy(SPACE_2D, 3)
    assert isinstance(s, BayesianStrategy)
    for _ in range(s.n_init):
        c = s.suggest()
        assert c is not None
        s.on_result(c, (c["x"] - 0.3) ** 2 + (c["y"] - 0.6) ** 2)
    c = s.suggest()
    assert s._kernel is not None
    assert c is not None
