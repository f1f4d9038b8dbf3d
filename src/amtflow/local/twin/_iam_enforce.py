"""IAM enforced in the twin: every AWS call made on behalf of a principal is authorised before it is served.

The principal of a call is, in order: the role a client of the ASL interpreter was built for (the state
machine's role: its ``lambda:invoke``, ``dynamodb:deleteItem``, ... states), else the principal of the
current context (:meth:`Enforcer.acting_as`: a function's role around its handler, a rule target's role
around its delivery, a function's role around its asynchronous destination), else none: the twin's own
calls, the test's ``twin.client(...)`` calls and the services' own work (the engine publishing events,
writing trial logs) are not a principal's and are not checked.

While the twin runs, ``botocore.client.BaseClient._make_api_call`` is wrapped (before the local engine's
wrapper and moto's handlers, so it sees every call whoever serves it): a call with a principal is mapped to
IAM requests (:mod:`._iam_actions`), each is authorised against the principal's policies
(:mod:`._iam_policies`, :mod:`._iam`), and a denied one raises the service's own access-denied
``ClientError`` with AWS's message, so handlers and the ASL fail or catch exactly as on AWS. Once allowed,
the call runs with no principal: what the service does to serve it (moto delivering an event, the engine
answering) is the service's. Every authorised request is recorded (:meth:`Enforcer.checks`).
"""

from __future__ import annotations

import threading
import weakref
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any

import botocore.client
from botocore.exceptions import ClientError

from amtflow.errors import ConfigurationError
from amtflow.local.twin._iam import Decision, Policies, Principal, Request, authorize, denied_message
from amtflow.local.twin._iam_actions import Site, access_denied, requests_for
from amtflow.local.twin._iam_policies import StackPolicies

_principal: ContextVar[Principal | None] = ContextVar("amtflow_twin_principal", default=None)
_state_lock = threading.Lock()
_active: Enforcer | None = None
_original_make_api_call: Callable[..., Any] | None = None


@dataclass(frozen=True)
class Check:
    """One authorised request, as the enforcer decided it."""

    principal: Principal
    request: Request
    decision: Decision
    operation: str  # "service.Operation"


class Enforcer:
    """The stack's policies, who acts as whom, and the record of every decision."""

    def __init__(self, policies: StackPolicies, site: Site) -> None:
        self.policies = policies
        self._site = site
        self._client_principals: weakref.WeakKeyDictionary[Any, Principal] = weakref.WeakKeyDictionary()
        self._checks: list[Check] = []
        self._checks_lock = threading.Lock()

    # ------------------------------------------------------------------ principals

    def role_principal(self, role_arn: str, session: str) -> Principal:
        if self.policies.role(role_arn) is None:
            raise ConfigurationError(
                f"the role {role_arn} is not a role of the stack: the twin cannot authorise calls made as it"
            )
        return Principal.role(role_arn, session)

    def acting_as(self, principal: Principal | None) -> AbstractContextManager[None]:
        """Calls made in this context (this thread) are ``principal``'s until the block ends."""
        return _acting_as(principal)

    def tag_client(self, client: Any, role_arn: str | None) -> None:
        """Calls through ``client`` (built by the ASL interpreter) are made as ``role_arn``."""
        if role_arn is None:
            raise ConfigurationError("a state's service call has no role: the twin cannot authorise it")
        self._client_principals[client] = self.role_principal(role_arn, "StepFunctions")

    def current(self) -> Principal | None:
        """The principal of the current context, if any."""
        return _principal.get()

    def principal_of(self, client: Any) -> Principal | None:
        return self._client_principals.get(client) or _principal.get()

    # ------------------------------------------------------------------ decisions

    def decide(self, principal: Principal, request: Request, operation: str) -> Decision:
        """Authorise one request (recorded), without raising."""
        decision = authorize(principal, request, self._policies_for(principal, request))
        with self._checks_lock:
            self._checks.append(Check(principal, request, decision, operation))
        return decision

    def _policies_for(self, principal: Principal, request: Request) -> Policies:
        resource = self.policies.functions.get(_unqualified_function(request.resource), ())
        if principal.service:
            return Policies(resource=resource)
        role = self.policies.role(principal.arn)
        return role.policies(resource) if role is not None else Policies(resource=resource)

    def check_call(self, principal: Principal, service: str, operation: str, params: Any) -> None:
        """Raise the service's access-denied ``ClientError`` unless every request of the call is allowed."""
        for request in requests_for(service, operation, params, self._site):
            decision = self.decide(principal, request, f"{service}.{operation}")
            if not decision.allowed:
                raise _denied(service, operation, denied_message(principal, request, decision))

    def missing_object_refusal(
        self, principal: Principal, service: str, operation: str, params: Any, error: ClientError
    ) -> ClientError | None:
        """S3 answers a read of a missing key with NoSuchKey (404) only to a caller allowed to list the
        bucket; to any other caller it is AccessDenied (403), so that keys cannot be probed."""
        code = str(error.response.get("Error", {}).get("Code", ""))
        reads = operation in ("GetObject", "HeadObject")
        if service != "s3" or not reads or code not in ("NoSuchKey", "404"):
            return None
        request = Request("s3:ListBucket", f"arn:aws:s3:::{params['Bucket']}")
        decision = self.decide(principal, request, f"{service}.{operation}")
        if decision.allowed:
            return None
        return _denied(service, operation, denied_message(principal, request, decision))

    def checks(self) -> list[Check]:
        """Every request authorised so far (allowed or denied), in order."""
        with self._checks_lock:
            return list(self._checks)


def _denied(service: str, operation: str, message: str) -> ClientError:
    code, status = access_denied(service)
    if operation == "HeadObject":  # a HEAD response has no body: botocore reports the status as the code
        code = str(status)
    return ClientError(
        {
            "Error": {"Code": code, "Message": message},
            "ResponseMetadata": {
                "RequestId": "amtflow-twin-iam",
                "HTTPStatusCode": status,
                "HTTPHeaders": {},
                "RetryAttempts": 0,
                "HostId": "",
            },
        },
        operation,
    )


def _unqualified_function(resource: str) -> str:
    parts = resource.split(":")
    return ":".join(parts[:7]) if resource.startswith("arn:aws:lambda:") and len(parts) > 7 else resource


@contextmanager
def _acting_as(principal: Principal | None) -> Iterator[None]:
    token = _principal.set(principal)
    try:
        yield
    finally:
        _principal.reset(token)


def _patched_make_api_call(client: Any, operation_name: str, api_params: Any) -> Any:
    assert _original_make_api_call is not None
    enforcer = _active
    principal = enforcer.principal_of(client) if enforcer is not None else None
    if enforcer is None or principal is None:
        return _original_make_api_call(client, operation_name, api_params)
    service = client.meta.service_model.service_name
    try:
        enforcer.check_call(principal, service, operation_name, api_params)
    except ClientError as e:
        # the service's modelled class where it has one (client.exceptions.AuthorizationErrorException)
        error_class = client.exceptions.from_code(e.response["Error"]["Code"])
        raise error_class(e.response, operation_name) from None
    with _acting_as(None):  # what the service does to serve the call is its own
        try:
            return _original_make_api_call(client, operation_name, api_params)
        except ClientError as e:
            refusal = enforcer.missing_object_refusal(principal, service, operation_name, api_params, e)
            if refusal is None:
                raise
            raise refusal from None


@contextmanager
def enforcing(enforcer: Enforcer) -> Iterator[Enforcer]:
    """Authorise every principal's AWS call in this process with ``enforcer`` until the block ends."""
    global _active, _original_make_api_call
    with _state_lock:
        if _active is not None:
            raise ConfigurationError("IAM enforcement is already active in this process")
        _active = enforcer
        _original_make_api_call = getattr(botocore.client.BaseClient, "_make_api_call")  # noqa: B009
        setattr(botocore.client.BaseClient, "_make_api_call", _patched_make_api_call)  # noqa: B010
    try:
        yield enforcer
    finally:
        with _state_lock:
            if _original_make_api_call is not None:
                setattr(botocore.client.BaseClient, "_make_api_call", _original_make_api_call)  # noqa: B010
            _original_make_api_call = None
            _active = None


def as_service() -> AbstractContextManager[None]:
    """Calls made in this context are a service's own (no principal's): not authorised."""
    return _acting_as(None)
