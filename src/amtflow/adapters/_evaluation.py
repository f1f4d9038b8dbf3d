"""What Evaluate reads and writes besides the leaderboard: run evidence, the Model Registry, and the
champion's evaluation job (trial logs: :mod:`amtflow.adapters._logs`). Every adapter takes an injected
client."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any

from amtflow.adapters._dynamo import take_item
from amtflow.adapters._errors import aws_call
from amtflow.adapters._registry import ensure_model_package_group, register_model_package
from amtflow.app import ParkedJob, TrainingJobOutcome

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient
    from mypy_boto3_sagemaker import SageMakerClient

MAX_TRAINING_JOBS = 500


class SageMakerRunEvidence:
    """Implements :class:`~amtflow.app.RunEvidence`: raw Describe/List responses for the diagnosis."""

    def __init__(self, client: SageMakerClient, *, max_training_jobs: int = MAX_TRAINING_JOBS) -> None:
        self._sm = client
        self._max = max_training_jobs

    def describe_tuning_job(self, name: str) -> Mapping[str, Any]:
        with aws_call(f"describing tuning job {name}"):
            return dict(self._sm.describe_hyper_parameter_tuning_job(HyperParameterTuningJobName=name))

    def training_jobs(self, tuning_job: str) -> Sequence[Mapping[str, Any]]:
        out: list[Mapping[str, Any]] = []
        token: str | None = None
        with aws_call(f"listing the training jobs of {tuning_job}"):
            while len(out) < self._max:
                kwargs: dict[str, Any] = {"HyperParameterTuningJobName": tuning_job, "MaxResults": 100}
                if token:
                    kwargs["NextToken"] = token
                page = self._sm.list_training_jobs_for_hyper_parameter_tuning_job(**kwargs)
                out.extend(dict(s) for s in page.get("TrainingJobSummaries", []))
                token = page.get("NextToken")
                if not token:
                    break
        return out[: self._max]

    def final_metrics(self, training_job: str) -> Mapping[str, float]:
        with aws_call(f"describing training job {training_job}"):
            raw = self._sm.describe_training_job(TrainingJobName=training_job)
        return {
            str(m["MetricName"]): float(m["Value"])
            for m in raw.get("FinalMetricDataList", [])
            if "MetricName" in m and "Value" in m
        }


class SageMakerModelRegistry:
    """Implements :class:`~amtflow.app.ModelRegistry` over an injected SageMaker client."""

    def __init__(self, client: SageMakerClient) -> None:
        self._sm = client

    def register(self, request: Mapping[str, Any]) -> str:
        ensure_model_package_group(self._sm, str(request["ModelPackageGroupName"]))
        return register_model_package(self._sm, request)


class SageMakerTrainingJobs:
    """Creates training jobs (the champion's evaluation job) over an injected SageMaker client."""

    def __init__(self, client: SageMakerClient) -> None:
        self._sm = client

    def create_training_job(self, request: Mapping[str, Any]) -> str:
        name = request.get("TrainingJobName", "?")
        with aws_call(f"creating training job {name}"):
            response = self._sm.create_training_job(**request)
        return response["TrainingJobArn"]

    def describe_outcome(self, name: str) -> TrainingJobOutcome:
        with aws_call(f"describing training job {name}"):
            raw = self._sm.describe_training_job(TrainingJobName=name)
        return TrainingJobOutcome(
            name=name,
            status=str(raw.get("TrainingJobStatus", "")),
            failure_reason=raw.get("FailureReason"),
            final_metrics={
                str(m["MetricName"]): float(m["Value"])
                for m in raw.get("FinalMetricDataList", [])
                if "MetricName" in m and "Value" in m
            },
        )


def evaluation_token_key(job_name: str) -> dict[str, Any]:
    return {"pk": {"S": f"EVALJOB#{job_name}"}, "sk": {"S": "TOKEN"}}


class DynamoEvaluationTokens:
    """Implements :class:`~amtflow.app.EvaluationTokens`: the task token that waits for a champion's
    evaluation job, one item ``EVALJOB#<job>``/``TOKEN`` in the state table (expiring with ``expiresAt``)."""

    def __init__(self, client: DynamoDBClient, table_name: str) -> None:
        self._db = client
        self._table = table_name

    def park(self, job: ParkedJob, *, expires_at: int) -> None:
        item = {
            **evaluation_token_key(job.job_name),
            "taskToken": {"S": job.task_token},
            "model": {"S": job.model},
            "execution": {"S": job.execution},
            "parkedAt": {"S": job.parked_at.isoformat()},
            "expiresAt": {"N": str(expires_at)},
        }
        with aws_call(f"parking the task token of {job.job_name}"):
            self._db.put_item(TableName=self._table, Item=item)

    def claim(self, job_name: str) -> ParkedJob | None:
        item = take_item(
            self._db,
            self._table,
            evaluation_token_key(job_name),
            action=f"claiming the task token of {job_name}",
        )
        if not item:
            return None
        return ParkedJob(
            job_name=job_name,
            task_token=item["taskToken"]["S"],
            model=item["model"]["S"],
            execution=item["execution"]["S"],
            parked_at=datetime.fromisoformat(item["parkedAt"]["S"]),
        )
