"""The tuning job loop on a trial backend other than processes: it needs only the TrialBackend interface."""

from __future__ import annotations

import threading
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from conftest import tuning_request

from amtflow.local.engine import ManualClock, make_strategy
from amtflow.local.engine._backend import StopCause, Trial, TrialBackend
from amtflow.local.engine._events import EventPublisher
from amtflow.local.engine._jobs import JobBook
from amtflow.local.engine._loop import TuningLoop
from amtflow.local.engine._model import TrainingJobStatus, TuningJobStatus
from amtflow.local.engine._records import TuningJob
from amtflow.local.engine._store import Store


class InstantBackend:
    """Every trial reports one objective value (a function of its configuration) and ends at once."""

    def __init__(self, jobs: JobBook, slots: int) -> None:
        self.jobs = jobs
        self.free = slots
        self.calls: list[tuple[str, str]] = []

    def reserve(self, timeout: float = 0.0) -> bool:
        if self.free == 0:
            return False
        self.free -= 1
        return True

    def release(self) -> None:
        self.free += 1

    def start(self, trial: Trial, definition: Mapping[str, Any], data_key: str) -> bool:
        self.calls.append(("start", trial.name))
        trial.job.objective = loss(trial.config)
        return True

    def poll(self, trial: Trial) -> bool:
        self.calls.append(("poll", trial.name))
        self.finish(trial)
        return True

    def objective_points(self, trial: Trial) -> list[float]:
        return [] if trial.job.objective is None else [trial.job.objective]

    def has_exited(self, trial: Trial) -> bool:
        return True

    def stop(self, trial: Trial, cause: StopCause, *, wait: bool = True) -> None:
        trial.stop_cause = trial.stop_cause or cause

    def finish(self, trial: Trial) -> None:
        if trial.done:
            return
        trial.done = True
        with self.jobs.lock:
            trial.job.status = TrainingJobStatus.COMPLETED
            trial.job.objective_status = trial.job.final_objective_status()
            self.jobs.save_training(trial.job)
        if trial.slot_held:
            trial.slot_held = False
            self.release()


def loss(config: Mapping[str, Any]) -> float:
    return (float(config["x"]) - 0.3) ** 2 + (0.0 if config["kind"] == "a" else 0.5)


def test_a_tuning_job_runs_on_any_trial_backend(tmp_path: Path) -> None:
    clock = ManualClock()
    jobs = JobBook(Store(tmp_path), clock, EventPublisher(lambda entry: None, clock))
    request = tuning_request()
    config = request["HyperParameterTuningJobConfig"]
    job = TuningJob("tune-1", "arn:tune-1", "us-east-1", request, 0.0, 0.0, seed=7, started=0.0)
    jobs.add_tuning(job)
    backend = InstantBackend(jobs, slots=1)
    contract: TrialBackend = backend
    TuningLoop(job, make_strategy(config, 7), threading.Event(), jobs=jobs, backend=contract).run()

    assert job.status is TuningJobStatus.COMPLETED
    trials = jobs.trials_of(job)
    assert len(trials) == 4  # MaxNumberOfTrainingJobs
    assert [call for call, _ in backend.calls] == ["start", "poll"] * 4  # one slot: one trial at a time
    expected = make_strategy(config, 7)  # Random search: the same seed proposes the same configurations
    proposals = []
    for _ in trials:
        proposal = expected.suggest()
        assert proposal is not None
        proposals.append(proposal)
    assert [t.objective for t in trials] == [loss(p) for p in proposals]
    assert backend.free == 1  # every slot came back
