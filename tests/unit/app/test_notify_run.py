"""NotifyRun: one readable, filterable message per outcome, even from a partly malformed state."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from app_fakes import MODEL, T0, Clock, Notifier

from amtflow.adapters import sns_message
from amtflow.app import Notification, NotifyRun
from amtflow.app._notify import subject_line
from amtflow.errors import ProfileNotFoundError
from amtflow.messages import Outcome
from amtflow.profile import ModelProfile, load_profile

PROFILE_YAML = (Path(__file__).resolve().parents[3] / "examples" / "xgboost" / "profile.yaml").read_text()

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


# --- what leaves carries no secret ---------------------------------------------------------------------

PASSWORD = "hunter2-Sup3r-Secret"
PROFILE_SECRET = "profile-env-token-0042"
ACCESS_KEY = "AKIAIOSFODNN7EXAMPLE"
OVERRIDES = {"training": {"environment": {"DB_PASSWORD": PASSWORD}}}


def everything(n: Notification) -> str:
    """Every part a subscriber can see: subject, text, JSON document and attributes."""
    return "\n".join([n.subject, n.text, json.dumps(n.document), json.dumps(dict(n.attributes))])


def secret_state(outcome: str) -> dict[str, Any]:
    plan = {**PLAN, "overrides": OVERRIDES}
    if outcome == "failed":
        cause = json.dumps(
            {
                "errorType": "TuningJobFailed",
                "errorMessage": "AlgorithmError: could not connect with "
                f"DB_PASSWORD={PASSWORD} as {ACCESS_KEY} (token {PROFILE_SECRET}, password {PASSWORD})",
            }
        )
        return {
            "request": {"model": MODEL, "overrides": OVERRIDES},
            "plan": plan,
            "error": {"Error": "TuningJobFailed", "Cause": cause},
        }
    evaluation = {
        **EVALUATION,
        "reason": f"echo {PASSWORD}",
        "best": {**EVALUATION["best"], "hyperparameters": {"eta": "0.2", "note": PROFILE_SECRET}},
    }
    return {
        "request": {"model": MODEL, "overrides": OVERRIDES},
        "plan": plan,
        "tuning": TUNING,
        "evaluation": evaluation,
    }


def profile_with_secret(model: str) -> ModelProfile:
    document = load_profile(PROFILE_YAML).to_document()
    document["training"]["environment"] = {"SERVICE_TOKEN": PROFILE_SECRET}
    return load_profile(document)


@pytest.mark.parametrize("outcome", ["succeeded", "failed"])
def test_no_environment_value_or_credential_reaches_any_part_of_the_notification(outcome: str) -> None:
    notifier = Notifier()
    result = NotifyRun(
        notifier=notifier, clock=Clock(), region="us-east-1", profiles=profile_with_secret
    ).notify(secret_state(outcome), execution_id=EXECUTION)
    assert result.outcome.value == outcome
    (n,) = notifier.published
    seen = everything(n)
    for secret in (PASSWORD, PROFILE_SECRET, ACCESS_KEY):
        assert secret not in seen, secret
    assert "***" in n.text
    assert n.attributes == {"model": MODEL, "outcome": outcome}
    if outcome == "failed":
        assert "AlgorithmError: could not connect" in n.document["error"]["message"]
    else:
        assert n.document["plan"]["overrides"]["training"]["environment"]["DB_PASSWORD"] == "***"


def test_an_unreadable_profile_still_notifies_with_the_state_s_values_redacted() -> None:
    def missing(model: str) -> ModelProfile:
        raise ProfileNotFoundError(f"no profile for {model}")

    notifier = Notifier()
    NotifyRun(notifier=notifier, clock=Clock(), profiles=missing).notify(
        secret_state("failed"), execution_id=EXECUTION
    )
    (n,) = notifier.published
    assert PASSWORD not in everything(n)
    assert ACCESS_KEY not in everything(n)


def test_an_aws_key_in_an_error_message_is_redacted_even_without_known_values() -> None:
    cause = json.dumps({"errorType": "AccessDenied", "errorMessage": f"key {ACCESS_KEY} is not allowed"})
    _, notifier = notify({"plan": PLAN, "error": {"Error": "AccessDenied", "Cause": cause}})
    (n,) = notifier.published
    assert ACCESS_KEY not in everything(n)
    assert "key *** is not allowed" in n.text


@pytest.mark.parametrize(
    "model",
    [
        "churn\nSubject: forged",
        "churn\r\n\tx\x00\x1b[31m",
        "m" * 300,
        "modèle—“x”",
        "\n\n",
        "",
    ],
)
def test_a_model_name_with_line_breaks_or_any_length_gives_a_subject_sns_accepts(model: str) -> None:
    cause = json.dumps({"errorType": "InvalidInputError", "errorMessage": "bad\nrequest"})
    _, notifier = notify(
        {"request": {"model": model}, "error": {"Error": "InvalidInputError", "Cause": cause}}
    )
    (n,) = notifier.published
    assert 0 < len(n.subject) < 100
    assert all(" " <= c <= "~" for c in n.subject), n.subject
    assert n.subject[0] != " "
    assert n.subject.endswith("run failed")  # the outcome survives a long model name
    assert n.attributes["model"]
    assert "\n" not in n.attributes["model"]
    assert n.text.splitlines()[0].startswith("Model: ")
    assert not any(line.startswith("Subject: forged") for line in n.text.splitlines())


def test_subject_line_cuts_with_an_ellipsis_and_is_never_empty() -> None:
    assert subject_line("a" * 150) == "a" * 96 + "..."
    assert subject_line("\x00\n\t") == "amtflow notification"
    assert subject_line("amtflow: m — run failed") == "amtflow: m - run failed"


def test_long_diagnosis_messages_are_cut_and_the_whole_message_fits_sns() -> None:
    # As long as a run's state can hold (Step Functions passes at most 256 KB, and Notify refuses more at
    # its edge): ten findings of 20 KB each.
    finding = {
        "rule": "AMT401",
        "severity": "error",
        "field": "x.Regex",
        "message": "nearest line is " + "z" * 20_000,
        "fix": "adjust the regex",
    }
    evaluation = {"outcome": "no_result", "reason": "no objective", "diagnosis": [finding] * 10}
    _, notifier = notify({"plan": PLAN, "tuning": TUNING, "evaluation": evaluation})
    (n,) = notifier.published
    assert all(len(line) < 5000 for line in n.text.splitlines())
    assert all(len(f["message"]) <= 4000 for f in n.document["evaluation"]["diagnosis"])
    message = sns_message(n)
    attributes = sum(len(k) + len("String") + len(v) for k, v in n.attributes.items())
    assert len(message.encode()) + attributes <= 262_144
    assert "Outcome: no_result" in json.loads(message)["email"]


def test_the_queued_for_quota_notice_is_redacted_and_shows_no_stack_trace() -> None:
    cause = json.dumps(
        {
            "errorType": "QuotaExceededError",
            "errorMessage": f"ResourceLimitExceeded for {ACCESS_KEY}: concurrent tuning jobs: 100",
            "stackTrace": ['  File "/var/task/app.py", line 3, in lambda_handler'],
        }
    )
    state = {
        "request": {"model": MODEL, "overrides": OVERRIDES},
        "plan": {**PLAN, "overrides": OVERRIDES},
        "quota": {"Error": "QuotaExceededError", "Cause": cause},
    }
    notifier = Notifier()
    delivery = NotifyRun(notifier=notifier, clock=Clock(), profiles=profile_with_secret).notify_queued(
        state, execution_id=EXECUTION
    )
    assert delivery.message_id == "message-1"
    (n,) = notifier.published
    assert n.subject == f"amtflow: {MODEL} - queued: quota"
    assert n.attributes == {"model": MODEL, "outcome": "queued"}
    assert "concurrent tuning jobs: 100" in n.text
    assert "cancer-xgb-v1-0123abcd" in n.text  # the run, by its execution name
    assert n.document["notice"] == "queued: quota"
    seen = everything(n)
    assert ACCESS_KEY not in seen
    assert PASSWORD not in seen
    assert "stackTrace" not in seen
    assert "app.py" not in seen


# --- the run's figures (the Notify function's metrics) -------------------------------------------------


def _run(run_id: str, cost: float | None, estimate: float) -> Any:
    from amtflow.drift import Action as DriftAction
    from amtflow.drift import Decision, Rule
    from amtflow.lineage import RunOutcome, RunRecord, Trigger

    return RunRecord(
        model=MODEL,
        run_id=run_id,
        started_at=T0,
        trigger=Trigger.S3,
        dataset_version="v1",
        data_fingerprint="sha256:11",
        decision=Decision(DriftAction.TUNE, Rule.NO_CHAMPION, "first run"),
        tuning_job=f"amtf-{run_id}",
        cost_estimate_usd=estimate,
        cost_usd=cost,
        outcome=RunOutcome.COMPLETED if cost is not None else RunOutcome.PENDING,
        launched=True,
    )


class BrokenLineage:
    def get_run(self, model: str, run_id: str) -> Any:
        from amtflow.errors import TransientError

        raise TransientError("throttled")

    def month_to_date_spend(self, model: str, now: Any) -> float:
        raise AssertionError("not reached")


def test_the_result_carries_the_runs_trials_latency_cost_and_month_to_date() -> None:
    from amtflow.lineage import InMemoryLineageStore

    lineage = InMemoryLineageStore()
    lineage.add_run(_run("cancer-xgb-v1-0123abcd", cost=1.25, estimate=2.0))
    lineage.add_run(_run("earlier", cost=None, estimate=0.5))
    clock = Clock(T0 + timedelta(hours=2))
    tuning = {
        **TUNING,
        "trainingJobs": {"Completed": 5, "NonRetryableError": 2, "RetryableError": 1, "Stopped": 4},
    }
    arrived = (T0 - timedelta(minutes=10)).isoformat()
    state = {
        "request": {"model": MODEL, "source": {"time": arrived}},
        "plan": PLAN,
        "tuning": tuning,
        "evaluation": EVALUATION,
    }
    result = NotifyRun(notifier=Notifier(), clock=clock, lineage=lineage).notify(
        state, execution_id=EXECUTION
    )
    assert (result.model, result.trials_completed, result.trials_failed) == (MODEL, 5, 3)
    assert result.data_to_notification_seconds == 2 * 3600 + 600  # from the data's arrival, not the plan
    assert (result.run_cost_usd, result.month_to_date_usd) == (
        1.25,
        1.75,
    )  # actual cost + the other's estimate
    assert result.has_figures


def test_without_a_data_time_the_latency_runs_from_the_plan_and_a_bad_time_is_ignored() -> None:
    clock = Clock(T0 + timedelta(minutes=5))
    for source in (None, {"time": "yesterday"}, {"time": ""}):
        request = {"model": MODEL, **({"source": source} if source else {})}
        result = NotifyRun(notifier=Notifier(), clock=clock).notify(
            {"request": request, "plan": PLAN, "evaluation": EVALUATION}, execution_id=EXECUTION
        )
        assert result.data_to_notification_seconds == 300
        assert (result.trials_completed, result.trials_failed, result.run_cost_usd) == (None, None, None)


def test_a_lineage_that_cannot_be_read_leaves_the_spend_unknown_and_still_notifies(
    caplog: pytest.LogCaptureFixture,
) -> None:
    notifier = Notifier()
    result = NotifyRun(notifier=notifier, clock=Clock(), lineage=BrokenLineage()).notify(  # type: ignore[arg-type]
        {"plan": PLAN, "tuning": TUNING, "evaluation": EVALUATION}, execution_id=EXECUTION
    )
    assert len(notifier.published) == 1
    assert (result.run_cost_usd, result.month_to_date_usd) == (None, None)
    assert result.trials_completed == 3
    assert "TransientError" in caplog.text


def test_a_run_that_never_planned_has_no_figures() -> None:
    from amtflow.lineage import InMemoryLineageStore

    result = NotifyRun(notifier=Notifier(), clock=Clock(), lineage=InMemoryLineageStore()).notify(
        {"request": {"model": MODEL}, "error": {"Error": "InvalidInputError", "Cause": "bad"}},
        execution_id=EXECUTION,
    )
    assert result.outcome is Outcome.FAILED
    assert not result.has_figures


def test_a_multi_algorithm_run_names_the_algorithm_of_the_best_and_of_each_ranked_trial() -> None:
    evaluation = {
        **EVALUATION,
        "leaderboard": [
            {**EVALUATION["leaderboard"][0], "definitionName": "mlp"},
            {**EVALUATION["leaderboard"][1], "definitionName": "xgboost"},
        ],
        "best": {**EVALUATION["best"], "definitionName": "mlp", "trainingImage": "acct/amtflow-mlp:1.0"},
    }
    _, notifier = notify(
        {"request": {"model": MODEL}, "plan": PLAN, "tuning": TUNING, "evaluation": evaluation}
    )
    (n,) = notifier.published
    for fragment in (
        "Algorithm: mlp (acct/amtflow-mlp:1.0)",
        " 1. t2  [mlp]  0.95",
        " 2. t1  [xgboost]  0.91",
    ):
        assert fragment in n.text, fragment
