"""The engine: SageMaker's tuning and training API served in-process, with a job loop per job.

Roles (Syne Tune style), each in its own module:

- a :class:`~amtflow.local.engine._strategies.Strategy` decides what to run and whether a running trial
  continues;
- a :class:`~amtflow.local.engine._backend.TrialBackend` runs trials
  (:class:`~amtflow.local.engine._process_backend.SubprocessBackend`: local processes);
- the job loops (:mod:`._loop`) coordinate the two under the request's limits and completion criteria;
- :class:`~amtflow.local.engine._jobs.JobBook` keeps the job records (:mod:`._records`), saves them
  (:mod:`._store`) and sends their events (:mod:`._events`);
- the service surface (:mod:`._service`, :mod:`._validation`) answers and checks requests;
- hosting (:mod:`._hosting`): models, endpoint configurations and endpoints, deployed by :mod:`._rollout`
  and served by processes under the inference contract (:mod:`._serving`).

:class:`Engine` puts them together on an injectable clock. Requests arrive as the JSON the service would
receive (:meth:`Engine.handle`); answers are the JSON the service would send, so the hook can run them
through botocore's own parser. Refusals are :class:`ServiceError` with the service's error code.
"""

from __future__ import annotations

import copy
import logging
import os
import secrets
import threading
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from amtflow.local.engine._backend import StopCause, Trial
from amtflow.local.engine._events import EventPublisher, EventSink
from amtflow.local.engine._hosting import Hosting
from amtflow.local.engine._images import ImageMap, load_image_map
from amtflow.local.engine._jobs import JobBook
from amtflow.local.engine._loop import (
    TuningLoop,
    run_training_job,
    seed_from_parents,
    training_name,
)
from amtflow.local.engine._model import (
    Clock,
    ErrorCode,
    ServiceError,
    SystemClock,
    TrainingJobStatus,
    TuningJobStatus,
    validation,
)
from amtflow.local.engine._multi import definition_config, make_multi_strategy
from amtflow.local.engine._paths import (
    check_training_job_name,
    check_tuning_job_name,
)
from amtflow.local.engine._process_backend import SubprocessBackend
from amtflow.local.engine._records import (
    TuningJob,
    new_training_job,
    tuning_arn,
)
from amtflow.local.engine._restart import load_hosting
from amtflow.local.engine._service import (
    add_tags,
    delete_tags,
    describe_training_job,
    describe_tuning_job,
    list_tags,
    list_training_jobs,
    list_training_jobs_for_tuning_job,
    list_tuning_jobs,
    search,
)
from amtflow.local.engine._store import Store
from amtflow.local.engine._strategies import Strategy, make_strategy
from amtflow.local.engine._validation import (
    check_shape,
    metric_definitions,
    validate_parents,
    validate_training_request,
    validate_tuning_request,
)

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

logger = logging.getLogger(__name__)

MAX_CONCURRENT_TUNING_JOBS = 100


class Engine:
    """The local AMT engine. Use it through :func:`amtflow.local.sagemaker`; tests may call it directly.

    ``max_workers`` caps the training processes running at once across all jobs of this engine (default
    ``os.cpu_count()``): SageMaker gives each parallel trial its own instance, this machine has only its
    cores. Each tuning job also respects its own ``MaxParallelTrainingJobs``; a job that asks for more than
    ``max_workers`` is logged as a warning when it is created.
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
        cloudwatch_client: Any = None,
        seed_source: Callable[[], int] | None = None,
        stop_grace_seconds: float = 2.0,
        read_only: bool = False,
        serving_startup_seconds: float | None = None,
    ) -> None:
        self.store = Store(Path(state_dir).resolve())
        self.image_map = load_image_map(image_map)
        self.clock: Clock = clock or SystemClock()
        self._s3 = s3_client
        self._seed_source = seed_source or (lambda: secrets.randbelow(2**31))
        self.max_workers = max(1, max_workers or os.cpu_count() or 1)
        self.stop_grace_seconds = stop_grace_seconds
        self.events = EventPublisher(event_sink, self.clock)
        self.jobs = JobBook(self.store, self.clock, self.events)
        self._lock = self.jobs.lock
        self._threads: dict[str, threading.Thread] = {}
        self._stop_flags: dict[str, threading.Event] = {}
        self._shutdown = threading.Event()
        self.backend = SubprocessBackend(
            self.jobs,
            self.image_map,
            max_workers=self.max_workers,
            stop_grace_seconds=stop_grace_seconds,
            s3_client=self._s3_client,
            logs_client=logs_client,
            cloudwatch_client=cloudwatch_client,
        )
        self.hosting = Hosting(
            store=self.store,
            clock=self.clock,
            events=self.events,
            image_map=self.image_map,
            s3=self._s3_client,
            cloudwatch=cloudwatch_client,
            stop_grace_seconds=stop_grace_seconds,
            startup_seconds=serving_startup_seconds,
        )
        self.read_only = read_only
        self.jobs.load(recover=not read_only)
        load_hosting(self.hosting, recover=not read_only)

    # ---------------------------------------------------------------- dispatch
    def handle(self, operation: str, params: Mapping[str, Any], region: str = "us-east-1") -> dict[str, Any]:
        """Serve one SageMaker operation: request JSON in, response JSON out (or :class:`ServiceError`)."""
        answer = self.answer(operation, params, region)
        if answer is None:
            raise validation(f"{operation}: the resource is not one of the local engine's jobs.")
        return answer

    def answer(
        self, operation: str, params: Mapping[str, Any], region: str = "us-east-1"
    ) -> dict[str, Any] | None:
        """:meth:`handle`, or None when the request is about a resource that is not the engine's (tags or
        Search of a model package, say), for whatever serves SageMaker otherwise to answer."""
        handlers: dict[str, Callable[[Mapping[str, Any], str], dict[str, Any] | None]] = {
            "CreateHyperParameterTuningJob": self._create_tuning_job,
            "DescribeHyperParameterTuningJob": self._describe_tuning_job,
            "ListHyperParameterTuningJobs": lambda params, _: list_tuning_jobs(self.jobs, params),
            "StopHyperParameterTuningJob": self._stop_tuning_job,
            "ListTrainingJobsForHyperParameterTuningJob": (
                lambda params, _: list_training_jobs_for_tuning_job(self.jobs, params)
            ),
            "CreateTrainingJob": self._create_training_job,
            "DescribeTrainingJob": self._describe_training_job,
            "StopTrainingJob": self._stop_training_job,
            "UpdateTrainingJob": self._update_training_job,
            "ListTrainingJobs": lambda params, _: list_training_jobs(self.jobs, params),
            "DeleteHyperParameterTuningJob": self._delete_tuning_job,
            "AddTags": lambda params, _: self._tags(params, "add", add_tags),
            "ListTags": lambda params, _: self._tags(params, "list", list_tags),
            "DeleteTags": lambda params, _: self._tags(params, "delete", delete_tags),
            "Search": lambda params, _: search(self.jobs, params),
            **self.hosting.handlers(),
        }
        if operation not in handlers:
            raise validation(f"{operation} is not served by the local engine.")
        if self.read_only and operation.startswith(("Create", "Stop", "Update", "Delete", "AddTags")):
            raise validation(f"{operation}: this engine only reads {self.store.root}; it runs no jobs.")
        if not operation.startswith("Create"):  # a Create handler checks its shape after its own checks
            check_shape(operation, params)
        return handlers[operation](params, region)

    def _tags(
        self, params: Mapping[str, Any], action: str, of_jobs: Callable[[JobBook, Mapping[str, Any]], Any]
    ) -> dict[str, Any] | None:
        answer = self.hosting.tags(params, action)  # a hosting resource's, else a job's (or None)
        return answer if answer is not None else of_jobs(self.jobs, params)

    def invoke_endpoint(
        self, endpoint_name: str, body: bytes, headers: Mapping[str, str]
    ) -> tuple[bytes, str, str]:
        """sagemaker-runtime InvokeEndpoint: the answer's body and content type, and the variant that
        answered (:class:`ServiceError` ``ValidationError`` or ``ModelError`` otherwise)."""
        return self.hosting.invoke(endpoint_name, body, headers)

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
            if any((t.tuning_job or "").lower() == name.lower() for t in self.jobs.training_jobs()):
                raise ServiceError(  # its trials would take the names of the deleted job's trials
                    ErrorCode.RESOURCE_IN_USE,
                    f"The training jobs of a deleted hyperparameter tuning job named {name} remain; "
                    "choose another name.",
                )
            validate_tuning_request(req, self.store, self.jobs.find_tuning)
            check_shape("CreateHyperParameterTuningJob", req)
            config = req["HyperParameterTuningJobConfig"]
            seed = int(config["RandomSeed"]) if config.get("RandomSeed") is not None else self._seed_source()
            strategy = self._strategy(req, seed)
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
            seed_from_parents(strategy, req, parents, self.jobs)
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
        parallel = int(config["ResourceLimits"]["MaxParallelTrainingJobs"])
        if parallel > self.max_workers:
            logger.warning(
                "tuning job %s: MaxParallelTrainingJobs is %d but this engine runs at most %d training "
                "processes at once (max_workers, default the CPU count); up to %d of its trials run at a "
                "time. Pass max_workers=%d to run them all at once.",
                name,
                parallel,
                self.max_workers,
                self.max_workers,
                parallel,
            )
        thread.start()
        return {"HyperParameterTuningJobArn": job.arn}

    def _strategy(self, req: Mapping[str, Any], seed: int) -> Strategy:
        """The job's strategy, once every definition's image and objective metric check out."""
        config = req["HyperParameterTuningJobConfig"]
        multi = req.get("TrainingJobDefinitions")
        definitions = multi or [req["TrainingJobDefinition"]]
        for i, definition in enumerate(definitions):
            field = f"TrainingJobDefinitions[{i}]" if multi else "TrainingJobDefinition"
            self.image_map.resolve(
                definition["AlgorithmSpecification"].get("TrainingImage", ""),
                field=f"{field}.AlgorithmSpecification.TrainingImage",
            )
            # the request stays as given; a built-in algorithm's own metrics count for its objective
            metric_definitions(
                self.image_map.with_builtin_metrics(definition),
                objective_required=True,
                config=definition_config(config, definition) if multi else config,
            )
        if multi:
            return make_multi_strategy(config, multi, seed)
        return make_strategy(config, seed, definitions[0].get("StaticHyperParameters") or {})

    def _describe_tuning_job(self, params: Mapping[str, Any], region: str) -> dict[str, Any]:
        return describe_tuning_job(self.jobs, params, self.clock.now().timestamp())

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

    def _delete_tuning_job(self, params: Mapping[str, Any], region: str) -> dict[str, Any]:
        """DeleteHyperParameterTuningJob: only an ended job; its training jobs and models stay."""
        with self._lock:
            job = self.jobs.tuning(params["HyperParameterTuningJobName"])
            if not job.status.is_terminal():
                raise validation(
                    f"The hyperparameter tuning job {job.name} is {job.status.value}; only a Completed, "
                    "Stopped or Failed job can be deleted. Stop it and wait for it to end first."
                )
            self.jobs.remove_tuning(job)
            self._stop_flags.pop(job.key, None)
            self._threads.pop(job.key, None)
        return {}

    # ---------------------------------------------------------------- training jobs
    def _create_training_job(self, req: Mapping[str, Any], region: str) -> dict[str, Any]:
        req = copy.deepcopy(dict(req))
        name = check_training_job_name(req.get("TrainingJobName"))
        with self._lock:
            if self.jobs.has_training(name):
                raise ServiceError(
                    ErrorCode.RESOURCE_IN_USE, f"Training job names must be unique; {name} exists."
                )
            validate_training_request(req, name, self.store, self.image_map)
            check_shape("CreateTrainingJob", req)
            req = self.image_map.with_builtin_metrics(req)  # SageMaker shows a built-in algorithm's metrics
            hyperparameters = {k: str(v) for k, v in (req.get("HyperParameters") or {}).items()}
            now = self.clock.now().timestamp()
            job = new_training_job(name, req, hyperparameters, region, None, now)
            self.jobs.add_training(job)
            trial = Trial(job)
            self.backend.track(trial)
            self.jobs.training_changed(job)
        thread = threading.Thread(
            target=run_training_job,
            args=(trial, req, self.backend, self._shutdown, self.jobs),
            daemon=True,
            name=f"training-{name}",
        )
        self._threads[f"training:{name.lower()}"] = thread
        thread.start()
        return {"TrainingJobArn": job.arn}

    def _describe_training_job(self, params: Mapping[str, Any], region: str) -> dict[str, Any]:
        with self._lock:
            live = self.backend.live(self.jobs.training(params["TrainingJobName"]).name)
            if live is not None:
                self.backend.refresh(live)
            return describe_training_job(self.jobs, params)

    def _update_training_job(self, params: Mapping[str, Any], region: str) -> dict[str, Any]:
        """UpdateTrainingJob: keeps the new profiler, rule, remote-debug and keep-alive settings (the local
        engine has no profiler or warm pool, so they change nothing else)."""
        updates = {
            k: copy.deepcopy(params[k])
            for k in ("ProfilerConfig", "ProfilerRuleConfigurations", "RemoteDebugConfig", "ResourceConfig")
            if k in params
        }
        with self._lock:
            job = self.jobs.training(params["TrainingJobName"])
            if job.status.is_terminal() and set(updates) - {"ResourceConfig"}:
                raise validation(
                    f"The training job {job.name} is {job.status.value}; only the keep-alive period "
                    "(ResourceConfig.KeepAlivePeriodInSeconds) of an ended job can be updated."
                )
            resources = updates.pop("ResourceConfig", None)
            if resources is not None:
                job.definition["ResourceConfig"] = {
                    **(job.definition.get("ResourceConfig") or {}),
                    **resources,
                }
            for key, value in updates.items():
                if isinstance(value, dict) and isinstance(job.definition.get(key), dict):
                    job.definition[key] = {**job.definition[key], **value}
                else:
                    job.definition[key] = value
            job.last_modified_time = self.clock.now().timestamp()
            self.jobs.save_training(job)
            return {"TrainingJobArn": job.arn}

    def _stop_training_job(self, params: Mapping[str, Any], region: str) -> dict[str, Any]:
        with self._lock:
            job = self.jobs.training(params["TrainingJobName"])
            if job.status is not TrainingJobStatus.IN_PROGRESS:
                raise validation(
                    f"The training job {job.name} is {job.status.value}; only an "
                    "InProgress job can be stopped."
                )
            trial = self.backend.live(job.name)
        if trial is not None:  # as the service does: answer at once, the job Stopping, then Stopped
            self.backend.stop(trial, StopCause.USER, wait=False)
        return {}

    # ---------------------------------------------------------------- the tuning job loop
    def _training_name(self, tuning_name: str, index: int, seed: int) -> str:
        return training_name(tuning_name, index, seed)

    def _run_tuning_job(self, job: TuningJob, strategy: Strategy, stop_flag: threading.Event) -> None:
        try:
            TuningLoop(job, strategy, stop_flag, jobs=self.jobs, backend=self.backend).run()
        except Exception as e:  # a bug in the loop fails the job with a reason instead of hanging it
            logger.exception("tuning job %s failed", job.name)
            self.jobs.end_tuning(job, TuningJobStatus.FAILED, f"InternalServerError: {type(e).__name__}: {e}")

    # ---------------------------------------------------------------- helpers for callers
    def objective_points(self, trial: Trial) -> list[float]:
        """The objective values a running trial has reported so far."""
        return self.backend.objective_points(trial)

    def _s3_client(self) -> Any:
        if self._s3 is None:
            from amtflow import clients

            self._s3 = clients.s3()
        return self._s3

    def wait(self, name: str, timeout: float | None = None) -> str:
        """Block until the tuning (or standalone training) job's thread ends; return its status."""
        key = name.lower()
        thread = self._threads.get(key) or self._threads.get(f"training:{key}")
        if thread is not None:
            thread.join(timeout)
        self.events.flush(timeout or 30.0)
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
        """Stop every running job (they end as Stopped), wait for the job threads, deliver pending events."""
        self._shutdown.set()
        self.hosting.shutdown(timeout)
        for flag in list(self._stop_flags.values()):
            flag.set()
        for thread in list(self._threads.values()):
            thread.join(timeout)
        if not self.events.close(timeout):
            logger.warning("some state-change events were still undelivered after %ss", timeout)
