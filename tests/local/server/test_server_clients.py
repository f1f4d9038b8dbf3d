"""``amtflow local serve`` driven by real clients in other processes: the AWS CLI and boto3."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import textwrap
import time
from pathlib import Path
from typing import Any

import boto3
import pytest

from .support import CLIENT_ENV, Service, client_env

AWS = Path(sys.executable).parent / "aws"

pytestmark = pytest.mark.skipif(
    not AWS.exists() and shutil.which("aws") is None, reason="the AWS CLI (pip install awscli) is needed"
)


def aws(service: Service, *args: str) -> subprocess.CompletedProcess[str]:
    command = [str(AWS) if AWS.exists() else "aws", "sagemaker", *args]
    command += ["--endpoint-url", service.url, "--region", "us-east-1", "--output", "json"]
    return subprocess.run(command, capture_output=True, text=True, env=client_env(), timeout=60)


def sagemaker(service: Service) -> Any:
    return boto3.client(
        "sagemaker",
        endpoint_url=service.url,
        region_name="us-east-1",
        aws_access_key_id=CLIENT_ENV["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=CLIENT_ENV["AWS_SECRET_ACCESS_KEY"],
    )


def wait_for(client: Any, name: str, timeout: float = 60) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        job = client.describe_hyper_parameter_tuning_job(HyperParameterTuningJobName=name)
        if job["HyperParameterTuningJobStatus"] in ("Completed", "Failed", "Stopped"):
            return dict(job)
        assert time.monotonic() < deadline, f"{name} still {job['HyperParameterTuningJobStatus']}"
        time.sleep(0.5)


def test_aws_cli_creates_lists_and_describes_a_tuning_job(shared_service: Service, tmp_path: Path) -> None:
    request = tmp_path / "request.json"
    request.write_text(json.dumps(shared_service.request("cli-job")))

    created = aws(shared_service, "create-hyper-parameter-tuning-job", "--cli-input-json", request.as_uri())
    assert created.returncode == 0, created.stderr
    assert json.loads(created.stdout)["HyperParameterTuningJobArn"].endswith(
        ":hyper-parameter-tuning-job/cli-job"
    )

    listed = aws(shared_service, "list-hyper-parameter-tuning-jobs")
    assert listed.returncode == 0, listed.stderr
    names = [
        s["HyperParameterTuningJobName"]
        for s in json.loads(listed.stdout)["HyperParameterTuningJobSummaries"]
    ]
    assert "cli-job" in names

    job = wait_for(sagemaker(shared_service), "cli-job")
    assert job["HyperParameterTuningJobStatus"] == "Completed", job.get("FailureReason")
    described = aws(
        shared_service, "describe-hyper-parameter-tuning-job", "--hyper-parameter-tuning-job-name", "cli-job"
    )
    assert described.returncode == 0, described.stderr
    body = json.loads(described.stdout)
    assert body["HyperParameterTuningJobStatus"] == "Completed"
    assert body["TrainingJobStatusCounters"]["Completed"] == 2
    assert abs(body["CreationTime"] - time.time()) < 600  # epoch seconds, as the CLI prints them raw


def test_aws_cli_sees_service_errors_with_their_codes(shared_service: Service) -> None:
    missing = aws(
        shared_service, "describe-hyper-parameter-tuning-job", "--hyper-parameter-tuning-job-name", "nope"
    )
    assert missing.returncode != 0
    assert "(ResourceNotFound)" in missing.stderr

    unknown = aws(shared_service, "list-transform-jobs")
    assert unknown.returncode != 0
    assert "(UnknownOperationException)" in unknown.stderr
    assert "SageMaker.ListTransformJobs is not served" in unknown.stderr


def test_jobs_outlive_the_boto3_process_that_created_them(shared_service: Service) -> None:
    request = shared_service.request("boto3-job")
    creator = textwrap.dedent(
        f"""
        import json, boto3
        client = boto3.client("sagemaker", endpoint_url={shared_service.url!r}, region_name="eu-west-1")
        answer = client.create_hyper_parameter_tuning_job(**json.loads({json.dumps(request)!r}))
        print(answer["HyperParameterTuningJobArn"])
        """
    )
    done = subprocess.run(
        [sys.executable, "-c", creator], capture_output=True, text=True, env=client_env(), timeout=60
    )
    assert done.returncode == 0, done.stderr
    # The region of the request's signature is the region of the ARN.
    assert done.stdout.strip() == (
        "arn:aws:sagemaker:eu-west-1:123456789012:hyper-parameter-tuning-job/boto3-job"
    )

    client = sagemaker(shared_service)
    job = wait_for(client, "boto3-job")
    assert job["HyperParameterTuningJobStatus"] == "Completed", job.get("FailureReason")
    assert job["BestTrainingJob"]["FinalHyperParameterTuningJobObjectiveMetric"]["MetricName"] == "loss"
    trials = client.list_training_jobs_for_hyper_parameter_tuning_job(HyperParameterTuningJobName="boto3-job")
    assert [t["TrainingJobStatus"] for t in trials["TrainingJobSummaries"]] == ["Completed", "Completed"]
    trial = client.describe_training_job(TrainingJobName=trials["TrainingJobSummaries"][0]["TrainingJobName"])
    model = Path(trial["ModelArtifacts"]["S3ModelArtifacts"].removeprefix("file://"))
    assert model.is_file()  # the model was written to the file:// output folder
