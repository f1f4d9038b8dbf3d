"""In-process Lambda: run the handler a function's template names, with that function's environment.

Invocations are serialised (one at a time, re-entrant for a handler that invokes another synchronously).

A function's environment reaches its handler in two ways:

- its **amtflow settings** (every ``AMTFLOW_*`` variable) are passed per invocation, never through the
  process environment: the call runs inside :func:`amtflow.settings.invocation_environment` with the
  function's whole environment, so ``load_settings()`` (the one place the core reads settings) sees them in
  the invocation's context only. Moto runs each execution and delivery in its own thread and a new thread
  starts with an empty context, so one function's settings are never visible to another function, nor to
  the twin's other threads;
- **everything else** (the runtime's ``AWS_REGION``/``AWS_DEFAULT_REGION`` that boto3 reads,
  ``AWS_LAMBDA_FUNCTION_NAME``/``_VERSION``/``_MEMORY_SIZE``/``AWS_LAMBDA_LOG_GROUP_NAME`` and the
  ``POWERTOOLS_*`` variables that Powertools reads, and any other non-amtflow variable the template sets)
  is third-party configuration read from ``os.environ`` directly, so it is applied to ``os.environ`` for
  the duration of the call and restored afterwards.

While the twin's other threads run (executions, deliveries, the engine), the set of variable names in
``os.environ`` must not change under them: ``dict(os.environ)``, which botocore runs whenever it builds a
client, fails with a ``KeyError`` if a name disappears mid-copy. :meth:`FunctionRuntime.pin_environment`
therefore sets every such name a function may use for the twin's lifetime (an empty value where the process
had none; the twin's region for the region variables) and invocations only change values. Handler modules
are imported on first use, under the function's environment, and kept (a warm execution environment); with
``imports`` (the twin's ``built`` mode) the import and every call run under the function's
:class:`~amtflow.local.packaged.PackagedImports`, which refuses what Lambda's runtime and layers lack. A
handler exception becomes a Lambda function error payload (``errorType`` = the exception's class name,
``errorMessage``, ``stackTrace``), as the Python runtime reports. Powertools configures its logger (the
stdlib logger named after ``POWERTOOLS_SERVICE_NAME``) once per process, when the first ``Logger()`` is
built; in Lambda each function has a process of its own, here they share one, so each invocation sets that
logger's level from its own environment (``AWS_LAMBDA_LOG_LEVEL``, then ``POWERTOOLS_LOG_LEVEL``, then
``LOG_LEVEL``, else ``INFO``, as Powertools decides) and puts the previous level back after the call.
Timeouts are not enforced (a thread cannot be stopped), but a call that runs longer than the function's
``Timeout`` is reported.

What a handler prints goes to the process's stdout as before, and its CloudWatch embedded-metric-format
lines (Powertools' metrics: one JSON object with an ``_aws`` key per flush, unless
``POWERTOOLS_METRICS_DISABLED`` is set) are kept with the invocation as :class:`EmittedMetric` records,
as CloudWatch would extract them from the function's log.
"""

from __future__ import annotations

import importlib.util
import json
import logging
import os
import sys
import threading
import traceback
import uuid
from collections.abc import Callable, Iterator, Mapping
from contextlib import AbstractContextManager, contextmanager, nullcontext, suppress
from dataclasses import dataclass, field
from datetime import datetime
from types import ModuleType
from typing import Any

from aws_lambda_powertools.shared import constants as powertools

from amtflow.local.packaged import PackagedImports, enforcing
from amtflow.local.twin._template import FunctionSource, TwinDeployError
from amtflow.settings import ENV_PREFIX, invocation_environment


@dataclass(frozen=True)
class LambdaContext:
    """The attributes of the Lambda runtime's context object that handlers and Powertools read."""

    function_name: str
    invoked_function_arn: str
    memory_limit_in_mb: int
    aws_request_id: str
    deadline: float
    function_version: str = "$LATEST"
    log_group_name: str = ""
    log_stream_name: str = "local/twin"
    clock: Callable[[], float] = field(default=lambda: 0.0, repr=False)

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self.deadline - self.clock()) * 1000))


@dataclass(frozen=True)
class EmittedMetric:
    """One metric of an embedded-metric-format line: its name, unit, dimensions and values."""

    function: str
    namespace: str
    name: str
    unit: str
    dimensions: Mapping[str, str]
    values: tuple[float, ...]


def emitted_metrics(function: str, line: str) -> list[EmittedMetric]:
    """The metrics of one printed line if it is an EMF document (``{"_aws": {"CloudWatchMetrics": ...}}``),
    else none."""
    text = line.strip()
    if not text.startswith("{") or '"_aws"' not in text:
        return []
    try:
        doc = json.loads(text)
    except ValueError:
        return []
    found: list[EmittedMetric] = []
    for directive in (doc.get("_aws") or {}).get("CloudWatchMetrics") or []:
        for keys in directive.get("Dimensions") or [[]]:
            dimensions = {str(k): str(doc.get(k, "")) for k in keys}
            for metric in directive.get("Metrics") or []:
                name = str(metric.get("Name", ""))
                raw = doc.get(name)
                values = raw if isinstance(raw, list) else [raw] if raw is not None else []
                found.append(
                    EmittedMetric(
                        function=function,
                        namespace=str(directive.get("Namespace", "")),
                        name=name,
                        unit=str(metric.get("Unit", "None")),
                        dimensions=dimensions,
                        values=tuple(float(v) for v in values),
                    )
                )
    return found


class _Tee:
    """A stdout that writes through and keeps every line (the function's log, as CloudWatch receives it)."""

    def __init__(self, through: Any) -> None:
        self._through = through
        self._buffer: list[str] = []

    def write(self, text: str) -> int:
        self._buffer.append(text)
        return int(self._through.write(text))

    def flush(self) -> None:
        self._through.flush()

    def lines(self) -> list[str]:
        return "".join(self._buffer).splitlines()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._through, name)


@contextmanager
def _captured_stdout() -> Iterator[_Tee]:
    original = sys.stdout
    tee = _Tee(original)
    sys.stdout = tee
    try:
        yield tee
    finally:
        sys.stdout = original


@dataclass(frozen=True)
class Invocation:
    """One finished invocation, as the twin records it."""

    function: str
    source: str
    request_id: str
    ok: bool
    error_type: str | None
    error_message: str | None
    started: datetime
    result: Any = None
    metrics: tuple[EmittedMetric, ...] = ()
    """The metrics the invocation printed in embedded metric format."""


@dataclass
class DeployedFunction:
    source: FunctionSource
    name: str
    arn: str
    environment: dict[str, str]
    role_arn: str = ""


class FunctionRuntime:
    """Runs deployed functions in this process, one invocation at a time."""

    def __init__(
        self,
        functions: Mapping[str, DeployedFunction],
        *,
        region: str,
        now: Callable[[], datetime],
        monotonic: Callable[[], float],
        new_id: Callable[[], str] = lambda: str(uuid.uuid4()),
        on_overrun: Callable[[str], None] = lambda message: None,
        imports: Mapping[str, PackagedImports] | None = None,
    ) -> None:
        self._by_logical = dict(functions)
        # per logical id: what the function may import as packaged (``--built``); none: anything
        self._imports = dict(imports or {})
        #: around each handler call: the function's role becomes the principal of its AWS calls (IAM)
        self.acting_as: Callable[[DeployedFunction], AbstractContextManager[None]] = lambda f: nullcontext()
        self._by_name = {f.name: f for f in functions.values()}
        self._region = region
        self._now = now
        self._monotonic = monotonic
        self._new_id = new_id
        self._on_overrun = on_overrun
        self._lock = threading.RLock()
        self._modules: dict[str, ModuleType] = {}
        self._records: list[Invocation] = []
        self._records_lock = threading.Lock()
        self._baseline: dict[str, str] | None = None

    def resolve(self, name_or_arn: str) -> DeployedFunction | None:
        """The deployed function a name, an ARN (optionally qualified) or a logical id refers to."""
        name = name_or_arn
        if name.startswith("arn:"):
            parts = name.split(":")
            name = parts[6] if len(parts) > 6 else name
        return self._by_name.get(name) or self._by_logical.get(name)

    def invocations(self) -> list[Invocation]:
        with self._records_lock:
            return list(self._records)

    def invoke(self, function: DeployedFunction, event: Any, *, source: str) -> tuple[bytes, bool]:
        """Run the handler; return ``(payload, errored)`` where payload is the JSON Lambda would return."""
        request_id = self._new_id()
        started = self._now()
        with self._lock, self._environment(function), self._packaged(function), self.acting_as(function):
            began = self._monotonic()
            context = LambdaContext(
                function_name=function.name,
                invoked_function_arn=function.arn,
                memory_limit_in_mb=function.source.memory_mb,
                aws_request_id=request_id,
                deadline=self._monotonic() + function.source.timeout,
                log_group_name=f"/aws/lambda/{function.name}",
                clock=self._monotonic,
            )
            printed: list[str] = []
            try:
                handler = self._handler(function)
                with _captured_stdout() as log:
                    try:
                        result = handler(event, context)
                    finally:
                        printed = log.lines()
                payload = json.dumps(result, default=str).encode("utf-8")
                errored, error_type, message = False, None, None
            except Exception as e:  # every handler failure becomes a function error, as in Lambda
                error_type, message = type(e).__name__, str(e)
                payload = json.dumps(
                    {
                        "errorType": error_type,
                        "errorMessage": message,
                        "requestId": request_id,
                        "stackTrace": traceback.format_tb(e.__traceback__),
                    }
                ).encode("utf-8")
                errored = True
            elapsed = self._monotonic() - began
        logical = function.source.logical_id
        metrics = tuple(m for line in printed for m in emitted_metrics(logical, line))
        if elapsed > function.source.timeout:
            self._on_overrun(
                f"{function.source.logical_id} ran {elapsed:.1f}s, longer than its Timeout of "
                f"{function.source.timeout}s: Lambda would have stopped it (raise Timeout or do less per "
                "call)"
            )
        with self._records_lock:
            self._records.append(
                Invocation(
                    function.source.logical_id,
                    source,
                    request_id,
                    not errored,
                    error_type,
                    message,
                    started,
                    result=None if errored else json.loads(payload),
                    metrics=metrics,
                )
            )
        return payload, errored

    def _handler(self, function: DeployedFunction) -> Callable[[Any, LambdaContext], Any]:
        src = function.source
        module = self._modules.get(src.logical_id)
        if module is None:
            path = src.code_dir.joinpath(*src.module.split(".")).with_suffix(".py")
            if not path.is_file():
                raise TwinDeployError(
                    f"{src.logical_id}: Handler {src.handler!r} needs {path}, which does not exist"
                )
            name = f"amtflow_twin_handler_{src.logical_id}"
            spec = importlib.util.spec_from_file_location(name, path)
            if spec is None or spec.loader is None:
                raise TwinDeployError(f"{src.logical_id}: cannot load {path}")
            module = importlib.util.module_from_spec(spec)
            spec.loader.exec_module(module)
            self._modules[src.logical_id] = module
        handler = getattr(module, src.attribute, None)
        if not callable(handler):
            raise TwinDeployError(
                f"{src.logical_id}: {src.module} has no callable {src.attribute!r} (Handler)"
            )
        return handler  # type: ignore[no-any-return]

    @contextmanager
    def pin_environment(self) -> Iterator[None]:
        """Keep every name any function's environment uses in ``os.environ`` until the block ends.

        Between and during invocations only values change, so another thread copying ``os.environ``
        never sees a name vanish; names the process did not have are removed when the block ends.
        """
        with self._lock:
            names = {key for function in self._by_logical.values() for key in self._process_overlay(function)}
            absent = {key for key in names if key not in os.environ}
            # an empty region would break every client built meanwhile; the twin's region is the sane default
            defaults = {"AWS_REGION": self._region, "AWS_DEFAULT_REGION": self._region}
            self._baseline = {key: os.environ.get(key, defaults.get(key, "")) for key in names}
            os.environ.update({key: self._baseline[key] for key in absent})
        try:
            yield
        finally:
            with self._lock:
                self._baseline = None
                for key in absent:
                    os.environ.pop(key, None)

    def _overlay(self, function: DeployedFunction) -> dict[str, str]:
        return {
            "AWS_REGION": self._region,
            "AWS_DEFAULT_REGION": self._region,
            "AWS_LAMBDA_FUNCTION_NAME": function.name,
            "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
            "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(function.source.memory_mb),
            "AWS_LAMBDA_LOG_GROUP_NAME": f"/aws/lambda/{function.name}",
            "POWERTOOLS_TRACE_DISABLED": "true",
            **function.environment,
        }

    def _process_overlay(self, function: DeployedFunction) -> dict[str, str]:
        """The variables third-party code reads from ``os.environ``: all but the amtflow settings."""
        return {k: v for k, v in self._overlay(function).items() if not k.startswith(ENV_PREFIX)}

    @contextmanager
    def _packaged(self, function: DeployedFunction) -> Iterator[None]:
        """While the handler is imported and runs: only the imports Lambda would allow it (``--built``)."""
        policy = self._imports.get(function.source.logical_id)
        if policy is None:
            yield
            return
        with enforcing(policy):
            yield

    @contextmanager
    def _environment(self, function: DeployedFunction) -> Iterator[None]:
        overlay = self._process_overlay(function)
        if self._baseline is not None:
            # pinned: another function's names (a caller's, for a nested call) read as the baseline
            overlay = {**self._baseline, **overlay}
        saved = {k: os.environ.get(k) for k in overlay}
        code_dir = str(function.source.code_dir)
        os.environ.update(overlay)
        sys.path.insert(0, code_dir)
        try:
            with invocation_environment(self._overlay(function)), _powertools_level(os.environ):
                yield
        finally:
            if code_dir in sys.path:
                sys.path.remove(code_dir)
            for key, value in saved.items():
                if value is None:
                    os.environ.pop(key, None)
                else:
                    os.environ[key] = value


def powertools_level(environment: Mapping[str, str]) -> str | int:
    """The level Powertools' ``Logger()`` gives its logger in a process with ``environment``."""
    lambda_level = powertools.LAMBDA_ADVANCED_LOGGING_LEVELS.get(
        environment.get(powertools.LAMBDA_LOG_LEVEL_ENV)
    )
    if lambda_level:
        return lambda_level
    level = environment.get(powertools.POWERTOOLS_LOG_LEVEL_ENV) or environment.get(
        powertools.POWERTOOLS_LOG_LEVEL_LEGACY_ENV
    )
    return level.upper() if level else logging.INFO


@contextmanager
def _powertools_level(environment: Mapping[str, str]) -> Iterator[None]:
    """During the block, the Powertools logger of ``environment``'s service at ``environment``'s level."""
    target = logging.getLogger(environment.get(powertools.SERVICE_NAME_ENV) or "service_undefined")
    previous = target.level
    # not a level: Powertools' own Logger() refuses it when the handler is imported
    with suppress(ValueError):
        target.setLevel(powertools_level(environment))
    try:
        yield
    finally:
        target.setLevel(previous)
