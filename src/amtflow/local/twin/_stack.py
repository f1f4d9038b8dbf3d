"""The project's stack in moto: deployed through CloudFormation, then completed where moto stops short."""

from __future__ import annotations

import io
import json
import zipfile
from collections.abc import Callable, Mapping
from typing import Any

from amtflow.errors import NotFoundError
from amtflow.local.twin import _moto_seam
from amtflow.local.twin._iam_policies import StackPolicies, load_stack_policies
from amtflow.local.twin._moto_quiet import warnings_silenced
from amtflow.local.twin._records import Notification, read_notification
from amtflow.local.twin._runtime import DeployedFunction
from amtflow.local.twin._template import ARTIFACT_BUCKET, CompiledProject, TwinDeployError


class DeployedStack:
    """The stack's resources (logical id → type and physical id), outputs and SNS subscribers."""

    def __init__(
        self,
        project: CompiledProject,
        client: Callable[[str], Any],
        *,
        stack_name: str,
        region: str,
        account: str,
    ) -> None:
        self._project = project
        self._client = client
        self._stack_name = stack_name
        self._region = region
        self._account = account
        self.resources: dict[str, tuple[str, str]] = {}
        self.outputs: dict[str, str] = {}
        self._notification_queues: dict[str, str] = {}
        self._notifications: list[Notification] = []

    def deploy(self, parameters: Mapping[str, str]) -> None:
        """Create the stack; read its outputs and resources; run its state machines; send its S3 events."""
        s3 = self._client("s3")
        s3.create_bucket(Bucket=ARTIFACT_BUCKET)
        buf = io.BytesIO()
        with zipfile.ZipFile(buf, "w") as zf:
            zf.writestr("README.txt", "code runs in-process in the amtflow local twin\n")
        for key in self._project.artifacts:
            s3.put_object(Bucket=ARTIFACT_BUCKET, Key=key, Body=buf.getvalue())
        cfn = self._client("cloudformation")
        with warnings_silenced():
            cfn.create_stack(
                StackName=self._stack_name,
                TemplateBody=json.dumps(self._project.cloudformation),
                Parameters=[{"ParameterKey": k, "ParameterValue": v} for k, v in parameters.items()],
                Capabilities=["CAPABILITY_IAM", "CAPABILITY_NAMED_IAM", "CAPABILITY_AUTO_EXPAND"],
            )
        described = cfn.describe_stacks(StackName=self._stack_name)["Stacks"][0]
        if described["StackStatus"] != "CREATE_COMPLETE":
            reasons = [
                f"{e.get('LogicalResourceId')}: {e.get('ResourceStatusReason')}"
                for e in cfn.describe_stack_events(StackName=self._stack_name)["StackEvents"]
                if "FAILED" in e.get("ResourceStatus", "")
            ]
            raise TwinDeployError(
                f"stack {self._stack_name} is {described['StackStatus']}: {'; '.join(reasons)}"
            )
        self.outputs = {o["OutputKey"]: o["OutputValue"] for o in described.get("Outputs", [])}
        for res in cfn.describe_stack_resources(StackName=self._stack_name)["StackResources"]:
            if "LogicalResourceId" in res and res.get("PhysicalResourceId"):
                self.resources[res["LogicalResourceId"]] = (res["ResourceType"], res["PhysicalResourceId"])
        self._register_state_machines()
        self._apply_bucket_notifications()

    def of_type(self, resource_type: str) -> dict[str, str]:
        """Logical id → physical id of every resource of ``resource_type``."""
        return {k: p for k, (t, p) in self.resources.items() if t == resource_type}

    def physical_id(self, logical_id: str) -> str:
        if logical_id not in self.resources:
            raise NotFoundError(
                f"no resource {logical_id!r} in the stack; known: {', '.join(sorted(self.resources))}"
            )
        return self.resources[logical_id][1]

    def _register_state_machines(self) -> None:
        sfn = self._client("stepfunctions")
        for logical_id, (kind, arn) in list(self.resources.items()):
            if kind != "AWS::StepFunctions::StateMachine":
                continue
            name, definition, role_arn = _moto_seam.plain_state_machine(self._account, self._region, arn)
            try:
                sfn.create_state_machine(name=name, definition=definition, roleArn=role_arn)
            except Exception as e:
                raise TwinDeployError(f"{logical_id}: the state machine definition is rejected: {e}") from e

    def sends_events(self, logical_id: str) -> bool:
        """Whether the template's bucket ``logical_id`` sends its events to EventBridge."""
        template = self._project.cloudformation["Resources"]
        config = template.get(logical_id, {}).get("Properties", {}).get("NotificationConfiguration", {})
        return config.get("EventBridgeConfiguration", {}).get("EventBridgeEnabled") in (True, "true", "True")

    def _apply_bucket_notifications(self) -> None:
        # moto's CloudFormation ignores NotificationConfiguration; S3 -> EventBridge is switched on here.
        for logical_id, (kind, name) in self.resources.items():
            if kind != "AWS::S3::Bucket":
                continue
            if self.sends_events(logical_id):
                self._client("s3").put_bucket_notification_configuration(
                    Bucket=name, NotificationConfiguration={"EventBridgeConfiguration": {}}
                )

    def functions(self, overrides: Mapping[str, str]) -> dict[str, DeployedFunction]:
        """Every function of the project, with its environment as deployed and ``overrides`` laid over it."""
        lam = self._client("lambda")
        deployed: dict[str, DeployedFunction] = {}
        for logical_id, source in self._project.functions.items():
            name = self.resources[logical_id][1]
            config = lam.get_function_configuration(FunctionName=name)
            env = {k: str(v) for k, v in config.get("Environment", {}).get("Variables", {}).items()}
            env.update(overrides)
            deployed[logical_id] = DeployedFunction(
                source, name, config["FunctionArn"], env, role_arn=str(config.get("Role", ""))
            )
        return deployed

    def iam_policies(self) -> StackPolicies:
        """The stack's roles' policies and its functions' resource policies, resolved as deployed."""
        lam = self._client("lambda")
        function_policies: dict[str, str | None] = {}
        for logical_id in self._project.functions:
            name = self.resources[logical_id][1]
            arn = f"arn:aws:lambda:{self._region}:{self._account}:function:{name}"
            try:
                function_policies[arn] = lam.get_policy(FunctionName=name)["Policy"]
            except lam.exceptions.ResourceNotFoundException:
                function_policies[arn] = None
        return load_stack_policies(
            self._project.cloudformation,
            deployed=self.resources,
            resolve=_moto_seam.stack_resolver(self._account, self._region, self._stack_name),
            account=self._account,
            function_policies=function_policies,
        )

    def resolve_arn(self, value: Any, where: str) -> str:
        """The ARN a template value (a string, ``Fn::GetAtt ... Arn`` or ``Ref``) stands for."""
        if isinstance(value, str):
            return value
        if isinstance(value, dict) and "Fn::GetAtt" in value:
            ref, attr = (
                value["Fn::GetAtt"]
                if isinstance(value["Fn::GetAtt"], list)
                else value["Fn::GetAtt"].split(".")
            )
            kind, physical = self.resources[ref]
            if kind == "AWS::Lambda::Function" and attr == "Arn":
                return f"arn:aws:lambda:{self._region}:{self._account}:function:{physical}"
            if kind == "AWS::StepFunctions::StateMachine" and attr == "Arn":
                return physical
            if kind == "AWS::IAM::Role" and attr == "Arn":
                return f"arn:aws:iam::{self._account}:role/{physical}"
            if kind == "AWS::SQS::Queue" and attr == "Arn":
                attributes = self._client("sqs").get_queue_attributes(
                    QueueUrl=physical, AttributeNames=["QueueArn"]
                )
                return str(attributes["Attributes"]["QueueArn"])
        if isinstance(value, dict) and "Ref" in value and value["Ref"] in self.resources:
            return self.resources[value["Ref"]][1]
        raise TwinDeployError(f"{where}: target {value!r} cannot be resolved by the twin")

    def subscribe_topics(self) -> None:
        """Subscribe a queue to every SNS topic of the stack (what :meth:`notifications` reads)."""
        sqs, sns = self._client("sqs"), self._client("sns")
        for logical_id, (kind, arn) in self.resources.items():
            if kind != "AWS::SNS::Topic":
                continue
            url = sqs.create_queue(QueueName=f"amtflow-twin-subscriber-{logical_id}")["QueueUrl"]
            queue_arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"][
                "QueueArn"
            ]
            sns.subscribe(TopicArn=arn, Protocol="sqs", Endpoint=queue_arn)
            self._notification_queues[arn] = url

    def notifications(self) -> list[Notification]:
        """Every message published to the stack's SNS topics so far, as a subscriber received it."""
        sqs = self._client("sqs")
        for url in self._notification_queues.values():
            while True:
                messages = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", [])
                if not messages:
                    break
                for m in messages:
                    self._notifications.append(read_notification(json.loads(m["Body"])))
                    sqs.delete_message(QueueUrl=url, ReceiptHandle=m["ReceiptHandle"])
        return list(self._notifications)
