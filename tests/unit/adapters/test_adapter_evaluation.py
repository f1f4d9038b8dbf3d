"""Evaluate's adapters over moto: trial logs, evaluation-job tokens, the Model Registry; errors translated."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber
from moto import mock_aws

from amtflow.adapters import (
    CloudWatchTrialLogs,
    DynamoEvaluationTokens,
    SageMakerModelRegistry,
    SageMakerRunEvidence,
)
from amtflow.app import ParkedJob
from amtflow.errors import NotFoundError, TransientError

GROUP = "/aws/sagemaker/TrainingJobs"


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    for key, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
    }.items():
        monkeypatch.setenv(key, value)
    with mock_aws():
        yield


def test_trial_logs_are_read_from_the_training_jobs_log_group_from_the_head(aws: None) -> None:
    logs = boto3.client("logs")
    logs.create_log_group(logGroupName=GROUP)
    logs.create_log_stream(logGroupName=GROUP, logStreamName="job-1/algo-1-1")
    now = int(time.time() * 1000)
    lines = [f"[{i}]\tvalidation-auc:0.9{i}" for i in range(5)]
    logs.put_log_events(
        logGroupName=GROUP,
        logStreamName="job-1/algo-1-1",
        logEvents=[{"timestamp": now + i, "message": line} for i, line in enumerate(lines)],
    )
    assert list(CloudWatchTrialLogs(logs)("job-1")) == lines
    assert list(CloudWatchTrialLogs(logs, max_lines=2)("job-1")) == lines[:2]
    with pytest.raises(NotFoundError, match="no log stream"):
        CloudWatchTrialLogs(logs)("job-2")


def test_trial_logs_read_every_instance_of_a_job_in_order_up_to_the_limit(aws: None) -> None:
    logs = boto3.client("logs")
    logs.create_log_group(logGroupName=GROUP)
    now = int(time.time() * 1000)
    by_stream = {
        "job-1/algo-2-1": ["algo-2 says 1", "algo-2 says 2"],
        "job-1/algo-1-1": ["algo-1 says 1", "algo-1 says 2", "algo-1 says 3"],
        "job-10/algo-1-1": ["another job"],
    }
    for stream, lines in by_stream.items():
        logs.create_log_stream(logGroupName=GROUP, logStreamName=stream)
        logs.put_log_events(
            logGroupName=GROUP,
            logStreamName=stream,
            logEvents=[{"timestamp": now + i, "message": line} for i, line in enumerate(lines)],
        )
    everything = by_stream["job-1/algo-1-1"] + by_stream["job-1/algo-2-1"]
    assert list(CloudWatchTrialLogs(logs)("job-1")) == everything
    assert list(CloudWatchTrialLogs(logs, max_lines=4)("job-1")) == everything[:4]
    assert list(CloudWatchTrialLogs(logs, max_lines=3)("job-1")) == everything[:3]


def test_evaluation_tokens_are_claimed_once(aws: None) -> None:
    ddb = boto3.client("dynamodb")
    ddb.create_table(
        TableName="state",
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
        AttributeDefinitions=[
            {"AttributeName": "pk", "AttributeType": "S"},
            {"AttributeName": "sk", "AttributeType": "S"},
        ],
        BillingMode="PAY_PER_REQUEST",
    )
    tokens = DynamoEvaluationTokens(ddb, "state")
    job = ParkedJob("amtf-m-1-ev-0badc0de", "token", "m", "exec", datetime(2026, 11, 3, tzinfo=UTC))
    tokens.park(job, expires_at=1_800_000_000)
    assert tokens.claim(job.job_name) == job
    assert tokens.claim(job.job_name) is None
    assert ddb.scan(TableName="state")["Items"] == []


def test_the_registry_creates_the_group_once_and_registers_each_request(aws: None) -> None:
    sm = boto3.client("sagemaker")
    registry = SageMakerModelRegistry(sm)
    request: dict[str, Any] = {
        "ModelPackageGroupName": "amtf-cancer-xgb",
        "InferenceSpecification": {
            "Containers": [{"Image": "xgboost:1", "ModelDataUrl": "s3://b/model.tar.gz"}],
            "SupportedContentTypes": ["text/csv"],
            "SupportedResponseMIMETypes": ["text/csv"],
        },
        "ModelApprovalStatus": "PendingManualApproval",
        "ClientToken": "c0ffee00-0000-5000-8000-000000000000",
    }
    first = registry.register(request)
    second = registry.register({**request, "ClientToken": "c0ffee00-0000-5000-8000-000000000001"})
    assert first.endswith("model-package/amtf-cancer-xgb/1")
    assert second.endswith("model-package/amtf-cancer-xgb/2")
    assert len(sm.list_model_package_groups()["ModelPackageGroupSummaryList"]) == 1


def test_run_evidence_pages_through_the_trials_and_translates_throttling() -> None:
    sm = boto3.client("sagemaker", region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="x")
    stubber = Stubber(sm)
    summary = {
        "TrainingJobArn": "arn:aws:sagemaker:us-east-1:1:training-job/t",
        "CreationTime": datetime(2026, 11, 3, tzinfo=UTC),
        "TrainingJobStatus": "Completed",
        "TunedHyperParameters": {},
    }
    stubber.add_response(
        "list_training_jobs_for_hyper_parameter_tuning_job",
        {"TrainingJobSummaries": [{**summary, "TrainingJobName": "t-1"}], "NextToken": "next"},
        {"HyperParameterTuningJobName": "job", "MaxResults": 100},
    )
    stubber.add_response(
        "list_training_jobs_for_hyper_parameter_tuning_job",
        {"TrainingJobSummaries": [{**summary, "TrainingJobName": "t-2"}]},
        {"HyperParameterTuningJobName": "job", "MaxResults": 100, "NextToken": "next"},
    )
    stubber.add_client_error(
        "describe_hyper_parameter_tuning_job", service_error_code="ThrottlingException", http_status_code=400
    )
    with stubber:
        evidence = SageMakerRunEvidence(sm)
        assert [t["TrainingJobName"] for t in evidence.training_jobs("job")] == ["t-1", "t-2"]
        with pytest.raises(TransientError):
            evidence.describe_tuning_job("job")
