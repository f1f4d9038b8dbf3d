"""What reaches the handlers is validated once, at the edge: a malformed input is refused with an error that
names the field, an event that is not for this stack is ignored with the reason, and neither acts."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from app_fakes import MODEL, T0, Callbacks, Clock, Datasets, Executions, SageMaker, StateTable, profiles
from aws_lambda_powertools.utilities.idempotency import BasePersistenceLayer

from amtflow.app import (
    CloseChampionEvaluation,
    CloseTrainingJobs,
    CloseTuningJobs,
    ParkedJob,
    PlanInput,
    StartRun,
    function_account,
    parse_event,
    parse_notify_input,
    route_event,
)
from amtflow.errors import InvalidInputError
from amtflow.messages import (
    MAX_INPUT_DEPTH,
    TOO_DEEP,
    Evaluation,
    TuningResult,
    check_document,
    parse_document,
    parse_run_request,
)
from amtflow.naming import execution_name
from amtflow.wiring import idempotent_route

EVENTS = Path(__file__).resolve().parents[3] / "events"
ACCOUNT = "123456789012"  # the account of every fixture in events/
OTHER_ACCOUNT = "210987654321"
JOB = "amtf-cancer-xgb-0badc0de"  # the job of the tuning and training job fixtures


def event(name: str, **changes: Any) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads((EVENTS / name).read_text())
    loaded.update(changes)
    return loaded


def nested(depth: int) -> dict[str, Any]:
    value: dict[str, Any] = {}
    for _ in range(depth):
        value = {"a": value}
    return value


@dataclass(frozen=True)
class Context:
    invoked_function_arn: str


def context(account: str = ACCOUNT) -> Context:
    return Context(f"arn:aws:lambda:us-east-1:{account}:function:amtflow-StartRun")


def router(executions: Executions) -> StartRun:
    return StartRun(
        profiles=profiles(),
        datasets=Datasets({MODEL: "2026-11-01"}),
        executions=executions,
        execution_namer=lambda model, version: execution_name(model, version),
        data_bucket="amtflow-data",
    )


class Untouchable(BasePersistenceLayer):
    """An idempotency store that fails the test if anything is read from or written to it."""

    def _get_record(self, idempotency_key: str) -> Any:
        raise AssertionError("an idempotency record was read")

    def _put_record(self, data_record: Any) -> None:
        raise AssertionError("an idempotency record was written")

    def _update_record(self, data_record: Any) -> None:
        raise AssertionError("an idempotency record was written")

    def _delete_record(self, data_record: Any) -> None:
        raise AssertionError("an idempotency record was deleted")


def closers() -> tuple[CloseTuningJobs, StateTable, Callbacks]:
    sm, table, callbacks = SageMaker(), StateTable(), Callbacks()
    table.park(ParkedJob(JOB, "token-1", MODEL, "exec-1", T0))
    training = CloseTrainingJobs(sagemaker=sm, tokens=table, callbacks=callbacks, job_prefix="amtf")  # type: ignore[arg-type]
    closer = CloseTuningJobs(
        sagemaker=sm, tokens=table, callbacks=callbacks, clock=Clock(), job_prefix="amtf", training=training
    )
    return closer, table, callbacks


# --- the envelope --------------------------------------------------------------------------------------


@pytest.mark.parametrize("raw", [None, [], "an event", 3, True])
def test_an_event_that_is_not_a_json_object_is_refused_naming_the_event(raw: Any) -> None:
    with pytest.raises(InvalidInputError, match="expected an EventBridge event") as e:
        parse_event(raw)
    assert e.value.field == "(event)"


@pytest.mark.parametrize("missing", ["detail-type", "source", "account"])
def test_an_event_without_its_envelope_fields_is_refused_naming_each(missing: str) -> None:
    raw = event("tuning_job_completed.json")
    del raw[missing]
    with pytest.raises(InvalidInputError, match=f"'{missing}' is required: add it") as e:
        parse_event(raw)
    assert e.value.field == missing


@pytest.mark.parametrize(
    ("arn", "account"),
    [
        ("arn:aws:lambda:us-east-1:123456789012:function:amtflow-Plan", "123456789012"),
        ("arn:aws-cn:lambda:cn-north-1:210987654321:function:f:live", "210987654321"),
        ("not an arn", None),
        (None, None),
    ],
)
def test_the_function_account_is_read_from_the_invoked_function_arn(arn: Any, account: str | None) -> None:
    assert function_account(Context(arn)) == account
    assert function_account(None) is None


# --- job events ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("missing", ["detail", "detail-type"])
def test_a_job_event_without_detail_or_detail_type_is_refused_and_claims_nothing(missing: str) -> None:
    closer, table, callbacks = closers()
    raw = event("tuning_job_completed.json")
    del raw[missing]
    with pytest.raises(InvalidInputError) as e:
        closer.on_event(raw, account=ACCOUNT)
    assert e.value.field == missing
    assert JOB in table.tokens
    assert callbacks.sent == []


def test_a_job_event_of_another_detail_type_is_ignored_not_read_as_a_tuning_job() -> None:
    closer, table, _ = closers()
    raw = event("tuning_job_completed.json", **{"detail-type": "SageMaker Endpoint State Change"})
    result = closer.on_event(raw, account=ACCOUNT)
    assert result.outcome.value == "ignored"
    assert "SageMaker Endpoint State Change" in result.reason
    assert JOB in table.tokens


@pytest.mark.parametrize("fixture", ["tuning_job_completed.json", "training_job_completed.json"])
def test_a_job_event_from_another_account_is_ignored_and_claims_nothing(fixture: str) -> None:
    closer, table, callbacks = closers()
    result = closer.on_event(event(fixture, account=OTHER_ACCOUNT), account=ACCOUNT)
    assert result.outcome.value == "ignored"
    assert OTHER_ACCOUNT in result.reason
    assert JOB in table.tokens
    assert callbacks.sent == []


def test_a_champion_evaluation_event_from_another_account_is_ignored() -> None:
    closer = CloseChampionEvaluation(
        sagemaker=None,  # type: ignore[arg-type]  # never reached
        tokens=None,  # type: ignore[arg-type]
        callbacks=Callbacks(),
        job_prefix="amtf",
    )
    result = closer.on_event(event("training_job_completed.json", account=OTHER_ACCOUNT), account=ACCOUNT)
    assert result.outcome.value == "ignored"
    assert "account" in result.reason


def test_the_reconciler_sweeps_nothing_for_an_event_from_another_account() -> None:
    closer, table, callbacks = closers()
    results, ignored = closer.on_sweep_event(
        event("scheduled_event.json", account=OTHER_ACCOUNT), account=ACCOUNT
    )
    assert results == []
    assert OTHER_ACCOUNT in ignored
    assert JOB in table.tokens
    assert callbacks.sent == []


# --- the trigger router --------------------------------------------------------------------------------


@pytest.mark.parametrize("fixture", ["drift_detected.json", "s3_marker_created.json"])
def test_an_event_from_another_account_starts_nothing_and_records_nothing(fixture: str) -> None:
    executions = Executions()
    route = idempotent_route(router(executions), Untouchable())
    result = route(event(fixture, account=OTHER_ACCOUNT), context(ACCOUNT))
    assert result["executions"] == []
    assert f"account {OTHER_ACCOUNT}" in result["ignored"]
    assert executions.started == {}


def test_a_malformed_event_is_refused_before_the_idempotency_record() -> None:
    route = idempotent_route(router(Executions()), Untouchable())
    with pytest.raises(InvalidInputError, match=r"detail\.severity"):
        route(event("drift_detected.json", detail={"model": MODEL, "datasetVersion": "v1"}), context())


@pytest.mark.parametrize("severity", ["purple", "", " ", "critical", "x" * 40])
def test_a_drift_event_with_an_unknown_severity_starts_nothing_and_names_the_field(severity: str) -> None:
    executions = Executions()
    raw = event("drift_detected.json")
    raw["detail"]["severity"] = severity
    with pytest.raises(InvalidInputError) as e:
        route_event(router(executions), raw, account=ACCOUNT)
    assert e.value.field == "detail.severity"
    assert executions.started == {}


@pytest.mark.parametrize(
    ("given", "canonical"), [("High", "severe"), ("medium", "moderate"), ("LOW", "none")]
)
def test_a_drift_severity_alias_starts_one_execution_under_its_canonical_name(
    given: str, canonical: str
) -> None:
    executions = Executions()
    raw = event("drift_detected.json")
    raw["detail"]["severity"] = given
    (started,) = route_event(router(executions), raw, account=ACCOUNT).executions
    assert f"-drift-{canonical}-" in started.name
    assert executions.started[started.name]["drift"] == {"severity": canonical}


# --- depth, size, and the documents of the state machine -------------------------------------------------


def test_overrides_nested_hundreds_deep_are_refused_naming_where_and_the_fix() -> None:
    with pytest.raises(InvalidInputError, match="nests deeper than 32 levels; flatten it") as e:
        parse_run_request({"model": MODEL, "overrides": nested(900)})
    assert e.value.field is not None
    assert e.value.field.startswith("overrides.a.a.a")


def test_a_state_document_nested_hundreds_deep_is_refused_by_the_task() -> None:
    payload = {"request": {"model": MODEL, "overrides": nested(500)}, "execution": {"name": "run-1"}}
    with pytest.raises(InvalidInputError, match="nests deeper") as e:
        parse_document(PlanInput, payload, what="plan input")
    assert str(e.value.field).startswith("plan input.request.overrides.a")


def test_a_document_within_the_depth_limit_passes() -> None:
    check_document({"x": nested(MAX_INPUT_DEPTH - 1)}, what="document")
    with pytest.raises(InvalidInputError):
        check_document({"x": nested(MAX_INPUT_DEPTH + 1)}, what="document")


@pytest.mark.parametrize("name", ["", "run#1", "run 1", "x" * 81])
def test_an_execution_without_a_name_step_functions_accepts_is_refused(name: str) -> None:
    with pytest.raises(InvalidInputError) as e:
        parse_document(
            PlanInput, {"request": {"model": MODEL}, "execution": {"name": name}}, what="plan input"
        )
    assert e.value.field == "plan input.execution.name"


def test_a_failure_is_told_even_when_the_state_nests_too_deep() -> None:
    state = {"request": {"model": MODEL, "overrides": nested(600)}, "error": {"Error": "InvalidInputError"}}
    payload = parse_notify_input({"state": state, "execution": {"name": "run-1"}})
    assert payload.state["request"]["model"] == MODEL
    assert TOO_DEEP in json.dumps(payload.state)
    assert payload.state["error"] == {"Error": "InvalidInputError"}


@pytest.mark.parametrize("levels", [MAX_INPUT_DEPTH - 1, MAX_INPUT_DEPTH])
def test_a_state_at_the_depth_limit_is_clipped_where_the_notify_input_would_exceed_it(levels: int) -> None:
    # The state itself is within the limit, but under the notify input's own key it would be one too deep.
    payload = parse_notify_input({"state": {"a": nested(levels)}, "execution": {"name": "run-1"}})
    assert "a" in payload.state


def test_a_well_formed_job_event_is_read_as_before() -> None:
    closer, table, callbacks = closers()
    result = closer.on_event(event("tuning_job_in_progress.json"), account=ACCOUNT)
    assert result.outcome.value == "not_terminal"
    assert JOB in table.tokens
    assert callbacks.sent == []


def test_an_input_over_256_kb_is_refused_saying_where_large_data_belongs() -> None:
    big = "x" * 262_144
    with pytest.raises(InvalidInputError, match="keep large data in S3"):
        parse_document(
            PlanInput,
            {"request": {"model": MODEL, "note": big}, "execution": {"name": "r"}},
            what="plan input",
        )
    with pytest.raises(InvalidInputError, match="keep large data in S3"):
        parse_event(event("tuning_job_completed.json", detail={"HyperParameterTuningJobName": big}))


@pytest.mark.parametrize("model", [TuningResult, Evaluation])
@pytest.mark.parametrize("value", [" ", "maximize", "Max"])
def test_an_objective_type_sagemaker_does_not_use_is_refused_naming_the_field(
    model: type[TuningResult | Evaluation], value: str
) -> None:
    raw: dict[str, Any] = {"objectiveType": value}
    raw |= {"jobName": "amtf-x", "status": "Completed"} if model is TuningResult else {"outcome": "no_result"}
    with pytest.raises(InvalidInputError, match=r"objectiveType.*use Maximize or Minimize"):
        parse_document(model, raw, what="tuning")
