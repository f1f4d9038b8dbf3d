"""Who acts as whom in the twin: functions as their roles, schedules and rules as their targets' roles or
under the function's resource policy, the state machine as its role; a grant taken away is a refusal."""

from __future__ import annotations

import pytest

from amtflow.local.twin import FunctionError, Twin
from amtflow.local.twin._iam_enforce import Enforcer


def _iam(twin: Twin) -> Enforcer:
    assert twin.iam is not None
    return twin.iam


def _role_arn(twin: Twin, logical_id: str) -> str:
    return f"arn:aws:iam::{twin.account}:role/{twin.physical_id(logical_id)}"


def test_each_caller_acts_as_its_own_role(twin: Twin) -> None:
    twin.advance(3 * 3600)  # the rule schedule, both Scheduler schedules, the state machine's states
    roles = _iam(twin).policies.roles
    callers = {
        (roles[c.principal.arn].logical_id, c.request.action)
        for c in _iam(twin).checks()
        if not c.principal.service
    }
    assert ("RouterFunctionRole", "dynamodb:PutItem") in callers  # the rule schedule's target, as its role
    assert ("CallbackFunctionSweepRole", "lambda:InvokeFunction") in callers  # Scheduler, as the target role
    assert ("FlowStateMachineNightlyRole", "states:StartExecution") in callers
    assert ("CallbackFunctionRole", "dynamodb:PutItem") in callers
    events = [c for c in _iam(twin).checks() if c.principal.service]
    assert {c.principal.arn for c in events} == {"events.amazonaws.com"}  # the rule, by the resource policy
    assert all(c.decision.allowed for c in _iam(twin).checks())


def test_a_scheduler_role_without_its_grant_starts_nothing(twin: Twin) -> None:
    _iam(twin).policies.roles[_role_arn(twin, "FlowStateMachineNightlyRole")].statements.clear()
    twin.advance(3 * 3600)
    assert twin.executions() == []
    refused = "FlowStateMachineNightlyRole"
    assert any(refused in e and "states:StartExecution" in e for e in twin.errors())


def test_a_function_without_its_grant_fails_with_the_services_access_denied_error(twin: Twin) -> None:
    _iam(twin).policies.roles[_role_arn(twin, "CallbackFunctionRole")].statements.clear()
    with pytest.raises(FunctionError, match=r"AccessDeniedException.*dynamodb:PutItem"):
        twin.invoke("CallbackFunction", {"sweep": True})
