"""The model's lease: its duration outlives every gap between the reconciler's renewals, the reconciler renews
the leases of running holders only, and a run that holds its lease for hours is never overlapped."""

from __future__ import annotations

import re
from datetime import timedelta
from pathlib import Path

import pytest
from app_fakes import T0, Clock, StateTable
from samtranslator.yaml_helper import yaml_parse

from amtflow.app import DEFAULT_RECONCILE_SCHEDULE, Lease, LeaseOutcome, RenewLeases, lease_seconds
from amtflow.app._lease import MISSED_SWEEPS, RECONCILE_TIMEOUT_SECONDS, SWEEP_MAX_EVENT_AGE_SECONDS
from amtflow.errors import ConfigurationError, ModelBusyError, TransientError

TEMPLATE = yaml_parse((Path(__file__).resolve().parents[3] / "template.yaml").read_text())
RUN_A = "arn:aws:states:us-east-1:123456789012:execution:amtflow-tuning:run-a"
RUN_B = "arn:aws:states:us-east-1:123456789012:execution:amtflow-tuning:run-b"


def test_the_lease_is_derived_from_the_reconcile_schedule_the_template_deploys() -> None:
    schedule = TEMPLATE["Parameters"]["ReconcileSchedule"]
    reconcile = TEMPLATE["Resources"]["ReconcileFunction"]["Properties"]
    assert schedule["Default"] == DEFAULT_RECONCILE_SCHEDULE
    assert reconcile["Timeout"] == RECONCILE_TIMEOUT_SECONDS
    sweep = reconcile["Events"]["Sweep"]["Properties"]
    assert sweep["RetryPolicy"]["MaximumEventAgeInSeconds"] == SWEEP_MAX_EVENT_AGE_SECONDS
    period = 15 * 60
    longest_gap = period + SWEEP_MAX_EVENT_AGE_SECONDS + RECONCILE_TIMEOUT_SECONDS
    assert lease_seconds(DEFAULT_RECONCILE_SCHEDULE) == longest_gap + MISSED_SWEEPS * period == 3900
    assert lease_seconds("rate(1 hour)") == 3600 + 900 + 300 + 2 * 3600


@pytest.mark.parametrize("schedule", ["cron(0/15 * * * ? *)", "rate(0 minutes)", "rate(1 day)", "15m"])
def test_a_schedule_the_lease_cannot_derive_from_is_refused_at_deploy_and_at_start(schedule: str) -> None:
    with pytest.raises(ConfigurationError, match=r"AMTFLOW_RECONCILE_SCHEDULE.*rate\(15 minutes\)"):
        lease_seconds(schedule)
    pattern = TEMPLATE["Parameters"]["ReconcileSchedule"]["AllowedPattern"]
    if schedule != "rate(0 minutes)":
        assert not re.fullmatch(pattern, schedule)
    assert re.fullmatch(pattern, "rate(5 minutes)")


class Holders:
    """Step Functions as the lease sees it: which executions run; ``failing`` ones raise."""

    def __init__(self) -> None:
        self.running: dict[str, bool | None] = {}
        self.failing: dict[str, Exception] = {}

    def __call__(self, holder: str) -> bool | None:
        if holder in self.failing:
            raise self.failing[holder]
        return self.running.get(holder, False)


def test_the_reconciler_renews_the_lease_of_a_running_holder_only() -> None:
    holders = Holders()
    table, clock = StateTable(holder_running=holders), Clock()
    for model, holder, running in (("a", RUN_A, True), ("b", RUN_B, False), ("c", "run-c", None)):
        holders.running[holder] = running
        table.acquire(model, holder.rsplit(":", 1)[-1], holder=holder, now=T0)
    clock.advance(minutes=15)
    results = {r.model: r for r in RenewLeases(locks=table, holder_running=holders, clock=clock).renew()}
    assert {m: r.outcome for m, r in results.items()} == {
        "a": LeaseOutcome.RENEWED,
        "b": LeaseOutcome.HOLDER_ENDED,
        "c": LeaseOutcome.UNKNOWN,
    }
    assert table.locks["a"].expires_at == int(clock.now.timestamp()) + lease_seconds()
    assert table.locks["b"].expires_at == table.locks["c"].expires_at == int(T0.timestamp()) + lease_seconds()
    assert "takes it over" in results["b"].reason


def test_a_lease_that_changed_under_the_sweep_is_left_alone_and_an_error_spares_the_others() -> None:
    class Racing(StateTable):
        def leases(self) -> list[Lease]:
            seen = list(super().leases())
            self.release("a", "run-a")  # released between the sweep's read and its renewal
            return seen

    holders = Holders()
    holders.running[RUN_A] = True
    holders.failing[RUN_B] = TransientError("reading the lock of model b: throttled")
    table = Racing(holder_running=holders)
    table.acquire("a", "run-a", holder=RUN_A, now=T0)
    table.acquire("b", "run-b", holder=RUN_B, now=T0)
    results = {
        r.model: r.outcome for r in RenewLeases(locks=table, holder_running=holders, clock=Clock()).renew()
    }
    assert results == {"a": LeaseOutcome.CHANGED, "b": LeaseOutcome.ERROR}


def test_a_run_that_waits_hours_for_quota_and_its_job_keeps_its_lease_and_the_next_run_stays_queued() -> None:
    """6 hours of quota waits and a 3-hour job, the reconciler sweeping every 15 minutes: the queued run
    retrying Plan never overlaps it, and takes the lease over as soon as the holder has ended."""
    holders = Holders()
    holders.running[RUN_A] = True
    table, clock = StateTable(holder_running=holders), Clock()
    sweep = RenewLeases(locks=table, holder_running=holders, clock=clock)
    table.acquire("m", "run-a", holder=RUN_A, now=clock.now)
    for _ in range(9 * 4):
        clock.advance(minutes=15)
        assert [r.outcome for r in sweep.renew()] == [LeaseOutcome.RENEWED]
        with pytest.raises(ModelBusyError, match="locked by run run-a"):
            table.acquire("m", "run-b", holder=RUN_B, now=clock.now)
    holders.running[RUN_A] = False  # aborted from the console: it never releases
    assert table.acquire("m", "run-b", holder=RUN_B, now=clock.now) == ("MODEL#m", "LOCK")
    assert table.locks["m"].holder == RUN_B
    holders.running[RUN_B] = True
    assert [r.outcome for r in sweep.renew()] == [LeaseOutcome.RENEWED]


def test_a_queued_run_renews_the_expired_lease_of_a_running_holder_when_sweeps_are_missed() -> None:
    holders = Holders()
    holders.running[RUN_A] = True
    table, clock = StateTable(holder_running=holders), Clock()
    table.acquire("m", "run-a", holder=RUN_A, now=clock.now)
    clock.advance(hours=5)  # no sweep ran at all
    with pytest.raises(ModelBusyError):
        table.acquire("m", "run-b", holder=RUN_B, now=clock.now)
    assert table.locks["m"].owner == "run-a"
    assert table.locks["m"].expires_at == int((T0 + timedelta(hours=5)).timestamp()) + lease_seconds()
