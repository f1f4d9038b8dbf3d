"""The HTTP side: a threading stdlib server in front of one engine.

Each request is read, checked (:mod:`._wire`) and handed to :meth:`Engine.handle`; the engine's jobs run
in this process, so they outlive the client that created them. Only ``POST /`` (the ``sagemaker`` API) and
``POST /endpoints/<name>/invocations`` (``sagemaker-runtime`` InvokeEndpoint, rest-json: the raw body and
its ``Content-Type``/``Accept`` headers in, the container's answer out) are served. Unless the
service was started for remote use, the ``Host`` header must name this machine's loopback (a web page
that rebinds its own name to 127.0.0.1 is refused), and no CORS headers are ever sent.
"""

from __future__ import annotations

import ipaddress
import logging
import re
import socket
import threading
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import unquote

from amtflow.local.engine import Engine, ServiceError
from amtflow.local.server._wire import (
    CONTENT_TYPE,
    MAX_BODY_BYTES,
    MAX_INVOCATION_BYTES,
    WireError,
    check_request,
    encode_answer,
    epoch_timestamps,
    operation_of,
    parse_body,
    region_of,
    service_error,
)

logger = logging.getLogger(__name__)

_LOOPBACK_NAMES = frozenset({"localhost", "localhost.localdomain"})
_INVOCATIONS = re.compile(r"^/endpoints/([^/?]+)/invocations$")
#: The request headers of InvokeEndpoint the engine passes on.
_RUNTIME_HEADERS = (
    "Content-Type",
    "Accept",
    "X-Amzn-SageMaker-Target-Variant",
    "X-Amzn-SageMaker-Custom-Attributes",
)


def is_loopback(host: str) -> bool:
    """Whether ``host`` (a name or an address, maybe in brackets) is this machine's loopback."""
    host = host.strip("[]").lower()
    if host in _LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _host_name(header: str) -> str:
    """The host part of a ``Host`` header (``127.0.0.1:8080``, ``[::1]:8080``, ``localhost``)."""
    if header.startswith("["):
        return header[1 : header.find("]")] if "]" in header else header
    return header.rsplit(":", 1)[0] if header.count(":") == 1 else header


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, address: tuple[str, int], engine: Engine, *, remote: bool) -> None:
        self.address_family = socket.AF_INET6 if ":" in address[0] else socket.AF_INET
        super().__init__(address, _Handler)
        self.engine = engine
        self.remote = remote


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    server_version = "amtflow-local-serve"
    protocol_version = "HTTP/1.1"

    def do_POST(self) -> None:
        request_id = str(uuid.uuid4())
        operation = "-"
        try:
            self._check_host()
            invocation = _INVOCATIONS.match(self.path.split("?", 1)[0])
            if invocation is not None:
                operation = "InvokeEndpoint"
                self._invoke(unquote(invocation.group(1)), request_id)
                return
            if self.path.split("?", 1)[0] != "/":
                raise WireError(
                    "UnknownOperationException", f"POST {self.path}: the service answers at /.", 404
                )
            operation = operation_of(self.headers.get("X-Amz-Target"))
            params = parse_body(self._read_body())
            check_request(operation, params)
            params = epoch_timestamps(operation, params)
            region = region_of(self.headers.get("Authorization"))
            try:
                answer = self.server.engine.handle(operation, params, region)
            except ServiceError as e:
                raise service_error(e) from None
            self._send(200, encode_answer(answer), request_id)
        except WireError as e:
            self._send(e.status, e.body(), request_id, error=e.code)
        except Exception as e:  # a bug answers 500 with its kind, never a stack trace
            logger.exception("%s failed", operation)
            error = WireError("InternalFailure", f"{operation}: {type(e).__name__}: {e}", 500)
            self._send(error.status, error.body(), request_id, error=error.code)

    def _invoke(self, name: str, request_id: str) -> None:
        body = self._read_body(MAX_INVOCATION_BYTES)
        headers = {k: v for k in _RUNTIME_HEADERS if (v := self.headers.get(k)) is not None}
        try:
            answer, content_type, variant = self.server.engine.invoke_endpoint(name, body, headers)
        except ServiceError as e:
            raise service_error(e) from None
        self._send(
            200,
            answer,
            request_id,
            content_type=content_type,
            extra={"x-Amzn-Invoked-Production-Variant": variant},
        )

    def do_GET(self) -> None:
        self._refuse()

    def do_PUT(self) -> None:
        self._refuse()

    def do_DELETE(self) -> None:
        self._refuse()

    def do_OPTIONS(self) -> None:
        self._refuse()

    def _refuse(self) -> None:
        self.close_connection = True
        error = WireError(
            "UnknownOperationException",
            f"{self.command} {self.path}: the service answers only POST / with an X-Amz-Target header "
            "and POST /endpoints/<name>/invocations.",
            405,
        )
        self._send(error.status, error.body(), str(uuid.uuid4()), error=error.code)

    def _check_host(self) -> None:
        if self.server.remote:
            return
        host = _host_name(self.headers.get("Host") or "")
        if not is_loopback(host):
            raise WireError(
                "AccessDeniedException",
                f"Host {host!r} is not this machine's loopback; the service answers only requests "
                "addressed to 127.0.0.1, ::1 or localhost.",
                403,
            )

    def _read_body(self, limit: int = MAX_BODY_BYTES) -> bytes:
        try:
            length = int(self.headers.get("Content-Length") or 0)
        except ValueError:
            raise WireError("SerializationException", "Content-Length is not a number.") from None
        if length > limit:
            self.close_connection = True
            raise WireError(
                "SerializationException",
                f"the request body has {length} bytes; the service reads at most {limit}.",
                413,
            )
        return self.rfile.read(length) if length > 0 else b""

    def _send(
        self,
        status: int,
        body: bytes,
        request_id: str,
        *,
        error: str | None = None,
        content_type: str = CONTENT_TYPE,
        extra: dict[str, str] | None = None,
    ) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("x-amzn-RequestId", request_id)
        for key, value in (extra or {}).items():
            self.send_header(key, value)
        if error is not None:
            self.send_header("x-amzn-ErrorType", error)
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        logger.info("%s %s", self.address_string(), format % args)


class LocalService:
    """The engine behind an HTTP listener on ``host:port`` (``port`` 0: a free one)."""

    def __init__(
        self, engine: Engine, host: str = "127.0.0.1", port: int = 0, *, remote: bool = False
    ) -> None:
        self.engine = engine
        self._server = _Server((host, port), engine, remote=remote)
        self._thread = threading.Thread(target=self._server.serve_forever, name="amtflow-serve", daemon=True)

    @property
    def url(self) -> str:
        """The endpoint URL to give clients (``--endpoint-url``, ``endpoint_url=``)."""
        host, port = self._server.server_address[:2]
        host = host.decode() if isinstance(host, bytes) else str(host)
        shown = f"[{host}]" if ":" in host else host
        return f"http://{shown}:{port}"

    def start(self) -> None:
        """Answer requests from a background thread."""
        self._thread.start()

    def close(self) -> None:
        """Stop answering (requests in flight finish); the engine and its jobs are left to the caller."""
        if self._thread.is_alive():
            self._server.shutdown()
        self._server.server_close()
