"""What the twin reports: executions, notifications, its errors, and the SageMaker side's interface."""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from amtflow.errors import AmtflowError

EventSink = Callable[[Mapping[str, Any]], None]
SageMakerFactory = Callable[[EventSink], AbstractContextManager[object]]
"""Builds the SageMaker side given the twin's event sink (a PutEvents entry goes in)."""


class TwinTimeoutError(AmtflowError):
    """Executions or deliveries were still in progress when the wait ended."""

    error_type = "TwinTimeoutError"


class FunctionError(AmtflowError):
    """A function invoked through :meth:`Twin.invoke` raised; ``error_type`` is the exception class name."""

    def __init__(self, error_type: str, message: str) -> None:
        super().__init__(f"{error_type}: {message}")
        self.error_type = error_type
        self.error_message = message


class ExecutionStatus(StrEnum):
    RUNNING = "RUNNING"
    SUCCEEDED = "SUCCEEDED"
    FAILED = "FAILED"
    TIMED_OUT = "TIMED_OUT"
    ABORTED = "ABORTED"
    PENDING_REDRIVE = "PENDING_REDRIVE"

    def is_finished(self) -> bool:
        return self is not ExecutionStatus.RUNNING


@dataclass(frozen=True)
class Execution:
    """A state-machine execution as the twin reports it (history counted from the execution history)."""

    arn: str
    name: str
    state_machine: str
    status: ExecutionStatus
    input: Any
    output: Any
    error: str | None
    cause: str | None
    started: datetime
    stopped: datetime | None
    states: tuple[str, ...]
    state_transitions: int
    lambda_invocations: int


@dataclass(frozen=True)
class Notification:
    """One SNS message as a subscriber of the topic receives it."""

    topic_arn: str
    subject: str | None
    message: str
    attributes: Mapping[str, str]
    timestamp: str

    def json(self) -> Any:
        """The message parsed as JSON (raises ``ValueError`` when it is plain text)."""
        return json.loads(self.message)


def read_execution(sfn: Any, arn: str) -> Execution:
    """The execution ``arn`` as a Step Functions client describes it and its history."""
    d = sfn.describe_execution(executionArn=arn)
    events = sfn.get_execution_history(executionArn=arn, maxResults=1000)["events"]
    states = tuple(
        e["stateEnteredEventDetails"]["name"] for e in events if e["type"].endswith("StateEntered")
    )
    lambda_calls = sum(
        1
        for e in events
        if e["type"] == "LambdaFunctionScheduled"
        or (
            e["type"] == "TaskScheduled"
            and e.get("taskScheduledEventDetails", {}).get("resourceType") == "lambda"
        )
    )
    return Execution(
        arn=arn,
        name=d.get("name") or arn.rsplit(":", 1)[-1],
        state_machine=d["stateMachineArn"],
        status=ExecutionStatus(d["status"]),
        input=_maybe_json(d.get("input")),
        output=_maybe_json(d.get("output")),
        error=d.get("error"),
        cause=d.get("cause"),
        started=d["startDate"],
        stopped=d.get("stopDate"),
        states=states,
        state_transitions=len(states),
        lambda_invocations=lambda_calls,
    )


def read_notification(body: Mapping[str, Any]) -> Notification:
    """A :class:`Notification` from the body an SQS subscriber of an SNS topic receives."""
    return Notification(
        topic_arn=body.get("TopicArn", ""),
        subject=body.get("Subject"),
        message=body.get("Message", ""),
        attributes={k: v.get("Value", "") for k, v in body.get("MessageAttributes", {}).items()},
        timestamp=body.get("Timestamp", ""),
    )


def _maybe_json(text: str | None) -> Any:
    if text is None:
        return None
    try:
        return json.loads(text)
    except ValueError:
        return text
