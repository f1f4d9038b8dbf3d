"""Preflight: the rule catalogue that keeps a misconfigured tuning job from costing money."""

from amtflow.preflight._findings import (
    Finding,
    LintContext,
    RuleSpec,
    Severity,
    catalogue,
    rule,
    run_rules,
)

__all__ = ["Finding", "LintContext", "RuleSpec", "Severity", "catalogue", "rule", "run_rules"]
