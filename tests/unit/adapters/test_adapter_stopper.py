"""Stopping an orphaned tuning job: idempotent, throttling transient."""

from __future__ import annotations

import boto3
import pytest
from botocore.stub import Stubber

from amtflow.adapters import SageMakerJobStopper
from amtflow.errors import TransientError


def client() -> object:
    return boto3.client(
        "sagemaker", region_name="us-east-1", aws_access_key_id="t", aws_secret_access_key="t"
    )


def test_stop_names_the_job() -> None:
    sm = client()
    with Stubber(sm) as stub:
        stub.add_response("stop_hyper_parameter_tuning_job", {}, {"HyperParameterTuningJobName": "amtf-m-1"})
        SageMakerJobStopper(sm).stop_tuning_job("amtf-m-1")  # type: ignore[arg-type]
        stub.assert_no_pending_responses()


@pytest.mark.parametrize("code", ["ValidationException", "ResourceNotFound"])
def test_a_job_that_already_ended_is_no_error(code: str) -> None:
    sm = client()
    with Stubber(sm) as stub:
        stub.add_client_error("stop_hyper_parameter_tuning_job", code)
        SageMakerJobStopper(sm).stop_tuning_job("amtf-m-1")  # type: ignore[arg-type]


def test_throttling_is_transient() -> None:
    sm = client()
    with Stubber(sm) as stub:
        stub.add_client_error("stop_hyper_parameter_tuning_job", "ThrottlingException")
        with pytest.raises(TransientError):
            SageMakerJobStopper(sm).stop_tuning_job("amtf-m-1")  # type: ignore[arg-type]
