"""Lineage records: dataset versions, runs and the champion of each model.

Records are immutable; a store persists them. Times are timezone-aware UTC ``datetime`` values given by the
caller (the use cases own the clock). Every record converts to and from a JSON-compatible ``dict``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from amtflow.drift import (
    DatasetProfile,
    Decision,
    DriftSeverity,
    ParentCandidate,
    TuningJobSignature,
    TuningJobStatus,
)
from amtflow.errors import InvalidInputError
from amtflow.vocabulary import ObjectiveType as ObjectiveType
from amtflow.vocabulary import Trigger


class RunOutcome(StrEnum):
    """Where a run ended up. ``pending`` until its tuning or training job ends."""

    PENDING = "pending"
    SKIPPED = "skipped"
    COMPLETED = "completed"
    FAILED = "failed"
    STOPPED = "stopped"
    PROMOTED = "promoted"
    NOT_PROMOTED = "not_promoted"


class SpendBasis(StrEnum):
    """What a run's month-to-date spend is based on."""

    ACTUAL = "actual"
    """Its job ended and its billable time was priced."""
    ESTIMATE = "estimate"
    """The planner's estimate: the run is pending or running, or its job ended unpriced."""
    NONE = "none"
    """Nothing was spent: the run was skipped, or SageMaker did not run (or has not yet run) its job."""


def utc(value: datetime, field_name: str) -> datetime:
    """``value`` in UTC; naive datetimes are rejected (their zone is a guess)."""
    if value.tzinfo is None:
        raise InvalidInputError(
            f"{field_name} has no time zone; pass an aware datetime such as datetime.now(UTC).",
            field=field_name,
        )
    return value.astimezone(UTC)


def iso(value: datetime) -> str:
    """Fixed-width UTC timestamp (``2026-11-01T10:00:00.000000Z``): sorts like the time it names."""
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def parse_iso(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone(UTC)


def _finite(value: float | None, field_name: str) -> float | None:
    if value is not None and not math.isfinite(value):
        raise InvalidInputError(f"{field_name} is {value}; it must be a finite number.", field=field_name)
    return value


@dataclass(frozen=True)
class DatasetVersion:
    """A dataset version of a model: where it is, its fingerprint and its profile."""

    model: str
    version: str
    fingerprint: str
    recorded_at: datetime
    uri: str = ""
    profile: DatasetProfile | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "recorded_at", utc(self.recorded_at, "recorded_at"))
        if self.profile is not None and self.profile.fingerprint != self.fingerprint:
            raise InvalidInputError(
                f"dataset version {self.version!r}: profile fingerprint {self.profile.fingerprint} differs "
                f"from {self.fingerprint}; record the profile of these very bytes.",
                field="profile.fingerprint",
            )

    def to_dict(self) -> dict[str, Any]:
        return {
            "model": self.model,
            "version": self.version,
            "fingerprint": self.fingerprint,
            "recorded_at": iso(self.recorded_at),
            "uri": self.uri,
            "profile": self.profile.to_dict() if self.profile is not None else None,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> DatasetVersion:
        return cls(
            model=str(data["model"]),
            version=str(data["version"]),
            fingerprint=str(data["fingerprint"]),
            recorded_at=parse_iso(data["recorded_at"]),
            uri=str(data.get("uri", "")),
            profile=DatasetProfile.from_dict(data["profile"]) if data.get("profile") else None,
        )


@dataclass(frozen=True)
class RunRecord:
    """One run of the flow for a model: why it ran, what was decided, what it launched and how it ended.

    ``signature`` and ``job_status`` describe the tuning job (if any) so later runs can choose it as a
    warm-start parent; ``cost_usd`` is the actual cost once known (billable seconds of its training jobs,
    ``billable_s``, priced per instance-hour at ``hourly_usd``, the prices the planner estimated with),
    ``cost_estimate_usd`` the planner's. ``launched`` says whether SageMaker accepted the run's job
    (``None``: not known yet, or a record stored before it was kept).
    """

    model: str
    run_id: str
    started_at: datetime
    trigger: Trigger
    dataset_version: str
    data_fingerprint: str
    decision: Decision
    drift_scores: Mapping[str, float] = field(default_factory=dict)
    drift_severity: DriftSeverity | None = None
    tuning_job: str | None = None
    signature: TuningJobSignature | None = None
    job_status: TuningJobStatus | None = None
    cost_estimate_usd: float = 0.0
    cost_usd: float | None = None
    consumed_runtime_s: int | None = None
    training_jobs: int = 0
    best_training_job: str | None = None
    best_objective: float | None = None
    outcome: RunOutcome = RunOutcome.PENDING
    finished_at: datetime | None = None
    launched: bool | None = None
    billable_s: int | None = None
    hourly_usd: Mapping[str, float] = field(default_factory=dict)

    def __post_init__(self) -> None:
        object.__setattr__(self, "started_at", utc(self.started_at, "started_at"))
        if self.finished_at is not None:
            object.__setattr__(self, "finished_at", utc(self.finished_at, "finished_at"))
        if not self.run_id or "#" in self.run_id:
            raise InvalidInputError(
                f"run_id {self.run_id!r} must be non-empty and free of '#'; use the execution name.",
                field="run_id",
            )
        _finite(self.best_objective, "best_objective")
        _finite(self.cost_usd, "cost_usd")
        if _finite(self.cost_estimate_usd, "cost_estimate_usd") is not None and self.cost_estimate_usd < 0:
            raise InvalidInputError("cost_estimate_usd must be >= 0", field="cost_estimate_usd")

    @property
    def parents(self) -> tuple[str, ...]:
        return self.decision.parents

    @property
    def was_launched(self) -> bool:
        """Whether SageMaker ran a job for this run. Records without ``launched`` tell by what their end
        recorded: only a job that ran has training jobs or a consumed runtime."""
        if self.launched is not None:
            return self.launched
        return self.training_jobs > 0 or self.consumed_runtime_s is not None or self.cost_usd is not None

    @property
    def spend_basis(self) -> SpendBasis:
        """What :attr:`spend_usd` is: the actual cost, the estimate (the job may still run), or nothing."""
        if self.cost_usd is not None:
            return SpendBasis.ACTUAL
        if self.outcome is RunOutcome.SKIPPED or self.launched is False:
            return SpendBasis.NONE
        if self.outcome is RunOutcome.PENDING or self.was_launched:
            return SpendBasis.ESTIMATE
        return SpendBasis.NONE

    @property
    def spend_usd(self) -> float:
        """What the run counts towards the month: the actual cost once known; the estimate while its job may
        run (planned, running) or when it ran but its cost could not be priced; nothing for a run without a
        job (skipped, rejected by preflight or SageMaker, failed before the create call, queued for quota
        and not launched)."""
        basis = self.spend_basis
        if basis is SpendBasis.ACTUAL:
            return float(self.cost_usd or 0.0)
        return self.cost_estimate_usd if basis is SpendBasis.ESTIMATE else 0.0

    def parent_candidate(self) -> ParentCandidate | None:
        """This run's tuning job as a warm-start candidate (None when the run launched no tuning job)."""
        if self.tuning_job is None or self.signature is None or self.job_status is None:
            return None
        return ParentCandidate(
            tuning_job=self.tuning_job,
            status=self.job_status,
            created_at=self.started_at,
            signature=self.signature,
            has_best_job=self.best_training_job is not None,
            training_jobs=self.training_jobs,
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "model": self.model,
            "run_id": self.run_id,
            "started_at": iso(self.started_at),
            "trigger": self.trigger.value,
            "dataset_version": self.dataset_version,
            "data_fingerprint": self.data_fingerprint,
            "decision": self.decision.to_dict(),
            "drift_scores": dict(self.drift_scores),
            "drift_severity": self.drift_severity.value if self.drift_severity else None,
            "tuning_job": self.tuning_job,
            "signature": self.signature.to_dict() if self.signature else None,
            "job_status": self.job_status.value if self.job_status else None,
            "cost_estimate_usd": self.cost_estimate_usd,
            "cost_usd": self.cost_usd,
            "consumed_runtime_s": self.consumed_runtime_s,
            "training_jobs": self.training_jobs,
            "best_training_job": self.best_training_job,
            "best_objective": self.best_objective,
            "outcome": self.outcome.value,
            "finished_at": iso(self.finished_at) if self.finished_at else None,
            "launched": self.launched,
            "billable_s": self.billable_s,
            "hourly_usd": dict(self.hourly_usd),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> RunRecord:
        return cls(
            model=str(data["model"]),
            run_id=str(data["run_id"]),
            started_at=parse_iso(data["started_at"]),
            trigger=Trigger(data["trigger"]),
            dataset_version=str(data["dataset_version"]),
            data_fingerprint=str(data["data_fingerprint"]),
            decision=Decision.from_dict(data["decision"]),
            drift_scores={k: float(v) for k, v in (data.get("drift_scores") or {}).items()},
            drift_severity=DriftSeverity(data["drift_severity"]) if data.get("drift_severity") else None,
            tuning_job=data.get("tuning_job"),
            signature=TuningJobSignature.from_dict(data["signature"]) if data.get("signature") else None,
            job_status=TuningJobStatus(data["job_status"]) if data.get("job_status") else None,
            cost_estimate_usd=float(data.get("cost_estimate_usd", 0.0)),
            cost_usd=None if data.get("cost_usd") is None else float(data["cost_usd"]),
            consumed_runtime_s=data.get("consumed_runtime_s"),
            training_jobs=int(data.get("training_jobs", 0)),
            best_training_job=data.get("best_training_job"),
            best_objective=None if data.get("best_objective") is None else float(data["best_objective"]),
            outcome=RunOutcome(data.get("outcome", RunOutcome.PENDING.value)),
            finished_at=parse_iso(data["finished_at"]) if data.get("finished_at") else None,
            launched=None if data.get("launched") is None else bool(data["launched"]),
            billable_s=None if data.get("billable_s") is None else int(data["billable_s"]),
            hourly_usd={str(k): float(v) for k, v in (data.get("hourly_usd") or {}).items()},
        )


@dataclass(frozen=True)
class Champion:
    """The model in production for a model name: what produced it and on which data."""

    model: str
    tuning_job: str
    training_job: str
    hyperparameters: Mapping[str, str]
    objective_metric: str
    objective_type: ObjectiveType
    objective_value: float
    dataset_version: str
    data_fingerprint: str
    model_artifact: str
    training_image: str
    promoted_at: datetime
    run_id: str = ""
    model_package_arn: str = ""

    def __post_init__(self) -> None:
        object.__setattr__(self, "promoted_at", utc(self.promoted_at, "promoted_at"))
        _finite(self.objective_value, "objective_value")

    def to_dict(self) -> dict[str, Any]:
        return {
            "model": self.model,
            "tuning_job": self.tuning_job,
            "training_job": self.training_job,
            "hyperparameters": dict(self.hyperparameters),
            "objective_metric": self.objective_metric,
            "objective_type": self.objective_type.value,
            "objective_value": self.objective_value,
            "dataset_version": self.dataset_version,
            "data_fingerprint": self.data_fingerprint,
            "model_artifact": self.model_artifact,
            "training_image": self.training_image,
            "promoted_at": iso(self.promoted_at),
            "run_id": self.run_id,
            "model_package_arn": self.model_package_arn,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Champion:
        return cls(
            model=str(data["model"]),
            tuning_job=str(data["tuning_job"]),
            training_job=str(data["training_job"]),
            hyperparameters={str(k): str(v) for k, v in data["hyperparameters"].items()},
            objective_metric=str(data["objective_metric"]),
            objective_type=ObjectiveType(data["objective_type"]),
            objective_value=float(data["objective_value"]),
            dataset_version=str(data["dataset_version"]),
            data_fingerprint=str(data["data_fingerprint"]),
            model_artifact=str(data["model_artifact"]),
            training_image=str(data["training_image"]),
            promoted_at=parse_iso(data["promoted_at"]),
            run_id=str(data.get("run_id", "")),
            model_package_arn=str(data.get("model_package_arn", "")),
        )
