"""The model's lock is a lease: how long it lasts, and its renewal by the reconciler while its run runs.

A run can hold its model's lock for many hours (up to 6 hours waiting for SageMaker quota, then its job's
own limits plus an hour), far longer than any fixed expiry one could pick at Plan. So the lock is a lease
of a few reconcile periods: every sweep renews the leases of holders whose execution Step Functions reports
RUNNING, and a newcomer takes a lease over only once its holder is known to have ended (see
:class:`~amtflow.app.LockStore`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum

from amtflow.app._ports import HolderProbe, LockStore
from amtflow.errors import AmtflowError, ConfigurationError
from amtflow.vocabulary import Now

DEFAULT_RECONCILE_SCHEDULE = "rate(15 minutes)"
RECONCILE_TIMEOUT_SECONDS = 300
"""``ReconcileFunction``'s ``Timeout``: a sweep renews within this long of its scheduled time."""
SWEEP_MAX_EVENT_AGE_SECONDS = 900
"""The ``Sweep`` rule's ``RetryPolicy.MaximumEventAgeInSeconds``: how late EventBridge may deliver a sweep."""
MISSED_SWEEPS = 2
"""The safety margin, in whole reconcile periods: two sweeps in a row may fail without losing a lease."""

_RATE = re.compile(r"^rate\((\d+) (minute|minutes|hour|hours)\)$")
_UNIT_SECONDS = {"minute": 60, "hour": 3600}


def lease_seconds(reconcile_schedule: str = DEFAULT_RECONCILE_SCHEDULE) -> int:
    """How long a lease lasts without renewal, for the reconciler's ``rate(...)`` schedule.

    The longest legitimate gap between two renewals of a running holder's lease is one period between
    sweeps, plus a late delivery of the sweep's event and the sweep's own run; two more periods are the
    safety margin. With 15-minute sweeps: 900 + 900 + 300 + 2 * 900 = 3900 s (65 minutes).
    """
    match = _RATE.match(reconcile_schedule.strip())
    if not match or int(match.group(1)) < 1:
        raise ConfigurationError(
            f"AMTFLOW_RECONCILE_SCHEDULE is {reconcile_schedule!r}: the model's lease is derived from the "
            "reconciler's period, so write rate(<n> minutes|hours) with n ≥ 1, e.g. rate(15 minutes)"
        )
    period = int(match.group(1)) * _UNIT_SECONDS[match.group(2).rstrip("s")]
    return period + SWEEP_MAX_EVENT_AGE_SECONDS + RECONCILE_TIMEOUT_SECONDS + MISSED_SWEEPS * period


class LeaseOutcome(StrEnum):
    RENEWED = "renewed"
    CHANGED = "changed"
    """Released, renewed or taken over between the sweep's read and its renewal: nothing to do."""
    HOLDER_ENDED = "holder_ended"
    """The holder ended without releasing (aborted): the model's next run takes the lease over."""
    UNKNOWN = "unknown"
    """Step Functions could not tell whether the holder runs: the lease is left held (the safe side)."""
    ERROR = "error"


@dataclass(frozen=True)
class LeaseResult:
    model: str
    owner: str
    outcome: LeaseOutcome
    reason: str


class RenewLeases:
    """The reconciler's half of the lease: renew the lease of every holder that still runs."""

    def __init__(self, *, locks: LockStore, holder_running: HolderProbe, clock: Now) -> None:
        self._locks = locks
        self._holder_running = holder_running
        self._clock = clock

    def renew(self) -> list[LeaseResult]:
        results = []
        for lease in self._locks.leases():
            try:
                running = self._holder_running(lease.holder)
                if running is True:
                    if self._locks.renew(lease, now=self._clock()):
                        outcome, why = LeaseOutcome.RENEWED, f"execution {lease.holder} is running"
                    else:
                        outcome, why = LeaseOutcome.CHANGED, "the lease changed meanwhile"
                elif running is False:
                    outcome = LeaseOutcome.HOLDER_ENDED
                    why = f"execution {lease.holder} ended without releasing: the next run takes it over"
                else:
                    outcome = LeaseOutcome.UNKNOWN
                    why = f"cannot tell whether execution {lease.holder} runs: the lease stays held"
            except AmtflowError as e:
                outcome, why = LeaseOutcome.ERROR, str(e)
            results.append(LeaseResult(lease.model, lease.owner, outcome, why))
        return results


def summarize_leases(results: list[LeaseResult]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for r in results:
        counts[r.outcome.value] = counts.get(r.outcome.value, 0) + 1
    return counts
