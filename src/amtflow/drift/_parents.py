"""Warm-start parents: what compatibility depends on, and which earlier tuning jobs a new one may start from.

Warm start is not recursive, so parents are chosen explicitly by :func:`select_parents`: up to five most
recent terminal jobs (``Completed``/``Stopped``; ``Failed`` only with a best training job) that are
compatible with the new job (same objective, same hyperparameter names and kinds; for
``IdenticalDataAndAlgorithm`` also the same training image and data fingerprint).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from amtflow.errors import InvalidInputError
from amtflow.vocabulary import TuningJobStatus, WarmStartType

MAX_PARENTS = 5
"""AWS allows at most five parent tuning jobs in a ``WarmStartConfig``."""

MAX_STATIC_TUNABLE_SWITCHES = 10


class ParameterKind(StrEnum):
    CONTINUOUS = "continuous"
    INTEGER = "integer"
    CATEGORICAL = "categorical"
    STATIC = "static"


@dataclass(frozen=True)
class TuningJobSignature:
    """What warm-start compatibility depends on. ``hyperparameters`` maps every static and tunable
    hyperparameter name to its kind."""

    objective_metric: str
    objective_type: str
    hyperparameters: Mapping[str, ParameterKind]
    training_image: str = ""
    data_fingerprint: str = ""
    definitions: int = 1  # training definitions (several: multi-algorithm tuning)

    def incompatibility(self, other: TuningJobSignature, *, identical: bool) -> str | None:
        """Why a job with signature ``other`` cannot be a parent of this job, or None if it can."""
        if max(self.definitions, other.definitions) > 1:
            return "AMT offers warm start only when tuning a single algorithm (one training definition)"
        if other.objective_metric != self.objective_metric or other.objective_type != self.objective_type:
            return (
                f"objective {other.objective_type} {other.objective_metric} differs from "
                f"{self.objective_type} {self.objective_metric}"
            )
        mine, theirs = set(self.hyperparameters), set(other.hyperparameters)
        if mine != theirs:
            diff = sorted(mine ^ theirs)
            return f"hyperparameter names differ ({', '.join(diff[:5])})"
        switches = 0
        for name, kind in self.hyperparameters.items():
            theirs_kind = other.hyperparameters[name]
            if kind is theirs_kind:
                continue
            if ParameterKind.STATIC in (kind, theirs_kind):
                switches += 1
                continue
            return f"hyperparameter {name!r} is {theirs_kind.value} there, {kind.value} here"
        if switches > MAX_STATIC_TUNABLE_SWITCHES:
            return f"{switches} hyperparameters switch between static and tunable (at most 10)"
        if identical:
            if other.training_image != self.training_image:
                return "training image differs (IdenticalDataAndAlgorithm needs the same image)"
            if other.data_fingerprint != self.data_fingerprint:
                return "data differs (IdenticalDataAndAlgorithm needs the same data)"
        return None

    def to_dict(self) -> dict[str, Any]:
        return {
            "objective_metric": self.objective_metric,
            "objective_type": self.objective_type,
            "hyperparameters": {k: v.value for k, v in sorted(self.hyperparameters.items())},
            "training_image": self.training_image,
            "data_fingerprint": self.data_fingerprint,
            **({"definitions": self.definitions} if self.definitions > 1 else {}),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> TuningJobSignature:
        return cls(
            objective_metric=str(data["objective_metric"]),
            objective_type=str(data["objective_type"]),
            hyperparameters={k: ParameterKind(v) for k, v in data["hyperparameters"].items()},
            training_image=str(data.get("training_image", "")),
            data_fingerprint=str(data.get("data_fingerprint", "")),
            definitions=int(data.get("definitions", 1)),
        )

    @classmethod
    def from_request(cls, request: Mapping[str, Any], data_fingerprint: str = "") -> TuningJobSignature:
        """The signature of a ``CreateHyperParameterTuningJob`` request (or a Describe response).

        A multi-algorithm request (``TrainingJobDefinitions``) has the hyperparameters of all its
        definitions and their images joined by ``,``: it is never compatible with a single-algorithm job
        (SageMaker offers warm start only when tuning a single algorithm)."""
        try:
            config = request["HyperParameterTuningJobConfig"]
            several = request.get("TrainingJobDefinitions")
            definitions = list(several) if several else [request["TrainingJobDefinition"]]
            objective = config.get("HyperParameterTuningJobObjective") or definitions[0]["TuningObjective"]
        except (KeyError, TypeError, IndexError) as e:
            raise InvalidInputError(
                f"tuning request lacks {e}; a warm-start signature needs HyperParameterTuningJobConfig."
                "HyperParameterTuningJobObjective and TrainingJobDefinition.",
                field=str(e).strip("'"),
            ) from e
        kinds: dict[str, ParameterKind] = {}
        images = []
        for definition in definitions:
            static = definition.get("StaticHyperParameters", {}) or {}
            kinds.update(dict.fromkeys(static, ParameterKind.STATIC))
            own = definition.get("HyperParameterRanges") if several else config.get("ParameterRanges")
            for key, kind in (
                ("ContinuousParameterRanges", ParameterKind.CONTINUOUS),
                ("IntegerParameterRanges", ParameterKind.INTEGER),
                ("CategoricalParameterRanges", ParameterKind.CATEGORICAL),
            ):
                for r in (own or {}).get(key, []) or []:
                    kinds[str(r["Name"])] = kind
            images.append(str((definition.get("AlgorithmSpecification", {}) or {}).get("TrainingImage", "")))
        return cls(
            objective_metric=str(objective["MetricName"]),
            objective_type=str(objective["Type"]),
            hyperparameters=kinds,
            training_image=",".join(images),
            data_fingerprint=data_fingerprint,
            definitions=len(definitions),
        )


@dataclass(frozen=True)
class ParentCandidate:
    """An earlier tuning job of the model, as the lineage knows it."""

    tuning_job: str
    status: TuningJobStatus
    created_at: datetime
    signature: TuningJobSignature
    has_best_job: bool = False
    training_jobs: int = 0


@dataclass(frozen=True)
class ParentSelection:
    parents: tuple[str, ...]
    skipped: tuple[tuple[str, str], ...] = ()
    """``(tuning job, why it was not chosen)`` for every candidate passed over."""


def select_parents(
    candidates: Sequence[ParentCandidate],
    child: TuningJobSignature,
    warm_start_type: WarmStartType,
    *,
    limit: int = MAX_PARENTS,
) -> ParentSelection:
    """Up to ``limit`` (at most 5) most recent terminal, compatible parents for a warm-start child."""
    if not 1 <= limit <= MAX_PARENTS:
        raise InvalidInputError(
            f"max_parents is {limit}; AMT accepts 1 to {MAX_PARENTS} parent tuning jobs.",
            field="warm_start.max_parents",
        )
    identical = warm_start_type is WarmStartType.IDENTICAL_DATA_AND_ALGORITHM
    chosen: list[str] = []
    skipped: list[tuple[str, str]] = []
    seen: set[str] = set()
    for cand in sorted(candidates, key=lambda c: (c.created_at, c.tuning_job), reverse=True):
        if cand.tuning_job in seen:
            continue
        seen.add(cand.tuning_job)
        if not cand.status.is_terminal():
            skipped.append((cand.tuning_job, f"status {cand.status.value} is not terminal"))
            continue
        if cand.status is TuningJobStatus.FAILED and not cand.has_best_job:
            skipped.append((cand.tuning_job, "failed without a best training job"))
            continue
        why = child.incompatibility(cand.signature, identical=identical)
        if why is not None:
            skipped.append((cand.tuning_job, why))
            continue
        if len(chosen) >= limit:
            skipped.append((cand.tuning_job, f"older than the {limit} most recent compatible parents"))
            continue
        chosen.append(cand.tuning_job)
    return ParentSelection(tuple(chosen), tuple(skipped))
