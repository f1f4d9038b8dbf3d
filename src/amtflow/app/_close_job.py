"""Closing the callback: job state-change events and the reconciler's sweep.

Both paths describe the job (the event is only a hint), claim the parked token atomically and complete
the waiting task. Every way an event can be stale is a no-op with a reason: a job that is not ours, a
status that is not terminal, a token already claimed (a duplicate), a job still running (an out-of-order
event), a task that no longer waits.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Protocol

from amtflow.app._events import (
    SCHEDULED_EVENT,
    ScheduledEventDetail,
    TrainingJobStateChange,
    TuningJobStateChange,
    read_event,
)
from amtflow.app._ports import (
    CallbackOutcome,
    JobKind,
    ParkedJob,
    TaskCallbacks,
    TokenStore,
    TuningJobDescription,
    TuningService,
)
from amtflow.app._run_ledger import RunLedger
from amtflow.app._spend import TrialSource, tuning_job_usage
from amtflow.app._stall import StallWatch
from amtflow.errors import AmtflowError, NotFoundError
from amtflow.messages import TrialSummary, TuningResult
from amtflow.redaction import redact, truncate
from amtflow.vocabulary import Now, TuningJobStatus

# Errors the waiting task fails with; the state machine's Catch routes them to a failure notification.
ERROR_JOB_FAILED = "TuningJobFailed"
ERROR_JOB_STOPPED = "TuningJobStopped"
ERROR_JOB_NOT_FOUND = "TuningJobNotFound"

# A parked job that SageMaker does not know after this long was never created (or was deleted).
NOT_FOUND_GRACE = timedelta(minutes=15)


TUNING_JOB_STATE_CHANGE = "SageMaker HyperParameter Tuning Job State Change"
TRAINING_JOB_STATE_CHANGE = "SageMaker Training Job State Change"


class TrainingJobCloser(Protocol):
    def close_parked(self, parked: ParkedJob) -> CloseResult:
        """Close (or heartbeat) one parked training job (``amtflow.app.CloseTrainingJobs``)."""
        ...

    def on_state_change(
        self, job_name: str, status: str | None, tuning_job_arn: str | None = None
    ) -> CloseResult:
        """Handle one "Training Job State Change" event (``amtflow.app.CloseTrainingJobs``)."""
        ...


JobStopper = Callable[[str], None]
"""Stops a tuning job by name (``StopHyperParameterTuningJob``); a job that already ended is no error."""


class CloseOutcome(StrEnum):
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    HEARTBEAT = "heartbeat"
    NOT_OURS = "not_ours"
    NOT_TERMINAL = "not_terminal"
    STILL_RUNNING = "still_running"
    NOT_PARKED = "not_parked"
    TASK_GONE = "task_gone"
    STOPPED_ORPHAN = "stopped_orphan"
    """The task no longer waits (its execution ended: aborted, timed out past the job's limits plus the
    margin) while the job still ran: the job was stopped so it does not run unattended."""
    NOT_FOUND = "not_found"
    STALLED = "stalled"
    """The running job stalled (``monitoring`` in its profile): notified once (when its
    ``notifications.outcomes`` lists ``stalled``), and stopped if it says so."""
    IGNORED = "ignored"
    """The event is not for this stack (another account, a detail-type this function does not handle)."""
    ERROR = "error"


@dataclass(frozen=True)
class CloseResult:
    job_name: str
    outcome: CloseOutcome
    reason: str


def tuning_result(job: TuningJobDescription, *, stopped_for: str | None = None) -> TuningResult:
    best = None
    if job.best is not None:
        best = TrialSummary(
            training_job_name=job.best.name,
            status=job.best.status,
            objective_value=job.best.objective_value,
            hyperparameters=dict(job.best.hyperparameters),
            definition_name=job.best.definition_name,
        )
    return TuningResult(
        job_name=job.name,
        status=job.status.value,
        objective_metric=job.objective_metric,
        objective_type=job.objective_type,
        best=best,
        training_jobs=dict(job.training_jobs),
        objective_statuses=dict(job.objective_statuses),
        runtime_seconds=job.runtime_seconds,
        ended_at=job.ended_at,
        stopped_for=stopped_for,
    )


MAX_FAILURE_MESSAGE = 4000


def failure_cause(error: str, message: str, job_name: str) -> str:
    """A cause shaped like a Lambda error payload, so one parser reads every failure. The message (which
    quotes the job's failure reason) is redacted of credential-like strings and bounded."""
    text = truncate(redact(message), MAX_FAILURE_MESSAGE)
    return json.dumps({"errorType": error, "errorMessage": text, "jobName": job_name})


class CloseTuningJobs:
    """Completes the task tokens of tuning jobs that reached a terminal status."""

    def __init__(
        self,
        *,
        sagemaker: TuningService,
        tokens: TokenStore,
        callbacks: TaskCallbacks,
        clock: Now,
        job_prefix: str,
        training: TrainingJobCloser | None = None,
        ledger: RunLedger | None = None,
        stop_job: JobStopper | None = None,
        trials: TrialSource | None = None,
        stalls: StallWatch | None = None,
    ) -> None:
        self._stalls = stalls
        self._trials = trials
        self._stop_job = stop_job
        self._training = training
        self._ledger = ledger
        self._sagemaker = sagemaker
        self._tokens = tokens
        self._callbacks = callbacks
        self._clock = clock
        self._job_prefix = job_prefix

    def is_ours(self, job_name: str) -> bool:
        return job_name.startswith(self._job_prefix + "-")

    def on_event(self, event: object, *, account: str | None = None) -> CloseResult:
        """Handle one raw EventBridge event: a tuning job's state change, or a retraining job's (handed to
        ``training``). A malformed event raises :class:`~amtflow.errors.InvalidInputError` naming the field;
        one from another account than ``account`` (the function's own) or of another detail-type is
        ignored, with the reason."""
        incoming = read_event(
            event,
            account=account,
            details={
                TUNING_JOB_STATE_CHANGE: TuningJobStateChange,
                TRAINING_JOB_STATE_CHANGE: TrainingJobStateChange,
            },
        )
        detail = incoming.detail
        if isinstance(detail, TuningJobStateChange):
            return self.on_state_change(detail.job_name, detail.status)
        if isinstance(detail, TrainingJobStateChange) and self._training is not None:
            return self._training.on_state_change(detail.job_name, detail.status, detail.tuning_job_arn)
        return CloseResult(
            "", CloseOutcome.IGNORED, incoming.ignored or "retraining jobs are not closed here"
        )

    def on_state_change(self, job_name: str, status: str | None) -> CloseResult:
        """Handle one "Tuning Job State Change" event."""
        if not self.is_ours(job_name):
            return CloseResult(job_name, CloseOutcome.NOT_OURS, f"name lacks prefix '{self._job_prefix}-'")
        try:
            hinted = TuningJobStatus(status) if status else None
        except ValueError:
            hinted = None
        if hinted is not None and not hinted.is_terminal():
            return CloseResult(job_name, CloseOutcome.NOT_TERMINAL, f"status {hinted.value} is not terminal")
        try:
            job = self._sagemaker.describe_tuning_job(job_name)
        except NotFoundError:
            return CloseResult(job_name, CloseOutcome.NOT_FOUND, "SageMaker does not know this job")
        if not job.status.is_terminal():
            return CloseResult(
                job_name, CloseOutcome.STILL_RUNNING, f"event out of order: the job is {job.status.value}"
            )
        parked = self._tokens.claim(job_name)
        if parked is None:
            return CloseResult(job_name, CloseOutcome.NOT_PARKED, "no parked token (already closed)")
        return self._complete(parked, job)

    def on_sweep_event(self, event: object, *, account: str | None = None) -> tuple[list[CloseResult], str]:
        """The reconciler's schedule: ``(results of reconcile(), "")``, or ``([], why)`` for an event that is
        not its schedule (another account, another detail-type). A malformed event raises
        :class:`~amtflow.errors.InvalidInputError` and sweeps nothing. The stall rules judge the running jobs
        as of the schedule's ``time`` (when it fired), so that a sweep's verdict does not depend on how late
        it ran."""
        incoming = read_event(event, account=account, details={SCHEDULED_EVENT: ScheduledEventDetail})
        if incoming.detail is None:
            return [], incoming.ignored
        return self.reconcile(at=incoming.time), ""

    def reconcile(self, *, at: datetime | None = None) -> list[CloseResult]:
        """Sweep every parked job: close the ended ones, send heartbeats for the running ones. Parked
        training jobs (a retrain, a champion's evaluation) go to ``training`` (their own describe call).
        ``at``: the time the stall rules judge the running jobs at (default: the clock's now)."""
        results = []
        for parked in self._tokens.parked():
            try:
                if parked.kind is JobKind.TRAINING:
                    if self._training is None:
                        results.append(
                            CloseResult(
                                parked.job_name, CloseOutcome.NOT_OURS, "a training job: not swept here"
                            )
                        )
                    else:
                        results.append(self._training.close_parked(parked))
                    continue
                results.append(self._reconcile_one(parked, at))
            except AmtflowError as e:
                results.append(CloseResult(parked.job_name, CloseOutcome.ERROR, str(e)))
        return results

    def _reconcile_one(self, parked: ParkedJob, at: datetime | None = None) -> CloseResult:
        try:
            job = self._sagemaker.describe_tuning_job(parked.job_name)
        except NotFoundError:
            if self._clock() - parked.parked_at < NOT_FOUND_GRACE:
                return CloseResult(parked.job_name, CloseOutcome.NOT_FOUND, "not created yet; within grace")
            claimed = self._tokens.claim(parked.job_name)
            if claimed is None:
                return CloseResult(parked.job_name, CloseOutcome.NOT_PARKED, "closed meanwhile")
            message = f"tuning job {parked.job_name} does not exist: it was never created or was deleted"
            cause = failure_cause(ERROR_JOB_NOT_FOUND, message, parked.job_name)
            self._send_failure(claimed, ERROR_JOB_NOT_FOUND, cause)
            return CloseResult(parked.job_name, CloseOutcome.FAILED, message)
        if not job.status.is_terminal():
            if self._callbacks.heartbeat(parked.task_token) is CallbackOutcome.GONE:
                self._tokens.claim(parked.job_name)
                if self._stop_job is None:
                    return CloseResult(parked.job_name, CloseOutcome.TASK_GONE, "the task no longer waits")
                self._stop_job(parked.job_name)
                return CloseResult(
                    parked.job_name,
                    CloseOutcome.STOPPED_ORPHAN,
                    f"execution {parked.execution} no longer waits for the job (aborted, or timed out past "
                    f"the job's limits plus the margin) while the job was {job.status.value}: stopped it",
                )
            stalled = self._stalls.check(parked, job, at=at) if self._stalls is not None else None
            if stalled is not None:
                told = (
                    "; notified"
                    if stalled.notified
                    else "; not notified (notifications.outcomes omits stalled)"
                )
                done = "; stopped the job" if stalled.stopped else ""
                return CloseResult(parked.job_name, CloseOutcome.STALLED, stalled.reason + told + done)
            return CloseResult(parked.job_name, CloseOutcome.HEARTBEAT, f"job is {job.status.value}")
        claimed = self._tokens.claim(parked.job_name)
        if claimed is None:
            return CloseResult(parked.job_name, CloseOutcome.NOT_PARKED, "closed meanwhile")
        return self._complete(claimed, job)

    def _complete(self, parked: ParkedJob, job: TuningJobDescription) -> CloseResult:
        if self._ledger is not None:
            trials = self._trials
            jobs = sum(job.training_jobs.values())
            self._ledger.record_end(
                parked,
                usage=(lambda: tuning_job_usage(trials, job.name, jobs=jobs)) if trials is not None else None,
                status=job.status.value,
                runtime_s=job.runtime_seconds,
                training_jobs=sum(job.training_jobs.values()),
                best_training_job=job.best.name if job.best is not None else None,
                best_objective=job.best.objective_value if job.best is not None else None,
                ended_at=job.ended_at,
            )
        stopped_for = None
        if job.status is TuningJobStatus.STOPPED and self._stalls is not None:
            stopped_for = self._stalls.stopped_for(job.name)
        if job.status is TuningJobStatus.COMPLETED or stopped_for is not None:
            result = tuning_result(job, stopped_for=stopped_for)
            try:
                sent = self._callbacks.succeed(parked.task_token, result.to_json())
            except AmtflowError:
                self._tokens.park(parked)
                raise
            if sent is CallbackOutcome.GONE:
                return CloseResult(job.name, CloseOutcome.TASK_GONE, "the task no longer waits")
            return CloseResult(job.name, CloseOutcome.SUCCEEDED, "task succeeded")
        error = ERROR_JOB_FAILED if job.status is TuningJobStatus.FAILED else ERROR_JOB_STOPPED
        reason = job.failure_reason or "no reason given"
        message = f"tuning job {job.name} ended {job.status.value}: {reason}"
        return self._send_failure(parked, error, failure_cause(error, message, job.name), job.name)

    def _send_failure(
        self, parked: ParkedJob, error: str, cause: str, name: str | None = None
    ) -> CloseResult:
        job_name = name or parked.job_name
        try:
            sent = self._callbacks.fail(parked.task_token, error=error, cause=cause)
        except AmtflowError:
            self._tokens.park(parked)
            raise
        if sent is CallbackOutcome.GONE:
            return CloseResult(job_name, CloseOutcome.TASK_GONE, "the task no longer waits")
        return CloseResult(job_name, CloseOutcome.FAILED, f"task failed with {error}")


def summarize(results: Sequence[CloseResult]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for r in results:
        counts[r.outcome.value] = counts.get(r.outcome.value, 0) + 1
    return counts
