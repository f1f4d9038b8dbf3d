"""Every place the twin reaches into moto: its patches of moto's behaviour, applied from :func:`install`.

Moto (pinned ``>=5.2.5,<5.3``) serves the AWS APIs in process; where it differs from the services, or where
the twin serves a part itself (Lambda code, EventBridge rule targets), the twin replaces one moto attribute
with :func:`unittest.mock.patch.object`, for as long as the twin runs. Each patch is one function below
whose docstring says which moto behaviour it replaces and why; :data:`PATCHED` lists the attribute each one
replaces and the parameters the replacement relies on, and ``tests/local/twin/test_moto_seam.py`` checks
them against the installed moto, so an upgrade that moves or reshapes one fails loudly there rather than
quietly in a run. The few other moto internals the twin reads (the plain Step Functions backend, moto's
loggers) are also here, so this module is the whole of the twin's dependency on moto's internals.
"""

from __future__ import annotations

import copy
import time
import types
from collections.abc import Callable
from contextlib import AbstractContextManager, ExitStack
from typing import Any
from unittest import mock

from amtflow.local.twin._moto_quiet import quiet_logger, unmodelled_resources_quiet

MOTO_CONFIG: dict[str, dict[str, Any]] = {
    "stepfunctions": {"execute_state_machine": True},
    "lambda": {"use_docker": False},
    "core": {"reset_boto3_session": True},
}
"""Moto's configuration: Step Functions executes ASL; Lambda never starts Docker (the twin runs code)."""

LambdaInvoke = Callable[[Any, str, Any, Any, Any, Any], Any]
"""``(backend, function_name, qualifier, body, headers, response_headers) -> payload``, as moto's backend."""
RuleSend = Callable[[Any, Any, bool], None]
"""``(rule, event, transform_input)``: moto's own delivery of a rule's targets."""
RuleEvent = Callable[[Any, Any, bool, RuleSend], None]
"""``(rule, event, transform_input, moto_send)``: the twin's handling of an event that reached a rule."""
StateClient = Callable[[Any, "str | None"], None]
"""``(client, role_arn)``: a boto3 client the ASL interpreter built for a state, and the role it acts as."""

_LAMBDA_INVOKE_PARAMETERS = ("self", "function_name", "qualifier", "body", "headers", "response_headers")
_LAMBDA_INVOKE = (
    ("moto.awslambda_simple.models", "LambdaSimpleBackend.invoke", _LAMBDA_INVOKE_PARAMETERS),
    ("moto.awslambda.models", "LambdaBackend.invoke", _LAMBDA_INVOKE_PARAMETERS),
)
"""Moto's Lambda invoke (both backends), which two patches wrap in turn."""

PATCHED: dict[str, tuple[tuple[str, str, tuple[str, ...]], ...]] = {
    "route_lambda_invocations": _LAMBDA_INVOKE,
    "route_rule_targets": (
        ("moto.events.models", "Rule.send_to_targets", ("self", "original_event", "transform_input")),
    ),
    "name_unnamed_executions": (
        (
            "moto.stepfunctions.parser.models",
            "StepFunctionsParserBackend.start_execution",
            ("self", "state_machine_arn", "name", "execution_input", "trace_header"),
        ),
    ),
    "keep_task_failure_cause": (
        ("moto.stepfunctions.responses", "StepFunctionResponse.send_task_failure", ("self",)),
        (
            "moto.stepfunctions.parser.models",
            "StepFunctionsParserBackend.send_task_failure",
            ("self", "task_token", "error", "cause"),
        ),
    ),
    "complete_early_callbacks": (
        (
            "moto.stepfunctions.parser.asl.eval.callback.callback",
            "CallbackEndpoint.setup_heartbeat_endpoint",
            ("self", "heartbeat_seconds"),
        ),
        ("moto.stepfunctions.parser.asl.eval.callback.callback", "CallbackEndpoint.get_outcome", ("self",)),
    ),
    "enforce_states_payload_limits": (
        (
            "moto.stepfunctions.parser.models",
            "StepFunctionsParserBackend.start_execution",
            ("self", "state_machine_arn", "name", "execution_input", "trace_header"),
        ),
        (
            "moto.stepfunctions.parser.models",
            "StepFunctionsParserBackend.send_task_success",
            ("self", "task_token", "outcome"),
        ),
        (
            "moto.stepfunctions.parser.asl.component.common.error_name.error_equals_decl",
            "ErrorEqualsDecl._eval_body",
            ("self", "env"),
        ),
    ),
    "fail_with_any_error_name": (
        ("moto.stepfunctions.parser.asl.component.state.fail.state_fail", "CustomErrorName", ()),
    ),
    "enforce_sns_limits": (
        (
            "moto.sns.models",
            "SNSBackend.publish",
            ("self", "message", "arn", "phone_number", "subject", "message_attributes"),
        ),
    ),
    "enforce_events_limits": (("moto.events.models", "EventsBackend.put_events", ("self", "events")),),
    "enforce_lambda_payload_limits": _LAMBDA_INVOKE,
    "tag_state_clients": (
        (
            "moto.stepfunctions.parser.asl.utils.boto_client",
            "boto_client_for",
            ("region", "service", "state_credentials"),
        ),
        (
            "moto.stepfunctions.parser.asl.component.state.exec.state_task.credentials",
            "StateCredentials",
            ("role_arn",),
        ),
    ),
    "scale_asl_waits": (
        ("moto.stepfunctions.parser.asl.component.common.retry.retrier_decl", "time", ()),
        (
            "moto.stepfunctions.parser.asl.component.state.wait.wait_function.wait_function",
            "WaitFunction._wait_interval",
            ("self", "env", "wait_seconds"),
        ),
    ),
}
"""Patch function → the moto attributes it replaces or calls: ``(module, attribute, parameter names)``."""


def mock_moto() -> AbstractContextManager[object]:
    """Moto's in-process AWS, configured by :data:`MOTO_CONFIG` (build it before any boto3 session: importing
    moto registers its handlers with botocore)."""
    from moto import mock_aws

    return mock_aws(config=MOTO_CONFIG)  # type: ignore[call-overload,no-any-return]


def serves(service: str, operation: str, url: str) -> bool:
    """Whether moto's mock answers a request to ``url`` (one of the services moto mocks in process).

    Reads ``moto.backend_index.backend_url_patterns``, the URL patterns moto's ``before-send`` handler
    matches; a request to an AWS URL none matches would get moto's bare 404 "Not yet implemented".
    """
    from moto.backend_index import backend_url_patterns
    from moto.core.utils import get_equivalent_url_in_aws_domain

    parsed, _ = get_equivalent_url_in_aws_domain(url)
    clean = f"{parsed.scheme}://{parsed.netloc}{parsed.path}"
    return any(pattern.match(clean) for _, pattern in backend_url_patterns)


def install(
    stack: ExitStack,
    *,
    serves_function: Callable[[str], bool],
    invoke: LambdaInvoke,
    rule_event: RuleEvent,
    new_id: Callable[[], str],
    asl_time_scale: float,
    on_state_client: StateClient | None = None,
) -> None:
    """Apply every patch until ``stack`` closes (moto's mock must be active); ``on_state_client``, when
    given, is told of every client the ASL interpreter builds for a state's service call."""
    name_unnamed_executions(stack, new_id)
    keep_task_failure_cause(stack)
    complete_early_callbacks(stack)
    route_lambda_invocations(stack, serves_function, invoke)
    route_rule_targets(stack, rule_event)
    # after the routing above: the limits wrap the routed Lambda invoke and the naming start_execution
    enforce_states_payload_limits(stack)
    fail_with_any_error_name(stack)
    enforce_sns_limits(stack)
    enforce_events_limits(stack)
    enforce_lambda_payload_limits(stack)
    # moto logs every caught ASL failure at ERROR level; the twin reports failures through executions().
    stack.enter_context(quiet_logger("moto.stepfunctions.parser"))
    stack.enter_context(unmodelled_resources_quiet())  # moto parses stack resources again on many calls
    scale_asl_waits(stack, asl_time_scale)
    if on_state_client is not None:
        tag_state_clients(stack, on_state_client)


def route_lambda_invocations(
    stack: ExitStack, serves_function: Callable[[str], bool], invoke: LambdaInvoke
) -> None:
    """Lambda ``Invoke`` of a stack function runs its code in the twin, not in moto's Lambda.

    Replaces ``LambdaSimpleBackend.invoke`` and ``LambdaBackend.invoke`` (moto would start Docker or echo
    the payload): ``invoke`` serves the functions ``serves_function`` accepts; any other name goes to moto
    (a missing function is a 404, as in Lambda).
    """
    from moto.awslambda.models import LambdaBackend
    from moto.awslambda_simple.models import LambdaSimpleBackend

    originals = {LambdaSimpleBackend: LambdaSimpleBackend.invoke, LambdaBackend: LambdaBackend.invoke}

    def routed(
        backend: Any, function_name: str, qualifier: Any, body: Any, headers: Any, response_headers: Any
    ) -> Any:
        if not serves_function(function_name):
            backend.get_function(function_name, qualifier)  # a missing function is a 404, as in Lambda
            original = originals[
                LambdaSimpleBackend if isinstance(backend, LambdaSimpleBackend) else LambdaBackend
            ]
            return original(backend, function_name, qualifier, body, headers, response_headers)
        return invoke(backend, function_name, qualifier, body, headers, response_headers)

    stack.enter_context(mock.patch.object(LambdaSimpleBackend, "invoke", routed))
    stack.enter_context(mock.patch.object(LambdaBackend, "invoke", routed))


def route_rule_targets(stack: ExitStack, rule_event: RuleEvent) -> None:
    """An event that reaches an EventBridge rule is handed to the twin, with moto's own delivery.

    Replaces ``Rule.send_to_targets``: moto cannot run Lambda targets in process nor start executions with
    the event; the twin delivers those and passes the other targets back to moto's delivery.
    """
    from moto.events.models import Rule

    original_send = Rule.send_to_targets

    def send_to_targets(rule: Any, event: Any, transform_input: bool = True) -> None:
        rule_event(rule, event, transform_input, original_send)

    stack.enter_context(mock.patch.object(Rule, "send_to_targets", send_to_targets))


def only_targets(rule: Any, targets: list[Any]) -> Any:
    """A copy of moto's ``rule`` with only ``targets`` (for moto's delivery of the targets the twin skips)."""
    shadow = copy.copy(rule)
    shadow.targets = targets
    return shadow


def name_unnamed_executions(stack: ExitStack, new_id: Callable[[], str]) -> None:
    """An execution started without a name is named with a UUID, as Step Functions does.

    Replaces ``StepFunctionsParserBackend.start_execution``, which names such an execution ``"None"``.
    """
    from moto.stepfunctions.parser.models import StepFunctionsParserBackend

    original_start = StepFunctionsParserBackend.start_execution

    def start_execution(backend: Any, arn: str, name: Any = None, *args: Any, **kwargs: Any) -> Any:
        return original_start(backend, arn, name or new_id(), *args, **kwargs)

    stack.enter_context(mock.patch.object(StepFunctionsParserBackend, "start_execution", start_execution))


def keep_task_failure_cause(stack: ExitStack) -> None:
    """``SendTaskFailure`` keeps its ``cause``, as Step Functions does (the ``Catch``'s ``$.Cause``).

    Replaces ``StepFunctionResponse.send_task_failure``, whose request handler drops ``cause``.
    """
    from moto.stepfunctions.responses import StepFunctionResponse

    def send_task_failure(response: Any) -> Any:
        from moto.core.responses import EmptyResult

        response.stepfunction_backend.send_task_failure(
            response._get_param("taskToken"),
            error=response._get_param("error"),
            cause=response._get_param("cause"),
        )
        return EmptyResult()

    stack.enter_context(mock.patch.object(StepFunctionResponse, "send_task_failure", send_task_failure))


def complete_early_callbacks(stack: ExitStack) -> None:
    """A task-token callback that arrives before moto arms the task's heartbeat still completes the task.

    Replaces ``CallbackEndpoint.setup_heartbeat_endpoint``: moto sets the heartbeat up after the task's
    Lambda returns, so a callback that arrived before (the handler's event delivered at once) would wait out
    the heartbeat interval.
    """
    from moto.stepfunctions.parser.asl.eval.callback.callback import CallbackEndpoint

    original_heartbeat = CallbackEndpoint.setup_heartbeat_endpoint

    def setup_heartbeat_endpoint(endpoint: Any, heartbeat_seconds: int) -> Any:
        heartbeat: Any = original_heartbeat(endpoint, heartbeat_seconds)
        if endpoint.get_outcome() is not None:
            heartbeat.notify()
        return heartbeat

    stack.enter_context(
        mock.patch.object(CallbackEndpoint, "setup_heartbeat_endpoint", setup_heartbeat_endpoint)
    )


def enforce_states_payload_limits(stack: ExitStack) -> None:
    """Step Functions' 256 KiB payload limit where moto's ASL interpreter does not apply it.

    Moto's interpreter already fails a state whose result or output exceeds the limit with
    ``States.DataLimitExceeded``; the twin adds what it misses: ``StartExecution`` with a larger input is
    refused with ``InvalidExecutionInput``, ``SendTaskSuccess`` with a larger output with ``InvalidOutput``
    (replacing ``StepFunctionsParserBackend.start_execution`` and ``.send_task_success``), and, as in Step
    Functions, ``States.DataLimitExceeded`` is terminal: ``States.ALL`` (or ``States.TaskFailed``) in a
    ``Retry``/``Catch`` does not match it, only its own name does (replacing ``ErrorEqualsDecl._eval_body``).
    """
    from moto.stepfunctions.parser.api import InvalidExecutionInput, InvalidOutput
    from moto.stepfunctions.parser.asl.component.common.error_name.error_equals_decl import ErrorEqualsDecl
    from moto.stepfunctions.parser.asl.component.common.error_name.states_error_name import StatesErrorName
    from moto.stepfunctions.parser.asl.component.common.error_name.states_error_name_type import (
        StatesErrorNameType,
    )
    from moto.stepfunctions.parser.models import StepFunctionsParserBackend

    from amtflow.local.twin._limits import STATES_PAYLOAD_BYTES, utf8_size

    original_start = StepFunctionsParserBackend.start_execution
    original_success = StepFunctionsParserBackend.send_task_success
    original_eval = ErrorEqualsDecl._eval_body
    data_limit = StatesErrorName(typ=StatesErrorNameType.StatesStatesDataLimitExceeded)

    def start_execution(
        backend: Any, arn: str, name: Any = None, execution_input: Any = None, *args: Any, **kwargs: Any
    ) -> Any:
        size = utf8_size(execution_input)
        if size > STATES_PAYLOAD_BYTES:
            raise InvalidExecutionInput(
                f"Input of {size} bytes exceeds the maximum of {STATES_PAYLOAD_BYTES} bytes (256 KiB)"
            )
        return original_start(backend, arn, name, execution_input, *args, **kwargs)

    def send_task_success(backend: Any, task_token: str, outcome: Any) -> Any:
        size = utf8_size(outcome)
        if size > STATES_PAYLOAD_BYTES:
            raise InvalidOutput(
                f"Output of {size} bytes exceeds the maximum of {STATES_PAYLOAD_BYTES} bytes (256 KiB)"
            )
        return original_success(backend, task_token, outcome)

    def eval_body(decl: Any, env: Any) -> None:
        error_name = env.stack[-1] if env.stack else None
        if error_name == data_limit and data_limit not in decl.error_names:
            env.stack.pop()
            env.stack.append(False)
            return
        original_eval(decl, env)

    stack.enter_context(mock.patch.object(StepFunctionsParserBackend, "start_execution", start_execution))
    stack.enter_context(mock.patch.object(StepFunctionsParserBackend, "send_task_success", send_task_success))
    stack.enter_context(mock.patch.object(ErrorEqualsDecl, "_eval_body", eval_body))


def fail_with_any_error_name(stack: ExitStack) -> None:
    """A ``Fail`` state whose ``ErrorPath`` yields a ``States.`` name (a caught ``States.Timeout`` or
    ``States.DataLimitExceeded`` passed on) fails the execution with that name, as Step Functions does.

    Replaces ``CustomErrorName`` in moto's ``state_fail`` module, which refuses the ``States.`` prefix there
    and so turns the execution's error into ``States.Runtime``.
    """
    from moto.stepfunctions.parser.asl.component.common.error_name.custom_error_name import CustomErrorName
    from moto.stepfunctions.parser.asl.component.common.error_name.error_name import ErrorName
    from moto.stepfunctions.parser.asl.component.state.fail import state_fail

    class FailErrorName(CustomErrorName):
        def __init__(self, error_name: str | None) -> None:
            ErrorName.__init__(self, error_name=error_name)

    stack.enter_context(mock.patch.object(state_fail, "CustomErrorName", FailErrorName))


def enforce_sns_limits(stack: ExitStack) -> None:
    """SNS ``Publish`` refuses, with ``InvalidParameter``, a message whose body and attributes together
    exceed 256 KiB and a subject of 100 characters or more, or with a line break or control character.

    Replaces ``SNSBackend.publish``: moto counts characters of the body only, and refuses a long subject
    with a plain ``ValueError``.
    """
    from moto.sns.exceptions import InvalidParameterValue
    from moto.sns.models import SNSBackend

    from amtflow.local.twin._limits import SNS_MESSAGE_BYTES, sns_message_size, sns_subject_problem

    original_publish = SNSBackend.publish

    def publish(
        backend: Any,
        message: str,
        arn: str | None,
        phone_number: str | None = None,
        subject: str | None = None,
        message_attributes: dict[str, Any] | None = None,
        *args: Any,
        **kwargs: Any,
    ) -> Any:
        problem = sns_subject_problem(subject)
        if problem is not None:
            raise InvalidParameterValue(f"Invalid parameter: Subject ({problem})")
        size = sns_message_size(message, message_attributes)
        if size > SNS_MESSAGE_BYTES:
            raise InvalidParameterValue(
                f"Invalid parameter: Message too long ({size} bytes with its attributes; the maximum is "
                f"{SNS_MESSAGE_BYTES})"
            )
        return original_publish(
            backend, message, arn, phone_number, subject, message_attributes, *args, **kwargs
        )

    stack.enter_context(mock.patch.object(SNSBackend, "publish", publish))


def enforce_events_limits(stack: ExitStack) -> None:
    """EventBridge ``PutEvents`` whose entries total more than 256 KiB (as EventBridge sizes an entry) fails
    as a whole with ``ValidationException``, as the service does.

    Replaces ``EventsBackend.put_events``, which accepts entries of any size.
    """
    from moto.events.exceptions import ValidationException
    from moto.events.models import EventsBackend

    from amtflow.local.twin._limits import EVENTS_REQUEST_BYTES, put_events_entry_size

    original_put = EventsBackend.put_events

    def put_events(backend: Any, events: list[dict[str, Any]]) -> Any:
        size = sum(put_events_entry_size(e) for e in events)
        if size > EVENTS_REQUEST_BYTES:
            raise ValidationException(
                f"Total size of the entries in the request is over the limit ({size} bytes; the maximum "
                f"is {EVENTS_REQUEST_BYTES})."
            )
        return original_put(backend, events)

    stack.enter_context(mock.patch.object(EventsBackend, "put_events", put_events))


def enforce_lambda_payload_limits(stack: ExitStack) -> None:
    """Lambda ``Invoke`` refuses a request payload over 6 MB (256 KB for ``InvocationType=Event``) with
    ``RequestTooLargeException`` (HTTP 413), as Lambda does.

    Replaces ``LambdaSimpleBackend.invoke`` and ``LambdaBackend.invoke`` (wrapping the twin's routing, so it
    applies to the stack's functions and to moto's alike). A synchronous response over 6 MB already becomes
    the function error ``Function.ResponseSizeTooLarge`` in moto's ``Invoke`` handler.
    """
    from moto.awslambda.exceptions import LambdaClientError
    from moto.awslambda.models import LambdaBackend
    from moto.awslambda_simple.models import LambdaSimpleBackend

    from amtflow.local.twin._limits import LAMBDA_ASYNC_PAYLOAD_BYTES, LAMBDA_SYNC_PAYLOAD_BYTES, utf8_size

    class RequestTooLargeException(LambdaClientError):
        code = 413

        def __init__(self, message: str) -> None:
            super().__init__("RequestTooLargeException", message)

    originals = {LambdaSimpleBackend: LambdaSimpleBackend.invoke, LambdaBackend: LambdaBackend.invoke}

    def invoke(
        backend: Any, function_name: str, qualifier: Any, body: Any, headers: Any, response_headers: Any
    ) -> Any:
        kind = {k.lower(): v for k, v in dict(headers or {}).items()}.get(
            "x-amz-invocation-type", "RequestResponse"
        )
        limit = LAMBDA_ASYNC_PAYLOAD_BYTES if kind == "Event" else LAMBDA_SYNC_PAYLOAD_BYTES
        size = utf8_size(body)
        if size > limit:
            raise RequestTooLargeException(
                f"Request must be smaller than {limit} bytes for the InvokeFunction operation"
            )
        original = originals[
            LambdaSimpleBackend if isinstance(backend, LambdaSimpleBackend) else LambdaBackend
        ]
        return original(backend, function_name, qualifier, body, headers, response_headers)

    stack.enter_context(mock.patch.object(LambdaSimpleBackend, "invoke", invoke))
    stack.enter_context(mock.patch.object(LambdaBackend, "invoke", invoke))


def scale_asl_waits(stack: ExitStack, scale: float) -> None:
    """Moto's ASL interpreter waits ``scale`` times what the definition asks (``Retry`` intervals, ``Wait``).

    Replaces the ``time`` module of ``retrier_decl`` (its ``time.sleep`` between retries) and
    ``WaitFunction._wait_interval``, which both wait in real time.
    """
    from moto.stepfunctions.parser.asl.component.common.retry import retrier_decl
    from moto.stepfunctions.parser.asl.component.state.wait.wait_function.wait_function import WaitFunction

    def sleep(seconds: float) -> None:
        time.sleep(max(0.0, seconds) * scale)

    def wait_interval(self: Any, env: Any, wait_seconds: int) -> None:
        if wait_seconds > 0:
            env.program_state_event.wait(wait_seconds * scale)  # returns early when the execution stops

    stack.enter_context(mock.patch.object(retrier_decl, "time", types.SimpleNamespace(sleep=sleep)))
    stack.enter_context(mock.patch.object(WaitFunction, "_wait_interval", wait_interval))


def tag_state_clients(stack: ExitStack, on_client: StateClient) -> None:
    """Every boto3 client the ASL interpreter builds for a state's service call (``lambda:invoke``,
    ``dynamodb:deleteItem``, ...) is handed to ``on_client`` with the role the state acts as (the state
    machine's role, or the state's ``Credentials``), so that its calls are authorised as that role's.

    Replaces ``boto_client_for`` in ``moto.stepfunctions.parser.asl.utils.boto_client`` and in every module
    of the interpreter that imported it by name.
    """
    import importlib
    import sys

    from moto.stepfunctions.parser.asl.utils import boto_client

    state = "moto.stepfunctions.parser.asl.component.state.exec"
    for user in (
        "state_map.item_reader.eval.resource_eval_s3",
        "state_map.result_writer.resource_eval.resource_eval_s3",
        "state_task.lambda_eval_utils",
        "state_task.service.state_task_service_factory",
    ):
        importlib.import_module(f"{state}.{user}")  # every module that imports boto_client_for by name

    original = boto_client.boto_client_for

    def boto_client_for(region: str, service: str, state_credentials: Any = None) -> Any:
        client = original(region, service, state_credentials)
        on_client(client, getattr(state_credentials, "role_arn", None))
        return client

    for name, module in list(sys.modules.items()):
        if name.startswith("moto.stepfunctions.parser") and getattr(module, "boto_client_for", 0) is original:
            stack.enter_context(mock.patch.object(module, "boto_client_for", boto_client_for))


def stack_resolver(account: str, region: str, stack_name: str) -> Callable[[Any], Any]:
    """Resolves a template value (``Fn::Sub``, ``Ref``, ``Fn::GetAtt``, ``Fn::If``, ...) as moto's
    CloudFormation resolved it when it deployed stack ``stack_name``."""
    from moto.cloudformation.models import cloudformation_backends
    from moto.cloudformation.parsing import clean_json

    backend = cloudformation_backends[account][region]
    (found,) = [s for s in backend.stacks.values() if s.name == stack_name and s.status != "DELETE_COMPLETE"]
    resource_map = found.resource_map
    return lambda value: clean_json(value, resource_map)


def state_machine_of_task_token(account: str, region: str, token: str) -> str | None:
    """The ARN of the state machine whose running execution awaits ``token``, or None."""
    from moto.stepfunctions.parser.models import stepfunctions_parser_backends

    backend = stepfunctions_parser_backends[account][region]
    for machine in list(backend.state_machines):
        for execution in list(getattr(machine, "executions", [])):
            worker = getattr(execution, "exec_worker", None)
            env = getattr(worker, "env", None)
            if env is not None and env.callback_pool_manager.get(token) is not None:
                return str(machine.arn)
    return None


def plain_state_machine(account: str, region: str, arn: str) -> tuple[str, str, str]:
    """``(name, definition, roleArn)`` of a state machine moto's CloudFormation created.

    Moto's CloudFormation creates state machines in the plain Step Functions backend, while executions run
    in the ASL one; the twin re-creates each there from this.
    """
    from moto.stepfunctions.models import stepfunctions_backends

    machine = stepfunctions_backends[account][region].describe_state_machine(arn)
    return machine.name, machine.definition, machine.roleArn
