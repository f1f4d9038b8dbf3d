"""Cost of a tuning job: an upper bound, an expectation, and the caps they must fit (tag ``budget``).

The upper bound is what SageMaker could bill at most: every training job runs to its
``MaxRuntimeInSeconds`` on on-demand capacity (managed spot never bills above on-demand), further bounded by
``MaxParallelTrainingJobs x the tuning job's MaxRuntimeInSeconds`` when that is given. The expectation
uses the earlier runs' per-job runtime when the context knows it, else :data:`EXPECTED_RUNTIME_FRACTION` of
the limit, and :data:`SPOT_PRICE_FACTOR` of the on-demand price for managed spot training.

Evidence read from ``LintContext.extra``: ``max_usd_per_run``, ``max_usd_per_month``,
``month_to_date_usd``, ``prices`` (instance type → USD per hour, overriding the shipped table),
``expected_runtime_s`` or ``earlier_runtimes_s`` (a list; their median is used).
"""

from __future__ import annotations

import functools
import json
import statistics
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from importlib import resources
from typing import Any

from amtflow.preflight._findings import Finding, LintContext, Severity, rule
from amtflow.preflight._request import (
    CONFIG,
    LIMITS,
    DefinitionView,
    as_float,
    as_int,
    as_list,
    as_mapping,
    definitions,
    dig,
    grid_size,
    max_jobs,
    max_parallel,
    strategy,
)

BUDGET = ("budget",)

#: Share of ``MaxRuntimeInSeconds`` a training job is expected to use when no earlier run is known.
EXPECTED_RUNTIME_FRACTION = 0.5
#: Managed spot training is assumed to cost this share of the on-demand price (a 70% saving; AWS quotes
#: "up to 90%", and actual savings vary by instance type, region and time).
SPOT_PRICE_FACTOR = 0.3

MAX_USD_PER_RUN_KEY = "max_usd_per_run"
MAX_USD_PER_MONTH_KEY = "max_usd_per_month"
MONTH_TO_DATE_KEY = "month_to_date_usd"
PRICES_KEY = "prices"
EXPECTED_RUNTIME_KEY = "expected_runtime_s"
EARLIER_RUNTIMES_KEY = "earlier_runtimes_s"


@dataclass(frozen=True)
class PriceTable:
    """On-demand training prices (USD per instance-hour) with their date and source."""

    as_of: str
    region: str
    source: str
    usd_per_hour: Mapping[str, float]

    def price(self, instance_type: str) -> float | None:
        return self.usd_per_hour.get(instance_type)

    def with_overrides(self, overrides: Mapping[str, Any] | None) -> PriceTable:
        """This table with ``overrides`` (instance type → USD/hour) taking precedence; bad values ignored."""
        if not overrides:
            return self
        merged = dict(self.usd_per_hour)
        for key, value in overrides.items():
            price = as_float(value)
            if isinstance(key, str) and price is not None and price > 0:
                merged[key] = price
        return PriceTable(self.as_of, self.region, f"{self.source} (with overrides)", merged)


@functools.cache
def default_prices() -> PriceTable:
    """The shipped table (``prices.json``), read on first use."""
    data = json.loads(
        resources.files("amtflow.preflight").joinpath("prices.json").read_text(encoding="utf-8")
    )
    return PriceTable(
        as_of=str(data["as_of"]),
        region=str(data["region"]),
        source=str(data["source"]),
        usd_per_hour={str(k): float(v) for k, v in data["usd_per_hour"].items()},
    )


@dataclass(frozen=True)
class CostEstimate:
    """The cost of one tuning job in USD.

    ``upper_bound_usd`` is ``None`` when nothing bounds the job (no job count and no tuning runtime limit),
    both totals are ``None`` when the instance price is unknown. ``assumptions`` says how each figure was
    reached, in words a notification can show.
    """

    instance_type: str
    instance_count: int
    usd_per_hour: float | None
    jobs: int | None
    max_runtime_s: int | None
    expected_runtime_s: float | None
    spot: bool
    upper_bound_usd: float | None
    expected_usd: float | None
    price_as_of: str
    assumptions: tuple[str, ...] = field(default=())

    def to_dict(self) -> dict[str, Any]:
        return {
            "instanceType": self.instance_type,
            "instanceCount": self.instance_count,
            "usdPerHour": self.usd_per_hour,
            "jobs": self.jobs,
            "maxRuntimeSeconds": self.max_runtime_s,
            "expectedRuntimeSeconds": self.expected_runtime_s,
            "spot": self.spot,
            "upperBoundUsd": None if self.upper_bound_usd is None else round(self.upper_bound_usd, 2),
            "expectedUsd": None if self.expected_usd is None else round(self.expected_usd, 2),
            "priceAsOf": self.price_as_of,
            "assumptions": list(self.assumptions),
        }

    def __str__(self) -> str:
        def usd(v: float | None) -> str:
            return "unknown" if v is None else f"${v:,.2f}"

        return f"expected {usd(self.expected_usd)}, at most {usd(self.upper_bound_usd)} ({self.basis})"

    @property
    def basis(self) -> str:
        """What the figures multiply: jobs, instances, instance type and its hourly price."""
        jobs = self.jobs if self.jobs is not None else "?"
        price = f" at ${self.usd_per_hour:g}/h" if self.usd_per_hour is not None else ""
        spot = ", managed spot" if self.spot else ""
        return f"{jobs} jobs x {self.instance_count} x {self.instance_type}{price}{spot}"


def _instance(view: DefinitionView, prices: PriceTable) -> tuple[str, int, float | None]:
    """Instance type, count and price of one definition (the dearest option of a flexible config)."""
    config = as_mapping(view.body.get("ResourceConfig"))
    itype, count = config.get("InstanceType"), as_int(config.get("InstanceCount"))
    if isinstance(itype, str):
        return itype, max(count or 1, 1), prices.price(itype)
    options = as_list(dig(view.body, "HyperParameterTuningResourceConfig.InstanceConfigs"))
    best: tuple[str, int, float | None] = ("unknown", 1, None)
    best_cost = -1.0
    for option in options:
        option = as_mapping(option)
        otype, ocount = option.get("InstanceType"), max(as_int(option.get("InstanceCount")) or 1, 1)
        if not isinstance(otype, str):
            continue
        price = prices.price(otype)
        cost = (price or 0.0) * ocount
        if price is None or cost > best_cost:
            best, best_cost = (otype, ocount, price), cost
            if price is None:
                break
    return best


def _expected_runtime(
    max_runtime: int | None, explicit: float | None, earlier: Sequence[float]
) -> tuple[float | None, str]:
    if max_runtime is None:
        return None, "no per-job runtime limit"
    if explicit is not None and explicit > 0:
        return min(explicit, max_runtime), f"expected runtime {explicit:.0f} s per job (given)"
    if earlier:
        median = statistics.median(earlier)
        return min(
            median, max_runtime
        ), f"expected runtime {median:.0f} s per job (median of {len(earlier)} earlier)"
    return (
        max_runtime * EXPECTED_RUNTIME_FRACTION,
        f"expected runtime {EXPECTED_RUNTIME_FRACTION:.0%} of MaxRuntimeInSeconds (no earlier runs known)",
    )


def estimate_cost(
    request: Mapping[str, Any],
    *,
    prices: Mapping[str, float] | PriceTable | None = None,
    expected_runtime_s: float | None = None,
    earlier_runtimes_s: Sequence[float] = (),
) -> CostEstimate:
    """Upper-bound and expected cost of the tuning job ``request`` describes.

    ``prices`` overrides the shipped table per instance type (or replaces it when a :class:`PriceTable`).
    """
    table = prices if isinstance(prices, PriceTable) else default_prices().with_overrides(prices)
    views = definitions(request)
    assumptions: list[str] = [f"on-demand prices of {table.region} as of {table.as_of}"]
    if not views:
        return CostEstimate(
            "unknown", 1, None, None, None, None, False, None, None, table.as_of, tuple(assumptions)
        )
    # With several definitions, every job is assumed to run on the dearest one (an upper bound).
    priced = [(view, *_instance(view, table)) for view in views]
    view, itype, count, price = max(priced, key=lambda p: (p[3] or 0.0) * p[2])
    max_runtime = as_int(view.stopping.get("MaxRuntimeInSeconds"))
    jobs = max_jobs(request)
    if jobs is None and strategy(request) == "Grid":
        jobs = sum(grid_size(v) for v in views)
        assumptions.append(f"{jobs} jobs: one per grid combination")
    parallel = max_parallel(request) or 1
    tuning_runtime = as_int(dig(request, f"{LIMITS}.MaxRuntimeInSeconds"))
    spot = view.spot

    upper_seconds: float | None = None
    if jobs is not None and max_runtime is not None:
        upper_seconds = float(jobs * max_runtime)
    if tuning_runtime is not None:
        wall_bound = float(parallel * tuning_runtime)
        if upper_seconds is None or wall_bound < upper_seconds:
            upper_seconds = wall_bound
            assumptions.append("bounded by MaxParallelTrainingJobs x the tuning job's MaxRuntimeInSeconds")
    if upper_seconds is None:
        assumptions.append(
            "no bound: neither MaxNumberOfTrainingJobs nor the tuning MaxRuntimeInSeconds is set"
        )

    expected_each, how = _expected_runtime(max_runtime, expected_runtime_s, earlier_runtimes_s)
    assumptions.append(how)
    if spot:
        assumptions.append(f"managed spot costs {SPOT_PRICE_FACTOR:.0%} of on-demand (expected figure only)")

    upper = expected = None
    if price is not None:
        hourly = price * count
        if upper_seconds is not None:
            upper = upper_seconds / 3600 * hourly
        if jobs is not None and expected_each is not None:
            expected = jobs * expected_each / 3600 * hourly * (SPOT_PRICE_FACTOR if spot else 1.0)
            if len(priced) > 1:
                expected = _expected_across(priced, jobs, expected_runtime_s, earlier_runtimes_s, assumptions)
            if expected is not None and upper is not None:
                expected = min(expected, upper)
    else:
        assumptions.append(f"no price known for {itype}")
    return CostEstimate(
        instance_type=itype,
        instance_count=count,
        usd_per_hour=price,
        jobs=jobs,
        max_runtime_s=max_runtime,
        expected_runtime_s=expected_each,
        spot=spot,
        upper_bound_usd=upper,
        expected_usd=expected,
        price_as_of=table.as_of,
        assumptions=tuple(assumptions),
    )


def _expected_across(
    priced: Sequence[tuple[DefinitionView, str, int, float | None]],
    jobs: int,
    expected_runtime_s: float | None,
    earlier_runtimes_s: Sequence[float],
    assumptions: list[str],
) -> float | None:
    """The expected cost of a multi-algorithm job: the jobs split evenly across the definitions, each on
    its own instance for its own expected runtime (the upper bound still prices every job on the dearest)."""
    share = jobs / len(priced)
    total = 0.0
    parts = []
    for view, itype, count, price in priced:
        each, _ = _expected_runtime(
            as_int(view.stopping.get("MaxRuntimeInSeconds")), expected_runtime_s, earlier_runtimes_s
        )
        if price is None or each is None:
            assumptions.append(f"no expected cost: {view.path} has no known price or runtime limit")
            return None
        factor = SPOT_PRICE_FACTOR if view.spot else 1.0
        total += share * each / 3600 * price * count * factor
        name = view.body.get("DefinitionName") or view.path
        parts.append(f"{name} on {count} x {itype}")
    assumptions.append(
        f"{len(priced)} training definitions share the jobs evenly ({', '.join(parts)}); the upper bound "
        "prices every job on the dearest"
    )
    return total


def estimate_for_context(ctx: LintContext) -> CostEstimate:
    """:func:`estimate_cost` with the prices and runtimes the context's evidence supplies."""
    overrides = ctx.extra.get(PRICES_KEY)
    earlier = [v for v in (as_float(x) for x in as_list(ctx.extra.get(EARLIER_RUNTIMES_KEY))) if v and v > 0]
    return estimate_cost(
        ctx.request,
        prices=as_mapping(overrides) if not isinstance(overrides, PriceTable) else overrides,
        expected_runtime_s=as_float(ctx.extra.get(EXPECTED_RUNTIME_KEY)),
        earlier_runtimes_s=earlier,
    )


def _usd(value: float) -> str:
    return f"${value:,.2f}"


def _usd_or(value: float | None, missing: str) -> str:
    return missing if value is None else _usd(value)


def _cap(ctx: LintContext, key: str) -> float | None:
    value = as_float(ctx.extra.get(key))
    return value if value is not None and value > 0 else None


def _cost_field(ctx: LintContext) -> str:
    views = definitions(ctx.request)
    return f"{LIMITS}.MaxNumberOfTrainingJobs" if views else CONFIG


@rule("AMT201", Severity.WARNING, "The instance type has a known price", tags=BUDGET)
def price_known(ctx: LintContext) -> Iterator[Finding]:
    """Without a price the cost caps cannot be checked."""
    if not definitions(ctx.request):
        return
    estimate = estimate_for_context(ctx)
    if estimate.usd_per_hour is None and estimate.instance_type != "unknown":
        view = definitions(ctx.request)[0]
        yield Finding(
            "AMT201",
            Severity.WARNING,
            view.field("ResourceConfig.InstanceType"),
            f"no price is known for {estimate.instance_type}; the cost of this job is not checked.",
            "The cost caps (max_usd_per_run, max_usd_per_month) can only protect a job whose price is known.",
            f"Add budget.prices: {{{estimate.instance_type}: <USD per hour>}} to the profile.",
        )


@rule("AMT202", Severity.ERROR, "Expected cost within max_usd_per_run", tags=BUDGET)
def run_cap_expected(ctx: LintContext) -> Iterator[Finding]:
    """The expected cost of the run exceeds the per-run cap."""
    cap = _cap(ctx, MAX_USD_PER_RUN_KEY)
    if cap is None:
        return
    estimate = estimate_for_context(ctx)
    if estimate.expected_usd is not None and estimate.expected_usd > cap:
        yield Finding(
            "AMT202",
            Severity.ERROR,
            _cost_field(ctx),
            f"the run is expected to cost {_usd(estimate.expected_usd)}, above max_usd_per_run {_usd(cap)} "
            f"(at most {_usd_or(estimate.upper_bound_usd, 'unbounded')}; {estimate.basis}).",
            "The cap exists so that no single run spends more than agreed.",
            "Lower MaxNumberOfTrainingJobs or the training MaxRuntimeInSeconds, use a cheaper instance or "
            "managed spot, or raise budget.max_usd_per_run.",
        )


@rule("AMT203", Severity.WARNING, "Upper-bound cost within max_usd_per_run", tags=BUDGET)
def run_cap_upper(ctx: LintContext) -> Iterator[Finding]:
    """The expected cost fits the cap, but the worst case (every job to its limit) does not."""
    cap = _cap(ctx, MAX_USD_PER_RUN_KEY)
    if cap is None:
        return
    estimate = estimate_for_context(ctx)
    expected_fits = estimate.expected_usd is None or estimate.expected_usd <= cap
    if not expected_fits or estimate.usd_per_hour is None:
        return
    if estimate.upper_bound_usd is None or estimate.upper_bound_usd > cap:
        worst = "is unbounded" if estimate.upper_bound_usd is None else f"is {_usd(estimate.upper_bound_usd)}"
        yield Finding(
            "AMT203",
            Severity.WARNING,
            _cost_field(ctx),
            f"the worst case {worst}, above max_usd_per_run {_usd(cap)} (expected "
            f"{_usd(estimate.expected_usd or 0.0)}).",
            "If every training job ran to its MaxRuntimeInSeconds the run would exceed the cap; nothing "
            "stops "
            "it on the way.",
            "Tighten the training MaxRuntimeInSeconds (or set the tuning job's MaxRuntimeInSeconds) so the "
            "worst case fits the cap.",
        )


def _month(ctx: LintContext) -> tuple[float, float] | None:
    cap = _cap(ctx, MAX_USD_PER_MONTH_KEY)
    if cap is None:
        return None
    spent = as_float(ctx.extra.get(MONTH_TO_DATE_KEY)) or 0.0
    return cap, max(spent, 0.0)


@rule(
    "AMT204",
    Severity.ERROR,
    "Month-to-date spend plus the expected cost within max_usd_per_month",
    tags=BUDGET,
)
def month_cap_expected(ctx: LintContext) -> Iterator[Finding]:
    """Month-to-date spend (``extra["month_to_date_usd"]``) plus this run's expected cost exceeds the cap."""
    month = _month(ctx)
    if month is None:
        return
    cap, spent = month
    estimate = estimate_for_context(ctx)
    if estimate.expected_usd is not None and spent + estimate.expected_usd > cap:
        yield Finding(
            "AMT204",
            Severity.ERROR,
            _cost_field(ctx),
            f"{_usd(spent)} spent this month plus this run's expected {_usd(estimate.expected_usd)} exceeds "
            f"max_usd_per_month {_usd(cap)}.",
            "The monthly cap bounds what re-tuning may spend across all runs of the model.",
            f"Shrink this run to fit the {_usd(max(cap - spent, 0.0))} left, wait for next month, or raise "
            "budget.max_usd_per_month.",
        )


@rule(
    "AMT205",
    Severity.WARNING,
    "Month-to-date spend plus the upper-bound cost within max_usd_per_month",
    tags=BUDGET,
)
def month_cap_upper(ctx: LintContext) -> Iterator[Finding]:
    """The expected cost fits the month's remaining budget, the worst case does not."""
    month = _month(ctx)
    if month is None:
        return
    cap, spent = month
    estimate = estimate_for_context(ctx)
    if estimate.usd_per_hour is None or (
        estimate.expected_usd is not None and spent + estimate.expected_usd > cap
    ):
        return
    if estimate.upper_bound_usd is None or spent + estimate.upper_bound_usd > cap:
        worst = "unbounded" if estimate.upper_bound_usd is None else _usd(estimate.upper_bound_usd)
        yield Finding(
            "AMT205",
            Severity.WARNING,
            _cost_field(ctx),
            f"{_usd(spent)} spent this month plus this run's worst case ({worst}) exceeds max_usd_per_month "
            f"{_usd(cap)}.",
            "If every training job ran to its limit the month's cap would be exceeded.",
            "Tighten MaxRuntimeInSeconds or the job count so the worst case fits what is left this month.",
        )


@rule("AMT206", Severity.WARNING, "The job's total compute is bounded", tags=BUDGET)
def cost_bounded(ctx: LintContext) -> Iterator[Finding]:
    """Neither MaxNumberOfTrainingJobs nor the tuning job's MaxRuntimeInSeconds: nothing bounds the spend."""
    if not definitions(ctx.request) or strategy(ctx.request) == "Grid":
        return
    if max_jobs(ctx.request) is None and dig(ctx.request, f"{LIMITS}.MaxRuntimeInSeconds") is None:
        yield Finding(
            "AMT206",
            Severity.WARNING,
            f"{LIMITS}.MaxNumberOfTrainingJobs",
            "neither MaxNumberOfTrainingJobs nor the tuning job's MaxRuntimeInSeconds is set.",
            "Only completion criteria would stop the job; if they are never met it keeps launching jobs.",
            "Set MaxNumberOfTrainingJobs (or ResourceLimits.MaxRuntimeInSeconds) to bound the spend.",
        )
