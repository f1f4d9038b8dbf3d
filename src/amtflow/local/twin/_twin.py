"""The local twin: the SAM application deployed into moto, its Lambda code run in-process."""

from __future__ import annotations

import contextlib
import copy
import io
import itertools
import json
import logging
import queue
import random
import tempfile
import threading
import time
import uuid
import zipfile
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager, ExitStack, contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from pathlib import Path
from typing import Any
from unittest import mock

import boto3

from amtflow import clients
from amtflow.errors import AmtflowError, InvalidInputError, NotFoundError
from amtflow.local.twin._events import envelope, iso_time, normalise_event, target_input
from amtflow.local.twin._patterns import matches
from amtflow.local.twin._runtime import DeployedFunction, FunctionRuntime, Invocation
from amtflow.local.twin._schedules import ManualClock, Schedule, parse_schedule
from amtflow.local.twin._template import ARTIFACT_BUCKET, CompiledProject, TwinDeployError, compile_project

log = logging.getLogger(__name__)

EventSink = Callable[[Mapping[str, Any]], None]
SageMakerFactory = Callable[[EventSink], AbstractContextManager[object]]
"""Builds the SageMaker side given the twin's event sink (a PutEvents entry goes in)."""

# One twin per process: twins would share moto's in-memory backends (and os.environ).
_RUNNING = threading.Lock()

# Lambda retries a failed asynchronous invocation twice unless an EventInvokeConfig says otherwise.
_DEFAULT_ASYNC_RETRIES = 2

_MOTO_CONFIG = {
    "stepfunctions": {"execute_state_machine": True},
    "lambda": {"use_docker": False},
    "core": {"reset_boto3_session": True},
}


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


@dataclass(frozen=True)
class _TimedSchedule:
    name: str
    schedule: Schedule
    anchor: datetime
    fire: Callable[[datetime], None]


class Twin:
    """A running twin; build one with :meth:`Twin.start`."""

    def __init__(
        self,
        project: CompiledProject,
        *,
        session: boto3.session.Session,
        clock: ManualClock,
        rng: random.Random,
        region: str,
        stack_name: str,
        work_dir: Path,
        environment: Mapping[str, str],
    ) -> None:
        self._project = project
        self._environment_overrides = dict(environment)
        self._session = session
        self._clock = clock
        self._rng = rng
        self._region = region
        self._stack_name = stack_name
        self.work_dir = work_dir
        self._clients: dict[str, Any] = {}
        self._clients_lock = threading.Lock()
        self._resources: dict[str, tuple[str, str]] = {}
        self.outputs: dict[str, str] = {}
        self.account = "123456789012"
        self._queue: queue.Queue[Callable[[], None] | None] = queue.Queue()
        self._errors: list[str] = []
        self._errors_lock = threading.Lock()
        self._notifications: list[Notification] = []
        self._notification_queues: dict[str, str] = {}
        self._schedules: list[_TimedSchedule] = []
        self._sequence = itertools.count(1)
        self._runtime: FunctionRuntime | None = None
        self._dispatcher: threading.Thread | None = None

    # ------------------------------------------------------------------ start-up

    @classmethod
    @contextmanager
    def start(
        cls,
        project_root: str | Path,
        *,
        template: str = "template.yaml",
        sagemaker: SageMakerFactory | None = None,
        clock: ManualClock | None = None,
        parameters: Mapping[str, str] | None = None,
        region: str = "us-east-1",
        stack_name: str = "amtflow",
        work_dir: str | Path | None = None,
        engine_options: Mapping[str, Any] | None = None,
        seed: int | None = None,
        environment: Mapping[str, str] | None = None,
        session: boto3.session.Session | None = None,
        asl_time_scale: float = 0.01,
    ) -> Iterator[Twin]:
        """Deploy the project at ``project_root`` and yield the running twin; tear everything down on exit.

        ``sagemaker`` builds the SageMaker side from the twin's event sink; by default the local AMT engine
        (``amtflow.local.sagemaker(state_dir=..., event_sink=..., **engine_options)``). ``environment`` is
        laid over every function's environment (e.g. ``{"POWERTOOLS_LOG_LEVEL": "WARNING"}``). The twin's
        own clients (``twin.client(...)``) come from ``session`` (default: moto's fake credentials).
        ``asl_time_scale`` scales the state machine's own waiting (``Retry`` intervals, ``Wait`` states): at
        the default 0.01 a 300-second retry interval takes 3 seconds; 1.0 waits in real time.
        """
        if asl_time_scale < 0:
            raise InvalidInputError("asl_time_scale must be >= 0 (1.0 is real time)", field="asl_time_scale")
        from moto import mock_aws

        root = Path(project_root).resolve()
        project = compile_project(root, template=template, parameters=parameters, region=region)
        if not _RUNNING.acquire(blocking=False):
            raise TwinDeployError(
                "a twin is already running in this process; leave its 'with Twin.start(...)' block first "
                "(twins would share moto's backends)"
            )
        with ExitStack() as stack:
            stack.callback(_RUNNING.release)
            if work_dir is None:
                work_dir = stack.enter_context(tempfile.TemporaryDirectory(prefix="amtflow-twin-"))
            session = session or boto3.session.Session(
                aws_access_key_id="testing",
                aws_secret_access_key="testing",  # noqa: S106 - moto's fake credentials
                region_name=region,
            )
            twin = cls(
                project,
                session=session,
                clock=clock or ManualClock(),
                rng=random.Random(seed),  # noqa: S311 - ids, not secrets
                region=region,
                stack_name=stack_name,
                work_dir=Path(work_dir),
                environment=environment or {},
            )
            stack.enter_context(mock_aws(config=_MOTO_CONFIG))  # type: ignore[call-overload]
            clients.reset()
            stack.callback(clients.reset)
            twin._patch_moto(stack)
            _scale_asl_time(stack, asl_time_scale)
            twin._deploy(parameters or {})
            # before any other thread starts: from here on names in os.environ only change value
            assert twin._runtime is not None
            stack.enter_context(twin._runtime.pin_environment())
            twin._start_dispatcher(stack)
            factory = sagemaker or twin._default_sagemaker(engine_options or {})
            stack.enter_context(factory(twin.put_event_entry))
            stack.callback(twin._stop_executions)
            yield twin

    def _default_sagemaker(self, options: Mapping[str, Any]) -> SageMakerFactory:
        def factory(sink: EventSink) -> AbstractContextManager[object]:
            try:
                from amtflow.local.engine import sagemaker as local_sagemaker
            except ImportError as e:
                raise TwinDeployError(
                    "the local AMT engine (amtflow.local.sagemaker) is not available; pass sagemaker=... to "
                    "Twin.start to use a stand-in"
                ) from e
            state_dir = options.get("state_dir", self.work_dir / "engine")
            extra = {k: v for k, v in options.items() if k != "state_dir"}
            # trial logs reach CloudWatch Logs as on SageMaker (Evaluate reads them for the diagnosis)
            extra.setdefault("logs_client", self.client("logs"))
            return local_sagemaker(state_dir=state_dir, event_sink=sink, **extra)

        return factory

    def client(self, service: str) -> Any:
        """A boto3 client for ``service`` bound to the twin (moto); handy for assertions in tests."""
        with self._clients_lock:
            if service not in self._clients:
                self._clients[service] = self._session.client(service)  # type: ignore[call-overload]
            return self._clients[service]

    def _patch_moto(self, stack: ExitStack) -> None:
        from moto.awslambda.models import LambdaBackend
        from moto.awslambda_simple.models import LambdaSimpleBackend
        from moto.events.models import Rule
        from moto.stepfunctions.parser.asl.eval.callback.callback import CallbackEndpoint
        from moto.stepfunctions.parser.models import StepFunctionsParserBackend
        from moto.stepfunctions.responses import StepFunctionResponse

        twin = self
        original_send = Rule.send_to_targets

        originals = {LambdaSimpleBackend: LambdaSimpleBackend.invoke, LambdaBackend: LambdaBackend.invoke}

        def invoke(
            backend: Any, function_name: str, qualifier: Any, body: Any, headers: Any, response_headers: Any
        ) -> Any:
            if twin._runtime is None or twin._runtime.resolve(function_name) is None:
                backend.get_function(function_name, qualifier)  # a missing function is a 404, as in Lambda
                original = originals[
                    LambdaSimpleBackend if isinstance(backend, LambdaSimpleBackend) else LambdaBackend
                ]
                return original(backend, function_name, qualifier, body, headers, response_headers)
            return twin._on_lambda_invoke(backend, function_name, qualifier, body, headers, response_headers)

        def send_to_targets(rule: Any, event: Any, transform_input: bool = True) -> None:
            twin._on_rule_event(rule, event, transform_input, original_send)

        original_start = StepFunctionsParserBackend.start_execution

        def start_execution(backend: Any, arn: str, name: Any = None, *args: Any, **kwargs: Any) -> Any:
            # moto names an unnamed execution "None"; Step Functions generates a UUID.
            return original_start(backend, arn, name or twin._new_id(), *args, **kwargs)

        stack.enter_context(mock.patch.object(StepFunctionsParserBackend, "start_execution", start_execution))

        def send_task_failure(response: Any) -> Any:
            # moto's handler drops ``cause``; Step Functions keeps it (the Catch's $.Cause).
            from moto.core.responses import EmptyResult

            response.stepfunction_backend.send_task_failure(
                response._get_param("taskToken"),
                error=response._get_param("error"),
                cause=response._get_param("cause"),
            )
            return EmptyResult()

        stack.enter_context(mock.patch.object(StepFunctionResponse, "send_task_failure", send_task_failure))

        original_heartbeat = CallbackEndpoint.setup_heartbeat_endpoint

        def setup_heartbeat_endpoint(endpoint: Any, heartbeat_seconds: int) -> Any:
            # moto sets the heartbeat up after the task's Lambda returns; a callback that arrived before
            # (the handler's event delivered at once) would otherwise wait out the heartbeat interval.
            heartbeat: Any = original_heartbeat(endpoint, heartbeat_seconds)
            if endpoint.get_outcome() is not None:
                heartbeat.notify()
            return heartbeat

        stack.enter_context(
            mock.patch.object(CallbackEndpoint, "setup_heartbeat_endpoint", setup_heartbeat_endpoint)
        )
        stack.enter_context(mock.patch.object(LambdaSimpleBackend, "invoke", invoke))
        stack.enter_context(mock.patch.object(LambdaBackend, "invoke", invoke))
        stack.enter_context(mock.patch.object(Rule, "send_to_targets", send_to_targets))
        # moto logs every caught ASL failure at ERROR level; the twin reports failures through executions().
        stack.enter_context(_quiet_logger("moto.stepfunctions.parser"))

    def _deploy(self, parameters: Mapping[str, str]) -> None:
        s3 = self.client("s3")
        s3.create_bucket(Bucket=ARTIFACT_BUCKET)
        buf = io.BytesIO()
        with zipfile.ZipFile(buf, "w") as zf:
            zf.writestr("README.txt", "code runs in-process in the amtflow local twin\n")
        for key in self._project.artifacts:
            s3.put_object(Bucket=ARTIFACT_BUCKET, Key=key, Body=buf.getvalue())
        cfn = self.client("cloudformation")
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
                self._resources[res["LogicalResourceId"]] = (res["ResourceType"], res["PhysicalResourceId"])
        self._register_state_machines()
        self._apply_bucket_notifications()
        self._register_functions()
        self._register_rule_schedules()
        self._register_scheduler_schedules()
        self._subscribe_topics()

    def _register_state_machines(self) -> None:
        # moto's CloudFormation creates state machines in the plain backend; executions run in the ASL one.
        from moto.stepfunctions.models import stepfunctions_backends

        plain = stepfunctions_backends[self.account][self._region]
        sfn = self.client("stepfunctions")
        for logical_id, (kind, arn) in list(self._resources.items()):
            if kind != "AWS::StepFunctions::StateMachine":
                continue
            machine = plain.describe_state_machine(arn)
            try:
                sfn.create_state_machine(
                    name=machine.name, definition=machine.definition, roleArn=machine.roleArn
                )
            except Exception as e:
                raise TwinDeployError(f"{logical_id}: the state machine definition is rejected: {e}") from e

    def _sends_events(self, logical_id: str) -> bool:
        """Whether the template's bucket ``logical_id`` sends its events to EventBridge."""
        template = self._project.cloudformation["Resources"]
        config = template.get(logical_id, {}).get("Properties", {}).get("NotificationConfiguration", {})
        return config.get("EventBridgeConfiguration", {}).get("EventBridgeEnabled") in (True, "true", "True")

    def _apply_bucket_notifications(self) -> None:
        # moto's CloudFormation ignores NotificationConfiguration; S3 -> EventBridge is switched on here.
        for logical_id, (kind, name) in self._resources.items():
            if kind != "AWS::S3::Bucket":
                continue
            if self._sends_events(logical_id):
                self.client("s3").put_bucket_notification_configuration(
                    Bucket=name, NotificationConfiguration={"EventBridgeConfiguration": {}}
                )

    def _register_functions(self) -> None:
        lam = self.client("lambda")
        deployed: dict[str, DeployedFunction] = {}
        for logical_id, source in self._project.functions.items():
            name = self._resources[logical_id][1]
            config = lam.get_function_configuration(FunctionName=name)
            env = {k: str(v) for k, v in config.get("Environment", {}).get("Variables", {}).items()}
            env.update(self._environment_overrides)
            deployed[logical_id] = DeployedFunction(source, name, config["FunctionArn"], env)
        self._runtime = FunctionRuntime(
            deployed,
            region=self._region,
            now=self._clock.now,
            monotonic=time.monotonic,
            new_id=self._new_id,
            on_overrun=self._record_error,
        )

    def _register_rule_schedules(self) -> None:
        events = self.client("events")
        for logical_id, (kind, name) in self._resources.items():
            if kind != "AWS::Events::Rule":
                continue
            rule = events.describe_rule(Name=name)
            expression = rule.get("ScheduleExpression")
            if not expression or rule.get("State") != "ENABLED":
                continue
            schedule = parse_schedule(expression, field=f"{logical_id}.ScheduleExpression")
            self._schedules.append(
                _TimedSchedule(logical_id, schedule, self._clock.now(), self._rule_schedule_fire(rule))
            )

    def _rule_schedule_fire(self, rule: Mapping[str, Any]) -> Callable[[datetime], None]:
        def fire(when: datetime) -> None:
            event = envelope(
                event_id=self._new_id(),
                source="aws.events",
                detail_type="Scheduled Event",
                detail={},
                when=when,
                account=self.account,
                region=self._region,
                resources=[rule["Arn"]],
            )
            for target in self.client("events").list_targets_by_rule(Rule=rule["Name"])["Targets"]:
                self._enqueue_delivery(rule["Name"], dict(target), event)

        return fire

    def _register_scheduler_schedules(self) -> None:
        for sched in self._project.schedules:
            if not sched.enabled:
                continue
            target = self._resolve_arn(sched.target_arn, sched.logical_id)
            schedule = parse_schedule(sched.expression, field=f"{sched.logical_id}.ScheduleExpression")
            schedule_arn = (
                f"arn:aws:scheduler:{self._region}:{self.account}:schedule/default/{sched.logical_id}"
            )
            self._schedules.append(
                _TimedSchedule(
                    sched.logical_id,
                    schedule,
                    self._clock.now(),
                    self._scheduler_fire(target, sched.input, schedule_arn),
                )
            )

    def _scheduler_fire(
        self, target: str, raw_input: str | None, schedule_arn: str
    ) -> Callable[[datetime], None]:
        def fire(when: datetime) -> None:
            text = raw_input or "{}"
            for key, value in {
                "<aws.scheduler.schedule-arn>": schedule_arn,
                "<aws.scheduler.scheduled-time>": iso_time(when),
                "<aws.scheduler.execution-id>": self._new_id(),
                "<aws.scheduler.attempt-number>": "1",
            }.items():
                text = text.replace(key, value)
            payload = json.loads(text)
            self._queue.put(lambda: self._deliver(target, payload, source=f"schedule:{schedule_arn}"))

        return fire

    def _resolve_arn(self, value: Any, where: str) -> str:
        if isinstance(value, str):
            return value
        if isinstance(value, dict) and "Fn::GetAtt" in value:
            ref, attr = (
                value["Fn::GetAtt"]
                if isinstance(value["Fn::GetAtt"], list)
                else value["Fn::GetAtt"].split(".")
            )
            kind, physical = self._resources[ref]
            if kind == "AWS::Lambda::Function" and attr == "Arn":
                return f"arn:aws:lambda:{self._region}:{self.account}:function:{physical}"
            if kind == "AWS::StepFunctions::StateMachine" and attr == "Arn":
                return physical
            if kind == "AWS::SQS::Queue" and attr == "Arn":
                attributes = self.client("sqs").get_queue_attributes(
                    QueueUrl=physical, AttributeNames=["QueueArn"]
                )
                return str(attributes["Attributes"]["QueueArn"])
        if isinstance(value, dict) and "Ref" in value and value["Ref"] in self._resources:
            return self._resources[value["Ref"]][1]
        raise TwinDeployError(f"{where}: target {value!r} cannot be resolved by the twin")

    def _subscribe_topics(self) -> None:
        sqs, sns = self.client("sqs"), self.client("sns")
        for logical_id, (kind, arn) in self._resources.items():
            if kind != "AWS::SNS::Topic":
                continue
            url = sqs.create_queue(QueueName=f"amtflow-twin-subscriber-{logical_id}")["QueueUrl"]
            queue_arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"][
                "QueueArn"
            ]
            sns.subscribe(TopicArn=arn, Protocol="sqs", Endpoint=queue_arn)
            self._notification_queues[arn] = url

    # ------------------------------------------------------------------ moto hooks

    def _on_lambda_invoke(
        self, backend: Any, function_name: str, qualifier: Any, body: Any, headers: Any, response_headers: Any
    ) -> Any:
        assert self._runtime is not None
        function = self._runtime.resolve(function_name)
        assert function is not None
        payload = json.loads(body) if body else {}
        invocation_type = {k.lower(): v for k, v in dict(headers or {}).items()}.get(
            "x-amz-invocation-type", "RequestResponse"
        )
        if invocation_type == "DryRun":
            return b""
        if invocation_type == "Event":
            self._queue.put(lambda: self._invoke_async(function, payload, "invoke:Event"))
            return b""
        assert self._runtime is not None
        result, errored = self._runtime.invoke(function, payload, source="invoke")
        if errored:
            response_headers["x-amz-function-error"] = "Unhandled"
        return result

    def _on_rule_event(self, rule: Any, raw_event: Any, transform_input: bool, original: Any) -> None:
        try:
            if getattr(rule, "state", "ENABLED") != "ENABLED":
                return
            raw_pattern = rule.event_pattern.dump() if rule.event_pattern else None
            if not raw_pattern:
                return  # schedule-only rules fire on the twin's clock
            event = normalise_event(
                raw_event, new_id=self._new_id, now=self._clock.now(), sequencer=self._sequencer
            )
            if not matches(json.loads(raw_pattern), event):
                return
            ours = [t for t in rule.targets if t["Arn"].split(":")[2] in ("lambda", "states")]
            others = [t for t in rule.targets if t not in ours]
            for target in ours:
                self._enqueue_delivery(rule.name, dict(target), event)
            if others:
                shadow = copy.copy(rule)
                shadow.targets = others
                original(shadow, event, transform_input)
        except Exception as e:  # a delivery problem must never break the caller's PutEvents
            self._record_error(f"rule {getattr(rule, 'name', '?')}: {type(e).__name__}: {e}")

    # ------------------------------------------------------------------ delivery

    def _start_dispatcher(self, stack: ExitStack) -> None:
        def loop() -> None:
            while True:
                job = self._queue.get()
                try:
                    if job is None:
                        return
                    job()
                except Exception as e:
                    self._record_error(f"delivery: {type(e).__name__}: {e}")
                finally:
                    self._queue.task_done()

        self._dispatcher = threading.Thread(target=loop, name="amtflow-twin-dispatcher", daemon=True)
        self._dispatcher.start()

        def stop() -> None:
            self._queue.put(None)
            if self._dispatcher is not None:
                self._dispatcher.join(timeout=30)

        stack.callback(stop)

    def _enqueue_delivery(self, rule_name: str, target: Mapping[str, Any], event: Mapping[str, Any]) -> None:
        def job() -> None:
            payload = target_input(target, event, rule_name=rule_name)
            self._deliver(str(target["Arn"]), payload, source=f"rule:{rule_name}")

        self._queue.put(job)

    def _deliver(self, arn: str, payload: Any, *, source: str) -> None:
        service = arn.split(":")[2]
        if service == "lambda":
            assert self._runtime is not None
            function = self._runtime.resolve(arn)
            if function is None:
                raise NotFoundError(f"{source}: target function {arn} is not part of the stack")
            self._invoke_async(function, payload, source)
        elif service == "states":
            self.client("stepfunctions").start_execution(stateMachineArn=arn, input=json.dumps(payload))
        else:
            raise InvalidInputError(f"{source}: the twin cannot deliver to {arn}", field="Targets")

    def _invoke_async(self, function: DeployedFunction, payload: Any, source: str) -> None:
        """Lambda's asynchronous invocation: retries (at once, not after 1 and 2 minutes), destinations."""
        assert self._runtime is not None
        config = self._project.async_configs.get(function.source.logical_id)
        attempts = 1 + (config.maximum_retry_attempts if config else _DEFAULT_ASYNC_RETRIES)
        attempt = 0
        while True:
            attempt += 1
            result, errored = self._runtime.invoke(function, payload, source=source)
            if not errored or attempt >= attempts:
                break
        body = json.loads(result)
        if errored:
            error = f"{body.get('errorType')}: {body.get('errorMessage')}"
            self._record_error(f"{function.source.logical_id} ({source}, {attempt} attempts): {error}")
        destination = (config.on_failure if errored else config.on_success) if config else None
        if destination is not None:
            record = {
                "version": "1.0",
                "timestamp": self._clock.now().strftime("%Y-%m-%dT%H:%M:%S.000Z"),
                "requestContext": {
                    "requestId": self._new_id(),
                    "functionArn": f"{function.arn}:$LATEST",
                    "condition": "RetriesExhausted" if errored else "Success",
                    "approximateInvokeCount": attempt,
                },
                "requestPayload": payload,
                "responseContext": {
                    "statusCode": 200,
                    "executedVersion": "$LATEST",
                    **({"functionError": "Unhandled"} if errored else {}),
                },
                "responsePayload": body,
            }
            self._send_to_destination(self._resolve_arn(destination, function.source.logical_id), record)

    def _send_to_destination(self, arn: str, record: Mapping[str, Any]) -> None:
        service = arn.split(":")[2]
        if service == "sqs":
            url = self.client("sqs").get_queue_url(QueueName=arn.rsplit(":", 1)[1])["QueueUrl"]
            self.client("sqs").send_message(QueueUrl=url, MessageBody=json.dumps(record, default=str))
        elif service == "sns":
            self.client("sns").publish(TopicArn=arn, Message=json.dumps(record, default=str))
        elif service == "lambda":
            assert self._runtime is not None
            target = self._runtime.resolve(arn)
            if target is not None:
                self._queue.put(lambda: self._invoke_async(target, record, "destination"))
        elif service == "events":
            self.put_events(
                [{"Source": "lambda", "DetailType": "Lambda Function Invocation Result", "Detail": record}]
            )

    def _record_error(self, message: str) -> None:
        log.warning("twin: %s", message)
        with self._errors_lock:
            self._errors.append(message)

    def _new_id(self) -> str:
        return str(uuid.UUID(int=self._rng.getrandbits(128), version=4))

    def _sequencer(self) -> str:
        return f"{next(self._sequence):018X}"

    def _stop_executions(self) -> None:
        sfn = self.client("stepfunctions")
        for execution in self.executions():
            if execution.status is ExecutionStatus.RUNNING:
                with contextlib.suppress(Exception):
                    sfn.stop_execution(executionArn=execution.arn, cause="local twin stopped")

    # ------------------------------------------------------------------ public API

    def physical_id(self, logical_id: str) -> str:
        """The physical id (name, ARN or URL, as CloudFormation's ``Ref``) of a stack resource."""
        if logical_id not in self._resources:
            raise NotFoundError(
                f"no resource {logical_id!r} in the stack; known: {', '.join(sorted(self._resources))}"
            )
        return self._resources[logical_id][1]

    def resources(self, resource_type: str) -> dict[str, str]:
        """Logical id → physical id of every resource of ``resource_type`` (e.g. ``AWS::S3::Bucket``)."""
        return {k: p for k, (t, p) in self._resources.items() if t == resource_type}

    def function_environment(self, function: str) -> dict[str, str]:
        """The environment a function's handler runs with (resolved from the stack, plus overrides)."""
        deployed = self._runtime.resolve(function) if self._runtime else None
        if deployed is None:
            raise NotFoundError(
                f"no function {function!r} in the stack; known: {', '.join(self._project.functions)}"
            )
        return dict(deployed.environment)

    def _only(
        self, resource_type: str, given: str | None, what: str, prefer: Callable[[str], bool] | None = None
    ) -> str:
        if given is not None:
            return self._resources[given][1] if given in self._resources else given
        found = self.resources(resource_type)
        if len(found) > 1 and prefer is not None:
            preferred = {k: v for k, v in found.items() if prefer(k)}
            found = preferred if len(preferred) == 1 else found
        if len(found) != 1:
            raise InvalidInputError(
                f"the stack has {len(found)} {what}s ({', '.join(sorted(found)) or 'none'}); name one",
                field=what,
            )
        return next(iter(found.values()))

    def put_object(self, key: str, body: bytes | str, *, bucket: str | None = None) -> None:
        """Put an object (into the stack's only bucket, or its only bucket that sends events to EventBridge,
        unless ``bucket`` names one); S3 events follow."""
        name = self._only("AWS::S3::Bucket", bucket, "bucket", prefer=self._sends_events)
        data = body.encode("utf-8") if isinstance(body, str) else body
        self.client("s3").put_object(Bucket=name, Key=key, Body=data)

    def start_execution(
        self, input: Any, *, name: str | None = None, state_machine: str | None = None
    ) -> str:
        """Start an execution as a console user would; returns its ARN."""
        arn = self._only("AWS::StepFunctions::StateMachine", state_machine, "state machine")
        kwargs: dict[str, Any] = {"stateMachineArn": arn, "input": json.dumps(input)}
        if name:
            kwargs["name"] = name
        return str(self.client("stepfunctions").start_execution(**kwargs)["executionArn"])

    def invoke(self, function: str, event: Any) -> Any:
        """Invoke a function (logical id, name or ARN); its result, or :class:`FunctionError` if it fails."""
        assert self._runtime is not None
        deployed = self._runtime.resolve(function)
        if deployed is None:
            raise NotFoundError(
                f"no function {function!r} in the stack; known: {', '.join(self._project.functions)}"
            )
        result, errored = self._runtime.invoke(deployed, event, source="twin.invoke")
        body = json.loads(result)
        if errored:
            raise FunctionError(body["errorType"], body["errorMessage"])
        return body

    def put_events(self, entries: Sequence[Mapping[str, Any]]) -> list[str]:
        """Put events on the default bus (EventBridge ``PutEvents`` entries); returns their ids."""
        ids: list[str] = []
        events = self.client("events")
        for start in range(0, len(entries), 10):
            chunk = [self._entry(e) for e in entries[start : start + 10]]
            response = events.put_events(Entries=chunk)
            for entry in response["Entries"]:
                if "EventId" not in entry:
                    raise InvalidInputError(
                        f"PutEvents rejected an entry: {entry.get('ErrorCode')}: {entry.get('ErrorMessage')}",
                        field="Entries",
                    )
                ids.append(entry["EventId"])
        return ids

    def put_event_entry(self, entry: Mapping[str, Any]) -> None:
        """The event sink handed to the SageMaker side: one PutEvents entry."""
        self.put_events([entry])

    def _entry(self, entry: Mapping[str, Any]) -> dict[str, Any]:
        out = dict(entry)
        if not isinstance(out.get("Detail"), str):
            out["Detail"] = json.dumps(out.get("Detail", {}), default=str)
        out.setdefault("Time", self._clock.now())
        return out

    def advance(self, seconds: float, *, wait: bool = True, timeout: float = 120.0) -> list[str]:
        """Move the clock forward, firing every schedule due on the way; returns what fired, in order.

        With ``wait`` the call returns once the deliveries (and the executions they started) are done.
        """
        if seconds < 0:
            raise InvalidInputError("advance: seconds must be >= 0", field="seconds")
        start = self._clock.now()
        end = start + timedelta(seconds=seconds)
        due = sorted(
            ((t, s) for s in self._schedules for t in s.schedule.fire_times(s.anchor, start, end)),
            key=lambda pair: pair[0],
        )
        fired: list[str] = []
        for when, sched in due:
            self._clock.set(when)
            sched.fire(when)
            fired.append(f"{iso_time(when)} {sched.name}")
            if wait:
                self.wait_idle(timeout=timeout)
        self._clock.set(end)
        if wait:
            self.wait_for_executions(timeout=timeout)
        return fired

    def now(self) -> datetime:
        """The twin's clock."""
        return self._clock.now()

    def pending_deliveries(self) -> int:
        """Deliveries (rule targets, schedules, asynchronous invocations) queued or running."""
        return int(self._queue.unfinished_tasks)

    def is_idle(self) -> bool:
        """No delivery is queued and no execution runs (a snapshot; see :meth:`wait_for_executions`)."""
        if self._queue.unfinished_tasks:
            return False
        return not self._running()

    def _running(self) -> list[str]:
        """ARNs of the running executions (one cheap call per state machine: waiting loops poll this)."""
        sfn = self.client("stepfunctions")
        return [
            item["executionArn"]
            for arn in self.resources("AWS::StepFunctions::StateMachine").values()
            for item in sfn.list_executions(stateMachineArn=arn, statusFilter="RUNNING")["executions"]
        ]

    def wait_idle(self, timeout: float = 60.0) -> None:
        """Wait until every queued delivery has run."""
        deadline = time.monotonic() + timeout
        while self._queue.unfinished_tasks:
            if time.monotonic() > deadline:
                raise TwinTimeoutError(
                    f"{self._queue.unfinished_tasks} deliveries still queued after {timeout}s"
                )
            time.sleep(0.02)

    def wait_for_executions(self, timeout: float = 120.0) -> list[Execution]:
        """Wait until no delivery is queued and no execution runs; return every execution, oldest first."""
        deadline = time.monotonic() + timeout
        while True:
            self.wait_idle(timeout=max(0.1, deadline - time.monotonic()))
            running = self._running()
            if not running and not self._queue.unfinished_tasks:
                return self.executions()
            if time.monotonic() > deadline:
                described = [self._execution(arn) for arn in running]
                names = ", ".join(f"{e.name} (at {e.states[-1] if e.states else 'start'})" for e in described)
                raise TwinTimeoutError(f"executions still running after {timeout}s: {names}")
            time.sleep(0.05)

    def executions(self) -> list[Execution]:
        """Every execution of the stack's state machines, oldest first."""
        sfn = self.client("stepfunctions")
        found: list[Execution] = []
        for arn in self.resources("AWS::StepFunctions::StateMachine").values():
            for item in sfn.list_executions(stateMachineArn=arn)["executions"]:
                found.append(self._execution(item["executionArn"]))
        return sorted(found, key=lambda e: e.started)

    def _execution(self, arn: str) -> Execution:
        sfn = self.client("stepfunctions")
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

    def notifications(self) -> list[Notification]:
        """Every message published to the stack's SNS topics so far, as a subscriber received it."""
        sqs = self.client("sqs")
        for url in self._notification_queues.values():
            while True:
                messages = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", [])
                if not messages:
                    break
                for m in messages:
                    body = json.loads(m["Body"])
                    self._notifications.append(
                        Notification(
                            topic_arn=body.get("TopicArn", ""),
                            subject=body.get("Subject"),
                            message=body.get("Message", ""),
                            attributes={
                                k: v.get("Value", "") for k, v in body.get("MessageAttributes", {}).items()
                            },
                            timestamp=body.get("Timestamp", ""),
                        )
                    )
                    sqs.delete_message(QueueUrl=url, ReceiptHandle=m["ReceiptHandle"])
        return list(self._notifications)

    def invocations(self) -> list[Invocation]:
        """Every Lambda invocation the twin ran, in order."""
        return self._runtime.invocations() if self._runtime else []

    def errors(self) -> list[str]:
        """Asynchronous failures: handler errors of event-driven invocations, undeliverable events."""
        with self._errors_lock:
            return list(self._errors)


def _maybe_json(text: str | None) -> Any:
    if text is None:
        return None
    try:
        return json.loads(text)
    except ValueError:
        return text


def _scale_asl_time(stack: ExitStack, scale: float) -> None:
    """Make moto's ASL interpreter wait ``scale`` times the time the definition asks for."""
    import types

    from moto.stepfunctions.parser.asl.component.common.retry import retrier_decl
    from moto.stepfunctions.parser.asl.component.state.wait.wait_function.wait_function import WaitFunction

    def sleep(seconds: float) -> None:
        time.sleep(max(0.0, seconds) * scale)

    def wait_interval(self: Any, env: Any, wait_seconds: int) -> None:
        if wait_seconds > 0:
            env.program_state_event.wait(wait_seconds * scale)  # returns early when the execution stops

    stack.enter_context(mock.patch.object(retrier_decl, "time", types.SimpleNamespace(sleep=sleep)))
    stack.enter_context(mock.patch.object(WaitFunction, "_wait_interval", wait_interval))


@contextmanager
def _quiet_logger(name: str, level: int = logging.CRITICAL) -> Iterator[None]:
    target = logging.getLogger(name)
    previous = target.level
    target.setLevel(level)
    try:
        yield
    finally:
        target.setLevel(previous)


@contextmanager
def warnings_silenced() -> Iterator[None]:
    import warnings

    with _quiet_logger("moto.cloudformation.parsing", logging.ERROR), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        yield
