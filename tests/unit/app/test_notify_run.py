"""NotifyRun: one readable, filterable message per outcome, even from a partly malformed state."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

from app_fakes import MODEL, T0, Clock, Notifier

from amtflow.app import NotifyRun
from amtflow.messages import Outcome

EXECUTION = "arn:aws:states:us-east-1:123456789012:execution:sm:cancer-xgb-v1-0123abcd"
PLAN = {
    "model": MODEL,
    "action": "tune",
    "reason": "new data for cancer-xgb: cold-start tuning",
    "trigger": "s3",
    "datasetVersion": "v1",
    "jobName": "amtf-cancer-xgb-0badc0de",
    "execution": {"name": "cancer-xgb-v1-0123abcd", "id": EXECUTION},
    "lock": {"pk": "MODEL#cancer-xgb", "sk": "LOCK", "owner": "cancer-xgb-v1-0123abcd"},
    "plannedAt": T0.isoformat(),
}
TUNING = {
    "jobName": "amtf-cancer-xgb-0badc0de",
    "status": "Completed",
    "objectiveMetric": "validation:auc",
    "objectiveType": "Maximize",
    "trainingJobs": {"Completed": 3},
    "runtimeSeconds": 3725,
}
EVALUATION = {
    "outcome": "succeeded",
    "objectiveMetric": "validation:auc",
    "objectiveType": "Maximize",
    "leaderboard": [
        {
            "trainingJobName": "t2",
            "status": "Completed",
            "objectiveValue": 0.95,
            "hyperparameters": {"eta": "0.2"},
        },
        {
            "trainingJobName": "t1",
            "status": "Completed",
            "objectiveValue": 0.91,
            "hyperparameters": {"eta": "0.1"},
        },
    ],
    "best": {
        "trainingJobName": "t2",
        "objectiveValue": 0.95,
        "hyperparameters": {"eta": "0.2", "max_depth": "4"},
        "modelArtifacts": "s3://data/runs/t2/model.tar.gz",
    },
}


def notify(state: dict[str, Any], clock: Clock | None = None) -> tuple[Outcome, Notifier]:
    notifier = Notifier()
    result = NotifyRun(notifier=notifier, clock=clock or Clock(), region="us-east-1").notify(
        state, execution_id=EXECUTION
    )
    assert result.message_id == "message-1"
    return result.outcome, notifier


def test_success_says_model_best_objective_hyperparameters_leaderboard_duration_and_links() -> None:
    outcome, notifier = notify(
        {"request": {"model": MODEL}, "plan": PLAN, "tuning": TUNING, "evaluation": EVALUATION}
    )
    assert outcome is Outcome.SUCCEEDED
    (n,) = notifier.published
    assert n.subject == "amtflow: cancer-xgb - tuning succeeded"
    assert n.attributes == {"model": MODEL, "outcome": "succeeded"}
    for fragment in (
        "Model: cancer-xgb",
        "Best: t2 — validation:auc = 0.95",
        "Hyperparameters: eta=0.2, max_depth=4",
        " 1. t2  0.95",
        " 2. t1  0.91",
        "Duration: 1h 02m 05s",
        "#/hyper-tuning-jobs/amtf-cancer-xgb-0badc0de",
        "#/v2/executions/details/" + EXECUTION,
    ):
        assert fragment in n.text, fragment
    assert n.document["outcome"] == "succeeded"
    assert n.document["evaluation"]["best"]["trainingJobName"] == "t2"
    json.dumps(n.document)  # the JSON form is serialisable as is


def test_a_lambda_failure_shows_its_message_never_its_stack_trace() -> None:
    cause = json.dumps(
        {
            "errorType": "InvalidInputError",
            "errorMessage": "invalid run request: unknown key 'acton': remove it (check its spelling)",
            "stackTrace": ['  File "/var/task/app.py", line 3, in lambda_handler'],
        }
    )
    state = {
        "request": {"model": MODEL, "acton": "tune"},
        "error": {"Error": "InvalidInputError", "Cause": cause},
    }
    outcome, notifier = notify(state)
    assert outcome is Outcome.FAILED
    (n,) = notifier.published
    assert "unknown key 'acton'" in n.text
    assert "Error: InvalidInputError" in n.text
    assert "stackTrace" not in n.text
    assert "app.py" not in n.text
    assert n.attributes == {"model": MODEL, "outcome": "failed"}
    assert n.document["error"]["type"] == "InvalidInputError"


def test_a_preflight_rejection_is_its_own_outcome() -> None:
    cause = json.dumps(
        {"errorType": "PreflightRejectedError", "errorMessage": "preflight rejected ...\n- [error] R1"}
    )
    outcome, notifier = notify({"plan": PLAN, "error": {"Error": "PreflightRejectedError", "Cause": cause}})
    assert outcome is Outcome.REJECTED
    assert notifier.published[0].subject.endswith("rejected by preflight")


def test_a_failed_tuning_job_cause_and_a_timeout_are_readable() -> None:
    cause = json.dumps(
        {"errorType": "TuningJobFailed", "errorMessage": "tuning job x ended Failed: AlgorithmError"}
    )
    _, notifier = notify({"plan": PLAN, "error": {"Error": "TuningJobFailed", "Cause": cause}})
    assert "ended Failed: AlgorithmError" in notifier.published[0].text
    _, notifier = notify({"plan": PLAN, "error": {"Error": "States.Timeout", "Cause": "task timed out"}})
    assert "States.Timeout" in notifier.published[0].text
    assert "task timed out" in notifier.published[0].text


def test_skipped_runs_are_announced_with_the_reason() -> None:
    plan = {**PLAN, "action": "skip", "reason": "the run request asked to skip"}
    plan.pop("lock")
    clock = Clock(T0 + timedelta(seconds=42))
    outcome, notifier = notify({"plan": plan}, clock)
    assert outcome is Outcome.SKIPPED
    assert "the run request asked to skip" in notifier.published[0].text
    assert "Duration: 0m 42s" in notifier.published[0].text


def test_no_result_carries_the_diagnosis() -> None:
    evaluation = {"outcome": "no_result", "reason": "check that the MetricDefinitions regex matches"}
    outcome, notifier = notify({"plan": PLAN, "tuning": TUNING, "evaluation": evaluation})
    assert outcome is Outcome.NO_RESULT
    assert "MetricDefinitions regex" in notifier.published[0].text


def test_a_malformed_state_still_notifies_a_failure() -> None:
    outcome, notifier = notify({"request": "not an object", "plan": {"model": 3}})
    assert outcome is Outcome.FAILED
    (n,) = notifier.published
    assert n.attributes["model"] == "unknown"
    assert "IncompleteRun" in n.text
