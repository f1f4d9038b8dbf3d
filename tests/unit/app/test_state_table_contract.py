"""One contract, two implementations: the in-memory state table the use-case tests rely on behaves like the
DynamoDB adapter (moto) on locks and parked tokens."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import boto3
import pytest
from app_fakes import T0, StateTable
from moto import mock_aws
from samtranslator.yaml_helper import yaml_parse

from amtflow.adapters import DynamoStateTable
from amtflow.app import ParkedJob
from amtflow.errors import ConflictError

TEMPLATE = Path(__file__).resolve().parents[3] / "template.yaml"


def table_definition(logical_id: str) -> dict[str, Any]:
    """The table as template.yaml declares it (keys, attribute types, billing), so tests cannot drift."""
    props = yaml_parse(TEMPLATE.read_text())["Resources"][logical_id]["Properties"]
    return {k: props[k] for k in ("AttributeDefinitions", "KeySchema", "BillingMode")}


@pytest.fixture(params=["in-memory", "dynamodb"])
def store(request: pytest.FixtureRequest) -> Iterator[Any]:
    if request.param == "in-memory":
        yield StateTable()
        return
    with mock_aws():
        client = boto3.client("dynamodb", region_name="us-east-1")
        client.create_table(TableName="state", **table_definition("StateTable"))
        yield DynamoStateTable(client, "state")


def test_lock_contract(store: Any) -> None:
    assert store.acquire("m", "a", now=T0, ttl_seconds=60) == ("MODEL#m", "LOCK")
    store.acquire("m", "a", now=T0, ttl_seconds=60)
    with pytest.raises(ConflictError, match="a"):
        store.acquire("m", "b", now=T0, ttl_seconds=60)
    assert not store.release("m", "b")
    assert store.release("m", "a")
    assert not store.release("m", "a")
    store.acquire("m", "b", now=T0, ttl_seconds=60)
    store.acquire("m", "c", now=T0 + timedelta(seconds=61), ttl_seconds=60)


def test_token_contract(store: Any) -> None:
    first = ParkedJob("amtf-m-1", "token-1", "m", "exec-1", T0)
    store.park(first)
    store.park(ParkedJob("amtf-m-2", "token-2", "m", "exec-2", T0))
    store.park(ParkedJob("amtf-m-2", "token-2b", "m", "exec-2", T0))
    assert sorted((p.job_name, p.task_token) for p in store.parked()) == [
        ("amtf-m-1", "token-1"),
        ("amtf-m-2", "token-2b"),
    ]
    assert store.claim("amtf-m-1") == first
    assert store.claim("amtf-m-1") is None
    assert [p.job_name for p in store.parked()] == ["amtf-m-2"]
