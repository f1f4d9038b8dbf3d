"""Step Functions: completing waiting tasks, and starting executions under deterministic names."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from botocore.exceptions import BotoCoreError, ClientError

from amtflow.adapters._errors import error_code, translate
from amtflow.app import CallbackOutcome, ExecutionStart, StartOutcome

if TYPE_CHECKING:
    from mypy_boto3_stepfunctions import SFNClient

# The token is no longer awaited: the task was closed, timed out, or its execution ended.
GONE_CODES = frozenset({"TaskDoesNotExist", "TaskTimedOut", "InvalidToken"})
MAX_ERROR = 256
MAX_CAUSE = 32768


class StepFunctionsCallbacks:
    """Implements :class:`~amtflow.app.TaskCallbacks`."""

    def __init__(self, client: SFNClient) -> None:
        self._sfn = client

    def _call(self, action: str, fn: Any, **kwargs: Any) -> CallbackOutcome:
        try:
            fn(**kwargs)
        except ClientError as e:
            if error_code(e) in GONE_CODES:
                return CallbackOutcome.GONE
            raise translate(e, action) from e
        except BotoCoreError as e:
            raise translate(e, action) from e
        return CallbackOutcome.DELIVERED

    def succeed(self, token: str, output: Mapping[str, Any]) -> CallbackOutcome:
        return self._call(
            "completing the tuning task",
            self._sfn.send_task_success,
            taskToken=token,
            output=json.dumps(output),
        )

    def fail(self, token: str, *, error: str, cause: str) -> CallbackOutcome:
        return self._call(
            "failing the tuning task",
            self._sfn.send_task_failure,
            taskToken=token,
            error=error[:MAX_ERROR],
            cause=cause[:MAX_CAUSE],
        )

    def heartbeat(self, token: str) -> CallbackOutcome:
        return self._call("sending a heartbeat", self._sfn.send_task_heartbeat, taskToken=token)


class StepFunctionsExecutions:
    """Implements :class:`~amtflow.app.ExecutionStarter` for one state machine."""

    def __init__(self, client: SFNClient, state_machine_arn: str) -> None:
        self._sfn = client
        self._arn = state_machine_arn

    def start(self, name: str, run_input: Mapping[str, Any]) -> ExecutionStart:
        try:
            response = self._sfn.start_execution(
                stateMachineArn=self._arn, name=name, input=json.dumps(run_input, sort_keys=True)
            )
        except ClientError as e:
            if error_code(e) == "ExecutionAlreadyExists":
                return ExecutionStart(name=name, outcome=StartOutcome.DUPLICATE)
            raise translate(e, f"starting execution {name}") from e
        except BotoCoreError as e:
            raise translate(e, f"starting execution {name}") from e
        return ExecutionStart(name=name, outcome=StartOutcome.STARTED, arn=response["executionArn"])

    def execution_arn(self, name: str) -> str:
        """The ARN of this state machine's execution ``name`` (``...:execution:<machine>:<name>``)."""
        prefix, _, machine = self._arn.rpartition(":stateMachine:")
        return f"{prefix}:execution:{machine}:{name}"

    def is_running(self, name: str) -> bool | None:
        """Whether execution ``name`` still runs; ``False`` if it ended or never existed, ``None`` if
        Step Functions cannot tell (throttled, no permission): the caller then assumes it runs."""
        try:
            response = self._sfn.describe_execution(executionArn=self.execution_arn(name))
        except ClientError as e:
            if error_code(e) in ("ExecutionDoesNotExist", "InvalidArn"):
                return False
            return None
        except BotoCoreError:
            return None
        return response["status"] in ("RUNNING", "PENDING_REDRIVE")
