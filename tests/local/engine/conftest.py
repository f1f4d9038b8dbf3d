"""Fixtures for the local AMT engine: a fast analytic training script and a request builder."""

from __future__ import annotations

import copy
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from moto import mock_aws

from amtflow import clients
from amtflow.local import sagemaker
from amtflow.local.engine import Engine

SCRIPT = Path(__file__).parent / "scripts" / "quad.py"
IMAGE = "123456789012.dkr.ecr.us-east-1.amazonaws.com/quad:1"
IMAGE_MAP = {"quad": f"{sys.executable} {SCRIPT}"}


def tuning_request(name: str = "tune-1", **overrides: Any) -> dict[str, Any]:
    """A valid CreateHyperParameterTuningJob request for the quad script (minimise ``loss``)."""
    req: dict[str, Any] = {
        "HyperParameterTuningJobName": name,
        "HyperParameterTuningJobConfig": {
            "Strategy": "Random",
            "HyperParameterTuningJobObjective": {"Type": "Minimize", "MetricName": "loss"},
            "ResourceLimits": {"MaxNumberOfTrainingJobs": 4, "MaxParallelTrainingJobs": 2},
            "ParameterRanges": {
                "ContinuousParameterRanges": [
                    {"Name": "x", "MinValue": "0", "MaxValue": "1", "ScalingType": "Linear"}
                ],
                "CategoricalParameterRanges": [{"Name": "kind", "Values": ["a", "b"]}],
            },
            "RandomSeed": 7,
        },
        "TrainingJobDefinition": {
            "StaticHyperParameters": {"epochs": "3"},
            "AlgorithmSpecification": {
                "TrainingImage": IMAGE,
                "TrainingInputMode": "File",
                "MetricDefinitions": [{"Name": "loss", "Regex": "loss=([0-9.]+)"}],
            },
            "RoleArn": "arn:aws:iam::123456789012:role/SageMakerRole",
            "OutputDataConfig": {"S3OutputPath": "file:///tmp/amtflow-engine-tests-unused"},
            "ResourceConfig": {"InstanceType": "ml.m5.large", "InstanceCount": 1, "VolumeSizeInGB": 1},
            "StoppingCondition": {"MaxRuntimeInSeconds": 60},
        },
    }
    for path, value in overrides.items():
        target = req
        keys = path.split("__")
        for key in keys[:-1]:
            target = target.setdefault(key, {})
        if value is None:
            target.pop(keys[-1], None)
        else:
            target[keys[-1]] = copy.deepcopy(value)
    return req


class Harness:
    def __init__(self, engine: Engine, client: Any, events: list[dict[str, Any]], tmp: Path) -> None:
        self.engine = engine
        self.sm = client
        self.events = events
        self.tmp = tmp

    def request(self, name: str = "tune-1", **overrides: Any) -> dict[str, Any]:
        req = tuning_request(name, **overrides)
        req["TrainingJobDefinition"]["OutputDataConfig"]["S3OutputPath"] = (self.tmp / "out").as_uri()
        return req

    def run(self, req: dict[str, Any], timeout: float = 60) -> dict[str, Any]:
        self.sm.create_hyper_parameter_tuning_job(**req)
        self.engine.wait(req["HyperParameterTuningJobName"], timeout)
        return self.describe(req["HyperParameterTuningJobName"])

    def describe(self, name: str) -> dict[str, Any]:
        return dict(self.sm.describe_hyper_parameter_tuning_job(HyperParameterTuningJobName=name))

    def trials(self, name: str) -> list[dict[str, Any]]:
        pages = self.sm.get_paginator("list_training_jobs_for_hyper_parameter_tuning_job").paginate(
            HyperParameterTuningJobName=name
        )
        return [s for page in pages for s in page["TrainingJobSummaries"]]


@pytest.fixture
def aws() -> Iterator[None]:
    """moto's ``mock_aws`` around the test, with amtflow's cached clients dropped on both sides."""
    clients.reset()
    with mock_aws():
        yield
    clients.reset()


@pytest.fixture
def harness(tmp_path: Path) -> Iterator[Harness]:
    events: list[dict[str, Any]] = []
    client = boto3.client("sagemaker", region_name="us-east-1")
    with sagemaker(state_dir=tmp_path / "state", image_map=IMAGE_MAP, event_sink=events.append) as engine:
        yield Harness(engine, client, events, tmp_path)
