"""The local twin: the SAM application deployed into moto, its Lambda code run in-process.

:class:`Twin` is the whole public surface; the stack (:mod:`._stack`), the deliveries and schedules
(:mod:`._delivery`), the functions' runtime (:mod:`._runtime`) and every reach into moto's internals
(:mod:`._moto_seam`) are its parts.
"""

from __future__ import annotations

import contextlib
import dataclasses
import itertools
import json
import random
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager, ExitStack, contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import boto3

from amtflow import clients
from amtflow.errors import AmtflowError, InvalidInputError, NotFoundError
from amtflow.local import _guard, packaged
from amtflow.local.twin import _iam_enforce, _moto_seam
from amtflow.local.twin._delivery import Deliveries, Timetable
from amtflow.local.twin._events import iso_time
from amtflow.local.twin._iam_actions import Site
from amtflow.local.twin._iam_enforce import Enforcer
from amtflow.local.twin._records import (
    EventSink,
    Execution,
    ExecutionStatus,
    FunctionError,
    Notification,
    SageMakerFactory,
    TwinTimeoutError,
    read_execution,
)
from amtflow.local.twin._runtime import EmittedMetric, FunctionRuntime, Invocation
from amtflow.local.twin._schedules import ManualClock
from amtflow.local.twin._stack import DeployedStack
from amtflow.local.twin._template import CompiledProject, TwinDeployError, compile_project

__all__ = [
    "EventSink",
    "Execution",
    "ExecutionStatus",
    "FunctionError",
    "Notification",
    "SageMakerFactory",
    "Twin",
    "TwinTimeoutError",
]

# One twin per process: twins would share moto's in-memory backends (and os.environ).
_RUNNING = threading.Lock()

#: While the twin runs, no AWS call of any service leaves the process: moto (or the engine) answers it, or
#: it is refused.
GUARD = _guard.Scope(
    owner="the twin (moto's in-process services and the local AMT engine)",
    covers=_guard.every_service,
    advice="Run it against AWS outside the twin, or use a service moto mocks (twin.client(...)).",
    serves=_moto_seam.serves,
)


def _use_twin_clock(stack: ExitStack, clock: ManualClock) -> None:
    """The application's functions read the twin's clock, as its events' ``time`` fields and schedules
    do: a run's timestamps, leases, budgets and figures such as DataToNotificationSeconds never mix the
    twin's time with the machine's."""
    from amtflow import wiring

    wiring.use_clock(clock.now)
    stack.callback(wiring.use_clock, None)


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
        self.work_dir = work_dir
        self._clients: dict[str, Any] = {}
        self._clients_lock = threading.Lock()
        self.account = "123456789012"
        self._sequence = itertools.count(1)
        self._runtime: FunctionRuntime | None = None
        self._imports: dict[str, packaged.PackagedImports] = {}
        #: IAM enforcement (its policies and every decision: ``twin.iam.checks()``), None when turned off
        self.iam: Enforcer | None = None
        self._stack = DeployedStack(
            project, self.client, stack_name=stack_name, region=region, account=self.account
        )
        # rule deliveries go through _enqueue_delivery, looked up at each call
        self._deliveries = Deliveries(
            client=self.client,
            clock=clock,
            new_id=self._new_id,
            sequencer=self._sequencer,
            async_configs=project.async_configs,
            resolve_arn=self._stack.resolve_arn,
            put_events=self.put_events,
            enqueue_rule_delivery=lambda rule, target, event: self._enqueue_delivery(rule, target, event),
        )
        self._timetable = Timetable(
            self._deliveries,
            client=self.client,
            clock=clock,
            new_id=self._new_id,
            enqueue_rule_delivery=lambda rule, target, event: self._enqueue_delivery(rule, target, event),
            region=region,
            account=self.account,
        )

    @property
    def outputs(self) -> dict[str, str]:
        """The stack's outputs (``OutputKey`` → ``OutputValue``)."""
        return self._stack.outputs

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
        built: bool = False,
        enforce_iam: bool = True,
    ) -> Iterator[Twin]:
        """Deploy the project at ``project_root`` and yield the running twin; tear everything down on exit.

        ``sagemaker`` builds the SageMaker side from the twin's event sink; by default the local AMT engine
        (``amtflow.local.sagemaker(state_dir=..., event_sink=..., **engine_options)``). ``environment`` is
        laid over every function's environment (e.g. ``{"POWERTOOLS_LOG_LEVEL": "WARNING"}``). The twin's
        own clients (``twin.client(...)``) come from ``session`` (default: moto's fake credentials).
        ``asl_time_scale`` scales the state machine's own waiting (``Retry`` intervals, ``Wait`` states): at
        the default 0.01 a 300-second retry interval takes 3 seconds; 1.0 waits in real time.
        ``built`` runs each function's code from ``.aws-sam/build/<LogicalId>`` (``make build``) and, while a
        handler runs, refuses with ``ModuleNotFoundError`` the imports that neither the python3.12 runtime
        (stdlib, boto3/botocore) nor the function's built layers provide (:mod:`amtflow.local.packaged`).

        ``enforce_iam`` (default on) authorises every call a function, the state machine or a rule target
        makes against its role's policies in the template (:mod:`._iam_enforce`); turn it off only in a
        test that needs calls the template does not allow.
        """
        if asl_time_scale < 0:
            raise InvalidInputError("asl_time_scale must be >= 0 (1.0 is real time)", field="asl_time_scale")
        # moto is imported (it registers its handlers with botocore) before the session below is built
        moto = _moto_seam.mock_moto()
        root = Path(project_root).resolve()
        project = compile_project(root, template=template, parameters=parameters, region=region)
        imports = _packaged_imports(project, root, template) if built else {}
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
                clock=clock or ManualClock(datetime.now(UTC).replace(microsecond=0)),
                rng=random.Random(seed),  # noqa: S311 - ids, not secrets
                region=region,
                stack_name=stack_name,
                work_dir=Path(work_dir),
                environment=environment or {},
            )
            twin._imports = imports
            if imports:
                stack.enter_context(packaged.import_guard())
            stack.enter_context(moto)
            stack.enter_context(_guard.local_only(GUARD))
            clients.reset()
            stack.callback(clients.reset)
            _use_twin_clock(stack, twin._clock)
            deliveries = twin._deliveries
            _moto_seam.install(
                stack,
                serves_function=deliveries.serves,
                invoke=deliveries.on_lambda_invoke,
                rule_event=deliveries.on_rule_event,
                new_id=twin._new_id,
                asl_time_scale=asl_time_scale,
                on_state_client=_state_clients(twin) if enforce_iam else None,
            )
            twin._deploy(parameters or {})
            # before any other thread starts: from here on names in os.environ only change value
            assert twin._runtime is not None
            stack.enter_context(twin._runtime.pin_environment())
            deliveries.start(stack)
            factory = sagemaker or _engine_factory(twin, engine_options or {})
            stack.enter_context(factory(twin.put_event_entry))
            if enforce_iam:  # outermost: it sees every call first, whoever serves it (engine, stand-in, moto)
                _enforce_iam(twin, stack)
            stack.callback(twin._stop_executions)
            yield twin

    def client(self, service: str) -> Any:
        """A boto3 client for ``service`` bound to the twin (moto); handy for assertions in tests."""
        with self._clients_lock:
            if service not in self._clients:
                self._clients[service] = self._session.client(service)  # type: ignore[call-overload]
            return self._clients[service]

    def _deploy(self, parameters: Mapping[str, str]) -> None:
        self._stack.deploy(parameters)
        self._runtime = FunctionRuntime(
            self._stack.functions(self._environment_overrides),
            region=self._region,
            now=self._clock.now,
            monotonic=time.monotonic,
            new_id=self._new_id,
            on_overrun=self._deliveries.record_error,
            imports=self._imports,
        )
        self._deliveries.runtime = self._runtime
        self._timetable.add_rule_schedules(self._stack.of_type("AWS::Events::Rule"))
        self._timetable.add_scheduler_schedules(self._project.schedules, self._stack.resolve_arn)
        self._stack.subscribe_topics()

    def _enqueue_delivery(self, rule_name: str, target: Mapping[str, Any], event: Mapping[str, Any]) -> None:
        """Queue one delivery of ``event`` to a target of rule ``rule_name`` (every rule delivery)."""
        self._deliveries.queue.put(self._deliveries.rule_job(rule_name, target, event))

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
        return self._stack.physical_id(logical_id)

    def resources(self, resource_type: str) -> dict[str, str]:
        """Logical id → physical id of every resource of ``resource_type`` (e.g. ``AWS::S3::Bucket``)."""
        return self._stack.of_type(resource_type)

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
            return self._stack.resources[given][1] if given in self._stack.resources else given
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
        name = self._only("AWS::S3::Bucket", bucket, "bucket", prefer=self._stack.sends_events)
        data = body.encode("utf-8") if isinstance(body, str) else body
        self.client("s3").put_object(Bucket=name, Key=key, Body=data)

    def start_execution(
        self, input: Any, *, name: str | None = None, state_machine: str | None = None
    ) -> str:
        """Start an execution as a console user would; returns its ARN. Without ``state_machine``: the
        stack's only state machine, or the one its ``StateMachineArn`` output names."""
        main = self.outputs.get("StateMachineArn")
        arn = self._only(
            "AWS::StepFunctions::StateMachine",
            state_machine,
            "state machine",
            prefer=lambda logical: self.resources("AWS::StepFunctions::StateMachine")[logical] == main,
        )
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
        """The event sink handed to the SageMaker side: one event (an EventBridge envelope, as the local
        engine sends, or a PutEvents entry), put on the default bus. SageMaker's own publishing: no
        principal's call, whatever context the SageMaker side calls it in."""
        with _iam_enforce.as_service():
            self.put_events([_put_events_entry(entry)])

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
        fired: list[str] = []
        for when, sched in self._timetable.due(start, end):
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
        return int(self._deliveries.queue.unfinished_tasks)

    def is_idle(self) -> bool:
        """No delivery is queued and no execution runs (a snapshot; see :meth:`wait_for_executions`)."""
        if self._deliveries.queue.unfinished_tasks:
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
        while self._deliveries.queue.unfinished_tasks:
            if time.monotonic() > deadline:
                raise TwinTimeoutError(
                    f"{self._deliveries.queue.unfinished_tasks} deliveries still queued after {timeout}s"
                )
            time.sleep(0.02)

    def wait_for_executions(self, timeout: float = 120.0) -> list[Execution]:
        """Wait until no delivery is queued and no execution runs; return every execution, oldest first."""
        deadline = time.monotonic() + timeout
        while True:
            self.wait_idle(timeout=max(0.1, deadline - time.monotonic()))
            running = self._running()
            if not running and not self._deliveries.queue.unfinished_tasks:
                return self.executions()
            if time.monotonic() > deadline:
                described = [read_execution(self.client("stepfunctions"), arn) for arn in running]
                names = ", ".join(f"{e.name} (at {e.states[-1] if e.states else 'start'})" for e in described)
                raise TwinTimeoutError(f"executions still running after {timeout}s: {names}")
            time.sleep(0.05)

    def executions(self) -> list[Execution]:
        """Every execution of the stack's state machines, oldest first."""
        sfn = self.client("stepfunctions")
        found: list[Execution] = []
        for arn in self.resources("AWS::StepFunctions::StateMachine").values():
            for item in sfn.list_executions(stateMachineArn=arn)["executions"]:
                found.append(read_execution(sfn, item["executionArn"]))
        return sorted(found, key=lambda e: e.started)

    def notifications(self) -> list[Notification]:
        """Every message published to the stack's SNS topics so far, as a subscriber received it."""
        return self._stack.notifications()

    def invocations(self) -> list[Invocation]:
        """Every Lambda invocation the twin ran, in order."""
        return self._runtime.invocations() if self._runtime else []

    def metrics(self) -> list[EmittedMetric]:
        """Every metric the functions emitted (their embedded-metric-format log lines), in order."""
        return [m for i in self.invocations() for m in i.metrics]

    def errors(self) -> list[str]:
        """Asynchronous failures: handler errors of event-driven invocations, undeliverable events."""
        return self._deliveries.errors()


def _put_events_entry(entry: Mapping[str, Any]) -> Mapping[str, Any]:
    """A ``PutEvents`` entry for an event given as an EventBridge envelope (as the local engine sends it),
    or the entry itself."""
    if "detail-type" not in entry:
        return entry
    return {
        "Source": entry["source"],
        "DetailType": entry["detail-type"],
        "Detail": entry.get("detail", {}),
        "Resources": list(entry.get("resources") or []),
        "Time": datetime.fromisoformat(str(entry["time"]).replace("Z", "+00:00")),
    }


def _packaged_imports(
    project: CompiledProject, root: Path, template: str
) -> dict[str, packaged.PackagedImports]:
    """Point every function at its built folder; what each may import as packaged."""
    try:
        built = packaged.built_functions(root, template=template)
    except AmtflowError as e:
        raise TwinDeployError(f"built: {e}") from e
    for logical_id, source in project.functions.items():
        project.functions[logical_id] = dataclasses.replace(source, code_dir=built[logical_id].code_dir)
    return {logical_id: packaged.PackagedImports(built[logical_id]) for logical_id in project.functions}


def _enforce_iam(twin: Twin, stack: ExitStack) -> None:
    """IAM enforced until ``stack`` closes: the functions act as their roles, deliveries as theirs."""
    account, region = twin.account, twin._region
    site = Site(
        region,
        account,
        task_state_machine=lambda token: _moto_seam.state_machine_of_task_token(account, region, token),
    )
    enforcer = stack.enter_context(_iam_enforce.enforcing(Enforcer(twin._stack.iam_policies(), site)))
    assert twin._runtime is not None
    twin._runtime.acting_as = lambda f: enforcer.acting_as(enforcer.role_principal(f.role_arn, f.name))
    twin._deliveries.enforcer = enforcer
    twin.iam = enforcer


def _state_clients(twin: Twin) -> Callable[[Any, str | None], None]:
    """The ASL interpreter's clients act as their state's role (once enforcement is on)."""
    return lambda client, role_arn: twin.iam.tag_client(client, role_arn) if twin.iam else None


def _engine_factory(twin: Twin, options: Mapping[str, Any]) -> SageMakerFactory:
    """The local AMT engine behind the twin, its events on the twin's bus, trial logs and metrics in moto."""

    def factory(sink: EventSink) -> AbstractContextManager[object]:
        try:
            from amtflow.local.engine import sagemaker as local_sagemaker
        except ImportError as e:
            raise TwinDeployError(
                "the local AMT engine (amtflow.local.sagemaker) is not available; pass sagemaker=... to "
                "Twin.start to use a stand-in"
            ) from e
        state_dir = options.get("state_dir", twin.work_dir / "engine")
        extra = {k: v for k, v in options.items() if k != "state_dir"}
        # trial logs reach CloudWatch Logs as on SageMaker (Evaluate reads them for the diagnosis)
        extra.setdefault("logs_client", twin.client("logs"))
        extra.setdefault("cloudwatch_client", twin.client("cloudwatch"))  # trial metrics, as SageMaker
        return local_sagemaker(state_dir=state_dir, event_sink=sink, **extra)

    return factory
