"""Compile a :class:`ModelProfile` into SageMaker requests.

The output is the exact ``CreateHyperParameterTuningJob`` / ``CreateTrainingJob`` request (boto3 keyword
arguments, also the Step Functions ``Parameters`` shape): every range bound and value is a string, channels
come from the dataset version's prefix, checkpoints go under the output URI.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from amtflow.errors import InvalidInputError
from amtflow.naming import (
    TUNING_JOB_NAME_PATTERN,
    check_training_job_name,
    check_tuning_job_name,
    tuning_job_name,
)
from amtflow.profile._algorithms import AlgorithmSpec, algorithm_named
from amtflow.profile._enums import ParameterType, Scaling, Strategy, coerce_enum
from amtflow.profile._fields import MAX_PARENTS, render_scalar
from amtflow.profile._model import ModelProfile, ParameterRange, TrainingSpec, rendered_ranges
from amtflow.vocabulary import WarmStartType

_URI = re.compile(r"^(s3|https|file)://[^/]+.*$|^file:///.+$")
_ROLE_ARN = re.compile(r"^arn:aws[a-z\-]*:iam::\d{12}:role/?[a-zA-Z_0-9+=,.@\-_/]+$")
# SageMaker's tag pattern is [\p{L}\p{Z}\p{N}_.:/=+\-@]*: \s minus the control characters it also matches.
_TAG_TEXT = re.compile(r"(?:(?![\t\n\r\f\v\x1c-\x1f\x85])[\w\s.:/=+\-@])*")
_INTERNAL_HYPERPARAMETERS = frozenset({"_tuning_objective_metric"})
MODEL_TAG = "amtflow:model"


@dataclass(frozen=True)
class WarmStart:
    """``WarmStartConfig``: the type and the 1-5 terminal parent tuning jobs, chosen explicitly."""

    type: WarmStartType
    parents: tuple[str, ...] = field(default_factory=tuple)

    def __post_init__(self) -> None:
        kind = coerce_enum(WarmStartType, self.type)
        if not isinstance(kind, WarmStartType):
            valid = ", ".join(t.value for t in WarmStartType)
            raise InvalidInputError(
                f"warm_start.type {self.type!r} is not one of {valid}", field="warm_start.type"
            )
        object.__setattr__(self, "type", kind)
        object.__setattr__(self, "parents", tuple(self.parents))
        if not 1 <= len(self.parents) <= MAX_PARENTS:
            raise InvalidInputError(
                f"warm_start.parents has {len(self.parents)} jobs; give 1-{MAX_PARENTS} parent tuning jobs "
                "(warm start is not recursive: list grandparents explicitly)",
                field="warm_start.parents",
            )
        for i, parent in enumerate(self.parents):
            name_ok = isinstance(parent, str) and TUNING_JOB_NAME_PATTERN.fullmatch(parent) is not None
            if not name_ok or len(parent) > 32:
                raise InvalidInputError(
                    f"warm_start.parents[{i}] {parent!r} is not a tuning-job name",
                    field=f"warm_start.parents[{i}]",
                )
        lowered = [p.lower() for p in self.parents]
        if len(set(lowered)) != len(lowered):
            raise InvalidInputError(
                "warm_start.parents lists a job twice (names are case-insensitive); list each parent once",
                field="warm_start.parents",
            )

    def to_request(self) -> dict[str, Any]:
        return {
            "ParentHyperParameterTuningJobs": [{"HyperParameterTuningJobName": p} for p in self.parents],
            "WarmStartType": self.type.value,
        }


_NETWORK_ID = re.compile(r"[-0-9a-zA-Z]{1,32}")


@dataclass(frozen=True)
class TrainingNetwork:
    """The network every training job of the deployment runs with (stack parameters, see
    :class:`amtflow.settings.Settings`): ``EnableNetworkIsolation``, and ``VpcConfig`` when ``subnets`` and
    ``security_groups`` are given (both, or neither). The default leaves requests as they were."""

    isolation: bool = False
    subnets: tuple[str, ...] = ()
    security_groups: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        object.__setattr__(self, "subnets", tuple(self.subnets))
        object.__setattr__(self, "security_groups", tuple(self.security_groups))
        if bool(self.subnets) != bool(self.security_groups):
            missing = "network.subnets" if not self.subnets else "network.security_groups"
            raise InvalidInputError(
                f"{missing} is empty: a VPC needs subnets and security groups; give both or neither",
                field=missing,
            )
        for name, ids, most in (("subnets", self.subnets, 16), ("security_groups", self.security_groups, 5)):
            if len(ids) > most:
                raise InvalidInputError(
                    f"network.{name} has {len(ids)} IDs; SageMaker accepts at most {most}",
                    field=f"network.{name}",
                )
            for i, value in enumerate(ids):
                if not isinstance(value, str) or not _NETWORK_ID.fullmatch(value):
                    raise InvalidInputError(
                        f"network.{name}[{i}] {value!r} is not an ID such as subnet-0abc123 or sg-0abc123",
                        field=f"network.{name}[{i}]",
                    )

    def apply(self, spec: dict[str, Any]) -> None:
        """Add the network members to a training definition or a ``CreateTrainingJob`` request."""
        if self.isolation:
            spec["EnableNetworkIsolation"] = True
        if self.subnets:
            spec["VpcConfig"] = {
                "SecurityGroupIds": list(self.security_groups),
                "Subnets": list(self.subnets),
            }


def _check_uri(value: str, name: str) -> str:
    if not isinstance(value, str) or not _URI.fullmatch(value):
        raise InvalidInputError(
            f"{name} {value!r} must be an s3:// URI (file:// for the local engine), e.g. s3://bucket/datasets/m/v1/",
            field=name,
        )
    return value


def _folder(uri: str) -> str:
    return uri if uri.endswith("/") else uri + "/"


def _check_role(role_arn: str) -> str:
    if not isinstance(role_arn, str) or not _ROLE_ARN.fullmatch(role_arn) or len(role_arn) > 2048:
        raise InvalidInputError(
            f"role_arn {role_arn!r} is not an IAM role ARN (arn:aws:iam::<account>:role/<name>); "
            "set AMTFLOW_SAGEMAKER_ROLE_ARN",
            field="role_arn",
        )
    return role_arn


def _tags(profile: ModelProfile, tags: Mapping[str, str] | None) -> list[dict[str, str]]:
    merged = {MODEL_TAG: profile.model, **dict(tags or {})}
    if len(merged) > 50:
        raise InvalidInputError(f"{len(merged)} tags; SageMaker accepts at most 50", field="tags")
    out = []
    for key, value in merged.items():
        if not isinstance(key, str) or not isinstance(value, str):
            raise InvalidInputError(f"tags.{key}: keys and values must be strings", field=f"tags.{key}")
        if (
            not (1 <= len(key) <= 128)
            or len(value) > 256
            or not _TAG_TEXT.fullmatch(key)
            or not _TAG_TEXT.fullmatch(value)
        ):
            raise InvalidInputError(
                f"tags.{key}={value!r}: keys have 1-128 and values 0-256 letters, digits, spaces or _.:/=+-@",
                field=f"tags.{key}",
            )
        out.append({"Key": key, "Value": value})
    return out


def _channels(profile: ModelProfile, data_uri: str) -> list[dict[str, Any]]:
    base = _folder(_check_uri(data_uri, "data_uri"))
    channels = []
    for name, spec in profile.dataset.channels.items():
        s3_source: dict[str, Any] = {
            "S3DataType": "S3Prefix",
            "S3Uri": f"{base}{name}/",
            "S3DataDistributionType": spec.distribution.value,
        }
        channel: dict[str, Any] = {"ChannelName": name, "DataSource": {"S3DataSource": s3_source}}
        if spec.content_type:
            channel["ContentType"] = spec.content_type
        if spec.compression is not None:
            channel["CompressionType"] = spec.compression.value
        channels.append(channel)
    return channels


def _common_training(
    profile: ModelProfile,
    *,
    data_uri: str,
    output_uri: str,
    role_arn: str,
    network: TrainingNetwork | None = None,
    training: TrainingSpec | None = None,
) -> dict[str, Any]:
    """The members a tuning job's training definition and a training job share (``training``: one
    algorithm of a multi-algorithm profile, by default the profile's ``training``)."""
    training = training or profile.training
    out_folder = _folder(_check_uri(output_uri, "output_uri"))
    algorithm: dict[str, Any] = {
        "TrainingImage": training.image,
        "TrainingInputMode": training.input_mode.value,
    }
    if training.metrics:
        algorithm["MetricDefinitions"] = [{"Name": m.name, "Regex": m.regex} for m in training.metrics]
    stopping: dict[str, Any] = {"MaxRuntimeInSeconds": training.max_runtime_s}
    spec: dict[str, Any] = {
        "AlgorithmSpecification": algorithm,
        "RoleArn": _check_role(role_arn),
        "InputDataConfig": _channels(profile, data_uri),
        "OutputDataConfig": {"S3OutputPath": out_folder},
        "ResourceConfig": {
            "InstanceType": training.instance_type,
            "InstanceCount": training.instance_count,
            "VolumeSizeInGB": training.volume_gb,
        },
        "StoppingCondition": stopping,
    }
    if training.spot.enabled:
        spec["EnableManagedSpotTraining"] = True
        stopping["MaxWaitTimeInSeconds"] = training.spot.max_wait_s
    if training.checkpoints.enabled:
        spec["CheckpointConfig"] = {
            "S3Uri": f"{out_folder}checkpoints/",
            "LocalPath": training.checkpoints.local_path,
        }
    if training.retry_attempts:
        spec["RetryStrategy"] = {"MaximumRetryAttempts": training.retry_attempts}
    if training.environment:
        spec["Environment"] = training.rendered_environment()
    if network is not None:
        network.apply(spec)
    return spec


def compile_tuning_request(
    profile: ModelProfile,
    *,
    job_name: str,
    data_uri: str,
    output_uri: str,
    role_arn: str,
    warm_start: WarmStart | None = None,
    tags: Mapping[str, str] | None = None,
    network: TrainingNetwork | None = None,
) -> dict[str, Any]:
    """The exact ``CreateHyperParameterTuningJob`` request for ``profile``.

    ``data_uri`` is the dataset version's prefix (``s3://<bucket>/datasets/<model>/<version>/``); each
    channel reads ``<data_uri><channel>/``. ``output_uri`` is the run's output folder; checkpoints (when the
    profile asks for them) go to ``<output_uri>checkpoints/``. ``warm_start`` must be allowed by the profile's
    warm-start policy. Tags get ``amtflow:model`` added. ``network`` (the deployment's) adds network
    isolation and a VPC to the training definition. Raises :class:`InvalidInputError` naming the bad
    argument.
    """
    check_tuning_job_name(job_name, field="job_name")
    tuning = profile.tuning
    limits: dict[str, Any] = {"MaxParallelTrainingJobs": tuning.limits.max_parallel}
    if tuning.limits.max_jobs is not None:
        limits["MaxNumberOfTrainingJobs"] = tuning.limits.max_jobs
    if tuning.limits.max_runtime_s is not None:
        limits["MaxRuntimeInSeconds"] = tuning.limits.max_runtime_s
    config: dict[str, Any] = {
        "Strategy": tuning.strategy.value,
        "HyperParameterTuningJobObjective": {
            "Type": tuning.objective.goal.value,
            "MetricName": tuning.objective.metric,
        },
        "ResourceLimits": limits,
        "ParameterRanges": rendered_ranges(tuning.ranges),
        "TrainingJobEarlyStoppingType": tuning.early_stopping.value,
    }
    if profile.algorithms is not None:  # each definition has its own ranges
        del config["ParameterRanges"]
    if tuning.strategy is Strategy.HYPERBAND and tuning.hyperband is not None:
        config["StrategyConfig"] = {
            "HyperbandStrategyConfig": {
                "MinResource": tuning.hyperband.min_resource,
                "MaxResource": tuning.hyperband.max_resource,
            }
        }
    criteria: dict[str, Any] = {}
    if tuning.completion.target is not None:
        criteria["TargetObjectiveMetricValue"] = float(tuning.completion.target)
    if tuning.completion.not_improving is not None:
        criteria["BestObjectiveNotImproving"] = {
            "MaxNumberOfTrainingJobsNotImproving": tuning.completion.not_improving
        }
    if tuning.completion.convergence:
        criteria["ConvergenceDetected"] = {"CompleteOnConvergence": "Enabled"}
    if criteria:
        config["TuningJobCompletionCriteria"] = criteria
    if tuning.random_seed is not None:
        config["RandomSeed"] = tuning.random_seed

    common = {"data_uri": data_uri, "output_uri": output_uri, "role_arn": role_arn, "network": network}
    request: dict[str, Any] = {
        "HyperParameterTuningJobName": job_name,
        "HyperParameterTuningJobConfig": config,
    }
    if profile.algorithms is None:
        request["TrainingJobDefinition"] = _definition(profile, profile.training, **common)
    else:
        request["TrainingJobDefinitions"] = [
            {
                "DefinitionName": algo.name,
                "TuningObjective": {
                    "Type": tuning.objective.goal.value,
                    "MetricName": algo.objective_metric or tuning.objective.metric,
                },
                "HyperParameterRanges": rendered_ranges(algo.ranges),
                **_definition(profile, algo, **common),
            }
            for algo in profile.algorithms
        ]
    if warm_start is not None:
        _check_policy(profile, warm_start)
        request["WarmStartConfig"] = warm_start.to_request()
    request["Tags"] = _tags(profile, tags)
    return request


def _definition(profile: ModelProfile, training: TrainingSpec, **common: Any) -> dict[str, Any]:
    definition: dict[str, Any] = {}
    static = training.rendered_static_hyperparameters()
    if static:
        definition["StaticHyperParameters"] = static
    definition.update(_common_training(profile, training=training, **common))
    return definition


def _check_policy(profile: ModelProfile, warm_start: WarmStart) -> None:
    policy = profile.warm_start
    if profile.algorithms is not None:
        raise InvalidInputError(
            f"model {profile.model!r} tunes several algorithms; SageMaker offers warm start only when "
            "tuning a single algorithm: start cold",
            field="warm_start",
        )
    if not policy.enabled:
        raise InvalidInputError(
            f"model {profile.model!r} has warm start disabled (warm_start.enabled: false); "
            "start cold or enable it in the profile",
            field="warm_start",
        )
    if warm_start.type not in policy.allowed:
        allowed = ", ".join(t.value for t in policy.allowed) or "none"
        raise InvalidInputError(
            f"warm start type {warm_start.type.value} is not allowed for model {profile.model!r} "
            f"(warm_start.allowed: {allowed}); use an allowed type or add it to the profile",
            field="warm_start.type",
        )
    if len(warm_start.parents) > policy.max_parents:
        raise InvalidInputError(
            f"{len(warm_start.parents)} parent jobs exceed warm_start.max_parents ({policy.max_parents}) of "
            f"model {profile.model!r}; keep the most recent ones",
            field="warm_start.parents",
        )


def compile_training_request(
    profile: ModelProfile,
    *,
    job_name: str,
    hyperparameters: Mapping[str, Any],
    data_uri: str,
    output_uri: str,
    role_arn: str,
    tags: Mapping[str, str] | None = None,
    network: TrainingNetwork | None = None,
    definition: str | None = None,
) -> dict[str, Any]:
    """The exact ``CreateTrainingJob`` request that trains ``profile`` once with ``hyperparameters``.

    Used to retrain with the best known hyperparameters: ``hyperparameters`` (e.g. a best training job's
    ``HyperParameters``) are laid over the profile's static ones; AMT's internal
    ``_tuning_objective_metric`` is dropped. Values are rendered as strings. ``network`` as for
    :func:`compile_tuning_request`. ``definition`` names the algorithm of a multi-algorithm profile to
    train (e.g. the best training job's ``TrainingJobDefinitionName``); without it, the algorithm whose
    static and tuned hyperparameter names cover most of ``hyperparameters`` (a champion's, as its training
    job kept them), the first one on a tie.
    """
    check_training_job_name(job_name, field="job_name")
    if not isinstance(hyperparameters, Mapping):
        raise InvalidInputError("hyperparameters must be a mapping of name to value", field="hyperparameters")
    training = _training_of(profile, definition, hyperparameters)
    merged: dict[str, str] = training.rendered_static_hyperparameters()
    for name, value in hyperparameters.items():
        if name in _INTERNAL_HYPERPARAMETERS:
            continue
        if not isinstance(name, str) or not isinstance(value, str | int | float | bool):
            raise InvalidInputError(
                f"hyperparameters.{name}: must be a string, number or boolean, got {type(value).__name__}",
                field=f"hyperparameters.{name}",
            )
        merged[name] = render_scalar(value)
    if len(merged) > 100:
        raise InvalidInputError(f"{len(merged)} hyperparameters; at most 100", field="hyperparameters")
    request: dict[str, Any] = {"TrainingJobName": job_name}
    if merged:
        request["HyperParameters"] = merged
    request.update(
        _common_training(
            profile,
            data_uri=data_uri,
            output_uri=output_uri,
            role_arn=role_arn,
            network=network,
            training=training,
        )
    )
    request["Tags"] = _tags(profile, tags)
    return request


def _training_of(
    profile: ModelProfile, definition: str | None, hyperparameters: Mapping[str, Any]
) -> TrainingSpec:
    if profile.algorithms is None:
        return profile.training
    if definition is None:
        given = set(hyperparameters)
        return max(
            profile.algorithms,
            key=lambda a: len(given & (set(a.static_hyperparameters) | set(a.ranges))),
        )
    found = algorithm_named(profile.algorithms, definition)
    if found is None:
        names = ", ".join(a.name for a in profile.algorithms)
        raise InvalidInputError(
            f"model {profile.model!r} has no algorithm named {definition!r} (it has {names})",
            field="definition",
        )
    return found


def preview_tuning_request(
    profile: ModelProfile,
    *,
    dataset_version: str = "preview",
    bucket: str = "amtflow-data",
    job_prefix: str = "amtf",
    role_arn: str = "arn:aws:iam::123456789012:role/amtflow-sagemaker",
    warm_start: WarmStart | None = None,
) -> dict[str, Any]:
    """The request for ``profile`` with placeholder names and URIs (for linting and docs).

    Names and URIs follow the bucket layout: ``s3://<bucket>/datasets/<model>/<version>/`` and
    ``s3://<bucket>/runs/<model>/<job>/``.
    """
    job = tuning_job_name(job_prefix, profile.model, dataset_version)
    return compile_tuning_request(
        profile,
        job_name=job,
        data_uri=f"s3://{bucket}/{profile.dataset_prefix(dataset_version)}",
        output_uri=f"s3://{bucket}/runs/{profile.model}/{job}/",
        role_arn=role_arn,
        warm_start=warm_start,
    )


def parents_of(request: Mapping[str, Any]) -> Sequence[str]:
    """The parent tuning-job names of a compiled request (empty for a cold start)."""
    config = request.get("WarmStartConfig") or {}
    return [p["HyperParameterTuningJobName"] for p in config.get("ParentHyperParameterTuningJobs", [])]


def _midpoint(rng: ParameterRange) -> str:
    if rng.kind is ParameterType.CATEGORICAL:
        values = rng.rendered_values()
        return values[(len(values) - 1) // 2]
    low, high = (float(bound) for bound in rng.rendered_bounds())
    if rng.scaling is Scaling.LOG and low > 0:
        middle = math.sqrt(low * high)
    elif rng.scaling is Scaling.REVERSE_LOG and high < 1:
        middle = 1 - math.sqrt((1 - low) * (1 - high))
    else:
        middle = (low + high) / 2
    if rng.kind is ParameterType.INTEGER:
        return str(min(max(round(middle), math.ceil(low)), math.floor(high)))
    return repr(min(max(middle, low), high))


def midrange_hyperparameters(profile: ModelProfile, *, definition: str | None = None) -> dict[str, str]:
    """The tuned hyperparameters at the middle of their ranges, as the strings a trial receives
    (``definition``: of that algorithm of a multi-algorithm profile; by default ``tuning.ranges``, which are
    the first algorithm's).

    The middle is taken in each range's own scale: the geometric mean for ``log``, its mirror for
    ``reverse_log``, the arithmetic mean otherwise (rounded for integers); a categorical range gives its
    middle value (the first of the two middle ones). Used for a canary trial (``amtflow lint --canary``).
    """
    ranges = profile.tuning.ranges
    if definition is not None and profile.algorithms is not None:
        algorithm = _training_of(profile, definition, {})
        assert isinstance(algorithm, AlgorithmSpec)
        ranges = algorithm.ranges
    return {name: _midpoint(rng) for name, rng in ranges.items()}
