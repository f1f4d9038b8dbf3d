"""SageMaker tuning and training calls, with statuses as enums and errors as amtflow errors."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Literal

from amtflow.adapters._errors import aws_call
from amtflow.app import (
    TrainingJobDetails,
    TrainingJobSummary,
    TrialProgress,
    TuningJobDescription,
    TuningJobStatus,
)
from amtflow.errors import AmtflowError

if TYPE_CHECKING:
    from mypy_boto3_sagemaker import SageMakerClient


def strip_quotes(value: str) -> str:
    """Categorical hyperparameters can come back JSON-quoted (``"\\"hist\\""``); show the bare value."""
    if len(value) >= 2 and value[0] == value[-1] == '"':
        return value[1:-1]
    return value


def _hyperparameters(raw: Mapping[str, Any] | None) -> dict[str, str]:
    return {str(k): strip_quotes(str(v)) for k, v in (raw or {}).items()}


def _aware(value: Any) -> datetime | None:
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    return None


def training_summary(raw: Mapping[str, Any]) -> TrainingJobSummary:
    metric = raw.get("FinalHyperParameterTuningJobObjectiveMetric") or {}
    value = metric.get("Value")
    return TrainingJobSummary(
        name=str(raw["TrainingJobName"]),
        status=str(raw.get("TrainingJobStatus", "")),
        objective_value=float(value) if value is not None else None,
        hyperparameters=_hyperparameters(raw.get("TunedHyperParameters")),
        definition_name=raw.get("TrainingJobDefinitionName"),
    )


def _objective(raw: Mapping[str, Any], definition_name: str | None) -> Mapping[str, Any]:
    """The job's objective: its config's, else (a multi-algorithm job, whose objectives are per definition)
    the ``TuningObjective`` of the best trial's definition, else of its first definition."""
    own = (raw.get("HyperParameterTuningJobConfig") or {}).get("HyperParameterTuningJobObjective")
    if own:
        return dict(own)
    definitions = list(raw.get("TrainingJobDefinitions") or [])
    chosen = [d for d in definitions if definition_name and d.get("DefinitionName") == definition_name]
    for definition in [*chosen, *definitions]:
        if definition.get("TuningObjective"):
            return dict(definition["TuningObjective"])
    return {}


def tuning_description(raw: Mapping[str, Any]) -> TuningJobDescription:
    name = str(raw["HyperParameterTuningJobName"])
    status_text = str(raw.get("HyperParameterTuningJobStatus", ""))
    try:
        status = TuningJobStatus(status_text)
    except ValueError as e:
        raise AmtflowError(f"tuning job {name} has an unknown status {status_text!r}") from e
    best = raw.get("BestTrainingJob")
    objective = _objective(raw, (best or {}).get("TrainingJobDefinitionName"))
    consumed = raw.get("ConsumedResources") or {}
    return TuningJobDescription(
        name=name,
        status=status,
        objective_metric=objective.get("MetricName"),
        objective_type=objective.get("Type"),
        best=training_summary(best) if best else None,
        training_jobs={str(k): int(v) for k, v in (raw.get("TrainingJobStatusCounters") or {}).items()},
        objective_statuses={str(k): int(v) for k, v in (raw.get("ObjectiveStatusCounters") or {}).items()},
        runtime_seconds=consumed.get("RuntimeInSeconds"),
        failure_reason=raw.get("FailureReason"),
        ended_at=_aware(raw.get("HyperParameterTuningEndTime")),
    )


class SageMakerTuning:
    """Implements :class:`~amtflow.app.TuningService` over an injected SageMaker client."""

    def __init__(self, client: SageMakerClient) -> None:
        self._sm = client

    def create_tuning_job(self, request: Mapping[str, Any]) -> str:
        name = request.get("HyperParameterTuningJobName", "?")
        with aws_call(f"creating tuning job {name}"):
            response = self._sm.create_hyper_parameter_tuning_job(**request)
        return response["HyperParameterTuningJobArn"]

    def describe_tuning_job(self, name: str) -> TuningJobDescription:
        with aws_call(f"describing tuning job {name}"):
            raw = self._sm.describe_hyper_parameter_tuning_job(HyperParameterTuningJobName=name)
        return tuning_description(raw)

    def top_training_jobs(
        self, name: str, *, objective_type: str, limit: int
    ) -> Sequence[TrainingJobSummary]:
        order: Literal["Ascending", "Descending"] = (
            "Ascending" if objective_type == "Minimize" else "Descending"
        )
        with aws_call(f"listing the training jobs of {name}"):
            response = self._sm.list_training_jobs_for_hyper_parameter_tuning_job(
                HyperParameterTuningJobName=name,
                SortBy="FinalObjectiveMetricValue",
                SortOrder=order,
                MaxResults=max(1, min(limit, 100)),
            )
        return [training_summary(s) for s in response.get("TrainingJobSummaries", [])][:limit]

    def describe_training_job(self, name: str) -> TrainingJobDetails:
        with aws_call(f"describing training job {name}"):
            raw = self._sm.describe_training_job(TrainingJobName=name)
        seconds = raw.get("TrainingTimeInSeconds")
        resources = raw.get("ResourceConfig") or {}
        return TrainingJobDetails(
            name=name,
            status=str(raw.get("TrainingJobStatus", "")),
            model_artifacts=(raw.get("ModelArtifacts") or {}).get("S3ModelArtifacts"),
            training_image=(raw.get("AlgorithmSpecification") or {}).get("TrainingImage"),
            training_seconds=int(seconds) if seconds is not None else None,
            hyperparameters=_hyperparameters(raw.get("HyperParameters")),
            failure_reason=raw.get("FailureReason"),
            final_metrics={
                str(m["MetricName"]): float(m["Value"])
                for m in raw.get("FinalMetricDataList", [])
                if "MetricName" in m and "Value" in m
            },
            ended_at=_aware(raw.get("TrainingEndTime")),
            billable_seconds=raw.get("BillableTimeInSeconds"),
            tuning_job_arn=raw.get("TuningJobArn"),
            instance_type=resources.get("InstanceType"),
            instance_count=int(resources.get("InstanceCount") or 1),
        )

    def training_job_names(self, tuning_job: str, *, limit: int) -> Sequence[str]:
        """At most ``limit`` (1-100: one page) training jobs of a tuning job, oldest first."""
        with aws_call(f"listing the training jobs of {tuning_job}"):
            response = self._sm.list_training_jobs_for_hyper_parameter_tuning_job(
                HyperParameterTuningJobName=tuning_job,
                SortBy="CreationTime",
                SortOrder="Ascending",
                MaxResults=max(1, min(limit, 100)),
            )
        return [str(s["TrainingJobName"]) for s in response.get("TrainingJobSummaries", [])][:limit]

    def trial_progress(self, tuning_job: str, *, limit: int) -> Sequence[TrialProgress]:
        """At most ``limit`` trials of a tuning job, the newest first; each running one is described for the
        newest timestamp among its ``FinalMetricDataList`` (the metric values it reported so far)."""
        summaries: list[Mapping[str, Any]] = []
        kwargs: dict[str, Any] = {
            "HyperParameterTuningJobName": tuning_job,
            "SortBy": "CreationTime",
            "SortOrder": "Descending",
        }
        with aws_call(f"listing the training jobs of {tuning_job}"):
            while len(summaries) < limit:
                response = self._sm.list_training_jobs_for_hyper_parameter_tuning_job(
                    **kwargs, MaxResults=max(1, min(limit - len(summaries), 100))
                )
                summaries.extend(response.get("TrainingJobSummaries", []))
                token = response.get("NextToken")
                if not token:
                    break
                kwargs["NextToken"] = token
        return [self._progress(s) for s in summaries[:limit]]

    def _progress(self, raw: Mapping[str, Any]) -> TrialProgress:
        name = str(raw["TrainingJobName"])
        status = str(raw.get("TrainingJobStatus", ""))
        metric = raw.get("FinalHyperParameterTuningJobObjectiveMetric") or {}
        value = metric.get("Value")
        progress = TrialProgress(
            name=name,
            status=status,
            objective_value=float(value) if value is not None else None,
            created_at=_aware(raw.get("TrainingStartTime")) or _aware(raw.get("CreationTime")),
            ended_at=_aware(raw.get("TrainingEndTime")),
        )
        if not progress.running:
            return progress
        with aws_call(f"describing training job {name}"):
            described = self._sm.describe_training_job(TrainingJobName=name)
        stamps = [_aware(m.get("Timestamp")) for m in described.get("FinalMetricDataList", [])]
        newest = max((t for t in stamps if t is not None), default=None)
        return TrialProgress(**{**progress.__dict__, "last_metric_at": newest})

    def create_training_job(self, request: Mapping[str, Any]) -> str:
        name = request.get("TrainingJobName", "?")
        with aws_call(f"creating training job {name}"):
            response = self._sm.create_training_job(**request)
        return response["TrainingJobArn"]
