"""Fault injection for the local twin: duplicated and lost events, throttled SageMaker calls, crashing trials.

EventBridge delivers at least once, SageMaker's state-change events are best effort, SageMaker throttles and
trials crash. :class:`FaultInjector` brings all four into a twin run, seeded and reproducible:

- **every event delivered ``event_copies`` times**: each delivery of a rule target (S3 "Object Created",
  SageMaker state changes, schedules) is repeated with the very same event (same ``id``), as EventBridge's
  at-least-once delivery does;
- **a fraction of SageMaker's events dropped**: the engine's state-change event never reaches EventBridge
  (the reconciler must close the task);
- **a fraction of SageMaker calls throttled**: each attempt of a SageMaker API call fails with
  ``ThrottlingException`` with that probability. The AWS SDK retries throttling (amtflow's clients: adaptive
  mode, 8 attempts; a default client: 5), so the injection retries as the calling client's configuration
  says and only a call whose every attempt was throttled reaches the caller as the ``ClientError``;
- **a fraction of trials crashing**: the stand-in training script (:data:`TRIAL_SCRIPT`) exits with 1
  before reporting, decided by its hyperparameters ``crash_rate`` and ``fault_seed``.

Decisions are hashes of the seed and what they are about (the job and status of an event, the operation and
the call's resource name and attempt), not draws from a shared generator, so threads interleaving
differently do not change which faults happen.

:func:`fault_report` reads a finished twin and returns the figures of issue 7 (``dataset_versions``,
``runs``, ``duplicate_runs``, ``non_terminal_executions``, ``runs_without_one_notification``,
``orphaned_tuning_jobs``, ``lineage_mismatches``).
"""

from __future__ import annotations

import hashlib
import json
import threading
from collections import Counter
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from unittest import mock

from amtflow.errors import InvalidInputError
from amtflow.local.twin import EventSink, SageMakerFactory
from amtflow.vocabulary import TuningJobStatus

FAULT_IMAGE = "123456789012.dkr.ecr.us-east-1.amazonaws.com/amtflow-faults:1"
"""The training image of :func:`fault_profile`; map it to :data:`TRIAL_SCRIPT` in the engine's image map."""

SUITE_START = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)
QUIET = {"POWERTOOLS_LOG_LEVEL": "WARNING", "POWERTOOLS_METRICS_DISABLED": "true"}

TRIAL_SCRIPT = '''\
"""A stand-in training script for fault injection: quick, and crashing at the rate it is told."""
import hashlib, json, os, sys

hps = json.loads(os.environ.get("SM_HPS", "{}"))
x = float(hps.get("x", 0.5))
name = os.environ.get("TRAINING_JOB_NAME", "")
draw = int(hashlib.sha256(f"{hps.get('fault_seed', '0')}|crash|{name}".encode()).hexdigest()[:8], 16) / 16**8
if draw < float(hps.get("crash_rate", 0)):
    print("injected fault: the trial crashes", flush=True)
    sys.exit(1)
for epoch in range(3):
    print(f"epoch={epoch} validation-loss={(x - 0.3) ** 2 + 0.1 / (epoch + 1):.6f}", flush=True)
os.makedirs(os.environ.get("SM_MODEL_DIR", "model"), exist_ok=True)
with open(os.path.join(os.environ.get("SM_MODEL_DIR", "model"), "model.json"), "w") as f:
    json.dump({"x": x}, f)
'''


def chance(seed: int, *parts: object) -> float:
    """A reproducible draw in [0, 1) for ``parts`` under ``seed``."""
    text = "|".join([str(seed), *(str(p) for p in parts)])
    return int(hashlib.sha256(text.encode()).hexdigest()[:12], 16) / 16**12


@dataclass(frozen=True)
class FaultPlan:
    """What to inject; the defaults are issue 7's: 3 deliveries, 10% dropped, 20% throttled, 5% crashing."""

    seed: int = 7
    event_copies: int = 3
    drop_sagemaker_events: float = 0.10
    throttle_sagemaker_calls: float = 0.20
    trial_crash_rate: float = 0.05

    def __post_init__(self) -> None:
        if self.event_copies < 1:
            raise InvalidInputError("event_copies must be at least 1", field="event_copies")
        for name in ("drop_sagemaker_events", "throttle_sagemaker_calls", "trial_crash_rate"):
            value = getattr(self, name)
            if not 0.0 <= value < 1.0:
                raise InvalidInputError(f"{name} must be in [0, 1), got {value}", field=name)


@dataclass
class FaultCounts:
    """What was injected (for the report; figures, not assertions)."""

    deliveries: int = 0
    extra_deliveries: int = 0
    sagemaker_events: int = 0
    sagemaker_events_dropped: int = 0
    sagemaker_calls: int = 0
    throttled_attempts: int = 0
    throttles_surfaced: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)

    def add(self, **counts: int) -> None:
        with self.lock:
            for name, value in counts.items():
                setattr(self, name, getattr(self, name) + value)

    def to_json(self) -> dict[str, int]:
        return {k: v for k, v in vars(self).items() if isinstance(v, int)}


def _resource_name(params: Mapping[str, Any]) -> str:
    for key in ("HyperParameterTuningJobName", "TrainingJobName", "ModelPackageGroupName"):
        if isinstance(params.get(key), str):
            return str(params[key])
    return json.dumps(params, sort_keys=True, default=str)[:200]


def _max_attempts(client: Any) -> int:
    retries = getattr(getattr(client, "meta", None), "config", None)
    config = getattr(retries, "retries", None) or {}
    if "total_max_attempts" in config:
        return max(1, int(config["total_max_attempts"]))
    if "max_attempts" in config:
        return max(1, int(config["max_attempts"]) + 1)  # botocore: max_attempts counts retries
    return 5  # botocore's legacy default: 4 retries


class FaultInjector:
    """Wraps a twin's SageMaker side and its deliveries with the faults of a :class:`FaultPlan`.

    Use :meth:`sagemaker` as the twin's ``sagemaker=`` factory (around the local engine's) and enter
    :meth:`duplicated_deliveries` around ``Twin.start``.
    """

    def __init__(self, plan: FaultPlan | None = None) -> None:
        self.plan = plan or FaultPlan()
        self.counts = FaultCounts()
        self._calls: Counter[tuple[str, str]] = Counter()
        self._calls_lock = threading.Lock()
        self.active = True
        """``False`` pauses the throttling (to read the final state)."""
        self.created: dict[str, dict[str, str]] = {}
        """Every tuning job created, with the tags of its request."""

    # --- events -------------------------------------------------------------------------------------------

    def drops(self, entry: Mapping[str, Any]) -> bool:
        """Whether SageMaker's event ``entry`` is lost (decided per job and status)."""
        detail = entry.get("detail", entry.get("Detail"))  # an EventBridge envelope or a PutEvents entry
        try:
            parsed = json.loads(detail) if isinstance(detail, str) else dict(detail or {})
        except ValueError:
            parsed = {}
        job = parsed.get("HyperParameterTuningJobName") or parsed.get("TrainingJobName") or ""
        status = parsed.get("HyperParameterTuningJobStatus") or parsed.get("TrainingJobStatus") or ""
        return chance(self.plan.seed, "drop", job, status) < self.plan.drop_sagemaker_events

    def lossy(self, sink: EventSink) -> EventSink:
        """``sink`` that loses a fraction of SageMaker's events."""

        def put(entry: Mapping[str, Any]) -> None:
            dropped = self.drops(entry)
            self.counts.add(sagemaker_events=1, sagemaker_events_dropped=int(dropped))
            if not dropped:
                sink(entry)

        return put

    @contextmanager
    def duplicated_deliveries(self) -> Iterator[None]:
        """Every rule-target delivery of the twin happens ``event_copies`` times, with the same event."""
        from amtflow.local.twin import Twin

        original = Twin._enqueue_delivery
        copies = self.plan.event_copies
        counts = self.counts

        def enqueue(twin: Any, rule_name: str, target: Mapping[str, Any], event: Mapping[str, Any]) -> None:
            counts.add(deliveries=copies, extra_deliveries=copies - 1)
            for _ in range(copies):
                original(twin, rule_name, target, event)

        with mock.patch.object(Twin, "_enqueue_delivery", enqueue):
            yield

    # --- SageMaker calls ----------------------------------------------------------------------------------

    def _throttled(self, operation: str, params: Mapping[str, Any]) -> bool:
        key = (operation, _resource_name(params))
        with self._calls_lock:
            self._calls[key] += 1
            n = self._calls[key]
        return chance(self.plan.seed, "throttle", *key, n) < self.plan.throttle_sagemaker_calls

    @contextmanager
    def throttling(self) -> Iterator[None]:
        """SageMaker API calls made in this process are throttled per attempt, and retried as the SDK does."""
        from botocore.client import BaseClient
        from botocore.exceptions import ClientError

        inner = getattr(BaseClient, "_make_api_call")  # noqa: B009 - private in botocore's stubs
        injector = self

        def make_api_call(client: BaseClient, operation: str, params: dict[str, Any]) -> Any:
            if client.meta.service_model.service_name != "sagemaker" or not injector.active:
                return inner(client, operation, params)
            injector.counts.add(sagemaker_calls=1)
            attempts = _max_attempts(client)
            for _ in range(attempts):
                if not injector._throttled(operation, params):
                    response = inner(client, operation, params)
                    if operation == "CreateHyperParameterTuningJob":
                        tags = {t["Key"]: t.get("Value", "") for t in params.get("Tags", [])}
                        with injector._calls_lock:
                            injector.created[str(params["HyperParameterTuningJobName"])] = tags
                    return response
                injector.counts.add(throttled_attempts=1)
            injector.counts.add(throttles_surfaced=1)
            raise ClientError(
                {"Error": {"Code": "ThrottlingException", "Message": "Rate exceeded (injected)"}}, operation
            )

        with mock.patch.object(BaseClient, "_make_api_call", make_api_call):
            yield

    def sagemaker(self, inner: SageMakerFactory) -> SageMakerFactory:
        """The twin's SageMaker factory around ``inner``: lossy events, throttled calls."""

        @contextmanager
        def factory(sink: EventSink) -> Iterator[object]:
            with inner(self.lossy(sink)) as served, self.throttling():
                yield served

        return factory


# --- the workload ---------------------------------------------------------------------------------------


def fault_profile(model: str, plan: FaultPlan, *, max_jobs: int = 3) -> str:
    """A small profile (Random search over one range, a few quick trials) for :data:`TRIAL_SCRIPT`."""
    document = {
        "schema": "amtflow/v1",
        "model": model,
        "description": "fault-injection stand-in",
        "dataset": {"channels": {"train": "text/csv", "validation": "text/csv"}, "marker": "_READY"},
        "training": {
            "image": FAULT_IMAGE,
            "instance_type": "ml.m5.large",
            "max_runtime_s": 600,
            "metrics": [{"name": "validation:loss", "regex": "validation-loss=([0-9\\.]+)"}],
            "static_hyperparameters": {
                "crash_rate": str(plan.trial_crash_rate),
                "fault_seed": str(plan.seed),
            },
        },
        "tuning": {
            "strategy": "Random",
            "objective": {"metric": "validation:loss", "goal": "Minimize"},
            "ranges": {"x": {"min": 0.0, "max": 1.0}},
            "limits": {"max_jobs": max_jobs, "max_parallel": max_jobs, "max_runtime_s": 1800},
            "random_seed": plan.seed,
        },
        # Promotion across datasets against an absolute threshold: a champion's evaluation job parks its
        # token in a store the reconciler does not sweep yet, so a lost event of that job is not recovered.
        "promotion": {"cross_dataset": "threshold", "threshold": 10.0},
        "budget": {"max_usd_per_run": 50, "max_usd_per_month": 100000},
        "sample_log_lines": ["epoch=2 validation-loss=0.123456"],
    }
    return json.dumps(document, indent=1)


def dataset_csv(model_index: int, version_index: int, rows: int = 60) -> str:
    """Label-first CSV rows; each version is shifted far from the previous one (a severe drift)."""
    lines = []
    for i in range(rows):
        a = (i * 37 % 101) / 101.0 + 10.0 * version_index + model_index
        b = (i * 53 % 97) / 97.0 - 10.0 * version_index
        lines.append(f"{i % 2},{a:.4f},{b:.4f}")
    return "\n".join(lines) + "\n"


# --- the figures ----------------------------------------------------------------------------------------

TAG_MODEL = "amtflow:model"
TAG_DATASET_VERSION = "amtflow:dataset-version"
TAG_EXECUTION = "amtflow:execution"
TERMINAL_JOB_STATUSES = frozenset(s.value for s in TuningJobStatus if s.is_terminal())


def tuning_jobs(sagemaker: Any, created: Mapping[str, Mapping[str, str]]) -> list[dict[str, Any]]:
    """Every tuning job SageMaker knows, with its status and the tags it was created with."""
    jobs = []
    kwargs: dict[str, Any] = {"MaxResults": 100}
    while True:
        page = sagemaker.list_hyper_parameter_tuning_jobs(**kwargs)
        for summary in page.get("HyperParameterTuningJobSummaries", []):
            name = summary["HyperParameterTuningJobName"]
            described = sagemaker.describe_hyper_parameter_tuning_job(HyperParameterTuningJobName=name)
            status = described["HyperParameterTuningJobStatus"]
            jobs.append({"name": name, "status": status, "tags": dict(created.get(name, {}))})
        if not page.get("NextToken"):
            return jobs
        kwargs["NextToken"] = page["NextToken"]


@dataclass(frozen=True)
class RunView:
    """What the report needs of one execution."""

    arn: str
    name: str
    status: str
    model: str | None
    dataset_version: str | None
    trigger: str | None


def fault_report(
    *,
    versions: set[tuple[str, str]],
    executions: list[RunView],
    notifications: list[Mapping[str, Any]],
    jobs: Sequence[Mapping[str, Any]],
) -> dict[str, int]:
    """The issue's figures from what a twin run left: executions, notification documents, tuning jobs.

    - ``runs``: executions started for an uploaded dataset version;
    - ``duplicate_runs``: executions or tuning jobs beyond the first per dataset version;
    - ``non_terminal_executions``: executions still running;
    - ``runs_without_one_notification``: executions with zero or several outcome notifications;
    - ``orphaned_tuning_jobs``: tuning jobs still running, or whose execution is unknown or has ended
      without it being terminal;
    - ``lineage_mismatches``: tuning jobs whose model / dataset-version tags disagree with their execution's
      request, or whose execution's notification names another job.
    """
    by_name = {e.name: e for e in executions}
    runs_per_version: Counter[tuple[str, str]] = Counter()
    for e in executions:
        if e.model is not None and e.dataset_version is not None and (e.model, e.dataset_version) in versions:
            runs_per_version[(e.model, e.dataset_version)] += 1
    notes_per_execution: Counter[str] = Counter()
    job_of_execution: dict[str, str] = {}
    for doc in notifications:
        if doc.get("outcome") == "queued":
            continue  # an interim notice, not the run's outcome
        arn = str(doc.get("execution") or "")
        notes_per_execution[arn] += 1
        tuning = doc.get("tuning") or {}
        if isinstance(tuning, Mapping) and tuning.get("jobName"):
            job_of_execution[arn] = str(tuning["jobName"])
    jobs_per_version: Counter[tuple[str, str]] = Counter()
    orphaned = mismatches = 0
    for job in jobs:
        tags = job.get("tags") or {}
        execution = by_name.get(str(tags.get(TAG_EXECUTION, "")))
        version = (str(tags.get(TAG_MODEL, "")), str(tags.get(TAG_DATASET_VERSION, "")))
        jobs_per_version[version] += 1
        if job["status"] not in TERMINAL_JOB_STATUSES or execution is None:
            orphaned += 1
            continue
        wrong_version = (execution.model, execution.dataset_version) != version
        notified_job = job_of_execution.get(execution.arn, job["name"])
        if wrong_version or notified_job != job["name"]:
            mismatches += 1
    duplicates = sum(max(0, n - 1) for n in runs_per_version.values())
    duplicates += sum(max(0, n - 1) for v, n in jobs_per_version.items() if v in versions)
    return {
        "dataset_versions": len(versions),
        "runs": sum(runs_per_version.values()),
        "duplicate_runs": duplicates,
        "non_terminal_executions": sum(1 for e in executions if e.status == "RUNNING"),
        "runs_without_one_notification": sum(1 for e in executions if notes_per_execution[e.arn] != 1),
        "orphaned_tuning_jobs": orphaned,
        "lineage_mismatches": mismatches,
    }


REPORT_KEYS = (
    "dataset_versions",
    "runs",
    "duplicate_runs",
    "non_terminal_executions",
    "runs_without_one_notification",
    "orphaned_tuning_jobs",
    "lineage_mismatches",
)


@dataclass(frozen=True)
class FaultSuiteResult:
    report: dict[str, int]
    counts: dict[str, int]
    seconds: float
    sweeps: int
    unfinished: tuple[str, ...] = ()
    """Executions still running at the end: ``name at state``."""
    reconciled: Mapping[str, int] = field(default_factory=dict)
    """The reconciler's outcomes over every sweep (``closed``, ``heartbeat``, ...)."""


def run_fault_suite(
    project_root: str | Path,
    *,
    models: int = 2,
    versions: int = 2,
    plan: FaultPlan | None = None,
    max_jobs: int = 2,
    deadline_seconds: float = 600.0,
    max_workers: int = 2,
    dataset: Callable[[int, int], str] | None = None,
) -> FaultSuiteResult:
    """Run ``models`` times ``versions`` dataset versions through the twin under ``plan``'s faults.

    Versions land model by model in rounds (a model's next version while its previous run is still tuning,
    so runs queue behind the model's lock). The reconciler's schedule is advanced until every execution has
    ended or ``deadline_seconds`` of wall-clock time have passed; then the figures are read. ``dataset``
    ``(model index, version index) -> CSV text`` replaces :func:`dataset_csv`.
    """
    import tempfile
    import time

    from amtflow.local.engine import sagemaker as local_sagemaker
    from amtflow.local.twin import ExecutionStatus, ManualClock, Twin

    plan = plan or FaultPlan()
    injector = FaultInjector(plan)
    names = [f"faults-m{i}" for i in range(models)]
    uploaded: set[tuple[str, str]] = set()
    started = time.monotonic()
    sweeps = 0
    with tempfile.TemporaryDirectory(prefix="amtflow-faults-") as work:
        script = Path(work) / "trial.py"
        script.write_text(TRIAL_SCRIPT, encoding="utf-8")
        image_map = {FAULT_IMAGE: f"{{python}} {script}"}

        def engine(sink: EventSink) -> AbstractContextManager[object]:
            return local_sagemaker(
                state_dir=Path(work) / "engine", image_map=image_map, event_sink=sink, max_workers=max_workers
            )

        with (
            injector.duplicated_deliveries(),
            Twin.start(
                project_root,
                sagemaker=injector.sagemaker(engine),
                clock=ManualClock(SUITE_START),
                work_dir=work,
                environment=QUIET,
                seed=plan.seed,
            ) as twin,
        ):
            for model in names:
                twin.put_object(f"profiles/{model}.yaml", fault_profile(model, plan, max_jobs=max_jobs))
            twin.wait_idle()
            for v in range(versions):
                for m, model in enumerate(names):
                    version = f"v{v + 1}"
                    for channel in ("train", "validation"):
                        text = (dataset or dataset_csv)(m, v)
                        twin.put_object(f"datasets/{model}/{version}/{channel}/part-0.csv", text)
                    twin.put_object(f"datasets/{model}/{version}/_READY", "")
                    uploaded.add((model, version))
            while time.monotonic() - started < deadline_seconds:
                twin.wait_idle(timeout=max(1.0, deadline_seconds - (time.monotonic() - started)))
                if not any(e.status is ExecutionStatus.RUNNING for e in twin.executions()):
                    break
                time.sleep(1.0)
                twin.advance(15 * 60, wait=False)  # the reconciler's schedule
                sweeps += 1
            injector.active = False
            reconciled: Counter[str] = Counter()
            for invocation in twin.invocations():
                result = invocation.result if isinstance(invocation.result, Mapping) else {}
                if invocation.function == "ReconcileFunction" and isinstance(result.get("outcomes"), Mapping):
                    reconciled.update({str(k): int(v) for k, v in result["outcomes"].items()})
                elif invocation.function == "ReconcileFunction" and not invocation.ok:
                    reconciled[f"error:{invocation.error_type}"] += 1
            unfinished = tuple(
                f"{e.name} at {e.states[-1] if e.states else 'start'}"
                for e in twin.executions()
                if e.status is ExecutionStatus.RUNNING
            )
            views = [
                RunView(
                    arn=e.arn,
                    name=e.name,
                    status=e.status.value,
                    model=e.input.get("model") if isinstance(e.input, dict) else None,
                    dataset_version=e.input.get("datasetVersion") if isinstance(e.input, dict) else None,
                    trigger=e.input.get("trigger") if isinstance(e.input, dict) else None,
                )
                for e in twin.executions()
            ]
            documents = []
            for note in twin.notifications():
                try:
                    documents.append(note.json())
                except ValueError:
                    documents.append({})
            jobs = tuning_jobs(twin.client("sagemaker"), injector.created)
    report = fault_report(versions=uploaded, executions=views, notifications=documents, jobs=jobs)
    return FaultSuiteResult(
        report, injector.counts.to_json(), time.monotonic() - started, sweeps, unfinished, dict(reconciled)
    )
