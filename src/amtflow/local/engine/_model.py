"""Statuses, the service error, and the clock the engine runs on (job statuses and the clocks are the core's
vocabulary, re-exported here for the engine's modules)."""

from __future__ import annotations

from enum import StrEnum

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


class ServiceError(AmtflowError):
    """A request the engine refuses, with the SageMaker error code a boto3 caller sees in ``ClientError``."""

    error_type = "EngineServiceError"

    def __init__(self, code: ErrorCode, message: str) -> None:
        super().__init__(message)
        self.code = code


def validation(message: str) -> ServiceError:
    return ServiceError(ErrorCode.VALIDATION, message)
