"""Stopping ``amtflow local serve`` stops the jobs it runs, and says so."""

from __future__ import annotations

import signal
import time
from typing import Any

import boto3

from amtflow.local.engine import Engine

from .support import CLIENT_ENV, Service


def _client(service: Service) -> Any:
    return boto3.client(
        "sagemaker",
        endpoint_url=service.url,
        region_name="us-east-1",
        aws_access_key_id=CLIENT_ENV["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=CLIENT_ENV["AWS_SECRET_ACCESS_KEY"],
    )


def test_sigterm_stops_running_jobs_and_exits_0(service: Service) -> None:
    client = _client(service)
    client.create_hyper_parameter_tuning_job(**service.request("long-job", epochs="200", sleep="0.25"))
    deadline = time.monotonic() + 60
    while True:
        job = client.describe_hyper_parameter_tuning_job(HyperParameterTuningJobName="long-job")
        if job["TrainingJobStatusCounters"]["InProgress"] >= 1:
            break
        assert time.monotonic() < deadline, job
        time.sleep(0.25)

    code, printed = service.stop(signal.SIGTERM)

    assert code == 0, printed
    assert "stopping 1 running tuning job(s): long-job" in printed
    assert "long-job Stopped" in printed
    assert printed.rstrip().endswith("amtflow local serve: stopped")
    kept = Engine(service.state_dir, read_only=True, event_sink=lambda entry: None)
    answer = kept.handle("DescribeHyperParameterTuningJob", {"HyperParameterTuningJobName": "long-job"})
    assert answer["HyperParameterTuningJobStatus"] == "Stopped"
    assert answer["TrainingJobStatusCounters"]["InProgress"] == 0
    assert not (service.state_dir / "serve.lock").read_text().strip()  # the state directory is free again
