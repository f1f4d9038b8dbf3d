"""The twin refuses what the AWS services refuse for size, with the services' errors.

Each test drives the real twin (the fixture application deployed into moto): an oversized payload fails
here, as it would in an account, instead of first after ``sam deploy``.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError

from amtflow.local.twin import ManualClock, SageMakerFactory, Twin

FIXTURE = Path(__file__).parent / "fixtures" / "app"
T0 = datetime(2026, 11, 1, 0, 10, tzinfo=UTC)
KIB_256 = 262_144
ROLE = "arn:aws:iam::123456789012:role/limits"


@pytest.fixture(scope="module")
def twin(no_sagemaker: SageMakerFactory) -> Iterator[Twin]:
    # the tests' own state machines run as a role the stack does not define: nothing to authorise them by
    with Twin.start(
        FIXTURE,
        sagemaker=no_sagemaker,
        clock=ManualClock(T0),
        parameters={"Stage": "test"},
        enforce_iam=False,
    ) as t:
        yield t


def _code(error: pytest.ExceptionInfo[ClientError]) -> str:
    return str(error.value.response["Error"]["Code"])


def _machine(twin: Twin, name: str, states: dict[str, Any], start: str) -> str:
    definition = json.dumps({"StartAt": start, "States": states})
    sfn = twin.client("stepfunctions")
    return str(sfn.create_state_machine(name=name, definition=definition, roleArn=ROLE)["stateMachineArn"])


def _finished(twin: Twin, execution_arn: str, timeout: float = 30.0) -> dict[str, Any]:
    sfn = twin.client("stepfunctions")
    deadline = time.monotonic() + timeout
    while True:
        described: dict[str, Any] = sfn.describe_execution(executionArn=execution_arn)
        if described["status"] != "RUNNING" or time.monotonic() > deadline:
            return described
        time.sleep(0.05)


def _visited(twin: Twin, execution_arn: str) -> list[str]:
    history = twin.client("stepfunctions").get_execution_history(executionArn=execution_arn)["events"]
    return [e["stateEnteredEventDetails"]["name"] for e in history if "stateEnteredEventDetails" in e]


# --- Step Functions ----------------------------------------------------------------------------------------


def test_start_execution_with_an_input_over_256_kib_is_refused(twin: Twin) -> None:
    arn = _machine(twin, "limits-input", {"Done": {"Type": "Succeed"}}, "Done")
    sfn = twin.client("stepfunctions")
    with pytest.raises(ClientError) as refused:
        sfn.start_execution(stateMachineArn=arn, input=json.dumps({"blob": "x" * KIB_256}))
    assert _code(refused) == "InvalidExecutionInput"

    accepted = sfn.start_execution(stateMachineArn=arn, input=json.dumps({"blob": "x" * 200_000}))
    assert _finished(twin, accepted["executionArn"])["status"] == "SUCCEEDED"


def _oversized_result_machine(twin: Twin, name: str, catch: list[str], size: int) -> dict[str, Any]:
    """Run a Lambda task whose result is ``size`` bytes of payload, caught by ``catch``."""
    worker = twin.client("lambda").get_function(FunctionName=twin.physical_id("WorkerFunction"))
    states = {
        "Produce": {
            "Type": "Task",
            "Resource": worker["Configuration"]["FunctionArn"],
            "ResultPath": "$.produced",
            "Catch": [{"ErrorEquals": catch, "ResultPath": "$.error", "Next": "Caught"}],
            "End": True,
        },
        "Caught": {"Type": "Pass", "Parameters": {"caught.$": "$.error.Error"}, "End": True},
    }
    arn = _machine(twin, name, states, "Produce")
    request = {"request": {"mode": "oversized-response", "key": "k", "size": size}}
    started = twin.client("stepfunctions").start_execution(stateMachineArn=arn, input=json.dumps(request))
    described = _finished(twin, started["executionArn"])
    described["visited"] = _visited(twin, started["executionArn"])
    return described


def test_a_task_result_over_256_kib_fails_the_execution_even_through_a_catch_all(twin: Twin) -> None:
    described = _oversized_result_machine(twin, "limits-catch-all", ["States.ALL"], 300_000)

    assert described["status"] == "FAILED"
    assert described["error"] == "States.DataLimitExceeded"
    assert "Caught" not in described["visited"]  # terminal, as in Step Functions


def test_a_catch_that_names_data_limit_exceeded_catches_it(twin: Twin) -> None:
    described = _oversized_result_machine(twin, "limits-named", ["States.DataLimitExceeded"], 300_000)

    assert described["status"] == "SUCCEEDED"
    assert json.loads(described["output"]) == {"caught": "States.DataLimitExceeded"}


def test_a_fail_state_passes_on_a_caught_data_limit_error_by_its_name(twin: Twin) -> None:
    worker = twin.client("lambda").get_function(FunctionName=twin.physical_id("WorkerFunction"))
    states = {
        "Produce": {
            "Type": "Task",
            "Resource": worker["Configuration"]["FunctionArn"],
            "Catch": [
                {"ErrorEquals": ["States.DataLimitExceeded"], "ResultPath": "$.error", "Next": "Failed"}
            ],
            "End": True,
        },
        "Failed": {"Type": "Fail", "ErrorPath": "$.error.Error", "CausePath": "$.error.Cause"},
    }
    arn = _machine(twin, "limits-fail", states, "Produce")
    request = {"request": {"mode": "oversized-response", "key": "k", "size": 300_000}}
    started = twin.client("stepfunctions").start_execution(stateMachineArn=arn, input=json.dumps(request))

    described = _finished(twin, started["executionArn"])

    assert described["status"] == "FAILED"
    assert described["error"] == "States.DataLimitExceeded"  # not moto's States.Runtime


def test_a_state_output_over_256_kib_fails_the_execution(twin: Twin) -> None:
    doubled = {"Type": "Pass", "Parameters": {"a.$": "$.blob", "b.$": "$.blob"}, "End": True}
    arn = _machine(twin, "limits-state", {"Double": doubled}, "Double")
    started = twin.client("stepfunctions").start_execution(
        stateMachineArn=arn, input=json.dumps({"blob": "x" * 150_000})
    )

    described = _finished(twin, started["executionArn"])

    assert described["status"] == "FAILED"
    assert described["error"] == "States.DataLimitExceeded"


def test_send_task_success_with_an_output_over_256_kib_is_refused(twin: Twin) -> None:
    topic = twin.outputs["TopicArn"]
    states = {
        "Wait": {
            "Type": "Task",
            "Resource": "arn:aws:states:::sns:publish.waitForTaskToken",
            "Parameters": {"TopicArn": topic, "Subject": "token", "Message.$": "$$.Task.Token"},
            "End": True,
        }
    }
    arn = _machine(twin, "limits-callback", states, "Wait")
    sfn = twin.client("stepfunctions")
    started = sfn.start_execution(stateMachineArn=arn, input="{}")
    deadline = time.monotonic() + 30
    while not (tokens := [n.message for n in twin.notifications() if n.subject == "token"]):
        assert time.monotonic() < deadline, "the task token was never published"
        time.sleep(0.05)

    with pytest.raises(ClientError) as refused:
        sfn.send_task_success(taskToken=tokens[-1], output=json.dumps({"blob": "x" * KIB_256}))
    assert _code(refused) == "InvalidOutput"

    sfn.send_task_success(taskToken=tokens[-1], output=json.dumps({"ok": True}))
    assert _finished(twin, started["executionArn"])["status"] == "SUCCEEDED"


# --- SNS ---------------------------------------------------------------------------------------------------


def test_publish_over_256_kib_with_its_attributes_is_refused(twin: Twin) -> None:
    sns = twin.client("sns")
    topic = twin.outputs["TopicArn"]
    attributes = {"note": {"DataType": "String", "StringValue": "y" * 1000}}
    body = "x" * (KIB_256 - 500)  # within the limit alone; over it with the attribute

    with pytest.raises(ClientError) as refused:
        sns.publish(TopicArn=topic, Message=body, MessageAttributes=attributes)
    assert _code(refused) == "InvalidParameter"

    sns.publish(TopicArn=topic, Message=body)  # the body alone is accepted
    multibyte = "é" * (KIB_256 // 2 + 1)  # fewer characters than the limit, more bytes
    with pytest.raises(ClientError) as refused:
        sns.publish(TopicArn=topic, Message=multibyte)
    assert _code(refused) == "InvalidParameter"


@pytest.mark.parametrize("subject", ["s" * 100, "two\nlines", "tab\there"])
def test_publish_with_a_subject_sns_refuses_is_refused(twin: Twin, subject: str) -> None:
    with pytest.raises(ClientError) as refused:
        twin.client("sns").publish(TopicArn=twin.outputs["TopicArn"], Message="m", Subject=subject)
    assert _code(refused) == "InvalidParameter"


def test_publish_with_a_99_character_subject_is_accepted(twin: Twin) -> None:
    twin.client("sns").publish(TopicArn=twin.outputs["TopicArn"], Message="m", Subject="s" * 99)


# --- EventBridge -------------------------------------------------------------------------------------------


def test_put_events_over_256_kib_fails_as_eventbridge_reports_it(twin: Twin) -> None:
    events = twin.client("events")
    big = {"Source": "limits.test", "DetailType": "Big", "Detail": json.dumps({"blob": "x" * KIB_256})}

    with pytest.raises(ClientError) as refused:
        events.put_events(Entries=[big])
    assert _code(refused) == "ValidationException"

    half = {"Source": "limits.test", "DetailType": "Half", "Detail": json.dumps({"blob": "x" * 140_000})}
    with pytest.raises(ClientError) as refused:
        events.put_events(Entries=[half, half])  # each entry fits; the request does not
    assert _code(refused) == "ValidationException"
    assert events.put_events(Entries=[half])["FailedEntryCount"] == 0


# --- DynamoDB (moto enforces it; the test keeps it so) ------------------------------------------------------


def test_an_item_over_400_kb_is_refused(twin: Twin) -> None:
    ddb = twin.client("dynamodb")
    table = twin.physical_id("StateTable")
    with pytest.raises(ClientError) as refused:
        ddb.put_item(TableName=table, Item={"pk": {"S": "big"}, "v": {"S": "x" * 410_000}})
    assert _code(refused) == "ValidationException"
    ddb.put_item(TableName=table, Item={"pk": {"S": "fits"}, "v": {"S": "x" * 390_000}})


# --- Lambda ------------------------------------------------------------------------------------------------


def test_a_synchronous_invocation_over_6_mb_is_refused(twin: Twin) -> None:
    lam = twin.client("lambda")
    payload = json.dumps({"request": {"mode": "ok", "key": "k", "blob": "x" * 6_300_000}})
    with pytest.raises(ClientError) as refused:
        lam.invoke(FunctionName=twin.physical_id("WorkerFunction"), Payload=payload)
    assert _code(refused) == "RequestTooLargeException"
    assert refused.value.response["ResponseMetadata"]["HTTPStatusCode"] == 413


def test_an_asynchronous_invocation_over_256_kb_is_refused(twin: Twin) -> None:
    lam = twin.client("lambda")
    payload = json.dumps({"request": {"mode": "ok", "key": "k", "blob": "x" * KIB_256}})
    with pytest.raises(ClientError) as refused:
        lam.invoke(FunctionName=twin.physical_id("WorkerFunction"), InvocationType="Event", Payload=payload)
    assert _code(refused) == "RequestTooLargeException"


def test_a_synchronous_response_over_6_mb_is_a_function_error(twin: Twin) -> None:
    # moto's Invoke handler does this itself; the test keeps it so
    lam = twin.client("lambda")
    function = twin.physical_id("WorkerFunction")

    def call(size: int) -> dict[str, Any]:
        event = {"request": {"mode": "oversized-response", "key": "k", "size": size}}
        return dict(lam.invoke(FunctionName=function, Payload=json.dumps(event)))

    too_big = call(6_300_000)
    assert too_big["FunctionError"] == "Unhandled"
    assert json.loads(too_big["Payload"].read())["errorType"] == "Function.ResponseSizeTooLarge"

    fits = call(1_000)
    assert "FunctionError" not in fits
    assert len(json.loads(fits["Payload"].read())["blob"]) == 1_000
