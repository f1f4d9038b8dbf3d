"""The metrics the handlers emit, as CloudWatch reads them: the embedded-metric-format documents Powertools
prints when the handler returns (docs/operations.md lists them)."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import pytest
from handler_support import MODEL, PROFILE, event

from amtflow.adapters import DynamoDBLineageStore
from amtflow.local.twin import Twin

EXECUTION = {
    "name": "metrics-test-1",
    "id": "arn:aws:states:us-east-1:123456789012:execution:sm:metrics-test-1",
}
TUNING = {
    "jobName": "",
    "status": "Completed",
    "objectiveMetric": "validation:auc",
    "objectiveType": "Maximize",
    "trainingJobs": {"Completed": 7, "NonRetryableError": 2, "RetryableError": 1, "Stopped": 1},
    "runtimeSeconds": 1200,
}


def emitted(out: str) -> dict[str, tuple[float, dict[str, str]]]:
    """``{metric: (value, dimensions)}`` of every EMF document in ``out``."""
    found: dict[str, tuple[float, dict[str, str]]] = {}
    for line in out.splitlines():
        if not line.startswith("{") or '"_aws"' not in line:
            continue
        document = json.loads(line)
        (directive,) = document["_aws"]["CloudWatchMetrics"]
        assert directive["Namespace"] == "amtflow"
        (names,) = directive["Dimensions"]
        dimensions = {n: document[n] for n in names}
        for metric in directive["Metrics"]:
            (value,) = document[metric["Name"]]
            assert metric["Name"] not in found, f"{metric['Name']} emitted twice"
            found[metric["Name"]] = (value, dimensions)
    return found


@pytest.fixture(scope="module")
def plan(twin: Twin) -> dict[str, Any]:
    result: dict[str, Any] = twin.invoke(
        "PlanFunction", {"request": {"model": MODEL, "datasetVersion": "v1"}, "execution": EXECUTION}
    )
    assert result["action"] == "tune"
    return result


def test_notify_emits_the_runs_figures_per_model_and_its_outcome_per_model_and_outcome(
    twin: Twin, plan: dict[str, Any], capsys: pytest.CaptureFixture[str]
) -> None:
    capsys.readouterr()
    arrived = twin.now() - timedelta(minutes=30)  # the functions' clock is the twin's
    source = {"time": arrived.strftime("%Y-%m-%dT%H:%M:%SZ")}
    state = {
        "request": {"model": MODEL, "datasetVersion": "v1", "trigger": "s3", "source": source},
        "plan": plan,
        "tuning": {**TUNING, "jobName": plan["jobName"]},
        "evaluation": {"outcome": "no_result", "reason": "no objective"},
    }
    result = twin.invoke("NotifyFunction", {"state": state, "execution": EXECUTION})
    assert result["outcome"] == "no_result"
    metrics = emitted(capsys.readouterr().out)

    per_model = {"model": MODEL, "service": "amtflow"}
    assert metrics["RunOutcomes"] == (1.0, {**per_model, "outcome": "no_result"})
    assert metrics["TrialsCompleted"] == (7.0, per_model)
    assert metrics["TrialsFailed"] == (3.0, per_model)  # NonRetryableError + RetryableError, not Stopped
    since_data, dimensions = metrics["DataToNotificationSeconds"]
    assert (since_data, dimensions) == (1800, per_model)
    lineage = DynamoDBLineageStore(twin.client("dynamodb"), twin.outputs["StateTableName"])
    run = lineage.get_run(MODEL, EXECUTION["name"])
    assert run is not None
    assert metrics["RunCostUsd"] == (run.spend_usd, per_model)
    month = lineage.month_to_date_spend(MODEL, twin.now())
    assert metrics["MonthToDateUsd"] == (month, per_model)
    assert month >= run.spend_usd > 0  # a planned tuning run counts its estimate


def test_notify_leaves_out_what_a_run_that_never_planned_does_not_know(
    twin: Twin, capsys: pytest.CaptureFixture[str]
) -> None:
    capsys.readouterr()
    state = {"request": {"model": MODEL}, "error": {"Error": "InvalidInputError", "Cause": "bad request"}}
    twin.invoke("NotifyFunction", {"state": state, "execution": {"name": "metrics-test-unplanned"}})
    metrics = emitted(capsys.readouterr().out)
    assert metrics == {"RunOutcomes": (1.0, {"model": MODEL, "outcome": "failed", "service": "amtflow"})}


def test_notify_counts_a_notification_the_profile_does_not_select(
    twin: Twin, capsys: pytest.CaptureFixture[str]
) -> None:
    quiet = "quiet-xgb"
    profile = PROFILE.replace(f"model: {MODEL}", f"model: {quiet}")
    twin.put_object(f"profiles/{quiet}.yaml", profile + "\nnotifications:\n  outcomes: [failed]\n")
    twin.wait_idle()
    capsys.readouterr()
    state = {"request": {"model": quiet}, "error": {"Error": "PreflightRejectedError", "Cause": "AMT101"}}
    result = twin.invoke("NotifyFunction", {"state": state, "execution": {"name": "metrics-test-quiet"}})
    assert result["suppressed"]
    dimensions = {"model": quiet, "outcome": "rejected", "service": "amtflow"}
    assert emitted(capsys.readouterr().out) == {
        "RunOutcomes": (1.0, dimensions),
        "NotificationsSuppressed": (1.0, dimensions),
    }


def test_notify_of_a_queued_run_counts_it_without_the_runs_figures(
    twin: Twin, plan: dict[str, Any], capsys: pytest.CaptureFixture[str]
) -> None:
    capsys.readouterr()
    state = {"plan": plan, "quota": {"Error": "QuotaExceededError", "Cause": "no instances"}}
    twin.invoke("NotifyFunction", {"state": state, "execution": EXECUTION, "notice": "queued"})
    assert emitted(capsys.readouterr().out) == {"QueuedForQuota": (1.0, {"service": "amtflow"})}


def test_evaluate_emits_the_best_objective_of_the_run_per_model(
    twin: Twin, plan: dict[str, Any], sagemaker: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    if plan["jobName"] not in sagemaker.jobs:
        twin.invoke("StartTuningFunction", {"plan": plan, "taskToken": "t"})
    capsys.readouterr()
    tuning = {k: v for k, v in TUNING.items() if k != "trainingJobs"} | {"jobName": plan["jobName"]}
    evaluation = twin.invoke("EvaluateFunction", {"plan": plan, "tuning": tuning})
    metrics = emitted(capsys.readouterr().out)
    per_model = {"model": MODEL, "service": "amtflow"}
    assert metrics["BestObjective"] == (evaluation["best"]["objectiveValue"], per_model)
    assert metrics["BestObjective"][0] == 0.95
    assert metrics["TuningRuntime"] == (1200.0, per_model)


def test_reconcile_counts_the_parked_tasks_and_the_stalled_jobs_of_each_sweep(
    twin: Twin, capsys: pytest.CaptureFixture[str]
) -> None:
    capsys.readouterr()
    result = twin.invoke("ReconcileFunction", event("scheduled_event.json"))
    metrics = emitted(capsys.readouterr().out)
    assert metrics["ParkedJobsSwept"][1] == {"service": "amtflow"}
    assert metrics["StalledJobs"] == (float(result["outcomes"].get("stalled", 0)), {"service": "amtflow"})
