"""Dataset versions for the examples, from scikit-learn's bundled datasets or one it generates (nothing
is downloaded).

A *dataset version* is a folder of channel folders in the SageMaker built-in algorithms' CSV convention
(label in the first column, no header)::

    <out>/train/data.csv
    <out>/validation/data.csv

Versions are deterministic by seed: the seed picks the train/validation split (two seeds give two samples
of the same distribution) and, for drifted versions, which features drift:

``moderate``
    a covariate shift: 70% of each channel's rows are kept, drawn with weights that grow with one feature
    (rows with high values of it are kept more often). Every row keeps its own label, so the relationship
    between features and label is unchanged; only the feature distribution moves. The strength is
    calibrated so that the resampling feature's population stability index (PSI, 10 quantile bins of the
    whole dataset) is 0.17, in the usual "moderate" band of 0.1 - 0.25, whatever the dataset and seed.
``severe``
    stronger resampling (60% kept), a third of the features shifted by 1.3 standard deviations and
    rescaled by 1.8, and the label relationship changes: where one feature is above its median the labels
    are rotated (flipped for binary tasks). PSI far above 0.25.

Usage::

    python examples/data.py --dataset breast_cancer --out data/v1 --seed 1
    python examples/data.py --dataset breast_cancer --out data/v2 --seed 2 --drift moderate

From Python (benchmarks, demo): ``make_version(...)`` returns the arrays, ``write_version(...)`` writes
the channel folders.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from sklearn.datasets import load_breast_cancer, load_digits, load_wine, make_classification

DRIFTS = ("none", "moderate", "severe")


@dataclass(frozen=True)
class _Generated:
    data: np.ndarray
    target: np.ndarray


def load_synthetic() -> _Generated:
    """A binary task of 4,000 rows and 20 features (6 informative, 5% of the labels flipped), generated
    by scikit-learn with a fixed seed: large enough that a validation split of 1,000 rows ranks
    configurations by more than noise."""
    x, y = make_classification(
        n_samples=4000,
        n_features=20,
        n_informative=6,
        n_redundant=4,
        flip_y=0.05,
        class_sep=0.8,
        random_state=20,
    )
    return _Generated(x, y)


# Bundled with scikit-learn, or generated: reading them never touches the network.
_LOADERS: dict[str, Callable[..., Any]] = {
    "breast_cancer": load_breast_cancer,
    "digits": load_digits,
    "synthetic": load_synthetic,
    "wine": load_wine,
}
DATASETS = tuple(sorted(_LOADERS))

# How strongly each drift level moves the data (see the module docstring).
_KEEP = {"moderate": 0.7, "severe": 0.6}  # share of each channel's rows kept by the resampling
_MODERATE_TARGET_PSI = 0.17  # the resampling feature's PSI, in the middle of the usual 0.1 - 0.25 band
_SEVERE_RESAMPLE_STRENGTH = 1.5
_SEVERE_SHIFT_SHARE = 1 / 3  # share of the features shifted and rescaled
_SEVERE_SHIFT = 1.3  # in standard deviations
_SEVERE_SCALE = 1.8


class DataError(ValueError):
    """A bad option: the message names the option and the fix."""


@dataclass(frozen=True)
class DatasetVersion:
    """One dataset version: the arrays of each channel and how they were made."""

    dataset: str
    seed: int
    drift: str
    x_train: np.ndarray
    y_train: np.ndarray
    x_validation: np.ndarray
    y_validation: np.ndarray
    n_classes: int
    shifted_features: tuple[int, ...] = ()
    resampled_by: int | None = None
    relabel_feature: int | None = None

    def channels(self) -> dict[str, tuple[np.ndarray, np.ndarray]]:
        return {"train": (self.x_train, self.y_train), "validation": (self.x_validation, self.y_validation)}


def load_dataset(name: str) -> tuple[np.ndarray, np.ndarray]:
    """The features and integer labels of a bundled scikit-learn dataset."""
    if name not in _LOADERS:
        raise DataError(f"--dataset: unknown dataset {name!r}; choose one of {', '.join(DATASETS)}")
    bunch = _LOADERS[name]()
    return np.asarray(bunch.data, dtype=float), np.asarray(bunch.target, dtype=int)


def make_version(
    dataset: str,
    *,
    seed: int = 0,
    drift: str = "none",
    validation_fraction: float = 0.25,
    max_rows: int | None = None,
) -> DatasetVersion:
    """Build one dataset version; deterministic for equal arguments."""
    if drift not in DRIFTS:
        raise DataError(f"--drift: unknown drift {drift!r}; choose one of {', '.join(DRIFTS)}")
    if not 0.05 <= validation_fraction <= 0.5:
        raise DataError(f"--validation-fraction must be between 0.05 and 0.5, got {validation_fraction}")
    if seed < 0:
        raise DataError(f"--seed must be a non-negative integer, got {seed}")
    x, y = load_dataset(dataset)
    n_classes = int(y.max()) + 1
    split_rng = np.random.default_rng([seed, 0])
    order = split_rng.permutation(len(y))
    if max_rows is not None:
        if max_rows < 20:
            raise DataError(f"--max-rows must be at least 20, got {max_rows}")
        order = order[:max_rows]
    n_validation = max(round(len(order) * validation_fraction), n_classes)
    validation_idx, train_idx = order[:n_validation], order[n_validation:]
    x_train, y_train = x[train_idx], y[train_idx]
    x_validation, y_validation = x[validation_idx], y[validation_idx]
    if drift == "none":
        return DatasetVersion(dataset, seed, drift, x_train, y_train, x_validation, y_validation, n_classes)

    drift_rng = np.random.default_rng([seed, 1])
    mean, std = x.mean(axis=0), x.std(axis=0)
    # The resampling and relabelling features are spread out (no value holds half the rows), so that
    # resampling by them moves a distribution and a median splits the data.
    spread = np.array([np.unique(col, return_counts=True)[1].max() <= len(col) / 2 for col in x.T])
    spread_features = np.flatnonzero(spread & (std > 0))
    resample_feature, relabel_feature = (int(i) for i in drift_rng.choice(spread_features, 2, replace=False))
    others = np.setdiff1d(np.flatnonzero(std > 0), [resample_feature, relabel_feature])
    n_shifted = max(1, round(len(others) * _SEVERE_SHIFT_SHARE))
    shifted = tuple(sorted(int(i) for i in drift_rng.choice(others, n_shifted, replace=False)))
    edges = _quantile_edges(x[:, resample_feature])
    keep_train = _draw_keys(drift_rng, len(y_train))
    keep_validation = _draw_keys(drift_rng, len(y_validation))

    def z_score(xs: np.ndarray) -> np.ndarray:
        z = (xs[:, resample_feature] - mean[resample_feature]) / std[resample_feature]
        return np.asarray(np.clip(z, -3, 3))

    if drift == "moderate":
        # The strength is calibrated so that the resampling feature's PSI against the whole dataset hits
        # the target: the same level of drift whatever the dataset and the seed.
        def psi_at(strength: float) -> float:
            idx = _weighted_subset(keep_train, z_score(x_train), strength, _KEEP["moderate"])
            return _psi(x[:, resample_feature], x_train[idx, resample_feature], edges)

        lo, hi = 0.0, 6.0
        for _ in range(40):
            mid = (lo + hi) / 2
            lo, hi = (mid, hi) if psi_at(mid) < _MODERATE_TARGET_PSI else (lo, mid)
        strength = (lo + hi) / 2
    else:
        strength = _SEVERE_RESAMPLE_STRENGTH

    idx_train = _weighted_subset(keep_train, z_score(x_train), strength, _KEEP[drift])
    idx_validation = _weighted_subset(keep_validation, z_score(x_validation), strength, _KEEP[drift])
    x_train, y_train = x_train[idx_train], y_train[idx_train]
    x_validation, y_validation = x_validation[idx_validation], y_validation[idx_validation]
    if drift == "moderate":
        return DatasetVersion(
            dataset,
            seed,
            drift,
            x_train,
            y_train,
            x_validation,
            y_validation,
            n_classes,
            resampled_by=resample_feature,
        )

    # Severe: the label relationship changes (evaluated on the features before they are shifted, so it is
    # a rule of the source data), then a third of the features move by more than a standard deviation.
    median = float(np.median(x[:, relabel_feature]))

    def relabel(xs: np.ndarray, ys: np.ndarray) -> np.ndarray:
        return np.where(xs[:, relabel_feature] > median, (ys + 1) % n_classes, ys)

    def shift(xs: np.ndarray) -> np.ndarray:
        out = xs.copy()
        cols = list(shifted)
        out[:, cols] = (out[:, cols] - mean[cols]) * _SEVERE_SCALE + mean[cols] + _SEVERE_SHIFT * std[cols]
        return out

    return DatasetVersion(
        dataset,
        seed,
        drift,
        shift(x_train),
        relabel(x_train, y_train),
        shift(x_validation),
        relabel(x_validation, y_validation),
        n_classes,
        shifted_features=shifted,
        resampled_by=resample_feature,
        relabel_feature=relabel_feature,
    )


def _draw_keys(rng: np.random.Generator, n: int) -> np.ndarray:
    """Uniform draws for weighted sampling without replacement (Efraimidis-Spirakis keys)."""
    return np.asarray(rng.uniform(1e-12, 1.0, size=n))


def _weighted_subset(uniform: np.ndarray, z: np.ndarray, strength: float, keep: float) -> np.ndarray:
    """Row indices kept: ``keep`` of the rows, drawn without replacement with weights ``exp(strength*z)``.

    With the uniform draws fixed, the subset moves smoothly with ``strength``, which makes it calibratable.
    """
    k = max(round(len(uniform) * keep), 2)
    keys = np.log(uniform) / np.exp(strength * z)
    return np.sort(np.argsort(-keys, kind="stable")[:k])


def _quantile_edges(values: np.ndarray, bins: int = 10) -> np.ndarray:
    return np.asarray(np.unique(np.quantile(values, np.linspace(0, 1, bins + 1)[1:-1])))


def _psi(base: np.ndarray, new: np.ndarray, edges: np.ndarray, eps: float = 1e-4) -> float:
    """Population stability index of ``new`` against ``base`` on the given bin edges."""
    n_bins = len(edges) + 1
    b = np.bincount(np.searchsorted(edges, base, side="right"), minlength=n_bins) / len(base)
    n = np.bincount(np.searchsorted(edges, new, side="right"), minlength=n_bins) / len(new)
    b, n = np.clip(b, eps, None), np.clip(n, eps, None)
    return float(np.sum((n - b) * np.log(n / b)))


def write_version(version: DatasetVersion, out_dir: str | Path) -> dict[str, Path]:
    """Write ``<out>/<channel>/data.csv`` (label first, no header) for each channel; return the files."""
    out = Path(out_dir)
    written: dict[str, Path] = {}
    for channel, (xs, ys) in version.channels().items():
        path = out / channel / "data.csv"
        path.parent.mkdir(parents=True, exist_ok=True)
        table = np.column_stack([ys.astype(float), xs])
        fmt = ["%d"] + ["%.6g"] * xs.shape[1]
        np.savetxt(path, table, delimiter=",", fmt=fmt)
        written[channel] = path
    return written


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--dataset", default="breast_cancer", help=f"one of {', '.join(DATASETS)}")
    parser.add_argument("--out", required=True, help="folder to write <channel>/data.csv into")
    parser.add_argument("--seed", type=int, default=0, help="picks the split and the drifted features")
    parser.add_argument("--drift", default="none", help=f"one of {', '.join(DRIFTS)}")
    parser.add_argument("--validation-fraction", type=float, default=0.25)
    parser.add_argument("--max-rows", type=int, default=None, help="use only this many rows (tiny datasets)")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        version = make_version(
            args.dataset,
            seed=args.seed,
            drift=args.drift,
            validation_fraction=args.validation_fraction,
            max_rows=args.max_rows,
        )
        written = write_version(version, args.out)
    except DataError as e:
        print(f"data.py: error: {e}", file=sys.stderr)
        return 2
    for channel, path in written.items():
        rows = len(version.channels()[channel][1])
        print(f"{channel}: {rows} rows -> {path}")
    if version.drift != "none":
        print(
            f"drift={version.drift} resampled_by=feature {version.resampled_by} "
            f"shifted_features={list(version.shifted_features)}"
            + (
                f" relabelled_by=feature {version.relabel_feature}"
                if version.relabel_feature is not None
                else ""
            )
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
