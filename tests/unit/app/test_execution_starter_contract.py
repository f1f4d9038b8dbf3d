"""One contract, two implementations: the in-memory executions the use-case tests start behave like the Step
Functions adapter (moto) on starts under deterministic names and on whether an execution still runs; the
lease's holder probe answers from the same executions."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from app_fakes import Executions
from botocore.stub import Stubber
from moto import mock_aws

from amtflow.adapters import StepFunctionsExecutions, StepFunctionsHolderProbe
from amtflow.app import StartOutcome
from amtflow.errors import ConfigurationError, QuotaExceededError, TransientError

ROLE = "arn:aws:iam::123456789012:role/amtflow-state-machine"
DEFINITION = json.dumps({"StartAt": "Wait", "States": {"Wait": {"Type": "Pass", "End": True}}})


class World:
    """The executions under test, and how an execution ends (moto leaves executions running until stopped)."""

    def __init__(self, executions: Any, end: Any) -> None:
        self.executions = executions
        self.end = end


@pytest.fixture(params=["in-memory", "stepfunctions"])
def world(request: pytest.FixtureRequest) -> Iterator[World]:
    if request.param == "in-memory":
        fake = Executions()
        yield World(fake, fake.end)
        return
    with mock_aws():
        client = boto3.client("stepfunctions", region_name="us-east-1")
        machine = client.create_state_machine(name="amtflow-tuning", definition=DEFINITION, roleArn=ROLE)
        adapter = StepFunctionsExecutions(client, machine["stateMachineArn"])

        def end(name: str) -> None:
            client.stop_execution(executionArn=adapter.execution_arn(name))

        yield World(adapter, end)


def test_a_new_name_starts_an_execution_whose_arn_names_it(world: World) -> None:
    start = world.executions.start("cancer-xgb-v1", {"model": "cancer-xgb"})
    assert (start.name, start.outcome) == ("cancer-xgb-v1", StartOutcome.STARTED)
    assert start.arn == world.executions.execution_arn("cancer-xgb-v1")
    assert start.arn.startswith("arn:aws:states:us-east-1:123456789012:execution:amtflow-tuning:")


def test_the_same_name_and_input_while_it_runs_is_answered_like_the_first_start(world: World) -> None:
    first = world.executions.start("cancer-xgb-v1", {"model": "cancer-xgb", "version": "v1"})
    again = world.executions.start("cancer-xgb-v1", {"version": "v1", "model": "cancer-xgb"})
    assert again == first


def test_the_same_name_with_another_input_is_a_duplicate_not_an_error(world: World) -> None:
    world.executions.start("cancer-xgb-v1", {"model": "cancer-xgb", "source": {"eventId": "1"}})
    again = world.executions.start("cancer-xgb-v1", {"model": "cancer-xgb", "source": {"eventId": "2"}})
    assert (again.name, again.outcome, again.arn) == ("cancer-xgb-v1", StartOutcome.DUPLICATE, None)


def test_the_same_name_once_its_execution_ended_is_a_duplicate(world: World) -> None:
    world.executions.start("cancer-xgb-v1", {"model": "cancer-xgb"})
    world.end("cancer-xgb-v1")
    again = world.executions.start("cancer-xgb-v1", {"model": "cancer-xgb"})
    assert (again.outcome, again.arn) == (StartOutcome.DUPLICATE, None)


def test_an_execution_runs_until_it_ends_and_an_unknown_one_does_not_run(world: World) -> None:
    executions = world.executions
    arn = executions.start("cancer-xgb-v1", {"model": "cancer-xgb"}).arn
    assert executions.is_running(arn) is True
    assert executions.is_running("cancer-xgb-v1") is True
    assert executions.is_running("never-started") is False
    world.end("cancer-xgb-v1")
    assert executions.is_running(arn) is False
    assert executions.is_running("cancer-xgb-v1") is False


# The lease's holder probe over Step Functions; its fake in the state-table contract is a plain callable.


@pytest.fixture
def sfn() -> Iterator[tuple[Any, str]]:
    with mock_aws():
        client = boto3.client("stepfunctions", region_name="us-east-1")
        machine = client.create_state_machine(name="amtflow-tuning", definition=DEFINITION, roleArn=ROLE)
        yield client, machine["stateMachineArn"]


def test_the_holder_probe_tells_a_running_holder_from_an_ended_or_unknown_one(sfn: tuple[Any, str]) -> None:
    client, machine = sfn
    probe = StepFunctionsHolderProbe(client, machine)
    running = client.start_execution(stateMachineArn=machine, name="a", input="{}")["executionArn"]
    stopped = client.start_execution(stateMachineArn=machine, name="b", input="{}")["executionArn"]
    client.stop_execution(executionArn=stopped)
    assert probe(running) is True
    assert probe("a") is True  # a bare name is one of the state machine's executions
    assert probe(stopped) is False
    assert probe(running.removesuffix(":a") + ":never-started") is False
    assert StepFunctionsHolderProbe(client)("a") is None  # a bare name without a state machine: cannot tell


@pytest.mark.parametrize("code", ["ThrottlingException", "AccessDeniedException", "InvalidArn"])
def test_the_holder_probe_cannot_tell_when_step_functions_does_not_answer(code: str) -> None:
    client = boto3.client("stepfunctions", region_name="us-east-1")
    arn = "arn:aws:states:us-east-1:123456789012:execution:amtflow-tuning:a"
    with Stubber(client) as stub:
        stub.add_client_error("describe_execution", service_error_code=code, http_status_code=400)
        assert StepFunctionsHolderProbe(client)(arn) is None


@pytest.mark.parametrize("status", ["RUNNING", "PENDING_REDRIVE"])
def test_the_holder_probe_counts_a_failed_execution_awaiting_redrive_as_running(status: str) -> None:
    client = boto3.client("stepfunctions", region_name="us-east-1")
    machine = "arn:aws:states:us-east-1:123456789012:stateMachine:amtflow-tuning"
    arn = "arn:aws:states:us-east-1:123456789012:execution:amtflow-tuning:a"
    response = {"executionArn": arn, "stateMachineArn": machine, "status": status, "startDate": "2026-11-01"}
    with Stubber(client) as stub:
        stub.add_response("describe_execution", response, {"executionArn": arn})
        assert StepFunctionsHolderProbe(client)(arn) is True


@pytest.mark.parametrize(
    ("code", "error"),
    [
        ("ThrottlingException", TransientError),
        ("KmsThrottlingException", TransientError),
        ("ExecutionLimitExceeded", QuotaExceededError),
        ("AccessDeniedException", ConfigurationError),
    ],
)
def test_a_refused_start_is_a_domain_error(code: str, error: type[Exception]) -> None:
    client = boto3.client("stepfunctions", region_name="us-east-1")
    executions = StepFunctionsExecutions(client, "arn:aws:states:us-east-1:123456789012:stateMachine:x")
    with Stubber(client) as stub:
        stub.add_client_error("start_execution", service_error_code=code, http_status_code=400)
        with pytest.raises(error):
            executions.start("cancer-xgb-v1", {"model": "cancer-xgb"})
