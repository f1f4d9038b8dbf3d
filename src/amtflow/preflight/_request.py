"""Tolerant read access to a ``CreateHyperParameterTuningJob`` request.

Rules see the request exactly as SageMaker would, which may be malformed in any way: a member missing, a
list where a mapping belongs, ``"ten"`` where a number belongs. These helpers never raise; they return
empty values for anything of the wrong shape, and the structure rule (``AMT002``) reports the shape
problems once, so the other rules can read the request without defensive code of their own.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

CONFIG = "HyperParameterTuningJobConfig"
RANGES = f"{CONFIG}.ParameterRanges"
LIMITS = f"{CONFIG}.ResourceLimits"
OBJECTIVE = f"{CONFIG}.HyperParameterTuningJobObjective"

#: Static hyperparameter keys from which Hyperband infers ``MaxResource`` (AMT developer guide).
EPOCH_KEYS: tuple[str, ...] = ("epochs", "numepochs", "n-epochs", "n_epochs", "num_epochs")


class RangeKind(StrEnum):
    """The three kinds of tunable hyperparameter range, named as in the request."""

    INTEGER = "Integer"
    CONTINUOUS = "Continuous"
    CATEGORICAL = "Categorical"

    @property
    def member(self) -> str:
        return f"{self.value}ParameterRanges"


def as_mapping(value: Any) -> Mapping[str, Any]:
    """``value`` if it is a mapping, else an empty one."""
    return value if isinstance(value, Mapping) else {}


def as_list(value: Any) -> Sequence[Any]:
    """``value`` if it is a list or tuple, else an empty list."""
    return value if isinstance(value, list | tuple) else []


def dig(data: Any, path: str) -> Any:
    """The member at dotted ``path`` (no indices), or ``None`` when any step is missing or not a mapping."""
    current: Any = data
    for part in path.split("."):
        if not isinstance(current, Mapping):
            return None
        current = current.get(part)
    return current


#: Integers beyond 64 bits are not numbers any AWS API takes; they read as "not an integer".
INT_LIMIT = 2**63 - 1


def as_int(value: Any) -> int | None:
    """An integer from an int or an integer string; ``None`` otherwise (bools are not integers)."""
    if isinstance(value, bool):
        return None
    result: int | None = None
    if isinstance(value, int):
        result = value
    elif isinstance(value, str):
        try:
            result = int(value.strip())
        except ValueError:
            return None
    return result if result is not None and -INT_LIMIT <= result <= INT_LIMIT else None


def as_float(value: Any) -> float | None:
    """A finite float from a number or a numeric string; ``None`` otherwise."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        result = float(value)
    elif isinstance(value, str):
        try:
            result = float(value.strip())
        except ValueError:
            return None
    else:
        return None
    return result if math.isfinite(result) else None


@dataclass(frozen=True)
class RangeView:
    """One tunable hyperparameter range with its dotted path in the request."""

    kind: RangeKind
    path: str
    body: Mapping[str, Any]

    @property
    def name(self) -> str:
        name = self.body.get("Name")
        return name if isinstance(name, str) else ""

    @property
    def scaling(self) -> str:
        scaling = self.body.get("ScalingType")
        return scaling if isinstance(scaling, str) else "Auto"

    @property
    def values(self) -> list[str]:
        return [v for v in as_list(self.body.get("Values")) if isinstance(v, str)]

    def bounds(self) -> tuple[float, float] | None:
        """``(min, max)`` parsed for the range's kind, or ``None`` when either does not parse."""
        parse = as_int if self.kind is RangeKind.INTEGER else as_float
        low, high = parse(self.body.get("MinValue")), parse(self.body.get("MaxValue"))
        if low is None or high is None:
            return None
        return float(low), float(high)


@dataclass(frozen=True)
class DefinitionView:
    """One training-job definition with where its ranges and objective live.

    A single-algorithm request keeps ranges and objective in ``HyperParameterTuningJobConfig``; each entry
    of ``TrainingJobDefinitions`` carries its own ``HyperParameterRanges`` and ``TuningObjective``.
    """

    path: str
    body: Mapping[str, Any]
    ranges_path: str
    ranges: Mapping[str, Any]
    objective_path: str
    objective: Mapping[str, Any]

    def field(self, member: str) -> str:
        return f"{self.path}.{member}"

    def iter_ranges(self) -> Iterator[RangeView]:
        for kind in RangeKind:
            for i, body in enumerate(as_list(self.ranges.get(kind.member))):
                yield RangeView(kind, f"{self.ranges_path}.{kind.member}[{i}]", as_mapping(body))

    @property
    def static(self) -> Mapping[str, Any]:
        return as_mapping(self.body.get("StaticHyperParameters"))

    @property
    def algorithm(self) -> Mapping[str, Any]:
        return as_mapping(self.body.get("AlgorithmSpecification"))

    @property
    def metric_definitions(self) -> list[tuple[str, Mapping[str, Any]]]:
        """``(dotted path, definition)`` for each metric definition."""
        base = self.field("AlgorithmSpecification.MetricDefinitions")
        return [
            (f"{base}[{i}]", as_mapping(d))
            for i, d in enumerate(as_list(self.algorithm.get("MetricDefinitions")))
        ]

    @property
    def objective_metric(self) -> str:
        name = self.objective.get("MetricName")
        return name if isinstance(name, str) else ""

    @property
    def objective_type(self) -> str:
        kind = self.objective.get("Type")
        return kind if isinstance(kind, str) else ""

    @property
    def stopping(self) -> Mapping[str, Any]:
        return as_mapping(self.body.get("StoppingCondition"))

    @property
    def spot(self) -> bool:
        return self.body.get("EnableManagedSpotTraining") is True


def definitions(request: Mapping[str, Any]) -> list[DefinitionView]:
    """Every training-job definition of ``request`` (empty when it has none of the right shape)."""
    config = as_mapping(request.get(CONFIG))
    single = request.get("TrainingJobDefinition")
    if isinstance(single, Mapping):
        return [
            DefinitionView(
                path="TrainingJobDefinition",
                body=single,
                ranges_path=RANGES,
                ranges=as_mapping(config.get("ParameterRanges")),
                objective_path=OBJECTIVE,
                objective=as_mapping(config.get("HyperParameterTuningJobObjective")),
            )
        ]
    views: list[DefinitionView] = []
    for i, body in enumerate(as_list(request.get("TrainingJobDefinitions"))):
        body = as_mapping(body)
        path = f"TrainingJobDefinitions[{i}]"
        own_objective = body.get("TuningObjective")
        views.append(
            DefinitionView(
                path=path,
                body=body,
                ranges_path=f"{path}.HyperParameterRanges",
                ranges=as_mapping(body.get("HyperParameterRanges")),
                objective_path=f"{path}.TuningObjective" if own_objective is not None else OBJECTIVE,
                objective=as_mapping(
                    own_objective
                    if own_objective is not None
                    else config.get("HyperParameterTuningJobObjective")
                ),
            )
        )
    return views


def strategy(request: Mapping[str, Any]) -> str:
    value = dig(request, f"{CONFIG}.Strategy")
    return value if isinstance(value, str) else ""


def early_stopping(request: Mapping[str, Any]) -> str:
    value = dig(request, f"{CONFIG}.TrainingJobEarlyStoppingType")
    return value if isinstance(value, str) else "Off"


def max_jobs(request: Mapping[str, Any]) -> int | None:
    return as_int(dig(request, f"{LIMITS}.MaxNumberOfTrainingJobs"))


def max_parallel(request: Mapping[str, Any]) -> int | None:
    return as_int(dig(request, f"{LIMITS}.MaxParallelTrainingJobs"))


def grid_size(view: DefinitionView) -> int:
    """The number of distinct categorical combinations of one definition (1 when it has none)."""
    size = 1
    for r in view.iter_ranges():
        if r.kind is RangeKind.CATEGORICAL:
            size *= max(1, len(set(r.values)))
    return size


def tunable_kinds(view: DefinitionView) -> dict[str, RangeKind]:
    """Tunable hyperparameter name → kind (the first range wins when a name repeats)."""
    kinds: dict[str, RangeKind] = {}
    for r in view.iter_ranges():
        if r.name and r.name not in kinds:
            kinds[r.name] = r.kind
    return kinds
