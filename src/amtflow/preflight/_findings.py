"""Findings and the rule catalogue.

A rule is a function ``(LintContext) -> Iterable[Finding]`` registered with :func:`rule` under a stable ID.
Rules never raise on bad input: a malformed request is itself a finding. The same catalogue serves the
``amtflow lint`` command, the ``start_tuning`` handler and the local AMT engine (which runs only the rules
tagged ``service``, i.e. the constraints SageMaker itself enforces).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any


class Severity(StrEnum):
    """``error`` blocks a launch; ``warning`` is reported and travels with the run."""

    ERROR = "error"
    WARNING = "warning"


@dataclass(frozen=True)
class Finding:
    """One problem found in a tuning request.

    ``field`` is a dotted path into the ``CreateHyperParameterTuningJob`` request (or the profile key it
    came from), ``message`` says what is wrong, ``why`` why it matters, ``fix`` what to change.
    """

    rule: str
    severity: Severity
    field: str
    message: str
    why: str = ""
    fix: str = ""

    @property
    def is_error(self) -> bool:
        return self.severity is Severity.ERROR

    def to_dict(self) -> dict[str, str]:
        return {
            "rule": self.rule,
            "severity": self.severity.value,
            "field": self.field,
            "message": self.message,
            "why": self.why,
            "fix": self.fix,
        }

    def __str__(self) -> str:
        text = f"[{self.severity.value}] {self.rule} {self.field}: {self.message}"
        if self.fix:
            text += f" Fix: {self.fix}"
        return text


@dataclass
class LintContext:
    """What a rule may look at.

    ``request`` is the exact ``CreateHyperParameterTuningJob`` request. The other members are optional
    evidence: sample log lines per source (a profile's samples, a previous trial's log, a canary run),
    earlier jobs of the same model (for warm-start and cost rules), parents' descriptions, prices.
    """

    request: Mapping[str, Any]
    sample_logs: Mapping[str, Sequence[str]] = field(default_factory=dict)
    parents: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    extra: Mapping[str, Any] = field(default_factory=dict)


RuleFn = Callable[[LintContext], Iterable[Finding]]


@dataclass(frozen=True)
class RuleSpec:
    id: str
    severity: Severity
    title: str
    tags: frozenset[str]
    fn: RuleFn


_RULES: dict[str, RuleSpec] = {}


def rule(
    rule_id: str, severity: Severity, title: str, *, tags: Iterable[str] = ()
) -> Callable[[RuleFn], RuleFn]:
    """Register a rule under a stable ID. Tag ``service`` marks a constraint SageMaker itself enforces."""

    def decorator(fn: RuleFn) -> RuleFn:
        if rule_id in _RULES:
            raise ValueError(f"duplicate rule id {rule_id}")
        _RULES[rule_id] = RuleSpec(rule_id, severity, title, frozenset(tags), fn)
        return fn

    return decorator


def catalogue() -> list[RuleSpec]:
    """Every registered rule, by ID."""
    return [_RULES[k] for k in sorted(_RULES)]


def run_rules(context: LintContext, *, tags: Iterable[str] | None = None) -> list[Finding]:
    """Run every rule (or those carrying one of ``tags``); errors first, then by rule ID and field."""
    wanted = frozenset(tags) if tags is not None else None
    found: list[Finding] = []
    for spec in catalogue():
        if wanted is not None and not (spec.tags & wanted):
            continue
        found.extend(spec.fn(context))
    return sorted(found, key=lambda f: (not f.is_error, f.rule, f.field))
