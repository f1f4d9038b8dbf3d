"""Statuses, the service error, and the clock the engine runs on."""

from __future__ import annotations

import datetime as dt
import threading
import time
from collections.abc import Sequence
from enum import StrEnum
from typing import Any, Protocol

from amtflow.errors import AmtflowError

ACCOUNT_ID = "123456789012"  # the account moto and the AWS docs use; the engine has no account of its own


class TuningJobStatus(StrEnum):
    IN_PROGRESS = "InProgress"
    COMPLETED = "Completed"
    FAILED = "Failed"
    STOPPING = "Stopping"
    STOPPED = "Stopped"

    def is_terminal(self) -> bool:
        return self in (TuningJobStatus.COMPLETED, TuningJobStatus.FAILED, TuningJobStatus.STOPPED)


class TrainingJobStatus(StrEnum):
    IN_PROGRESS = "InProgress"
    COMPLETED = "Completed"
    FAILED = "Failed"
    STOPPING = "Stopping"
    STOPPED = "Stopped"

    def is_terminal(self) -> bool:
        return self in (TrainingJobStatus.COMPLETED, TrainingJobStatus.FAILED, TrainingJobStatus.STOPPED)


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


class ServiceError(AmtflowError):
    """A request the engine refuses, with the SageMaker error code a boto3 caller sees in ``ClientError``."""

    error_type = "EngineServiceError"

    def __init__(self, code: ErrorCode, message: str) -> None:
        super().__init__(message)
        self.code = code


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


class Clock(Protocol):
    """Time as the engine sees it: wall-clock timestamps, a monotonic counter and a way to wait."""

    def now(self) -> dt.datetime: ...

    def monotonic(self) -> float: ...

    def sleep(self, seconds: float) -> None: ...


class SystemClock:
    """The real clock."""

    def now(self) -> dt.datetime:
        return dt.datetime.now(dt.UTC)

    def monotonic(self) -> float:
        return time.monotonic()

    def sleep(self, seconds: float) -> None:
        time.sleep(seconds)


class ManualClock:
    """A clock that moves only when told to (tests, simulations).

    ``sleep`` waits a little real time (trials are real processes that need it) without advancing the
    clock, so runtime limits fire exactly when a test calls :meth:`advance`.
    """

    def __init__(self, start: dt.datetime | None = None) -> None:
        self._now = start or dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
        self._mono = 0.0
        self._lock = threading.Lock()

    def now(self) -> dt.datetime:
        with self._lock:
            return self._now

    def monotonic(self) -> float:
        with self._lock:
            return self._mono

    def sleep(self, seconds: float) -> None:
        time.sleep(min(seconds, 0.01))

    def advance(self, seconds: float) -> None:
        with self._lock:
            self._now += dt.timedelta(seconds=seconds)
            self._mono += seconds
