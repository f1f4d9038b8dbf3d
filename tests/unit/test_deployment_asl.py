"""Anti-drift for the deployment state machine: its ASL, its substitutions and its rules agree."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from samtranslator.yaml_helper import yaml_parse

from amtflow.local.twin import matches

ROOT = Path(__file__).resolve().parents[2]
RESOURCES: dict[str, Any] = yaml_parse((ROOT / "template.yaml").read_text())["Resources"]
ASL_TEXT = (ROOT / "statemachine" / "deployment.asl.json").read_text()
ASL: dict[str, Any] = json.loads(ASL_TEXT)
MACHINE = RESOURCES["DeploymentStateMachine"]["Properties"]
RULES = RESOURCES["DeploymentEventsFunction"]["Properties"]["Events"]


def test_every_placeholder_has_a_substitution_and_vice_versa() -> None:
    assert set(re.findall(r"\$\{(\w+)\}", ASL_TEXT)) == set(MACHINE["DefinitionSubstitutions"])
    assert MACHINE["DefinitionUri"] == "statemachine/deployment.asl.json"
    assert ASL["QueryLanguage"] == "JSONPath"
    assert "arn:aws:" not in ASL_TEXT


def test_every_state_is_reachable_and_every_target_exists() -> None:
    states = ASL["States"]
    targets = {ASL["StartAt"]}
    for state in states.values():
        for key in ("Next", "Default"):
            if key in state:
                targets.add(state[key])
        targets.update(c["Next"] for c in state.get("Catch", []) + state.get("Choices", []))
    assert targets <= set(states)
    assert set(states) == targets


def test_deploy_waits_for_the_endpoint_event_bounded_by_the_plan_and_never_polls() -> None:
    deploy = ASL["States"]["Deploy"]
    assert deploy["Resource"] == "arn:${Partition}:states:::lambda:invoke.waitForTaskToken"
    assert deploy["Parameters"]["Payload"]["taskToken.$"] == "$$.Task.Token"
    assert deploy["TimeoutSecondsPath"] == "$.plan.timeoutSeconds"
    assert not [n for n, s in ASL["States"].items() if s["Type"] == "Wait"]


def test_every_task_retries_with_jitter_and_every_failure_still_finishes_and_releases() -> None:
    for name, state in ASL["States"].items():
        if state["Type"] != "Task":
            continue
        catches = state["Catch"]
        assert [c["ErrorEquals"] for c in catches] == [["States.DataLimitExceeded"], ["States.ALL"]], name
        assert all(r.get("JitterStrategy") == "FULL" for r in state["Retry"]), name
        assert catches[0]["Next"] == catches[1]["Next"], name
    assert ASL["States"]["PlanDeployment"]["Catch"][1]["Next"] == "FinishDeployment"
    assert ASL["States"]["Deploy"]["Catch"][1]["Next"] == "FinishDeployment"
    assert ASL["States"]["FinishDeployment"]["Next"] == "HoldsLock"
    busy = [
        r for r in ASL["States"]["PlanDeployment"]["Retry"] if r["ErrorEquals"] == ["DeploymentBusyError"]
    ]
    assert busy, "a busy model's deployment waits for the lock"


def test_the_deploy_task_is_retried_while_a_failed_endpoint_is_deleted_for_long_enough() -> None:
    (replacing,) = [
        r for r in ASL["States"]["Deploy"]["Retry"] if r["ErrorEquals"] == ["EndpointReplacingError"]
    ]
    waits, interval = 0.0, float(replacing["IntervalSeconds"])
    for _ in range(replacing["MaxAttempts"]):
        waits += min(interval, replacing["MaxDelaySeconds"])
        interval *= replacing["BackoffRate"]
    assert waits >= 30 * 60, "an endpoint's deletion may take many minutes"


def test_the_rules_take_approvals_and_endpoint_changes_of_this_stack_only() -> None:
    approved = RULES["PackageApproved"]["Properties"]["Pattern"]
    changed = RULES["EndpointChanged"]["Properties"]["Pattern"]
    values = {"JobPrefix": "amtf"}

    def resolve(node: Any) -> Any:
        if isinstance(node, dict) and set(node) == {"Fn::Sub"}:
            return re.sub(r"\$\{(\w+)\}", lambda m: values[m.group(1)], node["Fn::Sub"])
        if isinstance(node, dict):
            return {k: resolve(v) for k, v in node.items()}
        if isinstance(node, list):
            return [resolve(v) for v in node]
        return node

    def event(kind: str, **detail: Any) -> dict[str, Any]:
        return {"source": "aws.sagemaker", "detail-type": kind, "detail": detail}

    package = "SageMaker Model Package State Change"
    assert matches(
        resolve(approved), event(package, ModelPackageGroupName="amtf-churn", ModelApprovalStatus="Approved")
    )
    assert not matches(
        resolve(approved), event(package, ModelPackageGroupName="amtf-churn", ModelApprovalStatus="Rejected")
    )
    assert not matches(
        resolve(approved), event(package, ModelPackageGroupName="other", ModelApprovalStatus="Approved")
    )
    endpoint = "SageMaker Endpoint State Change"
    assert matches(resolve(changed), event(endpoint, EndpointName="amtf-churn", EndpointStatus="IN_SERVICE"))
    assert not matches(
        resolve(changed), event(endpoint, EndpointName="prod-churn", EndpointStatus="IN_SERVICE")
    )
