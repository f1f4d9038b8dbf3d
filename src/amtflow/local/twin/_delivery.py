"""Deliveries: what EventBridge, Scheduler and Lambda's asynchronous invocation do, on one queue.

Rule targets, schedule firings and asynchronous invocations are queued and run one after another by a
dispatcher thread; an asynchronous invocation is retried as Lambda does (at once, not after one and two
minutes) and its record goes to the function's destination. Failures never reach the caller: they are
listed by :meth:`Deliveries.errors`.
"""

from __future__ import annotations

import json
import logging
import queue
import threading
from collections.abc import Callable, Mapping, Sequence
from contextlib import ExitStack, nullcontext
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from amtflow.errors import ConfigurationError, InvalidInputError, NotFoundError
from amtflow.local.twin import _moto_seam
from amtflow.local.twin._events import envelope, iso_time, normalise_event, target_input
from amtflow.local.twin._iam import Principal, Request, denied_message
from amtflow.local.twin._iam_enforce import Enforcer
from amtflow.local.twin._patterns import matches
from amtflow.local.twin._runtime import DeployedFunction, FunctionRuntime
from amtflow.local.twin._schedules import Clock, Schedule, parse_schedule
from amtflow.local.twin._template import AsyncInvokeConfig, SchedulerSchedule

log = logging.getLogger("amtflow.local.twin._twin")

# Lambda retries a failed asynchronous invocation twice unless an EventInvokeConfig says otherwise.
_DEFAULT_ASYNC_RETRIES = 2

RuleDelivery = Callable[[str, Mapping[str, Any], Mapping[str, Any]], None]
"""``(rule_name, target, event)``: queue one delivery of a rule's target."""


class Deliveries:
    """The twin's delivery queue, its dispatcher and the errors of what it delivered."""

    def __init__(
        self,
        *,
        client: Callable[[str], Any],
        clock: Clock,
        new_id: Callable[[], str],
        sequencer: Callable[[], str],
        async_configs: Mapping[str, AsyncInvokeConfig],
        resolve_arn: Callable[[Any, str], str],
        put_events: Callable[[Sequence[Mapping[str, Any]]], list[str]],
        enqueue_rule_delivery: RuleDelivery,
    ) -> None:
        self._client = client
        self._clock = clock
        self._new_id = new_id
        self._sequencer = sequencer
        self._async_configs = async_configs
        self._resolve_arn = resolve_arn
        self._put_events = put_events
        self._enqueue_rule_delivery = enqueue_rule_delivery
        self.runtime: FunctionRuntime | None = None
        #: IAM: rules invoke functions under their resource policies, rule targets and destinations act as
        #: their roles (None: not enforced)
        self.enforcer: Enforcer | None = None
        self.queue: queue.Queue[Callable[[], None] | None] = queue.Queue()
        self._errors: list[str] = []
        self._errors_lock = threading.Lock()
        self._dispatcher: threading.Thread | None = None

    def start(self, stack: ExitStack) -> None:
        """Run queued deliveries on a dispatcher thread until ``stack`` closes."""

        def loop() -> None:
            while True:
                job = self.queue.get()
                try:
                    if job is None:
                        return
                    job()
                except Exception as e:
                    self.record_error(f"delivery: {type(e).__name__}: {e}")
                finally:
                    self.queue.task_done()

        self._dispatcher = threading.Thread(target=loop, name="amtflow-twin-dispatcher", daemon=True)
        self._dispatcher.start()

        def stop() -> None:
            self.queue.put(None)
            if self._dispatcher is not None:
                self._dispatcher.join(timeout=30)

        stack.callback(stop)

    def record_error(self, message: str) -> None:
        log.warning("twin: %s", message)
        with self._errors_lock:
            self._errors.append(message)

    def errors(self) -> list[str]:
        with self._errors_lock:
            return list(self._errors)

    # ------------------------------------------------------------------ what moto hands over

    def serves(self, function_name: str) -> bool:
        """Whether ``function_name`` is a function of the stack (run by the twin, not by moto)."""
        return self.runtime is not None and self.runtime.resolve(function_name) is not None

    def on_lambda_invoke(
        self, backend: Any, function_name: str, qualifier: Any, body: Any, headers: Any, response_headers: Any
    ) -> Any:
        assert self.runtime is not None
        function = self.runtime.resolve(function_name)
        assert function is not None
        payload = json.loads(body) if body else {}
        invocation_type = {k.lower(): v for k, v in dict(headers or {}).items()}.get(
            "x-amz-invocation-type", "RequestResponse"
        )
        if invocation_type == "DryRun":
            return b""
        if invocation_type == "Event":
            self.queue.put(lambda: self.invoke_async(function, payload, "invoke:Event"))
            return b""
        result, errored = self.runtime.invoke(function, payload, source="invoke")
        if errored:
            response_headers["x-amz-function-error"] = "Unhandled"
        return result

    def on_rule_event(self, rule: Any, raw_event: Any, transform_input: bool, original: Any) -> None:
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
                self._enqueue_rule_delivery(rule.name, dict(target), event)
            if others:
                original(_moto_seam.only_targets(rule, others), event, transform_input)
        except Exception as e:  # a delivery problem must never break the caller's PutEvents
            self.record_error(f"rule {getattr(rule, 'name', '?')}: {type(e).__name__}: {e}")

    # ------------------------------------------------------------------ delivery

    def rule_job(
        self, rule_name: str, target: Mapping[str, Any], event: Mapping[str, Any]
    ) -> Callable[[], None]:
        """The job delivering ``event`` to one target of rule ``rule_name``."""

        def job() -> None:
            payload = target_input(target, event, rule_name=rule_name)
            arn = str(target["Arn"])
            if self.enforcer is not None and arn.split(":")[2] == "states":
                self.deliver_as(target.get("RoleArn"), arn, payload, source=f"rule:{rule_name}")
                return
            if self.enforcer is not None and arn.split(":")[2] == "lambda":
                parts = arn.split(":")
                rule_arn = f"arn:aws:events:{parts[3]}:{parts[4]}:rule/{rule_name}"
                self._authorize(
                    Principal.aws_service("events.amazonaws.com", source_arn=rule_arn),
                    Request("lambda:InvokeFunction", ":".join(parts[:7])),
                    f"rule {rule_name}",
                )
            self.deliver(arn, payload, source=f"rule:{rule_name}")

        return job

    def _authorize(self, principal: Principal, request: Request, who: str) -> None:
        assert self.enforcer is not None
        decision = self.enforcer.decide(principal, request, "lambda.Invoke")
        if not decision.allowed:
            raise ConfigurationError(f"{who}: {denied_message(principal, request, decision)}")

    def deliver_as(self, role_arn: str | None, arn: str, payload: Any, *, source: str) -> None:
        """Deliver as the target's role (a rule's state-machine target, a Scheduler schedule's target)."""
        if self.enforcer is None:
            self.deliver(arn, payload, source=source)
            return
        if not role_arn:
            raise ConfigurationError(f"{source}: the target {arn} has no RoleArn; the service needs one")
        principal = self.enforcer.role_principal(role_arn, source.rsplit("/", 1)[-1].split(":")[-1][-64:])
        if arn.split(":")[2] == "lambda":
            self._authorize(principal, Request("lambda:InvokeFunction", ":".join(arn.split(":")[:7])), source)
        with self.enforcer.acting_as(principal):
            self.deliver(arn, payload, source=source)

    def deliver(self, arn: str, payload: Any, *, source: str) -> None:
        service = arn.split(":")[2]
        if service == "lambda":
            assert self.runtime is not None
            function = self.runtime.resolve(arn)
            if function is None:
                raise NotFoundError(f"{source}: target function {arn} is not part of the stack")
            self.invoke_async(function, payload, source)
        elif service == "states":
            self._client("stepfunctions").start_execution(stateMachineArn=arn, input=json.dumps(payload))
        else:
            raise InvalidInputError(f"{source}: the twin cannot deliver to {arn}", field="Targets")

    def invoke_async(self, function: DeployedFunction, payload: Any, source: str) -> None:
        """Lambda's asynchronous invocation: retries (at once, not after 1 and 2 minutes), destinations."""
        assert self.runtime is not None
        config = self._async_configs.get(function.source.logical_id)
        attempts = 1 + (config.maximum_retry_attempts if config else _DEFAULT_ASYNC_RETRIES)
        attempt = 0
        while True:
            attempt += 1
            result, errored = self.runtime.invoke(function, payload, source=source)
            if not errored or attempt >= attempts:
                break
        body = json.loads(result)
        if errored:
            error = f"{body.get('errorType')}: {body.get('errorMessage')}"
            self.record_error(f"{function.source.logical_id} ({source}, {attempt} attempts): {error}")
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
            arn = self._resolve_arn(destination, function.source.logical_id)
            url = (
                self._client("sqs").get_queue_url(QueueName=arn.rsplit(":", 1)[1])["QueueUrl"]
                if arn.split(":")[2] == "sqs"
                else ""
            )
            # Lambda sends to the destination with the function's execution role
            scope = (
                self.enforcer.acting_as(self.enforcer.role_principal(function.role_arn, function.name))
                if self.enforcer is not None and function.role_arn
                else nullcontext()
            )
            with scope:
                self._send_to_destination(arn, record, url)

    def _send_to_destination(self, arn: str, record: Mapping[str, Any], queue_url: str) -> None:
        service = arn.split(":")[2]
        if service == "sqs":
            self._client("sqs").send_message(QueueUrl=queue_url, MessageBody=json.dumps(record, default=str))
        elif service == "sns":
            self._client("sns").publish(TopicArn=arn, Message=json.dumps(record, default=str))
        elif service == "lambda":
            assert self.runtime is not None
            target = self.runtime.resolve(arn)
            if target is not None:
                if self.enforcer is not None:
                    self._authorize(
                        self.enforcer.current() or Principal.aws_service("lambda.amazonaws.com"),
                        Request("lambda:InvokeFunction", target.arn),
                        "destination",
                    )
                self.queue.put(lambda: self.invoke_async(target, record, "destination"))
        elif service == "events":
            self._put_events(
                [{"Source": "lambda", "DetailType": "Lambda Function Invocation Result", "Detail": record}]
            )


@dataclass(frozen=True)
class TimedSchedule:
    name: str
    schedule: Schedule
    anchor: datetime
    fire: Callable[[datetime], None]


class Timetable:
    """The stack's schedules (rule ``ScheduleExpression``\\ s, Scheduler schedules) on the twin's clock."""

    def __init__(
        self,
        deliveries: Deliveries,
        *,
        client: Callable[[str], Any],
        clock: Clock,
        new_id: Callable[[], str],
        enqueue_rule_delivery: RuleDelivery,
        region: str,
        account: str,
    ) -> None:
        self._deliveries = deliveries
        self._client = client
        self._clock = clock
        self._new_id = new_id
        self._enqueue_rule_delivery = enqueue_rule_delivery
        self._region = region
        self._account = account
        self._schedules: list[TimedSchedule] = []

    def due(self, start: datetime, end: datetime) -> list[tuple[datetime, TimedSchedule]]:
        """Every firing in ``(start, end]`` as the schedules define it, in time order."""
        return sorted(
            ((t, s) for s in self._schedules for t in s.schedule.fire_times(s.anchor, start, end)),
            key=lambda pair: pair[0],
        )

    def add_rule_schedules(self, rules: Mapping[str, str]) -> None:
        """Every enabled rule (logical id → name) with a ``ScheduleExpression``."""
        events = self._client("events")
        for logical_id, name in rules.items():
            rule = events.describe_rule(Name=name)
            expression = rule.get("ScheduleExpression")
            if not expression or rule.get("State") != "ENABLED":
                continue
            schedule = parse_schedule(expression, field=f"{logical_id}.ScheduleExpression")
            self._schedules.append(
                TimedSchedule(logical_id, schedule, self._clock.now(), self._rule_fire(rule))
            )

    def _rule_fire(self, rule: Mapping[str, Any]) -> Callable[[datetime], None]:
        def fire(when: datetime) -> None:
            event = envelope(
                event_id=self._new_id(),
                source="aws.events",
                detail_type="Scheduled Event",
                detail={},
                when=when,
                account=self._account,
                region=self._region,
                resources=[rule["Arn"]],
            )
            for target in self._client("events").list_targets_by_rule(Rule=rule["Name"])["Targets"]:
                self._enqueue_rule_delivery(rule["Name"], dict(target), event)

        return fire

    def add_scheduler_schedules(
        self, schedules: Sequence[SchedulerSchedule], resolve_arn: Callable[[Any, str], str]
    ) -> None:
        """Every enabled ``AWS::Scheduler::Schedule`` of the template."""
        for sched in schedules:
            if not sched.enabled:
                continue
            target = resolve_arn(sched.target_arn, sched.logical_id)
            schedule = parse_schedule(sched.expression, field=f"{sched.logical_id}.ScheduleExpression")
            role = resolve_arn(sched.role_arn, sched.logical_id) if sched.role_arn else None
            schedule_arn = (
                f"arn:aws:scheduler:{self._region}:{self._account}:schedule/default/{sched.logical_id}"
            )
            self._schedules.append(
                TimedSchedule(
                    sched.logical_id,
                    schedule,
                    self._clock.now(),
                    self._scheduler_fire(target, sched.input, schedule_arn, role),
                )
            )

    def _scheduler_fire(
        self, target: str, raw_input: str | None, schedule_arn: str, role_arn: str | None
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
            deliveries = self._deliveries
            deliveries.queue.put(
                lambda: deliveries.deliver_as(role_arn, target, payload, source=f"schedule:{schedule_arn}")
            )

        return fire
