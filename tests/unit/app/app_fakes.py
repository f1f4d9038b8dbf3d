"""In-memory implementations of the application's ports, and the example profile, for use-case tests."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import yaml

from amtflow.adapters import StoreProfileCatalog
from amtflow.app import (
    DEFAULT_MARKER,
    CallbackOutcome,
    ExecutionStart,
    HolderProbe,
    Lease,
    Notification,
    ParkedJob,
    StartOutcome,
    TrainingJobDetails,
    TrainingJobSummary,
    TuningJobDescription,
    TuningJobStatus,
    lease_seconds,
)
from amtflow.errors import ConflictError, ModelBusyError, NotFoundError, TransientError
from amtflow.profile import InMemoryProfileStore, merge_documents

ROOT = Path(__file__).resolve().parents[3]
XGB_PROFILE = (ROOT / "examples" / "xgboost" / "profile.yaml").read_text()
MODEL = "cancer-xgb"
T0 = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)
ROLE = "arn:aws:iam::123456789012:role/amtflow-sagemaker"
LEASE_SECONDS = lease_seconds()


class Clock:
    def __init__(self, now: datetime = T0) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **kwargs: float) -> None:
        self.now += timedelta(**kwargs)


def profile_text(**sections: Any) -> str:
    """The example profile with ``sections`` deep-merged into it (a profile the owner changed and pushed)."""
    return yaml.safe_dump(merge_documents(yaml.safe_load(XGB_PROFILE), sections), sort_keys=False)


def profiles(*texts: str) -> StoreProfileCatalog:
    return StoreProfileCatalog(
        InMemoryProfileStore({str(i): t for i, t in enumerate(texts or (XGB_PROFILE,))})
    )


@dataclass
class Datasets:
    """The newest complete dataset version per model; ``markers`` names the object that completed it when
    it is not ``_READY`` (a version is complete only for the marker it was completed with)."""

    versions: dict[str, str] = field(default_factory=dict)
    markers: dict[str, str] = field(default_factory=dict)

    def latest_version(self, model: str, marker: str) -> str | None:
        if self.markers.get(model, DEFAULT_MARKER) != marker:
            return None
        return self.versions.get(model)


class StateTable:
    """Locks (leases) and parked tokens in dicts, with the DynamoDB adapter's semantics."""

    def __init__(
        self, *, holder_running: HolderProbe | None = None, lease_seconds: int = LEASE_SECONDS
    ) -> None:
        self.locks: dict[str, Lease] = {}
        self.tokens: dict[str, ParkedJob] = {}
        self.holder_running = holder_running
        self.lease_seconds = lease_seconds

    def _write(self, model: str, owner: str, holder: str, now: datetime, expected: Lease | None) -> bool:
        if self.locks.get(model) != expected:
            return False
        version = expected.version + 1 if expected is not None else 1
        until = int(now.timestamp()) + self.lease_seconds
        self.locks[model] = Lease(model, owner, holder, until, version)
        return True

    def acquire(self, model: str, owner: str, *, holder: str, now: datetime) -> tuple[str, str]:
        lease = self.locks.get(model)
        if lease is None or lease.owner == owner:
            self._write(model, owner, holder, now, lease)
            return f"MODEL#{model}", "LOCK"
        running = self.holder_running(lease.holder) if self.holder_running is not None else None
        if running is False:
            self._write(model, owner, holder, now, lease)
            return f"MODEL#{model}", "LOCK"
        if running is True and lease.expires_at < int(now.timestamp()):
            self._write(model, lease.owner, lease.holder, now, lease)
        raise ModelBusyError(f"model '{model}' is locked by run {lease.owner}")

    def leases(self) -> Sequence[Lease]:
        return list(self.locks.values())

    def renew(self, lease: Lease, *, now: datetime) -> bool:
        return self._write(lease.model, lease.owner, lease.holder, now, lease)

    def release(self, model: str, owner: str) -> bool:
        held = self.locks.get(model)
        if held is None or held.owner != owner:
            return False
        del self.locks[model]
        return True

    def park(self, job: ParkedJob) -> None:
        self.tokens[job.job_name] = job

    def claim(self, job_name: str) -> ParkedJob | None:
        return self.tokens.pop(job_name, None)

    def parked(self) -> Sequence[ParkedJob]:
        return list(self.tokens.values())


def trial(name: str, value: float | None, **hps: str) -> TrainingJobSummary:
    return TrainingJobSummary(name=name, status="Completed", objective_value=value, hyperparameters=hps)


class SageMaker:
    """Tuning jobs in a dict; ``fail_create`` makes the next create raise that error."""

    def __init__(self) -> None:
        self.created: list[Mapping[str, Any]] = []
        self.jobs: dict[str, TuningJobDescription] = {}
        self.trials: dict[str, list[TrainingJobSummary]] = {}
        self.fail_create: Exception | None = None
        self.list_calls: list[tuple[str, str, int]] = []
        # training job -> (billable seconds, instance type, instance count), as DescribeTrainingJob bills it
        self.billing: dict[str, tuple[int, str, int]] = {}
        self.describe_error: Exception | None = None
        self.described: list[str] = []

    def create_tuning_job(self, request: Mapping[str, Any]) -> str:
        name = request["HyperParameterTuningJobName"]
        if self.fail_create is not None:
            error, self.fail_create = self.fail_create, None
            raise error
        if name in self.jobs:
            raise ConflictError(f"tuning job {name} exists")
        self.created.append(request)
        objective = request["HyperParameterTuningJobConfig"]["HyperParameterTuningJobObjective"]
        self.jobs[name] = TuningJobDescription(
            name=name,
            status=TuningJobStatus.IN_PROGRESS,
            objective_metric=objective["MetricName"],
            objective_type=objective["Type"],
        )
        return self.arn(name)

    @staticmethod
    def arn(name: str) -> str:
        """SageMaker's ARNs hold the job's name lower-cased."""
        return f"arn:aws:sagemaker:us-east-1:123456789012:hyper-parameter-tuning-job/{name.lower()}"

    def _known(self, name: str) -> None:
        if name not in self.jobs and name not in self.trials:
            raise NotFoundError(f"tuning job {name} does not exist")

    def finish(self, name: str, status: TuningJobStatus, **changes: Any) -> None:
        self.jobs[name] = replace(self.jobs[name], status=status, **changes)

    def stop_tuning_job(self, name: str) -> None:
        """StopHyperParameterTuningJob as the reconciler calls it: a job that ended, or none, is no error."""
        job = self.jobs.get(name)
        if job is not None and not job.status.is_terminal():
            self.jobs[name] = replace(job, status=TuningJobStatus.STOPPED)

    def add(self, job: TuningJobDescription) -> None:
        self.jobs[job.name] = job

    def describe_tuning_job(self, name: str) -> TuningJobDescription:
        if name not in self.jobs:
            raise NotFoundError(f"tuning job {name} does not exist")
        return self.jobs[name]

    def top_training_jobs(
        self, name: str, *, objective_type: str, limit: int
    ) -> Sequence[TrainingJobSummary]:
        self.list_calls.append((name, objective_type, limit))
        self._known(name)
        ranked = [t for t in self.trials.get(name, []) if t.objective_value is not None]
        ranked.sort(key=lambda t: t.objective_value or 0.0, reverse=objective_type != "Minimize")
        return ranked[:limit]

    def training_job_names(self, tuning_job: str, *, limit: int) -> Sequence[str]:
        self._known(tuning_job)
        return [t.name for t in self.trials.get(tuning_job, [])][:limit]

    def describe_training_job(self, name: str) -> TrainingJobDetails:
        self.described.append(name)
        if self.describe_error is not None:
            raise self.describe_error
        billable, instance_type, count = self.billing.get(name, (61, "ml.m5.xlarge", 1))
        for tuning_job, trials in self.trials.items():
            job = self.jobs.get(tuning_job)
            for t in trials:
                if t.name == name:
                    metric = job.objective_metric if job is not None else None
                    return TrainingJobDetails(
                        name=name,
                        status="Completed",
                        model_artifacts=f"s3://bucket/runs/{name}/output/model.tar.gz",
                        training_image="xgboost:1.7-1",
                        training_seconds=61,
                        hyperparameters={"objective": "binary:logistic", **t.hyperparameters},
                        billable_seconds=billable,
                        instance_type=instance_type,
                        instance_count=count,
                        final_metrics=(
                            {metric: t.objective_value} if metric and t.objective_value is not None else {}
                        ),
                        tuning_job_arn=self.arn(tuning_job),
                    )
        raise NotFoundError(f"training job {name} does not exist")


@dataclass
class Callbacks:
    sent: list[tuple[str, str, Any]] = field(default_factory=list)
    gone: set[str] = field(default_factory=set)
    transient: bool = False

    def _send(self, kind: str, token: str, payload: Any) -> CallbackOutcome:
        if self.transient:
            raise TransientError("Step Functions throttled")
        if token in self.gone:
            return CallbackOutcome.GONE
        self.sent.append((kind, token, payload))
        return CallbackOutcome.DELIVERED

    def succeed(self, token: str, output: Mapping[str, Any]) -> CallbackOutcome:
        return self._send("success", token, dict(output))

    def fail(self, token: str, *, error: str, cause: str) -> CallbackOutcome:
        # SendTaskFailure takes an error of at most 256 characters and a cause of at most 32768
        return self._send("failure", token, (error[:256], cause[:32768]))

    def heartbeat(self, token: str) -> CallbackOutcome:
        return self._send("heartbeat", token, None)


@dataclass
class Executions:
    """Executions of one state machine, as ``StartExecution`` answers: a name is used once; starting it again
    with the same input while it runs is answered like the first start (Step Functions' idempotency),
    anything else under that name is a duplicate."""

    started: dict[str, Mapping[str, Any]] = field(default_factory=dict)
    ended: set[str] = field(default_factory=set)
    state_machine_arn: str = "arn:aws:states:us-east-1:123456789012:stateMachine:amtflow-tuning"

    def start(self, name: str, run_input: Mapping[str, Any]) -> ExecutionStart:
        if name in self.started and (name in self.ended or dict(run_input) != dict(self.started[name])):
            return ExecutionStart(name=name, outcome=StartOutcome.DUPLICATE)
        self.started[name] = run_input
        return ExecutionStart(name=name, outcome=StartOutcome.STARTED, arn=self.execution_arn(name))

    def end(self, name: str) -> None:
        """The execution ``name`` ended (succeeded, failed, timed out or was stopped)."""
        self.ended.add(name)

    def execution_arn(self, name: str) -> str:
        prefix, _, machine = self.state_machine_arn.rpartition(":stateMachine:")
        return f"{prefix}:execution:{machine}:{name}"

    def is_running(self, execution: str) -> bool | None:
        """Whether ``execution`` (an ARN, or the name of one of this state machine's executions) runs."""
        name = execution.rpartition(":")[2] if execution.startswith("arn:") else execution
        if execution.startswith("arn:") and execution != self.execution_arn(name):
            return False
        return name in self.started and name not in self.ended


@dataclass
class Notifier:
    published: list[Notification] = field(default_factory=list)

    def publish(self, notification: Notification) -> str:
        self.published.append(notification)
        return f"message-{len(self.published)}"


def csv_rows(n: int = 2000, *, shift: float = 0.0, seed: int = 1) -> bytes:
    """A small CSV in the built-in algorithms' convention (label first, no header); ``shift`` moves the
    features' distribution (0.5 ≈ moderate drift, 3 ≈ severe)."""
    import random

    rng = random.Random(seed)
    lines = []
    for _ in range(n):
        x1, x2 = rng.gauss(shift, 1.0), rng.gauss(shift, 1.0)
        lines.append(f"{int(x1 + x2 > 0)},{x1:.5f},{x2:.5f}")
    return ("\n".join(lines) + "\n").encode()


class DatasetFiles:
    """The data bucket's dataset objects in memory: implements :class:`~amtflow.app.DatasetReader`.

    Every version of ``MODEL`` gets the same small CSV unless given (``files[(version, channel)]``)."""

    def __init__(self, default: bytes | None = None) -> None:
        import io

        self._io = io
        self.default = csv_rows() if default is None else default
        self.files: dict[tuple[str, str], list[bytes]] = {}
        self.opened: list[str] = []

    def put(self, version: str, *parts: bytes, channel: str = "train") -> None:
        self.files[(version, channel)] = list(parts)

    def _parts(self, version: str, channel: str) -> list[bytes]:
        return self.files.get((version, channel), [self.default] if self.default else [])

    def channel_objects(self, model: str, version: str, channel: str) -> Sequence[str]:
        """As S3 lists them: sorted by key, empty objects left out."""
        parts = self._parts(version, channel)
        return sorted(f"datasets/{model}/{version}/{channel}/part-{i}.csv" for i, p in enumerate(parts) if p)

    def open(self, key: str) -> Any:
        try:
            _, _model, version, channel, name = key.split("/")
            part = self._parts(version, channel)[int(name.removeprefix("part-").removesuffix(".csv"))]
        except (ValueError, IndexError):
            raise NotFoundError(f"reading {key}: not found (NoSuchKey)") from None
        self.opened.append(key)
        return self._io.BytesIO(part)


class TrialLogs:
    """Training jobs' log lines in a dict (a :data:`~amtflow.app.LogReader`), as CloudWatch Logs gives them:
    the first ``max_lines`` from the head; a job without a log is :class:`NotFoundError`."""

    def __init__(self, lines: Mapping[str, Sequence[str]] | None = None, *, max_lines: int = 5000) -> None:
        self.lines = lines if lines is not None else {}
        self.max_lines = max_lines

    def __call__(self, training_job: str) -> Sequence[str]:
        if training_job not in self.lines:
            raise NotFoundError(
                f"no log stream /aws/sagemaker/TrainingJobs/{training_job}/* in CloudWatch Logs"
            )
        return list(self.lines[training_job])[: self.max_lines]
