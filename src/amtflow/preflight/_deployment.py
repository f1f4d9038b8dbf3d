"""Preflight rules of the profile's ``deployment`` section (tag ``deployment``).

What the deployment's plan decides when a package is approved, told when the profile is written: the
endpoint's instance price, its cost against the month's cap, its name within the stack's prefix, keys a
serverless endpoint ignores, a canary too short for the rollback alarms. ``amtflow profiles validate`` (and
``push``, ``lint`` of a profile) run them with the profile's evidence; :class:`~amtflow.app.PlanDeployment`
runs the same rules at approval time and refuses on an error. The schema already holds each key to its
range (serverless memory and concurrency, canary size and bake time, the rollback alarms).

Evidence (``LintContext.extra``): ``deployment`` (the :class:`~amtflow.profile.DeploymentSpec`), ``model``,
``job_prefix`` (the stack's), ``prices`` (the profile's price overrides) and ``max_usd_per_month``.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from amtflow.preflight._budget import MAX_USD_PER_MONTH_KEY, PRICES_KEY, PriceTable, default_prices
from amtflow.preflight._findings import Finding, LintContext, Severity, rule, run_rules
from amtflow.profile import Budget, DeploymentSpec

DEPLOYMENT_KEY = "deployment"
MODEL_KEY = "model"
JOB_PREFIX_KEY = "job_prefix"
PRICE_TABLE_KEY = "price_table"
"""A :class:`PriceTable` replacing the shipped one (the profile's ``prices`` still override it)."""
DEPLOYMENT_TAG = "deployment"
HOURS_PER_MONTH = 730
"""An endpoint serves around the clock: 730 hours in an average month."""
ALARM_PERIOD_S = 60
"""The period of the rollback alarms a deployment creates (one evaluation period each)."""

_TAG = (DEPLOYMENT_TAG,)


def deployment_evidence(spec: DeploymentSpec, *, model: str, job_prefix: str | None = None) -> dict[str, Any]:
    """The ``LintContext.extra`` entries the deployment rules read (besides the budget's caps and prices)."""
    return {
        DEPLOYMENT_KEY: spec,
        MODEL_KEY: model,
        **({JOB_PREFIX_KEY: job_prefix} if job_prefix else {}),
    }


def deployment_findings(
    spec: DeploymentSpec,
    *,
    model: str,
    job_prefix: str,
    budget: Budget,
    prices: PriceTable | None = None,
) -> list[Finding]:
    """The deployment rules' findings for ``spec`` (errors first): what the plan refuses on."""
    extra: dict[str, Any] = deployment_evidence(spec, model=model, job_prefix=job_prefix)
    if prices is not None:
        extra[PRICE_TABLE_KEY] = prices
    if budget.prices:
        extra[PRICES_KEY] = dict(budget.prices)
    if budget.max_usd_per_month is not None:
        extra[MAX_USD_PER_MONTH_KEY] = budget.max_usd_per_month
    return run_rules(LintContext(request={}, extra=extra), tags=_TAG)


def _spec(ctx: LintContext) -> DeploymentSpec | None:
    spec = ctx.extra.get(DEPLOYMENT_KEY)
    return spec if isinstance(spec, DeploymentSpec) else None


def _prices(ctx: LintContext) -> PriceTable:
    table = ctx.extra.get(PRICE_TABLE_KEY)
    overrides = ctx.extra.get(PRICES_KEY)
    base = table if isinstance(table, PriceTable) else default_prices()
    return base.with_overrides(overrides if isinstance(overrides, Mapping) else None)


def endpoint_usd_per_hour(spec: DeploymentSpec, prices: PriceTable) -> float | None:
    """What the endpoint's instances cost per hour; ``None`` for a serverless endpoint (billed per request)
    or an instance type without a price (rule AMT501)."""
    if spec.serverless is not None:
        return None
    price = prices.price(spec.instance_type)
    return round(price * spec.instance_count, 6) if price is not None else None


@rule("AMT501", Severity.ERROR, "The endpoint's instance type has a known price", tags=_TAG)
def _instance_priced(ctx: LintContext) -> Iterator[Finding]:
    """An instance endpoint's ``instance_type`` is in amtflow's price table or the profile's
    ``budget.prices``: its cost per hour is checked against the caps and told in the notification."""
    spec = _spec(ctx)
    if spec is None or spec.serverless is not None or _prices(ctx).price(spec.instance_type) is not None:
        return
    yield Finding(
        "AMT501",
        Severity.ERROR,
        "deployment.instance_type",
        f"deployment.instance_type {spec.instance_type!r} has no known price",
        why="the deployment cannot say what the endpoint costs, nor hold it to the budget",
        fix=(
            "use an instance type of amtflow's price table (e.g. ml.m5.large), or add its USD per hour under "
            f"budget.prices ({spec.instance_type}: 0.23)"
        ),
    )


@rule("AMT502", Severity.ERROR, "The endpoint's name starts with the stack's job prefix", tags=_TAG)
def _endpoint_prefixed(ctx: LintContext) -> Iterator[Finding]:
    """The stack's permissions reach only endpoints named ``<job prefix>-...`` (evidence:
    ``extra["job_prefix"]``; silent without it)."""
    spec, prefix = _spec(ctx), ctx.extra.get(JOB_PREFIX_KEY)
    if spec is None or not isinstance(prefix, str) or not prefix:
        return
    endpoint = spec.endpoint_name(prefix, str(ctx.extra.get(MODEL_KEY) or "model"))
    if endpoint.startswith(f"{prefix}-"):
        return
    yield Finding(
        "AMT502",
        Severity.ERROR,
        "deployment.endpoint",
        f"deployment.endpoint {endpoint!r} does not start with '{prefix}-' (the stack's job prefix, to which "
        "its permissions are scoped)",
        why="the deployment would be refused access to the endpoint",
        fix=f"rename it '{prefix}-...' or leave deployment.endpoint out (default '{prefix}-<model>')",
    )


@rule("AMT503", Severity.WARNING, "The endpoint's monthly cost within max_usd_per_month", tags=_TAG)
def _endpoint_within_month(ctx: LintContext) -> Iterator[Finding]:
    """An instance endpoint serves around the clock: its cost per hour times 730 hours is compared with
    ``budget.max_usd_per_month`` (which caps the tuning runs; the endpoint is billed on top)."""
    spec, cap = _spec(ctx), ctx.extra.get(MAX_USD_PER_MONTH_KEY)
    if spec is None or not isinstance(cap, int | float) or isinstance(cap, bool):
        return
    hourly = endpoint_usd_per_hour(spec, _prices(ctx))
    if hourly is None or hourly * HOURS_PER_MONTH <= cap:
        return
    monthly = hourly * HOURS_PER_MONTH
    yield Finding(
        "AMT503",
        Severity.WARNING,
        "deployment.instance_type",
        f"the endpoint ({spec.instance_count} x {spec.instance_type}, ${hourly:.3f}/hour) costs about "
        f"${monthly:,.0f} a month, more than budget.max_usd_per_month (${cap:,.2f})",
        why="the endpoint runs around the clock and is billed on top of the tuning runs the cap holds",
        fix=(
            "use a smaller instance type or fewer instances (deployment.instance_count), a serverless "
            "endpoint (deployment.serverless), or raise budget.max_usd_per_month"
        ),
    )


@rule("AMT504", Severity.WARNING, "No instance keys on a serverless endpoint", tags=_TAG)
def _serverless_instance_type(ctx: LintContext) -> Iterator[Finding]:
    """A serverless endpoint has no instances: an ``instance_type`` given with ``serverless`` is ignored."""
    spec = _spec(ctx)
    if spec is None or spec.serverless is None or "instance_type" not in spec.model_fields_set:
        return
    yield Finding(
        "AMT504",
        Severity.WARNING,
        "deployment.instance_type",
        f"deployment.instance_type {spec.instance_type!r} is ignored: the endpoint is serverless",
        why="the endpoint is served by serverless memory and concurrency, not by this instance type",
        fix="remove deployment.instance_type, or remove deployment.serverless to serve on instances",
    )


@rule("AMT505", Severity.WARNING, "The canary bakes long enough for the created alarms to trip", tags=_TAG)
def _canary_outlasts_the_alarms(ctx: LintContext) -> Iterator[Finding]:
    """The created rollback alarms judge one 60-second period: a canary that bakes less (``wait_s``) shifts
    all traffic to the new model before they can trip, so only a late alarm rolls it back."""
    spec = _spec(ctx)
    if spec is None or not spec.uses_canary or spec.canary is None or not spec.alarms.create:
        return
    if spec.canary.wait_s >= ALARM_PERIOD_S:
        return
    yield Finding(
        "AMT505",
        Severity.WARNING,
        "deployment.canary.wait_s",
        f"the canary bakes {spec.canary.wait_s} s, less than the {ALARM_PERIOD_S} s the created alarms need "
        "to judge it",
        why="all traffic moves to the new model before an alarm can roll the canary back",
        fix=f"set deployment.canary.wait_s to {ALARM_PERIOD_S * 2} or more (two of the alarms' periods)",
    )
