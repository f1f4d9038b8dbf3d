"""DynamoStateTable against moto: locks are exclusive, re-entrant and expire; tokens are claimed once."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import boto3
import pytest
from moto import mock_aws
from samtranslator.yaml_helper import yaml_parse

from amtflow.adapters import DynamoStateTable
from amtflow.app import ParkedJob
from amtflow.errors import ConflictError, ModelBusyError

T0 = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)


TEMPLATE = Path(__file__).resolve().parents[3] / "template.yaml"


def table_definition(logical_id: str) -> dict[str, Any]:
    """The table as template.yaml declares it (keys, attribute types, billing), so tests cannot drift."""
    props = yaml_parse(TEMPLATE.read_text())["Resources"][logical_id]["Properties"]
    return {k: props[k] for k in ("AttributeDefinitions", "KeySchema", "BillingMode")}


@pytest.fixture
def table() -> Iterator[tuple[DynamoStateTable, Any]]:
    with mock_aws():
        client = boto3.client("dynamodb", region_name="us-east-1")
        client.create_table(TableName="state", **table_definition("StateTable"))
        yield DynamoStateTable(client, "state"), client


def test_the_lock_is_exclusive_and_names_its_holder(table: tuple[DynamoStateTable, Any]) -> None:
    store, _ = table
    assert store.acquire("m", "run-a", now=T0, ttl_seconds=3600) == ("MODEL#m", "LOCK")
    with pytest.raises(ConflictError, match="locked by run run-a"):
        store.acquire("m", "run-b", now=T0, ttl_seconds=3600)
    store.acquire("other-model", "run-b", now=T0, ttl_seconds=3600)


def test_the_lock_is_re_entrant_and_expires(table: tuple[DynamoStateTable, Any]) -> None:
    store, _ = table
    store.acquire("m", "run-a", now=T0, ttl_seconds=60)
    store.acquire("m", "run-a", now=T0, ttl_seconds=60)
    store.acquire("m", "run-b", now=T0 + timedelta(seconds=61), ttl_seconds=60)
    assert not store.release("m", "run-a")
    assert store.release("m", "run-b")


def test_release_only_frees_ones_own_lock(table: tuple[DynamoStateTable, Any]) -> None:
    store, client = table
    store.acquire("m", "run-a", now=T0, ttl_seconds=3600)
    assert not store.release("m", "run-b")
    assert client.get_item(TableName="state", Key={"pk": {"S": "MODEL#m"}, "sk": {"S": "LOCK"}}).get("Item")
    assert store.release("m", "run-a")
    assert not client.get_item(TableName="state", Key={"pk": {"S": "MODEL#m"}, "sk": {"S": "LOCK"}}).get(
        "Item"
    )


def test_the_release_the_state_machine_does_matches_the_adapters_items(
    table: tuple[DynamoStateTable, Any],
) -> None:
    """ReleaseLock in the ASL deletes {pk, sk} on condition #owner = :owner: the same item, the same rule."""
    store, client = table
    pk, sk = store.acquire("m", "run-a", now=T0, ttl_seconds=3600)
    with pytest.raises(client.exceptions.ConditionalCheckFailedException):
        client.delete_item(
            TableName="state",
            Key={"pk": {"S": pk}, "sk": {"S": sk}},
            ConditionExpression="#owner = :owner",
            ExpressionAttributeNames={"#owner": "owner"},
            ExpressionAttributeValues={":owner": {"S": "run-b"}},
        )
    client.delete_item(
        TableName="state",
        Key={"pk": {"S": pk}, "sk": {"S": sk}},
        ConditionExpression="#owner = :owner",
        ExpressionAttributeNames={"#owner": "owner"},
        ExpressionAttributeValues={":owner": {"S": "run-a"}},
    )
    store.acquire("m", "run-b", now=T0, ttl_seconds=3600)


def test_a_parked_token_is_listed_then_claimed_exactly_once(table: tuple[DynamoStateTable, Any]) -> None:
    store, _ = table
    job = ParkedJob("amtf-m-00000001", "t" * 2048, "m", "exec-1", T0)
    store.park(job)
    store.park(ParkedJob("amtf-m-00000002", "t2", "m", "exec-2", T0))
    assert sorted(p.job_name for p in store.parked()) == ["amtf-m-00000001", "amtf-m-00000002"]
    assert store.claim("amtf-m-00000001") == job
    assert store.claim("amtf-m-00000001") is None
    assert [p.job_name for p in store.parked()] == ["amtf-m-00000002"]


def test_parking_again_replaces_the_token(table: tuple[DynamoStateTable, Any]) -> None:
    store, _ = table
    store.park(ParkedJob("j", "first", "m", "e", T0))
    store.park(ParkedJob("j", "second", "m", "e", T0))
    claimed = store.claim("j")
    assert claimed is not None
    assert claimed.task_token == "second"


def test_claiming_something_never_parked_is_none(table: tuple[DynamoStateTable, Any]) -> None:
    store, _ = table
    assert store.claim("never-parked") is None
    assert store.parked() == []


def test_a_lock_whose_holder_no_longer_runs_is_taken_over() -> None:
    with mock_aws():
        client = boto3.client("dynamodb", region_name="us-east-1")
        client.create_table(TableName="state", **table_definition("StateTable"))
        asked: list[str] = []

        def running(name: str) -> bool | None:
            asked.append(name)
            return name == "live-run"

        store = DynamoStateTable(client, "state", holder_running=running)
        store.acquire("m", "aborted-run", now=T0, ttl_seconds=3600)
        assert store.acquire("m", "run-b", now=T0, ttl_seconds=3600) == ("MODEL#m", "LOCK")
        assert asked == ["aborted-run"]
        item = client.get_item(TableName="state", Key={"pk": {"S": "MODEL#m"}, "sk": {"S": "LOCK"}})["Item"]
        assert item["owner"]["S"] == "run-b"
        assert not store.release("m", "aborted-run")


@pytest.mark.parametrize("answer", [True, None])
def test_a_lock_whose_holder_runs_or_may_run_is_not_taken_over(answer: bool | None) -> None:
    with mock_aws():
        client = boto3.client("dynamodb", region_name="us-east-1")
        client.create_table(TableName="state", **table_definition("StateTable"))
        store = DynamoStateTable(client, "state", holder_running=lambda name: answer)
        store.acquire("m", "run-a", now=T0, ttl_seconds=3600)
        with pytest.raises(ModelBusyError, match=r"locked by run run-a.*waits for the lock"):
            store.acquire("m", "run-b", now=T0, ttl_seconds=3600)
        item = client.get_item(TableName="state", Key={"pk": {"S": "MODEL#m"}, "sk": {"S": "LOCK"}})["Item"]
        assert item["owner"]["S"] == "run-a"


def test_a_takeover_is_conditional_on_the_holder_it_saw() -> None:
    """Two contenders that both saw a dead holder: only one wins; the other finds the new holder."""
    with mock_aws():
        client = boto3.client("dynamodb", region_name="us-east-1")
        client.create_table(TableName="state", **table_definition("StateTable"))
        plain = DynamoStateTable(client, "state")
        plain.acquire("m", "dead-run", now=T0, ttl_seconds=3600)

        def dead_but_taken_meanwhile(name: str) -> bool:
            # the other contender takes the lock between our read of the holder and our conditional put
            client.put_item(
                TableName="state",
                Item={
                    "pk": {"S": "MODEL#m"},
                    "sk": {"S": "LOCK"},
                    "owner": {"S": "run-c"},
                    "expiresAt": {"N": str(int(T0.timestamp()) + 3600)},
                },
            )
            return False

        store = DynamoStateTable(client, "state", holder_running=dead_but_taken_meanwhile)
        with pytest.raises(ModelBusyError):
            store.acquire("m", "run-b", now=T0, ttl_seconds=3600)
        item = client.get_item(TableName="state", Key={"pk": {"S": "MODEL#m"}, "sk": {"S": "LOCK"}})["Item"]
        assert item["owner"]["S"] == "run-c"
