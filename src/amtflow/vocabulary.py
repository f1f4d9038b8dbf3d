"""The words of amtflow, each defined once: statuses, actions, warm-start types, triggers, outcomes, the
objective's direction, the name rules, and the clock.

Every other module imports these (the packages re-export them where their public API names them), so
``amtflow.drift.WarmStartType``, ``amtflow.profile.WarmStartType`` and ``amtflow.vocabulary.WarmStartType``
are one and the same class. This module sits at the bottom of the core: it imports nothing from amtflow but
:mod:`amtflow.errors`.
"""

from __future__ import annotations

import datetime as dt
import re
import threading
import time
from collections.abc import Callable
from enum import StrEnum
from typing import Protocol

from amtflow.errors import InvalidInputError

__all__ = [
    "CHANNEL_NAME_MAX",
    "CHANNEL_NAME_PATTERN",
    "DATASET_VERSION_PATTERN",
    "ENDPOINT_NAME_PATTERN",
    "EXECUTION_NAME_MAX",
    "EXECUTION_NAME_PATTERN",
    "MODEL_NAME_MAX",
    "MODEL_NAME_PATTERN",
    "MODEL_PACKAGE_GROUP_NAME_PATTERN",
    "TRAINING_JOB_NAME_MAX",
    "TRAINING_JOB_NAME_PATTERN",
    "TUNING_JOB_NAME_MAX",
    "TUNING_JOB_NAME_PATTERN",
    "Action",
    "ApprovalStatus",
    "Clock",
    "ManualClock",
    "NoDriftAction",
    "Now",
    "ObjectiveType",
    "PromotionOutcome",
    "PromotionVerdict",
    "RequestedAction",
    "SystemClock",
    "TrainingJobStatus",
    "Trigger",
    "TuningJobStatus",
    "WarmStartMode",
    "WarmStartType",
    "is_model_name",
]

# --- statuses -----------------------------------------------------------------------------------------------


class TuningJobStatus(StrEnum):
    """``HyperParameterTuningJobStatus`` as SageMaker reports it."""

    IN_PROGRESS = "InProgress"
    COMPLETED = "Completed"
    FAILED = "Failed"
    STOPPING = "Stopping"
    STOPPED = "Stopped"
    DELETING = "Deleting"
    DELETE_FAILED = "DeleteFailed"

    def is_terminal(self) -> bool:
        """Terminal for orchestration: the job will not produce more trials."""
        return self in (TuningJobStatus.COMPLETED, TuningJobStatus.FAILED, TuningJobStatus.STOPPED)


class TrainingJobStatus(StrEnum):
    """``TrainingJobStatus`` as SageMaker reports it."""

    IN_PROGRESS = "InProgress"
    COMPLETED = "Completed"
    FAILED = "Failed"
    STOPPING = "Stopping"
    STOPPED = "Stopped"

    def is_terminal(self) -> bool:
        """The job will not change any more."""
        return self in (TrainingJobStatus.COMPLETED, TrainingJobStatus.FAILED, TrainingJobStatus.STOPPED)


class ApprovalStatus(StrEnum):
    """``ModelApprovalStatus`` of a model package in the Model Registry."""

    APPROVED = "Approved"
    REJECTED = "Rejected"
    PENDING_MANUAL_APPROVAL = "PendingManualApproval"


# --- what a run does ----------------------------------------------------------------------------------------


class RequestedAction(StrEnum):
    """What the run request asks for (its ``action``); ``auto`` lets the decision table decide."""

    AUTO = "auto"
    TUNE = "tune"
    RETRAIN = "retrain"
    SKIP = "skip"


class Action(StrEnum):
    """What the planner decided; the state machine's Choice routes on it."""

    TUNE = "tune"
    RETRAIN = "retrain"
    SKIP = "skip"


class NoDriftAction(StrEnum):
    """What a run does with new data that shows no meaningful drift: train once with the champion's
    hyperparameters, or nothing."""

    RETRAIN = "retrain"
    SKIP = "skip"


class Trigger(StrEnum):
    """What started a run."""

    S3 = "s3"
    SCHEDULE = "schedule"
    DRIFT = "drift"
    MANUAL = "manual"


class WarmStartType(StrEnum):
    """``WarmStartConfig.WarmStartType`` (API spelling)."""

    IDENTICAL_DATA_AND_ALGORITHM = "IdenticalDataAndAlgorithm"
    TRANSFER_LEARNING = "TransferLearning"


class WarmStartMode(StrEnum):
    """How a planned tuning job starts (a plan's ``warmStart``): ``cold``, or one of the
    :class:`WarmStartType` values."""

    COLD = "cold"
    IDENTICAL_DATA_AND_ALGORITHM = "IdenticalDataAndAlgorithm"
    TRANSFER_LEARNING = "TransferLearning"


class ObjectiveType(StrEnum):
    """Direction of the tuning objective: ``HyperParameterTuningJobObjective.Type`` (a profile's
    ``tuning.objective.goal``, a champion's ``objective_type``)."""

    MAXIMIZE = "Maximize"
    MINIMIZE = "Minimize"


class PromotionVerdict(StrEnum):
    """What the champion/challenger rule decides (``amtflow.lineage.decide_promotion``)."""

    PROMOTE = "promote"
    KEEP_CHAMPION = "keep_champion"
    NEEDS_EVALUATION = "needs_evaluation"


class PromotionOutcome(StrEnum):
    """What promotion did, as a run's result and notifications report it (the ``promotion`` message
    attribute)."""

    PROMOTED = "promoted"
    KEPT_CHAMPION = "kept_champion"
    NEEDS_EVALUATION = "needs_evaluation"


# --- names --------------------------------------------------------------------------------------------------

MODEL_NAME_MAX = 48
MODEL_NAME_PATTERN = r"^[a-z0-9]+(-[a-z0-9]+)*$"
"""A model name: lower-case letters and digits in groups joined by single hyphens, at most
:data:`MODEL_NAME_MAX` characters (``churn-xgb``). Check both with :func:`is_model_name`."""

DATASET_VERSION_PATTERN = r"^[A-Za-z0-9](?:[A-Za-z0-9._=-]{0,126}[A-Za-z0-9])?$"

TUNING_JOB_NAME_MAX = 32
TUNING_JOB_NAME_PATTERN = re.compile(r"^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,31}$")
TRAINING_JOB_NAME_MAX = 63
TRAINING_JOB_NAME_PATTERN = re.compile(r"^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}$")
EXECUTION_NAME_MAX = 80
EXECUTION_NAME_PATTERN = re.compile(r"^[0-9A-Za-z_-]{1,80}$")
# A training job's input channel (``Channel.ChannelName``); it is also a folder name in the container.
CHANNEL_NAME_MAX = 64
CHANNEL_NAME_PATTERN = re.compile(r"^[A-Za-z0-9\.\-_]+$")
# A Model Registry model package group (``ModelPackageGroupName``).
MODEL_PACKAGE_GROUP_NAME_PATTERN = r"^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}$"
# A SageMaker hosting name (``EndpointName``, ``EndpointConfigName``, ``ModelName``): the same 63 characters.
ENDPOINT_NAME_PATTERN = MODEL_PACKAGE_GROUP_NAME_PATTERN

_MODEL_NAME = re.compile(MODEL_NAME_PATTERN)


def is_model_name(name: object) -> bool:
    """Whether ``name`` follows the model-name rule (:data:`MODEL_NAME_PATTERN`, ≤ :data:`MODEL_NAME_MAX`)."""
    return isinstance(name, str) and len(name) <= MODEL_NAME_MAX and _MODEL_NAME.fullmatch(name) is not None


# --- time ---------------------------------------------------------------------------------------------------

Now = Callable[[], dt.datetime]
"""What a use case needs from a clock: a function returning the current time, timezone-aware (UTC).
Every :class:`Clock` is one (calling it returns :meth:`Clock.now`)."""


class Clock(Protocol):
    """Time as amtflow sees it: wall-clock timestamps (timezone-aware, UTC), a monotonic counter for
    durations, and a way to wait. Calling a clock returns :meth:`now`."""

    def __call__(self) -> dt.datetime: ...

    def now(self) -> dt.datetime: ...

    def monotonic(self) -> float: ...

    def sleep(self, seconds: float) -> None: ...


class SystemClock:
    """The real clock."""

    def __call__(self) -> dt.datetime:
        return self.now()

    def now(self) -> dt.datetime:
        return dt.datetime.now(dt.UTC)

    def monotonic(self) -> float:
        return time.monotonic()

    def sleep(self, seconds: float) -> None:
        time.sleep(seconds)


class ManualClock:
    """A clock that moves only when told to (tests, simulations, the local twin's schedules).

    It starts at ``start`` (timezone-aware; 2026-01-01 UTC by default) and moves with :meth:`advance` (by a
    number of seconds, the monotonic counter too) or :meth:`set` (to a time, never backwards). ``sleep``
    waits a little real time (trials are real processes that need it) without advancing the clock, so
    runtime limits fire exactly when a test advances it.
    """

    def __init__(self, start: dt.datetime | None = None) -> None:
        start = start or dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
        if start.tzinfo is None:
            raise InvalidInputError("clock start must be timezone-aware (use tzinfo=UTC)", field="clock")
        self._now = start
        self._mono = 0.0
        self._lock = threading.Lock()

    def __call__(self) -> dt.datetime:
        return self.now()

    def now(self) -> dt.datetime:
        with self._lock:
            return self._now

    def monotonic(self) -> float:
        with self._lock:
            return self._mono

    def sleep(self, seconds: float) -> None:
        time.sleep(min(seconds, 0.01))

    def advance(self, seconds: float) -> None:
        """Move the clock ``seconds`` forward (``seconds`` ≥ 0)."""
        if seconds < 0:
            raise InvalidInputError(f"a clock moves forward only; got {seconds} seconds", field="seconds")
        with self._lock:
            self._now += dt.timedelta(seconds=seconds)
            self._mono += seconds

    def set(self, when: dt.datetime) -> None:
        """Move the clock to ``when`` (never backwards; the monotonic counter follows)."""
        if when.tzinfo is None:
            raise InvalidInputError("clock time must be timezone-aware (use tzinfo=UTC)", field="clock")
        with self._lock:
            if when > self._now:
                self._mono += (when - self._now).total_seconds()
                self._now = when
