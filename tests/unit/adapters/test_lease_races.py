"""Races on a model's lease, with threads against DynamoDB and Step Functions (moto): in every race exactly
one writer wins, and a holder whose execution still runs never loses its lease.

Each race is run several times, on a fresh model each time; the threads start together (a barrier) so their
reads and conditional writes interleave.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import boto3
import pytest
from moto import mock_aws
from samtranslator.yaml_helper import yaml_parse

from amtflow.adapters import DynamoStateTable, StepFunctionsHolderProbe
from amtflow.app import Lease
from amtflow.errors import ModelBusyError

T0 = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)
LEASE = 3900
RACERS = 8
ROUNDS = 5
TEMPLATE = Path(__file__).resolve().parents[3] / "template.yaml"


@dataclass
class World:
    store: DynamoStateTable
    sfn: Any
    machine: str
    db: Any

    def start(self, name: str) -> str:
        """A running execution of the state machine; its ARN."""
        arn: str = self.sfn.start_execution(stateMachineArn=self.machine, name=name)["executionArn"]
        return arn

    def lease(self, model: str) -> Lease:
        [lease] = [lease for lease in self.store.leases() if lease.model == model]
        return lease


class AtomicWrites:
    """A DynamoDB client whose calls run one at a time. DynamoDB applies each conditional write atomically;
    moto checks the condition and then writes, and another thread can run in between. Serialising single
    calls restores the service's guarantee and nothing more: the adapter's read and its conditional write
    are still two calls, so the races between them stay real."""

    def __init__(self, client: Any) -> None:
        self._client = client
        self._lock = threading.Lock()

    def __getattr__(self, name: str) -> Any:
        attr = getattr(self._client, name)
        if not callable(attr):
            return attr

        def call(*args: Any, **kwargs: Any) -> Any:
            with self._lock:
                return attr(*args, **kwargs)

        return call


@pytest.fixture(scope="module")
def world() -> Iterator[World]:
    props = yaml_parse(TEMPLATE.read_text())["Resources"]["StateTable"]["Properties"]
    with mock_aws():
        db = boto3.client("dynamodb", region_name="us-east-1")
        db.create_table(
            TableName="state", **{k: props[k] for k in ("AttributeDefinitions", "KeySchema", "BillingMode")}
        )
        sfn = boto3.client("stepfunctions", region_name="us-east-1")
        machine = sfn.create_state_machine(
            name="amtflow-tuning",
            definition=json.dumps(
                {"StartAt": "Wait", "States": {"Wait": {"Type": "Wait", "Seconds": 3600, "End": True}}}
            ),
            roleArn="arn:aws:iam::123456789012:role/amtflow-states",
        )["stateMachineArn"]
        store = DynamoStateTable(
            AtomicWrites(db), "state", holder_running=StepFunctionsHolderProbe(sfn), lease_seconds=LEASE
        )
        yield World(store, sfn, machine, db)


def race(calls: list[Callable[[], Any]]) -> list[Any]:
    """Run every call at once (one thread each); each call's result, or the exception it raised."""
    barrier = threading.Barrier(len(calls))

    def run(call: Callable[[], Any]) -> Any:
        barrier.wait()
        try:
            return call()
        except ModelBusyError as e:
            return e

    with ThreadPoolExecutor(max_workers=len(calls)) as pool:
        return list(pool.map(run, calls))


def contenders(world: World, tag: str) -> list[tuple[str, str]]:
    """``RACERS`` queued runs, each a running execution: (name, ARN)."""
    return [(f"{tag}-{i}", world.start(f"{tag}-{i}")) for i in range(RACERS)]


def acquiring(world: World, model: str, name: str, arn: str, now: datetime) -> Callable[[], Any]:
    return lambda: world.store.acquire(model, name, holder=arn, now=now)


@pytest.mark.parametrize("round_", range(ROUNDS))
def test_of_runs_racing_for_a_free_lock_exactly_one_wins(world: World, round_: int) -> None:
    model = f"free-{round_}"
    racers = contenders(world, model)
    results = race([acquiring(world, model, name, arn, T0) for name, arn in racers])
    winners = [name for (name, _), r in zip(racers, results, strict=True) if r == (f"MODEL#{model}", "LOCK")]
    assert len(winners) == 1
    assert all(isinstance(r, ModelBusyError) for r in results if r != (f"MODEL#{model}", "LOCK"))
    lease = world.lease(model)
    assert (lease.owner, lease.version) == (winners[0], 1)


@pytest.mark.parametrize("round_", range(ROUNDS))
def test_of_runs_racing_for_an_expired_lease_whose_holder_ended_exactly_one_takes_it_over(
    world: World, round_: int
) -> None:
    model = f"ended-{round_}"
    holder = world.start(f"{model}-holder")
    world.store.acquire(model, f"{model}-holder", holder=holder, now=T0)
    world.sfn.stop_execution(executionArn=holder)  # aborted from the console: it never releases
    racers = contenders(world, model)
    later = T0 + timedelta(hours=2)
    results = race([acquiring(world, model, name, arn, later) for name, arn in racers])
    winners = [name for (name, _), r in zip(racers, results, strict=True) if r == (f"MODEL#{model}", "LOCK")]
    assert len(winners) == 1
    lease = world.lease(model)
    assert (lease.owner, lease.version) == (winners[0], 2)
    assert not world.store.release(model, f"{model}-holder")


@pytest.mark.parametrize("round_", range(ROUNDS))
def test_of_runs_racing_for_an_expired_lease_whose_holder_runs_none_wins_and_it_is_renewed_once(
    world: World, round_: int
) -> None:
    model = f"running-{round_}"
    holder = world.start(f"{model}-holder")
    world.store.acquire(model, f"{model}-holder", holder=holder, now=T0)
    racers = contenders(world, model)
    later = T0 + timedelta(hours=9)  # 6 hours of quota waits and a 3-hour job, no sweep in between
    results = race([acquiring(world, model, name, arn, later) for name, arn in racers])
    assert all(isinstance(r, ModelBusyError) and f"{model}-holder" in str(r) for r in results)
    lease = world.lease(model)
    assert (lease.owner, lease.holder) == (f"{model}-holder", holder)
    assert lease.expires_at == int(later.timestamp()) + LEASE
    assert lease.version == 2  # of the racers that found it expired, one renewal was written


@pytest.mark.parametrize("round_", range(ROUNDS))
def test_a_renewal_racing_takeovers_leaves_exactly_one_writer_per_version(world: World, round_: int) -> None:
    """The sweep read the lease while its holder ran and renews it just as the holder ends and the queued
    runs find it ended: either the renewal or one takeover wins the version they all read; a takeover after a
    won renewal is a later write (at most one takeover in all)."""
    model = f"renew-{round_}"
    holder = world.start(f"{model}-holder")
    world.store.acquire(model, f"{model}-holder", holder=holder, now=T0)
    seen = world.lease(model)
    world.sfn.stop_execution(executionArn=holder)
    racers = contenders(world, model)
    later = T0 + timedelta(hours=2)
    calls = [acquiring(world, model, name, arn, later) for name, arn in racers]
    calls.insert(round_ % len(calls), lambda: world.store.renew(seen, now=later))
    results = race(calls)
    renewed = [r for r in results if isinstance(r, bool)]
    takeovers = [r for r in results if r == (f"MODEL#{model}", "LOCK")]
    assert len(renewed) == 1
    assert len(takeovers) <= 1
    lease = world.lease(model)
    assert lease.version == 1 + int(renewed[0]) + len(takeovers)
    assert (lease.owner == f"{model}-holder") == (not takeovers)
    assert int(renewed[0]) + len(takeovers) >= 1
