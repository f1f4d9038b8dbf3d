"""One contract, two implementations: the in-memory task callbacks behave like the Step Functions adapter on
what reaches a waiting task (``SendTaskSuccess``/``Failure``/``Heartbeat``), on tokens that no longer wait
(``TaskDoesNotExist``, ``TaskTimedOut``, ``InvalidToken``) and on throttling.

moto accepts any token and keeps nothing, so the adapter's side is a botocore ``Stubber`` answering as
Step Functions does; what the adapter sent is read back from the requests it made.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from app_fakes import Callbacks
from botocore.stub import Stubber

from amtflow.adapters import StepFunctionsCallbacks
from amtflow.app import CallbackOutcome, TaskCallbacks
from amtflow.errors import ConfigurationError, TransientError

GONE_CODES = ["TaskDoesNotExist", "TaskTimedOut", "InvalidToken"]
OPERATIONS = {
    "success": "send_task_success",
    "failure": "send_task_failure",
    "heartbeat": "send_task_heartbeat",
}


class World:
    """The callbacks under test, how Step Functions will answer the next call, and what reached the tasks."""

    callbacks: Any

    def gone(self, kind: str, token: str, code: str) -> None:
        raise NotImplementedError

    def throttled(self, kind: str) -> None:
        raise NotImplementedError

    def accepts(self, kind: str) -> None:
        raise NotImplementedError

    def delivered(self) -> list[tuple[str, str, Any]]:
        raise NotImplementedError


class FakeWorld(World):
    def __init__(self) -> None:
        self.callbacks = Callbacks()

    def gone(self, kind: str, token: str, code: str) -> None:
        self.callbacks.gone.add(token)

    def throttled(self, kind: str) -> None:
        self.callbacks.transient = True

    def accepts(self, kind: str) -> None:
        self.callbacks.transient = False

    def delivered(self) -> list[tuple[str, str, Any]]:
        return list(self.callbacks.sent)


class StubbedWorld(World):
    def __init__(self, client: Any, stub: Stubber) -> None:
        self.callbacks = StepFunctionsCallbacks(client)
        self._stub = stub
        self._answers: list[str] = []
        self._sent: list[tuple[str, str, Any]] = []
        client.meta.events.register("provide-client-params.sfn.*", self._record)

    def _record(self, params: dict[str, Any], model: Any, **_: Any) -> None:
        answer = self._answers.pop(0)
        if answer != "ok":
            return
        kind = {v: k for k, v in OPERATIONS.items()}[model.name.replace("SendTask", "send_task_").lower()]
        token = params["taskToken"]
        if kind == "success":
            self._sent.append((kind, token, json.loads(params["output"])))
        elif kind == "failure":
            self._sent.append((kind, token, (params["error"], params["cause"])))
        else:
            self._sent.append((kind, token, None))

    def gone(self, kind: str, token: str, code: str) -> None:
        self._answers.append(code)
        self._stub.add_client_error(OPERATIONS[kind], service_error_code=code, http_status_code=400)

    def throttled(self, kind: str) -> None:
        self._answers.append("ThrottlingException")
        self._stub.add_client_error(
            OPERATIONS[kind], service_error_code="ThrottlingException", http_status_code=400
        )

    def accepts(self, kind: str) -> None:
        self._answers.append("ok")
        self._stub.add_response(OPERATIONS[kind], {})

    def delivered(self) -> list[tuple[str, str, Any]]:
        self._stub.assert_no_pending_responses()
        return list(self._sent)


@pytest.fixture(params=["in-memory", "stepfunctions"])
def world(request: pytest.FixtureRequest) -> Iterator[World]:
    if request.param == "in-memory":
        yield FakeWorld()
        return
    client = boto3.client("stepfunctions", region_name="us-east-1")
    with Stubber(client) as stub:
        yield StubbedWorld(client, stub)


def call(callbacks: TaskCallbacks, kind: str, token: str) -> CallbackOutcome:
    if kind == "success":
        return callbacks.succeed(token, {"status": "Completed", "best": {"value": 0.97}})
    if kind == "failure":
        return callbacks.fail(token, error="TuningJobFailed", cause="tuning job failed")
    return callbacks.heartbeat(token)


def test_a_waiting_task_gets_the_output_the_failure_or_the_heartbeat(world: World) -> None:
    for kind in ("success", "failure", "heartbeat"):
        world.accepts(kind)
    assert world.callbacks.succeed("t1", {"status": "Completed", "best": {"value": 0.97}}) is (
        CallbackOutcome.DELIVERED
    )
    assert world.callbacks.fail("t2", error="TuningJobFailed", cause="no trial") is CallbackOutcome.DELIVERED
    assert world.callbacks.heartbeat("t3") is CallbackOutcome.DELIVERED
    assert world.delivered() == [
        ("success", "t1", {"status": "Completed", "best": {"value": 0.97}}),
        ("failure", "t2", ("TuningJobFailed", "no trial")),
        ("heartbeat", "t3", None),
    ]


@pytest.mark.parametrize("kind", ["success", "failure", "heartbeat"])
@pytest.mark.parametrize("code", GONE_CODES)
def test_a_token_that_no_longer_waits_is_gone_not_an_error(world: World, kind: str, code: str) -> None:
    world.gone(kind, "t1", code)
    assert call(world.callbacks, kind, "t1") is CallbackOutcome.GONE
    assert world.delivered() == []


@pytest.mark.parametrize("kind", ["success", "failure", "heartbeat"])
def test_a_throttled_callback_is_transient_and_its_retry_is_delivered(world: World, kind: str) -> None:
    world.throttled(kind)
    with pytest.raises(TransientError):
        call(world.callbacks, kind, "t1")
    assert world.delivered() == []
    world.accepts(kind)
    assert call(world.callbacks, kind, "t1") is CallbackOutcome.DELIVERED
    assert [(k, t) for k, t, _ in world.delivered()] == [(kind, "t1")]


def test_a_failure_is_cut_to_what_step_functions_accepts(world: World) -> None:
    """``SendTaskFailure`` takes an error of at most 256 characters and a cause of at most 32768."""
    world.accepts("failure")
    world.callbacks.fail("t1", error="E" * 300, cause="c" * 40_000)
    [(_, _, (error, cause))] = world.delivered()
    assert (error, cause) == ("E" * 256, "c" * 32768)


@pytest.mark.parametrize(
    ("code", "error"),
    [("AccessDeniedException", ConfigurationError), ("KmsThrottlingException", TransientError)],
)
def test_a_callback_step_functions_refuses_is_a_domain_error(code: str, error: type[Exception]) -> None:
    client = boto3.client("stepfunctions", region_name="us-east-1")
    with Stubber(client) as stub:
        stub.add_client_error("send_task_success", service_error_code=code, http_status_code=400)
        with pytest.raises(error):
            StepFunctionsCallbacks(client).succeed("t1", {})
