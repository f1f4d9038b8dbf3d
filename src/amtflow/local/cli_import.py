"""``amtflow profiles import``: a model profile from an existing tuning job or request, to migrate to amtflow.

- ``--from-request FILE``: a ``CreateHyperParameterTuningJob`` request (JSON, boto3's keyword arguments);
- ``--from-job NAME``: the tuning job's ``DescribeHyperParameterTuningJob`` response, from the local engine's
  state folder (``--state-dir``, default ``.amtflow/engine``) or with ``--aws`` from SageMaker.

The profile is written to stdout (or ``--out FILE``), preceded by comments that list what the request held
that a profile does not carry (the deployment supplies it: job name, role, data and output locations,
network, tags; or amtflow decides it: warm start). ``amtflow profiles compile`` on the result gives the same
request up to those. Anything the profile cannot express (another algorithm resource, a manifest or file
system data source, instance groups, ...) is refused with the key path, never dropped silently.

A request with one ``TrainingJobDefinition`` becomes ``training`` and ``tuning.ranges``; a request with 2-10
``TrainingJobDefinitions`` becomes ``algorithms`` (``DefinitionName`` -> ``name``, ``HyperParameterRanges`` ->
``ranges``, a per-definition objective metric -> ``objective_metric`` when it differs from the shared one).
Since the dataset is shared, every definition must read the same channels; what SageMaker allows only for a
single algorithm (warm start, early stopping, Grid) is refused, naming the key.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from amtflow.errors import ConfigurationError, InvalidInputError
from amtflow.local.cli_format import EXIT_FINDINGS, EXIT_OK, error
from amtflow.naming import slug
from amtflow.profile import (
    MAX_ALGORITHMS,
    MODEL_TAG,
    SCHEMA_VERSION,
    Distribution,
    InputMode,
    ProfileValidationError,
    Scaling,
    parse_profile,
)
from amtflow.vocabulary import MODEL_NAME_MAX

DEFAULT_STATE_DIR = Path(".amtflow") / "engine"

_SCALING = {s.sagemaker: s.value for s in Scaling}
_DEFAULT_CHECKPOINT_PATH = "/opt/ml/checkpoints/"
_INTERNAL_HYPERPARAMETERS = frozenset({"_tuning_objective_metric"})

#: Members of a training definition the deployment supplies: dropped, and named in the notes.
_SUPPLIED = {
    "RoleArn": "the role is the stack's (AMTFLOW_SAGEMAKER_ROLE_ARN)",
    "OutputDataConfig": "models go to the stack's artifacts bucket",
    "VpcConfig": "the network is the stack's (TrainingSubnets, TrainingSecurityGroups)",
    "EnableNetworkIsolation": "network isolation is the stack's (TrainingNetworkIsolation)",
}
#: Members of a training definition a profile does not express: the import is refused.
_UNSUPPORTED = {
    "HyperParameterTuningResourceConfig": "instance choice per trial is not expressible",
    "EnableInterContainerTrafficEncryption": "not expressible in a profile",
}
#: Members only a definition of ``TrainingJobDefinitions`` carries (an algorithm of the profile).
_PER_DEFINITION = {
    "DefinitionName": "a single definition has no name; list several as TrainingJobDefinitions",
    "TuningObjective": "the objective is tuning.objective",
    "HyperParameterRanges": "the ranges are tuning.ranges",
}
_SINGLE = "TrainingJobDefinition"
_CONFIG = "HyperParameterTuningJobConfig"


class ImportRefusedError(InvalidInputError):
    """The request (or tuning job) holds something a profile cannot express; the message names it."""


@dataclass
class Imported:
    """The profile document, and the notes on what it does not carry over."""

    document: dict[str, Any]
    notes: list[str] = field(default_factory=list)

    def to_yaml(self, source: str) -> str:
        head = [f"# Imported by 'amtflow profiles import' from {source}."]
        if self.notes:
            head.append("# Not carried over (the deployment or amtflow supplies them):")
            head.extend(f"#   - {note}" for note in self.notes)
        head.append("# Check it with 'amtflow profiles validate' and 'amtflow lint'.")
        body = yaml.safe_dump(self.document, sort_keys=False, allow_unicode=True, width=110)
        return "\n".join(head) + "\n" + body


def register(sub: Any) -> None:
    """Add ``amtflow profiles import`` to the ``profiles`` group's sub-parsers."""
    parser = sub.add_parser(
        "import",
        help="write a profile from an existing tuning job or CreateHyperParameterTuningJob request",
        description=(
            "Write a model profile from a CreateHyperParameterTuningJob request (--from-request) or an "
            "existing tuning job (--from-job, from the local engine or with --aws from SageMaker)."
        ),
    )
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--from-request", type=Path, metavar="FILE", help="request JSON (boto3's arguments)")
    source.add_argument("--from-job", metavar="NAME", help="a tuning job to describe")
    parser.add_argument("--state-dir", type=Path, default=DEFAULT_STATE_DIR, help="the local engine's state")
    parser.add_argument("--aws", action="store_true", help="describe --from-job in SageMaker instead")
    parser.add_argument(
        "--model", default=None, help="model name (default: the amtflow:model tag, or the job)"
    )
    parser.add_argument("--out", type=Path, default=None, help="write the profile here (default stdout)")
    parser.add_argument("--force", action="store_true", help="overwrite --out if it exists")
    parser.set_defaults(func=_import)


# ----------------------------------------------------------------------------------------------- reading
def read_request(path: Path) -> dict[str, Any]:
    """A ``CreateHyperParameterTuningJob`` request from a JSON file."""
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except OSError as e:
        raise ConfigurationError(f"--from-request {path}: cannot be read ({e.strerror or e})") from None
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise ConfigurationError(f"--from-request {path}: not valid JSON ({e})") from None
    if not isinstance(document, dict) or "HyperParameterTuningJobConfig" not in document:
        raise ConfigurationError(
            f"--from-request {path}: expected a CreateHyperParameterTuningJob request "
            "(a JSON object with HyperParameterTuningJobConfig)"
        )
    return document


def describe_job(name: str, *, state_dir: Path, aws: bool) -> dict[str, Any]:
    """``DescribeHyperParameterTuningJob`` of ``name`` from SageMaker or the local engine's state."""
    if aws:
        from amtflow import clients
        from amtflow.adapters import aws_call

        with aws_call(f"describing tuning job {name}", field="--from-job"):
            return dict(
                clients.sagemaker().describe_hyper_parameter_tuning_job(HyperParameterTuningJobName=name)
            )
    from amtflow.local.engine import Engine, ServiceError

    if not state_dir.is_dir():
        raise ConfigurationError(
            f"no local engine state in {state_dir}; pass --state-dir DIR, or --aws to describe the job "
            "in SageMaker"
        )
    engine = Engine(state_dir, read_only=True, event_sink=lambda _entry: None)
    try:
        return dict(engine.handle("DescribeHyperParameterTuningJob", {"HyperParameterTuningJobName": name}))
    except ServiceError as e:
        raise ConfigurationError(
            f"{e} in {state_dir}; 'amtflow jobs --state-dir {state_dir}' lists them"
        ) from None


# -------------------------------------------------------------------------------------------- converting
def training_sections(request: Mapping[str, Any]) -> list[tuple[str, Mapping[str, Any]]]:
    """The request's training-job definitions, in order, each with its key path: one for
    ``TrainingJobDefinition``, 2-10 for ``TrainingJobDefinitions``."""
    definitions = request.get("TrainingJobDefinitions")
    single = request.get(_SINGLE)
    if definitions is not None:
        if single is not None:
            raise ImportRefusedError(
                "TrainingJobDefinitions: the request also has a TrainingJobDefinition; keep one of the two",
                field="TrainingJobDefinitions",
            )
        if not isinstance(definitions, list) or not 2 <= len(definitions) <= MAX_ALGORITHMS:
            count = len(definitions) if isinstance(definitions, list) else 0
            raise ImportRefusedError(
                f"TrainingJobDefinitions holds {count} training definitions; a profile's algorithms list "
                f"2 to {MAX_ALGORITHMS} (for one, give it as TrainingJobDefinition)",
                field="TrainingJobDefinitions",
            )
        out: list[tuple[str, Mapping[str, Any]]] = []
        for i, definition in enumerate(definitions):
            if not isinstance(definition, Mapping):
                raise ImportRefusedError(
                    f"TrainingJobDefinitions[{i}] is not an object", field=f"TrainingJobDefinitions[{i}]"
                )
            out.append((f"TrainingJobDefinitions[{i}]", definition))
        return out
    if not isinstance(single, Mapping):
        raise ImportRefusedError("the request has no TrainingJobDefinition", field=_SINGLE)
    return [(_SINGLE, single)]


def profile_from_request(request: Mapping[str, Any], *, model: str | None = None) -> Imported:
    """The profile document for a ``CreateHyperParameterTuningJob`` request (or a describe response).

    Raises :class:`ImportRefusedError` naming the first key a profile cannot express.
    """
    notes: list[str] = []
    sections = training_sections(request)
    multi = sections[0][0] != _SINGLE
    config = request[_CONFIG]
    dataset: dict[str, Any] | None = None
    for where, definition in sections:
        mine, channel_notes = _dataset(definition, where)
        if dataset is None:
            dataset = mine
        elif mine != dataset:
            raise ImportRefusedError(
                f"{where}.InputDataConfig: the channels differ from {sections[0][0]}'s; the algorithms of "
                "a profile share one dataset, so every definition must read the same channels",
                field=f"{where}.InputDataConfig",
            )
        notes.extend(n for n in channel_notes if n not in notes)
        for key, why in _SUPPLIED.items():
            if key in definition:
                notes.append(f"{where}.{key}: {why}")
        refused = {**_UNSUPPORTED, **({} if multi else _PER_DEFINITION)}
        for key, why in refused.items():
            if key in definition:
                raise ImportRefusedError(f"{where}.{key}: {why}", field=f"{where}.{key}")
    name = request.get("HyperParameterTuningJobName")
    if name:
        notes.append(f"HyperParameterTuningJobName {name}: amtflow names each run's job")
    if request.get("WarmStartConfig"):
        if multi:
            raise ImportRefusedError(
                "WarmStartConfig: SageMaker offers warm start only when tuning a single algorithm; remove "
                "it (amtflow starts a multi-algorithm job cold)",
                field="WarmStartConfig",
            )
        notes.append("WarmStartConfig: amtflow chooses warm start and parents per run (warm_start: policy)")
    if request.get("Tags"):
        notes.append("Tags: amtflow tags each job with amtflow:model")
    document: dict[str, Any] = {
        "schema": SCHEMA_VERSION,
        "model": _model_name(request, model),
        "description": f"Imported from tuning job {name}." if name else "Imported from a tuning request.",
        "dataset": dataset,
    }
    if multi:
        tuning = _tuning(config, multi=True)
        tuning["objective"] = _shared_objective(config, sections)
        document["tuning"] = tuning
        document["algorithms"] = [
            _algorithm(where, definition, tuning["objective"]["metric"]) for where, definition in sections
        ]
    else:
        document["training"] = _training(sections[0][1], _SINGLE)
        document["tuning"] = _tuning(config)
    return Imported(document, notes)


def _shared_objective(
    config: Mapping[str, Any], sections: list[tuple[str, Mapping[str, Any]]]
) -> dict[str, Any]:
    """``tuning.objective`` of a multi-algorithm request: the job's objective (or the first definition's);
    every definition must share its direction (``Type``)."""
    shared = config.get("HyperParameterTuningJobObjective") or sections[0][1].get("TuningObjective") or {}
    goal = shared.get("Type")
    for where, definition in sections:
        own = (definition.get("TuningObjective") or {}).get("Type", goal)
        if own != goal:
            raise ImportRefusedError(
                f"{where}.TuningObjective.Type {own}: the definitions mix objective directions ({goal} and "
                f"{own}); a profile has one tuning.objective.goal",
                field=f"{where}.TuningObjective.Type",
            )
    return {"metric": shared.get("MetricName"), "goal": goal}


def _algorithm(where: str, definition: Mapping[str, Any], shared_metric: Any) -> dict[str, Any]:
    """``algorithms[i]`` for one definition of ``TrainingJobDefinitions``."""
    index = where[where.index("[") + 1 : -1]
    algorithm: dict[str, Any] = {"name": definition.get("DefinitionName") or f"algorithm-{int(index) + 1}"}
    algorithm.update(_training(definition, where))
    algorithm["ranges"] = _ranges(
        definition.get("HyperParameterRanges") or {}, f"{where}.HyperParameterRanges"
    )
    metric = (definition.get("TuningObjective") or {}).get("MetricName")
    if metric and metric != shared_metric:
        algorithm["objective_metric"] = metric
    return algorithm


def _model_name(request: Mapping[str, Any], model: str | None) -> str:
    if model:
        return model
    for tag in request.get("Tags") or []:
        if tag.get("Key") == MODEL_TAG and tag.get("Value"):
            return str(tag["Value"])
    return slug(str(request.get("HyperParameterTuningJobName") or "imported"), max_length=MODEL_NAME_MAX)


def _dataset(definition: Mapping[str, Any], at: str) -> tuple[dict[str, Any], list[str]]:
    channels: dict[str, Any] = {}
    notes: list[str] = []
    for i, channel in enumerate(definition.get("InputDataConfig") or []):
        where = f"{at}.InputDataConfig[{i}]"
        source = (channel.get("DataSource") or {}).get("S3DataSource")
        if not source:
            raise ImportRefusedError(
                f"{where}.DataSource: only S3 data sources are expressible (channels are folders of a "
                "dataset version)",
                field=f"{where}.DataSource",
            )
        if source.get("S3DataType", "S3Prefix") != "S3Prefix":
            raise ImportRefusedError(
                f"{where}.DataSource.S3DataSource.S3DataType {source['S3DataType']}: only S3Prefix is "
                "expressible (a channel is the folder datasets/<model>/<version>/<channel>/)",
                field=f"{where}.DataSource.S3DataSource.S3DataType",
            )
        extra = set(channel) - {"ChannelName", "DataSource", "ContentType", "CompressionType", "InputMode"}
        extra |= {f"DataSource.S3DataSource.{k}" for k in source} - {
            "DataSource.S3DataSource.S3DataType",
            "DataSource.S3DataSource.S3Uri",
            "DataSource.S3DataSource.S3DataDistributionType",
        }
        if extra:
            key = sorted(extra)[0]
            raise ImportRefusedError(f"{where}.{key} is not expressible in a profile", field=f"{where}.{key}")
        spec: dict[str, Any] = {}
        if channel.get("ContentType"):
            spec["content_type"] = channel["ContentType"]
        if channel.get("CompressionType") not in (None, "None"):
            spec["compression"] = channel["CompressionType"]
        distribution = source.get("S3DataDistributionType", Distribution.FULLY_REPLICATED.value)
        if distribution != Distribution.FULLY_REPLICATED.value:
            spec["distribution"] = distribution
        name = channel["ChannelName"]
        channels[name] = spec["content_type"] if set(spec) == {"content_type"} else spec
        notes.append(
            f"channel {name} read {source.get('S3Uri', '?')}: amtflow reads "
            f"datasets/<model>/<version>/{name}/"
        )
    return {"channels": channels}, notes


def _training(definition: Mapping[str, Any], where: str) -> dict[str, Any]:
    algorithm = definition.get("AlgorithmSpecification") or {}
    if not algorithm.get("TrainingImage"):
        key = "AlgorithmName" if algorithm.get("AlgorithmName") else "TrainingImage"
        raise ImportRefusedError(
            f"{where}.AlgorithmSpecification.{key}: a profile trains a container image "
            "(training.image); give the image URI",
            field=f"{where}.AlgorithmSpecification.{key}",
        )
    resources = definition.get("ResourceConfig") or {}
    for key in ("InstanceGroups", "VolumeKmsKeyId", "KeepAlivePeriodInSeconds"):
        if key in resources:
            raise ImportRefusedError(
                f"{where}.ResourceConfig.{key} is not expressible in a profile",
                field=f"{where}.ResourceConfig.{key}",
            )
    stopping = definition.get("StoppingCondition") or {}
    training: dict[str, Any] = {"image": algorithm["TrainingImage"]}
    mode = algorithm.get("TrainingInputMode", InputMode.FILE.value)
    if mode != InputMode.FILE.value:
        training["input_mode"] = mode
    training["instance_type"] = resources.get("InstanceType")
    if resources.get("InstanceCount", 1) != 1:
        training["instance_count"] = resources["InstanceCount"]
    if "VolumeSizeInGB" in resources:
        training["volume_gb"] = resources["VolumeSizeInGB"]
    if "MaxRuntimeInSeconds" in stopping:
        training["max_runtime_s"] = stopping["MaxRuntimeInSeconds"]
    metrics = algorithm.get("MetricDefinitions") or []
    if metrics:
        training["metrics"] = [{"name": m["Name"], "regex": m["Regex"]} for m in metrics]
    static = {
        k: v
        for k, v in (definition.get("StaticHyperParameters") or {}).items()
        if k not in _INTERNAL_HYPERPARAMETERS
    }
    if static:
        training["static_hyperparameters"] = static
    if definition.get("Environment"):
        training["environment"] = dict(definition["Environment"])
    if definition.get("EnableManagedSpotTraining"):
        training["spot"] = {"enabled": True, "max_wait_s": stopping.get("MaxWaitTimeInSeconds")}
    checkpoint = definition.get("CheckpointConfig")
    if checkpoint:
        local = checkpoint.get("LocalPath", _DEFAULT_CHECKPOINT_PATH)
        training["checkpoints"] = (
            True if local == _DEFAULT_CHECKPOINT_PATH else {"enabled": True, "local_path": local}
        )
    retry = (definition.get("RetryStrategy") or {}).get("MaximumRetryAttempts")
    if retry:
        training["retry_attempts"] = retry
    return training


def _tuning(config: Mapping[str, Any], *, multi: bool = False) -> dict[str, Any]:
    objective = config.get("HyperParameterTuningJobObjective") or {}
    tuning: dict[str, Any] = {
        "strategy": config.get("Strategy", "Bayesian"),
        "objective": {"metric": objective.get("MetricName"), "goal": objective.get("Type")},
    }
    if multi:
        _check_single_algorithm_only(config)
    else:
        tuning["ranges"] = _ranges(config.get("ParameterRanges") or {}, f"{_CONFIG}.ParameterRanges")
    limits_in = config.get("ResourceLimits") or {}
    limits: dict[str, Any] = {}
    for key, api in (
        ("max_jobs", "MaxNumberOfTrainingJobs"),
        ("max_parallel", "MaxParallelTrainingJobs"),
        ("max_runtime_s", "MaxRuntimeInSeconds"),
    ):
        if api in limits_in:
            limits[key] = limits_in[api]
    tuning["limits"] = limits
    if config.get("TrainingJobEarlyStoppingType", "Off") != "Off":
        tuning["early_stopping"] = config["TrainingJobEarlyStoppingType"]
    criteria = config.get("TuningJobCompletionCriteria") or {}
    completion: dict[str, Any] = {}
    if "TargetObjectiveMetricValue" in criteria:
        completion["target"] = criteria["TargetObjectiveMetricValue"]
    not_improving = (criteria.get("BestObjectiveNotImproving") or {}).get(
        "MaxNumberOfTrainingJobsNotImproving"
    )
    if not_improving is not None:
        completion["not_improving"] = not_improving
    if (criteria.get("ConvergenceDetected") or {}).get("CompleteOnConvergence") == "Enabled":
        completion["convergence"] = True
    if completion:
        tuning["completion"] = completion
    if "RandomSeed" in config:
        tuning["random_seed"] = config["RandomSeed"]
    hyperband = (config.get("StrategyConfig") or {}).get("HyperbandStrategyConfig")
    if hyperband:
        tuning["hyperband"] = {
            "min_resource": hyperband["MinResource"],
            "max_resource": hyperband["MaxResource"],
        }
    return tuning


def _check_single_algorithm_only(config: Mapping[str, Any]) -> None:
    """Refuse what a tuning job offers only for a single algorithm, or what belongs to each definition."""
    if config.get("ParameterRanges"):
        raise ImportRefusedError(
            f"{_CONFIG}.ParameterRanges: with TrainingJobDefinitions each definition has its own "
            "HyperParameterRanges; move these ranges into the definitions",
            field=f"{_CONFIG}.ParameterRanges",
        )
    if config.get("Strategy") == "Grid":
        raise ImportRefusedError(
            f"{_CONFIG}.Strategy Grid: Grid search over several algorithms is not supported in a profile; "
            "use Bayesian or Random",
            field=f"{_CONFIG}.Strategy",
        )
    if config.get("TrainingJobEarlyStoppingType", "Off") != "Off":
        raise ImportRefusedError(
            f"{_CONFIG}.TrainingJobEarlyStoppingType {config['TrainingJobEarlyStoppingType']}: early "
            "stopping is available only when tuning a single algorithm; set it to Off",
            field=f"{_CONFIG}.TrainingJobEarlyStoppingType",
        )


def _ranges(ranges: Mapping[str, Any], where: str) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for kind, cast in (("IntegerParameterRanges", int), ("ContinuousParameterRanges", float)):
        for item in ranges.get(kind) or []:
            spec: dict[str, Any] = {
                "min": _number(item["MinValue"], cast),
                "max": _number(item["MaxValue"], cast),
            }
            scaling = _SCALING.get(item.get("ScalingType", "Auto"), item.get("ScalingType"))
            if scaling != Scaling.AUTO.value:
                spec["scaling"] = scaling
            out[item["Name"]] = spec
    for item in ranges.get("CategoricalParameterRanges") or []:
        out[item["Name"]] = {"values": list(item["Values"])}
    for kind in ranges:
        if kind not in ("IntegerParameterRanges", "ContinuousParameterRanges", "CategoricalParameterRanges"):
            raise ImportRefusedError(
                f"{where}.{kind} is not expressible in a profile",
                field=f"{where}.{kind}",
            )
    return out


def _number(text: Any, cast: type[int] | type[float]) -> int | float:
    value = float(text)
    return int(value) if cast is int else value


# ---------------------------------------------------------------------------------------------- command
def _import(args: argparse.Namespace) -> int:
    if args.from_request is not None:
        request = read_request(args.from_request)
        source = str(args.from_request)
    else:
        request = describe_job(args.from_job, state_dir=args.state_dir, aws=args.aws)
        source = f"tuning job {args.from_job} ({'SageMaker' if args.aws else args.state_dir})"
    imported = profile_from_request(request, model=args.model)
    text = imported.to_yaml(source)
    try:
        parse_profile(yaml.safe_load(text), source="the imported profile")
    except ProfileValidationError as e:
        # Still written: the problems say what to finish by hand (e.g. a missing max_jobs).
        error(f"{e}\nfix these in the written profile before pushing it")
        code = EXIT_FINDINGS
    else:
        code = EXIT_OK
    if args.out is None:
        sys.stdout.write(text)
        return code
    if args.out.exists() and not args.force:
        raise ConfigurationError(f"--out {args.out} exists; pass --force to overwrite it")
    try:
        args.out.write_text(text, encoding="utf-8")
    except OSError as e:
        raise ConfigurationError(f"--out {args.out}: cannot be written ({e.strerror or e})") from None
    print(f"wrote {args.out} (model {imported.document['model']})", file=sys.stderr)
    return code
