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


#: Gamma priors (shape, rate) on the kernel's hyperparameters, on standardised losses in the unit cube: the
#: signal variance around 1; the noise variance small (about 0.003), since trials are deterministic or
#: nearly; and each inverse squared length scale ``1 / l**2`` with its mode at 10 (``l`` about 0.32), so a
#: fit on few results neither collapses a length scale nor stretches it across the whole cube.
SIGNAL_PRIOR = (2.0, 1.0)
NOISE_PRIOR = (1.1, 30.0)
INVERSE_SQUARED_LENGTH_PRIOR = (2.0, 0.1)


def log_prior(kernel: Any, theta: np.ndarray) -> tuple[float, np.ndarray]:
    """The log prior density of ``kernel``'s hyperparameters at ``theta`` (scikit-learn's log-transformed
    vector, in ``kernel.hyperparameters`` order) and its gradient, for :func:`default_kernel`'s kernels.

    Each Gamma(a, b) prior is on the hyperparameter's natural value ``v``: ``(a - 1) log v - b v``, with
    ``log v = theta`` (``-2 theta`` for a length scale's ``1 / l**2``).
    """
    theta = np.asarray(theta, dtype=float)
    total, grad, i = 0.0, np.zeros_like(theta), 0
    for hp in kernel.hyperparameters:
        t = theta[i : i + hp.n_elements]
        if hp.name.endswith("length_scale"):
            (a, b), u = INVERSE_SQUARED_LENGTH_PRIOR, np.exp(-2.0 * t)
            total += float(np.sum((a - 1.0) * -2.0 * t - b * u))
            grad[i : i + hp.n_elements] = -2.0 * (a - 1.0) + 2.0 * b * u
        else:
            (a, b), v = NOISE_PRIOR if hp.name.endswith("noise_level") else SIGNAL_PRIOR, np.exp(t)
            total += float(np.sum((a - 1.0) * t - b * v))
            grad[i : i + hp.n_elements] = (a - 1.0) - b * v
        i += hp.n_elements
    return total, grad


def fit_kernel(kernel: Any, x: np.ndarray, y: np.ndarray, *, restarts: int, seed: int) -> Any:
    """Kernel hyperparameters by maximum a posteriori (scikit-learn's marginal likelihood times
    :func:`log_prior`'s priors), by L-BFGS-B from ``kernel`` and ``restarts`` random starts.

    Plain maximum likelihood let a fit on a handful of results, or a rugged objective, drive a length
    scale to a bound; the priors keep it in a sensible range (figures: docs/engine.md, "Bayesian search").
    """
    from scipy.optimize import minimize
    from sklearn.gaussian_process import GaussianProcessRegressor

    def maximum_a_posteriori(
        objective: Callable[..., tuple[float, np.ndarray]], start: np.ndarray, bounds: np.ndarray
    ) -> tuple[np.ndarray, float]:
        def negative_log_posterior(theta: np.ndarray) -> tuple[float, np.ndarray]:
            value, grad = objective(theta, eval_gradient=True)
            prior, prior_grad = log_prior(kernel, theta)
            return float(value) - prior, np.asarray(grad) - prior_grad

        res = minimize(negative_log_posterior, start, jac=True, method="L-BFGS-B", bounds=bounds)
        return np.asarray(res.x), float(res.fun)

    gp = GaussianProcessRegressor(
        kernel=kernel,
        normalize_y=False,
        n_restarts_optimizer=restarts,
        random_state=seed,
        optimizer=maximum_a_posteriori,
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


def maximin_point(existing: np.ndarray, candidates: np.ndarray) -> np.ndarray:
    """The candidate farthest from its nearest existing point (the first candidate when none exist)."""
    if not len(existing):
        return np.asarray(candidates[0])
    d2 = ((candidates[:, None, :] - existing[None, :, :]) ** 2).sum(axis=2)
    return np.asarray(candidates[int(np.argmax(d2.min(axis=1)))])
