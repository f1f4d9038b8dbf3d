"""Statuses, the service error, and the clock the engine runs on (job statuses and the clocks are the core's
vocabulary, re-exported here for the engine's modules)."""

from __future__ import annotations

from collections.abc import Sequence
from enum import StrEnum
from typing import Any

from amtflow.errors import AmtflowError
from amtflow.vocabulary import Clock, ManualClock, SystemClock, TrainingJobStatus, TuningJobStatus

__all__ = [
    "ACCOUNT_ID",
    "Clock",
    "ErrorCode",
    "ManualClock",
    "ObjectiveStatus",
    "SecondaryStatus",
    "ServiceError",
    "SystemClock",
    "TrainingJobStatus",
    "TuningJobStatus",
    "validation",
]

ACCOUNT_ID = "123456789012"  # the account moto and the AWS docs use; the engine has no account of its own


class SecondaryStatus(StrEnum):
    STARTING = "Starting"
    DOWNLOADING = "Downloading"
    TRAINING = "Training"
    UPLOADING = "Uploading"
    RESTARTING = "Restarting"
    STOPPING = "Stopping"
    STOPPED = "Stopped"
    MAX_RUNTIME_EXCEEDED = "MaxRuntimeExceeded"
    COMPLETED = "Completed"
    FAILED = "Failed"


class ObjectiveStatus(StrEnum):
    SUCCEEDED = "Succeeded"
    PENDING = "Pending"
    FAILED = "Failed"


class ErrorCode(StrEnum):
    """The SageMaker error codes the engine answers with."""

    VALIDATION = "ValidationException"
    RESOURCE_IN_USE = "ResourceInUse"
    RESOURCE_NOT_FOUND = "ResourceNotFound"
    RESOURCE_LIMIT_EXCEEDED = "ResourceLimitExceeded"
    # sagemaker-runtime (InvokeEndpoint)
    VALIDATION_ERROR = "ValidationError"
    MODEL_ERROR = "ModelError"
    SERVICE_UNAVAILABLE = "ServiceUnavailable"


class ServiceError(AmtflowError):
    """A request the engine refuses, with the SageMaker error code a boto3 caller sees in ``ClientError``
    and the HTTP status the service answers it with."""

    error_type = "EngineServiceError"

    def __init__(self, code: ErrorCode, message: str, *, status: int = 400) -> None:
        super().__init__(message)
        self.code = code
        self.status = status


def validation(message: str) -> ServiceError:
    return ServiceError(ErrorCode.VALIDATION, message)


def show_value(value: Any) -> str:
    # a string is shown as given, with a line break or NUL escaped (\n, \x00); anything else as its repr
    printable = isinstance(value, str) and value.isprintable()
    text = value if printable else repr(value)[1:-1] if isinstance(value, str) else repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


def shape_error(violations: Sequence[tuple[Any, str, str]], fix: str = "") -> ServiceError:
    """A ValidationException in the service's words for ``(value, field, constraint)`` violations.

    ``1 validation error detected: Value '200' at 'MaxResults' failed to satisfy constraint: Member must
    have value less than or equal to 100`` (several are joined with ``; ``, as the service joins them),
    followed by ``fix`` when given.
    """
    count = len(violations)
    text = f"{count} validation error{'s' if count > 1 else ''} detected: " + "; ".join(
        f"Value '{show_value(value)}' at '{field}' failed to satisfy constraint: {constraint}"
        for value, field, constraint in violations
    )
    return validation(f"{text}. {fix}" if fix else text)
