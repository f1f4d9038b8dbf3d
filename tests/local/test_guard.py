"""Nothing leaves the machine: under the local engine and in the twin, an AWS call nothing local serves is
refused with an error naming it, and no connection is ever opened (the socket layer is patched to tell)."""

from __future__ import annotations

import logging
import socket
import sys
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import boto3
import botocore.endpoint
import pytest
import urllib3.connection
from botocore.exceptions import ClientError

from amtflow.errors import AmtflowError
from amtflow.local import _guard, sagemaker
from amtflow.local.engine._hook import GUARD
from amtflow.local.twin import ManualClock, SageMakerFactory, Twin

ROOT = Path(__file__).parent
QUAD = ROOT / "engine" / "scripts" / "quad.py"
TWIN_APP = ROOT / "twin" / "fixtures" / "app"

#: Credentials as real ones look: a call that got through would be signed and sent.
REAL_LOOKING = {
    "AWS_ACCESS_KEY_ID": "AKIAIOSFODNN7EXAMPLE",
    "AWS_SECRET_ACCESS_KEY": "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
    "AWS_DEFAULT_REGION": "us-east-1",
}


@pytest.fixture
def connections(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Every connection attempt, recorded and failed: name lookups, sockets, urllib3 connections."""
    attempts: list[str] = []

    def refuse(name: str) -> Callable[..., Any]:
        def attempt(*args: Any, **kwargs: Any) -> Any:
            attempts.append(f"{name}{args[1:] if name.startswith('socket.socket') else args}")
            raise OSError(f"test: {name} is not allowed")

        return attempt

    for key, value in REAL_LOOKING.items():
        monkeypatch.setenv(key, value)
    for key in ("AWS_SESSION_TOKEN", "AWS_SECURITY_TOKEN"):
        monkeypatch.delenv(key, raising=False)
    monkeypatch.setattr(socket.socket, "connect", refuse("socket.socket.connect"))
    monkeypatch.setattr(socket.socket, "connect_ex", refuse("socket.socket.connect_ex"))
    monkeypatch.setattr(socket, "create_connection", refuse("socket.create_connection"))
    monkeypatch.setattr(socket, "getaddrinfo", refuse("socket.getaddrinfo"))
    monkeypatch.setattr(urllib3.connection.HTTPConnection, "connect", refuse("urllib3 connect"))
    return attempts


def training_request(name: str, tmp: Path) -> dict[str, Any]:
    return {
        "TrainingJobName": name,
        "AlgorithmSpecification": {"TrainingImage": "quad", "TrainingInputMode": "File"},
        "HyperParameters": {"epochs": "1"},
        "RoleArn": "arn:aws:iam::123456789012:role/SageMakerRole",
        "OutputDataConfig": {"S3OutputPath": (tmp / "out").as_uri()},
        "ResourceConfig": {"InstanceType": "ml.m5.large", "InstanceCount": 1, "VolumeSizeInGB": 1},
        "StoppingCondition": {"MaxRuntimeInSeconds": 60},
    }


# ---------------------------------------------------------------------------------------------- engine


def test_engine_refuses_sagemaker_calls_it_does_not_serve_without_a_connection(
    connections: list[str], tmp_path: Path
) -> None:
    before = boto3.client("sagemaker")  # created before the engine: covered all the same
    with sagemaker(state_dir=tmp_path / "state", event_sink=lambda e: None):
        after = boto3.client("sagemaker")
        for client in (before, after):
            with pytest.raises(_guard.NotServedLocallyError) as refused:
                client.list_compilation_jobs()
            assert (refused.value.service, refused.value.operation) == ("sagemaker", "ListCompilationJobs")
            assert "ListCompilationJobs is not emulated locally" in str(refused.value)
            assert "amtflow.local.sagemaker" in str(refused.value)
        runtime = boto3.client("sagemaker-runtime")
        with pytest.raises(_guard.NotServedLocallyError) as refused:
            runtime.invoke_endpoint_async(EndpointName="e", InputLocation="s3://bucket/input.csv")
        assert refused.value.operation == "InvokeEndpointAsync"
        assert isinstance(refused.value, AmtflowError)
        with pytest.raises(ClientError) as unknown:  # InvokeEndpoint is served: no such endpoint here
            runtime.invoke_endpoint(EndpointName="e", Body=b"1")
        assert unknown.value.response["Error"]["Code"] == "ValidationError"

        # the served operations still answer, in process
        assert after.list_hyper_parameter_tuning_jobs()["HyperParameterTuningJobSummaries"] == []
        with pytest.raises(ClientError) as missing:
            before.describe_training_job(TrainingJobName="nope")
        assert missing.value.response["Error"]["Code"] == "ResourceNotFound"
    assert connections == []


def test_engine_events_without_a_sink_never_reach_a_real_bus(
    connections: list[str], tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    image_map = {"quad": f"{sys.executable} {QUAD}"}
    with caplog.at_level(logging.WARNING), sagemaker(state_dir=tmp_path / "state", image_map=image_map):
        sm = boto3.client("sagemaker")
        sm.create_training_job(**training_request("t-1", tmp_path))
        assert sm.describe_training_job(TrainingJobName="t-1")["TrainingJobName"] == "t-1"

    refusals = [
        r.exc_info[1]
        for r in caplog.records
        if r.exc_info and isinstance(r.exc_info[1], _guard.NotServedLocallyError)
    ]
    assert refusals, "the engine's own PutEvents was not refused"
    assert {(e.service, e.operation) for e in refusals} == {("events", "PutEvents")}
    assert "event_sink" in str(refusals[0])
    assert connections == []


def test_engine_leaves_other_services_to_the_caller_and_removes_the_guard_on_exit(tmp_path: Path) -> None:
    original_send = botocore.endpoint.Endpoint._send
    with sagemaker(state_dir=tmp_path / "state", event_sink=lambda e: None):
        assert botocore.endpoint.Endpoint._send is not original_send
        assert _guard.refusal("s3", "GetObject", "https://s3.amazonaws.com/b/k") is None
        assert _guard.refusal("sagemaker", "ListApps", "https://api.sagemaker.us-east-1.amazonaws.com/")
        # a server on this machine is not "leaving the machine"
        assert _guard.refusal("sagemaker", "ListApps", "http://127.0.0.1:8080/") is None
        assert _guard.refusal("sagemaker", "ListApps", "http://localhost:8080/") is None
        assert GUARD.covers("sagemaker-metrics")
        assert not GUARD.covers("s3")
    assert botocore.endpoint.Endpoint._send is original_send


# ---------------------------------------------------------------------------------------------- twin


@pytest.fixture
def twin(no_sagemaker: SageMakerFactory) -> Iterator[Twin]:
    with Twin.start(
        TWIN_APP,
        sagemaker=no_sagemaker,
        clock=ManualClock(datetime(2026, 11, 1, tzinfo=UTC)),
        parameters={"Stage": "test"},
    ) as t:
        yield t


def test_twin_refuses_every_call_nothing_local_serves_without_a_connection(
    twin: Twin, connections: list[str]
) -> None:
    from moto.core.models import botocore_stubber

    # a service moto does not mock
    with pytest.raises(_guard.NotServedLocallyError) as refused:
        boto3.client("braket").search_devices(filters=[])
    assert (refused.value.service, refused.value.operation) == ("braket", "SearchDevices")
    assert "the twin" in str(refused.value)

    # an operation moto does not mock, of a service it does
    with pytest.raises(_guard.NotServedLocallyError) as refused:
        twin.client("sagemaker").list_apps()
    assert refused.value.operation == "ListApps"

    # a client moto does not intercept (as one created before moto was imported)
    unhooked = boto3.client("sqs")
    unhooked.meta.events.unregister("before-send", botocore_stubber)
    with pytest.raises(_guard.NotServedLocallyError) as refused:
        unhooked.list_queues()
    assert (refused.value.service, refused.value.operation) == ("sqs", "ListQueues")

    # what moto serves still works
    assert twin.physical_id("DataBucket") in {b["Name"] for b in twin.client("s3").list_buckets()["Buckets"]}
    assert connections == []
