"""Step Functions: completing waiting tasks, and starting executions under deterministic names."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from amtflow.adapters._errors import aws_call, error_code
from amtflow.app import CallbackOutcome, ExecutionStart, StartOutcome
from amtflow.errors import AmtflowError, ConfigurationError

if TYPE_CHECKING:
    from botocore.exceptions import ClientError
    from mypy_boto3_stepfunctions import SFNClient

# The token is no longer awaited: the task was closed, timed out, or its execution ended.
GONE_CODES = frozenset({"TaskDoesNotExist", "TaskTimedOut", "InvalidToken"})
MAX_ERROR = 256
MAX_CAUSE = 32768
# The configured state machine is not one StartExecution can use: a setting to fix, not a run to retry.
MACHINE_CODES = ("StateMachineDoesNotExist", "StateMachineDeleting", "InvalidArn")


class StepFunctionsCallbacks:
    """Implements :class:`~amtflow.app.TaskCallbacks`."""

    def __init__(self, client: SFNClient) -> None:
        self._sfn = client

    def _call(self, action: str, fn: Any, **kwargs: Any) -> CallbackOutcome:
        with aws_call(action, expected=GONE_CODES) as call:
            fn(**kwargs)
        return CallbackOutcome.GONE if call.code else CallbackOutcome.DELIVERED

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

    def _no_machine(self, error: ClientError) -> ConfigurationError:
        return ConfigurationError(
            f"starting an execution: state machine {self._arn!r} cannot run executions "
            f"({error_code(error)}); set AMTFLOW_STATE_MACHINE_ARN to the stack's tuning state machine "
            "(the TuningStateMachine resource's ARN)"
        )

    def start(self, name: str, run_input: Mapping[str, Any]) -> ExecutionStart:
        with aws_call(
            f"starting execution {name}",
            expected={"ExecutionAlreadyExists"},
            errors=dict.fromkeys(MACHINE_CODES, self._no_machine),
        ) as call:
            response = self._sfn.start_execution(
                stateMachineArn=self._arn, name=name, input=json.dumps(run_input, sort_keys=True)
            )
        if call.code:
            return ExecutionStart(name=name, outcome=StartOutcome.DUPLICATE)
        return ExecutionStart(name=name, outcome=StartOutcome.STARTED, arn=response["executionArn"])

    def execution_arn(self, name: str) -> str:
        """The ARN of this state machine's execution ``name`` (``...:execution:<machine>:<name>``)."""
        prefix, _, machine = self._arn.rpartition(":stateMachine:")
        return f"{prefix}:execution:{machine}:{name}"

    def is_running(self, execution: str) -> bool | None:
        """Whether ``execution`` (an ARN, or the name of one of this state machine's executions) still runs;
        ``False`` once it ended or if it never existed, ``None`` if Step Functions cannot tell (throttled,
        no permission): the caller then assumes it runs."""
        return StepFunctionsHolderProbe(self._sfn, self._arn)(execution)


# A holder that may still act: running, or failed and waiting to be redriven (it resumes with its lock).
RUNNING_STATUSES = frozenset({"RUNNING", "PENDING_REDRIVE"})
ENDED_STATUSES = frozenset({"SUCCEEDED", "FAILED", "TIMED_OUT", "ABORTED"})


class StepFunctionsHolderProbe:
    """Implements :data:`~amtflow.app.HolderProbe` with ``DescribeExecution``: whether a lease's holder (an
    execution ARN; a bare name is taken as one of ``state_machine_arn``'s executions) still runs."""

    def __init__(self, client: SFNClient, state_machine_arn: str = "") -> None:
        self._sfn = client
        self._machine = state_machine_arn

    def _arn(self, execution: str) -> str | None:
        if execution.startswith("arn:"):
            return execution
        if not self._machine:
            return None
        prefix, _, machine = self._machine.rpartition(":stateMachine:")
        return f"{prefix}:execution:{machine}:{execution}"

    def __call__(self, execution: str) -> bool | None:
        arn = self._arn(execution)
        if arn is None:
            return None
        try:
            with aws_call(f"describing execution {arn}", expected={"ExecutionDoesNotExist"}) as call:
                response = self._sfn.describe_execution(executionArn=arn)
        except AmtflowError:  # unknown: the lease stays until the probe can tell
            return None
        if call.code:
            return False
        status = response["status"]
        if status in RUNNING_STATUSES:
            return True
        return False if status in ENDED_STATUSES else None
