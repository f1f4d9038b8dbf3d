"""The handlers as deployed (in the twin, with the Lambda context the runtime gives them): an event from
another account is ignored with the reason, a malformed one fails with the typed error naming the field."""

from __future__ import annotations

import pytest
from handler_support import event

from amtflow.local.twin import FunctionError, Twin

OTHER_ACCOUNT = "210987654321"


def test_a_drift_event_from_another_account_starts_no_execution(twin: Twin) -> None:
    before = len(twin.executions())
    foreign = {**event("drift_detected.json"), "account": OTHER_ACCOUNT}
    result = twin.invoke("StartRunFunction", foreign)
    assert result["executions"] == []
    assert f"account {OTHER_ACCOUNT}" in result["ignored"]
    assert twin.account in result["ignored"]  # the account the function runs in, from its context
    assert len(twin.executions()) == before


def test_a_drift_event_with_an_unknown_severity_fails_naming_the_field(twin: Twin) -> None:
    with pytest.raises(FunctionError) as e:
        twin.invoke("StartRunFunction", event("drift_detected.json", severity="purple"))
    assert e.value.error_type == "InvalidInputError"
    assert "detail.severity" in e.value.error_message
    assert "use one of none, moderate, severe" in e.value.error_message


@pytest.mark.parametrize("function", ["JobEventsFunction", "ChampionEvaluationEventsFunction"])
def test_a_job_event_without_detail_type_fails_naming_it(twin: Twin, function: str) -> None:
    malformed = event("training_job_completed.json")
    del malformed["detail-type"]
    with pytest.raises(FunctionError) as e:
        twin.invoke(function, malformed)
    assert e.value.error_type == "InvalidInputError"
    assert "'detail-type' is required" in e.value.error_message


def test_the_reconciler_ignores_a_schedule_of_another_account(twin: Twin) -> None:
    result = twin.invoke("ReconcileFunction", {**event("scheduled_event.json"), "account": OTHER_ACCOUNT})
    assert result["parked"] == 0
    assert "account" in result["ignored"]


def test_a_task_input_that_is_not_an_object_fails_typed(twin: Twin) -> None:
    with pytest.raises(FunctionError) as e:
        twin.invoke("StartTuningFunction", ["not", "an", "object"])
    assert e.value.error_type == "InvalidInputError"
    assert "expected a JSON object, got list" in e.value.error_message
