"""Routing boto3 SageMaker calls to the engine.

How: while :func:`sagemaker` is active, ``botocore.client.BaseClient._make_api_call`` is wrapped so that
every client (created before or after entering) gets, once, a ``before-call.sagemaker`` handler on its own
event emitter. botocore emits ``before-call`` after validating and serialising the request; a handler
that returns ``(http_response, parsed)`` replaces the HTTP call. The handler decodes the JSON request body,
lets the engine answer, and runs the answer through botocore's own JSON parser for the operation's output
shape, so callers get exactly the types a real response would give (``datetime`` timestamps, floats).
Refusals become ``ClientError`` with the service's error code. Operations the engine does not serve
(e.g. the Model Registry) and other services fall through untouched, so moto's ``mock_aws`` (which hooks
``before-send``) keeps serving them; a SageMaker request nothing answers is refused by the guard
(:mod:`amtflow.local._guard`, :data:`GUARD`) before any connection, never sent to AWS. The handler is
registered last, so a ``Stubber`` on a client still wins.
``sagemaker-runtime`` InvokeEndpoint (rest-json) is routed the same way: the endpoint's name comes from the
request's path, the body and headers as sent, and the container's answer is parsed as a real response
(``Body`` a ``StreamingBody``, ``ContentType``, ``InvokedProductionVariant``).
On exit the wrapper is removed; handlers left on clients do nothing once no engine is active.
"""

from __future__ import annotations

import io
import json
import threading
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import unquote

import botocore.client
from botocore.awsrequest import AWSResponse
from botocore.parsers import create_parser
from botocore.response import StreamingBody

from amtflow.errors import ConfigurationError
from amtflow.local import _guard
from amtflow.local.engine._engine import Engine
from amtflow.local.engine._events import EventSink
from amtflow.local.engine._images import ImageMap
from amtflow.local.engine._model import Clock, ServiceError
from amtflow.local.engine._service import OPERATIONS, RUNTIME_OPERATIONS
from amtflow.settings import load_settings

_HANDLER_ID = "amtflow-local-engine"
#: While the engine runs, no SageMaker request it does not answer (nor moto, when active) reaches AWS.
GUARD = _guard.Scope(
    owner="the local AMT engine (amtflow.local.sagemaker)",
    covers=_guard.sagemaker_service,
    advice=f"The engine serves only {', '.join(sorted(OPERATIONS))}; run this call against AWS outside "
    "amtflow.local.sagemaker(...), or serve it in process with moto's mock_aws (as the twin does).",
)
_state_lock = threading.Lock()
_active: Engine | None = None
_original_make_api_call: Callable[..., Any] | None = None


class _Raw:
    def __init__(self, body: bytes) -> None:
        self._body = body

    def stream(self, **_: Any) -> Iterator[bytes]:
        yield self._body


def _response(status: int, body: bytes, content_type: str = "application/x-amz-json-1.1") -> AWSResponse:
    headers = {"Content-Type": content_type, "x-amzn-RequestId": "local-engine"}
    return AWSResponse("https://sagemaker.local-engine", status, headers, _Raw(body))  # type: ignore[arg-type]


def _before_call(
    model: Any, params: Mapping[str, Any], context: Mapping[str, Any] | None = None, **_: Any
) -> tuple[AWSResponse, dict[str, Any]] | None:
    engine = _active
    if engine is None or model.name not in OPERATIONS:
        return None
    raw = params.get("body") or b"{}"
    request = json.loads(raw.decode("utf-8") if isinstance(raw, bytes) else raw or "{}")
    region = str((context or {}).get("client_region") or "us-east-1")
    try:
        answer = engine.answer(model.name, request, region)
    except ServiceError as e:
        return _error(e, "application/x-amz-json-1.1")
    if answer is None:  # not one of the engine's resources: let the call go on
        return None
    body = json.dumps(answer, default=str).encode()
    http = _response(200, body)
    parser = create_parser("json")
    parsed = parser.parse(
        {"status_code": 200, "headers": dict(http.headers), "body": body}, model.output_shape
    )
    return http, parsed


def _error(e: ServiceError, content_type: str) -> tuple[AWSResponse, dict[str, Any]]:
    body = json.dumps({"__type": e.code.value, "message": e.message}).encode()
    parsed = {
        "Error": {"Code": e.code.value, "Message": e.message},
        "ResponseMetadata": {
            "RequestId": "local-engine",
            "HTTPStatusCode": e.status,
            "HTTPHeaders": {"x-amzn-errortype": e.code.value},
            "RetryAttempts": 0,
        },
    }
    return _response(e.status, body, content_type), parsed


def _before_runtime_call(
    model: Any, params: Mapping[str, Any], context: Mapping[str, Any] | None = None, **_: Any
) -> tuple[AWSResponse, dict[str, Any]] | None:
    engine = _active
    if engine is None or model.name not in RUNTIME_OPERATIONS:
        return None
    parts = str(params.get("url_path") or "").split("/")  # /endpoints/<name>/invocations
    name = unquote(parts[2]) if len(parts) > 2 else ""
    raw = params.get("body") or b""
    body = raw.read() if hasattr(raw, "read") else raw.encode() if isinstance(raw, str) else bytes(raw)
    headers = {str(k): str(v) for k, v in (params.get("headers") or {}).items()}
    try:
        answer, content_type, variant = engine.invoke_endpoint(name, body, headers)
    except ServiceError as e:
        return _error(e, "application/json")
    reply = {"Content-Type": content_type, "x-Amzn-Invoked-Production-Variant": variant}
    http = _response(200, answer, content_type)
    parsed = create_parser("rest-json").parse(
        {
            "status_code": 200,
            "headers": {**dict(http.headers), **reply},
            "body": StreamingBody(io.BytesIO(answer), len(answer)),
        },
        model.output_shape,
    )
    return http, parsed


def _patched_make_api_call(self: Any, operation_name: str, api_params: Any) -> Any:
    service = self.meta.service_model.service_name
    if service == "sagemaker":
        self.meta.events.register_last("before-call.sagemaker", _before_call, unique_id=_HANDLER_ID)
    elif service == "sagemaker-runtime":
        self.meta.events.register_last(
            "before-call.sagemaker-runtime", _before_runtime_call, unique_id=_HANDLER_ID
        )
    assert _original_make_api_call is not None
    return _original_make_api_call(self, operation_name, api_params)


def _install(engine: Engine) -> None:
    global _active, _original_make_api_call
    with _state_lock:
        if _active is not None:
            raise ConfigurationError(
                "a local SageMaker engine is already active in this process; leave it before entering "
                "another."
            )
        _active = engine
        _guard.enter(GUARD)
        _original_make_api_call = getattr(botocore.client.BaseClient, "_make_api_call")  # noqa: B009
        setattr(botocore.client.BaseClient, "_make_api_call", _patched_make_api_call)  # noqa: B010


def _uninstall() -> None:
    global _active, _original_make_api_call
    with _state_lock:
        if _original_make_api_call is not None:
            setattr(botocore.client.BaseClient, "_make_api_call", _original_make_api_call)  # noqa: B010
        _original_make_api_call = None
        if _active is not None:
            _guard.leave(GUARD)
        _active = None


def active_engine() -> Engine | None:
    """The engine serving SageMaker calls right now, if any."""
    return _active


@contextmanager
def sagemaker(
    state_dir: str | Path,
    image_map: str | Path | Mapping[str, Any] | ImageMap | None = None,
    event_sink: EventSink | None = None,
    max_workers: int | None = None,
    *,
    clock: Clock | None = None,
    s3_client: Any = None,
    logs_client: Any = None,
    cloudwatch_client: Any = None,
    seed_source: Callable[[], int] | None = None,
    serving_startup_seconds: float | None = None,
) -> Iterator[Engine]:
    """Serve every boto3 SageMaker tuning/training call in this process with a local engine.

    ``state_dir`` holds the jobs (JSON) and trial directories; ``image_map`` maps training images to local
    commands (a YAML path, a mapping, or None: the file ``AMTFLOW_IMAGE_MAP`` names, else the defaults);
    ``event_sink(event)`` receives each state-change event as EventBridge delivers it (the full envelope;
    default: ``put_events`` on the process's boto3 ``events`` client, served in process only);
    ``max_workers`` caps concurrent training processes (default ``os.cpu_count()``). Optional:
    ``clock`` (time), ``s3_client`` (channels and models; default the process's boto3 S3 client),
    ``logs_client`` (when given, each trial's log is copied to CloudWatch Logs group
    ``/aws/sagemaker/TrainingJobs``), ``cloudwatch_client`` (when given, each trial's metric points are
    put to CloudWatch namespace ``/aws/sagemaker/TrainingJobs``), ``seed_source`` (seeds for jobs without
    RandomSeed), ``serving_startup_seconds`` (how long an endpoint's serving process may take to answer its
    first ``/ping`` with 200; default 8 minutes, as SageMaker). Leaving the block stops running jobs (they end
    ``Stopped``) and kills their processes, the endpoints' serving processes too.
    """
    if image_map is None:
        image_map = load_settings().extra.get("image_map") or None  # AMTFLOW_IMAGE_MAP
    engine = Engine(
        state_dir,
        image_map,
        event_sink=event_sink,
        max_workers=max_workers,
        clock=clock,
        s3_client=s3_client,
        logs_client=logs_client,
        cloudwatch_client=cloudwatch_client,
        seed_source=seed_source,
        serving_startup_seconds=serving_startup_seconds,
    )
    _install(engine)
    try:
        yield engine
    finally:
        try:
            engine.shutdown()
        finally:
            _uninstall()
