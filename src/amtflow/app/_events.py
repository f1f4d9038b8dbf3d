"""The shapes of what reaches the handlers: state payloads from the state machine, and events.

The handlers validate their input with these models at the edge; a malformed input becomes an
:class:`~amtflow.errors.InvalidInputError` that names the field, never a pydantic traceback.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from amtflow.messages import (
    DATASET_VERSION_PATTERN,
    MODEL_NAME_PATTERN,
    ExecutionRef,
    Plan,
    TuningResult,
)


class _Payload(BaseModel):
    model_config = ConfigDict(populate_by_name=True, extra="forbid", frozen=True)


class PlanInput(_Payload):
    request: Any = None
    execution: ExecutionRef


class StartTuningInput(_Payload):
    plan: Plan
    task_token: str = Field(alias="taskToken", min_length=1)


class StartTrainingInput(_Payload):
    plan: Plan
    task_token: str = Field(alias="taskToken", min_length=1)


class EvaluateInput(_Payload):
    plan: Plan
    tuning: TuningResult


class NotifyInput(_Payload):
    state: dict[str, Any]
    execution: ExecutionRef
    notice: Literal["queued"] | None = None
    """``queued``: the interim notice of a run waiting for a SageMaker quota, not the run's outcome."""


def parse_timestamp(value: Any) -> datetime | None:
    """SageMaker event timestamps arrive as epoch milliseconds (string or number) or ISO 8601 text.

    Anything else, or a value outside the calendar, raises ``ValueError`` (which the models turn into an
    error naming the field).
    """
    if value is None or value == "":
        return None
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    try:
        if isinstance(value, int | float) and not isinstance(value, bool):
            return datetime.fromtimestamp(float(value) / 1000.0, tz=UTC)
        if isinstance(value, str) and value.replace(".", "", 1).isdigit():
            return datetime.fromtimestamp(float(value) / 1000.0, tz=UTC)
        if isinstance(value, str):
            parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
            return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
    except (OverflowError, OSError, ValueError) as e:
        raise ValueError(f"{value!r} is not a time: use epoch milliseconds or ISO 8601") from e
    raise ValueError(f"{value!r} is not a time: use epoch milliseconds or ISO 8601")


def normalize_tags(value: Any) -> dict[str, str]:
    """Tags arrive as a ``{key: value}`` map or as a list of ``{"Key", "Value"}``."""
    if value is None:
        return {}
    if isinstance(value, Mapping):
        return {str(k): str(v) for k, v in value.items()}
    if isinstance(value, list):
        out: dict[str, str] = {}
        for item in value:
            if isinstance(item, Mapping) and "Key" in item:
                out[str(item["Key"])] = str(item.get("Value", ""))
        return out
    raise ValueError("Tags must be a map or a list of {Key, Value}")


class TuningJobStateChange(BaseModel):
    """The ``detail`` of "SageMaker HyperParameter Tuning Job State Change"; fields beyond the name are
    optional hints (the handler describes the job for the truth)."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    job_name: str = Field(alias="HyperParameterTuningJobName", min_length=1)
    status: str | None = Field(default=None, alias="HyperParameterTuningJobStatus")
    last_modified: datetime | None = Field(default=None, alias="LastModifiedTime")
    created: datetime | None = Field(default=None, alias="CreationTime")
    tags: dict[str, str] = Field(default_factory=dict, alias="Tags")

    @field_validator("last_modified", "created", mode="before")
    @classmethod
    def _timestamp(cls, value: Any) -> datetime | None:
        return parse_timestamp(value)

    @field_validator("tags", mode="before")
    @classmethod
    def _tags(cls, value: Any) -> dict[str, str]:
        return normalize_tags(value)


class TrainingJobStateChange(BaseModel):
    """The ``detail`` of "SageMaker Training Job State Change"; ``TuningJobArn`` marks a tuning job's trial
    (closed with its tuning job, not here). The handler describes the job for the truth."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    job_name: str = Field(alias="TrainingJobName", min_length=1)
    status: str | None = Field(default=None, alias="TrainingJobStatus")
    tuning_job_arn: str | None = Field(default=None, alias="TuningJobArn")
    last_modified: datetime | None = Field(default=None, alias="LastModifiedTime")
    tags: dict[str, str] = Field(default_factory=dict, alias="Tags")

    @field_validator("last_modified", mode="before")
    @classmethod
    def _timestamp(cls, value: Any) -> datetime | None:
        return parse_timestamp(value)

    @field_validator("tags", mode="before")
    @classmethod
    def _tags(cls, value: Any) -> dict[str, str]:
        return normalize_tags(value)


class DriftDetected(BaseModel):
    """The ``detail`` of a data-drift event (source ``amtflow.drift``)."""

    model_config = ConfigDict(extra="ignore", frozen=True, populate_by_name=True)

    model: str = Field(pattern=MODEL_NAME_PATTERN)
    dataset_version: str = Field(alias="datasetVersion", pattern=DATASET_VERSION_PATTERN)
    severity: str = Field(min_length=1, max_length=32)
