"""Nothing leaves the machine: an AWS call the local side does not serve is refused, never sent.

The local AMT engine (:func:`amtflow.local.sagemaker`) and the twin each enter a :func:`local_only` scope
for as long as they run; the engine's event publisher enters one around its own ``PutEvents``. A scope
``covers`` some services (the engine: SageMaker's; the twin: every service). While any scope is active,
botocore's ``Endpoint`` class (which every client sends through, whenever the client was created) is
wrapped at two points:

* ``Endpoint._do_get_response``, before the ``before-send`` handlers run (moto answers there): a scope that
  knows what the local side serves (the twin: the services moto mocks) refuses a covered request it does not
  serve, and an operation a local service answers with ``NotImplementedError`` (moto, for an operation it
  does not mock) is refused the same way;
* ``Endpoint._send``, which opens the HTTP connection and is reached only when nothing answered the request
  (the engine and botocore's ``Stubber`` answer at ``before-call``, moto at ``before-send``): a covered
  request is refused there, before any connection.

A refusal is :class:`NotServedLocallyError`, naming the service and the operation, raised to the caller as
the call's own error (botocore does not retry it). Requests to a loopback address (a local emulator, a
server on this machine) are let through: they do not leave the machine. Calls to services no scope covers
(under the engine alone, e.g. S3 for the channels) are the caller's and go where the caller's client points.
"""

from __future__ import annotations

import ipaddress
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import botocore.endpoint

from amtflow.errors import AmtflowError


@dataclass(frozen=True)
class Scope:
    """What must stay local while a :func:`local_only` block runs.

    ``owner`` names who serves the calls ("the local AMT engine (amtflow.local.sagemaker)");
    ``covers(service)`` says whether a botocore service name (``"sagemaker"``) must never reach AWS;
    ``advice`` is the sentence that tells the caller what to do instead; ``serves(service, operation,
    url)``, when given, says up front whether the local side answers a covered request (refused before any
    handler runs when it does not).
    """

    owner: str
    covers: Callable[[str], bool]
    advice: str
    serves: Callable[[str, str, str], bool] | None = None


class NotServedLocallyError(AmtflowError):
    """An AWS call made under the local engine or the twin that nothing local serves; it was not sent."""

    error_type = "NotServedLocallyError"

    def __init__(self, service: str, operation: str, scope: Scope) -> None:
        super().__init__(
            f"{service} operation {operation} is not emulated locally: {scope.owner} does not serve it, "
            f"so it was refused rather than sent to AWS. {scope.advice}"
        )
        self.service = service
        self.operation = operation
        self.owner = scope.owner


_lock = threading.Lock()
_process_scopes: list[Scope] = []
_context_scopes: ContextVar[tuple[Scope, ...]] = ContextVar("amtflow_local_scopes", default=())
_call: ContextVar[tuple[str, str] | None] = ContextVar("amtflow_local_call", default=None)
_originals: dict[str, Any] = {}
_installed = 0


def _scopes() -> list[Scope]:
    with _lock:
        return [*_process_scopes, *_context_scopes.get()]


def _loopback(url: str) -> bool:
    host = urlsplit(url).hostname or ""
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def refusal(service: str, operation: str, url: str) -> NotServedLocallyError | None:
    """The error a request to ``url`` for ``service``'s ``operation`` is refused with now, if it is."""
    if _loopback(url):
        return None
    for scope in _scopes():
        if scope.covers(service):
            return NotServedLocallyError(service, operation, scope)
    return None


def _do_get_response(endpoint: Any, request: Any, operation_model: Any, context: Any) -> Any:
    service = operation_model.service_model.service_name
    operation = operation_model.name
    if not _loopback(request.url):
        for scope in _scopes():
            if (
                scope.covers(service)
                and scope.serves is not None
                and not scope.serves(service, operation, request.url)
            ):
                return None, NotServedLocallyError(service, operation, scope)
    token = _call.set((service, operation))
    try:
        result = _originals["_do_get_response"](endpoint, request, operation_model, context)
    finally:
        _call.reset(token)
    _, exception = result
    if isinstance(exception, NotImplementedError):
        error = refusal(service, operation, request.url)
        if error is not None:
            error.__cause__ = exception
            return None, error
    return result


def _send(endpoint: Any, request: Any) -> Any:
    service, operation = _call.get() or (str(getattr(endpoint, "_endpoint_prefix", "unknown")), "unknown")
    error = refusal(service, operation, request.url)
    if error is not None:
        raise error
    return _originals["_send"](endpoint, request)


def _install() -> None:
    global _installed
    with _lock:
        if _installed == 0:
            for name, wrapper in (("_do_get_response", _do_get_response), ("_send", _send)):
                _originals[name] = getattr(botocore.endpoint.Endpoint, name)
                setattr(botocore.endpoint.Endpoint, name, wrapper)
        _installed += 1


def _uninstall() -> None:
    global _installed
    with _lock:
        _installed -= 1
        if _installed == 0:
            # the originals stay known: a call already inside a wrapper finishes through them
            for name, original in _originals.items():
                setattr(botocore.endpoint.Endpoint, name, original)


def enter(scope: Scope) -> None:
    """Refuse, from now until :func:`leave`, every AWS call ``scope`` covers that nothing local answers."""
    _install()
    with _lock:
        _process_scopes.append(scope)


def leave(scope: Scope) -> None:
    """End what :func:`enter` began for ``scope``."""
    with _lock:
        _process_scopes.remove(scope)
    _uninstall()


@contextmanager
def local_only(scope: Scope, *, this_context: bool = False) -> Iterator[Scope]:
    """:func:`enter` ``scope`` for the block: for the whole process, or with ``this_context`` only for
    calls made from the current thread (and context) inside the block."""
    if not this_context:
        enter(scope)
        try:
            yield scope
        finally:
            leave(scope)
        return
    _install()
    token = _context_scopes.set((*_context_scopes.get(), scope))
    try:
        yield scope
    finally:
        _context_scopes.reset(token)
        _uninstall()


def sagemaker_service(service: str) -> bool:
    """Whether ``service`` is one of SageMaker's APIs (``sagemaker``, ``sagemaker-runtime``, ...)."""
    return service.startswith("sagemaker")


def every_service(service: str) -> bool:
    """Every service (the twin's scope)."""
    return True
