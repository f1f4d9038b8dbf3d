"""Search strategies: which configuration to try next, and whether a running trial continues.

A strategy only decides; it never starts a process. Call order, for every trial::

    config = strategy.suggest()            # None: nothing left to try (Grid exhausted)
    ... the caller runs config ...
    strategy.on_report(trial_id, step, v)  # each intermediate objective value -> Decision
    strategy.on_result(config, value)      # the final objective (None if the trial produced none)

``suggest`` may be called several times before any result (parallel trials); those configurations are
*pending* until their ``on_result``. ``add_history`` feeds observations from warm-start parents.
Values are raw metric values; the strategy knows from the objective whether to minimize or maximize.

:func:`make_strategy` builds the strategy a ``HyperParameterTuningJobConfig`` asks for, so benchmarks can
drive the same code on analytic functions without processes::

    objective = {"Type": "Minimize", "MetricName": "loss"}
    s = make_strategy({"Strategy": "Bayesian", "ParameterRanges": {...},
                       "HyperParameterTuningJobObjective": objective}, seed=1)
    for _ in range(20):
        c = s.suggest()
        s.on_result(c, f(c))
"""

from __future__ import annotations

import itertools
import math
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping, Sequence
from enum import StrEnum
from typing import Any

import numpy as np
from scipy.optimize import minimize
from scipy.stats import qmc

from amtflow.local.engine._gp import Posterior, default_kernel, fit_kernel, maximin_point, standardise
from amtflow.local.engine._model import validation
from amtflow.local.engine._space import CategoricalParameter, Config, ContinuousParameter, SearchSpace
from amtflow.local.engine._transfer import ParentModel


class Decision(StrEnum):
    CONTINUE = "continue"
    STOP = "stop"


class Strategy(ABC):
    """The contract every strategy follows (see the module docstring for the call order)."""

    MAX_REDRAWS = 1000  # draws spent looking for a configuration not suggested yet before enumerating

    def __init__(self, space: SearchSpace, *, maximize: bool, seed: int) -> None:
        self.space = space
        self.maximize = maximize
        self.rng = np.random.default_rng(seed)
        self.seed = seed
        self.pending: list[Config] = []
        self.observed: list[tuple[Config, float]] = []  # (config, value to minimize)
        self._discrete = bool(space.parameters) and space.size() is not None
        self._suggested: list[Config] = []  # in a discrete space: every configuration suggested so far

    def _loss(self, value: float) -> float:
        return -value if self.maximize else value

    @abstractmethod
    def _next(self) -> Config | None: ...

    def suggest(self) -> Config | None:
        """The next configuration to run, or None when the strategy has nothing left to try.

        In a space without continuous ranges a configuration is never suggested twice: one already
        suggested is replaced by a random one not suggested yet, and None comes once all were suggested.
        """
        config = self._next()
        if config is not None and self._discrete:
            if config in self._suggested:
                config = self._unsuggested()
            if config is not None:
                self._suggested.append(dict(config))
        if config is not None:
            self.pending.append(dict(config))
        return config

    def _unsuggested(self) -> Config | None:
        for _ in range(self.MAX_REDRAWS):
            config = self.space.sample(self.rng)
            if config not in self._suggested:
                return config
        left = [c for c in self.space.enumerate() if c not in self._suggested]
        return left[int(self.rng.integers(len(left)))] if left else None

    def on_result(self, config: Mapping[str, Any], value: float | None) -> None:
        """The final objective of a suggested configuration (None: the trial gave no objective)."""
        key = dict(config)
        if key in self.pending:
            self.pending.remove(key)
        if value is not None and math.isfinite(value):
            self.observed.append((key, self._loss(float(value))))

    def add_history(self, config: Mapping[str, Any], value: float) -> None:
        """An observation made by a warm-start parent on the same data and algorithm."""
        if math.isfinite(value):
            self.observed.append((dict(config), self._loss(float(value))))

    def add_prior(self, configs: Sequence[Mapping[str, Any]]) -> None:  # noqa: B027 - optional hook
        """Good configurations from parents on other data (TransferLearning); used as hints only."""

    def add_related(self, config: Mapping[str, Any], value: float) -> None:  # noqa: B027 - optional hook
        """An observation made by a parent on other data (TransferLearning): never a result here."""

    def on_trial_start(self, trial_id: str, config: Mapping[str, Any]) -> None:  # noqa: B027 - optional
        """A suggested configuration runs as trial ``trial_id`` (before its first report)."""

    def on_report(self, trial_id: str, step: int, value: float) -> Decision:
        """An intermediate objective value of a running trial; the default never stops one."""
        return Decision.CONTINUE

    def on_trial_end(self, trial_id: str) -> None:  # noqa: B027 - optional hook
        """A trial ended (for whatever reason); strategies that track running trials forget it."""


class RandomStrategy(Strategy):
    """Independent draws, uniform in the scaled space."""

    def __init__(self, space: SearchSpace, *, maximize: bool, seed: int) -> None:
        super().__init__(space, maximize=maximize, seed=seed)
        self._queue: list[Config] = []

    def add_prior(self, configs: Sequence[Mapping[str, Any]]) -> None:
        self._queue.extend(dict(c) for c in configs)

    def _next(self) -> Config | None:
        if self._queue:
            return self._queue.pop(0)
        return self.space.sample(self.rng)


class GridStrategy(Strategy):
    """Every combination of the categorical values exactly once, in an order shuffled by the seed."""

    def __init__(self, space: SearchSpace, *, maximize: bool, seed: int) -> None:
        super().__init__(space, maximize=maximize, seed=seed)
        if not space.is_categorical_only():
            raise validation(
                "HyperParameterTuningJobConfig.Strategy Grid supports only CategoricalParameterRanges; "
                "turn continuous and integer ranges into categorical value lists or use Bayesian/Random."
            )
        cats = [p for p in space.parameters if isinstance(p, CategoricalParameter)]
        combos = [
            dict(zip([p.name for p in cats], values, strict=True))
            for values in itertools.product(*[p.values for p in cats])
        ]
        order = self.rng.permutation(len(combos))
        self._grid: list[Config] = [dict(combos[int(i)]) for i in order]

    @property
    def size(self) -> int:
        return len(self._grid) + len(self.pending) + len(self.observed)

    def _next(self) -> Config | None:
        return self._grid.pop(0) if self._grid else None


class BayesianStrategy(Strategy):
    """Gaussian-process Bayesian optimisation in the unit cube.

    - Model: a constant x Matern(5/2) kernel plus a white-noise term, on standardised losses (after a
      log-like warping that tames heavy-tailed objectives). One length scale is shared by all coordinates
      until ``3 d`` observations, then each coordinate gets its own (ARD fitted on a handful of points
      overfits and stalls the search). Kernel hyperparameters are fitted by maximum a posteriori (Gamma priors
      on signal, noise and inverse squared length scales, ``_gp.log_prior``) on
      the *observed* results only, from the second result on (the priors keep a fit on so few from
      collapsing), starting from the previous
      fit (one random restart every fourth fit; past 20 observations, on every third observation).
    - Start: a Latin hypercube of ``max(5, d + 1)`` points (``d`` = cube dimensions). Suggestions past it
      made before two results exist (the rest of a parallel search's first batch) are the farthest of 500
      random points from every observed or pending configuration, not plain random draws.
    - Parallel trials (kriging believer): pending configurations enter the posterior, never the kernel
      fit, as if their result were the posterior mean there. The mean is unchanged but the variance around
      a pending point collapses, so its expected improvement vanishes and concurrent suggestions spread out
      instead of piling onto one optimum; the kernel, fitted on real results only, is not bent by invented
      values (fitting it on lies collapsed the length scale to its bound and the search degenerated into
      sampling next to the best point).
    - Acquisition: expected improvement, evaluated vectorised over 2,000 random points and 500
      perturbations of the best points, refined with L-BFGS-B from the best one (continuous coordinates
      only), then snapped to a valid configuration. Suggestions run with one BLAS thread.
    - TransferLearning (``add_prior`` and ``add_related``, machinery in ``_transfer``): parents' top
      configurations, distinct and spread, are proposed first (when the new ranges allow them); parents'
      observations, standardised on their own (so a shift of level or scale between the old and new data
      does not matter), fit a separate GP whose posterior mean, times a weight, is the *prior mean* of the
      new model. New results are modelled as residuals around it, so where the new data agree with the
      parents the search exploits at once. The weight (1 at first) follows how well the parents' model
      ranks the new results so far; after a severe shift it falls to 0 and the search is a cold one.
      Parents' values are never treated as results on the new data. The initial
      Latin hypercube is skipped when such a prior exists.
    """

    n_random = 2000
    n_local = 500
    ard_factor = 3  # per-coordinate length scales from 3 * d observations on
    n_fill = 500  # candidates for a space-filling suggestion

    def __init__(self, space: SearchSpace, *, maximize: bool, seed: int) -> None:
        super().__init__(space, maximize=maximize, seed=seed)
        self.n_init = max(5, space.dims + 1)
        self._init_design = self._latin_hypercube(self.n_init)
        self._prior_queue: list[Config] = []
        self._prior_points: list[np.ndarray] = []
        self._parents = ParentModel(space)
        self._related = self._parents.related  # parents' (config, loss) on other data: TransferLearning
        self._kernel: Any = None
        self._ard = False
        self._fits = 0
        self._continuous_mask = np.ones(space.dims, dtype=bool)
        self._needs_snap = False
        i = 0
        for p in space.parameters:
            if isinstance(p, CategoricalParameter):
                self._continuous_mask[i : i + p.width] = False
            if not isinstance(p, ContinuousParameter):
                self._needs_snap = True
            i += p.width

    def _latin_hypercube(self, n: int) -> list[Config]:
        dims = len(self.space.parameters)
        if dims == 0:
            return []
        sampler = qmc.LatinHypercube(d=dims, seed=self.rng)
        points = sampler.random(n)
        configs: list[Config] = []
        for row in points:
            config: Config = {}
            for p, u in zip(self.space.parameters, row, strict=True):
                if isinstance(p, CategoricalParameter):
                    config[p.name] = p.values[min(len(p.values) - 1, int(u * len(p.values)))]
                else:
                    config[p.name] = p.from_unit(float(u))
            configs.append(config)
        return configs

    def add_prior(self, configs: Sequence[Mapping[str, Any]]) -> None:
        for c in configs:
            config = dict(c)
            self._prior_queue.append(config)
            self._prior_points.append(self.space.encode(config))

    def add_related(self, config: Mapping[str, Any], value: float) -> None:
        if math.isfinite(value):
            self._parents.add(dict(config), self._loss(float(value)))

    def _prior_mean(self) -> Callable[[np.ndarray], np.ndarray] | None:
        """The parents' model (TransferLearning) as a prior mean, weighted by how well it ranks the new
        results so far (``_transfer.ParentModel``); None without parents or once it ranks them no better
        than chance."""
        return self._parents.prior_mean(self.observed, self.rng)

    def _next(self) -> Config | None:
        if self._prior_queue:
            return self._prior_queue.pop(0)
        n_seen = len(self.observed)
        has_prior = len(self._related) >= 2
        if not has_prior and (n_seen + len(self.pending) < self.n_init or n_seen < 2):
            if self._init_design:
                return self._init_design.pop(0)
            return self._space_filling()
        from threadpoolctl import threadpool_limits  # type: ignore[import-untyped]

        # The matrices are small: one BLAS thread is several times faster than many contending ones.
        with threadpool_limits(1):
            return self._optimise_acquisition()

    def _space_filling(self) -> Config:
        """A configuration far from every one observed or pending (past the initial design, before two
        results exist: the rest of a highly parallel search's first batch stays space-filling)."""
        taken = [self.space.encode(c) for c in [c for c, _ in self.observed] + self.pending]
        candidates = np.array([self.space.encode(self.space.sample(self.rng)) for _ in range(self.n_fill)])
        existing = np.array(taken).reshape(-1, self.space.dims)
        return self.space.decode(maximin_point(existing, candidates))

    def _fit(self) -> tuple[Posterior, float]:
        """The posterior over observed results and pending lies, and the best standardised loss."""
        prior_mean = self._prior_mean()
        x = np.array([self.space.encode(c) for c, _ in self.observed]).reshape(-1, self.space.dims)
        y = standardise(np.array([v for _, v in self.observed]))
        m = prior_mean(x) if prior_mean is not None and len(x) else np.zeros(len(x))
        ard = len(self.observed) >= self.ard_factor * self.space.dims
        kernel = self._kernel
        if kernel is None or ard != self._ard:
            start: Any = 0.5
            if kernel is not None:
                start = float(np.mean(np.atleast_1d(kernel.k1.k2.length_scale)))
            kernel = default_kernel(np.full(self.space.dims, start) if ard else start)
            self._ard = ard
        # Past 20 observations one more point barely moves the fit, so it is refitted on every third.
        n = len(x)
        if n >= 2 and (self._kernel is None or n < 20 or n % 3 == 0 or kernel is not self._kernel):
            self._fits += 1
            kernel = fit_kernel(
                kernel,
                x,
                y - m,
                restarts=1 if self._fits % 4 == 1 else 0,
                seed=int(self.rng.integers(2**31 - 1)),
            )
            self._kernel = kernel
        best = 0.0
        posterior = Posterior(kernel, x, y, prior_mean)
        if len(y):
            best = float(np.min(y))
        elif prior_mean is not None and self._prior_points:
            best = float(np.min(prior_mean(np.array(self._prior_points))))
        if self.pending:
            xp = np.array([self.space.encode(c) for c in self.pending])
            lies = posterior.predict(xp)[0]  # the model's own belief, so the lies never bend the fit
            posterior = Posterior(kernel, np.vstack([x, xp]), np.concatenate([y, lies]), prior_mean)
        return posterior, best

    def _candidates(self) -> np.ndarray:
        d = self.space.dims
        parts = [self.rng.random((self.n_random, d))]
        anchors = [self.space.encode(c) for c, _ in sorted(self.observed, key=lambda t: t[1])[:5]]
        anchors += self._prior_points
        if anchors:
            base = np.array(anchors)[self.rng.integers(len(anchors), size=self.n_local)]
            scale = self.rng.choice([0.02, 0.05, 0.1, 0.2], size=(self.n_local, 1))
            parts.append(np.clip(base + self.rng.normal(size=base.shape) * scale, 0.0, 1.0))
        cand = np.vstack(parts)
        if self._needs_snap:
            cand = self.space.snap_many(cand)
        return cand

    def _optimise_acquisition(self) -> Config:
        posterior, best = self._fit()
        cand = self._candidates()
        ei = posterior.expected_improvement(cand, best)
        order = np.argsort(-ei)
        top_x, top_ei = cand[order[0]], float(ei[order[0]])
        mask = self._continuous_mask
        if mask.any():
            for idx in order[:1]:
                start = cand[idx]

                def neg_ei(z: np.ndarray, start: np.ndarray = start) -> tuple[float, np.ndarray]:
                    points = np.repeat(start[None, :], len(z) + 1, axis=0)
                    points[:, mask] = forward_differences(z)
                    values = -posterior.expected_improvement(points, best)
                    return float(values[0]), (values[1:] - values[0]) / (points[1:, mask] - z).sum(axis=1)

                res = minimize(
                    neg_ei,
                    start[mask],
                    jac=True,
                    method="L-BFGS-B",
                    bounds=[(0.0, 1.0)] * int(mask.sum()),
                    options={"maxiter": 20},
                )
                point = start.copy()
                point[mask] = np.clip(res.x, 0.0, 1.0)
                point = self.space.snap(point)
                value = float(posterior.expected_improvement(point, best)[0])
                if value > top_ei:
                    top_x, top_ei = point, value
        return self.space.decode(top_x)


def forward_differences(z: np.ndarray) -> np.ndarray:
    """``z`` and, below it, ``z`` moved by a small step along each coordinate in turn (backwards where a
    step forwards would leave the unit cube): the points of a forward-difference gradient, predicted in one
    call instead of one call per coordinate. The step is SciPy's default (``sqrt(eps) * max(1, |z|)``)."""
    step = np.sqrt(np.finfo(float).eps) * np.maximum(1.0, np.abs(z))
    step = np.where(z + step > 1.0, -step, step)
    points = np.repeat(z[None, :], len(z) + 1, axis=0)
    points[1 + np.arange(len(z)), np.arange(len(z))] += step
    return points


class HyperbandStrategy(RandomStrategy):
    """Random configurations, with asynchronous successive halving over Hyperband brackets.

    Resources are steps of the objective metric (one step per epoch in practice). With ``eta = 3`` there
    are ``s_max + 1`` brackets, ``s_max = floor(log_eta(MaxResource / MinResource))``; bracket ``b`` has
    rungs at ``MinResource * eta**(b + k)`` below ``MaxResource``. Each trial joins a bracket drawn with
    Hyperband's weights (more trials in aggressive brackets). Rungs at the same resource are one rung for
    every bracket (a bracket only decides where a trial's first rung is), so each decision compares with
    every trial that reached that resource. At a rung, a trial continues if its value is among the best
    ``ceil(n / eta)`` of the ``n`` values recorded at that rung so far (its own included): the first trial
    at a rung always continues, later ones must beat enough of their predecessors. No trial is stopped
    before ``MinResource`` steps. Brackets are drawn from their own random stream, so with the same seed
    Hyperband proposes exactly the configurations Random search would.
    """

    eta = 3

    def __init__(
        self, space: SearchSpace, *, maximize: bool, seed: int, min_resource: int, max_resource: int
    ) -> None:
        super().__init__(space, maximize=maximize, seed=seed)
        if min_resource < 1 or max_resource < min_resource:
            raise validation(
                "StrategyConfig.HyperbandStrategyConfig: MinResource must be >= 1 and <= MaxResource "
                f"(got MinResource={min_resource}, MaxResource={max_resource})."
            )
        self.min_resource = min_resource
        self.max_resource = max_resource
        self.s_max = math.floor(math.log(max_resource / min_resource) / math.log(self.eta) + 1e-9)
        weights = np.array(
            [self.eta ** (self.s_max - b) / (self.s_max - b + 1) for b in range(self.s_max + 1)]
        )
        self._weights = weights / weights.sum()
        self._bracket_of: dict[str, int] = {}
        self._rung_values: dict[int, list[float]] = {}
        self._bracket_rng = np.random.default_rng([seed, 1])

    def rungs(self, bracket: int) -> list[int]:
        out: list[int] = []
        k = 0
        while True:
            r = self.min_resource * self.eta ** (bracket + k)
            if r >= self.max_resource:
                return out
            out.append(int(r))
            k += 1

    def bracket_of(self, trial_id: str) -> int:
        if trial_id not in self._bracket_of:
            self._bracket_of[trial_id] = int(self._bracket_rng.choice(len(self._weights), p=self._weights))
        return self._bracket_of[trial_id]

    def assign_bracket(self, trial_id: str, bracket: int) -> None:
        self._bracket_of[trial_id] = bracket

    def on_report(self, trial_id: str, step: int, value: float) -> Decision:
        bracket = self.bracket_of(trial_id)
        if step not in self.rungs(bracket):
            return Decision.CONTINUE
        recorded = self._rung_values.setdefault(step, [])
        loss = self._loss(value)
        recorded.append(loss)
        n = len(recorded)
        rank = sum(1 for v in recorded if v < loss) + 1
        return Decision.CONTINUE if rank <= math.ceil(n / self.eta) else Decision.STOP


def _objective_is_max(config: Mapping[str, Any]) -> bool:
    objective = config.get("HyperParameterTuningJobObjective") or {}
    return str(objective.get("Type", "Minimize")) == "Maximize"


def hyperband_resources(
    config: Mapping[str, Any], static: Mapping[str, str] | None = None
) -> tuple[int, int]:
    """``(MinResource, MaxResource)``; MaxResource falls back to the static epochs hyperparameter."""
    hb = (config.get("StrategyConfig") or {}).get("HyperbandStrategyConfig") or {}
    min_r = int(hb.get("MinResource", 1))
    max_r = hb.get("MaxResource")
    if max_r is None:
        for key in ("epochs", "numepochs", "n-epochs", "n_epochs", "num_epochs"):
            if static and key in static:
                try:
                    max_r = int(float(static[key]))
                except ValueError:
                    raise validation(
                        f"StaticHyperParameters.{key} must be a whole number of epochs for Hyperband, "
                        f"got {static[key]!r}."
                    ) from None
                break
    if max_r is None:
        raise validation(
            "StrategyConfig.HyperbandStrategyConfig.MaxResource is missing and no static epochs "
            "hyperparameter (epochs, num_epochs, ...) gives it; set MaxResource."
        )
    return min_r, int(max_r)


def make_strategy(
    tuning_job_config: Mapping[str, Any], seed: int, static_hyperparameters: Mapping[str, str] | None = None
) -> Strategy:
    """The strategy ``tuning_job_config`` (a ``HyperParameterTuningJobConfig``) asks for, seeded."""
    space = SearchSpace.from_ranges(tuning_job_config.get("ParameterRanges"))
    maximize = _objective_is_max(tuning_job_config)
    name = tuning_job_config.get("Strategy", "Bayesian")
    if name == "Bayesian":
        return BayesianStrategy(space, maximize=maximize, seed=seed)
    if name == "Random":
        return RandomStrategy(space, maximize=maximize, seed=seed)
    if name == "Grid":
        return GridStrategy(space, maximize=maximize, seed=seed)
    if name == "Hyperband":
        min_r, max_r = hyperband_resources(tuning_job_config, static_hyperparameters)
        return HyperbandStrategy(space, maximize=maximize, seed=seed, min_resource=min_r, max_resource=max_r)
    raise validation(
        f"HyperParameterTuningJobConfig.Strategy must be Bayesian, Random, Grid or Hyperband, got {name!r}."
    )
