"""Service constraints of warm start (tag ``service``): the parents' shape, state, objective, hyperparameters
and the members a child must keep. The rules that compare the request with its parents read
``LintContext.parents`` and stay silent when no parent was described."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from amtflow.preflight._findings import Finding, LintContext, Severity, rule
from amtflow.preflight._request import (
    LIMITS,
    DefinitionView,
    RangeKind,
    as_int,
    as_list,
    as_mapping,
    definitions,
    dig,
    max_jobs,
    strategy,
    tunable_kinds,
)
from amtflow.preflight._service import (
    MAX_PARENTS,
    MAX_TRAINING_JOBS,
    MAX_WARM_START_CHANGES,
    NAME_PATTERN,
    SERVICE,
    TERMINAL_STATUSES,
    WARM_START_TYPES,
    _enum,
    _error,
    _missing,
    _show,
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
