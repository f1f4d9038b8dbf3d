"""Every trigger, driven through the real ASL (run by the twin) to a notification."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any

from sm_stand_in import SageMakerStandIn
from sm_support import MODEL, PROFILE, ROOT

from amtflow.local.twin import Execution, ExecutionStatus, Twin

CREATE = "CreateHyperParameterTuningJob"


def wait_until(condition: Callable[[], bool], what: str, timeout: float = 60.0) -> None:
    """Poll until ``condition`` holds (executions run on the interpreter's own threads)."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"still waiting for {what} after {timeout}s")
        time.sleep(0.05)


def fixture(name: str) -> Any:
    return json.loads((ROOT / "events" / name).read_text())


def upload_version(twin: Twin, version: str = "v1") -> None:
    """Upload a dataset version (channels, then the marker) and wait until its execution has started."""
    before = len(twin.executions())
    twin.put_object(f"datasets/{MODEL}/{version}/train/part-0.csv", "1,0.5\n0,0.1\n")
    twin.put_object(f"datasets/{MODEL}/{version}/validation/part-0.csv", "1,0.4\n")
    twin.put_object(f"datasets/{MODEL}/{version}/_READY", "")
    wait_until(lambda: len(twin.executions()) > before, f"the execution of dataset version {version}")


def state_items(twin: Twin) -> list[dict[str, Any]]:
    table = twin.physical_id("StateTable")
    return twin.client("dynamodb").scan(TableName=table)["Items"]  # type: ignore[no-any-return]


def assert_budget(execution: Execution) -> None:
    assert execution.state_transitions <= 25
    assert execution.lambda_invocations <= 8


def assert_released(twin: Twin) -> None:
    """No lock and no parked token left behind (lineage records may stay)."""
    left = [
        (i["pk"]["S"], i["sk"]["S"])
        for i in state_items(twin)
        if i["sk"]["S"] in ("LOCK", "TOKEN") or i["pk"]["S"] == "PARKED"
    ]
    assert left == []


def test_a_dataset_marker_runs_tuning_to_a_success_notification(
    app: Twin, sagemaker: SageMakerStandIn
) -> None:
    upload_version(app)
    (execution,) = app.wait_for_executions()

    assert execution.status is ExecutionStatus.SUCCEEDED, execution.cause
    assert execution.input["trigger"] == "s3"
    assert execution.input["datasetVersion"] == "v1"
    assert execution.states == (
        "Receive",
        "Plan",
        "RouteAction",
        "StartTuning",
        "Evaluate",
        "NeedsChampionEvaluation",
        "Notify",
        "HasLock",
        "ReleaseLock",
        "Done",
    )
    assert_budget(execution)
    assert sagemaker.calls.count(CREATE) == 1
    (job_name,) = sagemaker.jobs
    request = sagemaker.jobs[job_name]["request"]
    assert request["TrainingJobDefinition"]["InputDataConfig"][0]["DataSource"]["S3DataSource"][
        "S3Uri"
    ].endswith(f"/datasets/{MODEL}/v1/train/")

    (note,) = app.notifications()
    assert note.subject == f"amtflow: {MODEL} - tuning succeeded"
    assert note.attributes == {"model": MODEL, "outcome": "succeeded", "promotion": "promoted"}
    document = note.json()
    assert document["evaluation"]["best"]["objectiveValue"] == 0.95
    assert [t["objectiveValue"] for t in document["evaluation"]["leaderboard"]] == [0.95, 0.93, 0.91]
    assert document["tuning"]["jobName"] == job_name
    assert app.errors() == []
    assert_released(app)


def test_a_failed_tuning_job_ends_in_a_failure_notification_with_its_reason(
    app: Twin, sagemaker: SageMakerStandIn
) -> None:
    sagemaker.outcome = lambda request: "Failed"
    upload_version(app)
    (execution,) = app.wait_for_executions()

    assert execution.status is ExecutionStatus.FAILED
    assert execution.error == "TuningJobFailed"
    assert "ReleaseLockAfterFailure" in execution.states
    assert_budget(execution)
    (note,) = app.notifications()
    assert note.attributes == {"model": MODEL, "outcome": "failed"}
    assert "AlgorithmError: the training script exited with 1" in note.json()["error"]["message"]
    assert_released(app)


def test_a_job_whose_trials_report_no_objective_ends_in_a_no_result_notification(
    app: Twin, sagemaker: SageMakerStandIn
) -> None:
    sagemaker.report_objective = False
    upload_version(app)
    (execution,) = app.wait_for_executions()
    assert execution.status is ExecutionStatus.SUCCEEDED
    (note,) = app.notifications()
    assert note.attributes == {"model": MODEL, "outcome": "no_result"}
    assert "MetricDefinitions regex" in note.json()["evaluation"]["reason"]
    assert_released(app)


def test_a_stopped_tuning_job_is_a_failure_of_its_own_kind(app: Twin, sagemaker: SageMakerStandIn) -> None:
    sagemaker.outcome = lambda request: "Stopped"
    upload_version(app)
    (execution,) = app.wait_for_executions()
    assert execution.status is ExecutionStatus.FAILED
    assert execution.error == "TuningJobStopped"
    assert app.notifications()[0].attributes["outcome"] == "failed"
    assert_released(app)


def test_a_malformed_manual_input_fails_clearly_and_launches_nothing(
    app: Twin, sagemaker: SageMakerStandIn
) -> None:
    app.start_execution(fixture("manual_run_request_malformed.json"))
    (execution,) = app.wait_for_executions()

    assert execution.status is ExecutionStatus.FAILED
    assert execution.error == "InvalidInputError"
    assert CREATE not in sagemaker.calls
    (note,) = app.notifications()
    error = note.json()["error"]
    assert "unknown key 'acton'" in error["message"]
    assert "stackTrace" not in note.message
    assert note.attributes["outcome"] == "failed"
    assert_released(app)


def test_an_input_that_is_not_an_object_is_refused_too(app: Twin, sagemaker: SageMakerStandIn) -> None:
    app.start_execution(["tune", MODEL])
    (execution,) = app.wait_for_executions()
    assert execution.status is ExecutionStatus.FAILED
    assert "must be a JSON object" in app.notifications()[0].json()["error"]["message"]
    assert CREATE not in sagemaker.calls


def test_a_duplicated_s3_event_gives_one_execution_and_one_tuning_job(
    app: Twin, sagemaker: SageMakerStandIn
) -> None:
    upload_version(app)
    app.put_object(f"datasets/{MODEL}/v1/_READY", "")  # the marker's event delivered again
    executions = app.wait_for_executions()

    assert len(executions) == 1
    assert executions[0].status is ExecutionStatus.SUCCEEDED
    assert sagemaker.calls.count(CREATE) == 1
    assert len(app.notifications()) == 1
    assert app.errors() == []


def test_a_manual_console_run_with_overrides(app: Twin, sagemaker: SageMakerStandIn) -> None:
    upload_version(app, "2026-11-01")
    app.wait_for_executions()
    app.start_execution(fixture("manual_run_request.json"))
    executions = app.wait_for_executions()
    (manual,) = [e for e in executions if "trigger" not in e.input]
    assert manual.status is ExecutionStatus.SUCCEEDED, manual.cause
    notes = {n.json()["plan"]["trigger"]: n for n in app.notifications()}
    assert notes["manual"].attributes["outcome"] == "succeeded"
    assert sagemaker.calls.count(CREATE) == 2
    limits = [
        job["request"]["HyperParameterTuningJobConfig"]["ResourceLimits"] for job in sagemaker.jobs.values()
    ]
    assert sorted(limit["MaxNumberOfTrainingJobs"] for limit in limits) == [12, 30]


def test_a_preflight_rejection_is_notified_and_nothing_is_launched(
    app: Twin, sagemaker: SageMakerStandIn
) -> None:
    # The owner lowers the per-run cap below what 30 trials cost and pushes the profile.
    app.put_object(f"profiles/{MODEL}.yaml", PROFILE.replace("max_usd_per_run: 10", "max_usd_per_run: 0.5"))
    app.start_execution({"model": MODEL, "action": "tune", "datasetVersion": "v1"})
    (execution,) = app.wait_for_executions()
    assert execution.status is ExecutionStatus.FAILED
    assert execution.error == "PreflightRejectedError"
    assert CREATE not in sagemaker.calls
    (note,) = app.notifications()
    assert note.attributes["outcome"] == "rejected"
    assert "AMT202" in note.json()["error"]["message"]
    assert_released(app)


def test_overrides_that_lift_the_budget_are_refused_and_nothing_is_launched(
    app: Twin, sagemaker: SageMakerStandIn
) -> None:
    app.start_execution(
        {
            "model": MODEL,
            "action": "tune",
            "datasetVersion": "v1",
            "overrides": {
                "budget": {
                    "max_usd_per_run": None,
                    "max_usd_per_month": None,
                    "prices": {"ml.p4d.24xlarge": 0.0001},
                },
                "training": {"instance_type": "ml.p4d.24xlarge"},
                "tuning": {"limits": {"max_jobs": 500, "max_parallel": 20}},
            },
        }
    )
    (execution,) = app.wait_for_executions()
    assert execution.status is ExecutionStatus.FAILED
    assert execution.error == "OverridesRefusedError"
    assert "StartTuning" not in execution.states
    assert CREATE not in sagemaker.calls
    (note,) = app.notifications()
    assert note.attributes["outcome"] == "failed"
    message = note.json()["error"]["message"]
    assert (
        "overrides.budget.max_usd_per_run: not overridable — budget caps and prices come from the stored "
        "profile; change the profile and push it"
    ) in message
    assert "overrides.training.instance_type: 'ml.p4d.24xlarge' is not an instance type" in message
    assert "Traceback" not in message
    assert_released(app)


def test_skip_notifies_without_tuning(app: Twin, sagemaker: SageMakerStandIn) -> None:
    app.start_execution({"model": MODEL, "action": "skip"})
    (execution,) = app.wait_for_executions()
    assert execution.status is ExecutionStatus.SUCCEEDED
    assert "StartTuning" not in execution.states
    assert app.notifications()[0].attributes["outcome"] == "skipped"
    assert sagemaker.calls == []


def test_the_schedule_starts_a_run_for_a_due_profile(app: Twin, sagemaker: SageMakerStandIn) -> None:
    app.put_object(
        f"profiles/{MODEL}.yaml", PROFILE.replace("schedule: rate(7 days)", "schedule: rate(1 hour)")
    )
    upload_version(app)
    app.wait_for_executions()
    app.advance(3600)
    executions = app.wait_for_executions()

    scheduled = [e for e in executions if e.input.get("trigger") == "schedule"]
    assert len(scheduled) == 1
    assert scheduled[0].status is ExecutionStatus.SUCCEEDED
    assert scheduled[0].input["datasetVersion"] == "v1"
    # the newest version is the one the champion was trained on: nothing to do, nothing launched
    assert sagemaker.calls.count(CREATE) == 1
    assert [n.attributes["outcome"] for n in app.notifications()] == ["succeeded", "skipped"]
    assert "unchanged" in app.notifications()[-1].json()["plan"]["reason"]


def test_a_weekly_profile_is_not_run_every_hour(app: Twin, sagemaker: SageMakerStandIn) -> None:
    upload_version(app)
    app.wait_for_executions()
    app.advance(3600)
    assert [e.input["trigger"] for e in app.wait_for_executions()] == ["s3"]


def test_a_drift_event_starts_a_drift_run(app: Twin, sagemaker: SageMakerStandIn) -> None:
    upload_version(app)
    app.wait_for_executions()
    app.put_events(
        [
            {
                "Source": "amtflow.drift",
                "DetailType": "Dataset Drift Detected",
                "Detail": json.dumps({"model": MODEL, "datasetVersion": "v1", "severity": "severe"}),
            }
        ]
    )
    executions = app.wait_for_executions()
    (drift,) = [e for e in executions if e.input.get("trigger") == "drift"]
    assert drift.status is ExecutionStatus.SUCCEEDED
    assert drift.input["drift"] == {"severity": "severe"}
    note = app.notifications()[-1].json()
    assert "severe" in note["plan"]["reason"]


def plan_attempts(twin: Twin) -> int:
    return sum(1 for i in twin.invocations() if i.function == "PlanFunction")


def test_a_second_run_of_a_busy_model_is_queued_and_the_reconciler_closes_a_missed_event(
    app: Twin, sagemaker: SageMakerStandIn
) -> None:
    sagemaker.emit_events = False  # SageMaker events are best effort: this one is lost
    upload_version(app)
    wait_until(lambda: "PARKED" in {i["pk"]["S"] for i in state_items(app)}, "the task token to be parked")
    (waiting,) = app.executions()
    assert waiting.status is ExecutionStatus.RUNNING
    assert f"MODEL#{MODEL}" in {i["pk"]["S"] for i in state_items(app)}

    app.start_execution({"model": MODEL, "action": "tune", "datasetVersion": "v1"})
    wait_until(lambda: plan_attempts(app) >= 4, "the second run to retry its Plan (queued behind the lock)")
    assert [e.status for e in app.executions()] == [ExecutionStatus.RUNNING, ExecutionStatus.RUNNING]
    assert sagemaker.calls.count(CREATE) == 1  # never two tuning jobs for one model at once
    assert app.notifications() == []  # waiting in the queue is not an outcome
    busy = [i for i in app.invocations() if i.function == "PlanFunction" and not i.ok]
    assert {i.error_type for i in busy} == {"ModelBusyError"}
    assert "locked by run" in (busy[0].error_message or "")

    sagemaker.emit_events = True
    app.advance(15 * 60)  # the reconciler closes the first run; the queued one takes the lock and runs
    executions = app.wait_for_executions()
    sweeps = [i.result for i in app.invocations() if i.function == "ReconcileFunction"]
    assert sweeps[0]["leases"] == {"renewed": 1}  # the holder still ran: its lease was renewed
    assert [e.status for e in executions] == [ExecutionStatus.SUCCEEDED, ExecutionStatus.SUCCEEDED]
    assert sagemaker.calls.count(CREATE) == 2
    assert [n.attributes["outcome"] for n in app.notifications()] == ["succeeded", "succeeded"]
    assert_released(app)


def test_a_lock_left_by_a_run_that_no_longer_runs_is_taken_over(
    app: Twin, sagemaker: SageMakerStandIn
) -> None:
    """A run aborted from the console never reaches its release step, so its lock stays until it expires.
    The next run asks Step Functions (DescribeExecution) whether the holder still runs and, as it does not,
    takes the lock over instead of queueing behind it. (The lock is written as an aborted run leaves it:
    moto does not end an execution stopped while it waits for a callback.)"""
    app.client("dynamodb").put_item(
        TableName=app.physical_id("StateTable"),
        Item={
            "pk": {"S": f"MODEL#{MODEL}"},
            "sk": {"S": "LOCK"},
            "owner": {"S": f"{MODEL}-v0-0badf00d"},
            "expiresAt": {"N": str(int(app.now().timestamp()) + 86400)},
        },
    )
    upload_version(app)
    (execution,) = app.wait_for_executions()

    assert execution.status is ExecutionStatus.SUCCEEDED, execution.cause
    assert sagemaker.calls.count(CREATE) == 1
    assert not any(i.error_type == "ModelBusyError" for i in app.invocations())
    assert_released(app)


def test_a_lock_whose_holder_runs_is_not_taken_over(app: Twin, sagemaker: SageMakerStandIn) -> None:
    sagemaker.emit_events = False
    upload_version(app)
    wait_until(lambda: "PARKED" in {i["pk"]["S"] for i in state_items(app)}, "the task token to be parked")
    (holder,) = app.executions()
    app.start_execution({"model": MODEL, "action": "tune", "datasetVersion": "v1"})
    wait_until(lambda: plan_attempts(app) >= 3, "the second run to be queued")
    lock = app.client("dynamodb").get_item(
        TableName=app.physical_id("StateTable"), Key={"pk": {"S": f"MODEL#{MODEL}"}, "sk": {"S": "LOCK"}}
    )["Item"]
    assert lock["owner"]["S"] == holder.name
    assert sagemaker.calls.count(CREATE) == 1


def test_an_exhausted_quota_queues_the_run_notifies_once_and_resumes(
    app: Twin, sagemaker: SageMakerStandIn
) -> None:
    """ResourceLimitExceeded on CreateHyperParameterTuningJob: one 'queued: quota' notice, waits (10 min,
    scaled), tries again, and the run ends with its own outcome notification once the quota frees up."""
    refusals = {"left": 2}
    create = sagemaker._CreateHyperParameterTuningJob

    def limited(params: dict[str, Any]) -> dict[str, Any]:
        if refusals["left"] > 0:
            refusals["left"] -= 1
            from botocore.exceptions import ClientError

            raise ClientError(
                {"Error": {"Code": "ResourceLimitExceeded", "Message": "concurrent tuning jobs: 100"}},
                "CreateHyperParameterTuningJob",
            )
        return create(params)

    sagemaker._CreateHyperParameterTuningJob = limited  # type: ignore[method-assign]
    upload_version(app)
    (execution,) = app.wait_for_executions()

    assert execution.status is ExecutionStatus.SUCCEEDED, execution.cause
    assert execution.states.count("WaitForQuota") == 2
    assert execution.states.count("NotifyQueuedForQuota") == 1
    assert sagemaker.calls.count(CREATE) == 3
    assert len(sagemaker.jobs) == 1
    queued, outcome = app.notifications()
    assert queued.attributes == {"model": MODEL, "outcome": "queued"}
    assert queued.subject == f"amtflow: {MODEL} - queued: quota"
    assert "quota" in queued.message
    assert "stackTrace" not in queued.message  # the quota's cause, as Notify renders it (redacted, no trace)
    assert "concurrent tuning jobs: 100" in queued.json()["reason"]
    assert outcome.attributes["outcome"] == "succeeded"
    assert_released(app)
