"""The champion's evaluation job: score the champion on the challenger's validation data.

When the data changed since the champion was trained, its recorded objective was measured on other data and
is not comparable with the challenger's. The evaluation job is a SageMaker training job in evaluate-only
mode: the champion's ``model.tar.gz`` as a ``model`` channel, the new dataset version's ``validation``
channel, and the hyperparameter :data:`EVALUATE_ONLY` — the training script loads the model, scores the
validation data and prints the objective in its usual format, so the profile's metric regexes read it.

:class:`StartChampionEvaluation` creates that job and parks the state machine's task token under its name;
the training job's state-change event (or the reconciler) completes the task, like a retraining job's.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from amtflow.app._ports import Clock, ParkedJob, TokenStore
from amtflow.errors import AmtflowError, ConflictError, InvalidInputError
from amtflow.lineage import Champion
from amtflow.messages import ChampionEvaluationJob, Plan
from amtflow.naming import check_training_job_name, short_hash, slug
from amtflow.profile import ModelProfile, compile_training_request

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


class TrainingJobs(Protocol):
    def create_training_job(self, request: Mapping[str, Any]) -> str:
        """Create the job; returns its ARN. :class:`ConflictError` if the name is taken."""
        ...


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
) -> dict[str, Any]:
    """The ``CreateTrainingJob`` request of the evaluation job: the profile's training definition with the
    champion's hyperparameters, :data:`EVALUATE_ONLY`, and two channels (the champion's model, the new
    validation data); no checkpoints (nothing is trained)."""
    request = compile_training_request(
        profile,
        job_name=job.job_name,
        hyperparameters={**hyperparameters, EVALUATE_ONLY: "true"},
        data_uri=job.data_uri,
        output_uri=output_uri,
        role_arn=role_arn,
        tags=tags,
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
        tokens: TokenStore,
        clock: Clock,
        role_arn: str,
        output_prefix: str,
        data_bucket: str,
    ) -> None:
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
        )
        self._tokens.park(
            ParkedJob(
                job_name=job.job_name,
                task_token=task_token,
                model=plan.model,
                execution=plan.execution.name,
                parked_at=self._clock(),
            )
        )
        try:
            self._sagemaker.create_training_job(request)
        except ConflictError:
            return StartedEvaluation(job.job_name, created=False)
        except AmtflowError:
            self._tokens.claim(job.job_name)
            raise
        return StartedEvaluation(job.job_name, created=True)
