"""Every handler (``functions/*/app.py``) run as Lambda runs it, over in-memory ports.

:class:`World` builds each use case the composition root would build, on in-memory fakes (no moto, no
network), and :func:`installed` makes ``amtflow.wiring`` hand them out. :func:`invoke` calls a handler
with a Lambda-like context; :meth:`World.effects` counts everything a handler could create (executions,
locks, parked tokens, jobs, lineage runs, registrations, notifications, idempotency records), so a
property can assert that a refused event created nothing.
"""

from __future__ import annotations

import copy
import importlib.util
import json
import sys
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from functools import cache
from types import ModuleType
from typing import Any

from aws_lambda_powertools.utilities.idempotency import BasePersistenceLayer
from aws_lambda_powertools.utilities.idempotency.exceptions import (
    IdempotencyItemAlreadyExistsError,
    IdempotencyItemNotFoundError,
)
from aws_lambda_powertools.utilities.idempotency.persistence.datarecord import DataRecord
from properties_support import PROJECT_ROOT, event

from amtflow import wiring
from amtflow.adapters import StoreProfileCatalog
from amtflow.app import (
    CallbackOutcome,
    CloseChampionEvaluation,
    CloseTrainingJobs,
    CloseTuningJobs,
    EvaluateRun,
    ExecutionStart,
    Lease,
    Notification,
    NotifyRun,
    ParkedJob,
    PlanRun,
    PlanSettings,
    RunLedger,
    StartChampionEvaluation,
    StartOutcome,
    StartRun,
    StartTraining,
    StartTuning,
    TrainingJobDetails,
    TrainingJobOutcome,
    TrainingJobSummary,
    TuningJobDescription,
    TuningJobStatus,
    evaluation_job_name,
)
from amtflow.errors import AmtflowError, ConflictError, ModelBusyError, NotFoundError
from amtflow.lineage import Champion, InMemoryLineageStore, ObjectiveType
from amtflow.messages import Plan
from amtflow.naming import execution_name
from amtflow.profile import InMemoryProfileStore, ModelProfile
from amtflow.wiring import idempotent_route

XGB_PROFILE = (PROJECT_ROOT / "examples" / "xgboost" / "profile.yaml").read_text(encoding="utf-8")
MODEL = "cancer-xgb"
ACCOUNT = "123456789012"  # the account of every fixture in events/
OTHER_ACCOUNT = "210987654321"
REGION = "us-east-1"
ROLE = f"arn:aws:iam::{ACCOUNT}:role/amtflow-sagemaker"
BUCKET = "amtflow-data"
PREFIX = "amtf"
T0 = datetime(2026, 11, 2, 9, 30, tzinfo=UTC)
# the job of events/tuning_job_completed.json and training_job_completed.json, and one not created yet
JOB = "amtf-cancer-xgb-0badc0de"
NEW_JOB = "amtf-cancer-xgb-1badc0de"
EXECUTION = {"name": "cancer-xgb-v1-0123abcd", "id": f"arn:aws:states:{REGION}:{ACCOUNT}:execution:sm:x"}

HANDLERS = (
    "start_run",
    "plan",
    "start_tuning",
    "start_training",
    "job_events",
    "reconcile",
    "evaluate",
    "start_champion_evaluation",
    "champion_evaluation_events",
    "notify",
)


# --- the handler modules and their context ------------------------------------------------------------


@cache
def handler_module(name: str) -> ModuleType:
    """``functions/<name>/app.py``, imported once under a name of its own (they are all called ``app``)."""
    path = PROJECT_ROOT / "functions" / name / "app.py"
    spec = importlib.util.spec_from_file_location(f"amtflow_handler_{name}", path)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


@dataclass(frozen=True)
class Context:
    """What Lambda's context object offers the handlers and Powertools."""

    function_name: str
    invoked_function_arn: str
    memory_limit_in_mb: int = 512
    aws_request_id: str = "request-1"
    function_version: str = "$LATEST"
    log_group_name: str = "/aws/lambda/test"
    log_stream_name: str = "test"

    def get_remaining_time_in_millis(self) -> int:
        return 60_000


def context(name: str, account: str = ACCOUNT) -> Context:
    return Context(name, f"arn:aws:lambda:{REGION}:{account}:function:amtflow-{name}")


# --- in-memory ports ----------------------------------------------------------------------------------


class Clock:
    def __init__(self, now: datetime = T0) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


@dataclass
class Datasets:
    def latest_version(self, model: str, marker: str) -> str | None:
        return "v1" if model == MODEL else None


class DatasetFiles:
    """Every channel of every version holds one small CSV (label first, no header)."""

    CSV = "".join(f"{i % 2},{i / 10:.2f},{(i * 7) % 5}\n" for i in range(60)).encode()

    def channel_objects(self, model: str, version: str, channel: str) -> list[str]:
        return [f"datasets/{model}/{version}/{channel}/part-0.csv"]

    def open(self, key: str) -> Any:
        import io

        return io.BytesIO(self.CSV)


class StateTable:
    """Leases and parked tokens (tuning, training and evaluation jobs) with the adapters' semantics; no
    holder probe, so a lease another run holds is never taken over."""

    LEASE_SECONDS = 3900

    def __init__(self) -> None:
        self.locks: dict[str, Lease] = {}
        self.tokens: dict[str, ParkedJob] = {}

    def acquire(self, model: str, owner: str, *, holder: str, now: datetime) -> tuple[str, str]:
        held = self.locks.get(model)
        if held is not None and held.owner != owner:
            raise ModelBusyError(f"model '{model}' is locked by run {held.owner}")
        version = held.version + 1 if held is not None else 1
        until = int(now.timestamp()) + self.LEASE_SECONDS
        self.locks[model] = Lease(model=model, owner=owner, holder=holder, expires_at=until, version=version)
        return f"MODEL#{model}", "LOCK"

    def leases(self) -> list[Lease]:
        return list(self.locks.values())

    def renew(self, lease: Lease, *, now: datetime) -> bool:
        held = self.locks.get(lease.model)
        if held != lease:
            return False
        self.locks[lease.model] = replace(
            lease, expires_at=int(now.timestamp()) + self.LEASE_SECONDS, version=lease.version + 1
        )
        return True

    def release(self, model: str, owner: str) -> bool:
        held = self.locks.get(model)
        if held is None or held.owner != owner:
            return False
        del self.locks[model]
        return True

    def park(self, job: ParkedJob, *, expires_at: int | None = None) -> None:
        self.tokens[job.job_name] = job

    def claim(self, job_name: str) -> ParkedJob | None:
        return self.tokens.pop(job_name, None)

    def parked(self) -> list[ParkedJob]:
        return list(self.tokens.values())


class SageMaker:
    """Tuning jobs, training jobs and evaluation jobs in dicts."""

    def __init__(self) -> None:
        self.created: list[Mapping[str, Any]] = []
        self.tuning: dict[str, TuningJobDescription] = {}
        self.training: dict[str, TrainingJobDetails] = {}
        self.trials: dict[str, list[TrainingJobSummary]] = {}
        self.registered: list[Mapping[str, Any]] = []
        self.stopped: list[str] = []

    # tuning (TuningService)
    def create_tuning_job(self, request: Mapping[str, Any]) -> str:
        name = request["HyperParameterTuningJobName"]
        if name in self.tuning:
            raise ConflictError(f"tuning job {name} exists")
        self.created.append(request)
        objective = request["HyperParameterTuningJobConfig"]["HyperParameterTuningJobObjective"]
        self.tuning[name] = TuningJobDescription(
            name=name,
            status=TuningJobStatus.IN_PROGRESS,
            objective_metric=objective["MetricName"],
            objective_type=objective["Type"],
        )
        return f"arn:aws:sagemaker:{REGION}:{ACCOUNT}:hyper-parameter-tuning-job/{name}"

    def describe_tuning_job(self, name: str) -> TuningJobDescription:
        if name not in self.tuning:
            raise NotFoundError(f"tuning job {name} does not exist")
        return self.tuning[name]

    def top_training_jobs(self, name: str, *, objective_type: str, limit: int) -> list[TrainingJobSummary]:
        ranked = [t for t in self.trials.get(name, []) if t.objective_value is not None]
        ranked.sort(key=lambda t: t.objective_value or 0.0, reverse=objective_type != "Minimize")
        return ranked[:limit]

    # training (TrainingService, and the champion's evaluation jobs)
    def create_training_job(self, request: Mapping[str, Any]) -> str:
        name = request["TrainingJobName"]
        if name in self.training:
            raise ConflictError(f"training job {name} exists")
        self.created.append(request)
        hps = dict(request.get("HyperParameters") or {})
        self.training[name] = TrainingJobDetails(name, "InProgress", None, None, None, hps)
        return f"arn:aws:sagemaker:{REGION}:{ACCOUNT}:training-job/{name}"

    def describe_training_job(self, name: str) -> TrainingJobDetails:
        if name not in self.training:
            raise NotFoundError(f"training job {name} does not exist")
        return self.training[name]

    def describe_outcome(self, name: str) -> TrainingJobOutcome:
        job = self.describe_training_job(name)
        return TrainingJobOutcome(name, job.status, job.failure_reason, dict(job.final_metrics))

    def register(self, request: Mapping[str, Any]) -> str:
        self.registered.append(request)
        return f"arn:aws:sagemaker:{REGION}:{ACCOUNT}:model-package/{MODEL}/{len(self.registered)}"


@dataclass
class Callbacks:
    sent: list[tuple[str, str, Any]] = field(default_factory=list)

    def succeed(self, token: str, output: Mapping[str, Any]) -> CallbackOutcome:
        self.sent.append(("success", token, dict(output)))
        return CallbackOutcome.DELIVERED

    def fail(self, token: str, *, error: str, cause: str) -> CallbackOutcome:
        self.sent.append(("failure", token, (error, cause)))
        return CallbackOutcome.DELIVERED

    def heartbeat(self, token: str) -> CallbackOutcome:
        self.sent.append(("heartbeat", token, None))
        return CallbackOutcome.DELIVERED


@dataclass
class Executions:
    started: dict[str, Mapping[str, Any]] = field(default_factory=dict)

    def start(self, name: str, run_input: Mapping[str, Any]) -> ExecutionStart:
        if name in self.started:
            return ExecutionStart(name=name, outcome=StartOutcome.DUPLICATE)
        self.started[name] = run_input
        return ExecutionStart(name=name, outcome=StartOutcome.STARTED, arn=f"arn:execution:{name}")


@dataclass
class Notifier:
    published: list[Notification] = field(default_factory=list)

    def publish(self, notification: Notification) -> str:
        self.published.append(notification)
        return f"message-{len(self.published)}"


class IdempotencyRecords(BasePersistenceLayer):
    """Powertools' idempotency records in a dict (the DynamoDB table's semantics)."""

    def __init__(self) -> None:
        super().__init__()
        self.records: dict[str, DataRecord] = {}

    def _get_record(self, idempotency_key: str) -> DataRecord:
        if idempotency_key not in self.records:
            raise IdempotencyItemNotFoundError
        return self.records[idempotency_key]

    def _put_record(self, data_record: DataRecord) -> None:
        existing = self.records.get(data_record.idempotency_key)
        if existing is not None and not existing.is_expired:
            raise IdempotencyItemAlreadyExistsError(old_data_record=existing)
        self.records[data_record.idempotency_key] = data_record

    def _update_record(self, data_record: DataRecord) -> None:
        self.records[data_record.idempotency_key] = data_record

    def _delete_record(self, data_record: DataRecord) -> None:
        self.records.pop(data_record.idempotency_key, None)


PLAN = Plan.model_validate(
    {
        "model": MODEL,
        "action": "tune",
        "reason": "test",
        "trigger": "s3",
        "datasetVersion": "v1",
        "jobName": JOB,
        "dataUri": f"s3://{BUCKET}/datasets/{MODEL}/v1/",
        "outputUri": f"s3://{BUCKET}/runs/{MODEL}/{JOB}/",
        "execution": EXECUTION,
        "plannedAt": T0.isoformat(),
    }
)
CHAMPION = Champion(
    model=MODEL,
    tuning_job="amtf-cancer-xgb-01d01d01",
    training_job="amtf-cancer-xgb-01d01d01-007-00000007",
    hyperparameters={"eta": "0.1"},
    objective_metric="validation:auc",
    objective_type=ObjectiveType.MAXIMIZE,
    objective_value=0.97,
    dataset_version="v0",
    data_fingerprint="sha256:v0",
    model_artifact="s3://amtflow-data/runs/cancer-xgb/old/model.tar.gz",
    training_image="xgboost:1",
    promoted_at=datetime(2026, 11, 1, tzinfo=UTC),
)
EVALUATION_JOB = evaluation_job_name(PLAN, CHAMPION.training_job)


@cache
def _profile_store() -> InMemoryProfileStore:
    return InMemoryProfileStore({"0": XGB_PROFILE})


class World:
    """Every use case of the stack on in-memory ports, as :mod:`amtflow.wiring` would build them."""

    def __init__(self) -> None:
        self.clock = Clock()
        self.table = StateTable()
        self.evaluation_tokens = StateTable()
        self.sagemaker = SageMaker()
        self.callbacks = Callbacks()
        self.executions = Executions()
        self.notifier = Notifier()
        self.lineage = InMemoryLineageStore()
        self.idempotency = IdempotencyRecords()
        profiles = StoreProfileCatalog(_profile_store())

        def load(model: str, overrides: Mapping[str, Any]) -> ModelProfile:
            return profiles.get(model, overrides).profile

        self.router = StartRun(
            profiles=profiles,
            datasets=Datasets(),
            executions=self.executions,
            execution_namer=lambda model, version: execution_name(model, version),
            data_bucket=BUCKET,
        )
        self.route = idempotent_route(self.router, self.idempotency)
        self.planner = PlanRun(
            profiles=profiles,
            datasets=Datasets(),
            locks=self.table,
            job_namer=wiring.job_namer(PREFIX),
            clock=self.clock,
            settings=PlanSettings(data_bucket=BUCKET, role_arn=ROLE),
            lineage=self.lineage,
            dataset_reader=DatasetFiles(),
        )
        self.start_tuning = StartTuning(
            profiles=profiles,
            sagemaker=self.sagemaker,
            tokens=self.table,
            clock=self.clock,
            role_arn=ROLE,
            lineage=self.lineage,
        )
        self.start_training = StartTraining(
            profiles=profiles, sagemaker=self.sagemaker, tokens=self.table, clock=self.clock, role_arn=ROLE
        )
        ledger = RunLedger(lineage=self.lineage, clock=self.clock)
        self.close_training = CloseTrainingJobs(
            sagemaker=self.sagemaker,
            tokens=self.table,
            callbacks=self.callbacks,
            job_prefix=PREFIX,
            ledger=ledger,
        )
        self.close_tuning = CloseTuningJobs(
            training=self.close_training,
            ledger=ledger,
            sagemaker=self.sagemaker,
            tokens=self.table,
            callbacks=self.callbacks,
            clock=self.clock,
            job_prefix=PREFIX,
            stop_job=self.sagemaker.stopped.append,
        )
        self.evaluate = EvaluateRun(
            sagemaker=self.sagemaker,
            lineage=self.lineage,
            registry=self.sagemaker,
            profiles=load,
            clock=self.clock,
            job_prefix=PREFIX,
        )
        self.start_evaluation = StartChampionEvaluation(
            profiles=load,
            champions=lambda model: CHAMPION if model == MODEL else None,
            sagemaker=self.sagemaker,
            tokens=self.evaluation_tokens,
            clock=self.clock,
            role_arn=ROLE,
            output_prefix="runs/",
            data_bucket=BUCKET,
        )
        self.close_evaluations = CloseChampionEvaluation(
            sagemaker=self.sagemaker,
            tokens=self.evaluation_tokens,
            callbacks=self.callbacks,
            job_prefix=PREFIX,
        )
        self.notify = NotifyRun(notifier=self.notifier, clock=self.clock, region=REGION)
        self._seed()

    def _seed(self) -> None:
        """The jobs the event fixtures name, ended, with their tokens parked: an event reaches a callback."""
        self.sagemaker.tuning[JOB] = TuningJobDescription(
            name=JOB,
            status=TuningJobStatus.COMPLETED,
            objective_metric="validation:auc",
            objective_type="Maximize",
        )
        self.sagemaker.trials[JOB] = [
            TrainingJobSummary(f"{JOB}-001-aaaaaaaa", "Completed", 0.93, {"eta": "0.2"}),
        ]
        self.sagemaker.training[JOB] = TrainingJobDetails(
            JOB, "Completed", "s3://amtflow-data/runs/m/model.tar.gz", "xgboost:1", 60, {"eta": "0.1"}
        )
        self.sagemaker.training[f"{JOB}-001-aaaaaaaa"] = TrainingJobDetails(
            f"{JOB}-001-aaaaaaaa", "Completed", "s3://amtflow-data/runs/t/model.tar.gz", "xgboost:1", 60, {}
        )
        self.sagemaker.training[EVALUATION_JOB] = TrainingJobDetails(
            EVALUATION_JOB, "Completed", None, None, 60, {}, final_metrics={"validation:auc": 0.9}
        )
        parked_at = T0 - timedelta(hours=1)
        self.table.park(ParkedJob(JOB, "token-1", MODEL, EXECUTION["name"], parked_at))
        self.evaluation_tokens.park(ParkedJob(EVALUATION_JOB, "token-1", MODEL, EXECUTION["name"], parked_at))

    def effects(self) -> tuple[int, ...]:
        """How much each port holds: unchanged means the handler created (and took) nothing."""
        return (
            len(self.executions.started),
            len(self.table.locks),
            len(self.table.tokens),
            len(self.evaluation_tokens.tokens),
            len(self.sagemaker.created),
            len(self.sagemaker.registered),
            len(self.sagemaker.stopped),
            len(self.callbacks.sent),
            len(self.lineage.list_dataset_versions(MODEL)),
            len(self.lineage.list_runs(MODEL)),
            len(self.notifier.published),
            len(self.idempotency.records),
        )


@contextmanager
def installed() -> Iterator[Callable[[], World]]:
    """Make ``amtflow.wiring`` hand out the use cases of the current :class:`World`; yields a
    function that starts a fresh world (cheap: in-memory only) and returns it."""
    current: list[World] = [World()]
    builders: dict[str, Callable[[World], Any]] = {
        "start_run_once": lambda w: w.route,
        "plan_run": lambda w: w.planner,
        "start_tuning": lambda w: w.start_tuning,
        "start_training": lambda w: w.start_training,
        "close_training_jobs": lambda w: w.close_training,
        "close_tuning_jobs": lambda w: w.close_tuning,
        "evaluate_run": lambda w: w.evaluate,
        "start_champion_evaluation": lambda w: w.start_evaluation,
        "close_champion_evaluations": lambda w: w.close_evaluations,
        "notify_run": lambda w: w.notify,
    }
    saved = {name: getattr(wiring, name) for name in builders}

    def fresh() -> World:
        current[0] = World()
        return current[0]

    try:
        for name, build in builders.items():
            setattr(wiring, name, lambda settings=None, _b=build: _b(current[0]))
        yield fresh
    finally:
        for name, original in saved.items():
            setattr(wiring, name, original)


def invoke(name: str, payload: Any, *, account: str = ACCOUNT) -> dict[str, Any] | AmtflowError:
    """Call a handler as Lambda would: its result, or the amtflow error it raised (anything else escapes)."""
    handler = handler_module(name).lambda_handler
    try:
        result: dict[str, Any] = handler(copy.deepcopy(payload), context(name, account))
    except AmtflowError as e:
        return e
    json.dumps(result)  # what Lambda returns must serialise
    return result


def with_plan(**changes: Any) -> dict[str, Any]:
    """The plan document (``Plan.to_json()``) of a tuning run of the example profile, changed."""
    document = PLAN.to_json()
    document.update(changes)
    return document


def retrain_plan() -> dict[str, Any]:
    return with_plan(action="retrain", jobName=NEW_JOB, maxJobs=1, hyperparameters={"eta": "0.12"})


def evaluation_job_document() -> dict[str, Any]:
    return {
        "jobName": EVALUATION_JOB,
        "championTrainingJob": CHAMPION.training_job,
        "modelArtifact": CHAMPION.model_artifact,
        "dataUri": f"s3://{BUCKET}/datasets/{MODEL}/v1/validation/",
        "timeoutSeconds": 7200,
        "heartbeatSeconds": 3600,
    }


def tuning_document() -> dict[str, Any]:
    return {
        "jobName": JOB,
        "status": "Completed",
        "objectiveMetric": "validation:auc",
        "objectiveType": "Maximize",
    }


def valid_inputs() -> dict[str, list[Any]]:
    """For each handler, inputs of the shape its invoker sends (the properties change them)."""
    ended_training = event("training_job_completed.json")
    evaluation_ended = copy.deepcopy(ended_training)
    evaluation_ended["detail"]["TrainingJobName"] = EVALUATION_JOB
    return {
        "start_run": [
            event("s3_marker_created.json"),
            event("scheduled_event.json"),
            event("drift_detected.json"),
        ],
        "plan": [
            {"request": event("manual_run_request.json"), "execution": EXECUTION},
            {
                "request": {"model": MODEL, "trigger": "drift", "drift": {"severity": "high"}},
                "execution": EXECUTION,
            },
        ],
        "start_tuning": [{"plan": with_plan(jobName=NEW_JOB), "taskToken": "token-2"}],
        "start_training": [{"plan": retrain_plan(), "taskToken": "token-2"}],
        "job_events": [
            event("tuning_job_completed.json"),
            ended_training,
            event("training_job_trial_completed.json"),
        ],
        "reconcile": [event("scheduled_event.json")],
        "evaluate": [
            {"plan": with_plan(), "tuning": tuning_document()},
            {
                "plan": with_plan(),
                "tuning": tuning_document(),
                "evaluation": {"outcome": "succeeded"},
                "championEvaluation": {"jobName": EVALUATION_JOB, "status": "Completed"},
            },
        ],
        "start_champion_evaluation": [
            {"plan": with_plan(), "job": evaluation_job_document(), "taskToken": "token-2"}
        ],
        "champion_evaluation_events": [evaluation_ended],
        "notify": [
            {"state": {"request": {"model": MODEL}, "plan": with_plan()}, "execution": EXECUTION},
            {
                "state": {"plan": with_plan(), "error": {"Error": "InvalidInputError", "Cause": "{}"}},
                "execution": EXECUTION,
            },
        ],
    }
