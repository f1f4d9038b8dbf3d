"""One contract, two implementations: the in-memory SageMaker the use-case tests drive behaves like the
SageMaker adapter on tuning jobs: creating one, describing it, ranking and listing its training jobs,
describing a training job, and the errors for names taken or unknown.

moto's SageMaker keeps no training jobs for a tuning job, so the adapter runs against the local AMT engine
(``amtflow.local.sagemaker``), which serves the tuning API in-process with real (sub-second) trials of a
stand-in script; one finished job is shared by the module's read-only checks.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from app_fakes import SageMaker, trial

from amtflow.adapters import SageMakerTuning
from amtflow.app import TuningJobStatus
from amtflow.errors import ConflictError, NotFoundError

SCRIPT = Path(__file__).resolve().parents[2] / "local" / "engine" / "scripts" / "quad.py"
IMAGE = "123456789012.dkr.ecr.us-east-1.amazonaws.com/quad:1"
FINISHED = "contract-tune"
TRIALS = 4


def tuning_request(name: str, output: Path) -> dict[str, Any]:
    """A CreateHyperParameterTuningJob request for the stand-in script (minimise ``loss``)."""
    return {
        "HyperParameterTuningJobName": name,
        "HyperParameterTuningJobConfig": {
            "Strategy": "Random",
            "HyperParameterTuningJobObjective": {"Type": "Minimize", "MetricName": "loss"},
            "ResourceLimits": {"MaxNumberOfTrainingJobs": TRIALS, "MaxParallelTrainingJobs": 2},
            "ParameterRanges": {
                "ContinuousParameterRanges": [
                    {"Name": "x", "MinValue": "0", "MaxValue": "1", "ScalingType": "Linear"}
                ],
                "CategoricalParameterRanges": [{"Name": "kind", "Values": ["a", "b"]}],
            },
            "RandomSeed": 7,
        },
        "TrainingJobDefinition": {
            "StaticHyperParameters": {"epochs": "2"},
            "AlgorithmSpecification": {
                "TrainingImage": IMAGE,
                "TrainingInputMode": "File",
                "MetricDefinitions": [{"Name": "loss", "Regex": "loss=([0-9.]+)"}],
            },
            "RoleArn": "arn:aws:iam::123456789012:role/amtflow-sagemaker",
            "OutputDataConfig": {"S3OutputPath": output.as_uri()},
            "ResourceConfig": {"InstanceType": "ml.m5.large", "InstanceCount": 1, "VolumeSizeInGB": 1},
            "StoppingCondition": {"MaxRuntimeInSeconds": 60},
        },
    }


class World:
    """The tuning service under test, and how a created job runs to its end."""

    def __init__(self, service: Any, output: Path) -> None:
        self.service = service
        self.output = output

    def request(self, name: str) -> dict[str, Any]:
        return tuning_request(name, self.output)

    def run_to_end(self, name: str) -> None:
        raise NotImplementedError


class FakeWorld(World):
    """The fake's job ends as the use-case tests end it: trials recorded, the best named, status set."""

    def run_to_end(self, name: str) -> None:
        sm: SageMaker = self.service
        values = [1.42, 0.83, None, 1.15]  # one trial reported no objective
        sm.trials[name] = [
            trial(f"{name}-{i:03d}-0000000{i}", v, x=f"0.{i}", kind="ab"[i % 2])
            for i, v in enumerate(values, 1)
        ]
        best = min(
            (t for t in sm.trials[name] if t.objective_value is not None),
            key=lambda t: t.objective_value or 0,
        )
        sm.finish(
            name,
            TuningJobStatus.COMPLETED,
            best=best,
            training_jobs={"Completed": len(values), "InProgress": 0, "Stopped": 0},
        )


class EngineWorld(World):
    def __init__(self, service: Any, output: Path, engine: Any) -> None:
        super().__init__(service, output)
        self.engine = engine

    def run_to_end(self, name: str) -> None:
        self.engine.wait(name, 120)


@pytest.fixture(scope="module", params=["in-memory", "engine"])
def world(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    tmp = tmp_path_factory.mktemp(f"tuning-{request.param}")
    if request.param == "in-memory":
        fake = FakeWorld(SageMaker(), tmp / "out")
        fake.service.create_tuning_job(fake.request(FINISHED))
        fake.run_to_end(FINISHED)
        yield fake
        return
    from amtflow.local import sagemaker

    events: list[dict[str, Any]] = []
    client = boto3.client("sagemaker", region_name="us-east-1")
    image_map = {"quad": f"{sys.executable} {SCRIPT}"}
    with sagemaker(state_dir=tmp / "state", image_map=image_map, event_sink=events.append) as engine:
        real = EngineWorld(SageMakerTuning(client), tmp / "out", engine)
        real.service.create_tuning_job(real.request(FINISHED))
        real.run_to_end(FINISHED)
        yield real


def test_a_created_job_is_in_progress_with_the_requested_objective(world: World) -> None:
    arn = world.service.create_tuning_job(world.request("Contract-New"))
    assert arn == "arn:aws:sagemaker:us-east-1:123456789012:hyper-parameter-tuning-job/contract-new"
    job = world.service.describe_tuning_job("Contract-New")
    assert (job.name, job.status, job.best) == ("Contract-New", TuningJobStatus.IN_PROGRESS, None)
    assert (job.objective_metric, job.objective_type) == ("loss", "Minimize")


def test_a_name_already_taken_is_a_conflict(world: World) -> None:
    with pytest.raises(ConflictError):
        world.service.create_tuning_job(world.request(FINISHED))


def test_a_job_that_does_not_exist_is_not_found(world: World) -> None:
    service = world.service
    with pytest.raises(NotFoundError):
        service.describe_tuning_job("no-such-job")
    with pytest.raises(NotFoundError):
        service.top_training_jobs("no-such-job", objective_type="Minimize", limit=3)
    with pytest.raises(NotFoundError):
        service.training_job_names("no-such-job", limit=3)
    with pytest.raises(NotFoundError):
        service.describe_training_job("no-such-job-001-00000000")


def test_a_finished_job_names_its_best_trial_and_counts_its_trials(world: World) -> None:
    job = world.service.describe_tuning_job(FINISHED)
    assert job.status is TuningJobStatus.COMPLETED
    assert job.status.is_terminal()
    assert job.best is not None
    assert job.best.objective_value is not None
    assert job.best.hyperparameters.keys() == {"x", "kind"}
    assert job.training_jobs["Completed"] == TRIALS


@pytest.mark.parametrize("limit", [1, 2, 10])
def test_the_top_trials_are_ranked_by_the_objective_best_first(world: World, limit: int) -> None:
    job = world.service.describe_tuning_job(FINISHED)
    top = world.service.top_training_jobs(FINISHED, objective_type="Minimize", limit=limit)
    values = [t.objective_value for t in top]
    assert 1 <= len(top) <= limit
    assert None not in values
    assert values == sorted(values)  # type: ignore[type-var]
    assert (top[0].name, top[0].objective_value) == (job.best.name, job.best.objective_value)
    assert top[0].hyperparameters == job.best.hyperparameters


def test_the_training_jobs_are_listed_oldest_first_up_to_the_limit(world: World) -> None:
    names = world.service.training_job_names(FINISHED, limit=10)
    assert len(names) == TRIALS
    assert list(names) == sorted(names)  # launched in order: <job>-001-..., <job>-002-...
    assert all(n.startswith(f"{FINISHED}-") for n in names)
    assert world.service.training_job_names(FINISHED, limit=2) == names[:2]


def test_the_best_trial_is_described_with_its_hyperparameters_metrics_and_tuning_job(world: World) -> None:
    best = world.service.describe_tuning_job(FINISHED).best
    details = world.service.describe_training_job(best.name)
    assert (details.name, details.status) == (best.name, "Completed")
    assert details.hyperparameters.items() >= best.hyperparameters.items()
    assert details.final_metrics["loss"] == pytest.approx(best.objective_value)
    assert (
        details.tuning_job_arn
        == f"arn:aws:sagemaker:us-east-1:123456789012:hyper-parameter-tuning-job/{FINISHED}"
    )
    assert details.model_artifacts
    assert details.training_image
    assert details.training_seconds is not None
    assert details.instance_count >= 1
