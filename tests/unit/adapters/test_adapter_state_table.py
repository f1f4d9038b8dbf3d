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
from amtflow.adapters._state_table import DEFAULT_LEASE_SECONDS
from amtflow.app import ParkedJob
from amtflow.errors import ConflictError, ModelBusyError

T0 = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)


def arn(name: str) -> str:
    return f"arn:aws:states:us-east-1:123456789012:execution:amtflow-tuning:{name}"


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
    assert store.acquire("m", "run-a", holder=arn("run-a"), now=T0) == ("MODEL#m", "LOCK")
    with pytest.raises(ConflictError, match="locked by run run-a"):
        store.acquire("m", "run-b", holder=arn("run-b"), now=T0)
    store.acquire("other-model", "run-b", holder=arn("run-b"), now=T0)


def test_a_lock_item_outlives_its_lease_by_a_year_before_its_ttl(table: tuple[DynamoStateTable, Any]) -> None:
    """DynamoDB's TTL never deletes the lock of a run that may still run (a Standard execution: a year)."""
    store, client = table
    store.acquire("m", "run-a", holder=arn("run-a"), now=T0)
    item = client.get_item(TableName="state", Key={"pk": {"S": "MODEL#m"}, "sk": {"S": "LOCK"}})["Item"]
    until = int(T0.timestamp()) + DEFAULT_LEASE_SECONDS
    assert item["holder"]["S"] == arn("run-a")
    assert int(item["leaseUntil"]["N"]) == until
    assert int(item["expiresAt"]["N"]) == until + 366 * 24 * 3600


def test_release_only_frees_ones_own_lock(table: tuple[DynamoStateTable, Any]) -> None:
    store, client = table
    store.acquire("m", "run-a", holder=arn("run-a"), now=T0)
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
    pk, sk = store.acquire("m", "run-a", holder=arn("run-a"), now=T0)
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
    store.acquire("m", "run-b", holder=arn("run-b"), now=T0)


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

        def running(holder: str) -> bool | None:
            asked.append(holder)
            return holder == arn("live-run")

        store = DynamoStateTable(client, "state", holder_running=running)
        store.acquire("m", "aborted-run", holder=arn("aborted-run"), now=T0)
        assert store.acquire("m", "run-b", holder=arn("run-b"), now=T0) == ("MODEL#m", "LOCK")
        assert asked == [arn("aborted-run")]
        item = client.get_item(TableName="state", Key={"pk": {"S": "MODEL#m"}, "sk": {"S": "LOCK"}})["Item"]
        assert item["owner"]["S"] == "run-b"
        assert not store.release("m", "aborted-run")


@pytest.mark.parametrize("answer", [True, None])
def test_a_lock_whose_holder_runs_or_may_run_is_not_taken_over(answer: bool | None) -> None:
    with mock_aws():
        client = boto3.client("dynamodb", region_name="us-east-1")
        client.create_table(TableName="state", **table_definition("StateTable"))
        store = DynamoStateTable(client, "state", holder_running=lambda name: answer)
        store.acquire("m", "run-a", holder=arn("run-a"), now=T0)
        with pytest.raises(ModelBusyError, match=r"locked by run run-a.*waits for the lock"):
            store.acquire("m", "run-b", holder=arn("run-b"), now=T0 + timedelta(days=1))
        item = client.get_item(TableName="state", Key={"pk": {"S": "MODEL#m"}, "sk": {"S": "LOCK"}})["Item"]
        assert item["owner"]["S"] == "run-a"


def test_without_a_probe_an_expired_lease_is_not_taken_over(table: tuple[DynamoStateTable, Any]) -> None:
    """Expiry alone never frees a lock: only a holder known to have ended loses it."""
    store, _ = table
    store.acquire("m", "run-a", holder=arn("run-a"), now=T0)
    with pytest.raises(ModelBusyError, match="locked by run run-a"):
        store.acquire("m", "run-b", holder=arn("run-b"), now=T0 + timedelta(days=2))


def test_a_takeover_is_conditional_on_the_lease_it_saw() -> None:
    """Two contenders that both saw a dead holder: only one wins; the other finds the new holder."""
    with mock_aws():
        client = boto3.client("dynamodb", region_name="us-east-1")
        client.create_table(TableName="state", **table_definition("StateTable"))
        plain = DynamoStateTable(client, "state")
        plain.acquire("m", "dead-run", holder=arn("dead-run"), now=T0)
        rival = DynamoStateTable(client, "state", holder_running=lambda holder: holder == arn("run-c"))

        def dead_but_taken_meanwhile(holder: str) -> bool:
            # the other contender takes the lock between our read of the holder and our conditional put
            rival.acquire("m", "run-c", holder=arn("run-c"), now=T0)
            return False

        store = DynamoStateTable(client, "state", holder_running=dead_but_taken_meanwhile)
        with pytest.raises(ModelBusyError, match="locked by run run-c"):
            store.acquire("m", "run-b", holder=arn("run-b"), now=T0)
        item = client.get_item(TableName="state", Key={"pk": {"S": "MODEL#m"}, "sk": {"S": "LOCK"}})["Item"]
        assert item["owner"]["S"] == "run-c"


def test_a_lock_written_before_leases_is_read_and_taken_over_conditionally(
    table: tuple[DynamoStateTable, Any],
) -> None:
    """An item with only ``owner`` and ``expiresAt``: its holder is its execution name, its version 0."""
    _, client = table
    client.put_item(
        TableName="state",
        Item={
            "pk": {"S": "MODEL#m"},
            "sk": {"S": "LOCK"},
            "owner": {"S": "old-run"},
            "expiresAt": {"N": str(int(T0.timestamp()) + 60)},
        },
    )
    asked: list[str] = []
    store = DynamoStateTable(client, "state", holder_running=lambda holder: asked.append(holder) or False)
    assert store.acquire("m", "run-b", holder=arn("run-b"), now=T0) == ("MODEL#m", "LOCK")
    assert asked == ["old-run"]
    assert [lease.owner for lease in store.leases()] == ["run-b"]


def test_a_lease_released_by_the_state_machine_leaves_the_index_on_the_next_sweep(
    table: tuple[DynamoStateTable, Any],
) -> None:
    """ReleaseLock deletes only the lock item; the sweep drops its index entry."""
    store, client = table
    store.acquire("m", "run-a", holder=arn("run-a"), now=T0)
    client.delete_item(TableName="state", Key={"pk": {"S": "MODEL#m"}, "sk": {"S": "LOCK"}})
    assert store.leases() == []
    assert (
        client.query(
            TableName="state",
            KeyConditionExpression="pk = :pk",
            ExpressionAttributeValues={":pk": {"S": "LEASES"}},
        )["Items"]
        == []
    )


class RenewedAfterEachRead:
    """A DynamoDB client under which the sweep renews the lease right after each of the first reads."""

    def __init__(self, client: Any, sweep: DynamoStateTable, times: int) -> None:
        self._client, self._sweep, self._left = client, sweep, times

    def get_item(self, **kwargs: Any) -> Any:
        response = self._client.get_item(**kwargs)
        if self._left > 0 and "Item" in response:
            self._left -= 1
            [lease] = self._sweep.leases()
            assert self._sweep.renew(lease, now=T0 + timedelta(minutes=15))
        return response

    def __getattr__(self, name: str) -> Any:
        return getattr(self._client, name)


def test_a_retried_plan_keeps_its_lease_when_the_sweep_renews_it_meanwhile(
    table: tuple[DynamoStateTable, Any],
) -> None:
    """The retried Plan's write loses to the sweep's renewal: it reads the lease again, still its own."""
    store, client = table
    store.acquire("m", "run-a", holder=arn("run-a"), now=T0)
    racing = DynamoStateTable(RenewedAfterEachRead(client, store, times=1), "state")
    assert racing.acquire("m", "run-a", holder=arn("run-a"), now=T0 + timedelta(minutes=16)) == (
        "MODEL#m",
        "LOCK",
    )
    [lease] = store.leases()
    assert (lease.owner, lease.version) == ("run-a", 3)


def test_an_acquire_that_keeps_losing_races_reports_the_model_busy(
    table: tuple[DynamoStateTable, Any],
) -> None:
    store, client = table
    store.acquire("m", "run-a", holder=arn("run-a"), now=T0)
    racing = DynamoStateTable(RenewedAfterEachRead(client, store, times=3), "state")
    with pytest.raises(ModelBusyError, match="locked by run run-a"):
        racing.acquire("m", "run-a", holder=arn("run-a"), now=T0 + timedelta(minutes=16))


def test_a_retried_acquire_restores_a_lost_index_entry(table: tuple[DynamoStateTable, Any]) -> None:
    """The lease is indexed on every acquire, so a Plan retried after its index write failed is swept."""
    store, client = table
    store.acquire("m", "run-a", holder=arn("run-a"), now=T0)
    client.delete_item(TableName="state", Key={"pk": {"S": "LEASES"}, "sk": {"S": "m"}})
    assert store.leases() == []
    store.acquire("m", "run-a", holder=arn("run-a"), now=T0)
    assert [lease.owner for lease in store.leases()] == ["run-a"]
