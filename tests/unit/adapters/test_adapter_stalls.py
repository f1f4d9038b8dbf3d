"""The stall adapters: the notices in the state table (moto), written once; the trials' progress from
SageMaker (Stubber), with the newest metric timestamp of the running ones."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber
from moto import mock_aws
from test_adapter_state_table import table_definition

from amtflow.adapters import DynamoStallRecords, SageMakerTuning
from amtflow.app import StallRecord

T0 = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)
JOB = "amtf-churn-0badc0de"


@pytest.fixture
def records() -> Iterator[DynamoStallRecords]:
    with mock_aws():
        client = boto3.client("dynamodb", region_name="us-east-1")
        client.create_table(TableName="state", **table_definition("StateTable"))
        yield DynamoStallRecords(client, "state")


def test_a_notice_is_recorded_once_read_back_and_forgotten(records: DynamoStallRecords) -> None:
    first = StallRecord(JOB, "churn", "stalled: no better auc for 5 trials", T0, stopped=True)
    assert records.get(JOB) is None
    assert records.record(first) is True
    assert records.record(StallRecord(JOB, "churn", "stalled: again", T0, stopped=False)) is False
    assert records.get(JOB) == first
    records.forget(JOB)
    assert records.get(JOB) is None


def summary(name: str, status: str, value: float | None = None) -> dict[str, Any]:
    out: dict[str, Any] = {
        "TrainingJobName": name,
        "TrainingJobArn": f"arn:aws:sagemaker:us-east-1:123456789012:training-job/{name}",
        "CreationTime": T0,
        "TrainingStartTime": T0,
        "TrainingJobStatus": status,
        "TunedHyperParameters": {"eta": "0.1"},
    }
    if value is not None:
        out["FinalHyperParameterTuningJobObjectiveMetric"] = {"MetricName": "validation:auc", "Value": value}
        out["TrainingEndTime"] = T0 + timedelta(minutes=5)
    return out


def test_trial_progress_pages_and_describes_only_the_running_trials() -> None:
    client = boto3.client("sagemaker", region_name="us-east-1")
    with Stubber(client) as stub:
        stub.add_response(
            "list_training_jobs_for_hyper_parameter_tuning_job",
            {"TrainingJobSummaries": [summary(f"{JOB}-002", "InProgress")], "NextToken": "page-2"},
            {
                "HyperParameterTuningJobName": JOB,
                "SortBy": "CreationTime",
                "SortOrder": "Descending",
                "MaxResults": 10,
            },
        )
        stub.add_response(
            "list_training_jobs_for_hyper_parameter_tuning_job",
            {"TrainingJobSummaries": [summary(f"{JOB}-001", "Completed", 0.91)]},
            {
                "HyperParameterTuningJobName": JOB,
                "SortBy": "CreationTime",
                "SortOrder": "Descending",
                "MaxResults": 9,
                "NextToken": "page-2",
            },
        )
        stub.add_response(
            "describe_training_job",
            {
                "TrainingJobName": f"{JOB}-002",
                "TrainingJobArn": f"arn:aws:sagemaker:us-east-1:123456789012:training-job/{JOB}-002",
                "TrainingJobStatus": "InProgress",
                "SecondaryStatus": "Training",
                "AlgorithmSpecification": {"TrainingInputMode": "File", "TrainingImage": "img"},
                "RoleArn": "arn:aws:iam::123456789012:role/r",
                "OutputDataConfig": {"S3OutputPath": "s3://b/o/"},
                "ResourceConfig": {"InstanceType": "ml.m5.large", "InstanceCount": 1, "VolumeSizeInGB": 5},
                "StoppingCondition": {"MaxRuntimeInSeconds": 60},
                "ModelArtifacts": {"S3ModelArtifacts": ""},
                "CreationTime": T0,
                "FinalMetricDataList": [
                    {"MetricName": "validation:auc", "Value": 0.8, "Timestamp": T0 + timedelta(minutes=7)},
                    {"MetricName": "train:auc", "Value": 0.9, "Timestamp": T0 + timedelta(minutes=9)},
                ],
            },
            {"TrainingJobName": f"{JOB}-002"},
        )
        running, done = SageMakerTuning(client).trial_progress(JOB, limit=10)
    assert (running.name, running.running, running.last_metric_at) == (
        f"{JOB}-002",
        True,
        T0 + timedelta(minutes=9),
    )
    assert (done.name, done.running, done.objective_value) == (f"{JOB}-001", False, 0.91)
    assert done.ended_at == T0 + timedelta(minutes=5)
