"""The shapes of what reaches the handlers: state payloads from the state machine, and events.

The handlers validate their input with these models at the edge; a malformed input becomes an
:class:`~amtflow.errors.InvalidInputError` that names the field, never a pydantic traceback.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, ValidationError, field_validator

from amtflow.errors import InvalidInputError
from amtflow.messages import (
    MAX_INPUT_DEPTH,
    ExecutionRef,
    Plan,
    TuningResult,
    check_document,
    clip_depth,
    explain_validation_error,
    known_severity,
    parse_document,
)
from amtflow.vocabulary import DATASET_VERSION_PATTERN, MODEL_NAME_MAX, MODEL_NAME_PATTERN


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


def parse_notify_input(raw: object) -> NotifyInput:
    """The Notify function's input. Its ``state`` is the run's whole state, whatever the run was given:
    parts nested deeper than the limit are clipped, not refused, so the failure of a run whose request was
    malformed is still told (every other input is refused by :func:`~amtflow.messages.check_document`)."""
    if isinstance(raw, Mapping) and isinstance(raw.get("state"), Mapping):
        raw = {**raw, "state": clip_depth(raw["state"], depth=MAX_INPUT_DEPTH - 1)}
    return parse_document(NotifyInput, raw, what="notify input")


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


EventTime = Annotated[datetime | None, BeforeValidator(parse_timestamp)]
"""A time in an event's ``detail`` (:func:`parse_timestamp`: epoch milliseconds or ISO 8601)."""
EventTags = Annotated[dict[str, str], BeforeValidator(normalize_tags)]
"""Tags in an event's ``detail`` (:func:`normalize_tags`: a map or a list of ``{Key, Value}``)."""


class TuningJobStateChange(BaseModel):
    """The ``detail`` of "SageMaker HyperParameter Tuning Job State Change"; fields beyond the name are
    optional hints (the handler describes the job for the truth)."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    job_name: str = Field(alias="HyperParameterTuningJobName", min_length=1)
    status: str | None = Field(default=None, alias="HyperParameterTuningJobStatus")
    last_modified: EventTime = Field(default=None, alias="LastModifiedTime")
    created: EventTime = Field(default=None, alias="CreationTime")
    tags: EventTags = Field(default_factory=dict, alias="Tags")


class TrainingJobStateChange(BaseModel):
    """The ``detail`` of "SageMaker Training Job State Change"; ``TuningJobArn`` marks a tuning job's trial
    (closed with its tuning job, not here). The handler describes the job for the truth."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    job_name: str = Field(alias="TrainingJobName", min_length=1)
    status: str | None = Field(default=None, alias="TrainingJobStatus")
    tuning_job_arn: str | None = Field(default=None, alias="TuningJobArn")
    last_modified: EventTime = Field(default=None, alias="LastModifiedTime")
    tags: EventTags = Field(default_factory=dict, alias="Tags")


class DriftDetected(BaseModel):
    """The ``detail`` of a data-drift event (source ``amtflow.drift``)."""

    model_config = ConfigDict(extra="ignore", frozen=True, populate_by_name=True)

    model: str = Field(max_length=MODEL_NAME_MAX, pattern=MODEL_NAME_PATTERN)
    dataset_version: str = Field(alias="datasetVersion", pattern=DATASET_VERSION_PATTERN)
    severity: str = Field(min_length=1, max_length=32)
    """``none``, ``moderate`` or ``severe`` (``low``/``medium``/``high`` accepted and translated)."""

    _severity = field_validator("severity")(known_severity)


# --- the EventBridge envelope ------------------------------------------------------------------------------

_LAMBDA_ARN = re.compile(r"^arn:[^:]+:lambda:[^:]*:(\d{12}):")


def function_account(context: object) -> str | None:
    """The account a function runs in, from its Lambda context's ``invoked_function_arn`` (the twin's
    context carries one too); ``None`` without a context (a direct call), when no account is checked."""
    arn = getattr(context, "invoked_function_arn", None)
    match = _LAMBDA_ARN.match(arn) if isinstance(arn, str) else None
    return match.group(1) if match else None


class EventEnvelope(BaseModel):
    """An EventBridge event as its targets receive it: who sent it, what it is, and its ``detail`` (left
    raw; the handler that acts on the event validates it with its detail-type's model)."""

    model_config = ConfigDict(extra="ignore", frozen=True, populate_by_name=True)

    id: str = ""
    source: str = Field(min_length=1)
    detail_type: str = Field(alias="detail-type", min_length=1)
    account: str = Field(min_length=1)
    time: str | None = None
    resources: list[str] = Field(default_factory=list)
    detail: Any = None

    def not_for(self, account: str | None) -> str:
        """Why this event is not for a function running in ``account`` ("" when it is)."""
        if account is not None and self.account != account:
            return f"event from account {self.account}, not this stack's account {account}"
        return ""


def parse_event(raw: object) -> EventEnvelope:
    """Validate an EventBridge event's envelope: within the size and depth limits, a JSON object with
    ``source``, ``detail-type`` and ``account``; a malformed one raises :class:`InvalidInputError` naming
    the field."""
    check_document(raw, what="event")
    if not isinstance(raw, Mapping):
        raise InvalidInputError(
            "invalid event: expected an EventBridge event (a JSON object with source, detail-type, account "
            f"and detail), got {type(raw).__name__}",
            field="(event)",
        )
    try:
        return EventEnvelope.model_validate(dict(raw))
    except ValidationError as e:
        raise explain_validation_error(e, what="event") from e


SCHEDULED_EVENT = "Scheduled Event"


class ScheduledEventDetail(BaseModel):
    """The ``detail`` of a schedule rule's "Scheduled Event" (``{}``: the event's ``time`` is what counts)."""

    model_config = ConfigDict(extra="allow", frozen=True)


@dataclass(frozen=True)
class IncomingEvent:
    """An EventBridge event read at the edge: its detail, validated with its detail-type's model, or, for
    an event that is not for this function (another account, another detail-type), ``ignored``."""

    detail_type: str = ""
    detail: BaseModel | None = None
    ignored: str = ""
    event_id: str = ""
    """The envelope's ``id`` (what EventBridge keeps for one event across its redeliveries)."""
    time: datetime | None = None
    """The envelope's ``time`` (for a schedule: when it fired), ``None`` when absent or not a timestamp."""


def read_event(raw: object, *, account: str | None, details: Mapping[str, type[BaseModel]]) -> IncomingEvent:
    """Read one event for a function that acts on the detail-types in ``details`` (detail-type -> model
    of its ``detail``). Malformed input raises :class:`InvalidInputError` naming the field and the fix;
    nothing is acted on before this returns."""
    envelope = parse_event(raw)
    foreign = envelope.not_for(account)
    if foreign:
        return IncomingEvent(envelope.detail_type, ignored=foreign)
    model = details.get(envelope.detail_type)
    if model is None:
        expected = ", ".join(repr(d) for d in details) or "none"
        return IncomingEvent(
            envelope.detail_type,
            ignored=f"detail-type {envelope.detail_type!r} is not handled here (expected {expected})",
        )
    detail = parse_document(model, envelope.detail, what="detail")
    return IncomingEvent(envelope.detail_type, detail, event_id=envelope.id, time=_timestamp(envelope.time))


def _timestamp(text: str | None) -> datetime | None:
    """An envelope's ``time`` (``2026-11-02T09:45:00Z``) as an aware datetime, ``None`` if it is not one."""
    try:
        value = datetime.fromisoformat(text.replace("Z", "+00:00")) if text else None
    except ValueError:
        return None
    return value if value is not None and value.tzinfo is not None else None
