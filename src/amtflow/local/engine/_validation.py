"""Requests checked as the service checks them, before anything is created.

Every refusal is a ValidationException naming the field and the fix. What becomes a path, a command-line
argument or an environment variable of a trial is refused unless SageMaker accepts it
(:mod:`~amtflow.local.engine._paths`), and so is a job whose files would land outside the state folder.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Iterator, Mapping
from typing import Any

from amtflow.local.engine._images import ImageMap
from amtflow.local.engine._model import ErrorCode, ServiceError, shape_error, validation
from amtflow.local.engine._multi import definition_config
from amtflow.local.engine._paths import (
    check_channel_name,
    check_environment,
    check_hyperparameters,
    check_metric_name,
    check_uri,
)
from amtflow.local.engine._records import TuningJob
from amtflow.local.engine._runner import MetricDefinition
from amtflow.local.engine._space import SearchSpace
from amtflow.local.engine._store import Store
from amtflow.preflight import LintContext, run_rules
from amtflow.preflight._service import service_error_code

#: URIs the engine reads and writes besides the service's ``s3://`` and ``https://`` (a local folder).
_LOCAL_URI_PREFIX = "file://"


@functools.cache
def _input_shape(operation: str) -> Any:
    from botocore.loaders import create_loader
    from botocore.model import ServiceModel

    # the model files only: no session, so no profile or configuration of the host is read
    model = ServiceModel(create_loader().load_service_model("sagemaker", "service-2"), "sagemaker")
    return model.operation_model(operation).input_shape


@functools.cache
def _compiled(pattern: str) -> re.Pattern[str] | None:
    try:
        return re.compile(pattern)
    except re.error:  # a Java-only construct (\p{...}): the service checks it, the engine cannot
        return None


def _violations(shape: Any, value: Any, field: str) -> Iterator[tuple[Any, str, str]]:
    meta = shape.metadata
    kind = shape.type_name
    if kind == "structure" and isinstance(value, Mapping):
        for name, member in shape.members.items():
            if name in value and value[name] is not None:
                yield from _violations(member, value[name], f"{field}.{name}" if field else name)
        return
    if kind == "list" and isinstance(value, list):
        if "max" in meta and len(value) > meta["max"]:
            yield value, field, f"Member must have length less than or equal to {meta['max']}"
        for i, item in enumerate(value):
            yield from _violations(shape.member, item, f"{field}[{i}]")
        return
    if kind == "map" and isinstance(value, Mapping):
        if "max" in meta and len(value) > meta["max"]:
            yield value, field, f"Member must have length less than or equal to {meta['max']}"
        for key, item in value.items():
            yield from _violations(shape.key, key, f"{field}.key")
            yield from _violations(shape.value, item, f"{field}[{key!r}]")
        return
    if kind == "string" and isinstance(value, str):
        if "max" in meta and len(value) > meta["max"]:
            yield value, field, f"Member must have length less than or equal to {meta['max']}"
        if shape.enum and value not in shape.enum:
            yield value, field, f"Member must satisfy enum value set: [{', '.join(shape.enum)}]"
        pattern = _compiled(meta["pattern"]) if "pattern" in meta else None
        if pattern is not None and not pattern.fullmatch(value) and not value.startswith(_LOCAL_URI_PREFIX):
            yield value, field, f"Member must satisfy regular expression pattern: {meta['pattern']}"
        return
    if kind in ("integer", "long", "float", "double") and isinstance(value, int | float):
        if "min" in meta and value < meta["min"]:
            yield value, field, f"Member must have value greater than or equal to {meta['min']}"
        if "max" in meta and value > meta["max"]:
            yield value, field, f"Member must have value less than or equal to {meta['max']}"


def check_shape(operation: str, request: Mapping[str, Any]) -> None:
    """Refuse a request that breaks its operation's shape constraints in botocore's model (lengths, value
    ranges, patterns, enumerations), as the service does before anything else; botocore itself checks
    only required members, types and minimums."""
    violations = list(_violations(_input_shape(operation), request, ""))
    if violations:
        raise shape_error(violations)


def validate_tuning_request(
    req: Mapping[str, Any], store: Store, find_tuning: Callable[[str], TuningJob | None] | None = None
) -> None:
    """Refuse a CreateHyperParameterTuningJob request the service (or the local engine) would refuse.

    The service's own rules (:mod:`amtflow.preflight`, tag ``service``) run with the warm-start parents
    that ``find_tuning`` finds, so a child that changes what SageMaker keeps fixed is refused. A limit
    answers ``ResourceLimitExceeded`` (when nothing else is wrong), as the service answers it.
    """
    if not req.get("TrainingJobDefinition") and not req.get("TrainingJobDefinitions"):
        raise validation(
            "TrainingJobDefinition is required: give the training job to tune (or TrainingJobDefinitions)."
        )
    if req.get("Autotune"):
        raise validation("Autotune is not supported by the local engine; set Strategy and ParameterRanges.")
    context = LintContext(request=req, parents=_described_parents(req, find_tuning))
    findings = [f for f in run_rules(context, tags={"service"}) if f.is_error]
    invalid = [f for f in findings if service_error_code(f.rule) == ErrorCode.VALIDATION.value]
    if findings:
        code = ErrorCode.VALIDATION if invalid else ErrorCode(service_error_code(findings[0].rule))
        raise ServiceError(
            code,
            "; ".join(
                f"{f.field}: {f.message}" + (f" Fix: {f.fix}" if f.fix else "") for f in invalid or findings
            ),
        )
    if req.get("TrainingJobDefinitions"):
        _validate_definitions(req, store)
        return
    check_enough_combinations(req["HyperParameterTuningJobConfig"])
    definition = req["TrainingJobDefinition"]
    check_definition(definition, "TrainingJobDefinition.", "StaticHyperParameters")
    config = req["HyperParameterTuningJobConfig"]
    objective = config.get("HyperParameterTuningJobObjective") or {}
    if "MetricName" in objective:
        check_metric_name(
            objective["MetricName"],
            "HyperParameterTuningJobConfig.HyperParameterTuningJobObjective.MetricName",
        )
    ranges = config.get("ParameterRanges") or {}
    for kind in ("Integer", "Continuous", "Categorical"):
        names = {str(r.get("Name")): "" for r in ranges.get(f"{kind}ParameterRanges") or []}
        check_hyperparameters(
            names, f"HyperParameterTuningJobConfig.ParameterRanges.{kind}ParameterRanges", names_only=True
        )
    check_paths(store, req["HyperParameterTuningJobName"], definition, tuning=True)


def _validate_definitions(req: Mapping[str, Any], store: Store) -> None:
    """What the engine needs of a multi-algorithm request beyond the service's rules: each definition's
    own ranges (none in the job's config), one objective direction, enough configurations."""
    config = req["HyperParameterTuningJobConfig"]
    if config.get("ParameterRanges"):
        raise validation(
            "HyperParameterTuningJobConfig.ParameterRanges: with TrainingJobDefinitions the local engine "
            "searches each definition's HyperParameterRanges only; move the ranges into the definitions."
        )
    definitions = req["TrainingJobDefinitions"]
    types = {
        str((definition_config(config, d).get("HyperParameterTuningJobObjective") or {}).get("Type"))
        for d in definitions
    }
    if len(types) > 1:
        raise validation(
            "TrainingJobDefinitions[*].TuningObjective.Type: the definitions mix Maximize and Minimize; the "
            "best training job is chosen across definitions, so give them all the same Type."
        )
    sizes = [SearchSpace.from_ranges(d.get("HyperParameterRanges")).size() for d in definitions]
    jobs = (config.get("ResourceLimits") or {}).get("MaxNumberOfTrainingJobs")
    if jobs is not None and config.get("Strategy") != "Grid" and None not in sizes:
        total = sum(int(n or 0) for n in sizes)
        if total < int(jobs):
            raise validation(
                f"You don't have enough combinations of hyperparameter ranges: the definitions offer {total} "
                f"configurations in all, fewer than MaxNumberOfTrainingJobs [{jobs}]. Fix: lower "
                f"HyperParameterTuningJobConfig.ResourceLimits.MaxNumberOfTrainingJobs to {total}, or widen "
                "or add ranges."
            )
    name = req["HyperParameterTuningJobName"]
    for i, definition in enumerate(definitions):
        prefix = f"TrainingJobDefinitions[{i}]."
        check_definition(definition, prefix, "StaticHyperParameters")
        metric = (definition.get("TuningObjective") or {}).get("MetricName")
        if metric:
            check_metric_name(metric, f"{prefix}TuningObjective.MetricName")
        ranges = definition.get("HyperParameterRanges") or {}
        for kind in ("Integer", "Continuous", "Categorical"):
            names = {str(r.get("Name")): "" for r in ranges.get(f"{kind}ParameterRanges") or []}
            where = f"{prefix}HyperParameterRanges.{kind}ParameterRanges"
            check_hyperparameters(names, where, names_only=True)
        data_key = f"{name}.{definition['DefinitionName']}"
        check_paths(store, name, definition, tuning=True, data_key=data_key)


def _described_parents(
    req: Mapping[str, Any], find_tuning: Callable[[str], TuningJob | None] | None
) -> dict[str, Mapping[str, Any]]:
    """The warm-start parents that exist, as DescribeHyperParameterTuningJob shows them to the rules."""
    if find_tuning is None:
        return {}
    parents: dict[str, Mapping[str, Any]] = {}
    for p in (req.get("WarmStartConfig") or {}).get("ParentHyperParameterTuningJobs") or []:
        name = p.get("HyperParameterTuningJobName") if isinstance(p, Mapping) else None
        parent = find_tuning(name) if isinstance(name, str) else None
        if parent is not None:
            parents[parent.name] = {**parent.request, "HyperParameterTuningJobStatus": parent.status.value}
    return parents


def check_enough_combinations(config: Mapping[str, Any]) -> None:
    """A search space of integer and categorical ranges only must offer at least MaxNumberOfTrainingJobs
    distinct configurations (Grid's own count is checked by the service's rules)."""
    if config.get("Strategy") == "Grid":
        return
    jobs = (config.get("ResourceLimits") or {}).get("MaxNumberOfTrainingJobs")
    space = SearchSpace.from_ranges(config.get("ParameterRanges"))
    if jobs is None or not space.parameters:
        return
    combinations = space.size()
    if combinations is not None and combinations < int(jobs):
        raise validation(
            "You don't have enough combinations of hyperparameter ranges. The total number of "
            f"hyperparameter combinations for the provided ranges [{combinations}] must be equal or greater "
            f"than the value of MaxNumberOfTrainingJobs, [{jobs}]. Fix: lower "
            f"HyperParameterTuningJobConfig.ResourceLimits.MaxNumberOfTrainingJobs to {combinations}, or "
            "widen or add ranges."
        )


def validate_training_request(req: Mapping[str, Any], name: str, store: Store, image_map: ImageMap) -> None:
    """Refuse a CreateTrainingJob request (for the checked job ``name``) the service would refuse."""
    if "AlgorithmSpecification" not in req or not req["AlgorithmSpecification"].get("TrainingImage"):
        raise validation("AlgorithmSpecification.TrainingImage is required by the local engine.")
    if "StoppingCondition" not in req:
        raise validation("StoppingCondition is required: set StoppingCondition.MaxRuntimeInSeconds.")
    image_map.resolve(req["AlgorithmSpecification"]["TrainingImage"])
    metric_definitions(req, objective_required=False)
    check_definition(req, "", "HyperParameters")
    check_paths(store, name, req, tuning=False)


def check_definition(definition: Mapping[str, Any], prefix: str, hyperparameters: str) -> None:
    """What becomes a path, an argument or a variable of a trial: refused unless SageMaker accepts it."""
    for i, channel in enumerate(definition.get("InputDataConfig") or []):
        field_ = f"{prefix}InputDataConfig[{i}]"
        check_channel_name(channel.get("ChannelName"), f"{field_}.ChannelName")
        source = (channel.get("DataSource") or {}).get("S3DataSource") or {}
        check_uri(source.get("S3Uri"), f"{field_}.DataSource.S3DataSource.S3Uri")
    check_uri(
        (definition.get("OutputDataConfig") or {}).get("S3OutputPath"),
        f"{prefix}OutputDataConfig.S3OutputPath",
    )
    checkpoint = definition.get("CheckpointConfig") or {}
    if "S3Uri" in checkpoint:
        check_uri(checkpoint["S3Uri"], f"{prefix}CheckpointConfig.S3Uri")
    metrics = (definition.get("AlgorithmSpecification") or {}).get("MetricDefinitions") or []
    for i, metric in enumerate(metrics):
        check_metric_name(metric.get("Name"), f"{prefix}AlgorithmSpecification.MetricDefinitions[{i}].Name")
    check_hyperparameters(definition.get(hyperparameters) or {}, f"{prefix}{hyperparameters}")
    check_environment(definition.get("Environment") or {}, f"{prefix}Environment")


def check_paths(
    store: Store, name: str, definition: Mapping[str, Any], *, tuning: bool, data_key: str | None = None
) -> None:
    """Refuse a job whose files would land outside the state folder (a symlink pointing elsewhere)."""
    if tuning:
        store.tuning_path(name)
        store.path("training-jobs")
        data_key = data_key or name
    else:
        store.training_path(name)
        store.trial_root(name)
        data_key = f"training-{name}"
    for channel in definition.get("InputDataConfig") or []:
        store.data_path(data_key, channel["ChannelName"])


def validate_parents(
    req: Mapping[str, Any], find_tuning: Callable[[str], TuningJob | None]
) -> list[TuningJob]:
    """The warm-start parents of a tuning request: existing, ended jobs with the same objective metric."""
    warm = req.get("WarmStartConfig")
    if not warm:
        return []
    parents = []
    objective = req["HyperParameterTuningJobConfig"].get("HyperParameterTuningJobObjective") or {}
    for i, p in enumerate(warm.get("ParentHyperParameterTuningJobs") or []):
        name = p.get("HyperParameterTuningJobName", "")
        field_ = f"WarmStartConfig.ParentHyperParameterTuningJobs[{i}]"
        parent = find_tuning(name)
        if parent is None:
            raise validation(f"{field_}: parent tuning job {name!r} does not exist; name an existing job.")
        status = parent.status
        if not status.is_terminal():
            raise validation(
                f"{field_}: parent tuning job {name!r} is {status.value}; a parent must be Completed, "
                "Stopped or Failed. Wait for it to end (or stop it) first."
            )
        parent_obj = parent.objective
        if parent_obj.get("MetricName") != objective.get("MetricName"):
            raise validation(
                f"{field_}: parent {name!r} optimised {parent_obj.get('MetricName')!r} but this job "
                "optimises "
                f"{objective.get('MetricName')!r}; warm start needs the same objective metric."
            )
        parents.append(parent)
    return parents


def metric_definitions(
    definition: Mapping[str, Any],
    *,
    objective_required: bool,
    config: Mapping[str, Any] | None = None,
) -> list[MetricDefinition]:
    out = []
    for i, m in enumerate(definition.get("AlgorithmSpecification", {}).get("MetricDefinitions") or []):
        try:
            out.append(MetricDefinition(m["Name"], re.compile(m["Regex"])))
        except re.error as e:
            raise validation(
                f"AlgorithmSpecification.MetricDefinitions[{i}].Regex {m['Regex']!r} is not a valid "
                f"regular expression ({e}); fix it so that its first group captures the number."
            ) from None
    if objective_required and config is not None:
        objective = (config.get("HyperParameterTuningJobObjective") or {}).get("MetricName")
        if objective and objective not in {d.name for d in out}:
            raise validation(
                f"HyperParameterTuningJobObjective.MetricName {objective!r} has no MetricDefinitions "
                "entry; add {Name, Regex} for it to "
                "TrainingJobDefinition.AlgorithmSpecification.MetricDefinitions."
            )
    return out
