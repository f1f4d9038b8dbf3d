"""The stack's IAM policies, from the translated template, resolved to the twin's deployed names and ARNs.

Every ``AWS::IAM::Role`` the stack deployed gets its inline ``Policies``, its ``ManagedPolicyArns``, its
``PermissionsBoundary`` and every deployed ``AWS::IAM::Policy``/``AWS::IAM::ManagedPolicy`` that names it;
intrinsic functions (``Fn::Sub``, ``Ref``, ``Fn::GetAtt``, ``Fn::If``, ...) are resolved as moto's
CloudFormation resolved them when it deployed the stack. AWS managed policies are defined here
(:data:`AWS_MANAGED_POLICIES`); a role referencing one that is not is refused at start-up
(:class:`~._iam.PolicyError`), so nothing is silently allowed or denied. Lambda functions' resource
policies (the ``AWS::Lambda::Permission``\\ s SAM adds for rules and schedules) are read from the deployed
functions.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from amtflow.local.twin._iam import Policies, PolicyError, Statement, parse_policy

_LOGS = ("logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents")
_XRAY = (
    "xray:PutTraceSegments",
    "xray:PutTelemetryRecords",
    "xray:GetSamplingRules",
    "xray:GetSamplingTargets",
    "xray:GetSamplingStatisticSummaries",
)

AWS_MANAGED_POLICIES: dict[str, dict[str, Any]] = {
    "arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole": {
        "Statement": [{"Effect": "Allow", "Action": list(_LOGS), "Resource": "*"}]
    },
    "arn:aws:iam::aws:policy/AWSXrayWriteOnlyAccess": {
        "Statement": [{"Effect": "Allow", "Action": list(_XRAY), "Resource": "*"}]
    },
    "arn:aws:iam::aws:policy/AWSXRayDaemonWriteAccess": {
        "Statement": [{"Effect": "Allow", "Action": list(_XRAY), "Resource": "*"}]
    },
    "arn:aws:iam::aws:policy/service-role/AWSLambdaRole": {
        "Statement": [{"Effect": "Allow", "Action": ["lambda:InvokeFunction"], "Resource": "*"}]
    },
    "arn:aws:iam::aws:policy/service-role/AWSLambdaSQSQueueExecutionRole": {
        "Statement": [
            {
                "Effect": "Allow",
                "Action": ["sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:GetQueueAttributes", *_LOGS],
                "Resource": "*",
            }
        ]
    },
}
"""The AWS managed policies a template may reference, as AWS defines them (their current versions)."""


@dataclass
class RolePolicies:
    """One role of the stack: its ARN, identity policies (statements) and permissions boundary."""

    logical_id: str
    arn: str
    statements: list[Statement] = field(default_factory=list)
    boundary: list[Statement] | None = None

    def policies(self, resource: tuple[Statement, ...] = ()) -> Policies:
        boundary = tuple(self.boundary) if self.boundary is not None else None
        return Policies(identity=tuple(self.statements), boundary=boundary, resource=resource)


@dataclass
class StackPolicies:
    """Every role of the stack by ARN, and every function's resource policy by function ARN."""

    roles: dict[str, RolePolicies] = field(default_factory=dict)
    functions: dict[str, tuple[Statement, ...]] = field(default_factory=dict)

    def role(self, arn: str) -> RolePolicies | None:
        return self.roles.get(arn)


def load_stack_policies(
    template: Mapping[str, Any],
    *,
    deployed: Mapping[str, tuple[str, str]],
    resolve: Callable[[Any], Any],
    account: str,
    function_policies: Mapping[str, str | None],
) -> StackPolicies:
    """The policies of the deployed stack.

    ``deployed`` maps logical id → (type, physical id); ``resolve`` resolves a template value as
    CloudFormation did; ``function_policies`` maps each function ARN to its resource policy (JSON), or
    None.
    """
    resources: Mapping[str, Any] = template.get("Resources", {})
    found = StackPolicies()
    by_name: dict[str, RolePolicies] = {}
    managed = _customer_managed(resources, deployed, resolve)
    for logical_id, resource in resources.items():
        if resource.get("Type") != "AWS::IAM::Role" or logical_id not in deployed:
            continue
        props = resource.get("Properties", {})
        name = deployed[logical_id][1]
        path = str(props.get("Path") or "/")
        role = RolePolicies(logical_id, f"arn:aws:iam::{account}:role{path}{name}")
        for policy in _items(resolve(props.get("Policies", []))):
            source = f"{logical_id}/{policy.get('PolicyName', '?')}"
            role.statements += parse_policy(_document(policy.get("PolicyDocument"), source), source=source)
        for arn in _items(resolve(props.get("ManagedPolicyArns", []))):
            role.statements += _managed(str(arn), managed, f"{logical_id} ManagedPolicyArns")
        if props.get("PermissionsBoundary"):
            arn = str(resolve(props["PermissionsBoundary"]))
            role.boundary = list(_managed(arn, managed, f"{logical_id} PermissionsBoundary"))
        found.roles[role.arn] = role
        by_name[name] = role
    for logical_id, resource in resources.items():
        kind = resource.get("Type")
        if kind not in ("AWS::IAM::Policy", "AWS::IAM::ManagedPolicy") or logical_id not in deployed:
            continue
        props = resource.get("Properties", {})
        source = f"{logical_id}/{props.get('PolicyName') or props.get('ManagedPolicyName') or logical_id}"
        statements = parse_policy(_document(resolve(props.get("PolicyDocument")), source), source=source)
        for role_name in _items(resolve(props.get("Roles", []))):
            if str(role_name) in by_name:
                by_name[str(role_name)].statements += statements
    for function_arn, document in function_policies.items():
        if document:
            source = f"{function_arn.rsplit(':', 1)[-1]} resource policy"
            found.functions[function_arn] = parse_policy(json.loads(document), source=source)
    return found


def _items(value: Any) -> list[Any]:
    return [v for v in (value if isinstance(value, list) else [value]) if v is not None]


def _document(value: Any, source: str) -> Mapping[str, Any]:
    if isinstance(value, str):
        value = json.loads(value)
    if not isinstance(value, Mapping):
        raise PolicyError(f"{source}: PolicyDocument is not a policy document ({value!r})")
    return value


def _customer_managed(
    resources: Mapping[str, Any], deployed: Mapping[str, tuple[str, str]], resolve: Callable[[Any], Any]
) -> dict[str, tuple[Statement, ...]]:
    found: dict[str, tuple[Statement, ...]] = {}
    for logical_id, resource in resources.items():
        if resource.get("Type") == "AWS::IAM::ManagedPolicy" and logical_id in deployed:
            document = _document(resolve(resource["Properties"].get("PolicyDocument")), logical_id)
            found[deployed[logical_id][1]] = parse_policy(document, source=logical_id)
    return found


def _managed(arn: str, customer: Mapping[str, tuple[Statement, ...]], where: str) -> tuple[Statement, ...]:
    if arn in customer:
        return customer[arn]
    document = AWS_MANAGED_POLICIES.get(arn)
    if document is None:
        raise PolicyError(
            f"{where}: the managed policy {arn} is not defined in the twin, so its permissions cannot be "
            "enforced; add its document to amtflow.local.twin._iam_policies.AWS_MANAGED_POLICIES"
        )
    return parse_policy(document, source=arn.rsplit("/", 1)[-1])
