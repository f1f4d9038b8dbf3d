"""Ports: what the use cases need from the outside world, as protocols.

Adapters in :mod:`amtflow.adapters` implement them over injected boto3 clients; tests implement them in
memory. Statuses cross the boundary as enums, times as aware datetimes.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any, Protocol

from amtflow.lineage import RunRecord
from amtflow.preflight import Finding
from amtflow.profile import Budget, ModelProfile, TrainingNetwork
from amtflow.vocabulary import TuningJobStatus


class StartOutcome(StrEnum):
    STARTED = "started"
    DUPLICATE = "duplicate"


class CallbackOutcome(StrEnum):
    DELIVERED = "delivered"
    GONE = "gone"
    """The task no longer waits for this token (already closed, timed out, or the execution ended)."""


@dataclass(frozen=True)
class TrainingJobSummary:
    name: str
    status: str
    objective_value: float | None
    hyperparameters: Mapping[str, str]
    definition_name: str | None = None  # the TrainingJobDefinitionName of a multi-algorithm job's trial


@dataclass(frozen=True)
class TuningJobDescription:
    name: str
    status: TuningJobStatus
    objective_metric: str | None = None
    objective_type: str | None = None
    best: TrainingJobSummary | None = None
    training_jobs: Mapping[str, int] = field(default_factory=dict)
    objective_statuses: Mapping[str, int] = field(default_factory=dict)
    runtime_seconds: int | None = None
    failure_reason: str | None = None
    ended_at: datetime | None = None
    tags: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class TrainingJobDetails:
    name: str
    status: str
    model_artifacts: str | None
    training_image: str | None
    training_seconds: int | None
    hyperparameters: Mapping[str, str]
    failure_reason: str | None = None
    final_metrics: Mapping[str, float] = field(default_factory=dict)
    ended_at: datetime | None = None
    billable_seconds: int | None = None
    tuning_job_arn: str | None = None
    instance_type: str | None = None
    instance_count: int = 1


class JobKind(StrEnum):
    """What a parked job is: the callback describes it with the matching SageMaker call."""

    TUNING = "tuning"
    TRAINING = "training"


@dataclass(frozen=True)
class ParkedJob:
    """A SageMaker job (a tuning job, or a training job: a retrain, a champion's evaluation) whose
    state-machine task waits for a callback.

    ``objective_metric``/``objective_type`` tell the callback of a training job which of its final metrics
    is the objective (a tuning job knows its own).
    """

    job_name: str
    task_token: str
    model: str
    execution: str
    parked_at: datetime
    kind: JobKind = JobKind.TUNING
    objective_metric: str | None = None
    objective_type: str | None = None


@dataclass(frozen=True)
class ExecutionStart:
    name: str
    outcome: StartOutcome
    arn: str | None = None


@dataclass(frozen=True)
class Notification:
    """One message per outcome: a subject, readable text, a JSON form and filterable attributes."""

    subject: str
    text: str
    document: Mapping[str, Any]
    attributes: Mapping[str, str]


class ModelSpec(Protocol):
    """What the application needs from one model profile (after overrides)."""

    @property
    def model(self) -> str: ...

    @property
    def profile(self) -> ModelProfile:
        """The validated profile itself (its dataset layout, decision policy, training definition)."""
        ...

    @property
    def marker(self) -> str:
        """The object name that marks a dataset version complete (``_READY`` by default)."""
        ...

    @property
    def budget(self) -> Budget:
        """The stored profile's budget caps and prices: overrides never change them."""
        ...

    def schedule_due(self, now: datetime, since: datetime) -> bool:
        """Whether the profile's schedule has an occurrence in ``(since, now]``."""
        ...

    def compile(
        self,
        *,
        job_name: str,
        data_uri: str,
        output_uri: str,
        role_arn: str,
        tags: Mapping[str, str],
        network: TrainingNetwork | None = None,
    ) -> dict[str, Any]:
        """The exact ``CreateHyperParameterTuningJob`` request (with the deployment's ``network``)."""
        ...

    def preflight(
        self,
        request: Mapping[str, Any],
        *,
        month_to_date_usd: float | None = None,
        history: Sequence[RunRecord] = (),
        now: datetime | None = None,
    ) -> Sequence[Finding]:
        """The pre-launch findings (service constraints, best practices, budget) on a compiled request,
        with the profile's evidence (sample log lines, budget caps) and the lineage's (the month-to-date
        spend, earlier runs: compatible parents, runtimes); errors first."""
        ...


class ProfileCatalog(Protocol):
    def get(self, model: str, overrides: Mapping[str, Any] | None = None) -> ModelSpec:
        """The model's profile with ``overrides`` applied; :class:`ProfileNotFoundError` if none is stored,
        :class:`ProfileError` if the profile or the overrides are invalid."""
        ...

    def models(self) -> Sequence[str]:
        """Every model that has a stored profile."""
        ...


class DatasetCatalog(Protocol):
    def latest_version(self, model: str, marker: str) -> str | None:
        """The newest complete dataset version of ``model`` (its marker object exists), if any."""
        ...


class ReadableStream(Protocol):
    """A binary stream (a file opened ``rb``, an S3 ``StreamingBody``)."""

    def read(self, amt: int = ..., /) -> bytes: ...


class DatasetReader(Protocol):
    """Reads a dataset version's objects as streams (never whole into memory)."""

    def channel_objects(self, model: str, version: str, channel: str) -> Sequence[str]:
        """The keys of the objects in ``datasets/<model>/<version>/<channel>/``, sorted (folder placeholders
        and empty objects left out)."""
        ...

    def open(self, key: str) -> ReadableStream:
        """A stream over one object's bytes."""
        ...


HolderProbe = Callable[[str], bool | None]
"""``execution ARN -> does it still run?``: ``True`` while it runs, ``False`` once it ended (succeeded,
failed, timed out, aborted) or never existed, ``None`` when it cannot be told (throttled, access denied)."""


@dataclass(frozen=True)
class Lease:
    """A model's lock as held: by execution ``owner`` (its name: the state machine releases the lock with
    it), whose ARN is ``holder``, until ``expires_at`` (epoch seconds) unless renewed. ``version`` is the
    stored item's version stamp: a renewal or takeover is written only if it is unchanged."""

    model: str
    owner: str
    holder: str
    expires_at: int
    version: int


class LockStore(Protocol):
    """One run per model at a time: the model's lock is a lease of the store's duration, renewed while its
    holder runs, taken over only once the holder is known to have ended."""

    def acquire(self, model: str, owner: str, *, holder: str, now: datetime) -> tuple[str, str]:
        """Take the model's lease for execution ``owner`` (ARN ``holder``); re-entrant for the same owner.
        A lease held by another execution is taken over only when that execution is known to have ended;
        when it still runs (or cannot be told) an expired lease is renewed for it and
        :class:`ModelBusyError` names the holder. Returns the item's ``(pk, sk)``."""
        ...

    def release(self, model: str, owner: str) -> bool:
        """Release the lock if ``owner`` holds it; ``False`` if it did not."""
        ...

    def leases(self) -> Sequence[Lease]:
        """Every lease currently held (the reconciler's sweep)."""
        ...

    def renew(self, lease: Lease, *, now: datetime) -> bool:
        """Extend ``lease`` by the store's duration from ``now``, only if it is still that lease (same holder,
        same version); ``False`` if it changed meanwhile (released, renewed or taken over)."""
        ...


class TokenStore(Protocol):
    def park(self, job: ParkedJob) -> None:
        """Record (or replace) the task token that waits for ``job.job_name``."""
        ...

    def claim(self, job_name: str) -> ParkedJob | None:
        """Atomically remove and return the parked token; ``None`` if nothing is parked (a duplicate)."""
        ...

    def parked(self) -> Sequence[ParkedJob]:
        """Every parked job (the reconciler's sweep)."""
        ...


class TuningService(Protocol):
    def create_tuning_job(self, request: Mapping[str, Any]) -> str:
        """Create the job; returns its ARN. :class:`ConflictError` if the name is taken."""
        ...

    def describe_tuning_job(self, name: str) -> TuningJobDescription:
        """:class:`NotFoundError` if there is no such job."""
        ...

    def top_training_jobs(
        self, name: str, *, objective_type: str, limit: int
    ) -> Sequence[TrainingJobSummary]:
        """The best ``limit`` training jobs of a tuning job by objective (jobs without one are omitted)."""
        ...

    def describe_training_job(self, name: str) -> TrainingJobDetails: ...


class TaskCallbacks(Protocol):
    def succeed(self, token: str, output: Mapping[str, Any]) -> CallbackOutcome: ...

    def fail(self, token: str, *, error: str, cause: str) -> CallbackOutcome: ...

    def heartbeat(self, token: str) -> CallbackOutcome: ...


class ExecutionStarter(Protocol):
    def start(self, name: str, run_input: Mapping[str, Any]) -> ExecutionStart:
        """Start an execution; a name already used is a duplicate, not an error."""
        ...


class Notifier(Protocol):
    def publish(self, notification: Notification) -> str:
        """Publish; returns the message ID."""
        ...
