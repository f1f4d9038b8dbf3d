"""Service constraints: what SageMaker itself rejects in ``CreateHyperParameterTuningJob`` (tag ``service``).

These rules are the local AMT engine's request validation as well as the linter's first line, so they hold
only constraints SageMaker enforces (sources: the API reference and the AMT limits page; where the two
disagree the limits page wins). Every finding here is an error. Rules that compare the request with its
warm-start parents read ``LintContext.parents`` (name → DescribeHyperParameterTuningJob response) and stay
silent when no parent was described.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
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
    as_list,
    as_mapping,
    definitions,
    dig,
    early_stopping,
    grid_size,
    max_jobs,
    max_parallel,
    strategy,
    tunable_kinds,
)
from amtflow.vocabulary import TUNING_JOB_NAME_MAX, TUNING_JOB_NAME_PATTERN, TuningJobStatus

SERVICE = ("service",)

NAME_PATTERN = TUNING_JOB_NAME_PATTERN
NAME_MAX = TUNING_JOB_NAME_MAX
MAX_TUNABLE = 30
MAX_CATEGORICAL_VALUES = 30
MAX_HYPERPARAMETERS = 100  # static + tunable, including the `_tuning_objective_metric` AMT adds
MAX_METRIC_DEFINITIONS = 20
DEFAULT_PARALLEL_QUOTA = 10
MAX_PARALLEL_RAISED = 100
MAX_TRAINING_JOBS = 750
MAX_HYPERBAND_RESOURCE = 20_000
TUNING_RUNTIME_MIN = 120
TUNING_RUNTIME_MAX = 30 * 24 * 3600  # 2,592,000 s
TRAINING_RUNTIME_MAX = 28 * 24 * 3600  # 2,419,200 s
MAX_PARENTS = 5
MAX_WARM_START_CHANGES = 10
MAX_API_INT = 2**31 - 1  # the API's Integer shape
TERMINAL_STATUSES = frozenset(s.value for s in TuningJobStatus if s.is_terminal())

STRATEGIES = ("Bayesian", "Random", "Hyperband", "Grid")
OBJECTIVE_TYPES = ("Maximize", "Minimize")
SCALING_TYPES = ("Auto", "Linear", "Logarithmic", "ReverseLogarithmic")
EARLY_STOPPING_TYPES = ("Off", "Auto")
INPUT_MODES = ("Pipe", "File", "FastFile")
WARM_START_TYPES = ("IdenticalDataAndAlgorithm", "TransferLearning")

#: Error code the service returns for a finding of each rule (default ``ValidationException``).
SERVICE_ERROR_CODES: Mapping[str, str] = {"AMT007": "ResourceLimitExceeded"}

#: ``LintContext.extra`` key holding the account's raised MaxParallelTrainingJobs quota, if any.
PARALLEL_QUOTA_KEY = "max_parallel_training_jobs_quota"
#: ``LintContext.extra`` key holding the account's raised training-jobs quota of Random search, if any.
TRAINING_JOBS_QUOTA_KEY = "max_training_jobs_quota"
MAX_RANDOM_TRAINING_JOBS_RAISED = 10_000

#: Repository names of SageMaker built-in algorithm images; they come with predefined metrics.
BUILTIN_ALGORITHM_REPOSITORIES = frozenset(
    {
        "xgboost",
        "sagemaker-xgboost",
        "linear-learner",
        "knn",
        "blazingtext",
        "image-classification",
        "object-detection",
        "semantic-segmentation",
        "factorization-machines",
        "ntm",
        "lda",
        "ipinsights",
        "kmeans",
        "pca",
        "randomcutforest",
        "seq2seq",
        "forecasting-deepar",
        "object2vec",
    }
)


def service_error_code(rule_id: str) -> str:
    """The error code SageMaker answers with when the rule ``rule_id`` is violated."""
    return SERVICE_ERROR_CODES.get(rule_id, "ValidationException")


def _show(value: Any) -> str:
    """``repr(value)``, shortened so a pathological value cannot flood a message."""
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def _error(rule_id: str, field: str, message: str, why: str, fix: str) -> Finding:
    return Finding(rule_id, Severity.ERROR, field, message, why, fix)


# ---------------------------------------------------------------------------------------------------------
# Names and structure


@rule("AMT001", Severity.ERROR, "Tuning job name: 1-32 characters, alphanumerics and hyphens", tags=SERVICE)
def job_name(ctx: LintContext) -> Iterator[Finding]:
    """The name must match ``[a-zA-Z0-9](-*[a-zA-Z0-9]){0,31}`` (the API's regex, stricter than its prose)."""
    name = ctx.request.get("HyperParameterTuningJobName")
    field = "HyperParameterTuningJobName"
    why = "SageMaker rejects the request; the name is also the prefix of every training job's name."
    if not isinstance(name, str) or not name:
        yield _error(
            "AMT001", field, "the tuning job name is missing.", why, "Give a name such as 'churn-2026-11'."
        )
    elif len(name) > NAME_MAX:
        yield _error(
            "AMT001",
            field,
            f"the name {name!r} has {len(name)} characters; at most {NAME_MAX} are allowed.",
            why,
            f"Shorten it to {NAME_MAX} characters (amtflow.naming.tuning_job_name does this for you).",
        )
    elif not NAME_PATTERN.fullmatch(name):
        yield _error(
            "AMT001",
            field,
            f"the name {name!r} may contain only letters, digits and hyphens, starting and ending with a "
            "letter or digit.",
            why,
            "Replace other characters (such as '_', '.', ':') with hyphens.",
        )


def _enum(field: str, value: Any, allowed: tuple[str, ...], *, required: bool) -> Iterator[Finding]:
    if value is None and not required:
        return
    if value not in allowed:
        shown = "missing" if value is None else _show(value)
        yield _error(
            "AMT002",
            field,
            f"{field.rsplit('.', 1)[-1]} is {shown}; it must be one of {', '.join(allowed)}.",
            "SageMaker rejects a request whose enumerated members hold other values.",
            f"Set {field} to one of: {', '.join(allowed)}.",
        )


def _positive_int(field: str, value: Any, *, required: bool) -> Iterator[Finding]:
    if value is None and not required:
        return
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= MAX_API_INT:
        shown = "missing" if value is None else _show(value)
        yield _error(
            "AMT002",
            field,
            f"{field.rsplit('.', 1)[-1]} is {shown}; it must be an integer from 1 to {MAX_API_INT}.",
            "SageMaker rejects the request when an integer member is absent, not a number or below 1.",
            f"Set {field} to a whole number such as 10 (a number, not a string).",
        )


def _missing(field: str, what: str, fix: str) -> Finding:
    return _error(
        "AMT002",
        field,
        f"{what} is missing or not of the right shape.",
        "SageMaker rejects a request without it.",
        fix,
    )


@rule(
    "AMT002", Severity.ERROR, "Required members are present and enumerations hold valid values", tags=SERVICE
)
def structure(ctx: LintContext) -> Iterator[Finding]:
    """Required members, their shapes and the values of every enumerated member."""
    req = ctx.request
    config = req.get(CONFIG)
    if not isinstance(config, Mapping):
        yield _missing(CONFIG, CONFIG, "Add HyperParameterTuningJobConfig with Strategy and ResourceLimits.")
        config = {}
    yield from _enum(f"{CONFIG}.Strategy", config.get("Strategy"), STRATEGIES, required=True)
    yield from _enum(
        f"{CONFIG}.TrainingJobEarlyStoppingType",
        config.get("TrainingJobEarlyStoppingType"),
        EARLY_STOPPING_TYPES,
        required=False,
    )
    limits = config.get("ResourceLimits")
    if not isinstance(limits, Mapping):
        yield _missing(LIMITS, "ResourceLimits", "Add ResourceLimits with at least MaxParallelTrainingJobs.")
        limits = {}
    yield from _positive_int(
        f"{LIMITS}.MaxParallelTrainingJobs", limits.get("MaxParallelTrainingJobs"), required=True
    )
    yield from _positive_int(
        f"{LIMITS}.MaxNumberOfTrainingJobs", limits.get("MaxNumberOfTrainingJobs"), required=False
    )
    yield from _completion_criteria(config)
    seed = config.get("RandomSeed")
    if seed is not None and (
        isinstance(seed, bool) or not isinstance(seed, int) or not 0 <= seed <= MAX_API_INT
    ):
        yield _error(
            "AMT002",
            f"{CONFIG}.RandomSeed",
            f"RandomSeed is {_show(seed)}; it must be an integer from 0 to {MAX_API_INT}.",
            "SageMaker rejects a seed that is not a non-negative integer.",
            "Set RandomSeed to a whole number such as 42 (a number, not a string), or omit it.",
        )
    single, multi = req.get("TrainingJobDefinition"), req.get("TrainingJobDefinitions")
    if single is not None and multi is not None:
        yield _error(
            "AMT002",
            "TrainingJobDefinitions",
            "both TrainingJobDefinition and TrainingJobDefinitions are given.",
            "A tuning job has either one training-job definition or a list of them, not both.",
            "Keep only one of the two members.",
        )
    elif single is None and multi is None:
        yield _missing("TrainingJobDefinition", "TrainingJobDefinition", "Add the training-job definition.")
    elif multi is not None and not 1 <= len(as_list(multi)) <= 10:
        yield _missing(
            "TrainingJobDefinitions", "TrainingJobDefinitions (1-10 entries)", "List 1 to 10 definitions."
        )
    elif single is not None and not isinstance(single, Mapping):
        yield _missing("TrainingJobDefinition", "TrainingJobDefinition", "Make it a mapping of members.")
    for view in definitions(req):
        yield from _definition_structure(view, multi is not None)


def _completion_criteria(config: Mapping[str, Any]) -> Iterator[Finding]:
    """``TuningJobCompletionCriteria``: a number, an integer of at least 3, and Enabled or Disabled."""
    path = f"{CONFIG}.TuningJobCompletionCriteria"
    criteria = config.get("TuningJobCompletionCriteria")
    if criteria is None:
        return
    if not isinstance(criteria, Mapping):
        yield _missing(
            path,
            "TuningJobCompletionCriteria",
            "Make it a mapping, e.g. {BestObjectiveNotImproving: {MaxNumberOfTrainingJobsNotImproving: 10}}.",
        )
        return
    target = criteria.get("TargetObjectiveMetricValue")
    if target is not None and (
        isinstance(target, bool) or not isinstance(target, int | float) or as_float(target) is None
    ):
        yield _error(
            "AMT002",
            f"{path}.TargetObjectiveMetricValue",
            f"TargetObjectiveMetricValue is {_show(target)}; it must be a finite number.",
            "SageMaker rejects a target objective value that is not a number.",
            "Give the objective value at which tuning may stop, e.g. 0.95 (a number, not a string).",
        )
    if "BestObjectiveNotImproving" in criteria:
        patience = as_mapping(criteria.get("BestObjectiveNotImproving")).get(
            "MaxNumberOfTrainingJobsNotImproving"
        )
        if patience is not None and (
            isinstance(patience, bool) or not isinstance(patience, int) or not 3 <= patience <= MAX_API_INT
        ):
            yield _error(
                "AMT002",
                f"{path}.BestObjectiveNotImproving.MaxNumberOfTrainingJobsNotImproving",
                f"MaxNumberOfTrainingJobsNotImproving is {_show(patience)}; it must be an integer of at "
                "least 3.",
                "SageMaker rejects the request: fewer than 3 jobs is too little evidence of a stall.",
                "Set it to 3 or more, e.g. 10.",
            )
    if "ConvergenceDetected" in criteria:
        yield from _enum(
            f"{path}.ConvergenceDetected.CompleteOnConvergence",
            as_mapping(criteria.get("ConvergenceDetected")).get("CompleteOnConvergence"),
            ("Disabled", "Enabled"),
            required=False,
        )


def _definition_structure(view: DefinitionView, multi: bool) -> Iterator[Finding]:
    body = view.body
    if multi and not isinstance(body.get("DefinitionName"), str):
        yield _missing(view.field("DefinitionName"), "DefinitionName", "Name each definition (e.g. 'xgb').")
    if not view.objective_metric:
        yield _missing(
            f"{view.objective_path}.MetricName",
            "the objective metric name",
            "Set HyperParameterTuningJobObjective to {Type: Maximize|Minimize, MetricName: <metric>}.",
        )
    yield from _enum(
        f"{view.objective_path}.Type", view.objective.get("Type"), OBJECTIVE_TYPES, required=True
    )
    algo = body.get("AlgorithmSpecification")
    if not isinstance(algo, Mapping):
        yield _missing(
            view.field("AlgorithmSpecification"),
            "AlgorithmSpecification",
            "Add AlgorithmSpecification with TrainingImage and TrainingInputMode.",
        )
        algo = {}
    has_image, has_algorithm = bool(algo.get("TrainingImage")), bool(algo.get("AlgorithmName"))
    if has_image == has_algorithm:
        yield _error(
            "AMT002",
            view.field("AlgorithmSpecification.TrainingImage"),
            "give exactly one of TrainingImage and AlgorithmName"
            + (" (both are set)." if has_image else " (neither is set)."),
            "SageMaker needs to know which container to run, and accepts only one way of naming it.",
            "Set TrainingImage to the image URI (or AlgorithmName to an algorithm resource), not both.",
        )
    yield from _enum(
        view.field("AlgorithmSpecification.TrainingInputMode"),
        algo.get("TrainingInputMode"),
        INPUT_MODES,
        required=True,
    )
    for path, definition in view.metric_definitions:
        for member in ("Name", "Regex"):
            if not isinstance(definition.get(member), str) or not definition.get(member):
                yield _missing(
                    f"{path}.{member}", f"the metric definition's {member}", f"Give every metric a {member}."
                )
    if not isinstance(body.get("RoleArn"), str) or not body.get("RoleArn"):
        yield _missing(view.field("RoleArn"), "RoleArn", "Set RoleArn to the SageMaker execution role's ARN.")
    if not isinstance(dig(body, "OutputDataConfig.S3OutputPath"), str):
        yield _missing(
            view.field("OutputDataConfig.S3OutputPath"),
            "OutputDataConfig.S3OutputPath",
            "Set it to an s3:// URI where model artifacts go.",
        )
    if not isinstance(body.get("StoppingCondition"), Mapping):
        yield _missing(
            view.field("StoppingCondition"),
            "StoppingCondition",
            "Add StoppingCondition with MaxRuntimeInSeconds.",
        )
    if not isinstance(body.get("ResourceConfig"), Mapping) and not isinstance(
        body.get("HyperParameterTuningResourceConfig"), Mapping
    ):
        yield _missing(
            view.field("ResourceConfig"),
            "ResourceConfig",
            "Add ResourceConfig with InstanceType, InstanceCount and VolumeSizeInGB.",
        )
    for r in view.iter_ranges():
        if not r.name:
            yield _missing(f"{r.path}.Name", "the range's Name", "Name the hyperparameter this range tunes.")
        if r.kind is RangeKind.CATEGORICAL:
            if not r.values:
                yield _missing(
                    f"{r.path}.Values", "Values (1-30 strings)", "List the values to try, as strings."
                )
        else:
            for member in ("MinValue", "MaxValue"):
                if not isinstance(r.body.get(member), str):
                    shown = r.body.get(member)
                    yield _error(
                        "AMT002",
                        f"{r.path}.{member}",
                        f"{member} must be a string (the API takes numbers as strings); got {shown!r}.",
                        "SageMaker rejects a range whose bounds are not strings.",
                        f'Quote it, e.g. "{shown if shown is not None else 0}".',
                    )
            yield from _enum(
                f"{r.path}.ScalingType", r.body.get("ScalingType"), SCALING_TYPES, required=False
            )


# ---------------------------------------------------------------------------------------------------------
# Limits


@rule("AMT003", Severity.ERROR, "At most 30 tunable hyperparameters", tags=SERVICE)
def tunable_count(ctx: LintContext) -> Iterator[Finding]:
    """Integer, continuous and categorical ranges together may name at most 30 hyperparameters."""
    for view in definitions(ctx.request):
        count = sum(1 for _ in view.iter_ranges())
        if count > MAX_TUNABLE:
            yield _error(
                "AMT003",
                view.ranges_path,
                f"{count} hyperparameters are tunable; AMT allows at most {MAX_TUNABLE}.",
                "SageMaker rejects the request; each extra dimension also makes the search slower to "
                "converge.",
                "Fix the least important hyperparameters as static values.",
            )


@rule("AMT004", Severity.ERROR, "A categorical range has 1 to 30 values", tags=SERVICE)
def categorical_values(ctx: LintContext) -> Iterator[Finding]:
    """Each categorical range lists at most 30 values."""
    for view in definitions(ctx.request):
        for r in view.iter_ranges():
            if (
                r.kind is RangeKind.CATEGORICAL
                and len(as_list(r.body.get("Values"))) > MAX_CATEGORICAL_VALUES
            ):
                yield _error(
                    "AMT004",
                    f"{r.path}.Values",
                    f"{r.name or 'the range'} lists {len(as_list(r.body.get('Values')))} values; at most "
                    f"{MAX_CATEGORICAL_VALUES} are allowed.",
                    "SageMaker rejects the request.",
                    "Keep the most promising values, or make a numeric hyperparameter an Integer or "
                    "Continuous range instead.",
                )


@rule(
    "AMT005",
    Severity.ERROR,
    "At most 100 hyperparameters in total, including _tuning_objective_metric",
    tags=SERVICE,
)
def total_hyperparameters(ctx: LintContext) -> Iterator[Finding]:
    """Static plus tunable hyperparameters, plus the ``_tuning_objective_metric`` AMT adds, <= 100."""
    for view in definitions(ctx.request):
        names = set(view.static) | set(tunable_kinds(view))
        names.add("_tuning_objective_metric")
        if len(names) > MAX_HYPERPARAMETERS:
            yield _error(
                "AMT005",
                view.field("StaticHyperParameters"),
                f"{len(names)} hyperparameters in total (static, tunable and the _tuning_objective_metric "
                "AMT "
                f"adds); at most {MAX_HYPERPARAMETERS} are allowed.",
                "SageMaker rejects the request.",
                f"Drop static hyperparameters that equal the algorithm's defaults until at most "
                f"{MAX_HYPERPARAMETERS - 1} of your own remain.",
            )


@rule("AMT006", Severity.ERROR, "At most 20 metric definitions", tags=SERVICE)
def metric_definition_count(ctx: LintContext) -> Iterator[Finding]:
    """The AMT limits page allows 20 metrics per tuning job (the API model would take 40)."""
    for view in definitions(ctx.request):
        count = len(view.metric_definitions)
        if count > MAX_METRIC_DEFINITIONS:
            yield _error(
                "AMT006",
                view.field("AlgorithmSpecification.MetricDefinitions"),
                f"{count} metric definitions; a tuning job may define at most {MAX_METRIC_DEFINITIONS}.",
                "SageMaker rejects the request.",
                "Keep the objective and the metrics you actually read.",
            )


@rule(
    "AMT007", Severity.ERROR, "MaxParallelTrainingJobs within the account quota (10 by default)", tags=SERVICE
)
def parallel_quota(ctx: LintContext) -> Iterator[Finding]:
    """The default quota of parallel training jobs per tuning job is 10, raisable to 100 on request.

    A raised quota is passed as ``LintContext.extra["max_parallel_training_jobs_quota"]``.
    """
    parallel = max_parallel(ctx.request)
    if parallel is None:
        return
    raised = as_int(ctx.extra.get(PARALLEL_QUOTA_KEY))
    quota = min(raised, MAX_PARALLEL_RAISED) if raised is not None else DEFAULT_PARALLEL_QUOTA
    if parallel > quota:
        yield _error(
            "AMT007",
            f"{LIMITS}.MaxParallelTrainingJobs",
            f"MaxParallelTrainingJobs is {parallel}; the account's quota is {quota} parallel training jobs "
            "per "
            "tuning job.",
            "SageMaker refuses the request with ResourceLimitExceeded.",
            f"Lower it to {quota}, or ask AWS to raise the quota 'Parallel training jobs per tuning job' (up "
            "to "
            f"{MAX_PARALLEL_RAISED}) and tell amtflow the new quota.",
        )


@rule("AMT008", Severity.ERROR, "MaxNumberOfTrainingJobs at most 750", tags=SERVICE)
def training_job_count(ctx: LintContext) -> Iterator[Finding]:
    """A tuning job launches at most 750 training jobs (the default quota of every strategy).

    Random search's quota can be raised to 10,000; a raised quota is passed as
    ``LintContext.extra["max_training_jobs_quota"]``.
    """
    jobs = max_jobs(ctx.request)
    raised = as_int(ctx.extra.get(TRAINING_JOBS_QUOTA_KEY))
    limit = MAX_TRAINING_JOBS
    if strategy(ctx.request) == "Random" and raised is not None:
        limit = max(MAX_TRAINING_JOBS, min(raised, MAX_RANDOM_TRAINING_JOBS_RAISED))
    if jobs is not None and jobs > limit:
        random_hint = (
            f" (Random search: up to {MAX_RANDOM_TRAINING_JOBS_RAISED:,} with a raised quota)"
            if strategy(ctx.request) == "Random" and limit < MAX_RANDOM_TRAINING_JOBS_RAISED
            else ""
        )
        yield _error(
            "AMT008",
            f"{LIMITS}.MaxNumberOfTrainingJobs",
            f"MaxNumberOfTrainingJobs is {jobs}; this tuning job may launch at most {limit}{random_hint}.",
            "SageMaker rejects the request.",
            f"Lower it to {limit} or fewer, or split the search and warm-start the second job.",
        )


@rule("AMT009", Severity.ERROR, "Each hyperparameter is tuned by one range only", tags=SERVICE)
def duplicate_ranges(ctx: LintContext) -> Iterator[Finding]:
    """The same name may not appear in two ranges (of the same or of different kinds)."""
    for view in definitions(ctx.request):
        seen: dict[str, str] = {}
        for r in view.iter_ranges():
            if not r.name:
                continue
            if r.name in seen:
                yield _error(
                    "AMT009",
                    f"{r.path}.Name",
                    f"{r.name!r} is tuned twice (also at {seen[r.name]}).",
                    "SageMaker rejects ranges that name one hyperparameter twice.",
                    "Keep one range per hyperparameter.",
                )
            else:
                seen[r.name] = r.path


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


# ---------------------------------------------------------------------------------------------------------
# Warm start

WARM = "WarmStartConfig"


def _parent_names(request: Mapping[str, Any]) -> list[tuple[str, str]]:
    """``(dotted path, name)`` of each listed parent."""
    parents = as_list(dig(request, f"{WARM}.ParentHyperParameterTuningJobs"))
    result = []
    for i, p in enumerate(parents):
        name = as_mapping(p).get("HyperParameterTuningJobName")
        result.append((f"{WARM}.ParentHyperParameterTuningJobs[{i}]", name if isinstance(name, str) else ""))
    return result


@rule("AMT030", Severity.ERROR, "Warm start: 1 to 5 valid parents and a valid WarmStartType", tags=SERVICE)
def warm_start_shape(ctx: LintContext) -> Iterator[Finding]:
    """``WarmStartConfig`` lists 1-5 parent tuning jobs by valid name, and a type SageMaker knows."""
    if WARM not in ctx.request:
        return
    config = ctx.request.get(WARM)
    if not isinstance(config, Mapping):
        yield _missing(WARM, "WarmStartConfig", "Give ParentHyperParameterTuningJobs and WarmStartType.")
        return
    yield from (
        _error("AMT030", f.field, f.message, f.why, f.fix)
        for f in _enum(f"{WARM}.WarmStartType", config.get("WarmStartType"), WARM_START_TYPES, required=True)
    )
    parents = _parent_names(ctx.request)
    if not 1 <= len(parents) <= MAX_PARENTS:
        yield _error(
            "AMT030",
            f"{WARM}.ParentHyperParameterTuningJobs",
            f"{len(parents)} parent tuning jobs are listed; warm start takes 1 to {MAX_PARENTS}.",
            "SageMaker rejects the request.",
            f"List between 1 and {MAX_PARENTS} parents (the most relevant, most recent ones).",
        )
    for path, name in parents:
        if not NAME_PATTERN.fullmatch(name):
            yield _error(
                "AMT030",
                f"{path}.HyperParameterTuningJobName",
                f"the parent name {name!r} is not a valid tuning job name.",
                "SageMaker rejects the request.",
                "Name an existing tuning job (letters, digits, hyphens; at most 32 characters).",
            )


@rule("AMT031", Severity.ERROR, "Warm start only with Bayesian or Random search", tags=SERVICE)
def warm_start_strategy(ctx: LintContext) -> Iterator[Finding]:
    """Warm start is documented for Bayesian and Random search; Grid and Hyperband children are refused."""
    name = strategy(ctx.request)
    if WARM in ctx.request and name in ("Grid", "Hyperband"):
        yield _error(
            "AMT031",
            WARM,
            f"warm start is combined with the {name} strategy.",
            "AMT documents warm start for Bayesian and Random search only; a Grid job enumerates a fixed "
            "grid "
            "and Hyperband's brackets do not take prior trials.",
            "Use Bayesian (or Random) for the warm-started job, or start cold.",
        )


def _described_parents(ctx: LintContext) -> Iterator[tuple[str, str, Mapping[str, Any] | None]]:
    if not ctx.parents:
        return
    for path, name in _parent_names(ctx.request):
        if name:
            yield path, name, _lookup_parent(ctx.parents, name)


def _lookup_parent(parents: Mapping[str, Mapping[str, Any]], name: str) -> Mapping[str, Any] | None:
    if name in parents:
        return parents[name]
    lowered = name.lower()  # tuning job names are not case sensitive
    for key, value in parents.items():
        if key.lower() == lowered:
            return value
    return None


@rule("AMT032", Severity.ERROR, "Warm start: every parent exists and has ended", tags=SERVICE)
def warm_start_parents_terminal(ctx: LintContext) -> Iterator[Finding]:
    """Parents must be Completed, Stopped or Failed before a child starts (needs ``LintContext.parents``)."""
    for path, name, parent in _described_parents(ctx):
        if parent is None:
            yield _error(
                "AMT032",
                f"{path}.HyperParameterTuningJobName",
                f"the parent tuning job {name!r} does not exist.",
                "SageMaker cannot warm-start from a job it cannot find.",
                "Name an existing tuning job, or drop it from the parents.",
            )
            continue
        status = parent.get("HyperParameterTuningJobStatus")
        if status not in TERMINAL_STATUSES:
            yield _error(
                "AMT032",
                f"{path}.HyperParameterTuningJobName",
                f"the parent tuning job {name!r} is {status or 'of unknown status'}, not ended.",
                "Warm start needs every parent to be Completed, Stopped or Failed.",
                "Wait for the parent to finish (or stop it), or drop it from the parents.",
            )


def _parent_definition(parent: Mapping[str, Any]) -> DefinitionView | None:
    views = definitions(parent)
    return views[0] if views else None


@rule("AMT033", Severity.ERROR, "Warm start: the same objective metric as every parent", tags=SERVICE)
def warm_start_objective(ctx: LintContext) -> Iterator[Finding]:
    """The child's objective metric equals each parent's (needs ``LintContext.parents``)."""
    views = definitions(ctx.request)
    if not views:
        return
    mine = views[0].objective_metric
    for _path, name, parent in _described_parents(ctx):
        pview = _parent_definition(parent) if parent is not None else None
        if pview is None or not pview.objective_metric or not mine:
            continue
        if pview.objective_metric != mine:
            yield _error(
                "AMT033",
                f"{views[0].objective_path}.MetricName",
                f"the objective {mine!r} differs from parent {name!r}'s objective "
                f"{pview.objective_metric!r}.",
                "Warm start transfers what the parents learned about one objective; SageMaker rejects a "
                "change.",
                f"Tune {pview.objective_metric!r} again, or start cold (drop {name!r} from the parents).",
            )


def _static_and_tunable(view: DefinitionView) -> tuple[Mapping[str, Any], dict[str, RangeKind]]:
    return view.static, tunable_kinds(view)


@rule("AMT034", Severity.ERROR, "Warm start: the same hyperparameters, each of the same type", tags=SERVICE)
def warm_start_hyperparameters(ctx: LintContext) -> Iterator[Finding]:
    """Static plus tunable names equal each parent's, and a hyperparameter tuned in both keeps its type."""
    views = definitions(ctx.request)
    if not views:
        return
    static, tunable = _static_and_tunable(views[0])
    mine = set(static) | set(tunable)
    for _path, name, parent in _described_parents(ctx):
        pview = _parent_definition(parent) if parent is not None else None
        if pview is None:
            continue
        pstatic, ptunable = _static_and_tunable(pview)
        theirs = set(pstatic) | set(ptunable)
        added, removed = sorted(mine - theirs), sorted(theirs - mine)
        if added or removed:
            parts = []
            if added:
                parts.append(f"new: {', '.join(added)}")
            if removed:
                parts.append(f"missing: {', '.join(removed)}")
            yield _error(
                "AMT034",
                views[0].field("StaticHyperParameters"),
                f"the hyperparameters differ from parent {name!r} ({'; '.join(parts)}).",
                "Warm start requires the same set of static plus tunable hyperparameters as every parent.",
                "Keep every parent's hyperparameters (as static values if they should not be tuned), or "
                "start cold.",
            )
        for hp, kind in sorted(tunable.items()):
            if hp in ptunable and ptunable[hp] is not kind:
                yield _error(
                    "AMT034",
                    views[0].ranges_path,
                    f"{hp!r} is a {kind.value.lower()} range here but {ptunable[hp].value.lower()} in parent "
                    f"{name!r}.",
                    "Warm start requires each hyperparameter to keep its type.",
                    f"Tune {hp!r} as a {ptunable[hp].value.lower()} range again, or start cold.",
                )


@rule(
    "AMT035",
    Severity.ERROR,
    "Warm start: at most 10 tunable-to-static and static-value changes",
    tags=SERVICE,
)
def warm_start_changes(ctx: LintContext) -> Iterator[Finding]:
    """Tunable→static changes (a categorical counts once per value) plus changed static values: <= 10."""
    views = definitions(ctx.request)
    if not views:
        return
    static, tunable = _static_and_tunable(views[0])
    for _path, name, parent in _described_parents(ctx):
        pview = _parent_definition(parent) if parent is not None else None
        if pview is None:
            continue
        pstatic, ptunable = _static_and_tunable(pview)
        changes = 0
        for hp, kind in ptunable.items():
            if hp in static and hp not in tunable:
                if kind is RangeKind.CATEGORICAL:
                    values = next((r.values for r in pview.iter_ranges() if r.name == hp), [])
                    changes += max(1, len(values))
                else:
                    changes += 1
        changes += sum(1 for hp, v in static.items() if hp in pstatic and str(pstatic[hp]) != str(v))
        if changes > MAX_WARM_START_CHANGES:
            yield _error(
                "AMT035",
                views[0].field("StaticHyperParameters"),
                f"{changes} changes against parent {name!r} (tunable→static, each categorical value counting "
                "once, "
                f"plus changed static values); at most {MAX_WARM_START_CHANGES} are allowed.",
                "SageMaker rejects a warm start that changes the search too much to transfer knowledge.",
                "Keep more hyperparameters as they were in the parent, or start cold.",
            )


@rule(
    "AMT036", Severity.ERROR, "Warm start: parents' training jobs plus this job's at most 750", tags=SERVICE
)
def warm_start_job_budget(ctx: LintContext) -> Iterator[Finding]:
    """Training jobs launched by the parents count against this job's limit of 750."""
    total = 0
    described = False
    for _, _, parent in _described_parents(ctx):
        if parent is None:
            continue
        described = True
        counters = as_mapping(parent.get("TrainingJobStatusCounters"))
        launched = sum(v for v in (as_int(x) for x in counters.values()) if v is not None)
        if not counters:
            launched = as_int(dig(parent, f"{LIMITS}.MaxNumberOfTrainingJobs")) or 0
        total += launched
    jobs = max_jobs(ctx.request)
    if described and jobs is not None and total + jobs > MAX_TRAINING_JOBS:
        yield _error(
            "AMT036",
            f"{LIMITS}.MaxNumberOfTrainingJobs",
            f"the parents launched {total} training jobs; with {jobs} more the total is {total + jobs}, "
            "above "
            f"{MAX_TRAINING_JOBS}.",
            "Every training job of the parents counts against this job's limit.",
            f"Lower MaxNumberOfTrainingJobs to {max(MAX_TRAINING_JOBS - total, 0)} or fewer, or warm-start "
            "from "
            "fewer parents.",
        )


#: Members of a training-job definition that a warm-start child must keep as its parents had them: the
#: service accepts changes only to AlgorithmSpecification, InputDataConfig, OutputDataConfig,
#: StaticHyperParameters, RoleArn, ResourceConfig, StoppingCondition, VpcConfig, EnableManagedSpotTraining
#: and CheckpointConfig (its own error message, quoted in sagemaker-python-sdk issue #3693).
WARM_START_FIXED_MEMBERS = (
    "Environment",
    "EnableNetworkIsolation",
    "EnableInterContainerTrafficEncryption",
    "RetryStrategy",
)


def _difference(member: str, parent: Mapping[str, Any], child: Mapping[str, Any]) -> str:
    """How ``member`` differs; for Environment only the names of the variables, never their values."""
    theirs, mine = parent.get(member), child.get(member)
    if member != "Environment":
        return f"{_show(theirs)} there, {_show(mine)} here"
    theirs = theirs if isinstance(theirs, Mapping) else {}
    mine = mine if isinstance(mine, Mapping) else {}
    names = sorted(k for k in set(theirs) | set(mine) if theirs.get(k) != mine.get(k))
    shown = ", ".join(str(n) for n in names[:10]) + (
        f" and {len(names) - 10} more" if len(names) > 10 else ""
    )
    return f"variable(s) {shown} set differently; their values are not shown"


def _normalised(value: Any) -> Any:
    """An absent member equals its empty or false value (Describe responses fill in defaults)."""
    return None if value in (None, False, {}, []) else value


@rule(
    "AMT037",
    Severity.ERROR,
    "Warm start: only the members SageMaker lets change differ from the parents",
    tags=SERVICE,
)
def warm_start_fixed_members(ctx: LintContext) -> Iterator[Finding]:
    """Environment, network isolation, inter-container encryption and RetryStrategy stay as in each parent."""
    views = definitions(ctx.request)
    if not views:
        return
    mine = views[0]
    for _path, name, parent in _described_parents(ctx):
        pview = _parent_definition(parent) if parent is not None else None
        if pview is None:
            continue
        changed = [
            m
            for m in WARM_START_FIXED_MEMBERS
            if _normalised(mine.body.get(m)) != _normalised(pview.body.get(m))
        ]
        for member in changed:
            yield _error(
                "AMT037",
                mine.field(member),
                f"{member} differs from parent {name!r}'s ({_difference(member, pview.body, mine.body)}).",
                "SageMaker lets a warm-start child change only its algorithm, data, output, static "
                "hyperparameters, role, resources, stopping condition, VPC, spot and checkpoint settings.",
                f"Keep {member} as the parent had it, or start cold.",
            )
