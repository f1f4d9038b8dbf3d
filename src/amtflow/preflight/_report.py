"""The linter's front door: :func:`lint_request` → :class:`LintReport`, and the catalogue as Markdown."""

from __future__ import annotations

import inspect
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

from amtflow.preflight._budget import (
    EARLIER_RUNTIMES_KEY,
    MAX_USD_PER_MONTH_KEY,
    MAX_USD_PER_RUN_KEY,
    MONTH_TO_DATE_KEY,
    PRICES_KEY,
    CostEstimate,
    estimate_for_context,
)
from amtflow.preflight._deployment import DEPLOYMENT_TAG, deployment_evidence
from amtflow.preflight._findings import Finding, LintContext, catalogue, run_rules
from amtflow.preflight._lineage import PARENT_WARM_STARTS_KEY, lineage_evidence
from amtflow.preflight._monitoring import MONITORING_TAG, monitoring_evidence
from amtflow.preflight._practice import COMPATIBLE_PARENTS_KEY
from amtflow.preflight._profile_keys import profile_key

if TYPE_CHECKING:
    from datetime import datetime

    from amtflow.lineage import RunRecord
    from amtflow.profile import Budget, ModelProfile

#: The tags a pre-launch lint runs (``diagnosis`` needs a finished job).
LINT_TAGS: frozenset[str] = frozenset({"service", "practice", "budget"})
#: The tags a lint of a profile runs: the pre-launch ones and those of its deployment and monitoring sections.
PROFILE_LINT_TAGS: frozenset[str] = LINT_TAGS | {DEPLOYMENT_TAG, MONITORING_TAG}

_TAG_TITLES = {
    "service": "Service constraints (SageMaker rejects the request)",
    "practice": "AMT best practices",
    "budget": "Budget",
    "deployment": "Deployment of the approved champion",
    "monitoring": "Monitoring of a running tuning job",
    "diagnosis": "Diagnosis after a run",
    "health": "Training health after a run",
}


@dataclass(frozen=True)
class LintReport:
    """The findings on one request, errors first, with the cost estimate when one could be made."""

    findings: tuple[Finding, ...]
    cost: CostEstimate | None = None
    source: str = ""
    profile_keys: tuple[str | None, ...] = ()
    """Per finding, the profile key its field came from (empty when the input was not a profile)."""

    def _profile_key(self, index: int) -> str | None:
        return self.profile_keys[index] if index < len(self.profile_keys) else None

    @property
    def has_errors(self) -> bool:
        return any(f.is_error for f in self.findings)

    @property
    def errors(self) -> tuple[Finding, ...]:
        return tuple(f for f in self.findings if f.is_error)

    @property
    def warnings(self) -> tuple[Finding, ...]:
        return tuple(f for f in self.findings if not f.is_error)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready rendering for notifications and ``amtflow lint --format json``."""
        return {
            "source": self.source,
            "hasErrors": self.has_errors,
            "errors": len(self.errors),
            "warnings": len(self.warnings),
            "findings": [
                {**f.to_dict(), **({"profileKey": key} if (key := self._profile_key(i)) else {})}
                for i, f in enumerate(self.findings)
            ],
            "cost": self.cost.to_dict() if self.cost is not None else None,
        }

    def to_text(self) -> str:
        """A readable rendering: one block per finding, then the cost and a summary line."""
        lines: list[str] = []
        for i, f in enumerate(self.findings):
            key = self._profile_key(i)
            where = f"{f.field}  (profile: {key})" if key else f.field
            lines.append(f"{f.severity.value.upper():7} {f.rule}  {where}")
            lines.append(f"        {f.message}")
            if f.why:
                lines.append(f"        why: {f.why}")
            if f.fix:
                lines.append(f"        fix: {f.fix}")
        if self.cost is not None:
            lines.append(f"cost: {self.cost}")
            lines.extend(f"        assumes {a}" for a in self.cost.assumptions)
        head = f"{self.source}: " if self.source else ""
        if not self.findings:
            lines.append(f"{head}no findings.")
        else:
            lines.append(f"{head}{len(self.errors)} error(s), {len(self.warnings)} warning(s).")
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.to_text()


def lint_request(
    request: Mapping[str, Any],
    context: LintContext | None = None,
    *,
    tags: Iterable[str] = LINT_TAGS,
    source: str = "",
    from_profile: bool = False,
) -> LintReport:
    """Run the pre-launch rules on ``request``, with the evidence of ``context`` (its request is ignored).

    ``from_profile`` says the request was compiled from a model profile: each finding then also names the
    profile key its field came from, where there is one.
    """
    ctx = replace(context, request=request) if context is not None else LintContext(request=request)
    findings = run_rules(ctx, tags=tags)
    cost: CostEstimate | None = estimate_for_context(ctx)
    if cost is not None and cost.instance_type == "unknown":
        cost = None
    keys = tuple(profile_key(f.field, request) for f in findings) if from_profile else ()
    return LintReport(tuple(findings), cost, source, keys)


def context_for_profile(
    profile: ModelProfile,
    request: Mapping[str, Any],
    *,
    month_to_date_usd: float | None = None,
    earlier_runtimes_s: Sequence[float] = (),
    parents: Mapping[str, Mapping[str, Any]] | None = None,
    compatible_parents: Sequence[str] = (),
    history: Sequence[RunRecord] = (),
    now: datetime | None = None,
    extra: Mapping[str, Any] | None = None,
    budget: Budget | None = None,
) -> LintContext:
    """A :class:`LintContext` with a profile's evidence: budget caps, price overrides, sample log lines,
    and its ``deployment`` and ``monitoring`` sections.

    ``budget`` replaces the profile's own caps and prices: a run with overrides passes its stored
    profile's budget, so that the caps and prices are always the stored ones.

    ``history`` is the model's lineage (``LineageStore.list_runs(model)``): it supplies the compatible
    earlier tuning jobs (AMT111), the parents' own parents (AMT112) and the earlier runs' per-job runtime
    (the expected cost) wherever ``compatible_parents`` and ``earlier_runtimes_s`` are not given, and with
    ``now`` (an aware datetime) the month-to-date spend unless ``month_to_date_usd`` is given.
    """
    budget = budget if budget is not None else profile.budget
    evidence: dict[str, Any] = dict(extra or {})
    if history:
        found = lineage_evidence(request, history, now=now)
        compatible_parents = compatible_parents or found.compatible_parents
        earlier_runtimes_s = earlier_runtimes_s or found.earlier_runtimes_s
        if month_to_date_usd is None:
            month_to_date_usd = found.month_to_date_usd
        if found.parent_warm_starts:
            evidence[PARENT_WARM_STARTS_KEY] = {k: list(v) for k, v in found.parent_warm_starts.items()}
    if budget.max_usd_per_run is not None:
        evidence[MAX_USD_PER_RUN_KEY] = budget.max_usd_per_run
    if budget.max_usd_per_month is not None:
        evidence[MAX_USD_PER_MONTH_KEY] = budget.max_usd_per_month
    if budget.prices:
        evidence[PRICES_KEY] = dict(budget.prices)
    if month_to_date_usd is not None:
        evidence[MONTH_TO_DATE_KEY] = month_to_date_usd
    if earlier_runtimes_s:
        evidence[EARLIER_RUNTIMES_KEY] = list(earlier_runtimes_s)
    if compatible_parents:
        evidence[COMPATIBLE_PARENTS_KEY] = list(compatible_parents)
    if profile.deployment is not None:
        evidence = {**deployment_evidence(profile.deployment, model=profile.model), **evidence}
    evidence = {**monitoring_evidence(profile), **evidence}
    samples = list(profile.sample_log_lines)
    return LintContext(
        request=request,
        sample_logs={"profile sample_log_lines": samples} if samples else {},
        parents=dict(parents or {}),
        extra=evidence,
    )


def render_catalogue() -> str:
    """The rule catalogue as Markdown tables, one per tag (the body of ``docs/preflight.md``)."""
    out: list[str] = []
    for tag, title in _TAG_TITLES.items():
        rows = [s for s in catalogue() if tag in s.tags]
        if not rows:
            continue
        out.append(f"### {title} (tag `{tag}`)\n")
        out.append("| ID | Severity | Rule | Detail |")
        out.append("|---|---|---|---|")
        for spec in rows:
            doc = inspect.getdoc(spec.fn) or ""
            detail = " ".join(doc.split("\n\n", 1)[0].split()).replace("|", "\\|")
            out.append(f"| `{spec.id}` | {spec.severity.value} | {spec.title} | {detail} |")
        out.append("")
    return "\n".join(out)
