"""Step Functions adapters: gone tasks are an outcome, duplicates are not errors, throttles are transient."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime

import boto3
import pytest
from botocore.exceptions import ClientError
from botocore.stub import ANY, Stubber

from amtflow.adapters import StepFunctionsCallbacks, StepFunctionsExecutions, StepFunctionsHolderProbe
from amtflow.app import CallbackOutcome, StartOutcome
from amtflow.errors import ConfigurationError, TransientError

ARN = "arn:aws:states:us-east-1:123456789012:stateMachine:tuning"


@pytest.fixture
def stub() -> Iterator[tuple[object, Stubber]]:
    client = boto3.client("stepfunctions", region_name="us-east-1")
    with Stubber(client) as stubber:
        yield client, stubber
        stubber.assert_no_pending_responses()


def test_success_sends_the_output_as_json(stub: tuple[object, Stubber]) -> None:
    client, stubber = stub
    stubber.add_response(
        "send_task_success", {}, {"taskToken": "tok", "output": json.dumps({"jobName": "j"})}
    )
    assert StepFunctionsCallbacks(client).succeed("tok", {"jobName": "j"}) is CallbackOutcome.DELIVERED  # type: ignore[arg-type]


def test_failure_truncates_error_and_cause_to_the_api_limits(stub: tuple[object, Stubber]) -> None:
    client, stubber = stub
    stubber.add_response(
        "send_task_failure", {}, {"taskToken": "tok", "error": "E" * 256, "cause": "c" * 32768}
    )
    outcome = StepFunctionsCallbacks(client).fail("tok", error="E" * 300, cause="c" * 40000)  # type: ignore[arg-type]
    assert outcome is CallbackOutcome.DELIVERED


@pytest.mark.parametrize("code", ["TaskDoesNotExist", "TaskTimedOut", "InvalidToken"])
def test_a_task_that_no_longer_waits_is_gone(stub: tuple[object, Stubber], code: str) -> None:
    client, stubber = stub
    stubber.add_client_error("send_task_heartbeat", service_error_code=code)
    assert StepFunctionsCallbacks(client).heartbeat("tok") is CallbackOutcome.GONE  # type: ignore[arg-type]


def test_a_throttled_callback_is_transient(stub: tuple[object, Stubber]) -> None:
    client, stubber = stub
    stubber.add_client_error("send_task_success", service_error_code="ThrottlingException")
    with pytest.raises(TransientError):
        StepFunctionsCallbacks(client).succeed("tok", {})  # type: ignore[arg-type]


def test_start_names_the_execution_and_a_used_name_is_a_duplicate(stub: tuple[object, Stubber]) -> None:
    client, stubber = stub
    stubber.add_response(
        "start_execution",
        {"executionArn": f"{ARN}:run-1", "startDate": datetime(2026, 11, 1, tzinfo=UTC)},
        {"stateMachineArn": ARN, "name": "run-1", "input": ANY},
    )
    stubber.add_client_error("start_execution", service_error_code="ExecutionAlreadyExists")
    executions = StepFunctionsExecutions(client, ARN)  # type: ignore[arg-type]
    first = executions.start("run-1", {"model": "m"})
    assert first.outcome is StartOutcome.STARTED
    assert first.arn == f"{ARN}:run-1"
    assert executions.start("run-1", {"model": "m"}).outcome is StartOutcome.DUPLICATE


@pytest.mark.parametrize("code", ["StateMachineDoesNotExist", "StateMachineDeleting", "InvalidArn"])
def test_a_start_on_a_missing_state_machine_names_the_arn_and_the_setting(
    stub: tuple[object, Stubber], code: str
) -> None:
    client, stubber = stub
    stubber.add_client_error("start_execution", service_error_code=code, service_message="no such machine")
    with pytest.raises(ConfigurationError) as caught:
        StepFunctionsExecutions(client, ARN).start("run-1", {"model": "m"})  # type: ignore[arg-type]
    assert ARN in str(caught.value)
    assert "AMTFLOW_STATE_MACHINE_ARN" in str(caught.value)
    assert caught.value.error_type == "ConfigurationError"
    assert isinstance(caught.value.__cause__, ClientError)


def test_a_throttled_start_is_transient(stub: tuple[object, Stubber]) -> None:
    client, stubber = stub
    stubber.add_client_error("start_execution", service_error_code="ThrottlingException")
    with pytest.raises(TransientError, match="run-1"):
        StepFunctionsExecutions(client, ARN).start("run-1", {})  # type: ignore[arg-type]


EXECUTION = "arn:aws:states:us-east-1:123456789012:execution:tuning:run-a"


@pytest.mark.parametrize(
    ("status", "running"),
    [("RUNNING", True), ("SUCCEEDED", False), ("FAILED", False), ("ABORTED", False), ("TIMED_OUT", False)],
)
def test_is_running_describes_the_execution_of_this_state_machine(
    stub: tuple[object, Stubber], status: str, running: bool
) -> None:
    client, stubber = stub
    stubber.add_response(
        "describe_execution",
        {"executionArn": EXECUTION, "stateMachineArn": ARN, "status": status, "startDate": datetime.now(UTC)},
        {"executionArn": EXECUTION},
    )
    assert StepFunctionsExecutions(client, ARN).is_running("run-a") is running  # type: ignore[arg-type]


def test_an_execution_that_does_not_exist_does_not_run(stub: tuple[object, Stubber]) -> None:
    client, stubber = stub
    stubber.add_client_error(
        "describe_execution", "ExecutionDoesNotExist", expected_params={"executionArn": EXECUTION}
    )
    assert StepFunctionsExecutions(client, ARN).is_running("run-a") is False  # type: ignore[arg-type]


@pytest.mark.parametrize("code", ["ThrottlingException", "AccessDeniedException"])
def test_when_step_functions_cannot_tell_the_answer_is_unknown(
    stub: tuple[object, Stubber], code: str
) -> None:
    """Unknown is not 'stopped': a lock is only taken over when its holder is known to have ended."""
    client, stubber = stub
    stubber.add_client_error("describe_execution", code)
    assert StepFunctionsExecutions(client, ARN).is_running("run-a") is None  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("status", "running"),
    [
        ("RUNNING", True),
        ("PENDING_REDRIVE", True),
        ("SUCCEEDED", False),
        ("FAILED", False),
        ("TIMED_OUT", False),
        ("ABORTED", False),
    ],
)
def test_the_holder_probe_describes_the_lease_holders_arn(
    stub: tuple[object, Stubber], status: str, running: bool
) -> None:
    """The lease records its holder's ARN: the probe needs no state machine to ask about it."""
    client, stubber = stub
    stubber.add_response(
        "describe_execution",
        {"executionArn": EXECUTION, "stateMachineArn": ARN, "status": status, "startDate": datetime.now(UTC)},
        {"executionArn": EXECUTION},
    )
    assert StepFunctionsHolderProbe(client)(EXECUTION) is running  # type: ignore[arg-type]


@pytest.mark.parametrize("code", ["ThrottlingException", "AccessDeniedException", "InvalidArn"])
def test_the_holder_probe_cannot_tell_when_step_functions_does_not_answer(
    stub: tuple[object, Stubber], code: str
) -> None:
    client, stubber = stub
    stubber.add_client_error("describe_execution", code)
    assert StepFunctionsHolderProbe(client)(EXECUTION) is None  # type: ignore[arg-type]


def test_a_bare_execution_name_needs_the_state_machine(stub: tuple[object, Stubber]) -> None:
    client, _ = stub
    assert StepFunctionsHolderProbe(client)("run-a") is None  # type: ignore[arg-type]
