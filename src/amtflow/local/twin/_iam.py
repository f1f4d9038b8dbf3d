"""IAM policy evaluation, as AWS does it for one account: a pure function of policies and one request.

:func:`authorize` decides whether a principal may perform one action on one resource with a request
context: an explicit ``Deny`` in any policy that applies wins; otherwise an ``Allow`` of an identity-based
policy (limited by the role's permissions boundary, if it has one) or of the resource's own policy (for
a service principal, such as EventBridge invoking a function) allows; otherwise the request is implicitly
denied. Actions match case-insensitively with ``*``/``?`` wildcards, resources case-sensitively with the
same wildcards; ``NotAction``/``NotResource``/``NotPrincipal`` invert their element. Conditions support the
string, ARN, numeric, boolean and ``Null`` operators, the ``...IfExists`` suffix and the
``ForAnyValue:``/``ForAllValues:`` set prefixes; condition keys are case-insensitive. A policy using an
operator the evaluator does not know is refused when it is loaded (:class:`PolicyError`), never evaluated
as if it matched.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from enum import Enum
from functools import lru_cache
from typing import Any

from amtflow.errors import AmtflowError

ContextValue = str | Sequence[str]


class PolicyError(AmtflowError):
    """A policy the twin's evaluator cannot evaluate faithfully (the message names the policy and element)."""

    error_type = "PolicyError"


class Effect(Enum):
    ALLOW = "Allow"
    DENY = "Deny"


@dataclass(frozen=True)
class Statement:
    """One policy statement, as parsed (every element a tuple of patterns)."""

    effect: Effect
    actions: tuple[str, ...] = ()
    not_actions: tuple[str, ...] = ()
    resources: tuple[str, ...] = ()
    not_resources: tuple[str, ...] = ()
    principals: tuple[str, ...] = ()  # "*", "service:<name>", "aws:<arn>" (resource policies only)
    conditions: tuple[tuple[str, str, tuple[str, ...]], ...] = ()  # (operator, key, values)
    sid: str = ""
    source: str = ""  # the policy it came from: "<role logical id>/<policy name>"

    def names(self) -> str:
        return f"{self.source}#{self.sid}" if self.sid else self.source


@dataclass(frozen=True)
class Principal:
    """Who makes a call: a role session (a function, a state machine, a rule's role) or an AWS service."""

    arn: str  # the role's ARN, or the service's name ("events.amazonaws.com")
    session: str = ""
    service: bool = False
    source_arn: str = ""  # for a service principal: the resource on whose behalf it acts (the rule)

    @classmethod
    def role(cls, role_arn: str, session: str) -> Principal:
        return cls(role_arn, session)

    @classmethod
    def aws_service(cls, name: str, *, source_arn: str = "") -> Principal:
        return cls(name, service=True, source_arn=source_arn)

    @property
    def account(self) -> str:
        parts = (self.source_arn if self.service else self.arn).split(":")
        return parts[4] if len(parts) > 4 else ""

    @property
    def caller(self) -> str:
        """How AWS names the caller in an access-denied message."""
        if self.service:
            return self.arn
        role_name = self.arn.rsplit("/", 1)[-1]
        return f"arn:aws:sts::{self.account}:assumed-role/{role_name}/{self.session}"


@dataclass(frozen=True)
class Request:
    """One authorisation question: ``action`` (``service:Action``) on ``resource`` (an ARN or ``*``)."""

    action: str
    resource: str
    context: Mapping[str, ContextValue] = field(default_factory=dict)


class Outcome(Enum):
    ALLOWED = "allowed"
    EXPLICIT_DENY = "explicit deny"
    IMPLICIT_DENY = "implicit deny"


@dataclass(frozen=True)
class Decision:
    outcome: Outcome
    statement: Statement | None = None  # the statement that decided (an Allow or the Deny)
    boundary: bool = False  # denied because the permissions boundary allows nothing here

    @property
    def allowed(self) -> bool:
        return self.outcome is Outcome.ALLOWED


@dataclass(frozen=True)
class Policies:
    """What is evaluated for one principal: its identity policies, its boundary, the resource's policy."""

    identity: tuple[Statement, ...] = ()
    boundary: tuple[Statement, ...] | None = None
    resource: tuple[Statement, ...] = ()


def denied_message(principal: Principal, request: Request, decision: Decision) -> str:
    """AWS's access-denied message for ``request``."""
    head = (
        f"User: {principal.caller} is not authorized to perform: {request.action} "
        f"on resource: {request.resource}"
    )
    if decision.outcome is Outcome.EXPLICIT_DENY:
        kind = "resource-based" if decision.statement and decision.statement.principals else "identity-based"
        return f"{head} with an explicit deny in an {kind} policy"
    if decision.boundary:
        return f"{head} because no permissions boundary allows the {request.action} action"
    if principal.service:
        return f"{head} because no resource-based policy allows the {request.action} action"
    return f"{head} because no identity-based policy allows the {request.action} action"


# ------------------------------------------------------------------ evaluation


def authorize(principal: Principal, request: Request, policies: Policies) -> Decision:
    """Whether ``principal`` may make ``request`` under ``policies`` (AWS's evaluation logic, one account)."""
    context = _context(principal, request)
    identity = [] if principal.service else [s for s in policies.identity if _applies(s, request, context)]
    resource = [
        s for s in policies.resource if _applies(s, request, context) and _principal_matches(s, principal)
    ]
    for statement in (*identity, *resource):
        if statement.effect is Effect.DENY:
            return Decision(Outcome.EXPLICIT_DENY, statement)
    boundary_ok = True
    if policies.boundary is not None and not principal.service:
        bounded = [s for s in policies.boundary if _applies(s, request, context)]
        if any(s.effect is Effect.DENY for s in bounded):
            return Decision(Outcome.EXPLICIT_DENY, next(s for s in bounded if s.effect is Effect.DENY))
        boundary_ok = any(s.effect is Effect.ALLOW for s in bounded)
    for statement in resource:
        return Decision(Outcome.ALLOWED, statement)  # a resource policy's grant is not bounded
    allow = next((s for s in identity if s.effect is Effect.ALLOW), None)
    if allow is not None and boundary_ok:
        return Decision(Outcome.ALLOWED, allow)
    return Decision(Outcome.IMPLICIT_DENY, boundary=allow is not None and not boundary_ok)


def _context(principal: Principal, request: Request) -> dict[str, ContextValue]:
    context: dict[str, ContextValue] = {"aws:securetransport": "true"}
    if principal.service:
        context["aws:principalservicename"] = principal.arn
        if principal.source_arn:
            context["aws:sourcearn"] = principal.source_arn
            context["aws:sourceaccount"] = principal.account
    else:
        context["aws:principalarn"] = principal.arn
        context["aws:principalaccount"] = principal.account
        context["aws:principaltype"] = "AssumedRole"
    context.update({k.lower(): v for k, v in request.context.items()})
    return context


def _applies(statement: Statement, request: Request, context: Mapping[str, ContextValue]) -> bool:
    if statement.actions:
        if not any(_glob(p, request.action, fold=True) for p in statement.actions):
            return False
    elif any(_glob(p, request.action, fold=True) for p in statement.not_actions):
        return False
    if statement.resources:
        if not any(_glob(p, request.resource) for p in statement.resources):
            return False
    elif statement.not_resources and any(_glob(p, request.resource) for p in statement.not_resources):
        return False
    return all(_condition(op, key, values, context) for op, key, values in statement.conditions)


def _principal_matches(statement: Statement, principal: Principal) -> bool:
    wanted = f"service:{principal.arn}" if principal.service else f"aws:{principal.arn}"
    for pattern in statement.principals:
        if pattern == "*" or pattern == wanted:
            return True
        if not principal.service and pattern == f"aws:arn:aws:iam::{principal.account}:root":
            return True
    return False


@lru_cache(maxsize=4096)
def _pattern(pattern: str, fold: bool) -> re.Pattern[str]:
    body = "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern)
    return re.compile(f"^{body}$", (re.IGNORECASE | re.DOTALL) if fold else re.DOTALL)


def _glob(pattern: str, value: str, *, fold: bool = False) -> bool:
    return _pattern(pattern, fold).match(value) is not None


# ------------------------------------------------------------------ conditions

_Test = Callable[[str, str], bool]
_STRING_OPS: dict[str, tuple[_Test, bool]] = {
    "StringEquals": (lambda p, v: p == v, False),
    "StringNotEquals": (lambda p, v: p == v, True),
    "StringEqualsIgnoreCase": (lambda p, v: p.lower() == v.lower(), False),
    "StringNotEqualsIgnoreCase": (lambda p, v: p.lower() == v.lower(), True),
    "StringLike": (lambda p, v: _glob(p, v), False),
    "StringNotLike": (lambda p, v: _glob(p, v), True),
    "ArnEquals": (lambda p, v: _arn_like(p, v), False),
    "ArnLike": (lambda p, v: _arn_like(p, v), False),
    "ArnNotEquals": (lambda p, v: _arn_like(p, v), True),
    "ArnNotLike": (lambda p, v: _arn_like(p, v), True),
    "NumericEquals": (lambda p, v: _num(v) == _num(p), False),
    "NumericNotEquals": (lambda p, v: _num(v) == _num(p), True),
    "NumericLessThan": (lambda p, v: _num(v) < _num(p), False),
    "NumericLessThanEquals": (lambda p, v: _num(v) <= _num(p), False),
    "NumericGreaterThan": (lambda p, v: _num(v) > _num(p), False),
    "NumericGreaterThanEquals": (lambda p, v: _num(v) >= _num(p), False),
    "Bool": (lambda p, v: p.lower() == v.lower(), False),
}
"""Operator → (does one policy value match one request value, is the operator negated)."""


def _num(text: str) -> float:
    try:
        return float(text)
    except ValueError:
        return float("nan")


def _arn_like(pattern: str, value: str) -> bool:
    # ARNs compare element by element (six colon-separated parts); wildcards stay within the resource part
    p_parts, v_parts = pattern.split(":", 5), value.split(":", 5)
    if len(p_parts) != 6 or len(v_parts) != 6:
        return False
    return all(_glob(p, v) for p, v in zip(p_parts, v_parts, strict=True))


def split_operator(operator: str) -> tuple[str, str, bool]:
    """``(set prefix, base operator, if-exists)`` of a condition operator; :class:`PolicyError` if unknown."""
    prefix, _, base = operator.rpartition(":")
    if prefix not in ("", "ForAnyValue", "ForAllValues"):
        raise PolicyError(f"condition operator {operator!r} has an unknown set prefix {prefix!r}")
    if_exists = base.endswith("IfExists") and base != "IfExists"
    base = base.removesuffix("IfExists") if if_exists else base
    if base != "Null" and base not in _STRING_OPS:
        raise PolicyError(
            f"condition operator {operator!r} is not one the twin evaluates "
            f"({', '.join(sorted(_STRING_OPS))}, Null, with IfExists / ForAnyValue: / ForAllValues:)"
        )
    return prefix, base, if_exists


def _condition(operator: str, key: str, values: tuple[str, ...], context: Mapping[str, ContextValue]) -> bool:
    prefix, base, if_exists = split_operator(operator)
    present = context.get(key.lower())
    if base == "Null":
        return any((present is None) == (v.lower() == "true") for v in values)
    if present is None:
        return if_exists or prefix == "ForAllValues"
    requested = [present] if isinstance(present, str) else list(present)
    test, negated = _STRING_OPS[base]

    def matches(value: str) -> bool:
        hit = any(test(p, value) for p in values)
        return not hit if negated else hit

    if prefix == "ForAllValues":
        return all(matches(v) for v in requested)
    if prefix == "ForAnyValue":
        return any(matches(v) for v in requested)
    if negated:  # a negated single-valued operator: no policy value matches the request's value
        return all(matches(v) for v in requested)
    return any(matches(v) for v in requested)


# ------------------------------------------------------------------ parsing


def parse_policy(document: Mapping[str, Any], *, source: str) -> tuple[Statement, ...]:
    """The statements of one policy document (identity- or resource-based); :class:`PolicyError` if the
    twin cannot evaluate it faithfully."""
    raw = document.get("Statement")
    if raw is None:
        raise PolicyError(f"{source}: the policy has no Statement")
    items = [raw] if isinstance(raw, Mapping) else list(raw)
    return tuple(_statement(item, source=source, index=i) for i, item in enumerate(items))


def _strings(value: Any, where: str) -> tuple[str, ...]:
    if value is None:
        return ()
    if isinstance(value, Mapping):
        raise PolicyError(f"{where}: {value!r} is not a string (an unresolved intrinsic function?)")
    items = [value] if isinstance(value, str | int | float | bool) else list(value)
    out: list[str] = []
    for item in items:
        if isinstance(item, bool):
            out.append("true" if item else "false")
        elif isinstance(item, str | int | float):
            out.append(str(item))
        else:
            raise PolicyError(f"{where}: {item!r} is not a string (an unresolved intrinsic function?)")
    return tuple(out)


def _statement(item: Mapping[str, Any], *, source: str, index: int) -> Statement:
    sid = str(item.get("Sid", ""))
    where = f"{source} statement {sid or index}"
    effect = item.get("Effect")
    if effect not in ("Allow", "Deny"):
        raise PolicyError(f"{where}: Effect must be Allow or Deny, got {effect!r}")
    actions, not_actions = _strings(item.get("Action"), where), _strings(item.get("NotAction"), where)
    if bool(actions) == bool(not_actions):
        raise PolicyError(f"{where}: give exactly one of Action and NotAction")
    resources, not_resources = _strings(item.get("Resource"), where), _strings(item.get("NotResource"), where)
    principals = _principals(item, where)
    if not resources and not not_resources and not principals:
        raise PolicyError(f"{where}: an identity-based statement needs Resource or NotResource")
    conditions: list[tuple[str, str, tuple[str, ...]]] = []
    for operator, block in dict(item.get("Condition") or {}).items():
        try:
            split_operator(operator)  # refuse an unknown operator now
        except PolicyError as e:
            raise PolicyError(f"{where}: {e}") from e
        if not isinstance(block, Mapping):
            raise PolicyError(f"{where}: Condition {operator} must map keys to values")
        for key, values in block.items():
            conditions.append((operator, str(key), _strings(values, where)))
    return Statement(
        effect=Effect(effect),
        actions=actions,
        not_actions=not_actions,
        resources=resources,
        not_resources=not_resources,
        principals=principals,
        conditions=tuple(conditions),
        sid=sid,
        source=source,
    )


def _principals(item: Mapping[str, Any], where: str) -> tuple[str, ...]:
    if "NotPrincipal" in item:
        raise PolicyError(f"{where}: NotPrincipal is not evaluated by the twin")
    raw = item.get("Principal")
    if raw is None:
        return ()
    if raw == "*":
        return ("*",)
    out: list[str] = []
    for kind, values in dict(raw).items():
        for value in _strings(values, where):
            if kind == "Service":
                out.append(f"service:{value}")
            elif kind == "AWS":
                out.append("*" if value == "*" else f"aws:{value}")
            else:
                out.append(f"{kind.lower()}:{value}")
    return tuple(out)


def statements_without(
    statements: Iterable[Statement], action: str, *, source: str | None = None
) -> tuple[Statement, ...]:
    """``statements`` with ``action`` taken out of every Allow's ``Action`` (of ``source`` only, if given);
    a statement left with no action is dropped. For checking that a permission is needed."""
    out: list[Statement] = []
    for s in statements:
        if s.effect is not Effect.ALLOW or not s.actions or (source is not None and s.source != source):
            out.append(s)
            continue
        kept = tuple(a for a in s.actions if a.lower() != action.lower())
        if kept:
            out.append(replace(s, actions=kept))
    return tuple(out)
