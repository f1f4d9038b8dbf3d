"""One contract, two implementations: the in-memory trial logs the evaluation tests diagnose from behave like
the CloudWatch Logs reader (moto): every stream of a training job (one per instance) in name order, read
from the head, bounded, and NotFoundError for a job without a log."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from app_fakes import TrialLogs
from moto import mock_aws

from amtflow.adapters import CloudWatchTrialLogs
from amtflow.errors import NotFoundError

GROUP = "/aws/sagemaker/TrainingJobs"
LINES = [f"[{i}]#011train-auc:0.8{i}#011validation-auc:0.7{i}" for i in range(7)]
OTHER = "another instance"


class World:
    def __init__(self, read: Any, write: Any) -> None:
        self.read = read
        self.write = write
        """``(job, lines)``: the job's log as its first instance wrote it, with a second instance's line."""


@pytest.fixture(params=["in-memory", "cloudwatch"])
def world(request: pytest.FixtureRequest) -> Iterator[World]:
    if request.param == "in-memory":
        logs: dict[str, list[str]] = {}
        yield World(
            lambda **kw: TrialLogs(logs, **kw), lambda job, lines: logs.__setitem__(job, [*lines, OTHER])
        )
        return
    with mock_aws():
        client = boto3.client("logs", region_name="us-east-1")
        client.create_log_group(logGroupName=GROUP)

        def write(job: str, lines: list[str]) -> None:
            now = int(time.time() * 1000)  # CloudWatch Logs refuses events older than 14 days
            for stream in (f"{job}/algo-2-1700000000", f"{job}/algo-1-1700000000"):
                client.create_log_stream(logGroupName=GROUP, logStreamName=stream)
                events = [{"timestamp": now + i, "message": m} for i, m in enumerate(lines)]
                if stream.endswith("algo-2-1700000000"):
                    events = [{"timestamp": now, "message": OTHER}]
                client.put_log_events(logGroupName=GROUP, logStreamName=stream, logEvents=events)

        yield World(lambda **kw: CloudWatchTrialLogs(client, **kw), write)


def test_a_trial_s_log_is_every_instance_s_lines_in_stream_order_from_the_head(world: World) -> None:
    world.write("amtf-m-1-001-0a1b2c3d", LINES)
    assert list(world.read()("amtf-m-1-001-0a1b2c3d")) == [*LINES, OTHER]


def test_a_long_log_is_cut_to_its_head(world: World) -> None:
    world.write("amtf-m-1-001-0a1b2c3d", LINES)
    assert list(world.read(max_lines=3)("amtf-m-1-001-0a1b2c3d")) == LINES[:3]


def test_a_trial_without_a_log_is_not_found(world: World) -> None:
    world.write("amtf-m-1-001-0a1b2c3d", LINES)
    with pytest.raises(NotFoundError, match="amtf-m-1-002-99999999"):
        world.read()("amtf-m-1-002-99999999")
