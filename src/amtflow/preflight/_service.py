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
    LIMITS,
    DefinitionView,
    RangeKind,
    as_float,
    as_int,
    as_list,
    as_mapping,
    definitions,
    dig,
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
    if multi is not None:
        yield from _several_definitions(req, config)


def _several_definitions(req: Mapping[str, Any], config: Mapping[str, Any]) -> Iterator[Finding]:
    """``TrainingJobDefinitions``: distinct names; no warm start or early stopping (AWS developer guide,
    "Tune multiple algorithms": both are available only when tuning a single algorithm)."""
    seen: dict[str, int] = {}
    for i, body in enumerate(as_list(req.get("TrainingJobDefinitions"))):
        name = as_mapping(body).get("DefinitionName")
        if not isinstance(name, str):
            continue
        if name.lower() in seen:
            yield _error(
                "AMT002",
                f"TrainingJobDefinitions[{i}].DefinitionName",
                f"DefinitionName {name!r} is also the name of TrainingJobDefinitions[{seen[name.lower()]}].",
                "Trials, the best training job and the results are told apart by their definition's name.",
                "Give each definition its own name.",
            )
        seen.setdefault(name.lower(), i)
    if "WarmStartConfig" in req:
        yield _error(
            "AMT002",
            "WarmStartConfig",
            "warm start is combined with several training definitions.",
            "AMT offers warm start only when tuning a single algorithm.",
            "Start the multi-algorithm job cold, or tune one definition with warm start.",
        )
    if config.get("TrainingJobEarlyStoppingType") == "Auto":
        yield _error(
            "AMT002",
            f"{CONFIG}.TrainingJobEarlyStoppingType",
            "early stopping is combined with several training definitions.",
            "AMT offers early stopping only when tuning a single algorithm.",
            "Set TrainingJobEarlyStoppingType to Off.",
        )


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
