"""Preflight rules of the profile's ``monitoring`` section (tag ``monitoring``).

What the reconciler's stall watch will do with a running tuning job, told when the profile is written:
``amtflow profiles validate`` (and ``push``, ``lint`` of a profile) run these rules with the profile's
evidence. The schema already holds each key to its range and refuses ``on_stall: stop`` without a rule.

Evidence (``LintContext.extra``): ``monitoring`` (the :class:`~amtflow.profile.Monitoring`) and
``notification_outcomes`` (the profile's ``notifications.outcomes``).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from amtflow.preflight._findings import Finding, LintContext, Severity, rule
from amtflow.profile import ModelProfile, Monitoring, OnStall, Outcome

MONITORING_KEY = "monitoring"
OUTCOMES_KEY = "notification_outcomes"
MONITORING_TAG = "monitoring"

_TAG = (MONITORING_TAG,)


def monitoring_evidence(profile: ModelProfile) -> dict[str, Any]:
    """The ``LintContext.extra`` entries the monitoring rules read; empty when the profile watches nothing."""
    if not profile.monitoring.watches:
        return {}
    return {MONITORING_KEY: profile.monitoring, OUTCOMES_KEY: list(profile.notifications.outcomes)}


@rule("AMT601", Severity.WARNING, "A stall watch that only notifies announces stalls", tags=_TAG)
def _stall_notice_announced(ctx: LintContext) -> Iterator[Finding]:
    """With ``on_stall: notify`` the notice is all a stall watch does; a ``notifications.outcomes`` list
    without ``stalled`` publishes none, so a stalled job is seen only in the ``StalledJobs`` metric."""
    monitoring, outcomes = ctx.extra.get(MONITORING_KEY), ctx.extra.get(OUTCOMES_KEY)
    if not isinstance(monitoring, Monitoring) or not monitoring.watches or outcomes is None:
        return
    if monitoring.on_stall is not OnStall.NOTIFY or Outcome.STALLED in list(outcomes):
        return
    listed = ", ".join(str(o) for o in outcomes) or "none"
    yield Finding(
        "AMT601",
        Severity.WARNING,
        "notifications.outcomes",
        f"monitoring watches for stalled jobs with on_stall: notify, but notifications.outcomes ({listed}) "
        "leaves out stalled: nobody is told when a job stalls",
        why="the watch neither stops the job nor publishes its notice; only the StalledJobs metric counts it",
        fix="add stalled to notifications.outcomes, or set monitoring.on_stall: stop to stop a stalled job",
    )
