"""The engine: SageMaker's tuning and training API served in-process, with a job loop per tuning job.

Roles (Syne Tune style): a :class:`~amtflow.local.engine._strategies.Strategy` decides what to run and
whether a running trial continues; the runner (:mod:`._runner`) executes a training job as a process; the
job loop here coordinates them under the request's limits and completion criteria, on an injectable clock.

Requests arrive as the JSON the service would receive (:meth:`Engine.handle`); answers are the JSON the
service would send, so the hook can run them through botocore's own parser. Refusals are
:class:`ServiceError` with the service's error code.
"""

from __future__ import annotations

import base64
import contextlib
import copy
import hashlib
import logging
import math
import os
import secrets
import signal
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Any

from amtflow.local.engine._events import EventPublisher, EventSink
from amtflow.local.engine._images import ImageMap, load_image_map
from amtflow.local.engine._io import fetch_channel, output_uri, pack_model, upload
from amtflow.local.engine._jobs import JobBook
from amtflow.local.engine._logs import copy_log
from amtflow.local.engine._model import (
    ACCOUNT_ID,
    Clock,
    ErrorCode,
    ObjectiveStatus,
    SecondaryStatus,
    ServiceError,
    SystemClock,
    TrainingJobStatus,
    TuningJobStatus,
    validation,
)
from amtflow.local.engine._paths import (
    check_training_job_name,
    check_tuning_job_name,
)
from amtflow.local.engine._records import TRAINING_REQUEST_KEYS, TrainingJob, TuningJob, counters
from amtflow.local.engine._runner import TrialProcess, TrialSpec
from amtflow.local.engine._space import Config, format_config
from amtflow.local.engine._stopping import CompletionReason, CompletionTracker, MedianStoppingRule
from amtflow.local.engine._store import Store
from amtflow.local.engine._strategies import Decision, Strategy, make_strategy
from amtflow.local.engine._validation import (
    check_definition,
    check_paths,
    metric_definitions,
    validate_parents,
    validate_tuning_request,
)

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

logger = logging.getLogger(__name__)

MAX_CONCURRENT_TUNING_JOBS = 100
DEFAULT_MAX_TRAINING_JOBS = 750  # the service's per-tuning-job limit, used when no budget is given
TICK_SECONDS = 0.02  # how often a job's loop looks at its trials (an idle look costs microseconds)

OPERATIONS = frozenset(
    {
        "CreateHyperParameterTuningJob",
        "DescribeHyperParameterTuningJob",
        "ListHyperParameterTuningJobs",
        "StopHyperParameterTuningJob",
        "ListTrainingJobsForHyperParameterTuningJob",
        "CreateTrainingJob",
        "DescribeTrainingJob",
        "StopTrainingJob",
    }
)


class StopCause(StrEnum):
    USER = "user"
    EARLY_STOPPING = "early-stopping"
    MAX_RUNTIME = "max-runtime"
    TUNING_JOB_ENDED = "tuning-job-ended"


def tuning_arn(region: str, name: str) -> str:
    return f"arn:aws:sagemaker:{region}:{ACCOUNT_ID}:hyper-parameter-tuning-job/{name.lower()}"


def training_arn(region: str, name: str) -> str:
    return f"arn:aws:sagemaker:{region}:{ACCOUNT_ID}:training-job/{name.lower()}"


def _page(items: list[dict[str, Any]], params: Mapping[str, Any], key: str) -> dict[str, Any]:
    max_results = int(params.get("MaxResults") or 10)
    start = 0
    token = params.get("NextToken")
    if token:
        try:
            start = int(base64.urlsafe_b64decode(token.encode()).decode())
        except (ValueError, UnicodeDecodeError):
            raise validation(f"NextToken {token!r} is not a token this service returned.") from None
    out: dict[str, Any] = {key: items[start : start + max_results]}
    if start + max_results < len(items):
        out["NextToken"] = base64.urlsafe_b64encode(str(start + max_results).encode()).decode()
    return out


@dataclass(eq=False)
class _Trial:
    """One training job the engine runs (alone or for a tuning job)."""

    job: TrainingJob
    spec: TrialSpec | None = None
    process: TrialProcess | None = None
    config: Config = field(default_factory=dict)
    max_runtime: float = 86400.0
    stop_cause: StopCause | None = None
    reported: int = 0  # objective points already passed to the deciders
    slot_held: bool = False
    done: bool = False

    @property
    def name(self) -> str:
        return self.job.name


class Engine:
    """The local AMT engine. Use it through :func:`amtflow.local.sagemaker`; tests may call it directly.

    ``max_workers`` caps the training processes running at once across all jobs of this engine (default
    ``os.cpu_count()``); each tuning job also respects its own ``MaxParallelTrainingJobs``.
    """

    def __init__(
        self,
        state_dir: str | Path,
        image_map: str | Path | Mapping[str, Any] | ImageMap | None = None,
        *,
        event_sink: EventSink | None = None,
        max_workers: int | None = None,
        clock: Clock | None = None,
        s3_client: S3Client | None = None,
        logs_client: Any = None,
        seed_source: Callable[[], int] | None = None,
        stop_grace_seconds: float = 2.0,
        read_only: bool = False,
    ) -> None:
        self.store = Store(Path(state_dir).resolve())
        self.image_map = load_image_map(image_map)
        self.clock: Clock = clock or SystemClock()
        self._s3 = s3_client
        self._logs = logs_client
        self._seed_source = seed_source or (lambda: secrets.randbelow(2**31))
        self.max_workers = max(1, max_workers or os.cpu_count() or 1)
        self._slots = threading.BoundedSemaphore(self.max_workers)
        self.stop_grace_seconds = stop_grace_seconds
        self.jobs = JobBook(self.store, self.clock, EventPublisher(event_sink, self.clock))
        self._lock = self.jobs.lock
        self._threads: dict[str, threading.Thread] = {}
        self._stop_flags: dict[str, threading.Event] = {}
        self._shutdown = threading.Event()
        self._live: dict[str, _Trial] = {}
        self.read_only = read_only
        self.jobs.load(recover=not read_only)

    # ---------------------------------------------------------------- dispatch
    def handle(self, operation: str, params: Mapping[str, Any], region: str = "us-east-1") -> dict[str, Any]:
        """Serve one SageMaker operation: request JSON in, response JSON out (or :class:`ServiceError`)."""
        handlers: dict[str, Callable[[Mapping[str, Any], str], dict[str, Any]]] = {
            "CreateHyperParameterTuningJob": self._create_tuning_job,
            "DescribeHyperParameterTuningJob": self._describe_tuning_job,
            "ListHyperParameterTuningJobs": self._list_tuning_jobs,
            "StopHyperParameterTuningJob": self._stop_tuning_job,
            "ListTrainingJobsForHyperParameterTuningJob": self._list_training_jobs_for_tuning_job,
            "CreateTrainingJob": self._create_training_job,
            "DescribeTrainingJob": self._describe_training_job,
            "StopTrainingJob": self._stop_training_job,
        }
        if operation not in handlers:
            raise validation(f"{operation} is not served by the local engine.")
        if self.read_only and operation.startswith(("Create", "Stop")):
            raise validation(f"{operation}: this engine only reads {self.store.root}; it runs no jobs.")
        return handlers[operation](params, region)

    # ---------------------------------------------------------------- tuning jobs
    def _create_tuning_job(self, req: Mapping[str, Any], region: str) -> dict[str, Any]:
        req = copy.deepcopy(dict(req))
        name = check_tuning_job_name(req.get("HyperParameterTuningJobName"))
        with self._lock:
            if self.jobs.find_tuning(name) is not None:
                raise ServiceError(
                    ErrorCode.RESOURCE_IN_USE,
                    f"Hyperparameter tuning job with name {name} already exists; choose another name.",
                )
            validate_tuning_request(req, self.store)
            config = req["HyperParameterTuningJobConfig"]
            definition = req["TrainingJobDefinition"]
            seed = int(config["RandomSeed"]) if config.get("RandomSeed") is not None else self._seed_source()
            strategy = make_strategy(config, seed, definition.get("StaticHyperParameters") or {})
            self.image_map.resolve(
                definition["AlgorithmSpecification"].get("TrainingImage", ""),
                field="TrainingJobDefinition.AlgorithmSpecification.TrainingImage",
            )
            metric_definitions(definition, objective_required=True, config=config)
            parents = validate_parents(req, self.jobs.find_tuning)
            active = sum(1 for t in self.jobs.tuning_jobs() if t.status is TuningJobStatus.IN_PROGRESS)
            if active >= MAX_CONCURRENT_TUNING_JOBS:
                raise ServiceError(
                    ErrorCode.RESOURCE_LIMIT_EXCEEDED,
                    f"The account-level limit of {MAX_CONCURRENT_TUNING_JOBS} concurrent "
                    "hyperparameter tuning jobs is reached; wait for one to end.",
                )
            now = self.clock.now().timestamp()
            job = TuningJob(
                name=name,
                arn=tuning_arn(region, name),
                region=region,
                request=dict(req),
                creation_time=now,
                last_modified_time=now,
                seed=seed,
                started=self.clock.monotonic(),
            )
            self.jobs.add_tuning(job)
            self._seed_from_parents(strategy, req, parents)
            stop_flag = threading.Event()
            self._stop_flags[name.lower()] = stop_flag
            thread = threading.Thread(
                target=self._run_tuning_job,
                args=(job, strategy, stop_flag),
                daemon=True,
                name=f"tuning-{name}",
            )
            self._threads[name.lower()] = thread
        self.jobs.tuning_changed(job)
        thread.start()
        return {"HyperParameterTuningJobArn": job.arn}

    def _parent_results(self, parent: TuningJob) -> list[tuple[dict[str, str], float]]:
        out = []
        for t in self.jobs.trials_of(parent):
            if t.objective is not None and t.objective_status is ObjectiveStatus.SUCCEEDED:
                out.append((t.tuned, float(t.objective)))
        return out

    def _seed_from_parents(
        self, strategy: Strategy, req: Mapping[str, Any], parents: list[TuningJob]
    ) -> None:
        """Warm start: parents' trials become history (IdenticalDataAndAlgorithm) or hints (TransferLearning).

        IdenticalDataAndAlgorithm: every parent trial with an objective, whose hyperparameters lie in the new
        ranges, is given to the strategy as an observation (``add_history``). TransferLearning: the parents'
        best configurations (up to ``max(3, MaxParallelTrainingJobs)``, best first, within the new ranges) are
        given as a prior (``add_prior``): they are proposed first and, for Bayesian search, bias part of the
        candidates towards them; every parent result is also given as a related observation
        (``add_related``): Bayesian search models the new results as residuals around the parents' model,
        standardised on its own. Parents' objective values are never results on the new data.
        """
        if not parents:
            return
        space = strategy.space
        warm_type = req["WarmStartConfig"].get("WarmStartType")
        raw = [r for p in parents for r in self._parent_results(p)]
        results = [(space.parse(h), v) for h, v in raw if space.contains(h)]
        if warm_type == "IdenticalDataAndAlgorithm":
            for config, value in results:
                strategy.add_history(config, value)
            return
        limits = req["HyperParameterTuningJobConfig"]["ResourceLimits"]
        k = max(3, int(limits.get("MaxParallelTrainingJobs", 1)))
        results.sort(key=lambda r: -r[1] if strategy.maximize else r[1])
        prior: list[Config] = []
        for config, _ in results:
            if config not in prior:
                prior.append(config)
            if len(prior) >= k:
                break
        strategy.add_prior(prior)
        for config, value in results:
            strategy.add_related(config, value)

    def _describe_tuning_job(self, params: Mapping[str, Any], region: str) -> dict[str, Any]:
        with self._lock:
            job = self.jobs.tuning(params["HyperParameterTuningJobName"])
            parent_trials: list[TrainingJob] = []
            for p in job.warm_start.get("ParentHyperParameterTuningJobs", []):
                parent = self.jobs.find_tuning(p["HyperParameterTuningJobName"])
                if parent is not None:
                    parent_trials.extend(self.jobs.trials_of(parent))
            return job.to_api(self.jobs.trials_of(job), parent_trials, self.clock.now().timestamp())

    def _list_tuning_jobs(self, params: Mapping[str, Any], region: str) -> dict[str, Any]:
        with self._lock:
            jobs = self.jobs.tuning_jobs()
            contains = (params.get("NameContains") or "").lower()
            status = params.get("StatusEquals")
            bounds = [
                ("CreationTimeAfter", "CreationTime", 1),
                ("CreationTimeBefore", "CreationTime", -1),
                ("LastModifiedTimeAfter", "LastModifiedTime", 1),
                ("LastModifiedTimeBefore", "LastModifiedTime", -1),
            ]
            rows = []
            for job in jobs:
                if contains and contains not in job.name.lower():
                    continue
                if status and job.status.value != status:
                    continue
                times = {"CreationTime": job.creation_time, "LastModifiedTime": job.last_modified_time}
                ok = True
                for param, key, sign in bounds:
                    if params.get(param) is not None:
                        edge, value = float(params[param]), float(times[key] or job.creation_time)
                        ok = ok and (value > edge if sign > 0 else value < edge)
                if not ok:
                    continue
                training, objective = counters(self.jobs.trials_of(job))
                config = job.config
                row = {
                    "HyperParameterTuningJobName": job.name,
                    "HyperParameterTuningJobArn": job.arn,
                    "HyperParameterTuningJobStatus": job.status.value,
                    "Strategy": config["Strategy"],
                    "CreationTime": job.creation_time,
                    "LastModifiedTime": job.last_modified_time,
                    "TrainingJobStatusCounters": training,
                    "ObjectiveStatusCounters": objective,
                    "ResourceLimits": config["ResourceLimits"],
                }
                if job.end_time:
                    row["HyperParameterTuningEndTime"] = job.end_time
                rows.append(row)
            sort_by = params.get("SortBy") or "Name"
            key_of: dict[str, Callable[[dict[str, Any]], Any]] = {
                "Name": lambda r: r["HyperParameterTuningJobName"].lower(),
                "Status": lambda r: r["HyperParameterTuningJobStatus"],
                "CreationTime": lambda r: r["CreationTime"],
            }
            rows.sort(
                key=key_of.get(sort_by, key_of["Name"]), reverse=params.get("SortOrder") == "Descending"
            )
            return _page(rows, params, "HyperParameterTuningJobSummaries")

    def _list_training_jobs_for_tuning_job(self, params: Mapping[str, Any], region: str) -> dict[str, Any]:
        with self._lock:
            job = self.jobs.tuning(params["HyperParameterTuningJobName"])
            rows = [t.summary() for t in self.jobs.trials_of(job)]
            if params.get("StatusEquals"):
                rows = [r for r in rows if r["TrainingJobStatus"] == params["StatusEquals"]]
            sort_by = params.get("SortBy") or "Name"
            if sort_by == "FinalObjectiveMetricValue":
                rows = [r for r in rows if "FinalHyperParameterTuningJobObjectiveMetric" in r]
                rows.sort(key=lambda r: r["FinalHyperParameterTuningJobObjectiveMetric"]["Value"])
            else:
                key_of: dict[str, Callable[[dict[str, Any]], Any]] = {
                    "Name": lambda r: r["TrainingJobName"],
                    "CreationTime": lambda r: r["CreationTime"],
                    "Status": lambda r: r["TrainingJobStatus"],
                }
                rows.sort(key=key_of.get(sort_by, key_of["Name"]))
            if params.get("SortOrder") == "Descending":
                rows.reverse()
            return _page(rows, params, "TrainingJobSummaries")

    def _stop_tuning_job(self, params: Mapping[str, Any], region: str) -> dict[str, Any]:
        with self._lock:
            job = self.jobs.tuning(params["HyperParameterTuningJobName"])
            if job.status is not TuningJobStatus.IN_PROGRESS:
                raise validation(
                    f"The hyperparameter tuning job {job.name} is "
                    f"{job.status.value}; only an InProgress job can be stopped."
                )
            job.status = TuningJobStatus.STOPPING
            job.last_modified_time = self.clock.now().timestamp()
            self.jobs.save_tuning(job)
            self._stop_flags[job.key].set()
        self.jobs.tuning_changed(job)
        return {}

    # ---------------------------------------------------------------- training jobs
    def _new_training_job(
        self,
        name: str,
        definition: Mapping[str, Any],
        hyperparameters: dict[str, str],
        region: str,
        tuning: TuningJob | None,
    ) -> TrainingJob:
        now = self.clock.now().timestamp()
        kept = {k: copy.deepcopy(definition[k]) for k in TRAINING_REQUEST_KEYS if k in definition}
        if tuning is not None and tuning.tags:
            kept["Tags"] = copy.deepcopy(tuning.tags)
        kept.setdefault("StoppingCondition", {"MaxRuntimeInSeconds": 86400})
        kept["AlgorithmSpecification"].setdefault("TrainingInputMode", "File")
        job = TrainingJob(
            name=name,
            arn=training_arn(region, name),
            region=region,
            definition=kept,
            hyperparameters=hyperparameters,
            creation_time=now,
            last_modified_time=now,
            model_artifacts={
                "S3ModelArtifacts": output_uri(definition["OutputDataConfig"]["S3OutputPath"], name)
            },
            transitions=[
                {
                    "Status": "Starting",
                    "StartTime": now,
                    "StatusMessage": "Preparing the instances for training",
                }
            ],
        )
        if tuning is not None:
            objective = tuning.objective
            job.tuning_job_arn = tuning.arn
            job.tuning_job = tuning.name
            job.objective_metric = objective.get("MetricName")
            job.objective_type = objective.get("Type", "Minimize")
        return job

    def _prepare_trial(self, trial: _Trial, definition: Mapping[str, Any], data_key: str) -> None:
        """Fetch channels and build the runner's spec (raises ServiceError on a data or image problem)."""
        name = trial.name
        channels: dict[str, Path] = {}
        for i, channel in enumerate(definition.get("InputDataConfig") or []):
            source = (channel.get("DataSource") or {}).get("S3DataSource") or {}
            uri = source.get("S3Uri", "")
            dest = self.store.data_path(data_key, channel["ChannelName"])
            channels[channel["ChannelName"]] = fetch_channel(
                uri,
                dest,
                self._s3_client() if uri.startswith("s3://") else None,  # no client for file:// data
                field=f"InputDataConfig[{i}].DataSource.S3DataSource.S3Uri",
            )
        command = self.image_map.command(definition["AlgorithmSpecification"].get("TrainingImage", ""))
        trial.spec = TrialSpec(
            name=name,
            command=command.argv,
            root=self.store.path("training-jobs", name, "opt-ml"),
            hyperparameters=trial.job.hyperparameters,
            channels=channels,
            input_data_config=definition.get("InputDataConfig") or [],
            metric_definitions=metric_definitions(definition, objective_required=False),
            environment=definition.get("Environment") or {},
            instance_type=(definition.get("ResourceConfig") or {}).get("InstanceType", "ml.m5.large"),
            num_cpus=max(1, (os.cpu_count() or 1) // self.max_workers),
            log_path=self.store.log_path(name),
            inherit_env=command.inherit_env,
            pass_aws_credentials=command.pass_aws_credentials,
        )
        trial.max_runtime = float(
            (definition.get("StoppingCondition") or {}).get("MaxRuntimeInSeconds", 86400)
        )

    def _s3_client(self) -> Any:
        if self._s3 is None:
            from amtflow import clients

            self._s3 = clients.s3()
        return self._s3

    def _start_trial(self, trial: _Trial, definition: Mapping[str, Any], data_key: str) -> bool:
        """Start the trial's process; on failure the trial is finished as Failed and False is returned."""
        with self._lock:
            trial.job.transition(
                SecondaryStatus.DOWNLOADING, "Downloading input data", self.clock.now().timestamp()
            )
            self.jobs.save_training(trial.job)
        try:
            self.store.trial_root(trial.name).mkdir(parents=True, exist_ok=True)
            self._prepare_trial(trial, definition, data_key)
            assert trial.spec is not None
            trial.process = TrialProcess(trial.spec, self.clock)
            trial.process.start()
        except (ServiceError, OSError) as e:
            reason = e.message if isinstance(e, ServiceError) else f"cannot start the training command: {e}"
            self._finish_trial(trial, exit_code=None, failure=reason)
            return False
        with self._lock:
            now = self.clock.now().timestamp()
            trial.job.start_time = now
            trial.job.transition(
                SecondaryStatus.TRAINING, "Training image download completed. Training in progress.", now
            )
            self.jobs.save_training(trial.job)
            self._live[trial.job.key] = trial
        self.jobs.training_changed(trial.job)
        return True

    def _record_metrics(self, trial: _Trial) -> None:
        if trial.process is None:
            return
        points = trial.process.metric_snapshot()
        job = trial.job
        job.metrics = [[p.name, p.value, p.step, p.timestamp] for p in points]
        last: dict[str, Any] = {}
        for p in points:
            last[p.name] = {"MetricName": p.name, "Value": p.value, "Timestamp": p.timestamp}
        job.final_metrics = list(last.values())
        metric = job.objective_metric
        if metric and metric in last:
            job.objective = last[metric]["Value"]

    def objective_points(self, trial: _Trial) -> list[float]:
        metric = trial.job.objective_metric
        if trial.process is None or not metric:
            return []
        return [p.value for p in trial.process.metric_snapshot() if p.name == metric]

    def _failure_reason(self, trial: _Trial, exit_code: int) -> str:
        failure_file = trial.spec.root / "output" / "failure" if trial.spec else None
        text = ""
        if failure_file is not None and failure_file.exists():
            text = failure_file.read_text(encoding="utf-8", errors="replace").strip()
        if not text and trial.process is not None:
            text = trial.process.stderr_tail()
        reason = f"AlgorithmError: {text or 'the training script failed'} (exit code {exit_code})"
        return reason[-1024:]

    def _finish_trial(self, trial: _Trial, *, exit_code: int | None, failure: str | None = None) -> None:
        """Record a trial's end: status, metrics, model upload, event. Idempotent."""
        if trial.done:
            return
        trial.done = True
        job = trial.job
        self._record_metrics(trial)
        status, secondary = TrainingJobStatus.COMPLETED, SecondaryStatus.COMPLETED
        if failure is None and exit_code is not None and trial.stop_cause is None and exit_code != 0:
            failure = self._failure_reason(trial, exit_code)
        if failure is not None:
            status, secondary = TrainingJobStatus.FAILED, SecondaryStatus.FAILED
            job.failure_reason = failure
        elif trial.stop_cause is StopCause.MAX_RUNTIME:
            status, secondary = TrainingJobStatus.STOPPED, SecondaryStatus.MAX_RUNTIME_EXCEEDED
            job.failure_reason = (
                f"MaxRuntimeExceeded: the training job ran longer than "
                f"StoppingCondition.MaxRuntimeInSeconds={int(trial.max_runtime)}"
            )
        elif trial.stop_cause is not None:
            status, secondary = TrainingJobStatus.STOPPED, SecondaryStatus.STOPPED
        if status is not TrainingJobStatus.FAILED and trial.spec is not None:
            try:
                archive = pack_model(
                    trial.spec.root / "model", self.store.path("training-jobs", trial.name, "model.tar.gz")
                )
                target = self._model_uri(job)
                upload(
                    archive,
                    job.output_path,
                    trial.name,
                    self._s3_client() if target.startswith("s3://") else None,
                )
            except Exception as e:  # an unreachable bucket is the job's failure, not the engine's
                status, secondary = TrainingJobStatus.FAILED, SecondaryStatus.FAILED
                job.failure_reason = f"ClientError: cannot upload the model to {self._model_uri(job)}: {e}"
        with self._lock:
            now = self.clock.now().timestamp()
            if status is not TrainingJobStatus.FAILED and trial.stop_cause is None:
                job.transition(SecondaryStatus.UPLOADING, "Uploading generated training model", now)
            job.transition(secondary, f"Training job {status.value.lower()}", now)
            job.transitions[-1]["EndTime"] = job.transitions[-1]["StartTime"]
            job.status = status
            job.end_time = now
            start = job.start_time if job.start_time is not None else now
            job.training_seconds = max(1, math.ceil(now - start))
            job.objective_status = job.final_objective_status()
            self._live.pop(job.key, None)
            self.jobs.save_training(job)
        if trial.slot_held:
            self._slots.release()
            trial.slot_held = False
        self._put_log(job)
        self.jobs.training_changed(job)

    @staticmethod
    def _model_uri(job: TrainingJob) -> str:
        return str((job.model_artifacts or {}).get("S3ModelArtifacts", ""))

    def _put_log(self, job: TrainingJob) -> None:
        if self._logs is not None:
            copy_log(self._logs, self.store, job)

    def _tick_trial(self, trial: _Trial) -> bool:
        """Advance a running trial (exit, runtime limit, stop request); True once it has ended."""
        if trial.done:
            return True
        if trial.process is None:
            return False
        code = trial.process.poll()
        if code is None:
            if trial.stop_cause is None and trial.process.elapsed() > trial.max_runtime:
                self._request_stop(trial, StopCause.MAX_RUNTIME)
                return self._tick_trial(trial)
            return False
        self._finish_trial(trial, exit_code=code)
        return True

    def _request_stop(self, trial: _Trial, cause: StopCause, *, wait: bool = True) -> None:
        if trial.stop_cause is None:
            trial.stop_cause = cause
        with self._lock:
            if trial.job.status is TrainingJobStatus.IN_PROGRESS:
                trial.job.status = TrainingJobStatus.STOPPING
                trial.job.transition(
                    SecondaryStatus.STOPPING, "Stopping the training job", self.clock.now().timestamp()
                )
                self.jobs.save_training(trial.job)
        if trial.process is not None and wait:
            trial.process.stop(cause.value, grace=self.stop_grace_seconds)

    def _create_training_job(self, req: Mapping[str, Any], region: str) -> dict[str, Any]:
        req = copy.deepcopy(dict(req))
        name = check_training_job_name(req.get("TrainingJobName"))
        with self._lock:
            if self.jobs.has_training(name):
                raise ServiceError(
                    ErrorCode.RESOURCE_IN_USE, f"Training job names must be unique; {name} exists."
                )
            if "AlgorithmSpecification" not in req or not req["AlgorithmSpecification"].get("TrainingImage"):
                raise validation("AlgorithmSpecification.TrainingImage is required by the local engine.")
            if "StoppingCondition" not in req:
                raise validation("StoppingCondition is required: set StoppingCondition.MaxRuntimeInSeconds.")
            self.image_map.resolve(req["AlgorithmSpecification"]["TrainingImage"])
            metric_definitions(req, objective_required=False)
            check_definition(req, "", "HyperParameters")
            check_paths(self.store, name, req, tuning=False)
            job = self._new_training_job(
                name, req, {k: str(v) for k, v in (req.get("HyperParameters") or {}).items()}, region, None
            )
            self.jobs.add_training(job)
            trial = _Trial(job)
            self._live[job.key] = trial
        self.jobs.training_changed(job)
        thread = threading.Thread(
            target=self._run_training_job, args=(trial, req), daemon=True, name=f"training-{name}"
        )
        self._threads[f"training:{name.lower()}"] = thread
        thread.start()
        return {"TrainingJobArn": job.arn}

    def _run_training_job(self, trial: _Trial, definition: Mapping[str, Any]) -> None:
        while not self._slots.acquire(timeout=TICK_SECONDS):
            if trial.stop_cause is not None or self._shutdown.is_set():
                trial.stop_cause = trial.stop_cause or StopCause.USER
                self._finish_trial(trial, exit_code=None)
                return
        trial.slot_held = True
        if trial.stop_cause is not None:
            self._finish_trial(trial, exit_code=None)
            return
        if not self._start_trial(trial, definition, f"training-{trial.name}"):
            return
        while not self._tick_trial(trial):
            if self._shutdown.is_set():
                self._request_stop(trial, StopCause.USER)
            self.clock.sleep(TICK_SECONDS)

    def _describe_training_job(self, params: Mapping[str, Any], region: str) -> dict[str, Any]:
        with self._lock:
            job = self.jobs.training(params["TrainingJobName"])
            live = self._live.get(job.key)
            if live is not None and live.process is not None and not live.done:
                self._record_metrics(live)
            return job.to_api()

    def _stop_training_job(self, params: Mapping[str, Any], region: str) -> dict[str, Any]:
        with self._lock:
            job = self.jobs.training(params["TrainingJobName"])
            if job.status is not TrainingJobStatus.IN_PROGRESS:
                raise validation(
                    f"The training job {job.name} is {job.status.value}; only an "
                    "InProgress job can be stopped."
                )
            trial = self._live.get(job.key)
        if trial is not None:
            self._request_stop(trial, StopCause.USER)
            if trial.process is not None:
                self._tick_trial(trial)
        return {}

    # ---------------------------------------------------------------- the tuning job loop
    def _training_name(self, tuning_name: str, index: int, seed: int) -> str:
        digest = hashlib.sha256(f"{tuning_name}/{index}/{seed}".encode()).hexdigest()[:8]
        return f"{tuning_name}-{index:03d}-{digest}"

    def _run_tuning_job(self, job: TuningJob, strategy: Strategy, stop_flag: threading.Event) -> None:
        try:
            _TuningLoop(self, job, strategy, stop_flag).run()
        except Exception as e:  # a bug in the loop fails the job with a reason instead of hanging it
            logger.exception("tuning job %s failed", job.name)
            self.jobs.end_tuning(job, TuningJobStatus.FAILED, f"InternalServerError: {type(e).__name__}: {e}")

    # ---------------------------------------------------------------- helpers for callers
    def wait(self, name: str, timeout: float | None = None) -> str:
        """Block until the tuning (or standalone training) job's thread ends; return its status."""
        key = name.lower()
        thread = self._threads.get(key) or self._threads.get(f"training:{key}")
        if thread is not None:
            thread.join(timeout)
        with self._lock:
            tuning = self.jobs.find_tuning(name)
            if tuning is not None:
                return tuning.status.value
            return self.jobs.training(name).status.value

    def trial_log(self, training_job_name: str) -> str:
        """The captured stdout and stderr of a training job ('' before it started)."""
        with self._lock:
            name = self.jobs.training(training_job_name).name
        path = self.store.log_path(name)
        return path.read_text(encoding="utf-8", errors="replace") if path.exists() else ""

    def tuning_jobs(self) -> list[dict[str, Any]]:
        with self._lock:
            return [
                self._describe_tuning_job({"HyperParameterTuningJobName": job.name}, "")
                for job in self.jobs.tuning_jobs()
            ]

    def shutdown(self, timeout: float = 30.0) -> None:
        """Stop every running job (they end as Stopped) and wait for the job threads."""
        self._shutdown.set()
        for flag in list(self._stop_flags.values()):
            flag.set()
        for thread in list(self._threads.values()):
            thread.join(timeout)


class _TuningLoop:
    """Coordinates one tuning job: launches trials the strategy suggests, watches them, applies stopping
    rules and completion criteria, and ends the job."""

    def __init__(
        self, engine: Engine, job: TuningJob, strategy: Strategy, stop_flag: threading.Event
    ) -> None:
        self.engine = engine
        self.job = job
        self.strategy = strategy
        self.stop_flag = stop_flag
        config = job.config
        self.definition = job.definition
        limits = config["ResourceLimits"]
        self.max_parallel = int(limits["MaxParallelTrainingJobs"])
        default_budget = getattr(strategy, "size", DEFAULT_MAX_TRAINING_JOBS)
        self.max_jobs = int(limits.get("MaxNumberOfTrainingJobs") or default_budget)
        self.max_runtime = limits.get("MaxRuntimeInSeconds")
        self.median = (
            MedianStoppingRule(maximize=strategy.maximize)
            if config.get("TrainingJobEarlyStoppingType") == "Auto" and config["Strategy"] != "Hyperband"
            else None
        )
        self.completion = CompletionTracker(
            strategy.maximize, config.get("TuningJobCompletionCriteria") or {}
        )
        self.retries_allowed = int(
            (self.definition.get("RetryStrategy") or {}).get("MaximumRetryAttempts", 0)
        )
        self.retry_queue: list[tuple[Config, int]] = []
        self.running: list[_Trial] = []
        self.launched = 0  # trials launched (retries not counted)
        self.index = 0  # training jobs created (retries counted)
        self.exhausted = False
        self.objective = config.get("HyperParameterTuningJobObjective") or {}
        self.static = {k: str(v) for k, v in (self.definition.get("StaticHyperParameters") or {}).items()}
        self.started = engine.clock.monotonic()

    def run(self) -> None:
        engine = self.engine
        while True:
            if self.stop_flag.is_set():
                self._stop_all(StopCause.TUNING_JOB_ENDED)
                engine.jobs.end_tuning(self.job, TuningJobStatus.STOPPED)
                return
            if self.max_runtime is not None and engine.clock.monotonic() - self.started >= float(
                self.max_runtime
            ):
                self._stop_all(StopCause.TUNING_JOB_ENDED)
                engine.jobs.end_tuning(self.job, TuningJobStatus.COMPLETED)
                return
            reason = self._watch_trials()
            if reason is not None:
                self._stop_all(StopCause.TUNING_JOB_ENDED)
                engine.jobs.end_tuning(self.job, TuningJobStatus.COMPLETED)
                return
            self._launch()
            if (
                not self.running
                and not self.retry_queue
                and (self.exhausted or self.launched >= self.max_jobs)
            ):
                self._finish()
                return
            engine.clock.sleep(TICK_SECONDS)

    def _finish(self) -> None:
        trials = self.engine.jobs.trials_of(self.job)
        if trials and all(t.status is TrainingJobStatus.FAILED for t in trials):
            first = next((t.failure_reason for t in trials if t.failure_reason), "unknown")
            self.engine.jobs.end_tuning(
                self.job, TuningJobStatus.FAILED, f"All training jobs failed. First failure: {first}"
            )
            return
        self.engine.jobs.end_tuning(self.job, TuningJobStatus.COMPLETED)

    def _stop_all(self, cause: StopCause) -> None:
        for trial in self.running:
            if trial.stop_cause is None:
                trial.stop_cause = cause
            self.engine._request_stop(trial, cause, wait=False)
            if trial.process is not None and trial.process.pid is not None:
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.killpg(trial.process.pid, signal.SIGTERM)
        for trial in self.running:
            if trial.process is not None:
                trial.process.stop(cause.value, grace=self.engine.stop_grace_seconds)
            self.engine._finish_trial(
                trial, exit_code=None if trial.process is None else trial.process.poll()
            )
            self._after_trial(trial, record=False)
        self.running = []

    def _watch_trials(self) -> CompletionReason | None:
        reason: CompletionReason | None = None
        for trial in list(self.running):
            self._report_intermediate(trial)
            if not self.engine._tick_trial(trial):
                continue
            self.running.remove(trial)
            self._report_intermediate(trial)
            found = self._after_trial(trial, record=True)
            reason = reason or found
        return reason

    def _report_intermediate(self, trial: _Trial) -> None:
        if trial.stop_cause is not None or trial.process is None:
            return
        points = self.engine.objective_points(trial)
        for step in range(trial.reported + 1, len(points) + 1):
            trial.reported = step
            value = points[step - 1]
            decision = self.strategy.on_report(trial.name, step, value)
            if self.median is not None and self.median.on_report(trial.name, step, value) is Decision.STOP:
                decision = Decision.STOP
            if decision is Decision.STOP and trial.process.poll() is None:
                self.engine._request_stop(trial, StopCause.EARLY_STOPPING)
                return

    def _after_trial(self, trial: _Trial, *, record: bool) -> CompletionReason | None:
        job = trial.job
        value = job.objective
        failed = job.status is TrainingJobStatus.FAILED
        attempts = job.attempt or 0
        if record and failed and attempts < self.retries_allowed and not self.stop_flag.is_set():
            with self.engine._lock:
                job.retried = True
                self.engine.jobs.save_training(job)
            self.retry_queue.append((trial.config, attempts + 1))
            return None
        self.strategy.on_result(trial.config, None if failed else value)
        self.strategy.on_trial_end(trial.name)
        if self.median is not None:
            self.median.on_trial_end(trial.name)
        if not record or failed:
            return None
        reason = self.completion.observe(None if value is None else float(value))
        with self.engine._lock:
            completion = self.job.completion
            completion.not_improving = self.completion.not_improving
            if reason is CompletionReason.CONVERGED:
                completion.converged_at = self.engine.clock.now().timestamp()
            if reason is not None:
                completion.reason = reason.value
            self.engine.jobs.save_tuning(self.job)
        return reason

    def _launch(self) -> None:
        engine = self.engine
        while len(self.running) < self.max_parallel:
            retry = self.retry_queue[0] if self.retry_queue else None
            if retry is None and (self.exhausted or self.launched >= self.max_jobs):
                return
            if not engine._slots.acquire(blocking=False):
                return
            if retry is not None:
                self.retry_queue.pop(0)
                config, attempt = retry
            else:
                suggestion = self.strategy.suggest()
                if suggestion is None:
                    engine._slots.release()
                    self.exhausted = True
                    return
                config, attempt = suggestion, 0
                self.launched += 1
            self.index += 1
            name = engine._training_name(self.job.name, self.index, self.job.seed)
            tuned = format_config(config)
            hps = {**self.static, **tuned}
            if self.objective.get("MetricName"):
                hps["_tuning_objective_metric"] = str(self.objective["MetricName"])
            with engine._lock:
                tjob = engine._new_training_job(name, self.definition, hps, self.job.region, self.job)
                tjob.tuned = tuned
                tjob.attempt = attempt
                engine.jobs.add_training(tjob, self.job)
            trial = _Trial(tjob, config=config, slot_held=True)
            engine.jobs.training_changed(tjob)
            if engine._start_trial(trial, self.definition, self.job.name):
                self.running.append(trial)
            else:
                self._after_trial(trial, record=True)
