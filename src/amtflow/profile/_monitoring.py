"""The profile's ``monitoring:`` section: when the reconciler calls a running tuning job stalled, and what it
does then (notify once, or stop the job so the run ends with the leaderboard it has)."""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated

from pydantic import Field, model_validator

from amtflow.profile._fields import Int, _enum, _fail, _Section

#: A stall window longer than this (minutes: 28 days, SageMaker's longest tuning runtime) would never fire.
MAX_STALL_MINUTES = 28 * 24 * 60
#: More trials than a tuning job may run (``MaxNumberOfTrainingJobs`` is at most 750).
MAX_STALL_TRIALS = 750


class OnStall(StrEnum):
    """What the reconciler does with a stalled job (after notifying once)."""

    NOTIFY = "notify"
    STOP = "stop"


class StallAfter(_Section):
    """No improvement of the best objective for this many finished trials, or this many minutes."""

    trials: Int | None = Field(default=None, ge=1, le=MAX_STALL_TRIALS)
    minutes: Int | None = Field(default=None, ge=1, le=MAX_STALL_MINUTES)

    @model_validator(mode="after")
    def _check(self) -> StallAfter:
        if (self.trials is None) == (self.minutes is None):
            _fail([("", "give exactly one of trials or minutes, e.g. stall_after: {trials: 10}")])
        return self


class Monitoring(_Section):
    """Watching a running tuning job (the reconciler's sweep, every ``ReconcileSchedule``)."""

    stall_after: StallAfter | None = None
    silent_after: Int | None = Field(default=None, ge=1, le=MAX_STALL_MINUTES)
    """Minutes without a new metric value from any running trial."""
    on_stall: Annotated[OnStall, _enum(OnStall)] = OnStall.NOTIFY

    @model_validator(mode="after")
    def _check(self) -> Monitoring:
        if self.on_stall is OnStall.STOP and not self.watches:
            _fail(
                [
                    (
                        "on_stall",
                        "stop needs a rule to fire: add stall_after: {trials: N} or {minutes: N}, "
                        "or silent_after: <minutes>",
                    )
                ]
            )
        return self

    @property
    def watches(self) -> bool:
        """Whether any stall rule is set."""
        return self.stall_after is not None or self.silent_after is not None
