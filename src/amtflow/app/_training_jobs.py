"""The retrain path: one training job with the champion's hyperparameters, and the callback of training jobs.

:class:`StartTraining` creates the training job a ``retrain`` plan names (deterministic name, the stack's
tags, the profile's training definition with the champion's hyperparameters) and parks ``{job -> task
token}`` with :attr:`JobKind.TRAINING` and the objective, so the callback knows which final metric is the
objective. :class:`CloseTrainingJobs` completes that token when the job ends — from a "SageMaker Training Job
State Change" event or from the reconciler's sweep (:meth:`CloseTrainingJobs.close_parked`). The task's
output has the shape of a tuning result (:class:`~amtflow.messages.TuningResult`) with a leaderboard of one:
the best job is the training job itself, so Evaluate and Notify read a retrain like a tuning run. The
champion's evaluation job (a training job too) is closed the same way.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from amtflow.app._close_job import CloseOutcome, CloseResult, failure_cause
from amtflow.app._ports import (
    CallbackOutcome,
    JobKind,
    ParkedJob,
    ProfileCatalog,
    TaskCallbacks,
    TokenStore,
    TrainingJobDetails,
)
from amtflow.app._run_ledger import RunLedger
from amtflow.app._spend import Usage
from amtflow.errors import AmtflowError, ConflictError, InvalidInputError, NotFoundError
from amtflow.lineage import LineageStore
from amtflow.messages import Plan, TrialSummary, TuningResult
from amtflow.profile import TrainingNetwork, compile_training_request
from amtflow.vocabulary import (
    TRAINING_JOB_NAME_MAX,
    TRAINING_JOB_NAME_PATTERN,
    Action,
    Now,
    TrainingJobStatus,
)

ERROR_TRAINING_FAILED = "TrainingJobFailed"
ERROR_TRAINING_STOPPED = "TrainingJobStopped"
ERROR_TRAINING_NOT_FOUND = "TrainingJobNotFound"

TAG_MODEL = "amtflow:model"
TAG_DATASET_VERSION = "amtflow:dataset-version"
TAG_EXECUTION = "amtflow:execution"
TAG_PURPOSE = "amtflow:purpose"

TERMINAL_TRAINING_STATUSES = frozenset(s.value for s in TrainingJobStatus if s.is_terminal())


class TrainingService(Protocol):
    def create_training_job(self, request: Mapping[str, Any]) -> str:
        """Create the job; returns its ARN. :class:`ConflictError` if the name is taken."""
        ...

    def describe_training_job(self, name: str) -> TrainingJobDetails:
        """:class:`NotFoundError` if there is no such job; SageMaker may instead answer a well-formed name it
        does not know with ``ValidationException`` (an :class:`InvalidInputError`), see :func:`_describe`."""
        ...


@dataclass(frozen=True)
class StartedTraining:
    job_name: str
    created: bool
    """``False`` when an earlier attempt of the same task had already created the job."""


class StartTraining:
    """Creates the retraining job a ``retrain`` plan names and parks its task token.

    As for tuning, the token is parked before the job is created (a job that ends at once still finds it),
    and a job that already exists under the planned name (a retried task) is adopted, not created twice.
    """

    def __init__(
        self,
        *,
        profiles: ProfileCatalog,
        sagemaker: TrainingService,
        tokens: TokenStore,
        clock: Now,
        role_arn: str,
        lineage: LineageStore | None = None,
        network: TrainingNetwork | None = None,
    ) -> None:
        self._profiles = profiles
        self._sagemaker = sagemaker
        self._tokens = tokens
        self._clock = clock
        self._role_arn = role_arn
        self._ledger = RunLedger(lineage=lineage, clock=clock) if lineage is not None else None
        self._network = network

    def request_for(self, plan: Plan) -> dict[str, Any]:
        """The ``CreateTrainingJob`` request of a ``retrain`` plan."""
        if plan.action is not Action.RETRAIN or not plan.job_name or not plan.data_uri or not plan.output_uri:
            raise InvalidInputError(
                f"plan for '{plan.model}' has action '{plan.action.value}' and no training job: only a "
                "'retrain' plan with jobName, dataUri and outputUri can start a training job",
                field="plan.action",
            )
        if not plan.hyperparameters:
            raise InvalidInputError(
                f"retrain plan for '{plan.model}' carries no hyperparameters: the champion's are needed",
                field="plan.hyperparameters",
            )
        profile = self._profiles.get(plan.model, plan.overrides).profile
        tags = {TAG_MODEL: plan.model, TAG_EXECUTION: plan.execution.name[:256], TAG_PURPOSE: "retrain"}
        if plan.dataset_version:
            tags[TAG_DATASET_VERSION] = plan.dataset_version
        return compile_training_request(
            profile,
            job_name=plan.job_name,
            hyperparameters=plan.hyperparameters,
            data_uri=plan.data_uri,
            output_uri=plan.output_uri,
            role_arn=self._role_arn,
            tags=tags,
            network=self._network,
        )

    def start(self, plan: Plan, task_token: str) -> StartedTraining:
        """Create (or adopt) the job; the lineage records whether SageMaker accepted it, so a run whose job
        never launched spends nothing."""
        if self._ledger is None:
            return self._start(plan, task_token)
        return self._ledger.recording_start(plan, lambda: self._start(plan, task_token))

    def _start(self, plan: Plan, task_token: str) -> StartedTraining:
        if not task_token:
            raise InvalidInputError(
                "taskToken is empty: StartTraining must be invoked with $$.Task.Token", field="taskToken"
            )
        request = self.request_for(plan)
        assert plan.job_name is not None
        profile = self._profiles.get(plan.model, plan.overrides).profile
        self._tokens.park(
            ParkedJob(
                job_name=plan.job_name,
                task_token=task_token,
                model=plan.model,
                execution=plan.execution.name,
                parked_at=self._clock(),
                kind=JobKind.TRAINING,
                objective_metric=profile.tuning.objective.metric,
                objective_type=profile.tuning.objective.goal.value,
            )
        )
        try:
            self._sagemaker.create_training_job(request)
        except ConflictError:
            return StartedTraining(plan.job_name, created=False)
        except AmtflowError:
            self._tokens.claim(plan.job_name)
            raise
        return StartedTraining(plan.job_name, created=True)


def training_result(job: TrainingJobDetails, parked: ParkedJob) -> TuningResult:
    """The task output for a finished training job: a leaderboard of one, the job itself the best."""
    metric = parked.objective_metric
    value = job.final_metrics.get(metric) if metric else None
    best = TrialSummary(
        training_job_name=job.name,
        status=job.status,
        objective_value=value,
        hyperparameters={k: v for k, v in job.hyperparameters.items() if not k.startswith("_")},
    )
    return TuningResult(
        job_name=job.name,
        status=job.status,
        objective_metric=metric,
        objective_type=parked.objective_type,
        best=best if value is not None else None,
        training_jobs={job.status: 1},
        objective_statuses={"Succeeded" if value is not None else "Failed": 1},
        runtime_seconds=job.training_seconds,
        ended_at=job.ended_at,
    )


def _describe(sagemaker: TrainingService, name: str) -> TrainingJobDetails | None:
    """The training job ``name``, or None when SageMaker does not know it.

    Its API documents ``ResourceNotFound`` (a :class:`NotFoundError`), but it also answers
    ``ValidationException`` (an :class:`InvalidInputError`) for an unknown job. The name is the request's only
    parameter, so for a well-formed name that answer can only mean the same; for any other name it is
    raised.
    """
    try:
        return sagemaker.describe_training_job(name)
    except NotFoundError:
        return None
    except InvalidInputError:
        if len(name) <= TRAINING_JOB_NAME_MAX and TRAINING_JOB_NAME_PATTERN.fullmatch(name):
            return None
        raise


class CloseTrainingJobs:
    """Completes the task tokens of training jobs that reached a terminal status.

    Every stale event is a no-op with a reason, as for tuning jobs: a job that is not ours (no prefix, or a
    trial of a tuning job), a status that is not terminal, a job still running (an out-of-order event), a
    token already claimed (a duplicate), a task that no longer waits.
    """

    def __init__(
        self,
        *,
        sagemaker: TrainingService,
        tokens: TokenStore,
        callbacks: TaskCallbacks,
        job_prefix: str,
        ledger: RunLedger | None = None,
    ) -> None:
        self._ledger = ledger
        self._sagemaker = sagemaker
        self._tokens = tokens
        self._callbacks = callbacks
        self._job_prefix = job_prefix

    def on_state_change(
        self, job_name: str, status: str | None, tuning_job_arn: str | None = None
    ) -> CloseResult:
        """Handle one "Training Job State Change" event."""
        if not job_name.startswith(self._job_prefix + "-"):
            return CloseResult(job_name, CloseOutcome.NOT_OURS, f"name lacks prefix '{self._job_prefix}-'")
        if tuning_job_arn:
            return CloseResult(
                job_name, CloseOutcome.NOT_OURS, "a trial of a tuning job (its tuning job closes)"
            )
        if status and status not in TERMINAL_TRAINING_STATUSES:
            return CloseResult(job_name, CloseOutcome.NOT_TERMINAL, f"status {status} is not terminal")
        job = _describe(self._sagemaker, job_name)
        if job is None:
            return CloseResult(job_name, CloseOutcome.NOT_FOUND, "SageMaker does not know this job")
        if job.status not in TERMINAL_TRAINING_STATUSES:
            return CloseResult(
                job_name, CloseOutcome.STILL_RUNNING, f"event out of order: the job is {job.status}"
            )
        parked = self._tokens.claim(job_name)
        if parked is None:
            return CloseResult(job_name, CloseOutcome.NOT_PARKED, "no parked token (already closed)")
        return self.complete(parked, job)

    def close_parked(self, parked: ParkedJob) -> CloseResult:
        """The reconciler's step for a parked training job: close it if it ended, else heartbeat."""
        job = _describe(self._sagemaker, parked.job_name)
        if job is None:
            return CloseResult(parked.job_name, CloseOutcome.NOT_FOUND, "SageMaker does not know this job")
        if job.status not in TERMINAL_TRAINING_STATUSES:
            if self._callbacks.heartbeat(parked.task_token) is CallbackOutcome.GONE:
                self._tokens.claim(parked.job_name)
                return CloseResult(parked.job_name, CloseOutcome.TASK_GONE, "the task no longer waits")
            return CloseResult(parked.job_name, CloseOutcome.HEARTBEAT, f"job is {job.status}")
        claimed = self._tokens.claim(parked.job_name)
        if claimed is None:
            return CloseResult(parked.job_name, CloseOutcome.NOT_PARKED, "closed meanwhile")
        return self.complete(claimed, job)

    def complete(self, parked: ParkedJob, job: TrainingJobDetails) -> CloseResult:
        """Send the task its outcome (the token is already claimed; re-parked if sending fails)."""
        if self._ledger is not None:
            value = job.final_metrics.get(parked.objective_metric) if parked.objective_metric else None
            self._ledger.record_end(
                parked,
                status=job.status,
                runtime_s=job.training_seconds,
                training_jobs=1,
                best_training_job=job.name if value is not None else None,
                best_objective=value,
                ended_at=job.ended_at,
                usage=lambda: Usage(described=[job], jobs=1),
            )
        try:
            if job.status == TrainingJobStatus.COMPLETED:
                sent = self._callbacks.succeed(parked.task_token, training_result(job, parked).to_json())
                outcome, reason = CloseOutcome.SUCCEEDED, "task succeeded"
            else:
                error = ERROR_TRAINING_FAILED if job.status == "Failed" else ERROR_TRAINING_STOPPED
                message = (
                    f"training job {job.name} ended {job.status}: {job.failure_reason or 'no reason given'}"
                )
                sent = self._callbacks.fail(
                    parked.task_token, error=error, cause=failure_cause(error, message, job.name)
                )
                outcome, reason = CloseOutcome.FAILED, f"task failed with {error}"
        except AmtflowError:
            self._tokens.park(parked)
            raise
        if sent is CallbackOutcome.GONE:
            return CloseResult(job.name, CloseOutcome.TASK_GONE, "the task no longer waits")
        return CloseResult(job.name, outcome, reason)
