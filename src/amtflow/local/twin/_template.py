"""Turn a SAM project into something moto's CloudFormation can deploy, offline.

The SAM template is transformed with aws-sam-translator (a region and a small managed-policy map are all it
needs). Local paths are rewritten on the way: ``CodeUri``/``ContentUri`` point at placeholder artifacts in
a twin-owned bucket (the real code runs in-process, see :mod:`._runtime`), ``DefinitionUri`` is read into
``Definition``, and ``DefinitionSubstitutions`` are applied to the definition as ``Fn::Join`` pieces so that
moto resolves the intrinsics they hold. EventBridge Scheduler schedules (SAM ``ScheduleV2``) are taken out
of the template and served by the twin's clock.
"""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boto3

from amtflow.errors import AmtflowError

ARTIFACT_BUCKET = "amtflow-twin-artifacts"
_PLACEHOLDER = re.compile(r"\$\{([A-Za-z0-9_.:-]+)\}")

# Names SAM may resolve to managed-policy ARNs (Policies: [Name]); unknown names resolve under aws/policy.
_MANAGED_POLICIES = {
    "AWSLambdaBasicExecutionRole": "arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole",
    "AWSLambdaRole": "arn:aws:iam::aws:policy/service-role/AWSLambdaRole",
    "AWSXrayWriteOnlyAccess": "arn:aws:iam::aws:policy/AWSXrayWriteOnlyAccess",
    "AWSXRayDaemonWriteAccess": "arn:aws:iam::aws:policy/AWSXRayDaemonWriteAccess",
    "AWSLambdaSQSQueueExecutionRole": "arn:aws:iam::aws:policy/service-role/AWSLambdaSQSQueueExecutionRole",
    "AmazonSageMakerFullAccess": "arn:aws:iam::aws:policy/AmazonSageMakerFullAccess",
}


class TwinDeployError(AmtflowError):
    """The project cannot be transformed or deployed into the twin; the message names the resource."""

    error_type = "TwinDeployError"


class _PolicyMap(dict[str, str]):
    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and re.fullmatch(r"[A-Za-z0-9+=,.@_-]+", name) is not None

    def __getitem__(self, name: str) -> str:
        return _MANAGED_POLICIES.get(name, f"arn:aws:iam::aws:policy/{name}")


@dataclass(frozen=True)
class FunctionSource:
    """Where a function's code lives on disk and which callable the template names."""

    logical_id: str
    code_dir: Path
    handler: str
    timeout: int = 3
    memory_mb: int = 128

    @property
    def module(self) -> str:
        return self.handler.rsplit(".", 1)[0]

    @property
    def attribute(self) -> str:
        return self.handler.rsplit(".", 1)[1]


@dataclass(frozen=True)
class SchedulerSchedule:
    """An ``AWS::Scheduler::Schedule`` (SAM ``ScheduleV2``): fired by the twin, not deployed into moto."""

    logical_id: str
    expression: str
    target_arn: Any
    input: str | None
    enabled: bool
    role_arn: Any = None  # the target's RoleArn (a template value): the schedule acts as it


@dataclass(frozen=True)
class AsyncInvokeConfig:
    """An ``AWS::Lambda::EventInvokeConfig``: retries and destinations of asynchronous invocations."""

    function: str
    maximum_retry_attempts: int
    on_failure: Any
    on_success: Any


@dataclass
class CompiledProject:
    """The deployable CloudFormation template plus what the twin serves itself."""

    cloudformation: dict[str, Any]
    functions: dict[str, FunctionSource] = field(default_factory=dict)
    schedules: list[SchedulerSchedule] = field(default_factory=list)
    async_configs: dict[str, AsyncInvokeConfig] = field(default_factory=dict)
    artifacts: list[str] = field(default_factory=list)


def compile_project(
    project_root: Path,
    *,
    template: str = "template.yaml",
    parameters: Mapping[str, str] | None = None,
    region: str = "us-east-1",
) -> CompiledProject:
    """Read ``project_root/template`` and return what :class:`~amtflow.local.twin.Twin` deploys."""
    from samtranslator.yaml_helper import yaml_parse

    path = project_root / template
    if not path.is_file():
        raise TwinDeployError(f"no SAM template at {path}; pass the project root that holds {template}")
    try:
        sam: dict[str, Any] = yaml_parse(path.read_text(encoding="utf-8"))
    except Exception as e:
        raise TwinDeployError(f"{path} is not valid YAML: {e}") from e
    if not isinstance(sam, dict) or not isinstance(sam.get("Resources"), dict):
        raise TwinDeployError(f"{path} has no Resources section")
    sam = copy.deepcopy(sam)
    project = CompiledProject(cloudformation={})
    _rewrite_local_paths(sam, project_root, project)
    cfn = _translate(sam, dict(parameters or {}), region, path)
    _extract_schedules(cfn, project)
    _extract_async_configs(cfn, project)
    _apply_definition_substitutions(cfn)
    project.cloudformation = cfn
    return project


def _rewrite_local_paths(sam: dict[str, Any], root: Path, project: CompiledProject) -> None:
    function_globals = sam.get("Globals", {}).get("Function", {}) or {}
    global_code = function_globals.pop("CodeUri", None)
    global_handler = function_globals.get("Handler")
    global_timeout = int(function_globals.get("Timeout", 3))
    global_memory = int(function_globals.get("MemorySize", 128))
    for logical_id, resource in sam["Resources"].items():
        kind = resource.get("Type")
        props = resource.setdefault("Properties", {})
        if kind == "AWS::Serverless::Function":
            if props.get("PackageType") == "Image":
                raise TwinDeployError(
                    f"{logical_id}: PackageType Image is not supported by the local twin; use a zip function "
                    "with CodeUri and Handler"
                )
            code = props.get("CodeUri", global_code)
            handler = props.get("Handler", global_handler)
            if not isinstance(code, str) or code.startswith("s3://"):
                raise TwinDeployError(
                    f"{logical_id}: CodeUri must be a local folder for the twin to run it, got {code!r}"
                )
            if not isinstance(handler, str) or "." not in handler:
                raise TwinDeployError(
                    f"{logical_id}: Handler must look like 'module.function', got {handler!r}"
                )
            code_dir = (root / code).resolve()
            if not code_dir.is_dir():
                raise TwinDeployError(f"{logical_id}: CodeUri {code!r} is not a folder under {root}")
            project.functions[logical_id] = FunctionSource(
                logical_id,
                code_dir,
                handler,
                timeout=int(props.get("Timeout", global_timeout)),
                memory_mb=int(props.get("MemorySize", global_memory)),
            )
            props["CodeUri"] = _artifact(logical_id, project)
        elif kind == "AWS::Serverless::LayerVersion" and isinstance(props.get("ContentUri"), str):
            props["ContentUri"] = _artifact(logical_id, project)
        elif kind == "AWS::Serverless::StateMachine" and isinstance(props.get("DefinitionUri"), str):
            asl = root / props.pop("DefinitionUri")
            try:
                props["Definition"] = json.loads(asl.read_text(encoding="utf-8"))
            except (OSError, ValueError) as e:
                raise TwinDeployError(f"{logical_id}: DefinitionUri {asl} cannot be read as JSON: {e}") from e


def _artifact(logical_id: str, project: CompiledProject) -> dict[str, str]:
    key = f"{logical_id}.zip"
    project.artifacts.append(key)
    return {"Bucket": ARTIFACT_BUCKET, "Key": key}


def _translate(sam: dict[str, Any], parameters: dict[str, Any], region: str, path: Path) -> dict[str, Any]:
    from samtranslator.metrics.method_decorator import MetricsMethodWrapperSingleton
    from samtranslator.model.exceptions import InvalidDocumentException
    from samtranslator.parser.parser import Parser
    from samtranslator.translator.translator import Translator

    translator = Translator(_PolicyMap(), Parser(), boto_session=boto3.session.Session(region_name=region))
    try:
        result: dict[str, Any] = translator.translate(sam, parameter_values=parameters)
    except InvalidDocumentException as e:
        causes = "; ".join(str(c.message) for c in e.causes)
        raise TwinDeployError(f"{path} does not transform: {causes}") from e
    finally:
        # The translator records usage metrics, in its own object and in a process-wide one; their default
        # publisher drops them. Left in them, they are reported as "unpublished metrics" at the process's
        # exit: a line in the user's terminal that says nothing about their stack.
        translator.metrics.publish()
        MetricsMethodWrapperSingleton.get_instance().publish()
    return result


# Access policies that moto's CloudFormation cannot create and the twin does not enforce.
_NOT_DEPLOYED = {"AWS::SQS::QueuePolicy", "AWS::S3::BucketPolicy", "AWS::SNS::TopicPolicy"}


def _extract_schedules(cfn: dict[str, Any], project: CompiledProject) -> None:
    resources = cfn["Resources"]
    for logical_id in [k for k, v in resources.items() if v["Type"] in _NOT_DEPLOYED]:
        del resources[logical_id]
    for logical_id in [k for k, v in resources.items() if v["Type"].startswith("AWS::Scheduler::")]:
        resource = resources.pop(logical_id)
        if resource["Type"] != "AWS::Scheduler::Schedule":
            continue
        props = resource["Properties"]
        target = props.get("Target", {})
        project.schedules.append(
            SchedulerSchedule(
                logical_id=logical_id,
                expression=str(props["ScheduleExpression"]),
                target_arn=target.get("Arn"),
                input=target.get("Input"),
                enabled=props.get("State", "ENABLED") == "ENABLED",
                role_arn=target.get("RoleArn"),
            )
        )


def _extract_async_configs(cfn: dict[str, Any], project: CompiledProject) -> None:
    resources = cfn["Resources"]
    for logical_id in [k for k, v in resources.items() if v["Type"] == "AWS::Lambda::EventInvokeConfig"]:
        props = resources.pop(logical_id)["Properties"]
        target = props.get("FunctionName")
        function = target.get("Ref") if isinstance(target, dict) else target
        if not isinstance(function, str):
            raise TwinDeployError(f"{logical_id}: FunctionName must be a Ref to a function of the template")
        destinations = props.get("DestinationConfig", {})
        project.async_configs[function] = AsyncInvokeConfig(
            function=function,
            maximum_retry_attempts=int(props.get("MaximumRetryAttempts", 2)),
            on_failure=destinations.get("OnFailure", {}).get("Destination"),
            on_success=destinations.get("OnSuccess", {}).get("Destination"),
        )


def _apply_definition_substitutions(cfn: dict[str, Any]) -> None:
    for logical_id, resource in cfn["Resources"].items():
        if resource["Type"] != "AWS::StepFunctions::StateMachine":
            continue
        props = resource["Properties"]
        substitutions: dict[str, Any] = props.pop("DefinitionSubstitutions", {}) or {}
        definition = props.get("DefinitionString")
        if isinstance(definition, dict) and "Fn::Join" in definition:
            sep, pieces = definition["Fn::Join"]
            if not all(isinstance(p, str) for p in pieces):
                continue
            text = sep.join(pieces)
        elif isinstance(definition, str):
            text = definition
        else:
            continue
        missing = sorted({m.group(1) for m in _PLACEHOLDER.finditer(text)} - set(substitutions))
        if missing:
            raise TwinDeployError(
                f"{logical_id}: the definition uses {', '.join('${' + m + '}' for m in missing)} but "
                "DefinitionSubstitutions does not define them"
            )
        parts: list[Any] = []
        pos = 0
        for match in _PLACEHOLDER.finditer(text):
            parts.append(text[pos : match.start()])
            parts.append(substitutions[match.group(1)])
            pos = match.end()
        parts.append(text[pos:])
        props["DefinitionString"] = {"Fn::Join": ["", [p for p in parts if p != ""]]}
