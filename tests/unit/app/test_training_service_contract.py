"""One contract, two implementations each: the in-memory trainers of the retraining and champion-evaluation
tests behave like the SageMaker adapters on training jobs (the local AMT engine serving them in-process with
a sub-second stand-in script): the job's ARN, its details or outcome while it runs and once it ended, and the
errors for a name taken or unknown."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from test_champion_evaluation import Jobs
from test_training_jobs import Trainer
from test_tuning_service_contract import IMAGE, SCRIPT

from amtflow.adapters import SageMakerTrainingJobs, SageMakerTuning
from amtflow.app import TrainingJobOutcome
from amtflow.errors import ConflictError, NotFoundError


def training_request(name: str, output: Path) -> dict[str, Any]:
    return {
        "TrainingJobName": name,
        "HyperParameters": {"epochs": "2", "x": "0.3", "kind": "a"},
        "AlgorithmSpecification": {
            "TrainingImage": IMAGE,
            "TrainingInputMode": "File",
            "MetricDefinitions": [{"Name": "loss", "Regex": "loss=([0-9.]+)"}],
        },
        "RoleArn": "arn:aws:iam::123456789012:role/amtflow-sagemaker",
        "OutputDataConfig": {"S3OutputPath": output.as_uri()},
        "ResourceConfig": {"InstanceType": "ml.m5.large", "InstanceCount": 1, "VolumeSizeInGB": 1},
        "StoppingCondition": {"MaxRuntimeInSeconds": 60},
    }


class World:
    """The trainers under test (``service``: create and describe; ``outcomes``: create and the outcome) and
    how a created job runs to its end."""

    def __init__(self, service: Any, outcomes: Any, output: Path, end: Any) -> None:
        self.service = service
        self.outcomes = outcomes
        self.output = output
        self.end = end


@pytest.fixture(scope="module", params=["in-memory", "engine"])
def world(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    out = tmp_path_factory.mktemp(f"training-{request.param}") / "out"
    if request.param == "in-memory":
        trainer, jobs = Trainer(), Jobs()

        def finish(name: str) -> None:
            # a finished job as the use-case tests end it: metrics, the model, the billed time
            if name in trainer.jobs:
                trainer.finish(
                    name,
                    "Completed",
                    final_metrics={"loss": 0.5},
                    model_artifacts=f"{out.as_uri()}/{name}/output/model.tar.gz",
                    training_seconds=1,
                    billable_seconds=1,
                )
            jobs.outcomes[name] = TrainingJobOutcome(name, "Completed", final_metrics={"loss": 0.5})

        yield World(trainer, jobs, out, finish)
        return
    from amtflow.local import sagemaker

    client = boto3.client("sagemaker", region_name="us-east-1")
    image_map = {"quad": f"{sys.executable} {SCRIPT}"}
    state = out.parent / "state"
    with sagemaker(state_dir=state, image_map=image_map, event_sink=lambda _: None) as engine:
        yield World(
            SageMakerTuning(client), SageMakerTrainingJobs(client), out, lambda name: engine.wait(name, 60)
        )


def test_a_created_training_job_runs_with_the_requested_hyperparameters(world: World) -> None:
    arn = world.service.create_training_job(training_request("Contract-Retrain", world.output))
    assert arn == "arn:aws:sagemaker:us-east-1:123456789012:training-job/contract-retrain"
    details = world.service.describe_training_job("Contract-Retrain")
    assert details.name == "Contract-Retrain"
    assert details.status in {"InProgress", "Completed"}
    assert details.hyperparameters.items() >= {"epochs": "2", "x": "0.3", "kind": "a"}.items()


def test_a_finished_training_job_has_its_metrics_and_model(world: World) -> None:
    world.service.create_training_job(training_request("contract-finished", world.output))
    world.end("contract-finished")
    details = world.service.describe_training_job("contract-finished")
    assert details.status == "Completed"
    assert set(details.final_metrics) == {"loss"}
    assert details.model_artifacts is not None
    assert details.model_artifacts.endswith("/contract-finished/output/model.tar.gz")
    assert details.training_seconds is not None
    assert details.billable_seconds is not None


def test_a_training_job_name_already_taken_is_a_conflict(world: World) -> None:
    world.service.create_training_job(training_request("contract-taken", world.output))
    with pytest.raises(ConflictError):
        world.service.create_training_job(training_request("contract-taken", world.output))
    world.outcomes.create_training_job(training_request("contract-taken-2", world.output))
    with pytest.raises(ConflictError):
        world.outcomes.create_training_job(training_request("contract-taken-2", world.output))


def test_a_training_job_that_does_not_exist_is_not_found(world: World) -> None:
    with pytest.raises(NotFoundError):
        world.service.describe_training_job("no-such-training-job")
    with pytest.raises(NotFoundError):
        world.outcomes.describe_outcome("no-such-training-job")


def test_an_evaluation_job_s_outcome_is_in_progress_then_its_final_metrics(world: World) -> None:
    world.outcomes.create_training_job(training_request("contract-evaluation", world.output))
    running = world.outcomes.describe_outcome("contract-evaluation")
    assert running.name == "contract-evaluation"
    assert running.status in {"InProgress", "Completed"}
    world.end("contract-evaluation")
    ended = world.outcomes.describe_outcome("contract-evaluation")
    assert (ended.status, set(ended.final_metrics), ended.failure_reason) == ("Completed", {"loss"}, None)
