"""Reading the IAM and resource settings of the deployed template, offline.

The SAM template is transformed with the local twin's own transform
(:func:`amtflow.local.twin.compile_project`: aws-sam-translator with a region and a small managed-policy
map), so the policies asserted on here are the ones SAM generates from the policy templates, exactly as
CloudFormation would receive them. The twin leaves out the access policies moto cannot create (bucket,
queue and topic policies); those are read from the SAM template itself, where they are written by hand and
SAM does not change them.

Intrinsic functions in ARNs are rendered as text with ``${...}`` placeholders so tests can compare them:
``{"Ref": "DataBucket"}`` → ``${DataBucket}``, ``{"Fn::GetAtt": ["Role", "Arn"]}`` → ``${Role.Arn}``,
``Fn::Sub`` with a variable map → the template string with the variables rendered in.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

PROJECT_ROOT = Path(__file__).resolve().parents[2]


@cache
def sam_template() -> dict[str, Any]:
    """``template.yaml`` as written (short-form intrinsics expanded), not transformed."""
    from samtranslator.yaml_helper import yaml_parse

    parsed: dict[str, Any] = yaml_parse((PROJECT_ROOT / "template.yaml").read_text(encoding="utf-8"))
    return parsed


@cache
def compiled() -> Any:
    """The twin's :class:`CompiledProject`: the template plus what the twin serves itself (schedules,
    asynchronous-invocation configs)."""
    from amtflow.local.twin import compile_project

    return compile_project(PROJECT_ROOT, region="us-east-1")


def cloudformation() -> dict[str, Any]:
    """The transformed template: what CloudFormation deploys (less the access policies, see above)."""
    template: dict[str, Any] = compiled().cloudformation
    return template


def resources_of_type(template: Mapping[str, Any], kind: str) -> dict[str, dict[str, Any]]:
    return {k: v for k, v in template["Resources"].items() if v["Type"] == kind}


def render(value: Any) -> str:
    """An ARN (or any string-valued intrinsic) as text with ``${...}`` placeholders."""
    if isinstance(value, str):
        return value
    if isinstance(value, Mapping) and len(value) == 1:
        (fn, arg), *_ = value.items()
        if fn == "Ref":
            return "${" + str(arg) + "}"
        if fn == "Fn::GetAtt":
            parts = arg.split(".", 1) if isinstance(arg, str) else arg
            return "${" + ".".join(str(p) for p in parts) + "}"
        if fn == "Fn::Sub":
            if isinstance(arg, str):
                return arg
            text, variables = arg
            for name, var in variables.items():
                text = text.replace("${" + name + "}", render(var))
            return str(text)
        if fn == "Fn::Join":
            sep, parts = arg
            return str(sep).join(render(p) for p in parts)
    raise AssertionError(f"cannot render {value!r} as text")


def as_list(value: Any) -> list[Any]:
    return list(value) if isinstance(value, list) else [value]


@dataclass(frozen=True)
class Grant:
    """One IAM statement of one role, with its actions and resources rendered as text."""

    role: str
    policy: str
    effect: str
    actions: tuple[str, ...]
    resources: tuple[str, ...]
    condition: Mapping[str, Any]
    has_not_action: bool
    has_not_resource: bool


def grants(template: Mapping[str, Any]) -> Iterator[Grant]:
    """Every statement of every inline policy of every role (and stand-alone policy) in ``template``."""
    for logical_id, resource in template["Resources"].items():
        kind = resource["Type"]
        props = resource.get("Properties", {})
        documents: list[tuple[str, str, Mapping[str, Any]]] = []
        if kind == "AWS::IAM::Role":
            for policy in props.get("Policies", []):
                documents.append((logical_id, policy["PolicyName"], policy["PolicyDocument"]))
        elif kind in ("AWS::IAM::Policy", "AWS::IAM::ManagedPolicy"):
            for role in as_list(props.get("Roles", [])):
                documents.append((render(role).strip("${}"), logical_id, props["PolicyDocument"]))
        for role, name, document in documents:
            for statement in as_list(document["Statement"]):
                yield Grant(
                    role=role,
                    policy=name,
                    effect=statement["Effect"],
                    actions=tuple(str(a) for a in as_list(statement.get("Action", []))),
                    resources=tuple(render(r) for r in as_list(statement.get("Resource", []))),
                    condition=statement.get("Condition", {}),
                    has_not_action="NotAction" in statement,
                    has_not_resource="NotResource" in statement,
                )


def role_of_function(template: Mapping[str, Any], function: str) -> str:
    """The logical id of the role a Lambda function runs with."""
    role = template["Resources"][function]["Properties"]["Role"]
    return render(role).removeprefix("${").removesuffix(".Arn}")


def granted_actions(template: Mapping[str, Any], role: str) -> dict[str, set[str]]:
    """``action -> resources`` the role is allowed (inline policies only)."""
    out: dict[str, set[str]] = {}
    for g in grants(template):
        if g.role == role and g.effect == "Allow":
            for action in g.actions:
                out.setdefault(action, set()).update(g.resources)
    return out


_HEAD = "arn:${AWS::Partition}"
_CANONICAL = {
    "${DataBucket.Arn}": f"{_HEAD}:s3:::${{DataBucket}}",
    "${StateTable.Arn}": f"{_HEAD}:dynamodb:${{AWS::Region}}:${{AWS::AccountId}}:table/${{StateTable}}",
    "${TuningStateMachine}": (
        f"{_HEAD}:states:${{AWS::Region}}:${{AWS::AccountId}}:stateMachine:${{TuningStateMachine.Name}}"
    ),
    "${NotificationTopic}": (
        f"{_HEAD}:sns:${{AWS::Region}}:${{AWS::AccountId}}:${{NotificationTopic.TopicName}}"
    ),
}
_ARN_HEAD = re.compile(r"^arn:\$\{AWS::Partition\}:[a-z0-9-]+:(\$\{AWS::Region\})?:(\$\{AWS::AccountId\})?:")


def canonical(resource: str) -> str:
    """One spelling per ARN: ``${DataBucket.Arn}/x`` and ``arn:...:s3:::${DataBucket}/x`` compare equal."""
    for short, full in _CANONICAL.items():
        if resource == short or resource.startswith(short + "/"):
            return full + resource[len(short) :]
    return resource


def local_part(resource: str) -> str:
    """The resource part of an ARN in canonical spelling: ``${DataBucket}/profiles/*``,
    ``table/${StateTable}``, ``hyper-parameter-tuning-job/${JobPrefix}-*``."""
    return _ARN_HEAD.sub("", canonical(resource))


ARN_HEAD = r"arn:\$\{AWS::Partition\}:sagemaker:\$\{AWS::Region\}:\$\{AWS::AccountId\}:"
SAGEMAKER_JOB_ARN = re.compile(
    ARN_HEAD
    + r"(hyper-parameter-tuning-job|training-job|model-package-group|model-package"
    + r"|endpoint|endpoint-config|model)/\$\{JobPrefix\}-\*"
)
