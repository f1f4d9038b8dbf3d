"""Each handler with the shared event fixtures: the result a caller sees, and the error it raises."""

from __future__ import annotations

from typing import Any

import pytest
from handler_support import MODEL, PROFILE, event

from amtflow.local.twin import FunctionError, Twin

EXECUTION = {
    "name": "handler-test-1",
    "id": "arn:aws:states:us-east-1:123456789012:execution:sm:handler-test-1",
}


@pytest.fixture(scope="module")
def plan(twin: Twin) -> dict[str, Any]:
    result: dict[str, Any] = twin.invoke(
        "PlanFunction", {"request": {"model": MODEL, "datasetVersion": "v1"}, "execution": EXECUTION}
    )
    return result


def test_start_run_starts_one_execution_per_dataset_version(twin: Twin) -> None:
    # a model without a profile: its run fails at Plan without taking a lock the other tests need
    bucket = twin.outputs["DataBucketName"]
    marker = event("s3_marker_created.json", bucket={"name": bucket})
    marker["detail"]["object"]["key"] = "datasets/unprofiled-model/v1/_READY"
    first = twin.invoke("StartRunFunction", marker)
    assert [e["outcome"] for e in first["executions"]] == ["started"]
    redelivered = {**marker, "id": "a-second-delivery"}
    again = twin.invoke("StartRunFunction", redelivered)
    assert [e["name"] for e in again["executions"]] == [e["name"] for e in first["executions"]]
    assert [e["outcome"] for e in again["executions"]] == ["duplicate"]
    twin.wait_for_executions()
    names = [e.name for e in twin.executions()]
    assert names.count(first["executions"][0]["name"]) == 1


def test_start_run_ignores_a_channel_file_and_explains(twin: Twin) -> None:
    bucket = twin.outputs["DataBucketName"]
    result = twin.invoke("StartRunFunction", event("s3_channel_object_created.json", bucket={"name": bucket}))
    assert result["executions"] == []
    assert "not a marker" in result["ignored"]


def test_start_run_rejects_a_malformed_drift_event_naming_the_field(twin: Twin) -> None:
    with pytest.raises(FunctionError) as e:
        twin.invoke("StartRunFunction", event("drift_detected.json", severity=""))
    assert e.value.error_type == "InvalidInputError"
    assert "severity" in e.value.error_message


def test_plan_returns_the_plan_document(plan: dict[str, Any]) -> None:
    assert plan["action"] == "tune"
    assert plan["jobName"].startswith("amtf-cancer-xgb-")
    assert plan["lock"]["owner"] == EXECUTION["name"]
    assert 0 < plan["heartbeatSeconds"] < plan["timeoutSeconds"]


def test_plan_rejects_a_malformed_request_with_the_field_and_the_fix(twin: Twin) -> None:
    with pytest.raises(FunctionError) as e:
        twin.invoke("PlanFunction", {"request": {"model": MODEL, "acton": "tune"}, "execution": EXECUTION})
    assert e.value.error_type == "InvalidInputError"
    assert "unknown key 'acton': remove it" in e.value.error_message


def test_plan_rejects_a_payload_without_execution(twin: Twin) -> None:
    with pytest.raises(FunctionError) as e:
        twin.invoke("PlanFunction", {"request": {"model": MODEL}})
    assert e.value.error_type == "InvalidInputError"
    assert "plan input.execution" in e.value.error_message


def test_start_tuning_creates_the_job_and_parks_the_token(
    twin: Twin, plan: dict[str, Any], sagemaker: Any
) -> None:
    result = twin.invoke("StartTuningFunction", {"plan": plan, "taskToken": "token-from-the-state-machine"})
    assert result == {"jobName": plan["jobName"], "created": True, "warnings": []}
    assert plan["jobName"] in sagemaker.jobs
    items = twin.client("dynamodb").scan(TableName=twin.outputs["StateTableName"])["Items"]
    tokens = [i for i in items if i["pk"]["S"] == f"JOB#{plan['jobName']}"]
    assert tokens[0]["taskToken"]["S"] == "token-from-the-state-machine"


def test_job_events_closes_nothing_for_a_task_that_does_not_wait(twin: Twin, plan: dict[str, Any]) -> None:
    twin.invoke("StartTuningFunction", {"plan": plan, "taskToken": "not-a-real-token"})
    result = twin.invoke(
        "JobEventsFunction", event("tuning_job_completed.json", HyperParameterTuningJobName=plan["jobName"])
    )
    assert result["outcome"] == "task_gone"


@pytest.mark.parametrize(
    ("fixture", "outcome"),
    [
        ("tuning_job_not_ours.json", "not_ours"),
        ("tuning_job_in_progress.json", "not_terminal"),
        ("tuning_job_completed.json", "not_found"),
        ("training_job_completed.json", "not_found"),
        ("training_job_trial_completed.json", "not_ours"),
    ],
)
def test_job_events_ignores_stale_events_and_says_why(twin: Twin, fixture: str, outcome: str) -> None:
    result = twin.invoke("JobEventsFunction", event(fixture))
    assert result["outcome"] == outcome
    assert result["reason"]


def test_evaluate_returns_the_leaderboard(twin: Twin, plan: dict[str, Any], sagemaker: Any) -> None:
    job = plan["jobName"]
    if job not in sagemaker.jobs:
        twin.invoke("StartTuningFunction", {"plan": plan, "taskToken": "t"})
    tuning = {
        "jobName": job,
        "status": "Completed",
        "objectiveMetric": "validation:auc",
        "objectiveType": "Maximize",
    }
    evaluation = twin.invoke("EvaluateFunction", {"plan": plan, "tuning": tuning})
    assert evaluation["outcome"] == "succeeded"
    assert [t["objectiveValue"] for t in evaluation["leaderboard"]] == [0.95, 0.93, 0.91]
    assert evaluation["best"]["modelArtifacts"].endswith("/output/model.tar.gz")


def test_notify_publishes_one_message(twin: Twin, plan: dict[str, Any]) -> None:
    before = len(twin.notifications())
    result = twin.invoke(
        "NotifyFunction", {"state": {"plan": {**plan, "action": "skip"}}, "execution": EXECUTION}
    )
    assert result["outcome"] == "skipped"
    notes = twin.notifications()
    assert len(notes) == before + 1
    assert notes[-1].attributes == {"model": MODEL, "outcome": "skipped"}


def test_notify_publishes_nothing_the_profile_does_not_list_and_says_why(
    twin: Twin, plan: dict[str, Any]
) -> None:
    quiet = "quiet-xgb"
    profile = PROFILE.replace(f"model: {MODEL}", f"model: {quiet}")
    assert f"model: {quiet}" in profile
    twin.put_object(f"profiles/{quiet}.yaml", profile + "\nnotifications:\n  outcomes: [promoted, failed]\n")
    twin.wait_idle()
    before = len(twin.notifications())
    skipped = {"plan": {**plan, "model": quiet, "action": "skip"}}
    result = twin.invoke("NotifyFunction", {"state": skipped, "execution": EXECUTION})
    assert result["outcome"] == "skipped"
    assert result["messageId"] is None
    assert "notifications.outcomes of quiet-xgb lists promoted, failed" in result["suppressed"]
    failed = {**skipped, "error": {"Error": "TuningJobFailed", "Cause": "AlgorithmError"}}
    assert twin.invoke("NotifyFunction", {"state": failed, "execution": EXECUTION})["messageId"]
    notes = twin.notifications()
    assert [n.attributes for n in notes[before:]] == [{"model": quiet, "outcome": "failed"}]


def test_reconcile_sweeps_the_parked_jobs(twin: Twin) -> None:
    result = twin.invoke("ReconcileFunction", event("scheduled_event.json"))
    assert set(result) == {"parked", "outcomes", "leases", "deployments"}
    assert sum(result["outcomes"].values()) == result["parked"]
    assert result["deployments"] == {}  # no deployment waits for its endpoint
    assert set(result["leases"]) <= {"renewed", "changed", "holder_ended", "unknown", "error"}
