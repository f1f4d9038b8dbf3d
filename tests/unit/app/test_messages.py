"""The documents between states: camelCase on the wire, strict on input, errors that name the field."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from amtflow.errors import InvalidInputError
from amtflow.messages import (
    Evaluation,
    Outcome,
    Plan,
    RunRequest,
    TuningResult,
    parse_document,
    parse_run_request,
)


def test_a_minimal_request_gets_the_documented_defaults() -> None:
    request = parse_run_request({"model": "churn-xgb"})
    assert request.to_json() == {"model": "churn-xgb", "action": "auto", "trigger": "manual", "overrides": {}}


def test_the_full_documented_request_round_trips() -> None:
    raw = {
        "model": "churn-xgb",
        "action": "auto",
        "datasetVersion": "2026-11-01",
        "trigger": "s3",
        "overrides": {"tuning": {"limits": {"max_jobs": 10}}},
        "drift": None,
        "source": {"bucket": "b", "key": "datasets/churn-xgb/2026-11-01/_READY", "eventId": "e-1"},
    }
    request = parse_run_request(raw)
    assert RunRequest.model_validate(request.to_json()) == request
    assert request.to_json()["source"]["eventId"] == "e-1"


def test_every_problem_is_listed_with_its_field() -> None:
    with pytest.raises(InvalidInputError) as e:
        parse_run_request({"modle": "x", "action": "tune-now", "datasetVersion": "../etc"})
    message = str(e.value)
    assert "unknown key 'modle'" in message
    assert "'model' is required" in message
    assert "'action' = 'tune-now' is not allowed" in message
    assert "'datasetVersion' = '../etc' does not match" in message


def test_documents_from_earlier_states_are_checked_and_named() -> None:
    with pytest.raises(InvalidInputError, match=r"invalid tuning: 'tuning.jobName' is required") as e:
        parse_document(TuningResult, {"status": "Completed"}, what="tuning")
    assert e.value.field == "tuning.jobName"
    with pytest.raises(InvalidInputError, match="expected a JSON object"):
        parse_document(Plan, "plan", what="plan")


def test_none_is_left_out_of_the_wire_form() -> None:
    evaluation = Evaluation(outcome=Outcome.NO_RESULT, reason="nothing reported")
    assert evaluation.to_json() == {
        "outcome": "no_result",
        "leaderboard": [],
        "reason": "nothing reported",
        "diagnosis": [],
    }
    result = TuningResult(job_name="j", status="Completed", ended_at=datetime(2026, 11, 1, tzinfo=UTC))
    assert result.to_json()["endedAt"] == "2026-11-01T00:00:00Z"


def test_a_request_over_256_kb_is_refused_before_anything_starts() -> None:
    with pytest.raises(InvalidInputError, match="over the 256 KB"):
        parse_run_request({"model": "churn-xgb", "overrides": {"description": "x" * 262_144}})
