"""The trigger router is idempotent per EventBridge event: a redelivery gets the first answer."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import boto3
import pytest
from app_fakes import Datasets, Executions, profiles
from aws_lambda_powertools.utilities.idempotency import DynamoDBPersistenceLayer
from moto import mock_aws
from samtranslator.yaml_helper import yaml_parse

from amtflow.app import ExecutionStart, StartRun
from amtflow.wiring import idempotent_route

ROOT = Path(__file__).resolve().parents[3]
PROFILE = (ROOT / "examples" / "xgboost" / "profile.yaml").read_text()
MODEL = "cancer-xgb"


def marker_event(event_id: str, version: str = "v1") -> dict[str, Any]:
    return {
        "version": "0",
        "id": event_id,
        "detail-type": "Object Created",
        "source": "aws.s3",
        "account": "123456789012",
        "time": "2026-11-02T09:30:00Z",
        "region": "us-east-1",
        "resources": ["arn:aws:s3:::data"],
        "detail": {"bucket": {"name": "data"}, "object": {"key": f"datasets/{MODEL}/{version}/_READY"}},
    }


@pytest.fixture
def store() -> Iterator[tuple[DynamoDBPersistenceLayer, Any]]:
    props = yaml_parse((ROOT / "template.yaml").read_text())["Resources"]["IdempotencyTable"]["Properties"]
    with mock_aws():
        client = boto3.client("dynamodb", region_name="us-east-1")
        client.create_table(
            TableName="idempotency",
            **{k: props[k] for k in ("AttributeDefinitions", "KeySchema", "BillingMode")},
        )
        yield DynamoDBPersistenceLayer(table_name="idempotency", boto3_client=client), client


class CountingExecutions(Executions):
    def __init__(self) -> None:
        super().__init__()
        self.calls = 0

    def start(self, name: str, run_input: Mapping[str, Any]) -> ExecutionStart:
        self.calls += 1
        return super().start(name, run_input)


def router(executions: Executions) -> StartRun:
    return StartRun(
        profiles=profiles(PROFILE),
        datasets=Datasets(),
        executions=executions,
        execution_namer=lambda model, version: f"{model}-{version}",
        data_bucket="data",
    )


def test_a_redelivered_event_gets_the_first_answer_and_starts_nothing(
    store: tuple[DynamoDBPersistenceLayer, Any],
) -> None:
    executions = CountingExecutions()
    route = idempotent_route(router(executions), store[0])
    first = route(marker_event("event-1"), None)
    again = route(marker_event("event-1"), None)

    assert first == again == {"executions": [{"name": f"{MODEL}-v1", "outcome": "started"}], "ignored": ""}
    assert executions.calls == 1  # the redelivery did not even try StartExecution
    assert store[1].scan(TableName="idempotency")["Count"] == 1


def test_another_event_for_the_same_version_meets_the_execution_name(
    store: tuple[DynamoDBPersistenceLayer, Any],
) -> None:
    """The marker uploaded again is a new event (new id): routed; the execution name makes it a duplicate."""
    executions = CountingExecutions()
    route = idempotent_route(router(executions), store[0])
    route(marker_event("event-1"), None)
    second = route(marker_event("event-2"), None)
    assert second["executions"] == [{"name": f"{MODEL}-v1", "outcome": "duplicate"}]
    assert route(marker_event("event-3", version="v2"), None)["executions"][0]["outcome"] == "started"


def test_without_an_idempotency_table_every_delivery_is_routed() -> None:
    executions = CountingExecutions()
    route = idempotent_route(router(executions), None)
    first = route(marker_event("event-1"), None)
    # Step Functions answers the same name and input, while that execution runs, like the first start
    assert route(marker_event("event-1"), None) == first
    assert executions.calls == 2
    assert len(executions.started) == 1
    executions.end(f"{MODEL}-v1")
    assert route(marker_event("event-1"), None)["executions"][0]["outcome"] == "duplicate"
