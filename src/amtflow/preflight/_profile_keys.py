"""Where a request field came from in a model profile (``docs/profiles.md``), for people who edit profiles.

Findings name the field of the compiled ``CreateHyperParameterTuningJob`` request; someone linting a
profile edits YAML keys instead. :func:`profile_key` maps the one to the other where the compiler's
mapping is one-to-one, and returns ``None`` otherwise.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from amtflow.preflight._request import as_list, as_mapping, dig

_CONFIG = "HyperParameterTuningJobConfig"
_DEF = "TrainingJobDefinition"

_EXACT: Mapping[str, str] = {
    f"{_CONFIG}.Strategy": "tuning.strategy",
    f"{_CONFIG}.HyperParameterTuningJobObjective": "tuning.objective",
    f"{_CONFIG}.HyperParameterTuningJobObjective.Type": "tuning.objective.goal",
    f"{_CONFIG}.HyperParameterTuningJobObjective.MetricName": "tuning.objective.metric",
    f"{_CONFIG}.ResourceLimits": "tuning.limits",
    f"{_CONFIG}.ResourceLimits.MaxNumberOfTrainingJobs": "tuning.limits.max_jobs",
    f"{_CONFIG}.ResourceLimits.MaxParallelTrainingJobs": "tuning.limits.max_parallel",
    f"{_CONFIG}.ResourceLimits.MaxRuntimeInSeconds": "tuning.limits.max_runtime_s",
    f"{_CONFIG}.ParameterRanges": "tuning.ranges",
    f"{_CONFIG}.TrainingJobEarlyStoppingType": "tuning.early_stopping",
    f"{_CONFIG}.TuningJobCompletionCriteria": "tuning.completion",
    f"{_CONFIG}.TuningJobCompletionCriteria.TargetObjectiveMetricValue": "tuning.completion.target",
    f"{_CONFIG}.TuningJobCompletionCriteria.BestObjectiveNotImproving.MaxNumberOfTrainingJobsNotImproving": (
        "tuning.completion.not_improving"
    ),
    f"{_CONFIG}.TuningJobCompletionCriteria.ConvergenceDetected.CompleteOnConvergence": (
        "tuning.completion.convergence"
    ),
    f"{_CONFIG}.RandomSeed": "tuning.random_seed",
    f"{_CONFIG}.StrategyConfig": "tuning.hyperband",
    f"{_CONFIG}.StrategyConfig.HyperbandStrategyConfig.MaxResource": "tuning.hyperband.max_resource",
    f"{_CONFIG}.StrategyConfig.HyperbandStrategyConfig.MinResource": "tuning.hyperband.min_resource",
    f"{_DEF}.StaticHyperParameters": "training.static_hyperparameters",
    f"{_DEF}.AlgorithmSpecification.TrainingImage": "training.image",
    f"{_DEF}.AlgorithmSpecification.TrainingInputMode": "training.input_mode",
    f"{_DEF}.AlgorithmSpecification.MetricDefinitions": "training.metrics",
    f"{_DEF}.ResourceConfig": "training.instance_type",
    f"{_DEF}.ResourceConfig.InstanceType": "training.instance_type",
    f"{_DEF}.ResourceConfig.InstanceCount": "training.instance_count",
    f"{_DEF}.ResourceConfig.VolumeSizeInGB": "training.volume_gb",
    f"{_DEF}.StoppingCondition": "training.max_runtime_s",
    f"{_DEF}.Environment": "training.environment",
    f"{_DEF}.RetryStrategy": "training.retry_attempts",
    f"{_DEF}.StoppingCondition.MaxRuntimeInSeconds": "training.max_runtime_s",
    f"{_DEF}.StoppingCondition.MaxWaitTimeInSeconds": "training.spot.max_wait_s",
    f"{_DEF}.CheckpointConfig": "training.checkpoints",
    f"{_DEF}.EnableManagedSpotTraining": "training.spot.enabled",
    f"{_DEF}": "training",
}

_PROFILE_SECTIONS = frozenset({"deployment", "monitoring", "notifications"})

_RANGE = re.compile(rf"^{_CONFIG}\.ParameterRanges\.(\w+)ParameterRanges\[(\d+)\](?:\.(\w+))?$")
_RANGE_MEMBERS = {"MinValue": "min", "MaxValue": "max", "ScalingType": "scaling", "Values": "values"}
_METRIC = re.compile(rf"^{_DEF}\.AlgorithmSpecification\.MetricDefinitions\[(\d+)\](?:\.(\w+))?$")
_STATIC = re.compile(rf"^{_DEF}\.StaticHyperParameters\.(.+)$")


def profile_key(field: str, request: Mapping[str, Any]) -> str | None:
    """The profile key that compiled to ``field`` of ``request``, or ``None`` when there is no single one."""
    if field in _EXACT:
        return _EXACT[field]
    match = _RANGE.match(field)
    if match:
        kind, index, member = match.groups()
        entries = as_list(dig(request, f"{_CONFIG}.ParameterRanges.{kind}ParameterRanges"))
        name = as_mapping(entries[int(index)]).get("Name") if int(index) < len(entries) else None
        if not isinstance(name, str) or not name:
            return "tuning.ranges"
        suffix = _RANGE_MEMBERS.get(member or "", "")
        return f"tuning.ranges.{name}" + (f".{suffix}" if suffix else "")
    match = _METRIC.match(field)
    if match:
        index, member = match.groups()
        return f"training.metrics[{index}]" + (f".{member.lower()}" if member in ("Name", "Regex") else "")
    match = _STATIC.match(field)
    if match:
        return f"training.static_hyperparameters.{match.group(1)}"
    if field.startswith("WarmStartConfig"):
        return "warm_start"
    if field.split(".", 1)[0] in _PROFILE_SECTIONS:  # the profile-level rules name the key itself
        return field
    return None
