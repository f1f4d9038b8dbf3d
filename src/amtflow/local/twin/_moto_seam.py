"""Every place the twin reaches into moto: its patches of moto's behaviour, applied from :func:`install`.

Moto (pinned ``>=5.2.5,<5.3``) serves the AWS APIs in process; where it differs from the services, or where
the twin serves a part itself (Lambda code, EventBridge rule targets), the twin replaces one moto attribute
with :func:`unittest.mock.patch.object`, for as long as the twin runs. Each patch is one function below
whose docstring says which moto behaviour it replaces and why; :data:`PATCHED` lists the attribute each one
replaces and the parameters the replacement relies on, and ``tests/local/twin/test_moto_seam.py`` checks
them against the installed moto, so an upgrade that moves or reshapes one fails loudly there rather than
quietly in a run. The few other moto internals the twin reads (the plain Step Functions backend, the
CloudFormation parser's logger) are also here, so this module is the whole of the twin's dependency on
moto's internals.
"""

from __future__ import annotations

import copy
import logging
import time
import types
import warnings
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, ExitStack, contextmanager
from typing import Any
from unittest import mock

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

PATCHED: dict[str, tuple[tuple[str, str, tuple[str, ...]], ...]] = {
    "route_lambda_invocations": (
        (
            "moto.awslambda_simple.models",
            "LambdaSimpleBackend.invoke",
            ("self", "function_name", "qualifier", "body", "headers", "response_headers"),
        ),
        (
            "moto.awslambda.models",
            "LambdaBackend.invoke",
            ("self", "function_name", "qualifier", "body", "headers", "response_headers"),
        ),
    ),
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
) -> None:
    """Apply every patch until ``stack`` closes (moto's mock must be active)."""
    name_unnamed_executions(stack, new_id)
    keep_task_failure_cause(stack)
    complete_early_callbacks(stack)
    route_lambda_invocations(stack, serves_function, invoke)
    route_rule_targets(stack, rule_event)
    # moto logs every caught ASL failure at ERROR level; the twin reports failures through executions().
    stack.enter_context(quiet_logger("moto.stepfunctions.parser"))
    scale_asl_waits(stack, asl_time_scale)


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


def plain_state_machine(account: str, region: str, arn: str) -> tuple[str, str, str]:
    """``(name, definition, roleArn)`` of a state machine moto's CloudFormation created.

    Moto's CloudFormation creates state machines in the plain Step Functions backend, while executions run
    in the ASL one; the twin re-creates each there from this.
    """
    from moto.stepfunctions.models import stepfunctions_backends

    machine = stepfunctions_backends[account][region].describe_state_machine(arn)
    return machine.name, machine.definition, machine.roleArn


@contextmanager
def quiet_logger(name: str, level: int = logging.CRITICAL) -> Iterator[None]:
    """Raise logger ``name``'s level for the block."""
    target = logging.getLogger(name)
    previous = target.level
    target.setLevel(level)
    try:
        yield
    finally:
        target.setLevel(previous)


@contextmanager
def warnings_silenced() -> Iterator[None]:
    """Moto's CloudFormation parser's warnings and logs about resources it only stores, silenced."""
    with quiet_logger("moto.cloudformation.parsing", logging.ERROR), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        yield
