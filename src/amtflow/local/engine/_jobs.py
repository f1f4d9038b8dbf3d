"""The engine's jobs: records in memory, their documents on disk, their state-change events.

:class:`JobBook` is the one place that holds the records. Its re-entrant ``lock`` guards every record: a
caller that changes one does so holding the lock, saves it and queues its state-change event before letting
go: the document on disk follows the record, whoever sees a status (DescribeTrainingJob, ...) finds its event
already queued (``events.flush()`` delivers it), and events keep the changes' order. Queuing never calls the
sink (one worker thread delivers, outside the lock), so a sink may call back into the engine.
"""

from __future__ import annotations

import threading

from amtflow.local.engine._events import EventPublisher
from amtflow.local.engine._model import (
    Clock,
    ErrorCode,
    SecondaryStatus,
    ServiceError,
    TrainingJobStatus,
    TuningJobStatus,
)
from amtflow.local.engine._records import TrainingJob, TuningJob
from amtflow.local.engine._store import Store

ENGINE_RESTARTED = "engine restarted: the local engine stopped while this job was running"


class JobBook:
    """Every tuning and training job of one engine, by name (case-insensitive, as SageMaker's)."""

    def __init__(self, store: Store, clock: Clock, events: EventPublisher) -> None:
        self.store = store
        self.clock = clock
        self.events = events
        self.lock = threading.RLock()
        self._tuning: dict[str, TuningJob] = {}
        self._training: dict[str, TrainingJob] = {}

    # ---------------------------------------------------------------- loading
    def load(self, *, recover: bool) -> None:
        """Load the jobs on disk. With ``recover``, jobs left running by an engine that ended are Failed.

        Without it (a read-only engine: ``amtflow jobs``/``describe`` while another process may be running
        jobs) they are only loaded.
        """
        if not recover:
            with self.lock:
                self._training = {job.key: job for job in self.store.load_training()}
                self._tuning = {job.key: job for job in self.store.load_tuning()}
            return
        now = self.clock.now().timestamp()
        with self.lock:
            for job in self.store.load_training():
                if job.status in (TrainingJobStatus.IN_PROGRESS, TrainingJobStatus.STOPPING):
                    job.status = TrainingJobStatus.FAILED
                    job.secondary_status = SecondaryStatus.FAILED
                    job.failure_reason = ENGINE_RESTARTED
                    job.end_time = job.last_modified_time = now
                    job.objective_status = job.final_objective_status()
                    self.store.save_training(job)
                self._training[job.key] = job
            for tuning in self.store.load_tuning():
                if tuning.status in (TuningJobStatus.IN_PROGRESS, TuningJobStatus.STOPPING):
                    tuning.status = TuningJobStatus.FAILED
                    tuning.failure_reason = ENGINE_RESTARTED
                    tuning.end_time = tuning.last_modified_time = now
                    self.store.save_tuning(tuning)
                self._tuning[tuning.key] = tuning

    # ---------------------------------------------------------------- lookups
    def tuning(self, name: str) -> TuningJob:
        """The tuning job named ``name``; ResourceNotFound if there is none."""
        job = self.find_tuning(name)
        if job is None:
            raise ServiceError(
                ErrorCode.RESOURCE_NOT_FOUND, f"Amazon SageMaker can't find a tuning job with name {name}"
            )
        return job

    def training(self, name: str) -> TrainingJob:
        """The training job named ``name``; ResourceNotFound if there is none."""
        job = self._training.get(str(name).lower())
        if job is None:
            raise ServiceError(
                ErrorCode.RESOURCE_NOT_FOUND, f"Requested resource not found: training job {name}"
            )
        return job

    def find_tuning(self, name: str) -> TuningJob | None:
        return self._tuning.get(str(name).lower())

    def has_training(self, name: str) -> bool:
        return str(name).lower() in self._training

    def tuning_jobs(self) -> list[TuningJob]:
        with self.lock:
            return list(self._tuning.values())

    def training_jobs(self) -> list[TrainingJob]:
        with self.lock:
            return list(self._training.values())

    def trials_of(self, tuning: TuningJob) -> list[TrainingJob]:
        """The tuning job's training jobs, in creation order."""
        with self.lock:
            return [self._training[n.lower()] for n in tuning.training_jobs if n.lower() in self._training]

    # ---------------------------------------------------------------- changes
    def add_tuning(self, job: TuningJob) -> None:
        with self.lock:
            self._tuning[job.key] = job
            self.store.save_tuning(job)

    def add_training(self, job: TrainingJob, tuning: TuningJob | None = None) -> None:
        """Keep a new training job (with ``tuning``: as that tuning job's next trial) and save it."""
        with self.lock:
            self._training[job.key] = job
            self.store.save_training(job)
            if tuning is not None:
                tuning.training_jobs.append(job.name)
                tuning.last_modified_time = self.clock.now().timestamp()
                self.store.save_tuning(tuning)

    def remove_tuning(self, job: TuningJob) -> None:
        """Forget an ended tuning job and delete its document (its training jobs stay)."""
        with self.lock:
            self._tuning.pop(job.key, None)
            self.store.delete_tuning(job.name)

    def save_tuning(self, job: TuningJob) -> None:
        with self.lock:
            self.store.save_tuning(job)

    def save_training(self, job: TrainingJob) -> None:
        with self.lock:
            self.store.save_training(job)

    def end_tuning(self, job: TuningJob, status: TuningJobStatus, reason: str | None = None) -> None:
        """End a tuning job (once: a job already ended keeps its status) and send its event."""
        with self.lock:
            if job.status.is_terminal():
                return
            now = self.clock.now().timestamp()
            job.status = status
            job.end_time = job.last_modified_time = now
            if reason:
                job.failure_reason = reason[:1024]
            self.store.save_tuning(job)
            self.tuning_changed(job)

    # ---------------------------------------------------------------- events
    def tuning_changed(self, job: TuningJob) -> None:
        """Queue the tuning job's state-change event (call it under the lock, with the change)."""
        with self.lock:
            self.events.tuning_job_changed(job, self.trials_of(job))

    def training_changed(self, job: TrainingJob) -> None:
        """Queue the training job's state-change event (call it under the lock, with the change)."""
        with self.lock:
            self.events.training_job_changed(job)
