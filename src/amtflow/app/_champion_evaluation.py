"""The champion's evaluation job: score the champion on the challenger's validation data.

When the data changed since the champion was trained, its recorded objective was measured on other data and
is not comparable with the challenger's. The evaluation job is a SageMaker training job in evaluate-only
mode: the champion's ``model.tar.gz`` as a ``model`` channel, the new dataset version's ``validation``
channel, and the hyperparameter :data:`EVALUATE_ONLY` — the training script loads the model, scores the
validation data and prints the objective in its usual format, so the profile's metric regexes read it.

:class:`StartChampionEvaluation` creates that job and parks the state machine's task token under its name;
:class:`CloseChampionEvaluation` completes the task when the job's "SageMaker Training Job State Change" event
arrives (its own token items, ``EVALJOB#<job>``; a lost event ends in the task's timeout, which keeps the
champion and says why).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from pydantic import BaseModel, ConfigDict
from pydantic import Field as PydanticField

from amtflow.app._close_job import CloseOutcome as CloseOutcome
from amtflow.app._close_job import failure_cause
from amtflow.app._events import read_event
from amtflow.app._ports import CallbackOutcome, ParkedJob, TaskCallbacks
from amtflow.errors import AmtflowError, ConflictError, InvalidInputError, NotFoundError
from amtflow.lineage import Champion
from amtflow.messages import ChampionEvaluationJob, Plan
from amtflow.naming import check_training_job_name, short_hash, slug
from amtflow.profile import ModelProfile, TrainingNetwork, compile_training_request
from amtflow.vocabulary import Now, TrainingJobStatus

EVALUATE_ONLY = "amtflow_evaluate_only"
"""The hyperparameter that puts an example training script in evaluate-only mode."""
MODEL_CHANNEL = "model"
VALIDATION_CHANNEL = "validation"
CALLBACK_MARGIN_SECONDS = 3600
MAX_HEARTBEAT_SECONDS = 6 * 3600

TAG_MODEL = "amtflow:model"
TAG_EXECUTION = "amtflow:execution"
TAG_PURPOSE = "amtflow:purpose"

ProfileLoader = Callable[[str, Mapping[str, Any]], ModelProfile]
"""``(model, overrides) -> ModelProfile`` with the run's overrides applied."""


ERROR_EVALUATION_FAILED = "EvaluationJobFailed"
ERROR_EVALUATION_STOPPED = "EvaluationJobStopped"
TOKEN_TTL_SECONDS = 35 * 24 * 3600
_EVALUATION_JOB = re.compile(r"-ev-[0-9a-f]{8}$")


@dataclass(frozen=True)
class TrainingJobOutcome:
    """A training job's status, failure reason and ``FinalMetricDataList`` (``{metric: value}``)."""

    name: str
    status: str
    failure_reason: str | None = None
    final_metrics: Mapping[str, float] = field(default_factory=dict)


class TrainingJobs(Protocol):
    def create_training_job(self, request: Mapping[str, Any]) -> str:
        """Create the job; returns its ARN. :class:`ConflictError` if the name is taken."""
        ...

    def describe_outcome(self, name: str) -> TrainingJobOutcome:
        """:class:`NotFoundError` if there is no such job."""
        ...


class EvaluationTokens(Protocol):
    def park(self, job: ParkedJob, *, expires_at: int) -> None:
        """Record the task token that waits for the evaluation job ``job.job_name``."""
        ...

    def claim(self, job_name: str) -> ParkedJob | None:
        """Atomically remove and return the token; ``None`` if none is parked (a duplicate event)."""
        ...


def is_evaluation_job(name: str) -> bool:
    """Whether ``name`` is a champion's evaluation job (see :func:`evaluation_job_name`)."""
    return bool(_EVALUATION_JOB.search(name))


def evaluation_job_name(plan: Plan, champion_training_job: str) -> str:
    """``<run's job>-ev-<hash8>``: deterministic per run and champion, so a retried task adopts its job, and
    starting with the stack's job prefix (IAM scopes SageMaker to it)."""
    base = plan.job_name or slug(plan.model)
    digest = short_hash("champion-evaluation", base, champion_training_job)
    return check_training_job_name(f"{slug(base, max_length=63 - 12)}-ev-{digest}")


def evaluation_job(plan: Plan, champion: Champion, profile: ModelProfile) -> ChampionEvaluationJob:
    """What the evaluation state needs: the job's name, the champion's model and the new data.

    :class:`InvalidInputError` when the champion cannot be evaluated here (no validation channel in the
    profile, no new data, a model artifact outside S3); the caller falls back on the absolute threshold or
    keeps the champion, and says why.
    """
    if VALIDATION_CHANNEL not in profile.dataset.channels:
        raise InvalidInputError(
            f"the profile of {profile.model} has no '{VALIDATION_CHANNEL}' channel to evaluate the champion "
            "on; add dataset.channels.validation or set promotion.cross_dataset: threshold",
            field="dataset.channels.validation",
        )
    if not plan.data_uri:
        raise InvalidInputError("the plan names no dataset version to evaluate the champion on", field="plan")
    if not champion.model_artifact.startswith("s3://"):
        raise InvalidInputError(
            f"the champion's model artifact {champion.model_artifact!r} is not an S3 URI", field="champion"
        )
    timeout = profile.training.max_runtime_s + CALLBACK_MARGIN_SECONDS
    if profile.training.spot.enabled and profile.training.spot.max_wait_s:
        timeout = max(timeout, profile.training.spot.max_wait_s + CALLBACK_MARGIN_SECONDS)
    return ChampionEvaluationJob(
        job_name=evaluation_job_name(plan, champion.training_job),
        champion_training_job=champion.training_job,
        model_artifact=champion.model_artifact,
        data_uri=plan.data_uri,
        timeout_seconds=timeout,
        heartbeat_seconds=min(MAX_HEARTBEAT_SECONDS, timeout - 1),
    )


def evaluation_request(
    profile: ModelProfile,
    job: ChampionEvaluationJob,
    *,
    hyperparameters: Mapping[str, str],
    output_uri: str,
    role_arn: str,
    tags: Mapping[str, str],
    network: TrainingNetwork | None = None,
) -> dict[str, Any]:
    """The ``CreateTrainingJob`` request of the evaluation job: the profile's training definition with the
    champion's hyperparameters, :data:`EVALUATE_ONLY`, and two channels (the champion's model, the new
    validation data); no checkpoints (nothing is trained). ``network`` is the deployment's."""
    request = compile_training_request(
        profile,
        job_name=job.job_name,
        hyperparameters={**hyperparameters, EVALUATE_ONLY: "true"},
        data_uri=job.data_uri,
        output_uri=output_uri,
        role_arn=role_arn,
        tags=tags,
        network=network,
    )
    validation = [c for c in request["InputDataConfig"] if c["ChannelName"] == VALIDATION_CHANNEL]
    model_channel = {
        "ChannelName": MODEL_CHANNEL,
        "DataSource": {
            "S3DataSource": {
                "S3DataType": "S3Prefix",
                "S3Uri": job.model_artifact,
                "S3DataDistributionType": "FullyReplicated",
            }
        },
        "ContentType": "application/x-tar",
    }
    request["InputDataConfig"] = [model_channel, *validation]
    request.pop("CheckpointConfig", None)
    return request


@dataclass(frozen=True)
class StartedEvaluation:
    job_name: str
    created: bool
    """``False`` when an earlier attempt of the same task had already created the job."""


class StartChampionEvaluation:
    """Creates the champion's evaluation job and parks ``{job -> task token}`` for the callback.

    As for tuning, the token is parked before the job is created (a job that ends at once still finds it),
    and a job that already exists under the deterministic name (a retried task) is adopted.
    """

    def __init__(
        self,
        *,
        profiles: ProfileLoader,
        champions: Callable[[str], Champion | None],
        sagemaker: TrainingJobs,
        tokens: EvaluationTokens,
        clock: Now,
        role_arn: str,
        output_prefix: str,
        data_bucket: str,
        network: TrainingNetwork | None = None,
    ) -> None:
        self._network = network
        self._profiles = profiles
        self._champions = champions
        self._sagemaker = sagemaker
        self._tokens = tokens
        self._clock = clock
        self._role_arn = role_arn
        self._output_prefix = output_prefix
        self._bucket = data_bucket

    def start(self, plan: Plan, job: ChampionEvaluationJob, task_token: str) -> StartedEvaluation:
        if not task_token:
            raise InvalidInputError(
                "taskToken is empty: the champion evaluation must be invoked with $$.Task.Token",
                field="taskToken",
            )
        champion = self._champions(plan.model)
        if champion is None or champion.training_job != job.champion_training_job:
            have = champion.training_job if champion else "none"
            raise ConflictError(
                f"the champion of {plan.model} is now {have}, not {job.champion_training_job}: another run "
                "promoted a model meanwhile; run this dataset version again to compare with the new champion"
            )
        profile = self._profiles(plan.model, plan.overrides)
        output_uri = f"s3://{self._bucket}/{self._output_prefix}{plan.model}/{job.job_name}/"
        request = evaluation_request(
            profile,
            job,
            hyperparameters=champion.hyperparameters,
            output_uri=output_uri,
            role_arn=self._role_arn,
            tags={
                TAG_MODEL: plan.model,
                TAG_EXECUTION: plan.execution.name[:256],
                TAG_PURPOSE: "champion-evaluation",
            },
            network=self._network,
        )
        now = self._clock()
        self._tokens.park(
            ParkedJob(
                job_name=job.job_name,
                task_token=task_token,
                model=plan.model,
                execution=plan.execution.name,
                parked_at=now,
            ),
            expires_at=int(now.timestamp()) + TOKEN_TTL_SECONDS,
        )
        try:
            self._sagemaker.create_training_job(request)
        except ConflictError:
            return StartedEvaluation(job.job_name, created=False)
        except AmtflowError:
            self._tokens.claim(job.job_name)
            raise
        return StartedEvaluation(job.job_name, created=True)


class EvaluationJobStateChange(BaseModel):
    """The ``detail`` of "SageMaker Training Job State Change" (only what the callback needs; the job is
    described for the truth)."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    job_name: str = PydanticField(alias="TrainingJobName", min_length=1)
    status: str | None = PydanticField(default=None, alias="TrainingJobStatus")


TRAINING_JOB_STATE_CHANGE = "SageMaker Training Job State Change"
TERMINAL = frozenset(s.value for s in TrainingJobStatus if s.is_terminal())


@dataclass(frozen=True)
class ClosedEvaluation:
    job_name: str
    outcome: CloseOutcome
    reason: str


class CloseChampionEvaluation:
    """Completes the task that waits for a champion's evaluation job when the job ends.

    The event is a hint: the job is described for the truth, the token claimed atomically (a duplicated
    event finds nothing), and the task succeeds with ``{jobName, status, finalMetrics}`` or fails with
    :data:`ERROR_EVALUATION_FAILED` / :data:`ERROR_EVALUATION_STOPPED` and a cause that names the reason.
    Other training jobs (a tuning job's trials) are not ours and cost nothing more than the check.
    """

    def __init__(
        self,
        *,
        sagemaker: TrainingJobs,
        tokens: EvaluationTokens,
        callbacks: TaskCallbacks,
        job_prefix: str,
    ) -> None:
        self._sagemaker = sagemaker
        self._tokens = tokens
        self._callbacks = callbacks
        self._prefix = job_prefix

    def on_event(self, event: object, *, account: str | None = None) -> ClosedEvaluation:
        """Handle one raw EventBridge event: a malformed one raises
        :class:`~amtflow.errors.InvalidInputError` naming the field; one from another account than
        ``account`` (the function's own) or of another detail-type is ignored, with the reason."""
        incoming = read_event(
            event, account=account, details={TRAINING_JOB_STATE_CHANGE: EvaluationJobStateChange}
        )
        if not isinstance(incoming.detail, EvaluationJobStateChange):
            return ClosedEvaluation("", CloseOutcome.IGNORED, incoming.ignored)
        return self.on_state_change(incoming.detail.job_name, incoming.detail.status)

    def on_state_change(self, job_name: str, status: str | None) -> ClosedEvaluation:
        if not job_name.startswith(f"{self._prefix}-") or not is_evaluation_job(job_name):
            return ClosedEvaluation(job_name, CloseOutcome.NOT_OURS, "not a champion's evaluation job")
        if status is not None and status not in TERMINAL:
            return ClosedEvaluation(job_name, CloseOutcome.NOT_TERMINAL, f"status {status} is not terminal")
        try:
            job = self._sagemaker.describe_outcome(job_name)
        except NotFoundError:
            return ClosedEvaluation(job_name, CloseOutcome.NOT_FOUND, "SageMaker does not know this job")
        if job.status not in TERMINAL:
            return ClosedEvaluation(
                job_name, CloseOutcome.NOT_TERMINAL, f"event out of order: the job is {job.status}"
            )
        parked = self._tokens.claim(job_name)
        if parked is None:
            return ClosedEvaluation(job_name, CloseOutcome.NOT_PARKED, "no parked token (already closed)")
        try:
            if job.status == TrainingJobStatus.COMPLETED:
                output = {"jobName": job.name, "status": job.status, "finalMetrics": dict(job.final_metrics)}
                sent = self._callbacks.succeed(parked.task_token, output)
                outcome = CloseOutcome.SUCCEEDED
            else:
                error = ERROR_EVALUATION_FAILED if job.status == "Failed" else ERROR_EVALUATION_STOPPED
                message = (
                    f"evaluation job {job.name} ended {job.status}: {job.failure_reason or 'no reason given'}"
                )
                cause = failure_cause(error, message, job.name)
                sent = self._callbacks.fail(parked.task_token, error=error, cause=cause)
                outcome = CloseOutcome.FAILED
        except AmtflowError:
            self._tokens.park(parked, expires_at=int(parked.parked_at.timestamp()) + TOKEN_TTL_SECONDS)
            raise
        if sent is CallbackOutcome.GONE:
            return ClosedEvaluation(job_name, CloseOutcome.TASK_GONE, "the task no longer waits")
        return ClosedEvaluation(job_name, outcome, f"task {outcome.value}")
