"""Preflight: the rule catalogue that keeps a misconfigured tuning job from costing money.

Importing the package registers every rule: the service constraints (tag ``service``, the local engine's
request validation), the AMT best practices (tag ``practice``), the cost caps (tag ``budget``) and the
post-run diagnosis (tag ``diagnosis``).
"""

from amtflow.preflight import _metrics, _practice, _service  # noqa: F401  (registers the rules)
from amtflow.preflight._findings import (
    Finding,
    LintContext,
    RuleSpec,
    Severity,
    catalogue,
    rule,
    run_rules,
)
from amtflow.preflight._service import service_error_code

__all__ = [
    "Finding",
    "LintContext",
    "RuleSpec",
    "Severity",
    "catalogue",
    "rule",
    "run_rules",
    "service_error_code",
]
