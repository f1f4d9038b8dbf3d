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
from amtflow.errors import ModelBusyError

TEMPLATE = Path(__file__).resolve().parents[3] / "template.yaml"


def table_definition(logical_id: str) -> dict[str, Any]:
    """The table as template.yaml declares it (keys, attribute types, billing), so tests cannot drift."""
    props = yaml_parse(TEMPLATE.read_text())["Resources"][logical_id]["Properties"]
    return {k: props[k] for k in ("AttributeDefinitions", "KeySchema", "BillingMode")}


def arn(name: str) -> str:
    return f"arn:aws:states:us-east-1:123456789012:execution:amtflow-tuning:{name}"


class Holders:
    """Step Functions as the lease sees it: which executions run (``None``: cannot tell)."""

    def __init__(self) -> None:
        self.running: dict[str, bool | None] = {}
        self.asked: list[str] = []

    def __call__(self, holder: str) -> bool | None:
        self.asked.append(holder)
        return self.running.get(holder, False)


LEASE = 3900


@pytest.fixture(params=["in-memory", "dynamodb"])
def world(request: pytest.FixtureRequest) -> Iterator[tuple[Any, Holders]]:
    holders = Holders()
    if request.param == "in-memory":
        yield StateTable(holder_running=holders, lease_seconds=LEASE), holders
        return
    with mock_aws():
        client = boto3.client("dynamodb", region_name="us-east-1")
        client.create_table(TableName="state", **table_definition("StateTable"))
        yield DynamoStateTable(client, "state", holder_running=holders, lease_seconds=LEASE), holders


@pytest.fixture
def store(world: tuple[Any, Holders]) -> Any:
    return world[0]


def test_lock_contract(world: tuple[Any, Holders]) -> None:
    store, holders = world
    holders.running[arn("a")] = True
    assert store.acquire("m", "a", holder=arn("a"), now=T0) == ("MODEL#m", "LOCK")
    store.acquire("m", "a", holder=arn("a"), now=T0)
    with pytest.raises(ModelBusyError, match="locked by run a"):
        store.acquire("m", "b", holder=arn("b"), now=T0)
    assert not store.release("m", "b")
    assert store.release("m", "a")
    assert not store.release("m", "a")
    store.acquire("m", "b", holder=arn("b"), now=T0)
    store.acquire("other", "c", holder=arn("c"), now=T0)


def test_a_lease_records_its_holder_and_expiry_and_is_listed_until_released(
    world: tuple[Any, Holders],
) -> None:
    store, _ = world
    store.acquire("m", "a", holder=arn("a"), now=T0)
    [lease] = store.leases()
    assert (lease.model, lease.owner, lease.holder) == ("m", "a", arn("a"))
    assert lease.expires_at == int(T0.timestamp()) + LEASE
    store.release("m", "a")
    assert store.leases() == []


def test_a_lease_whose_holder_runs_is_never_taken_over_and_an_expired_one_is_renewed_for_it(
    world: tuple[Any, Holders],
) -> None:
    store, holders = world
    holders.running[arn("a")] = True
    store.acquire("m", "a", holder=arn("a"), now=T0)
    later = T0 + timedelta(hours=9)  # a quota wait, then the job: far past the lease
    with pytest.raises(ModelBusyError, match="locked by run a"):
        store.acquire("m", "b", holder=arn("b"), now=later)
    assert holders.asked == [arn("a")]
    [lease] = store.leases()
    assert (lease.owner, lease.holder) == ("a", arn("a"))
    assert lease.expires_at == int(later.timestamp()) + LEASE
    assert store.release("m", "a")


@pytest.mark.parametrize("hours", [0, 9])
def test_a_lease_whose_holder_ended_is_taken_over(world: tuple[Any, Holders], hours: int) -> None:
    store, holders = world
    holders.running[arn("a")] = False  # SUCCEEDED, FAILED, TIMED_OUT, ABORTED or no such execution
    store.acquire("m", "a", holder=arn("a"), now=T0)
    now = T0 + timedelta(hours=hours)
    assert store.acquire("m", "b", holder=arn("b"), now=now) == ("MODEL#m", "LOCK")
    [lease] = store.leases()
    assert (lease.owner, lease.holder, lease.expires_at) == ("b", arn("b"), int(now.timestamp()) + LEASE)
    assert not store.release("m", "a")
    assert store.release("m", "b")


def test_a_lease_whose_holder_cannot_be_told_stays_held_as_it_is(world: tuple[Any, Holders]) -> None:
    store, holders = world
    holders.running[arn("a")] = None  # DescribeExecution throttled or denied
    store.acquire("m", "a", holder=arn("a"), now=T0)
    with pytest.raises(ModelBusyError, match="locked by run a"):
        store.acquire("m", "b", holder=arn("b"), now=T0 + timedelta(hours=9))
    [lease] = store.leases()
    assert (lease.owner, lease.expires_at) == ("a", int(T0.timestamp()) + LEASE)


def test_a_retried_acquire_of_the_holder_renews_its_lease(world: tuple[Any, Holders]) -> None:
    store, holders = world
    store.acquire("m", "a", holder=arn("a"), now=T0)
    store.acquire("m", "a", holder=arn("a"), now=T0 + timedelta(minutes=5))
    [lease] = store.leases()
    assert lease.expires_at == int(T0.timestamp()) + 300 + LEASE
    assert holders.asked == []


def test_a_renewal_extends_only_the_lease_it_read(world: tuple[Any, Holders]) -> None:
    store, _ = world
    store.acquire("m", "a", holder=arn("a"), now=T0)
    [seen] = store.leases()
    assert store.renew(seen, now=T0 + timedelta(minutes=15))
    [renewed] = store.leases()
    assert renewed.expires_at == int(T0.timestamp()) + 900 + LEASE
    assert not store.renew(seen, now=T0 + timedelta(minutes=16))  # the lease changed since it was read
    store.acquire("m", "b", holder=arn("b"), now=T0 + timedelta(minutes=20))  # a ended: taken over
    assert not store.renew(renewed, now=T0 + timedelta(minutes=30))
    [lease] = store.leases()
    assert lease.owner == "b"
    store.release("m", "b")
    assert not store.renew(lease, now=T0 + timedelta(minutes=30))
    assert store.leases() == []


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
