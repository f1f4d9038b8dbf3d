"""The trial backend that runs each trial as a local process (:mod:`._runner`), SageMaker-style.

Starting a trial fetches its channels (S3 or ``file://``, :mod:`._io`), resolves its image to a command
(:mod:`._images`) and starts the process; its job goes Downloading, then Training. As on SageMaker,
``RetryStrategy`` retries only an internal failure (here: the process cannot be started), within the same
training job (secondary status Restarting); a script's error (AlgorithmError) is never retried.

Ending a trial records the metrics, the status (Completed, Failed with the script's failure file or stderr
tail, Stopped, or MaxRuntimeExceeded), uploads ``model.tar.gz`` to the output path, copies the log to
CloudWatch Logs when a logs client was given (:mod:`._logs`) and gives the trial's slot back.
"""

from __future__ import annotations

import math
import os
import threading
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from amtflow.local.engine._backend import StopCause, Trial
from amtflow.local.engine._cloudwatch import publish_metrics
from amtflow.local.engine._images import ImageMap
from amtflow.local.engine._io import fetch_channel, pack_model, upload
from amtflow.local.engine._jobs import JobBook
from amtflow.local.engine._logs import copy_log
from amtflow.local.engine._model import SecondaryStatus, ServiceError, TrainingJobStatus
from amtflow.local.engine._runner import TrialProcess, TrialSpec
from amtflow.local.engine._validation import metric_definitions

RETRY_WAIT_SECONDS = 0.5  # between attempts to start a trial after an internal error


class SubprocessBackend:
    """Runs trials as processes, at most ``max_workers`` at once (the slots)."""

    def __init__(
        self,
        jobs: JobBook,
        image_map: ImageMap,
        *,
        max_workers: int,
        stop_grace_seconds: float,
        s3_client: Callable[[], Any],
        logs_client: Any = None,
        cloudwatch_client: Any = None,
    ) -> None:
        self.jobs = jobs
        self.store = jobs.store
        self.clock = jobs.clock
        self.image_map = image_map
        self.max_workers = max_workers
        self.stop_grace_seconds = stop_grace_seconds
        self._s3_client = s3_client
        self._logs = logs_client
        self._cloudwatch = cloudwatch_client
        self._slots = threading.BoundedSemaphore(max_workers)
        self._live: dict[str, Trial] = {}

    # ---------------------------------------------------------------- slots and live trials
    def reserve(self, timeout: float = 0.0) -> bool:
        if timeout <= 0:
            return self._slots.acquire(blocking=False)
        return self._slots.acquire(timeout=timeout)

    def release(self) -> None:
        self._slots.release()

    def track(self, trial: Trial) -> None:
        """Make a trial findable by its name (:meth:`live`) before it starts."""
        with self.jobs.lock:
            self._live[trial.job.key] = trial

    def live(self, name: str) -> Trial | None:
        """The trial of the training job ``name`` while it runs (or waits to start)."""
        with self.jobs.lock:
            return self._live.get(name.lower())

    def refresh(self, trial: Trial) -> None:
        """Bring a running trial's record up to date with the metrics reported so far."""
        with self.jobs.lock:
            if trial.process is not None and not trial.done:
                self._record_metrics(trial)

    # ---------------------------------------------------------------- starting
    def start(self, trial: Trial, definition: Mapping[str, Any], data_key: str) -> bool:
        with self.jobs.lock:
            trial.job.transition(
                SecondaryStatus.DOWNLOADING, "Downloading input data", self.clock.now().timestamp()
            )
            self.jobs.save_training(trial.job)
        retries = int((definition.get("RetryStrategy") or {}).get("MaximumRetryAttempts", 0))
        for attempt in range(retries + 1):
            try:
                self.store.trial_root(trial.name).mkdir(parents=True, exist_ok=True)
                self._prepare(trial, definition, data_key)
                assert trial.spec is not None
                trial.process = TrialProcess(trial.spec, self.clock)
                trial.process.start()
                break
            except ServiceError as e:  # the request's data or image: the caller's error, never retried
                self._end(trial, exit_code=None, failure=e.message)
                return False
            except OSError as e:  # the local runner failed: an internal error, retried in the same job
                trial.process = None
                # counted as RetryableError ("failed due to an internal service error"), retried or not
                trial.job.retried = True
                if attempt >= retries or trial.stop_cause is not None:
                    reason = f"InternalServerError: cannot start the training command: {e}"
                    self._end(trial, exit_code=None, failure=reason)
                    return False
                with self.jobs.lock:
                    trial.job.attempt = attempt + 1
                    trial.job.transition(
                        SecondaryStatus.RESTARTING,
                        f"Restarting the training job after an internal error (retry {attempt + 1} of "
                        f"{retries})",
                        self.clock.now().timestamp(),
                    )
                    self.jobs.save_training(trial.job)
                time.sleep(RETRY_WAIT_SECONDS)
        with self.jobs.lock:
            now = self.clock.now().timestamp()
            trial.job.start_time = now
            trial.job.transition(
                SecondaryStatus.TRAINING, "Training image download completed. Training in progress.", now
            )
            self.jobs.save_training(trial.job)
            self._live[trial.job.key] = trial
            self.jobs.training_changed(trial.job)
        return True

    def _prepare(self, trial: Trial, definition: Mapping[str, Any], data_key: str) -> None:
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
        # a built-in algorithm's trials report its metrics, and show them as SageMaker does
        definition = self.image_map.with_builtin_metrics(definition)
        with self.jobs.lock:
            spec = trial.job.definition.get("AlgorithmSpecification")
            if isinstance(spec, dict) and definition["AlgorithmSpecification"].get("MetricDefinitions"):
                spec["MetricDefinitions"] = definition["AlgorithmSpecification"]["MetricDefinitions"]
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

    # ---------------------------------------------------------------- watching
    def poll(self, trial: Trial) -> bool:
        if trial.done:
            return True
        if trial.process is None:
            return False
        code = trial.process.poll()
        if code is None:
            if trial.stop_cause is None and trial.process.elapsed() > trial.max_runtime:
                self.stop(trial, StopCause.MAX_RUNTIME)
                return self.poll(trial)
            if trial.stop_deadline is not None and time.monotonic() > trial.stop_deadline:
                trial.process.stop(str(trial.stop_cause), grace=0)  # it ignored SIGTERM: kill it
                return self.poll(trial)
            return False
        self._end(trial, exit_code=code)
        return True

    def objective_points(self, trial: Trial) -> list[float]:
        metric = trial.job.objective_metric
        if trial.process is None or not metric:
            return []
        return [p.value for p in trial.process.metric_snapshot() if p.name == metric]

    def has_exited(self, trial: Trial) -> bool:
        return trial.process is not None and trial.process.poll() is not None

    def _record_metrics(self, trial: Trial) -> None:
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

    # ---------------------------------------------------------------- stopping and ending
    def stop(self, trial: Trial, cause: StopCause, *, wait: bool = True) -> None:
        if trial.stop_cause is None:
            trial.stop_cause = cause
        with self.jobs.lock:
            if trial.job.status is TrainingJobStatus.IN_PROGRESS:
                trial.job.status = TrainingJobStatus.STOPPING
                trial.job.transition(
                    SecondaryStatus.STOPPING, "Stopping the training job", self.clock.now().timestamp()
                )
                self.jobs.save_training(trial.job)
        if trial.process is None:
            return
        if wait:
            trial.process.stop(cause.value, grace=self.stop_grace_seconds)
        else:  # the one polling the trial ends it (and kills it after the grace period)
            if trial.stop_deadline is None:
                trial.stop_deadline = time.monotonic() + self.stop_grace_seconds
            trial.process.terminate()

    def finish(self, trial: Trial) -> None:
        if trial.process is not None:
            cause = trial.stop_cause or StopCause.USER
            trial.process.stop(cause.value, grace=self.stop_grace_seconds)
        self._end(trial, exit_code=None if trial.process is None else trial.process.poll())

    def _failure_reason(self, trial: Trial, exit_code: int) -> str:
        failure_file = trial.spec.root / "output" / "failure" if trial.spec else None
        text = ""
        if failure_file is not None and failure_file.exists():
            text = failure_file.read_text(encoding="utf-8", errors="replace").strip()
        if not text and trial.process is not None:
            text = trial.process.stderr_tail()
        reason = f"AlgorithmError: {text or 'the training script failed'} (exit code {exit_code})"
        return reason[-1024:]

    def _end(self, trial: Trial, *, exit_code: int | None, failure: str | None = None) -> None:
        """Record a trial's end: status, metrics, model upload, log, event. Idempotent."""
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
            model_uri = str((job.model_artifacts or {}).get("S3ModelArtifacts", ""))
            try:
                archive = pack_model(
                    trial.spec.root / "model", self.store.path("training-jobs", trial.name, "model.tar.gz")
                )
                s3 = self._s3_client() if model_uri.startswith("s3://") else None
                upload(archive, job.output_path, trial.name, s3)
            except Exception as e:  # an unreachable bucket is the job's failure, not the engine's
                status, secondary = TrainingJobStatus.FAILED, SecondaryStatus.FAILED
                job.failure_reason = f"ClientError: cannot upload the model to {model_uri}: {e}"
        # the log and the metrics are in CloudWatch before DescribeTrainingJob shows the job ended (a
        # client that stops reading them at the end, as the SDK's ``wait(logs=True)``, misses nothing)
        if self._logs is not None:
            copy_log(self._logs, self.store, job)
        if self._cloudwatch is not None:
            publish_metrics(self._cloudwatch, job)
        with self.jobs.lock:
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
            self.jobs.training_changed(job)
        if trial.slot_held:
            self._slots.release()
            trial.slot_held = False
