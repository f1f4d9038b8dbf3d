"""Preflight: the rule catalogue that keeps a misconfigured tuning job from costing money.

Importing the package registers every rule: the service constraints (tag ``service``, also the local
engine's request validation), the AMT best practices (tag ``practice``), the cost caps (tag ``budget``),
the deployment section (tag ``deployment``), the monitoring section (tag ``monitoring``), the post-run
diagnosis (tag ``diagnosis``) and the trials' training health (tag ``health``). See ``docs/preflight.md``
for the catalogue.

Typical use::

    report = lint_request(request, context_for_profile(profile, request, month_to_date_usd=12.5))
    if report.has_errors:
        raise PreflightRejectedError(report.to_text())
"""

from amtflow.preflight import (  # noqa: F401  (registers rules)
    _budget,
    _deployment,
    _diagnose,
    _metrics,
    _monitoring,
    _practice,
    _service,
    _service_ranges,
    _warm_start,
)
from amtflow.preflight._budget import CostEstimate, PriceTable, default_prices, estimate_cost
from amtflow.preflight._deployment import (
    ALARM_PERIOD_S,
    DEPLOYMENT_TAG,
    HOURS_PER_MONTH,
    JOB_PREFIX_KEY,
    deployment_evidence,
    deployment_findings,
    endpoint_usd_per_hour,
)
from amtflow.preflight._diagnose import RunEvidence, diagnose
from amtflow.preflight._findings import (
    Finding,
    LintContext,
    RuleSpec,
    Severity,
    catalogue,
    rule,
    run_rules,
)
from amtflow.preflight._lineage import LineageEvidence, lineage_evidence
from amtflow.preflight._monitoring import MONITORING_TAG, monitoring_evidence
from amtflow.preflight._report import (
    LINT_TAGS,
    PROFILE_LINT_TAGS,
    LintReport,
    context_for_profile,
    lint_request,
    render_catalogue,
)
from amtflow.preflight._service import service_error_code

__all__ = [
    "ALARM_PERIOD_S",
    "DEPLOYMENT_TAG",
    "HOURS_PER_MONTH",
    "JOB_PREFIX_KEY",
    "LINT_TAGS",
    "MONITORING_TAG",
    "PROFILE_LINT_TAGS",
    "CostEstimate",
    "Finding",
    "LineageEvidence",
    "LintContext",
    "LintReport",
    "PriceTable",
    "RuleSpec",
    "RunEvidence",
    "Severity",
    "catalogue",
    "context_for_profile",
    "default_prices",
    "deployment_evidence",
    "deployment_findings",
    "diagnose",
    "endpoint_usd_per_hour",
    "estimate_cost",
    "lineage_evidence",
    "lint_request",
    "monitoring_evidence",
    "render_catalogue",
    "rule",
    "run_rules",
    "service_error_code",
]
