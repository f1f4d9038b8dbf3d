"""Stalled tuning jobs: the rule on the trials, and the reconciler's watch (one notice, stop on stall, a
stopped job that ends with its result)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import pytest
from app_fakes import MODEL, T0, Callbacks, Clock, Notifier, SageMaker, StateTable, trial

from amtflow.app import (
    CloseOutcome,
    CloseTuningJobs,
    NotifyRun,
    ParkedJob,
    StallRecord,
    StallWatch,
    TrialProgress,
    TuningJobDescription,
    TuningJobStatus,
    stall_reason,
)
from amtflow.errors import NotFoundError, TransientError
from amtflow.messages import TuningResult
from amtflow.profile import ModelProfile, Monitoring, load_profile

JOB = "amtf-cancer-xgb-0badc0de"


def monitoring(**rules: Any) -> Monitoring:
    return Monitoring.model_validate(rules)


def done(name: str, value: float | None, minute: int) -> TrialProgress:
    return TrialProgress(name, "Completed", value, T0, T0 + timedelta(minutes=minute))


def running(name: str, *, metric_minute: int | None = None, start_minute: int = 0) -> TrialProgress:
    last = T0 + timedelta(minutes=metric_minute) if metric_minute is not None else None
    return TrialProgress(name, "InProgress", None, T0 + timedelta(minutes=start_minute), None, last)


def reason(
    rules: Monitoring, trials: Sequence[TrialProgress], *, minutes: float, goal: str = "Maximize"
) -> str | None:
    return stall_reason(
        rules,
        trials,
        objective_metric="validation:auc",
        objective_type=goal,
        started_at=T0,
        now=T0 + timedelta(minutes=minutes),
    )


# --- the rule --------------------------------------------------------------------------------


def test_no_improvement_for_n_trials_is_a_stall() -> None:
    trials = [
        done("t1", 0.80, 1),
        done("t2", 0.90, 2),
        done("t3", 0.85, 3),
        done("t4", 0.89, 4),
        done("t5", 0.7, 5),
    ]
    why = reason(monitoring(stall_after={"trials": 3}), trials, minutes=6)
    assert why is not None
    assert why.startswith("stalled: the best validation:auc (0.9, t2) has not improved for 3 trials")


def test_an_improvement_within_the_window_is_no_stall() -> None:
    trials = [
        done("t1", 0.80, 1),
        done("t2", 0.90, 2),
        done("t3", 0.85, 3),
        done("t4", 0.91, 4),
        done("t5", 0.7, 5),
    ]
    assert reason(monitoring(stall_after={"trials": 3}), trials, minutes=6) is None


def test_the_goal_decides_what_better_means() -> None:
    trials = [done("t1", 0.5, 1), done("t2", 0.2, 2), done("t3", 0.4, 3), done("t4", 0.3, 4)]
    rules = monitoring(stall_after={"trials": 2})
    assert reason(rules, trials, minutes=5, goal="Minimize") is not None  # 0.2 is the best: 2 trials since
    assert reason(rules, trials, minutes=5, goal="Maximize") is not None  # 0.5 is the best: 3 trials since
    assert reason(monitoring(stall_after={"trials": 3}), trials, minutes=5, goal="Minimize") is None


def test_finished_trials_without_an_objective_count_towards_the_stall() -> None:
    trials = [done("t1", None, 1), done("t2", None, 2)]
    assert reason(monitoring(stall_after={"trials": 2}), trials, minutes=3) == (
        "stalled: 2 trials finished and none reported validation:auc"
    )


def test_running_trials_do_not_count_as_trials_without_improvement() -> None:
    trials = [done("t1", 0.9, 1), running("t2"), running("t3"), running("t4")]
    assert reason(monitoring(stall_after={"trials": 2}), trials, minutes=3) is None


def test_no_improvement_for_n_minutes_counts_from_the_best_trials_end() -> None:
    trials = [done("t1", 0.9, 10), done("t2", 0.8, 50)]
    rules = monitoring(stall_after={"minutes": 60})
    assert reason(rules, trials, minutes=69) is None
    why = reason(rules, trials, minutes=70)
    assert (
        why
        == "stalled: the best validation:auc (0.9) has not improved for 60 minutes (stall_after: 60 minutes)"
    )


def test_no_objective_for_n_minutes_counts_from_the_jobs_start() -> None:
    rules = monitoring(stall_after={"minutes": 30})
    assert reason(rules, [running("t1")], minutes=29) is None
    assert reason(rules, [running("t1")], minutes=30) is not None


def test_running_trials_that_print_no_metric_are_silent() -> None:
    rules = monitoring(silent_after=20)
    trials = [done("t1", 0.9, 5), running("t2", metric_minute=10), running("t3", start_minute=12)]
    assert reason(rules, trials, minutes=31) is None  # t3 started at 12: quiet for 19 minutes
    why = reason(rules, trials, minutes=32)
    assert why == "stalled: 2 running trial(s) reported no metric for 20 minutes (silent_after: 20 minutes)"


def test_a_recent_metric_keeps_a_job_from_being_silent() -> None:
    rules = monitoring(silent_after=20)
    assert reason(rules, [running("t1", metric_minute=50)], minutes=60) is None


def test_no_running_trial_is_never_silent() -> None:
    assert reason(monitoring(silent_after=1), [done("t1", 0.9, 1)], minutes=600) is None


def test_without_rules_nothing_stalls() -> None:
    assert reason(Monitoring(), [done("t1", None, 1)] * 50, minutes=10_000) is None


# --- the watch --------------------------------------------------------------------------------


@dataclass
class Trials:
    trials: list[TrialProgress] = field(default_factory=list)
    calls: int = 0

    def trial_progress(self, tuning_job: str, *, limit: int) -> Sequence[TrialProgress]:
        self.calls += 1
        return self.trials[:limit]


@dataclass
class Records:
    items: dict[str, StallRecord] = field(default_factory=dict)

    def record(self, record: StallRecord) -> bool:
        if record.job_name in self.items:
            return False
        self.items[record.job_name] = record
        return True

    def get(self, job_name: str) -> StallRecord | None:
        return self.items.get(job_name)

    def forget(self, job_name: str) -> None:
        self.items.pop(job_name, None)


class FailingNotifier:
    def publish(self, notification: object) -> str:
        raise TransientError("SNS throttled")


def profile_with(rules: dict[str, Any] | None, *, outcomes: list[str] | None = None) -> ModelProfile:
    import yaml
    from app_fakes import XGB_PROFILE

    doc = yaml.safe_load(XGB_PROFILE)
    if rules is not None:
        doc["monitoring"] = rules
    if outcomes is not None:
        doc["notifications"] = {"outcomes": outcomes}
    return load_profile(doc)


@dataclass
class World:
    closer: CloseTuningJobs
    sm: SageMaker
    table: StateTable
    callbacks: Callbacks
    clock: Clock
    trials: Trials
    records: Records
    notifier: Any
    stopped: list[str]


def world(rules: dict[str, Any] | None, *, notifier: Any = None, outcomes: list[str] | None = None) -> World:
    sm, table, callbacks, clock = SageMaker(), StateTable(), Callbacks(), Clock()
    sm.add(
        TuningJobDescription(
            name=JOB,
            status=TuningJobStatus.IN_PROGRESS,
            objective_metric="validation:auc",
            objective_type="Maximize",
            training_jobs={"Completed": 4, "InProgress": 1},
        )
    )
    table.park(ParkedJob(JOB, "token-1", MODEL, "exec-1", T0))
    trials = Trials([done("t1", 0.9, 1), done("t2", 0.8, 2), done("t3", 0.8, 3), done("t4", 0.7, 4)])
    records, stopped = Records(), []
    notifier = notifier if notifier is not None else Notifier()
    profile = profile_with(rules, outcomes=outcomes)

    def profiles(model: str) -> ModelProfile:
        if model != MODEL:
            raise NotFoundError(f"no profile {model}")
        return profile

    notices = NotifyRun(notifier=notifier, clock=clock, profiles=profiles)
    watch = StallWatch(
        profiles=profiles,
        trials=trials,
        records=records,
        notify=notices.notify_stalled,
        stop_job=stopped.append,
        clock=clock,
    )
    closer = CloseTuningJobs(
        sagemaker=sm, tokens=table, callbacks=callbacks, clock=clock, job_prefix="amtf", stalls=watch
    )
    return World(closer, sm, table, callbacks, clock, trials, records, notifier, stopped)


def test_a_stalled_job_is_notified_once_and_keeps_running() -> None:
    w = world({"stall_after": {"trials": 3}})
    (result,) = w.closer.reconcile()
    assert result.outcome is CloseOutcome.STALLED
    assert result.reason.endswith("; notified")
    (notice,) = w.notifier.published
    assert notice.attributes == {"model": MODEL, "outcome": "stalled"}
    assert notice.subject.startswith("amtflow: cancer-xgb - stalled: the best validation:auc")
    assert "stalled: the best validation:auc (0.9, t1) has not improved for 3 trials" in notice.text
    assert "keeps running" in notice.text
    assert w.stopped == []
    assert w.callbacks.sent == [("heartbeat", "token-1", None)]
    (again,) = w.closer.reconcile()
    assert again.outcome is CloseOutcome.HEARTBEAT
    assert len(w.notifier.published) == 1


def test_a_profile_that_says_nothing_of_notifications_announces_stalls() -> None:
    w = world({"silent_after": 5}, outcomes=None)
    w.trials.trials = [running("t1", start_minute=0)]
    w.clock.now = T0 + timedelta(minutes=5)
    (result,) = w.closer.reconcile()
    assert result.outcome is CloseOutcome.STALLED
    (notice,) = w.notifier.published
    assert notice.attributes["outcome"] == "stalled"


def test_a_profile_that_lists_stalled_is_notified() -> None:
    w = world({"stall_after": {"trials": 3}}, outcomes=["stalled"])
    (result,) = w.closer.reconcile()
    assert result.reason.endswith("; notified")
    assert [n.attributes["outcome"] for n in w.notifier.published] == ["stalled"]


def test_a_profile_that_leaves_out_stalled_is_not_notified_but_still_stopped_once() -> None:
    w = world({"stall_after": {"trials": 3}, "on_stall": "stop"}, outcomes=["promoted", "failed"])
    (result,) = w.closer.reconcile()
    assert result.outcome is CloseOutcome.STALLED
    assert "; not notified (notifications.outcomes omits stalled); stopped the job" in result.reason
    assert w.notifier.published == []
    assert w.stopped == [JOB]
    assert JOB in w.records.items  # remembered: the next sweep neither publishes nor tries again
    (again,) = w.closer.reconcile()
    assert again.outcome is CloseOutcome.HEARTBEAT
    assert w.notifier.published == []


def test_a_job_that_is_not_stalled_only_gets_its_heartbeat() -> None:
    w = world({"stall_after": {"trials": 4}, "on_stall": "stop"})
    (result,) = w.closer.reconcile()
    assert result.outcome is CloseOutcome.HEARTBEAT
    assert w.notifier.published == []
    assert w.stopped == []
    assert w.records.items == {}


def test_a_profile_without_monitoring_reads_no_trials() -> None:
    w = world(None)
    (result,) = w.closer.reconcile()
    assert result.outcome is CloseOutcome.HEARTBEAT
    assert w.trials.calls == 0


def test_on_stall_stop_stops_the_job_and_its_run_ends_with_a_result() -> None:
    w = world({"stall_after": {"trials": 3}, "on_stall": "stop"})
    (result,) = w.closer.reconcile()
    assert result.outcome is CloseOutcome.STALLED
    assert result.reason.endswith("; stopped the job")
    assert w.stopped == [JOB]
    assert "stops the job" in w.notifier.published[0].text

    w.sm.finish(JOB, TuningJobStatus.STOPPED, best=trial("t1", 0.9))
    (closed,) = w.closer.reconcile()
    assert closed.outcome is CloseOutcome.SUCCEEDED
    (_, (kind, _, output)) = w.callbacks.sent
    assert kind == "success"
    tuning = TuningResult.model_validate(output)
    assert tuning.status == "Stopped"
    assert tuning.stopped_for is not None
    assert tuning.stopped_for.startswith("stalled: the best validation:auc")
    assert len(w.notifier.published) == 1


def test_a_job_stopped_by_someone_else_still_fails_its_task() -> None:
    w = world({"stall_after": {"trials": 3}})  # notified, not stopped by amtflow
    w.closer.reconcile()
    w.sm.finish(JOB, TuningJobStatus.STOPPED)
    (closed,) = w.closer.reconcile()
    assert closed.outcome is CloseOutcome.FAILED
    (_, (kind, _, (error, cause))) = w.callbacks.sent
    assert (kind, error) == ("failure", "TuningJobStopped")
    assert json.loads(cause)["errorType"] == "TuningJobStopped"


def test_a_notice_that_could_not_be_sent_is_tried_again_at_the_next_sweep() -> None:
    w = world({"stall_after": {"trials": 3}, "on_stall": "stop"}, notifier=FailingNotifier())
    (result,) = w.closer.reconcile()
    assert result.outcome is CloseOutcome.ERROR
    assert w.records.items == {}
    assert w.stopped == []


def test_a_stop_that_did_not_get_through_is_repeated_while_the_job_runs() -> None:
    w = world({"stall_after": {"trials": 3}, "on_stall": "stop"})
    w.records.record(StallRecord(JOB, MODEL, "stalled: earlier", T0, stopped=True))
    (result,) = w.closer.reconcile()
    assert result.outcome is CloseOutcome.HEARTBEAT
    assert w.stopped == [JOB]
    assert w.notifier.published == []


def test_an_unreadable_profile_watches_nothing() -> None:
    w = world({"stall_after": {"trials": 1}})
    w.table.claim(JOB)
    w.table.park(ParkedJob(JOB, "token-2", "another-model", "exec-2", T0))
    (result,) = w.closer.reconcile()
    assert result.outcome is CloseOutcome.HEARTBEAT


@pytest.mark.parametrize("minutes", [29, 30])
def test_the_minutes_rule_follows_the_clock(minutes: int) -> None:
    w = world({"stall_after": {"minutes": 30}})
    w.trials.trials = [running("t1", start_minute=0)]
    w.clock.now = T0 + timedelta(minutes=minutes)
    (result,) = w.closer.reconcile()
    expected = CloseOutcome.STALLED if minutes >= 30 else CloseOutcome.HEARTBEAT
    assert result.outcome is expected


def sweep_event(time: str | None) -> dict[str, Any]:
    from pathlib import Path

    path = Path(__file__).resolve().parents[3] / "events" / "scheduled_event.json"
    loaded: dict[str, Any] = json.loads(path.read_text())
    if time is None:
        del loaded["time"]
    else:
        loaded["time"] = time
    return loaded


@pytest.mark.parametrize(("minutes", "outcome"), [(29, "heartbeat"), (30, "stalled")])
def test_the_sweep_judges_stalls_at_its_schedules_time_not_when_it_runs(minutes: int, outcome: str) -> None:
    w = world({"silent_after": 30, "on_stall": "stop"})
    w.trials.trials = [running("t1", metric_minute=0)]
    w.clock.now = T0 + timedelta(hours=5)  # the sweep runs late: by the clock every trial is silent
    at = T0 + timedelta(minutes=minutes)
    (result,), ignored = w.closer.on_sweep_event(sweep_event(at.strftime("%Y-%m-%dT%H:%M:%SZ")))
    assert ignored == ""
    assert result.outcome.value == outcome
    if outcome == "stalled":
        assert "reported no metric for 30 minutes (silent_after: 30 minutes)" in result.reason
        assert w.records.items[JOB].stalled_at == at
        assert w.stopped == [JOB]
    else:
        assert w.stopped == []


@pytest.mark.parametrize("time", [None, "yesterday"])
def test_a_sweep_without_a_readable_time_judges_at_the_clock(time: str | None) -> None:
    w = world({"silent_after": 30})
    w.trials.trials = [running("t1", metric_minute=0)]
    w.clock.now = T0 + timedelta(minutes=45)
    (result,), _ = w.closer.on_sweep_event(sweep_event(time))
    assert result.outcome is CloseOutcome.STALLED
    assert "reported no metric for 45 minutes" in result.reason


def test_the_run_notification_says_the_job_was_stopped_for_stalling() -> None:
    from amtflow.app import gather_report, render

    tuning = TuningResult(job_name=JOB, status="Stopped", stopped_for="stalled: the best auc (0.9) ...")
    state = {"input": {"model": MODEL}, "tuning": tuning.to_json()}
    text = render(gather_report(state, execution_id="arn:x:exec-1", clock=Clock())).text
    assert "Stopped for stalling: stalled: the best auc (0.9) ..." in text
