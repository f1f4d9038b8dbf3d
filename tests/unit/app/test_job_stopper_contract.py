"""One contract, two implementations: stopping a tuning job (the reconciler's clean-up of a job no run waits
for) in the in-memory SageMaker and with the SageMaker adapter on the local AMT engine: a running job ends
stopped; stopping a job that ended, or one that never existed, is no error."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from app_fakes import SageMaker
from botocore.stub import Stubber
from test_tuning_service_contract import SCRIPT, tuning_request

from amtflow.adapters import SageMakerJobStopper, SageMakerTuning
from amtflow.app import TuningJobStatus
from amtflow.errors import ConfigurationError, TransientError


class World:
    def __init__(self, tuning: Any, stop: Any, wait: Any, output: Path) -> None:
        self.tuning = tuning
        self.stop = stop
        self.wait = wait
        self.output = output


@pytest.fixture(params=["in-memory", "engine"])
def world(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[World]:
    if request.param == "in-memory":
        fake = SageMaker()
        yield World(fake, fake.stop_tuning_job, lambda name: None, tmp_path / "out")
        return
    from amtflow.local import sagemaker

    client = boto3.client("sagemaker", region_name="us-east-1")
    image_map = {"quad": f"{sys.executable} {SCRIPT}"}
    with sagemaker(state_dir=tmp_path / "state", image_map=image_map, event_sink=lambda _: None) as engine:
        stopper = SageMakerJobStopper(client)
        yield World(
            SageMakerTuning(client),
            stopper.stop_tuning_job,
            lambda name: engine.wait(name, 60),
            tmp_path / "out",
        )


def test_a_running_job_is_stopped_and_a_second_stop_is_no_error(world: World) -> None:
    slow = tuning_request("contract-stop", world.output)
    slow["TrainingJobDefinition"]["StaticHyperParameters"]["sleep"] = "5"  # seconds per epoch
    world.tuning.create_tuning_job(slow)
    world.stop("contract-stop")
    world.stop("contract-stop")
    world.wait("contract-stop")
    assert world.tuning.describe_tuning_job("contract-stop").status is TuningJobStatus.STOPPED
    world.stop("contract-stop")


def test_stopping_a_job_that_does_not_exist_is_no_error(world: World) -> None:
    world.stop("no-such-job")


@pytest.mark.parametrize(
    ("code", "error"),
    [("ThrottlingException", TransientError), ("AccessDeniedException", ConfigurationError)],
)
def test_a_stop_sagemaker_refuses_is_a_domain_error(code: str, error: type[Exception]) -> None:
    client = boto3.client("sagemaker", region_name="us-east-1")
    with Stubber(client) as stub:
        stub.add_client_error(
            "stop_hyper_parameter_tuning_job", service_error_code=code, http_status_code=400
        )
        with pytest.raises(error):
            SageMakerJobStopper(client).stop_tuning_job("contract-stop")
