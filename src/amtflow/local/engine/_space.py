"""The search space: ``ParameterRanges`` parsed, scaled into the unit cube and back.

Every parameter maps to one or more coordinates in [0, 1]: a continuous or integer parameter to one (after
its scaling), a categorical parameter to one coordinate per value (one-hot). Models work in that cube;
configurations leave it through :meth:`SearchSpace.decode`.

Scaling types: ``Linear`` is uniform; ``Logarithmic`` is uniform in ``log(x)`` (requires ``MinValue > 0``);
``ReverseLogarithmic`` is uniform in ``-log(1 - x)`` (continuous only, ``0 <= MinValue < MaxValue < 1``),
which spends resolution near 1; ``Auto`` (or no scaling) means ``Logarithmic`` when ``MinValue > 0`` and
``MaxValue / MinValue >= 100``, else ``Linear``. Integer ranges are scaled over ``[Min - 0.5, Max + 0.5]``
and rounded, so every integer gets an equal share of the (scaled) range.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

import numpy as np

from amtflow.local.engine._model import validation

ParamValue = float | int | str
Config = dict[str, ParamValue]


class Scaling(StrEnum):
    AUTO = "Auto"
    LINEAR = "Linear"
    LOGARITHMIC = "Logarithmic"
    REVERSE_LOGARITHMIC = "ReverseLogarithmic"


def _number(raw: Any, field: str) -> float:
    try:
        value = float(raw)
    except (TypeError, ValueError):
        raise validation(f"{field} must be a number given as a string, got {raw!r}.") from None
    if not math.isfinite(value):
        raise validation(f"{field} must be finite, got {raw!r}.")
    return value


def _resolve_scaling(raw: Any, low: float, high: float, field: str) -> Scaling:
    try:
        scaling = Scaling(raw or "Auto")
    except ValueError:
        allowed = ", ".join(s.value for s in Scaling)
        raise validation(f"{field}.ScalingType must be one of {allowed}, got {raw!r}.") from None
    if scaling is Scaling.AUTO:
        return Scaling.LOGARITHMIC if low > 0 and high / low >= 100 else Scaling.LINEAR
    return scaling


@dataclass(frozen=True)
class _Numeric:
    name: str
    low: float
    high: float
    scaling: Scaling

    def _bounds(self) -> tuple[float, float]:
        return self.low, self.high

    def _fwd(self, x: float) -> float:
        if self.scaling is Scaling.LOGARITHMIC:
            return math.log(x)
        if self.scaling is Scaling.REVERSE_LOGARITHMIC:
            return -math.log(1.0 - x)
        return x

    def _inv(self, t: float) -> float:
        if self.scaling is Scaling.LOGARITHMIC:
            return math.exp(t)
        if self.scaling is Scaling.REVERSE_LOGARITHMIC:
            return 1.0 - math.exp(-t)
        return t

    def to_unit(self, x: float) -> float:
        lo, hi = self._bounds()
        t_lo, t_hi = self._fwd(lo), self._fwd(hi)
        if t_hi == t_lo:
            return 0.5
        return min(1.0, max(0.0, (self._fwd(min(max(x, lo), hi)) - t_lo) / (t_hi - t_lo)))

    def from_unit_raw(self, u: float) -> float:
        lo, hi = self._bounds()
        t_lo, t_hi = self._fwd(lo), self._fwd(hi)
        return min(hi, max(lo, self._inv(t_lo + min(1.0, max(0.0, u)) * (t_hi - t_lo))))

    # The same arithmetic on arrays (one column of many cube points at once).

    def _fwd_array(self, x: np.ndarray) -> np.ndarray:
        if self.scaling is Scaling.LOGARITHMIC:
            return np.asarray(np.log(x))
        if self.scaling is Scaling.REVERSE_LOGARITHMIC:
            return np.asarray(-np.log(1.0 - x))
        return x

    def _inv_array(self, t: np.ndarray) -> np.ndarray:
        if self.scaling is Scaling.LOGARITHMIC:
            return np.asarray(np.exp(t))
        if self.scaling is Scaling.REVERSE_LOGARITHMIC:
            return np.asarray(1.0 - np.exp(-t))
        return t

    def to_unit_array(self, x: np.ndarray) -> np.ndarray:
        lo, hi = self._bounds()
        t_lo, t_hi = self._fwd(lo), self._fwd(hi)
        if t_hi == t_lo:
            return np.full(len(x), 0.5)
        t = self._fwd_array(np.minimum(np.maximum(x, lo), hi))
        return np.minimum(1.0, np.maximum(0.0, (t - t_lo) / (t_hi - t_lo)))

    def from_unit_raw_array(self, u: np.ndarray) -> np.ndarray:
        lo, hi = self._bounds()
        t_lo, t_hi = self._fwd(lo), self._fwd(hi)
        t = t_lo + np.minimum(1.0, np.maximum(0.0, u)) * (t_hi - t_lo)
        return np.asarray(np.minimum(hi, np.maximum(lo, self._inv_array(t))))

    def snap_array(self, u: np.ndarray) -> np.ndarray:
        """``to_unit(from_unit(u))`` for each value of ``u``."""
        return self.to_unit_array(self.from_unit_raw_array(u))


@dataclass(frozen=True)
class ContinuousParameter(_Numeric):
    width: int = 1

    def from_unit(self, u: float) -> float:
        return float(self.from_unit_raw(u))


@dataclass(frozen=True)
class IntegerParameter(_Numeric):
    width: int = 1

    def _bounds(self) -> tuple[float, float]:
        return self.low - 0.5, self.high + 0.5

    def from_unit(self, u: float) -> int:
        return int(min(self.high, max(self.low, round(self.from_unit_raw(u)))))

    def snap_array(self, u: np.ndarray) -> np.ndarray:
        """``to_unit(from_unit(u))`` for each value of ``u`` (``round`` and ``rint`` round half to even)."""
        whole = np.minimum(self.high, np.maximum(self.low, np.rint(self.from_unit_raw_array(u))))
        return self.to_unit_array(whole.astype(float))


@dataclass(frozen=True)
class CategoricalParameter:
    name: str
    values: tuple[str, ...]

    @property
    def width(self) -> int:
        return len(self.values)


Parameter = ContinuousParameter | IntegerParameter | CategoricalParameter


class SearchSpace:
    """The tunable parameters of a tuning job, in the order the request lists them."""

    def __init__(self, parameters: Sequence[Parameter]) -> None:
        names = [p.name for p in parameters]
        duplicates = sorted({n for n in names if names.count(n) > 1})
        if duplicates:
            raise validation(
                f"ParameterRanges names {', '.join(duplicates)} more than once; give each hyperparameter "
                "one range."
            )
        self.parameters: tuple[Parameter, ...] = tuple(parameters)
        self.dims = sum(p.width for p in self.parameters)

    @classmethod
    def from_ranges(cls, ranges: Mapping[str, Any] | None) -> SearchSpace:
        ranges = ranges or {}
        params: list[Parameter] = []
        for kind, key in (("Continuous", "ContinuousParameterRanges"), ("Integer", "IntegerParameterRanges")):
            for i, item in enumerate(ranges.get(key) or []):
                field = f"ParameterRanges.{key}[{i}]"
                name = str(item.get("Name", ""))
                low = _number(item.get("MinValue"), f"{field}.MinValue")
                high = _number(item.get("MaxValue"), f"{field}.MaxValue")
                if kind == "Integer" and (low != int(low) or high != int(high)):
                    raise validation(f"{field} ({name}): MinValue and MaxValue must be whole numbers.")
                if low > high:
                    raise validation(
                        f"{field} ({name}): MinValue {low:g} is above MaxValue {high:g}; swap them."
                    )
                scaling = _resolve_scaling(item.get("ScalingType"), low, high, field)
                if scaling is Scaling.LOGARITHMIC and low <= 0:
                    raise validation(
                        f"{field} ({name}): Logarithmic scaling needs MinValue > 0; use Linear or raise "
                        "MinValue."
                    )
                if scaling is Scaling.REVERSE_LOGARITHMIC and (kind == "Integer" or low < 0 or high >= 1):
                    raise validation(
                        f"{field} ({name}): ReverseLogarithmic scaling works only for continuous "
                        "ranges within 0 <= x < 1; use Linear or Logarithmic."
                    )
                if kind == "Integer":
                    params.append(IntegerParameter(name, int(low), int(high), scaling))
                else:
                    params.append(ContinuousParameter(name, low, high, scaling))
        for i, item in enumerate(ranges.get("CategoricalParameterRanges") or []):
            values = tuple(str(v) for v in item.get("Values") or [])
            if not values:
                raise validation(f"ParameterRanges.CategoricalParameterRanges[{i}].Values must not be empty.")
            params.append(CategoricalParameter(str(item.get("Name", "")), values))
        return cls(params)

    @property
    def names(self) -> list[str]:
        return [p.name for p in self.parameters]

    def is_categorical_only(self) -> bool:
        return all(isinstance(p, CategoricalParameter) for p in self.parameters)

    def _choices(self, p: Parameter) -> Sequence[ParamValue]:
        if isinstance(p, CategoricalParameter):
            return sorted(set(p.values), key=p.values.index)
        return range(int(p.low), int(p.high) + 1)

    def size(self) -> int | None:
        """How many distinct configurations there are (None with a continuous range: no end of them)."""
        if any(isinstance(p, ContinuousParameter) for p in self.parameters):
            return None
        return math.prod(len(self._choices(p)) for p in self.parameters)

    def enumerate(self) -> list[Config]:
        """Every configuration of a space without continuous ranges."""
        choices = [self._choices(p) for p in self.parameters]
        return [dict(zip(self.names, values, strict=True)) for values in itertools.product(*choices)]

    def sample(self, rng: np.random.Generator) -> Config:
        """A configuration drawn uniformly in the scaled space."""
        config: Config = {}
        for p in self.parameters:
            if isinstance(p, CategoricalParameter):
                config[p.name] = p.values[int(rng.integers(len(p.values)))]
            else:
                config[p.name] = p.from_unit(float(rng.random()))
        return config

    def encode(self, config: Mapping[str, ParamValue]) -> np.ndarray:
        """The configuration as a point of the unit cube (one-hot for categorical parameters)."""
        out = np.zeros(self.dims)
        i = 0
        for p in self.parameters:
            v = config[p.name]
            if isinstance(p, CategoricalParameter):
                if str(v) in p.values:
                    out[i + p.values.index(str(v))] = 1.0
                i += p.width
            else:
                out[i] = p.to_unit(float(v))
                i += 1
        return out

    def decode(self, u: np.ndarray) -> Config:
        """The configuration a point of the cube stands for (argmax over one-hot blocks)."""
        config: Config = {}
        i = 0
        for p in self.parameters:
            if isinstance(p, CategoricalParameter):
                config[p.name] = p.values[int(np.argmax(u[i : i + p.width]))]
                i += p.width
            else:
                config[p.name] = p.from_unit(float(u[i]))
                i += 1
        return config

    def snap(self, u: np.ndarray) -> np.ndarray:
        """Round a cube point to the point of the configuration it decodes to."""
        return self.encode(self.decode(u))

    def snap_many(self, points: np.ndarray) -> np.ndarray:
        """:meth:`snap` for each row of ``points``, column by column with array arithmetic (the Bayesian
        strategy snaps thousands of candidates per suggestion): the same integers and categories, continuous
        values equal up to rounding in the last bits."""
        out = np.zeros_like(points, dtype=float)
        i = 0
        for p in self.parameters:
            if isinstance(p, CategoricalParameter):
                first = np.array([p.values.index(v) for v in p.values])  # a repeated value: its first
                block = points[:, i : i + p.width]
                out[np.arange(len(points)), i + first[np.argmax(block, axis=1)]] = 1.0
                i += p.width
                continue
            out[:, i] = p.snap_array(points[:, i])
            i += 1
        return out

    def contains(self, config: Mapping[str, Any]) -> bool:
        """Whether ``config`` (values as strings or numbers) sets every parameter to an allowed value."""
        for p in self.parameters:
            if p.name not in config:
                return False
            v = config[p.name]
            if isinstance(p, CategoricalParameter):
                if str(v) not in p.values:
                    return False
                continue
            try:
                x = float(v)
            except (TypeError, ValueError):
                return False
            if not p.low <= x <= p.high:
                return False
        return True

    def parse(self, values: Mapping[str, Any]) -> Config:
        """Turn string hyperparameters (as a training job reports them) into typed values in range."""
        config: Config = {}
        for p in self.parameters:
            raw = values.get(p.name)
            if isinstance(p, CategoricalParameter):
                text = str(raw).strip('"') if raw is not None else p.values[0]
                config[p.name] = text if text in p.values else p.values[0]
                continue
            try:
                x = float(str(raw).strip('"'))
            except (TypeError, ValueError):
                x = (p.low + p.high) / 2
            x = min(p.high, max(p.low, x))
            config[p.name] = round(x) if isinstance(p, IntegerParameter) else x
        return config


def format_value(value: ParamValue) -> str:
    """A hyperparameter value as SageMaker passes it (always a string)."""
    if isinstance(value, float):
        return (
            f"{value:.12g}"  # enough digits for any tuning range, without float noise (0.0010000000000000002)
        )
    return str(value)


def format_config(config: Mapping[str, ParamValue]) -> dict[str, str]:
    return {k: format_value(v) for k, v in config.items()}
