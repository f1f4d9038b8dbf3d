"""Service constraints, continued: ranges, strategies, runtimes and spot, the objective (tag ``service``)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from amtflow.preflight._findings import Finding, LintContext, Severity, rule
from amtflow.preflight._request import (
    CONFIG,
    EPOCH_KEYS,
    LIMITS,
    DefinitionView,
    RangeKind,
    as_float,
    as_int,
    as_mapping,
    definitions,
    dig,
    early_stopping,
    grid_size,
    max_jobs,
    strategy,
    tunable_kinds,
)
from amtflow.preflight._service import (
    BUILTIN_ALGORITHM_REPOSITORIES,
    MAX_HYPERBAND_RESOURCE,
    MAX_TRAINING_JOBS,
    SERVICE,
    TRAINING_RUNTIME_MAX,
    TUNING_RUNTIME_MAX,
    TUNING_RUNTIME_MIN,
    _error,
    _show,
)

# ---------------------------------------------------------------------------------------------------------
# Ranges


@rule(
    "AMT010",
    Severity.ERROR,
    "Range bounds parse as numbers of the range's type and MinValue < MaxValue",
    tags=SERVICE,
)
def range_bounds(ctx: LintContext) -> Iterator[Finding]:
    """Integer ranges need integer bounds, continuous ranges finite numbers; MinValue < MaxValue."""
    for view in definitions(ctx.request):
        for r in view.iter_ranges():
            if r.kind is RangeKind.CATEGORICAL:
                continue
            kind = "an integer" if r.kind is RangeKind.INTEGER else "a number"
            bad = False
            for member in ("MinValue", "MaxValue"):
                value = r.body.get(member)
                if value is not None and _unparsable(r.kind, value):
                    bad = True
                    yield _error(
                        "AMT010",
                        f"{r.path}.{member}",
                        f"{member} of {r.name or 'the range'} is {_show(value)}, not {kind}.",
                        "SageMaker rejects bounds that do not parse for the range's type.",
                        f"Write {kind}"
                        + (
                            " (or make it a ContinuousParameterRanges entry)."
                            if r.kind is RangeKind.INTEGER
                            else "."
                        ),
                    )
            bounds = r.bounds()
            if not bad and bounds is not None and bounds[0] >= bounds[1]:
                yield _error(
                    "AMT010",
                    f"{r.path}.MinValue",
                    f"MinValue {r.body.get('MinValue')!r} of {r.name or 'the range'} is not below MaxValue "
                    f"{r.body.get('MaxValue')!r}.",
                    "An empty or inverted range cannot be searched; SageMaker rejects it.",
                    "Swap the bounds, or make the hyperparameter static if it should not vary.",
                )


def _unparsable(kind: RangeKind, value: Any) -> bool:
    if kind is RangeKind.INTEGER:
        return as_int(value) is None
    return as_float(value) is None


@rule("AMT011", Severity.ERROR, "Logarithmic scaling needs MinValue > 0", tags=SERVICE)
def log_scaling_domain(ctx: LintContext) -> Iterator[Finding]:
    """Logarithmic scaling works only for ranges whose values are all greater than 0."""
    for view in definitions(ctx.request):
        for r in view.iter_ranges():
            bounds = r.bounds()
            if (
                r.kind is not RangeKind.CATEGORICAL
                and r.scaling == "Logarithmic"
                and bounds
                and bounds[0] <= 0
            ):
                yield _error(
                    "AMT011",
                    f"{r.path}.ScalingType",
                    f"{r.name or 'the range'} uses Logarithmic scaling but MinValue is "
                    f"{r.body.get('MinValue')!r}.",
                    "The logarithm of zero or a negative number is undefined; SageMaker rejects the range.",
                    "Raise MinValue above 0 (e.g. 1e-5) or use Linear scaling.",
                )


@rule(
    "AMT012", Severity.ERROR, "ReverseLogarithmic scaling: continuous ranges within [0, 1) only", tags=SERVICE
)
def reverse_log_domain(ctx: LintContext) -> Iterator[Finding]:
    """ReverseLogarithmic is supported only for continuous ranges entirely within 0 <= x < 1."""
    for view in definitions(ctx.request):
        for r in view.iter_ranges():
            if r.kind is RangeKind.CATEGORICAL or r.scaling != "ReverseLogarithmic":
                continue
            if r.kind is RangeKind.INTEGER:
                yield _error(
                    "AMT012",
                    f"{r.path}.ScalingType",
                    f"{r.name or 'the range'} is an integer range with ReverseLogarithmic scaling.",
                    "SageMaker supports ReverseLogarithmic only for continuous ranges.",
                    "Use Linear or Logarithmic scaling, or make it a continuous range.",
                )
                continue
            bounds = r.bounds()
            if bounds and not (bounds[0] >= 0 and bounds[1] < 1):
                yield _error(
                    "AMT012",
                    f"{r.path}.ScalingType",
                    f"{r.name or 'the range'} uses ReverseLogarithmic scaling over "
                    f"[{r.body.get('MinValue')}, {r.body.get('MaxValue')}], outside [0, 1).",
                    "ReverseLogarithmic scaling is defined only for 0 <= x < 1; SageMaker rejects the range.",
                    "Keep the range within [0, 1) (e.g. MaxValue 0.999) or use Linear scaling.",
                )


# ---------------------------------------------------------------------------------------------------------
# Strategies


@rule("AMT013", Severity.ERROR, "Grid search takes categorical ranges only", tags=SERVICE)
def grid_categorical_only(ctx: LintContext) -> Iterator[Finding]:
    """With the Grid strategy every range must be categorical, and there must be at least one."""
    if strategy(ctx.request) != "Grid":
        return
    for view in definitions(ctx.request):
        ranges = list(view.iter_ranges())
        for r in ranges:
            if r.kind is not RangeKind.CATEGORICAL:
                yield _error(
                    "AMT013",
                    r.path,
                    f"{r.name or 'the range'} is a {r.kind.value.lower()} range, but Grid search supports "
                    "only "
                    "categorical ranges.",
                    "SageMaker rejects the request.",
                    "List the values to try as a CategoricalParameterRanges entry, or use Bayesian or "
                    "Random.",
                )
        if not ranges:
            yield _error(
                "AMT013",
                view.ranges_path,
                "Grid search needs at least one categorical range.",
                "There is no grid to enumerate.",
                "Add CategoricalParameterRanges, or use another strategy.",
            )


@rule(
    "AMT014",
    Severity.ERROR,
    "Grid size at most 750 and MaxNumberOfTrainingJobs absent or equal to it",
    tags=SERVICE,
)
def grid_job_count(ctx: LintContext) -> Iterator[Finding]:
    """Grid runs every combination: their number is at most 750 and any MaxNumberOfTrainingJobs equals it."""
    if strategy(ctx.request) != "Grid":
        return
    views = definitions(ctx.request)
    if not views:
        return
    size = sum(grid_size(v) for v in views)
    if size > MAX_TRAINING_JOBS:
        yield _error(
            "AMT014",
            views[0].ranges_path,
            f"the grid has {size} combinations; a tuning job may launch at most {MAX_TRAINING_JOBS}.",
            "SageMaker rejects the request.",
            "Drop values or parameters from the grid, or use Bayesian search.",
        )
    jobs = max_jobs(ctx.request)
    if jobs is not None and jobs != size:
        yield _error(
            "AMT014",
            f"{LIMITS}.MaxNumberOfTrainingJobs",
            f"MaxNumberOfTrainingJobs is {jobs} but the grid has {size} combinations.",
            "With Grid search SageMaker requires the job count to equal the number of combinations.",
            f"Remove MaxNumberOfTrainingJobs or set it to {size}.",
        )


@rule("AMT015", Severity.ERROR, "Hyperband requires TrainingJobEarlyStoppingType Off", tags=SERVICE)
def hyperband_early_stopping(ctx: LintContext) -> Iterator[Finding]:
    """Hyperband has its own early-stopping mechanism; AMT early stopping must be Off."""
    if strategy(ctx.request) == "Hyperband" and early_stopping(ctx.request) != "Off":
        yield _error(
            "AMT015",
            f"{CONFIG}.TrainingJobEarlyStoppingType",
            f"Hyperband is combined with TrainingJobEarlyStoppingType {early_stopping(ctx.request)!r}.",
            "Hyperband stops trials itself; SageMaker rejects a second early-stopping mechanism.",
            "Set TrainingJobEarlyStoppingType to Off (Hyperband still stops poor trials early).",
        )


@rule("AMT016", Severity.ERROR, "StrategyConfig only with the Hyperband strategy", tags=SERVICE)
def strategy_config_only_hyperband(ctx: LintContext) -> Iterator[Finding]:
    """``StrategyConfig`` (``HyperbandStrategyConfig``) is valid only when the strategy is Hyperband."""
    if dig(ctx.request, f"{CONFIG}.StrategyConfig") is not None and strategy(ctx.request) != "Hyperband":
        yield _error(
            "AMT016",
            f"{CONFIG}.StrategyConfig",
            f"StrategyConfig is set but the strategy is {strategy(ctx.request) or 'missing'}.",
            "SageMaker accepts StrategyConfig only for Hyperband.",
            "Remove StrategyConfig, or set Strategy to Hyperband.",
        )


@rule("AMT017", Severity.ERROR, "Hyperband MaxResource given or inferable, at most 20000", tags=SERVICE)
def hyperband_resources(ctx: LintContext) -> Iterator[Finding]:
    """MaxResource is given or inferred from an epochs-like static hyperparameter; it is at most 20,000 and
    not below MinResource."""
    if strategy(ctx.request) != "Hyperband":
        return
    path = f"{CONFIG}.StrategyConfig.HyperbandStrategyConfig"
    hb = as_mapping(dig(ctx.request, path))
    max_resource = as_int(hb.get("MaxResource"))
    min_resource = as_int(hb.get("MinResource"))
    source = f"{path}.MaxResource"
    if hb.get("MaxResource") is None:
        for view in definitions(ctx.request):
            for key in EPOCH_KEYS:
                if key in view.static:
                    max_resource = as_int(view.static[key])
                    source = f"{view.field('StaticHyperParameters')}.{key}"
                    break
            if max_resource is not None:
                break
        if max_resource is None:
            yield _error(
                "AMT017",
                f"{path}.MaxResource",
                "Hyperband needs MaxResource, and no static hyperparameter named "
                f"{', '.join(EPOCH_KEYS)} lets AMT infer it.",
                "SageMaker rejects the request: Hyperband must know the largest resource (epochs) a trial "
                "gets.",
                "Set StrategyConfig.HyperbandStrategyConfig.MaxResource (e.g. the number of epochs).",
            )
            return
    if max_resource is None or max_resource < 1 or max_resource > MAX_HYPERBAND_RESOURCE:
        yield _error(
            "AMT017",
            source,
            "Hyperband's MaxResource is "
            f"{hb.get('MaxResource') if source.endswith('MaxResource') else max_resource!r};"
            f" it must be an integer from 1 to {MAX_HYPERBAND_RESOURCE}.",
            "SageMaker rejects the request.",
            f"Set MaxResource between 1 and {MAX_HYPERBAND_RESOURCE}.",
        )
        return
    if hb.get("MinResource") is not None and (min_resource is None or not 1 <= min_resource <= max_resource):
        yield _error(
            "AMT017",
            f"{path}.MinResource",
            f"MinResource is {hb.get('MinResource')!r}; it must be an integer from 1 to MaxResource "
            f"({max_resource}).",
            "SageMaker rejects the request.",
            f"Set MinResource between 1 and {max_resource}.",
        )


# ---------------------------------------------------------------------------------------------------------
# Runtime and spot


@rule("AMT018", Severity.ERROR, "Tuning MaxRuntimeInSeconds from 120 to 2,592,000 (30 days)", tags=SERVICE)
def tuning_runtime(ctx: LintContext) -> Iterator[Finding]:
    """The tuning job's own runtime limit, when given, is between 120 s and 30 days."""
    path = f"{LIMITS}.MaxRuntimeInSeconds"
    raw = dig(ctx.request, path)
    if raw is None:
        return
    value = raw if isinstance(raw, int) and not isinstance(raw, bool) else None
    if value is None or not TUNING_RUNTIME_MIN <= value <= TUNING_RUNTIME_MAX:
        yield _error(
            "AMT018",
            path,
            f"the tuning job's MaxRuntimeInSeconds is {_show(raw)}; it must be an integer from "
            f"{TUNING_RUNTIME_MIN} to "
            f"{TUNING_RUNTIME_MAX:,} (30 days).",
            "SageMaker rejects the request.",
            f"Set it between {TUNING_RUNTIME_MIN} and {TUNING_RUNTIME_MAX}, or omit it.",
        )


@rule("AMT019", Severity.ERROR, "Training MaxRuntimeInSeconds from 1 s to 28 days", tags=SERVICE)
def training_runtime(ctx: LintContext) -> Iterator[Finding]:
    """Each training job's ``StoppingCondition.MaxRuntimeInSeconds`` is given, from 1 s to 28 days."""
    for view in definitions(ctx.request):
        path = view.field("StoppingCondition.MaxRuntimeInSeconds")
        raw = view.stopping.get("MaxRuntimeInSeconds")
        value = raw if isinstance(raw, int) and not isinstance(raw, bool) else None
        if value is None or not 1 <= value <= TRAINING_RUNTIME_MAX:
            shown = "missing" if raw is None else _show(raw)
            yield _error(
                "AMT019",
                path,
                f"the training jobs' MaxRuntimeInSeconds is {shown}; it must be an integer from 1 to "
                f"{TRAINING_RUNTIME_MAX:,} (28 days).",
                "SageMaker rejects the request; it is also what bounds each trial's cost.",
                "Set it to a little more than your longest expected training time, e.g. 3600.",
            )


@rule(
    "AMT020", Severity.ERROR, "Spot training needs MaxWaitTimeInSeconds >= MaxRuntimeInSeconds", tags=SERVICE
)
def spot_wait_time(ctx: LintContext) -> Iterator[Finding]:
    """With managed spot training, ``MaxWaitTimeInSeconds`` is required and >= ``MaxRuntimeInSeconds``."""
    for view in definitions(ctx.request):
        if not view.spot:
            continue
        path = view.field("StoppingCondition.MaxWaitTimeInSeconds")
        raw_wait = view.stopping.get("MaxWaitTimeInSeconds")
        wait, runtime = as_int(raw_wait), as_int(view.stopping.get("MaxRuntimeInSeconds"))
        if raw_wait is None:
            yield _error(
                "AMT020",
                path,
                "managed spot training is enabled but MaxWaitTimeInSeconds is missing.",
                "SageMaker needs to know how long to wait for spot capacity; it rejects the request.",
                "Set MaxWaitTimeInSeconds, e.g. twice MaxRuntimeInSeconds.",
            )
        elif wait is None or (runtime is not None and wait < runtime):
            yield _error(
                "AMT020",
                path,
                f"MaxWaitTimeInSeconds ({raw_wait!r}) is below MaxRuntimeInSeconds ({runtime}).",
                "The wait time includes the training time; SageMaker rejects a shorter wait.",
                f"Set MaxWaitTimeInSeconds to at least {runtime} (more leaves room to wait for capacity).",
            )


# ---------------------------------------------------------------------------------------------------------
# Objective and hyperparameters


def _is_builtin(view: DefinitionView) -> bool:
    if view.algorithm.get("AlgorithmName"):
        return True
    image = view.algorithm.get("TrainingImage")
    if not isinstance(image, str):
        return False
    repository = image.rsplit("/", 1)[-1].split("@", 1)[0].split(":", 1)[0]
    return repository in BUILTIN_ALGORITHM_REPOSITORIES


@rule(
    "AMT021",
    Severity.ERROR,
    "The objective metric is one of the metric definitions (custom images)",
    tags=SERVICE,
)
def objective_defined(ctx: LintContext) -> Iterator[Finding]:
    """A custom image reports metrics only through MetricDefinitions; the objective must be among them.

    Built-in algorithms publish predefined metrics and may omit MetricDefinitions; when they do define
    metrics, the objective must still be one of them.
    """
    for view in definitions(ctx.request):
        objective = view.objective_metric
        if not objective:
            continue  # reported by AMT002
        names = [d.get("Name") for _, d in view.metric_definitions]
        if objective in names:
            continue
        if not names and _is_builtin(view):
            continue
        shown = ", ".join(repr(n) for n in names if isinstance(n, str)) or "none"
        yield _error(
            "AMT021",
            f"{view.objective_path}.MetricName",
            f"the objective {objective!r} is not among the metric definitions (defined: {shown}).",
            "SageMaker only knows metrics it can parse from the training log; it rejects an objective "
            "without a definition.",
            f"Add {{Name: {objective}, Regex: ...}} to AlgorithmSpecification.MetricDefinitions, or correct "
            "the objective's MetricName.",
        )


@rule("AMT022", Severity.ERROR, "A tunable hyperparameter is not also static", tags=SERVICE)
def tunable_also_static(ctx: LintContext) -> Iterator[Finding]:
    """A hyperparameter is either tuned or fixed, never both."""
    for view in definitions(ctx.request):
        for name in tunable_kinds(view):
            if name in view.static:
                yield _error(
                    "AMT022",
                    f"{view.field('StaticHyperParameters')}.{name}",
                    f"{name!r} is both tunable and static ({view.static[name]!r}).",
                    "SageMaker rejects a hyperparameter that appears in both places.",
                    f"Remove {name!r} from StaticHyperParameters, or drop its range.",
                )
