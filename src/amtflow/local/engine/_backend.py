"""The trial backend: what runs training jobs for the job loop (Syne Tune's "trial backend").

A strategy decides what to run, a backend runs it, the job loop coordinates the two. The loop knows a trial
only as a :class:`Trial` (its job record, its configuration, why it is being stopped, how many objective
points the deciders have seen) and acts on it only through :class:`TrialBackend`.
:class:`~amtflow.local.engine._process_backend.SubprocessBackend` runs each trial as a local process.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import TYPE_CHECKING, Any, Protocol

from amtflow.local.engine._records import TrainingJob
from amtflow.local.engine._space import Config

if TYPE_CHECKING:
    from amtflow.local.engine._runner import TrialProcess, TrialSpec


class StopCause(StrEnum):
    """Why a running trial is being stopped (decides how it ends: Stopped, or MaxRuntimeExceeded)."""

    USER = "user"
    EARLY_STOPPING = "early-stopping"
    MAX_RUNTIME = "max-runtime"
    TUNING_JOB_ENDED = "tuning-job-ended"


@dataclass(eq=False)
class Trial:
    """One training job being run (alone or for a tuning job).

    The loop owns ``config``, ``reported`` and ``slot_held`` (set once it holds a slot reserved for the
    trial); the backend owns the rest: ``spec``, ``process`` and ``max_runtime`` (how it runs it),
    ``stop_cause`` (set by :meth:`TrialBackend.stop`, or by the loop before the trial starts) and ``done``.
    """

    job: TrainingJob
    config: Config = field(default_factory=dict)
    reported: int = 0  # objective points already passed to the deciders
    slot_held: bool = False
    stop_cause: StopCause | None = None
    done: bool = False
    max_runtime: float = 86400.0
    stop_deadline: float | None = None  # time.monotonic() after which a stopping process is killed
    spec: TrialSpec | None = None
    process: TrialProcess | None = None

    @property
    def name(self) -> str:
        return self.job.name

    @property
    def started(self) -> bool:
        """True once the trial's training has started (and stays true after it ended)."""
        return self.process is not None


class TrialBackend(Protocol):
    """Runs trials for the job loop.

    Capacity: a trial runs in a slot. :meth:`reserve` takes one (False when none is free within
    ``timeout`` seconds) and :meth:`release` gives back one the caller will not use; a slot a trial holds
    (``trial.slot_held``) is given back when the trial finishes.

    Call order for one trial: :meth:`start` once; then, until it returns True, :meth:`poll` (and
    :meth:`objective_points`/:meth:`has_exited` to watch it); :meth:`stop` at any time to ask it to stop;
    :meth:`finish` to end it without waiting for :meth:`poll` (it waits for the process to go). A trial that
    never started is ended with :meth:`finish`. The backend records every change in the trial's job
    record (statuses, times, metrics, the model) and sends its state-change events; ending is idempotent.
    """

    def reserve(self, timeout: float = 0.0) -> bool:
        """Take a slot for a trial about to start (wait up to ``timeout`` seconds); False if none."""
        ...

    def release(self) -> None:
        """Give back a slot reserved with :meth:`reserve` that no trial took."""
        ...

    def start(self, trial: Trial, definition: Mapping[str, Any], data_key: str) -> bool:
        """Start the trial as ``definition`` (a training job definition) says, sharing fetched input data
        with other trials of ``data_key``. False if it could not start: it has then ended as Failed."""
        ...

    def poll(self, trial: Trial) -> bool:
        """Advance the trial (its exit, its runtime limit); True once it has ended and its end is recorded."""
        ...

    def objective_points(self, trial: Trial) -> list[float]:
        """The objective metric's values the trial has reported so far, in order."""
        ...

    def has_exited(self, trial: Trial) -> bool:
        """True once the trial's training has stopped running (its end may not be recorded yet)."""
        ...

    def stop(self, trial: Trial, cause: StopCause, *, wait: bool = True) -> None:
        """Ask the trial to stop (the first cause given is kept); with ``wait``, until its process is gone."""
        ...

    def finish(self, trial: Trial) -> None:
        """End the trial now: stop what still runs, then record how it ended."""
        ...
