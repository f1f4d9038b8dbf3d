"""Transfer learning for the Bayesian strategy: what parents' trials on other data teach a new search.

A ``TransferLearning`` warm start hands the new job its parents' trials, made on *other* data (a shifted
dataset, a new image). Two uses, both hints, never results on the new data:

- :func:`top_configurations`: the parents' best configurations, best first, deduplicated and spread (a
  configuration within ``min_distance`` of one already chosen, in the unit cube, is skipped), taken only
  from the parents' better half. They are proposed first: after a moderate shift good configurations
  mostly stay good, and several distinct good ones are several chances at the new optimum.
- :class:`ParentModel`: a Gaussian process fitted on the parents' observations, standardised on their own
  (warped, centred and scaled as the search standardises its own results, so a change of level or scale
  between the old and new data does not matter). Its posterior mean is the new model's *prior mean*,
  scaled by a weight that says how well it ranks the new results so far: a Bayesian linear
  regression of the new (standardised) results on the prior mean at their configurations, starting at
  full trust (weight 1) and clipped to ``[0, 1]``. While the new results agree with the parents the
  search exploits where the parents were good; after a severe shift, where the parents' ranking no
  longer holds, the weight falls towards 0 and the search becomes a cold one (zero prior mean) on its own.
  Until the new results spread, their prior means barely differ and the weight stays near its start.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from amtflow.local.engine._gp import Posterior, default_kernel, fit_kernel, standardise
from amtflow.local.engine._space import Config, SearchSpace

Mean = Callable[[np.ndarray], np.ndarray]

TOP_K = 5  # parents' configurations proposed first (at least; ``max_parallel`` if larger)
MIN_DISTANCE = 0.15  # in the unit cube, relative to sqrt(dims): closer configurations count as one
PRIOR_WEIGHT_SD = 0.5  # the prior weight's spread before any new result (mean 1: full trust)
NOISE_VARIANCE = 0.5  # of a standardised new result around the weighted prior mean
MIN_RELATED = 2  # parents' observations needed for a prior mean


def top_configurations(
    results: Sequence[tuple[Config, float]],
    space: SearchSpace,
    *,
    k: int,
    min_distance: float = MIN_DISTANCE,
) -> list[Config]:
    """Up to ``k`` of the parents' best configurations, best first, distinct and spread.

    ``results`` are ``(config, loss)`` (lower is better). Candidates are the better half of the distinct
    configurations (at least ``k``); a candidate closer than ``min_distance * sqrt(dims)`` (unit cube) to
    one already chosen is skipped. The parents' best configuration is always first.
    """
    distinct: list[tuple[Config, float]] = []
    for config, loss in sorted(results, key=lambda r: r[1]):
        if all(config != c for c, _ in distinct):
            distinct.append((dict(config), loss))
    pool = distinct[: max(k, math.ceil(len(distinct) / 2))]
    radius = min_distance * math.sqrt(max(space.dims, 1))
    chosen: list[Config] = []
    points: list[np.ndarray] = []
    for config, _ in pool:
        if len(chosen) >= k:
            break
        u = space.encode(config)
        if any(float(np.linalg.norm(u - p)) < radius for p in points):
            continue
        chosen.append(config)
        points.append(u)
    return chosen


class ParentModel:
    """The parents' observations on other data, as a weighted prior mean for the new model."""

    def __init__(self, space: SearchSpace) -> None:
        self.space = space
        self.related: list[tuple[Config, float]] = []  # (config, loss on the parents' data)
        self._posterior: Posterior | None = None
        self.weight = 1.0  # the last weight computed (1 until there are new results)

    def add(self, config: Config, loss: float) -> None:
        self.related.append((dict(config), loss))
        self._posterior = None

    @property
    def ready(self) -> bool:
        return len(self.related) >= MIN_RELATED

    def posterior(self, rng: np.random.Generator) -> Posterior:
        """The parents' GP on their own standardised losses (fitted once per set of observations)."""
        if self._posterior is None:
            x = np.array([self.space.encode(c) for c, _ in self.related]).reshape(-1, self.space.dims)
            y = standardise(np.array([v for _, v in self.related]))
            kernel = fit_kernel(default_kernel(), x, y, restarts=1, seed=int(rng.integers(2**31 - 1)))
            self._posterior = Posterior(kernel, x, y)
        return self._posterior

    def prior_mean(self, observed: Sequence[tuple[Config, float]], rng: np.random.Generator) -> Mean | None:
        """The parents' posterior mean times :meth:`fit_weight` on ``observed``; None without parents or
        when the new results say the parents' ranking does not hold (weight 0: a cold search)."""
        if not self.ready:
            return None
        model = self.posterior(rng)

        def parents_mean(points: np.ndarray) -> np.ndarray:
            return model.predict(points)[0]

        self.weight = fit_weight(parents_mean, self.space, observed)
        if self.weight <= 0.0:
            return None
        weight = self.weight

        def mean(points: np.ndarray) -> np.ndarray:
            return weight * parents_mean(points)

        return mean


def fit_weight(mean: Mean, space: SearchSpace, observed: Sequence[tuple[Config, Any]]) -> float:
    """How far the new results follow ``mean``: the posterior mean of ``w`` in ``y = c + w m(x) + e``.

    ``y`` the new losses standardised as the search standardises them, ``m`` the parents' mean at their
    configurations; prior ``w ~ N(1, PRIOR_WEIGHT_SD**2)``, noise variance ``NOISE_VARIANCE``; both
    centred, so only how the parents *rank* the new results counts, not their level. Clipped to [0, 1].
    """
    if len(observed) < 2:
        return 1.0
    x = np.array([space.encode(c) for c, _ in observed]).reshape(-1, space.dims)
    y = standardise(np.array([float(v) for _, v in observed]))
    m = mean(x)
    mc, yc = m - m.mean(), y - y.mean()
    precision = 1.0 / PRIOR_WEIGHT_SD**2 + float(mc @ mc) / NOISE_VARIANCE
    w = (1.0 / PRIOR_WEIGHT_SD**2 + float(mc @ yc) / NOISE_VARIANCE) / precision
    return float(np.clip(w, 0.0, 1.0))
