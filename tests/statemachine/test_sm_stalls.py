"""Stalled tuning jobs through the real ASL: the reconciler's sweep (the twin's clock moved on) notices a
running job whose best objective stopped improving (``stall_after``) or whose running trial went silent
(``silent_after``), notifies once, and stops it when the profile says so; the stopped job ends its run with
its leaderboard."""

from __future__ import annotations

import io
from typing import Any

from sm_stand_in import SageMakerStandIn
from sm_support import MODEL, PROFILE
from test_sm_runs import state_items, upload_version, wait_until

from amtflow.app import render_status
from amtflow.local.apps.shell import Shell, twin_status
from amtflow.local.twin import ExecutionStatus, Twin

SWEEP = 15 * 60  # the reconciler's default schedule


def with_monitoring(rules: str) -> str:
    return PROFILE + f"\nmonitoring: {rules}\n"


def parked(twin: Twin) -> bool:
    return "PARKED" in {i["pk"]["S"] for i in state_items(twin)}


def start_running_job(app: Twin, sagemaker: SageMakerStandIn, rules: str) -> str:
    """A run whose tuning job keeps running: its three trials are done, the best (0.95) is the second."""
    app.put_object(f"profiles/{MODEL}.yaml", with_monitoring(rules))
    sagemaker.outcome = lambda request: "InProgress"
    upload_version(app)
    wait_until(lambda: parked(app), "the task token to be parked")
    (job_name,) = sagemaker.jobs
    return job_name


def sweep(app: Twin) -> None:
    """Move the clock to the reconciler's next sweep and wait for it (the run keeps waiting)."""
    app.advance(SWEEP, wait=False)
    app.wait_idle()


def sweeps(app: Twin) -> list[dict[str, Any]]:
    return [i.result for i in app.invocations() if i.function == "ReconcileFunction" and i.ok]


def test_a_stalled_job_is_notified_once_and_its_run_goes_on(app: Twin, sagemaker: SageMakerStandIn) -> None:
    job_name = start_running_job(app, sagemaker, "{stall_after: {trials: 1}}")

    sweep(app)
    (notice,) = app.notifications()
    assert notice.attributes == {"model": MODEL, "outcome": "stalled"}
    assert notice.subject.startswith(f"amtflow: {MODEL} - stalled: the best validation:auc")
    assert f"(0.95, {job_name}-002-00000002) has not improved for 1 trials" in notice.message
    assert notice.json()["stopped"] is False
    assert sweeps(app)[-1]["outcomes"] == {"stalled": 1}
    assert "StopHyperParameterTuningJob" not in sagemaker.calls

    out = io.StringIO()
    Shell(app, out).handle("status")  # the shell's status view shows the running job
    status = out.getvalue()
    assert f"model {MODEL}" in status
    assert f"  running:   {job_name}" in status
    assert "alarms: none in ALARM" in status

    sweep(app)  # the next sweep remembers the notice
    assert len(app.notifications()) == 1
    assert sweeps(app)[-1]["outcomes"] == {"heartbeat": 1}

    sagemaker.end(job_name, "Completed")
    (execution,) = app.wait_for_executions()
    assert execution.status is ExecutionStatus.SUCCEEDED, execution.cause
    assert [n.attributes["outcome"] for n in app.notifications()] == ["stalled", "succeeded"]


def stalled_jobs(app: Twin) -> list[float]:
    """The reconciler's ``StalledJobs`` of each sweep, in order."""
    return [v for m in app.metrics() if m.name == "StalledJobs" for v in m.values]


def test_each_sweep_counts_the_jobs_it_found_stalled(app: Twin, sagemaker: SageMakerStandIn) -> None:
    start_running_job(app, sagemaker, "{stall_after: {trials: 1}}")
    sweep(app)
    sweep(app)  # the job was counted at the sweep that noticed it
    assert stalled_jobs(app)[-2:] == [1.0, 0.0]
    (metric,) = [m for m in app.metrics() if m.name == "StalledJobs"][-1:]
    assert (metric.function, metric.namespace, metric.unit) == ("ReconcileFunction", "amtflow", "Count")
    assert dict(metric.dimensions) == {"service": "amtflow"}


def test_a_profile_that_leaves_out_stalled_is_stopped_counted_and_not_notified(
    app: Twin, sagemaker: SageMakerStandIn
) -> None:
    rules = "{stall_after: {trials: 1}, on_stall: stop}\nnotifications: {outcomes: [promoted, failed]}"
    job_name = start_running_job(app, sagemaker, rules)

    app.advance(SWEEP)
    (execution,) = app.wait_for_executions()
    assert sagemaker.calls.count("StopHyperParameterTuningJob") == 1
    assert sagemaker.jobs[job_name]["status"] == "Stopped"
    assert execution.status is ExecutionStatus.SUCCEEDED, execution.cause
    assert 1.0 in stalled_jobs(app)
    (result,) = app.notifications()  # the run's promotion; no stall notice
    assert result.attributes["outcome"] == "succeeded"
    assert result.attributes["promotion"] == "promoted"


def test_a_job_that_still_improves_is_not_stalled(app: Twin, sagemaker: SageMakerStandIn) -> None:
    start_running_job(app, sagemaker, "{stall_after: {trials: 2}, on_stall: stop}")
    sweep(app)
    assert sweeps(app)[-1]["outcomes"] == {"heartbeat": 1}
    assert app.notifications() == []
    assert "StopHyperParameterTuningJob" not in sagemaker.calls


def test_on_stall_stop_stops_the_job_and_the_run_ends_with_its_result(
    app: Twin, sagemaker: SageMakerStandIn
) -> None:
    job_name = start_running_job(app, sagemaker, "{stall_after: {trials: 1}, on_stall: stop}")

    app.advance(SWEEP)
    (execution,) = app.wait_for_executions()
    assert sagemaker.calls.count("StopHyperParameterTuningJob") == 1
    assert sagemaker.jobs[job_name]["status"] == "Stopped"
    assert execution.status is ExecutionStatus.SUCCEEDED, execution.cause
    assert "Evaluate" in execution.states
    assert "NotifyFailure" not in execution.states

    stalled, result = app.notifications()
    assert stalled.attributes == {"model": MODEL, "outcome": "stalled"}
    assert stalled.json()["stopped"] is True
    assert result.attributes["outcome"] == "succeeded"
    document = result.json()
    assert document["tuning"]["status"] == "Stopped"
    assert document["tuning"]["stoppedFor"].startswith("stalled: the best validation:auc (0.95")
    assert document["evaluation"]["best"]["objectiveValue"] == 0.95
    assert app.errors() == []

    status = render_status(twin_status(app))
    assert "  running:   none" in status
    assert f"  last run:  {execution.name} promoted" in status  # a result, not a failure
    assert "attention: none" in status
    assert f"  champion:  {job_name}-002-00000002 validation:auc=0.95" in status


def start_silent_job(app: Twin, sagemaker: SageMakerStandIn, rules: str) -> tuple[str, str]:
    """A run whose tuning job keeps a fourth trial training; it reports a metric value as the run parks.
    Returns the tuning job and its running trial."""
    sagemaker.running_trial = True
    job_name = start_running_job(app, sagemaker, rules)
    trial = f"{job_name}-004-00000004"
    sagemaker.report_metric(trial, app.now())
    return job_name, trial


def test_a_silent_job_is_noticed_after_silent_after_notified_and_stopped(
    app: Twin, sagemaker: SageMakerStandIn
) -> None:
    job_name, _ = start_silent_job(app, sagemaker, "{silent_after: 30, on_stall: stop}")

    sweep(app)  # 15 minutes without a metric value: not yet silent
    assert sweeps(app)[-1]["outcomes"] == {"heartbeat": 1}
    assert app.notifications() == []

    app.advance(SWEEP)  # 30 minutes: silent
    (execution,) = app.wait_for_executions()
    assert sagemaker.calls.count("StopHyperParameterTuningJob") == 1
    assert sagemaker.jobs[job_name]["status"] == "Stopped"
    assert execution.status is ExecutionStatus.SUCCEEDED, execution.cause
    assert 1.0 in stalled_jobs(app)

    stalled, result = app.notifications()
    assert stalled.attributes == {"model": MODEL, "outcome": "stalled"}
    reason = "stalled: 1 running trial(s) reported no metric for 30 minutes (silent_after: 30 minutes)"
    assert stalled.subject.startswith(f"amtflow: {MODEL} - stalled: 1 running trial(s)")
    assert reason in stalled.message
    assert stalled.json()["stopped"] is True
    assert result.attributes["outcome"] == "succeeded"
    assert result.json()["tuning"]["stoppedFor"] == reason
    assert result.json()["evaluation"]["best"]["objectiveValue"] == 0.95
    assert app.errors() == []


def test_a_silent_job_with_on_stall_notify_is_notified_once_and_keeps_running(
    app: Twin, sagemaker: SageMakerStandIn
) -> None:
    job_name, _ = start_silent_job(app, sagemaker, "{silent_after: 20}")

    sweep(app)
    sweep(app)  # 30 minutes since the trial's last metric value
    (notice,) = app.notifications()
    assert notice.attributes == {"model": MODEL, "outcome": "stalled"}
    assert "reported no metric for 30 minutes (silent_after: 20 minutes)" in notice.message
    assert notice.json()["stopped"] is False
    assert "StopHyperParameterTuningJob" not in sagemaker.calls
    assert sagemaker.jobs[job_name]["status"] == "InProgress"

    sweep(app)  # the notice is remembered
    assert len(app.notifications()) == 1


def test_a_job_still_reporting_within_silent_after_is_not_flagged(
    app: Twin, sagemaker: SageMakerStandIn
) -> None:
    job_name, trial = start_silent_job(app, sagemaker, "{silent_after: 30, on_stall: stop}")

    for _ in range(4):  # an hour of sweeps, the trial reporting between each
        sweep(app)
        sagemaker.report_metric(trial, app.now())
    assert [s["outcomes"] for s in sweeps(app)[-4:]] == [{"heartbeat": 1}] * 4
    assert app.notifications() == []
    assert "StopHyperParameterTuningJob" not in sagemaker.calls
    assert sagemaker.jobs[job_name]["status"] == "InProgress"
    assert stalled_jobs(app)[-4:] == [0.0] * 4
