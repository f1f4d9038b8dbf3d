"""Stalled tuning jobs: the rule (pure) and the reconciler's watch (notify once, stop if the profile says so).

A running job is **stalled** when its best objective value has not improved for the profile's
``monitoring.stall_after`` (finished trials, or minutes), or when its running trials have reported no metric
value for ``monitoring.silent_after`` minutes. The watch notifies once per job (the state table remembers
the notice) and, with ``on_stall: stop``, stops the job; the stopped job then ends its run with a result
(:meth:`StallWatch.stopped_for` tells the callback it was stopped for stalling). The notice is published
like any notification: only when the profile's ``notifications.outcomes`` lists ``stalled`` (the default
list does); the record and the stop do not depend on it.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol

from amtflow.app._ports import ParkedJob, TuningJobDescription
from amtflow.errors import AmtflowError
from amtflow.profile import ModelProfile, Monitoring, OnStall
from amtflow.vocabulary import Now, TuningJobStatus

#: Trials read per sweep and job (one ``ListTrainingJobsForHyperParameterTuningJob`` page or two).
MAX_TRIALS_READ = 200

_RUNNING = frozenset({"InProgress", "Stopping"})


@dataclass(frozen=True)
class TrialProgress:
    """One trial of a running tuning job, as far as the stall rules need it."""

    name: str
    status: str
    objective_value: float | None = None
    created_at: datetime | None = None
    ended_at: datetime | None = None
    last_metric_at: datetime | None = None
    """The newest timestamp of a metric value the trial reported (running trials only)."""

    @property
    def running(self) -> bool:
        return self.status in _RUNNING


class TrialProgressSource(Protocol):
    def trial_progress(self, tuning_job: str, *, limit: int) -> Sequence[TrialProgress]:
        """At most ``limit`` trials of the tuning job (the newest first), with their running ones' newest
        metric timestamp (implemented by :class:`amtflow.adapters.SageMakerTuning`)."""
        ...


@dataclass(frozen=True)
class StallRecord:
    """The one notice of a stalled job, and whether the watch stopped the job."""

    job_name: str
    model: str
    reason: str
    stalled_at: datetime
    stopped: bool


class StallRecords(Protocol):
    def record(self, record: StallRecord) -> bool:
        """Store the notice unless one is stored for the job already; ``True`` if this one was stored."""
        ...

    def get(self, job_name: str) -> StallRecord | None: ...

    def forget(self, job_name: str) -> None:
        """Remove the job's notice (it could not be sent: the next sweep tries again)."""
        ...


StallNotifier = Callable[[StallRecord, ParkedJob], str | None]
"""Publishes the "stalled" notice (``amtflow.app.NotifyRun.notify_stalled``): the message ID, or ``None``
when the profile's ``notifications.outcomes`` leaves out ``stalled``."""

JobStopper = Callable[[str], None]


def _better(a: float, b: float, maximize: bool) -> bool:
    return a > b if maximize else a < b


def _minutes(delta: timedelta) -> int:
    return int(delta.total_seconds() // 60)


def stall_reason(
    monitoring: Monitoring,
    trials: Sequence[TrialProgress],
    *,
    objective_metric: str | None,
    objective_type: str | None,
    started_at: datetime,
    now: datetime,
) -> str | None:
    """Why the job is stalled (``"stalled: ..."``), or ``None`` while it is not (or no rule is set)."""
    metric = objective_metric or "the objective"
    rule = monitoring.stall_after
    if rule is not None:
        maximize = (objective_type or "").lower() == "maximize"
        finished = sorted(
            (t for t in trials if not t.running),
            key=lambda t: (t.ended_at or t.created_at or started_at, t.name),
        )
        best_index, best = -1, None
        for i, t in enumerate(finished):
            if t.objective_value is not None and (best is None or _better(t.objective_value, best, maximize)):
                best_index, best = i, t.objective_value
        since = len(finished) - best_index - 1
        if rule.trials is not None and since >= rule.trials:
            if best is None:
                return f"stalled: {since} trials finished and none reported {metric}"
            return (
                f"stalled: the best {metric} ({best:.6g}, {finished[best_index].name}) has not improved "
                f"for {since} trials (stall_after: {rule.trials} trials)"
            )
        if rule.minutes is not None:
            found = (finished[best_index].ended_at or now) if best_index >= 0 else None
            anchor = found if found is not None else started_at
            waited = now - anchor
            if waited >= timedelta(minutes=rule.minutes):
                rule_text = f"(stall_after: {rule.minutes} minutes)"
                if best is None:
                    return f"stalled: no trial reported {metric} for {_minutes(waited)} minutes {rule_text}"
                return (
                    f"stalled: the best {metric} ({best:.6g}) has not improved for {_minutes(waited)} "
                    f"minutes {rule_text}"
                )
    if monitoring.silent_after is not None:
        running = [t for t in trials if t.running]
        stamps = [t.last_metric_at or t.created_at or started_at for t in running]
        if stamps:
            quiet = now - max(stamps)
            if quiet >= timedelta(minutes=monitoring.silent_after):
                return (
                    f"stalled: {len(running)} running trial(s) reported no metric for {_minutes(quiet)} "
                    f"minutes (silent_after: {monitoring.silent_after} minutes)"
                )
    return None


@dataclass(frozen=True)
class StallCheck:
    reason: str
    stopped: bool
    notified: bool = True
    """``False`` when the profile's ``notifications.outcomes`` leaves out ``stalled`` (nothing published)."""


class StallWatch:
    """The reconciler's look at one running tuning job: notify once when it stalls, and stop it when the
    profile says ``on_stall: stop``. A profile that cannot be read watches nothing (logged by the caller
    through the sweep's result, never an error of the sweep)."""

    def __init__(
        self,
        *,
        profiles: Callable[[str], ModelProfile],
        trials: TrialProgressSource,
        records: StallRecords,
        notify: StallNotifier,
        stop_job: JobStopper,
        clock: Now,
    ) -> None:
        self._profiles = profiles
        self._trials = trials
        self._records = records
        self._notify = notify
        self._stop_job = stop_job
        self._clock = clock

    def check(
        self, parked: ParkedJob, job: TuningJobDescription, *, at: datetime | None = None
    ) -> StallCheck | None:
        """``None`` while the job is not stalled, has no rule, or was notified already. ``at``: the time the
        rules judge the job at (the sweep's; default: the clock's now)."""
        try:
            monitoring = self._profiles(parked.model).monitoring
        except AmtflowError:
            return None
        if not monitoring.watches:
            return None
        earlier = self._records.get(job.name)
        if earlier is not None:
            if earlier.stopped and job.status is TuningJobStatus.IN_PROGRESS:
                self._stop_job(job.name)  # the stop of an earlier sweep did not get through
            return None
        now = at if at is not None else self._clock()
        reason = stall_reason(
            monitoring,
            self._trials.trial_progress(job.name, limit=MAX_TRIALS_READ),
            objective_metric=job.objective_metric,
            objective_type=job.objective_type,
            started_at=parked.parked_at,
            now=now,
        )
        if reason is None:
            return None
        stop = monitoring.on_stall is OnStall.STOP
        record = StallRecord(job.name, parked.model, reason, now, stopped=stop)
        if not self._records.record(record):
            return None
        try:
            message_id = self._notify(record, parked)
        except AmtflowError:
            self._records.forget(job.name)
            raise
        if stop:
            self._stop_job(job.name)
        return StallCheck(reason, stop, notified=message_id is not None)

    def stopped_for(self, job_name: str) -> str | None:
        """Why the watch stopped the job (its stall), or ``None`` when it did not stop it."""
        record = self._records.get(job_name)
        return record.reason if record is not None and record.stopped else None
