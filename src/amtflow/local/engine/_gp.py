"""The Gaussian-process pieces of the Bayesian strategy: kernel, hyperparameter fit, posterior, warping.

Everything works in the unit cube of :class:`~amtflow.local.engine._space.SearchSpace` on standardised
losses (lower is better).
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from typing import Any

import numpy as np
from scipy.linalg import cho_factor, cho_solve
from scipy.special import erfcx
from scipy.stats import norm


class Posterior:
    """A Gaussian-process posterior for fixed kernel hyperparameters.

    The Cholesky factor is computed once per suggestion; predictions for thousands of candidates are one
    matrix product and one triangular solve. ``prior_mean`` (a function of cube points, in the same
    standardised units as the targets) is the mean the data are residuals around.
    """

    def __init__(
        self,
        kernel: Any,
        x: np.ndarray,
        y: np.ndarray,
        prior_mean: Callable[[np.ndarray], np.ndarray] | None = None,
    ) -> None:
        self.kernel = kernel
        self.x = x
        self.prior_mean = prior_mean
        if len(x):
            k = np.asarray(kernel(x))
            k[np.diag_indices_from(k)] += 1e-8
            self.chol = cho_factor(k, lower=True)
            self.alpha = cho_solve(self.chol, y - self._m(x))

    def _m(self, x: np.ndarray) -> np.ndarray:
        return np.zeros(len(x)) if self.prior_mean is None else self.prior_mean(x)

    def predict(self, xc: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Posterior mean and standard deviation at the rows of ``xc``."""
        xc = np.atleast_2d(xc)
        prior = np.asarray(self.kernel.diag(xc))
        if not len(self.x):
            return self._m(xc), np.sqrt(np.maximum(prior, 1e-18))
        ks = np.asarray(self.kernel(xc, self.x))
        mu = self._m(xc) + ks @ self.alpha
        v = cho_solve(self.chol, ks.T)
        var = prior - np.einsum("ij,ji->i", ks, v)
        return mu, np.sqrt(np.maximum(var, 1e-18))

    def expected_improvement(self, xc: np.ndarray, best: float) -> np.ndarray:
        mu, sigma = self.predict(xc)
        sigma = np.maximum(sigma, 1e-9)
        z = (best - mu) / sigma
        return np.asarray((best - mu) * norm.cdf(z) + sigma * norm.pdf(z))


def default_kernel(length_scale: float | np.ndarray = 0.5) -> Any:
    from sklearn.gaussian_process.kernels import ConstantKernel, Matern, WhiteKernel

    return ConstantKernel(1.0, (1e-2, 1e2)) * Matern(
        length_scale=length_scale, length_scale_bounds=(1e-2, 2e1), nu=2.5
    ) + WhiteKernel(1e-4, (1e-8, 1e-1))


def fit_kernel(kernel: Any, x: np.ndarray, y: np.ndarray, *, restarts: int, seed: int) -> Any:
    """Kernel hyperparameters by maximum marginal likelihood (scikit-learn), starting from ``kernel``."""
    from sklearn.gaussian_process import GaussianProcessRegressor

    gp = GaussianProcessRegressor(
        kernel=kernel, normalize_y=False, n_restarts_optimizer=restarts, random_state=seed
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        gp.fit(x, y)
    return gp.kernel_


def _warp(y: np.ndarray) -> np.ndarray:
    """A monotone warping: losses far above the median are compressed logarithmically."""
    med = float(np.median(y))
    spread = float(np.median(np.abs(y - med))) or (float(np.std(y)) or 1.0)
    z = (y - med) / spread
    return np.asarray(np.where(z > 1.0, 1.0 + np.log1p(np.maximum(z - 1.0, 0.0)), z))


def standardise(y: np.ndarray) -> np.ndarray:
    """Warped, then zero mean and unit spread (an empty or constant input stays centred)."""
    if not len(y):
        return y
    w = _warp(y)
    return np.asarray((w - np.mean(w)) / (float(np.std(w)) or 1.0))


def _log_h(z: np.ndarray) -> np.ndarray:
    """``log(z * Phi(z) + phi(z))``, accurate where expected improvement underflows (very negative z)."""
    z = np.asarray(z, dtype=float)
    out = np.empty_like(z)
    big = z > -1.0
    zb = z[big]
    out[big] = np.log(zb * norm.cdf(zb) + norm.pdf(zb))
    zs = np.maximum(z[~big], -1e6)
    # z Phi(z) + phi(z) = phi(z) (1 + z Phi(z) / phi(z)), and Phi / phi = sqrt(pi / 2) erfcx(-z / sqrt 2)
    ratio = np.sqrt(np.pi / 2.0) * erfcx(-zs / np.sqrt(2.0))
    out[~big] = norm.logpdf(zs) + np.log(np.maximum(1.0 + zs * ratio, 1e-300))
    return out


def log_expected_improvement(posterior: Posterior, xc: np.ndarray, best: float) -> np.ndarray:
    """The logarithm of expected improvement below ``best``: the same ranking as EI, but never flat where
    EI underflows to zero, so an optimiser still has a slope to follow far from the incumbent."""
    mu, sigma = posterior.predict(xc)
    sigma = np.maximum(sigma, 1e-9)
    return np.asarray(np.log(sigma) + _log_h((best - mu) / sigma))


def _length_scale_slice(kernel: Any) -> slice:
    """Where the length scales sit in ``kernel.theta`` (log-transformed hyperparameters)."""
    i = 0
    for h in kernel.hyperparameters:
        if h.fixed:
            continue
        if h.name.endswith("length_scale"):
            return slice(i, i + h.n_elements)
        i += h.n_elements
    raise ValueError("kernel has no length scale")


def _neg_log_posterior(
    theta: np.ndarray, kernel: Any, x: np.ndarray, y: np.ndarray, ls: slice, mu: float, sd: float
) -> tuple[float, np.ndarray]:
    """Minus (log marginal likelihood + log-normal length-scale prior) and its gradient in ``theta``."""
    k, k_grad = kernel.clone_with_theta(theta)(x, eval_gradient=True)
    k[np.diag_indices_from(k)] += 1e-8
    try:
        chol = cho_factor(k, lower=True)
    except np.linalg.LinAlgError:
        return 1e25, np.zeros_like(theta)
    alpha = cho_solve(chol, y)
    lml = -0.5 * float(y @ alpha) - float(np.sum(np.log(np.diag(chol[0])))) - 0.5 * len(y) * np.log(2 * np.pi)
    inner = np.outer(alpha, alpha) - cho_solve(chol, np.eye(len(y)))
    grad = 0.5 * np.einsum("ij,jik->k", inner, k_grad)
    if sd > 0:
        z = (theta[ls] - mu) / sd
        lml -= 0.5 * float(z @ z)
        grad[ls] -= z / sd
    return -lml, -grad


def fit_map(
    kernel: Any,
    x: np.ndarray,
    y: np.ndarray,
    *,
    restarts: int,
    rng: np.random.Generator,
    median: float = 0.5,
    sd: float = 0.0,
) -> Any:
    """Kernel hyperparameters by maximum marginal likelihood, or maximum a posteriori with ``sd > 0``,
    starting from ``kernel`` and from ``restarts`` random points.

    The optional prior is log-normal on each length scale, with median ``median * sqrt(d)`` in the unit
    cube and ``sd`` in log units. Measured on the analytic benchmarks it lost to plain maximum likelihood
    (medians 0.25-2 and sd 1-1.5 lowered Hartmann6 and the parallel Branin scores), so it is off by
    default.
    """
    from scipy.optimize import minimize

    ls = _length_scale_slice(kernel)
    mu = float(np.log(median * np.sqrt(x.shape[1])))
    bounds = kernel.bounds
    centre = default_kernel(np.full(ls.stop - ls.start, np.exp(mu))).theta
    starts = [kernel.theta, centre]  # the previous fit, and the prior's centre (a fit on a few points
    # can end far off; carried forward alone, later fits start there and stay)
    for _ in range(restarts):
        # Other hyperparameters anywhere in their bounds; length scales at one end or the other of theirs
        # (a restart among very short or very long scales reaches fits a start in the middle misses).
        start = rng.uniform(bounds[:, 0], bounds[:, 1])
        n = ls.stop - ls.start
        ends = bounds[ls][np.arange(n), rng.integers(2, size=n)]
        start[ls] = ends if sd <= 0 else rng.normal(mu, sd, size=n)
        starts.append(np.clip(start, bounds[:, 0], bounds[:, 1]))
    best_theta, best_value = kernel.theta, np.inf
    for start in starts:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            res = minimize(
                _neg_log_posterior,
                start,
                args=(kernel, x, y, ls, mu, sd),
                jac=True,
                method="L-BFGS-B",
                bounds=bounds,
            )
        if res.fun < best_value:
            best_theta, best_value = res.x, float(res.fun)
    return kernel.clone_with_theta(best_theta)


def maximise_log_ei(
    posterior: Posterior,
    best: float,
    candidates: np.ndarray,
    *,
    mask: np.ndarray,
    snap: Callable[[np.ndarray], np.ndarray],
    starts: int,
    maxiter: int = 25,
) -> tuple[np.ndarray, float]:
    """The point of highest log expected improvement and its value.

    Candidates are scored at once; L-BFGS-B then climbs from each of the ``starts`` best ones over the
    continuous coordinates (``mask``; the others stay as the start has them), with a gradient by forward
    differences computed in one batched prediction. Each optimum is ``snap``-ped to a valid point and
    kept only if it beats the best candidate, so more starts never give a worse answer.
    """
    from scipy.optimize import minimize

    values = log_expected_improvement(posterior, candidates, best)
    order = np.argsort(-values)
    top_x, top_v = candidates[order[0]], float(values[order[0]])
    n = int(mask.sum())
    if not n or starts < 1:
        return top_x, top_v
    step = 1e-6
    for idx in order[:starts]:
        start = candidates[idx]

        def negative(z: np.ndarray, start: np.ndarray = start) -> tuple[float, np.ndarray]:
            points = np.repeat(start[None, :], n + 1, axis=0)
            points[:, mask] = z
            h = np.where(z + step <= 1.0, step, -step)
            points[1:, mask] += np.diag(h)
            v = log_expected_improvement(posterior, points, best)
            return -float(v[0]), -(v[1:] - v[0]) / h

        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            res = minimize(
                negative,
                start[mask],
                jac=True,
                method="L-BFGS-B",
                bounds=[(0.0, 1.0)] * n,
                options={"maxiter": maxiter},
            )
        point = start.copy()
        point[mask] = np.clip(res.x, 0.0, 1.0)
        point = snap(point)
        value = float(log_expected_improvement(posterior, point, best)[0])
        if value > top_v:
            top_x, top_v = point, value
    return top_x, top_v


def maximin_point(existing: np.ndarray, candidates: np.ndarray) -> np.ndarray:
    """The candidate farthest from its nearest existing point (the first candidate when none exist)."""
    if not len(existing):
        return np.asarray(candidates[0])
    d2 = ((candidates[:, None, :] - existing[None, :, :]) ** 2).sum(axis=2)
    return np.asarray(candidates[int(np.argmax(d2.min(axis=1)))])
