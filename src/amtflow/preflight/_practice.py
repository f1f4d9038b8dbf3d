"""AMT best practices (tag ``practice``): requests SageMaker accepts but that waste trials or money.

Thresholds are documented in ``docs/preflight.md`` with the reasoning behind each. Most findings here are
warnings; a contradiction between the objective's direction and its metric name is an error, because the
search would then optimise for the worst model.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Iterator, Mapping

from amtflow.preflight._findings import Finding, LintContext, Severity, rule
from amtflow.preflight._lineage import PARENT_WARM_STARTS_KEY
from amtflow.preflight._request import (
    CONFIG,
    LIMITS,
    RangeKind,
    RangeView,
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

PRACTICE = ("practice",)

#: Bayesian search: warn when more than this share of the budget runs at once.
BAYESIAN_PARALLEL_SHARE = 0.10
#: Bayesian search: warn below this many training jobs (or two per tunable hyperparameter, if more).
BAYESIAN_MIN_JOBS = 10
#: Grid search: warn above this many categorical parameters or combinations (unless a budget says more).
GRID_MAX_PARAMETERS = 5
GRID_MAX_COMBINATIONS = 100
#: Random search: warn at this many dimensions or more with fewer than two trials per dimension.
RANDOM_HIGH_DIMENSION = 10
RANDOM_TRIALS_PER_DIMENSION = 2
#: Log-scaled hyperparameters: warn when a linear range spans this many orders of magnitude.
LOG_SPAN_ORDERS = 2
#: Spot training: warn about missing checkpoints above this per-job runtime.
SPOT_CHECKPOINT_AFTER_S = 3600
#: Completion criteria: recommend them from this many training jobs on.
COMPLETION_CRITERIA_FROM_JOBS = 100

#: ``LintContext.extra`` keys read by these rules.
GRID_BUDGET_KEY = "max_training_jobs_budget"
COMPATIBLE_PARENTS_KEY = "compatible_parents"

_LOG_NAMES = frozenset(
    {
        "eta",
        "lr",
        "learning_rate",
        "learningrate",
        "alpha",
        "lambda",
        "l1",
        "l2",
        "weight_decay",
        "c",
        "gamma",
        "lambda_bias",
        "l1_reg",
        "l2_reg",
        "wd",
        "epsilon",
        "tol",
    }
)
_LOG_TOKENS = frozenset(
    {"lr", "eta", "alpha", "lambda", "l1", "l2", "decay", "reg", "regularization", "penalty"}
)

_MAXIMIZE_TOKENS = frozenset(
    {
        "accuracy",
        "acc",
        "auc",
        "f1",
        "r2",
        "r²",
        "rsquared",
        "precision",
        "recall",
        "map",
        "ndcg",
        "mrr",
        "iou",
    }
)
_MINIMIZE_TOKENS = frozenset(
    {
        "loss",
        "rmse",
        "mae",
        "mse",
        "error",
        "err",
        "logloss",
        "mlogloss",
        "mape",
        "merror",
        "perplexity",
        "wer",
    }
)


def _warning(rule_id: str, field: str, message: str, why: str, fix: str) -> Finding:
    return Finding(rule_id, Severity.WARNING, field, message, why, fix)


def _tunable_count(ctx: LintContext) -> int:
    return sum(1 for view in definitions(ctx.request) for _ in view.iter_ranges())


# ---------------------------------------------------------------------------------------------------------
# Strategy against budget


@rule("AMT101", Severity.WARNING, "Bayesian search with high parallelism for its budget", tags=PRACTICE)
def bayesian_parallelism(ctx: LintContext) -> Iterator[Finding]:
    """Bayesian search learns from finished trials; running more than 10% of the budget at once wastes it."""
    if strategy(ctx.request) != "Bayesian":
        return
    jobs, parallel = max_jobs(ctx.request), max_parallel(ctx.request)
    if jobs is None or parallel is None or parallel <= 1:
        return
    if parallel > max(1, math.floor(jobs * BAYESIAN_PARALLEL_SHARE)):
        suggested = max(1, math.floor(jobs * BAYESIAN_PARALLEL_SHARE))
        yield _warning(
            "AMT101",
            f"{LIMITS}.MaxParallelTrainingJobs",
            f"Bayesian search runs {parallel} of its {jobs} training jobs at once (more than "
            f"{BAYESIAN_PARALLEL_SHARE:.0%}).",
            "Bayesian search improves through successive rounds: trials started together are chosen without "
            "each other's results, so high parallelism makes it closer to random search at the same cost.",
            f"Lower MaxParallelTrainingJobs to {suggested}, raise MaxNumberOfTrainingJobs, or use Random "
            "search if wall-clock time matters more.",
        )


@rule("AMT102", Severity.WARNING, "Bayesian search with a tiny budget", tags=PRACTICE)
def bayesian_tiny_budget(ctx: LintContext) -> Iterator[Finding]:
    """Below 10 jobs (or two per tunable hyperparameter) Bayesian search barely leaves its random start."""
    if strategy(ctx.request) != "Bayesian":
        return
    jobs = max_jobs(ctx.request)
    needed = max(BAYESIAN_MIN_JOBS, 2 * _tunable_count(ctx))
    if jobs is not None and jobs < needed:
        yield _warning(
            "AMT102",
            f"{LIMITS}.MaxNumberOfTrainingJobs",
            f"Bayesian search gets only {jobs} training jobs for {_tunable_count(ctx)} tunable "
            "hyperparameters.",
            "Bayesian search starts with random trials and needs results to model the objective; with so few "
            "jobs it behaves like Random search while running more sequentially.",
            f"Give it at least {needed} jobs, tune fewer hyperparameters, or use Random search.",
        )


@rule(
    "AMT103",
    Severity.WARNING,
    "Grid search with many parameters or more combinations than the budget",
    tags=PRACTICE,
)
def grid_too_large(ctx: LintContext) -> Iterator[Finding]:
    """Grid runs every combination, so its cost multiplies with each parameter and value."""
    if strategy(ctx.request) != "Grid":
        return
    views = definitions(ctx.request)
    if not views:
        return
    params = sum(1 for v in views for r in v.iter_ranges() if r.kind is RangeKind.CATEGORICAL)
    size = sum(grid_size(v) for v in views)
    budget = as_int(ctx.extra.get(GRID_BUDGET_KEY))
    limit = budget if budget is not None else GRID_MAX_COMBINATIONS
    if size > limit:
        yield _warning(
            "AMT103",
            views[0].ranges_path,
            f"the grid has {size} combinations, more than the "
            + (f"budget of {budget} training jobs." if budget is not None else f"{limit} worth enumerating."),
            "Grid search runs every combination as a full training job; there is no early exit.",
            "Drop values or parameters, or use Bayesian search with a job budget.",
        )
    elif params > GRID_MAX_PARAMETERS:
        yield _warning(
            "AMT103",
            views[0].ranges_path,
            f"Grid search over {params} parameters.",
            "Every added parameter multiplies the number of training jobs; most of them explore unimportant "
            "corners of the space.",
            f"Fix all but the {GRID_MAX_PARAMETERS} most important parameters, or use Bayesian search.",
        )


@rule("AMT104", Severity.WARNING, "Random search in very high dimension on a tiny budget", tags=PRACTICE)
def random_high_dimension(ctx: LintContext) -> Iterator[Finding]:
    """With 10+ dimensions and fewer than two trials per dimension, random search samples almost nothing."""
    if strategy(ctx.request) != "Random":
        return
    dims, jobs = _tunable_count(ctx), max_jobs(ctx.request)
    if jobs is not None and dims >= RANDOM_HIGH_DIMENSION and jobs < RANDOM_TRIALS_PER_DIMENSION * dims:
        yield _warning(
            "AMT104",
            f"{LIMITS}.MaxNumberOfTrainingJobs",
            f"Random search over {dims} hyperparameters with only {jobs} training jobs.",
            "Each trial covers one point of a huge space; the best of so few is close to a random guess.",
            f"Tune fewer hyperparameters (fix the rest), or raise the budget to at least "
            f"{RANDOM_TRIALS_PER_DIMENSION * dims} jobs.",
        )


# ---------------------------------------------------------------------------------------------------------
# Ranges


def _log_like(name: str) -> bool:
    lowered = name.lower()
    if lowered in _LOG_NAMES or lowered.startswith("reg_") or "learning_rate" in lowered:
        return True
    tokens = [t for t in re.split(r"[^a-z0-9]+", lowered) if t]
    return any(t in _LOG_TOKENS for t in tokens)


def _wide_positive(r: RangeView) -> bool:
    bounds = r.bounds()
    return bounds is not None and bounds[0] > 0 and bounds[1] / bounds[0] >= 10**LOG_SPAN_ORDERS


def _log_candidates(ctx: LintContext, scaling: str) -> Iterator[RangeView]:
    for view in definitions(ctx.request):
        for r in view.iter_ranges():
            if r.kind is RangeKind.CATEGORICAL or r.scaling != scaling:
                continue
            if _log_like(r.name) and _wide_positive(r):
                yield r


@rule(
    "AMT105",
    Severity.WARNING,
    "Learning-rate-like range spanning orders of magnitude with Linear scaling",
    tags=PRACTICE,
)
def log_range_linear(ctx: LintContext) -> Iterator[Finding]:
    """Learning rates and regularisation weights act multiplicatively; a linear search wastes most trials."""
    for r in _log_candidates(ctx, "Linear"):
        yield _warning(
            "AMT105",
            f"{r.path}.ScalingType",
            f"{r.name} spans [{r.body.get('MinValue')}, {r.body.get('MaxValue')}] (2+ orders of magnitude) "
            "with Linear scaling.",
            "Sampled linearly, about 99% of trials land in the top order of magnitude; the small values that "
            "often work best are almost never tried.",
            "Set ScalingType to Logarithmic.",
        )


@rule(
    "AMT106",
    Severity.WARNING,
    "Learning-rate-like range spanning orders of magnitude left to Auto scaling",
    tags=PRACTICE,
)
def log_range_auto(ctx: LintContext) -> Iterator[Finding]:
    """Auto lets SageMaker pick the scale; for learning rates and penalties say Logarithmic explicitly."""
    for r in _log_candidates(ctx, "Auto"):
        yield _warning(
            "AMT106",
            f"{r.path}.ScalingType",
            f"{r.name} spans [{r.body.get('MinValue')}, {r.body.get('MaxValue')}] (2+ orders of magnitude) "
            "with Auto scaling.",
            "Auto may search the range linearly; learning rates and regularisation weights are best searched "
            "on a log scale.",
            "Set ScalingType to Logarithmic to make the choice explicit.",
        )


@rule("AMT107", Severity.ERROR, "Objective direction contradicts the metric's name", tags=PRACTICE)
def objective_direction(ctx: LintContext) -> Iterator[Finding]:
    """Accuracy, AUC, F1, R², precision, recall, MAP, NDCG are maximised; loss, RMSE, MAE, MSE, error,
    logloss, MAPE are minimised."""
    for view in definitions(ctx.request):
        metric, direction = view.objective_metric, view.objective_type
        if not metric or direction not in ("Maximize", "Minimize"):
            continue
        tokens = set(re.split(r"[^a-z0-9²]+", metric.lower()))
        wants_max, wants_min = bool(tokens & _MAXIMIZE_TOKENS), bool(tokens & _MINIMIZE_TOKENS)
        if wants_max == wants_min:
            continue
        expected = "Maximize" if wants_max else "Minimize"
        if direction != expected:
            yield Finding(
                "AMT107",
                Severity.ERROR,
                f"{view.objective_path}.Type",
                f"the objective {metric!r} is set to {direction}, but a metric of that name is "
                f"{'higher' if wants_max else 'lower'}-is-better.",
                "The search would steer towards the worst models and pick the worst one as best.",
                f"Set Type to {expected} (or correct MetricName if it names the wrong metric).",
            )


@rule("AMT108", Severity.WARNING, "Categorical range with duplicate values", tags=PRACTICE)
def duplicate_categorical_values(ctx: LintContext) -> Iterator[Finding]:
    """A value listed twice is tried twice as often and skews Grid and Random searches."""
    for view in definitions(ctx.request):
        for r in view.iter_ranges():
            if r.kind is not RangeKind.CATEGORICAL:
                continue
            dups = sorted(v for v, n in Counter(r.values).items() if n > 1)
            if dups:
                yield _warning(
                    "AMT108",
                    f"{r.path}.Values",
                    f"{r.name} lists {', '.join(repr(d) for d in dups)} more than once.",
                    "Duplicates run the same configuration again (Grid) or over-sample it (Random, "
                    "Bayesian).",
                    "List each value once.",
                )


# ---------------------------------------------------------------------------------------------------------
# Resources, completion and warm start


@rule("AMT109", Severity.WARNING, "Spot training of long jobs without checkpoints", tags=PRACTICE)
def spot_without_checkpoints(ctx: LintContext) -> Iterator[Finding]:
    """An interrupted spot job restarts from scratch unless it checkpoints; beyond an hour that costs."""
    for view in definitions(ctx.request):
        runtime = as_int(view.stopping.get("MaxRuntimeInSeconds"))
        long_running = runtime is not None and runtime > SPOT_CHECKPOINT_AFTER_S
        if view.spot and long_running and not isinstance(view.body.get("CheckpointConfig"), Mapping):
            yield _warning(
                "AMT109",
                view.field("CheckpointConfig"),
                f"spot training jobs may run {runtime} s but have no CheckpointConfig.",
                "After a spot interruption a job without checkpoints starts over, paying again for the "
                "work lost; built-in algorithms without checkpoints are also limited to 1 h of waiting.",
                "Add CheckpointConfig with an S3Uri (and save/restore checkpoints in the training script).",
            )


@rule("AMT110", Severity.WARNING, "No completion criteria on a large budget", tags=PRACTICE)
def completion_criteria(ctx: LintContext) -> Iterator[Finding]:
    """From 100 training jobs on, a tuning job should stop once it stops improving."""
    jobs = max_jobs(ctx.request)
    if strategy(ctx.request) == "Grid" or jobs is None or jobs < COMPLETION_CRITERIA_FROM_JOBS:
        return
    if not isinstance(dig(ctx.request, f"{CONFIG}.TuningJobCompletionCriteria"), Mapping):
        yield _warning(
            "AMT110",
            f"{CONFIG}.TuningJobCompletionCriteria",
            f"{jobs} training jobs and no completion criteria.",
            "Without them the tuning job keeps launching jobs long after the objective has stopped "
            "improving.",
            "Add TuningJobCompletionCriteria, e.g. "
            "BestObjectiveNotImproving.MaxNumberOfTrainingJobsNotImproving "
            "or ConvergenceDetected.CompleteOnConvergence: Enabled.",
        )


@rule("AMT111", Severity.WARNING, "A compatible earlier tuning job is not used for warm start", tags=PRACTICE)
def warm_start_unused(ctx: LintContext) -> Iterator[Finding]:
    """Evidence: ``extra["compatible_parents"]``, earlier compatible jobs of the model (from the lineage)."""
    compatible = [n for n in as_list(ctx.extra.get(COMPATIBLE_PARENTS_KEY)) if isinstance(n, str) and n]
    if compatible and "WarmStartConfig" not in ctx.request:
        shown = ", ".join(compatible[:5])
        yield _warning(
            "AMT111",
            "WarmStartConfig",
            f"this job starts cold although compatible earlier tuning jobs exist: {shown}.",
            "Warm start reuses what those jobs learned and usually reaches a good model in fewer trials.",
            "Add WarmStartConfig with them as parents (TransferLearning after data changes).",
        )


@rule(
    "AMT112",
    Severity.WARNING,
    "A parent's own parents are not inherited (warm start is not recursive)",
    tags=PRACTICE,
)
def warm_start_grandparents(ctx: LintContext) -> Iterator[Finding]:
    """A parent that was itself warm-started passes on only its own trials; list its parents explicitly.

    Evidence: the parents' descriptions (``LintContext.parents``) or the lineage
    (``extra["parent_warm_starts"]``).
    """
    listed = {
        str(as_mapping(p).get("HyperParameterTuningJobName", "")).lower()
        for p in as_list(dig(ctx.request, "WarmStartConfig.ParentHyperParameterTuningJobs"))
    }
    grandparents: list[tuple[str, object]] = []
    for name, parent in ctx.parents.items():
        for gp in as_list(dig(parent, "WarmStartConfig.ParentHyperParameterTuningJobs")):
            grandparents.append((name, as_mapping(gp).get("HyperParameterTuningJobName")))
    for name, gps in as_mapping(ctx.extra.get(PARENT_WARM_STARTS_KEY)).items():
        grandparents.extend((str(name), gp) for gp in as_list(gps))
    missing: dict[str, str] = {}
    for name, gp_name in grandparents:
        if name.lower() in listed and isinstance(gp_name, str) and gp_name and gp_name.lower() not in listed:
            missing.setdefault(gp_name, name)
    for gp_name, via in sorted(missing.items()):
        yield _warning(
            "AMT112",
            "WarmStartConfig.ParentHyperParameterTuningJobs",
            f"{gp_name!r} (a parent of {via!r}) is not a parent of this job, so its trials are not used.",
            "Warm start is not recursive: only the listed parents' training jobs inform the search.",
            f"Add {gp_name!r} to ParentHyperParameterTuningJobs (at most 5 parents) if its trials still "
            "apply.",
        )
