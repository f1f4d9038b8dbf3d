"""SageMakerTuning: responses become enums and records; error codes become amtflow errors (Stubber)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber

from amtflow.adapters import SageMakerTuning, strip_quotes
from amtflow.app import TuningJobStatus
from amtflow.errors import (
    AmtflowError,
    ConfigurationError,
    ConflictError,
    InvalidInputError,
    NotFoundError,
    QuotaExceededError,
    TransientError,
)

JOB = "amtf-cancer-xgb-0badc0de"
T0 = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)
ARN_PREFIX = "arn:aws:sagemaker:us-east-1:123456789012"
SUMMARY = {
    "TrainingJobName": f"{JOB}-002-00000002",
    "TrainingJobArn": f"arn:aws:sagemaker:us-east-1:123456789012:training-job/{JOB}-002-00000002",
    "CreationTime": T0,
    "TrainingJobStatus": "Completed",
    "TunedHyperParameters": {"eta": "0.2", "tree_method": '"hist"'},
    "FinalHyperParameterTuningJobObjectiveMetric": {
        "Type": "Maximize",
        "MetricName": "validation:auc",
        "Value": 0.95,
    },
}
DESCRIBE: dict[str, Any] = {
    "HyperParameterTuningJobName": JOB,
    "HyperParameterTuningJobArn": f"{ARN_PREFIX}:hyper-parameter-tuning-job/{JOB}",
    "HyperParameterTuningJobConfig": {
        "Strategy": "Bayesian",
        "HyperParameterTuningJobObjective": {"Type": "Maximize", "MetricName": "validation:auc"},
        "ResourceLimits": {"MaxNumberOfTrainingJobs": 3, "MaxParallelTrainingJobs": 1},
    },
    "HyperParameterTuningJobStatus": "Completed",
    "CreationTime": T0,
    "HyperParameterTuningEndTime": T0,
    "TrainingJobStatusCounters": {
        "Completed": 3,
        "InProgress": 0,
        "RetryableError": 0,
        "NonRetryableError": 0,
        "Stopped": 0,
    },
    "ObjectiveStatusCounters": {"Succeeded": 3, "Pending": 0, "Failed": 0},
    "BestTrainingJob": SUMMARY,
    "ConsumedResources": {"RuntimeInSeconds": 754},
}


@pytest.fixture
def stubbed() -> Iterator[tuple[SageMakerTuning, Stubber]]:
    client = boto3.client("sagemaker", region_name="us-east-1")
    with Stubber(client) as stubber:
        yield SageMakerTuning(client), stubber
        stubber.assert_no_pending_responses()


def test_describe_maps_status_best_job_counters_and_runtime(stubbed: tuple[SageMakerTuning, Stubber]) -> None:
    sm, stub = stubbed
    stub.add_response("describe_hyper_parameter_tuning_job", DESCRIBE, {"HyperParameterTuningJobName": JOB})
    job = sm.describe_tuning_job(JOB)
    assert job.status is TuningJobStatus.COMPLETED
    assert job.status.is_terminal()
    assert job.objective_metric == "validation:auc"
    assert job.objective_type == "Maximize"
    assert job.best is not None
    assert job.best.objective_value == 0.95
    assert job.best.hyperparameters == {"eta": "0.2", "tree_method": "hist"}
    assert job.training_jobs["Completed"] == 3
    assert job.runtime_seconds == 754
    assert job.ended_at == T0


def test_a_failed_job_carries_its_reason(stubbed: tuple[SageMakerTuning, Stubber]) -> None:
    sm, stub = stubbed
    failed = {k: v for k, v in DESCRIBE.items() if k != "BestTrainingJob"}
    stub.add_response(
        "describe_hyper_parameter_tuning_job",
        {**failed, "HyperParameterTuningJobStatus": "Failed", "FailureReason": "All training jobs failed"},
    )
    job = sm.describe_tuning_job(JOB)
    assert job.status is TuningJobStatus.FAILED
    assert job.best is None
    assert job.failure_reason == "All training jobs failed"


@pytest.mark.parametrize(("objective", "order"), [("Maximize", "Descending"), ("Minimize", "Ascending")])
def test_the_leaderboard_is_asked_sorted_by_objective(
    stubbed: tuple[SageMakerTuning, Stubber], objective: str, order: str
) -> None:
    sm, stub = stubbed
    stub.add_response(
        "list_training_jobs_for_hyper_parameter_tuning_job",
        {"TrainingJobSummaries": [SUMMARY]},
        {
            "HyperParameterTuningJobName": JOB,
            "SortBy": "FinalObjectiveMetricValue",
            "SortOrder": order,
            "MaxResults": 5,
        },
    )
    (top,) = sm.top_training_jobs(JOB, objective_type=objective, limit=5)
    assert top.name == SUMMARY["TrainingJobName"]
    assert top.objective_value == 0.95


def test_describe_training_job_gives_artifacts_image_and_hyperparameters(
    stubbed: tuple[SageMakerTuning, Stubber],
) -> None:
    sm, stub = stubbed
    stub.add_response(
        "describe_training_job",
        {
            "TrainingJobName": "t",
            "TrainingJobArn": "arn:aws:sagemaker:us-east-1:123456789012:training-job/t",
            "TrainingJobStatus": "Completed",
            "SecondaryStatus": "Completed",
            "ModelArtifacts": {"S3ModelArtifacts": "s3://b/runs/t/output/model.tar.gz"},
            "AlgorithmSpecification": {"TrainingImage": "img:1", "TrainingInputMode": "File"},
            "HyperParameters": {"eta": "0.2"},
            "ResourceConfig": {"InstanceType": "ml.m5.xlarge", "InstanceCount": 1, "VolumeSizeInGB": 10},
            "StoppingCondition": {"MaxRuntimeInSeconds": 60},
            "CreationTime": T0,
            "TrainingTimeInSeconds": 61,
        },
        {"TrainingJobName": "t"},
    )
    details = sm.describe_training_job("t")
    assert details.model_artifacts == "s3://b/runs/t/output/model.tar.gz"
    assert details.training_image == "img:1"
    assert details.training_seconds == 61
    assert details.hyperparameters == {"eta": "0.2"}
    assert (details.instance_type, details.instance_count, details.billable_seconds) == (
        "ml.m5.xlarge",
        1,
        None,
    )


def test_the_training_jobs_of_a_tuning_job_are_listed_in_one_bounded_page(
    stubbed: tuple[SageMakerTuning, Stubber],
) -> None:
    sm, stub = stubbed
    second = {**SUMMARY, "TrainingJobName": f"{JOB}-003-00000003"}
    stub.add_response(
        "list_training_jobs_for_hyper_parameter_tuning_job",
        {"TrainingJobSummaries": [SUMMARY, second], "NextToken": "more"},
        {
            "HyperParameterTuningJobName": JOB,
            "SortBy": "CreationTime",
            "SortOrder": "Ascending",
            "MaxResults": 100,
        },
    )
    assert sm.training_job_names(JOB, limit=500) == [f"{JOB}-002-00000002", f"{JOB}-003-00000003"]
    stub.assert_no_pending_responses()
    stub.add_client_error(
        "list_training_jobs_for_hyper_parameter_tuning_job", service_error_code="ThrottlingException"
    )
    with pytest.raises(TransientError, match=JOB):
        sm.training_job_names(JOB, limit=10)


def test_a_training_job_is_billed_for_its_billable_time_on_its_instances(
    stubbed: tuple[SageMakerTuning, Stubber],
) -> None:
    sm, stub = stubbed
    stub.add_response(
        "describe_training_job",
        {
            "TrainingJobName": "t",
            "TrainingJobArn": "arn:aws:sagemaker:us-east-1:123456789012:training-job/t",
            "TrainingJobStatus": "Completed",
            "SecondaryStatus": "Completed",
            "ModelArtifacts": {"S3ModelArtifacts": "s3://b/runs/t/output/model.tar.gz"},
            "AlgorithmSpecification": {"TrainingImage": "img:1", "TrainingInputMode": "File"},
            "ResourceConfig": {"InstanceType": "ml.g5.xlarge", "InstanceCount": 3, "VolumeSizeInGB": 10},
            "StoppingCondition": {"MaxRuntimeInSeconds": 3600, "MaxWaitTimeInSeconds": 7200},
            "EnableManagedSpotTraining": True,
            "CreationTime": T0,
            "TrainingTimeInSeconds": 1000,
            "BillableTimeInSeconds": 320,
        },
        {"TrainingJobName": "t"},
    )
    details = sm.describe_training_job("t")
    assert (details.instance_type, details.instance_count) == ("ml.g5.xlarge", 3)
    assert (details.training_seconds, details.billable_seconds) == (1000, 320)


@pytest.mark.parametrize(
    ("code", "error"),
    [
        ("ThrottlingException", TransientError),
        ("ResourceLimitExceeded", QuotaExceededError),
        ("ResourceInUse", ConflictError),
        ("ResourceNotFound", NotFoundError),
        ("ValidationException", InvalidInputError),
        ("AccessDeniedException", ConfigurationError),
        ("InternalFailure", TransientError),
        ("SomethingNew", AmtflowError),
    ],
)
def test_error_codes_become_amtflow_errors(
    stubbed: tuple[SageMakerTuning, Stubber], code: str, error: type[Exception]
) -> None:
    sm, stub = stubbed
    stub.add_client_error(
        "describe_hyper_parameter_tuning_job", service_error_code=code, service_message="nope"
    )
    with pytest.raises(error, match=JOB) as e:
        sm.describe_tuning_job(JOB)
    assert type(e.value) is error
    assert isinstance(e.value.__cause__, Exception)


def test_quota_on_create_is_a_transient_quota_error(stubbed: tuple[SageMakerTuning, Stubber]) -> None:
    sm, stub = stubbed
    stub.add_client_error("create_hyper_parameter_tuning_job", service_error_code="ResourceLimitExceeded")
    request = {
        "HyperParameterTuningJobName": JOB,
        "HyperParameterTuningJobConfig": DESCRIBE["HyperParameterTuningJobConfig"],
    }
    with pytest.raises(QuotaExceededError, match="Service Quotas") as e:
        sm.create_tuning_job(request)
    assert isinstance(e.value, TransientError)


def test_an_unknown_status_is_an_error_not_a_guess(stubbed: tuple[SageMakerTuning, Stubber]) -> None:
    sm, _ = stubbed
    from amtflow.adapters import tuning_description

    with pytest.raises(AmtflowError, match="unknown status 'Pausing'"):
        tuning_description({**DESCRIBE, "HyperParameterTuningJobStatus": "Pausing"})
    assert sm is not None


@pytest.mark.parametrize(("raw", "shown"), [('"hist"', "hist"), ("0.2", "0.2"), ('"', '"'), ("", "")])
def test_json_quoted_categoricals_are_shown_bare(raw: str, shown: str) -> None:
    assert strip_quotes(raw) == shown


def test_a_multi_algorithm_trial_carries_its_definition_name(
    stubbed: tuple[SageMakerTuning, Stubber],
) -> None:
    sm, stub = stubbed
    summary = {**SUMMARY, "TrainingJobDefinitionName": "mlp"}
    stub.add_response(
        "list_training_jobs_for_hyper_parameter_tuning_job",
        {"TrainingJobSummaries": [summary, SUMMARY]},
        {
            "HyperParameterTuningJobName": JOB,
            "SortBy": "FinalObjectiveMetricValue",
            "SortOrder": "Descending",
            "MaxResults": 5,
        },
    )
    multi, single = sm.top_training_jobs(JOB, objective_type="Maximize", limit=5)
    assert multi.definition_name == "mlp"
    assert single.definition_name is None


def test_a_multi_algorithm_jobs_objective_is_its_best_definitions(
    stubbed: tuple[SageMakerTuning, Stubber],
) -> None:
    """Without a config-level objective, each of the TrainingJobDefinitions carries its own."""
    sm, stub = stubbed
    config = {k: v for k, v in DESCRIBE["HyperParameterTuningJobConfig"].items() if "Objective" not in k}

    def definition(name: str, metric: str) -> dict[str, Any]:
        return {
            "DefinitionName": name,
            "TuningObjective": {"Type": "Maximize", "MetricName": metric},
            "AlgorithmSpecification": {"TrainingImage": f"{name}:1", "TrainingInputMode": "File"},
            "RoleArn": "arn:aws:iam::123456789012:role/SageMakerRole",
            "OutputDataConfig": {"S3OutputPath": "s3://bucket/out"},
            "ResourceConfig": {"InstanceType": "ml.m5.large", "InstanceCount": 1, "VolumeSizeInGB": 10},
            "StoppingCondition": {"MaxRuntimeInSeconds": 600},
        }

    described = {
        **DESCRIBE,
        "HyperParameterTuningJobConfig": config,
        "TrainingJobDefinitions": [definition("xgb", "validation:auc"), definition("mlp", "val_auc")],
        "BestTrainingJob": {**SUMMARY, "TrainingJobDefinitionName": "mlp"},
    }
    stub.add_response("describe_hyper_parameter_tuning_job", described, {"HyperParameterTuningJobName": JOB})
    job = sm.describe_tuning_job(JOB)
    assert (job.objective_metric, job.objective_type) == ("val_auc", "Maximize")
    assert job.best is not None
    assert job.best.definition_name == "mlp"
