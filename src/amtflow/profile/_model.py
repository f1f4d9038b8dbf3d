"""The model profile: one YAML document per model, validated with pydantic.

Structure and types are checked by pydantic (``extra="forbid"`` everywhere); rules that involve several
fields are checked by each section's ``after`` validator, which reports every problem it finds at once with
:func:`_fail` (the key paths are relative to the section; :mod:`._errors` turns them into full paths).
The shared validators and limits are in :mod:`._fields`, the policy sections in :mod:`._policies`.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from typing import TYPE_CHECKING, Annotated, Any, Literal

from pydantic import AfterValidator, BeforeValidator, Field, model_validator

from amtflow.errors import InvalidInputError
from amtflow.profile._cross import CrossFacts, cross_section_issues
from amtflow.profile._deployment import DeploymentSpec
from amtflow.profile._enums import (
    Compression,
    Distribution,
    EarlyStopping,
    Goal,
    InputMode,
    ParameterType,
    Scaling,
    Strategy,
)
from amtflow.profile._fields import (
    _ENV_KEY,
    _INSTANCE_TYPE,
    MAX_CATEGORICAL_VALUES,
    MAX_GRID_JOBS,
    MAX_METRICS,
    MAX_TRAINING_RUNTIME_S,
    MAX_TUNABLE,
    MAX_TUNING_RUNTIME_S,
    Float,
    Int,
    Number,
    _early_stopping,
    _enum,
    _fail,
    _is_scalar,
    _Section,
    render_scalar,
)
from amtflow.profile._monitoring import Monitoring
from amtflow.profile._policies import (
    Budget,
    Notifications,
    PromotionRule,
    WarmStartPolicy,
    _check_schedule,
)
from amtflow.vocabulary import CHANNEL_NAME_MAX, CHANNEL_NAME_PATTERN, MODEL_NAME_MAX, MODEL_NAME_PATTERN

if TYPE_CHECKING:  # resolved by amtflow.profile._algorithms (ModelProfile.model_rebuild)
    from amtflow.profile._algorithms import AlgorithmSpec

# --- dataset ---------------------------------------------------------------------------------------------


def _channel_shorthand(value: Any) -> Any:
    if isinstance(value, str):
        return {"content_type": value}
    if value is None:
        return {}
    return value


class ChannelSpec(_Section):
    """One channel folder of a dataset version (``datasets/<model>/<version>/<channel>/``)."""

    content_type: str | None = Field(default=None, min_length=1, max_length=256)
    compression: Annotated[Compression, _enum(Compression)] | None = None
    distribution: Annotated[Distribution, _enum(Distribution)] = Distribution.FULLY_REPLICATED


class DatasetSpec(_Section):
    """Layout of a dataset version: its channel folders and the marker object that completes it."""

    channels: dict[
        str,
        Annotated[
            ChannelSpec, BeforeValidator(_channel_shorthand, json_schema_input_type=str | ChannelSpec | None)
        ],
    ] = Field(min_length=1, max_length=20)
    marker: str = Field(default="_READY", min_length=1, max_length=256)

    @model_validator(mode="after")
    def _check(self) -> DatasetSpec:
        issues = [
            (
                f"channels.{name}",
                "a channel name has 1-64 letters, digits, '.', '-' or '_'; rename the folder",
            )
            for name in self.channels
            if len(name) > CHANNEL_NAME_MAX or not CHANNEL_NAME_PATTERN.fullmatch(name)
        ]
        if "/" in self.marker:
            issues.append(("marker", "the marker is one object name, not a path; e.g. '_READY'"))
        _fail(issues)
        return self


# --- training --------------------------------------------------------------------------------------------


class MetricDefinition(_Section):
    """A metric the training script prints, captured by ``regex`` (one capture group)."""

    name: str = Field(min_length=1, max_length=255)
    regex: str = Field(min_length=1, max_length=500)

    @model_validator(mode="after")
    def _check(self) -> MetricDefinition:
        try:
            re.compile(self.regex)
        except re.error as e:
            _fail([("regex", f"does not compile ({e}); fix the regular expression")])
        return self


class SpotConfig(_Section):
    """Managed spot training: ``max_wait_s`` must be at least ``training.max_runtime_s``."""

    enabled: bool = False
    max_wait_s: Int | None = Field(default=None, ge=1)


def _checkpoint_shorthand(value: Any) -> Any:
    return {"enabled": value} if isinstance(value, bool) else value


class CheckpointSpec(_Section):
    """Checkpoints synced to ``<output>/checkpoints/`` (needed to resume spot interruptions)."""

    enabled: bool = False
    local_path: str = Field(default="/opt/ml/checkpoints/", min_length=1, max_length=4096)


class TrainingSpec(_Section):
    """The training-job definition, in SageMaker's terms."""

    image: str = Field(min_length=1, max_length=255)
    input_mode: Annotated[InputMode, _enum(InputMode)] = InputMode.FILE
    instance_type: str = "ml.m5.xlarge"
    allowed_instance_types: list[str] = Field(default_factory=list, max_length=20)
    instance_count: Int = Field(default=1, ge=1, le=100)
    volume_gb: Int = Field(default=30, ge=1, le=16384)
    max_runtime_s: Int = Field(default=3600, ge=1, le=MAX_TRAINING_RUNTIME_S)
    metrics: list[MetricDefinition] = Field(default_factory=list, max_length=MAX_METRICS)
    static_hyperparameters: dict[str, Any] = Field(default_factory=dict)
    environment: dict[str, Any] = Field(default_factory=dict, max_length=48)
    spot: SpotConfig = SpotConfig()
    checkpoints: Annotated[
        CheckpointSpec, BeforeValidator(_checkpoint_shorthand, json_schema_input_type=bool | CheckpointSpec)
    ] = CheckpointSpec()
    retry_attempts: Int = Field(default=0, ge=0, le=30)

    @model_validator(mode="after")
    def _check(self) -> TrainingSpec:
        issues: list[tuple[str, str]] = []
        if not _INSTANCE_TYPE.fullmatch(self.instance_type):
            issues.append(
                ("instance_type", f"{self.instance_type!r} is not an ML instance type; e.g. 'ml.m5.xlarge'")
            )
        issues.extend(self._check_allowed_instance_types())
        names = [m.name for m in self.metrics]
        for i, name in enumerate(names):
            if name in names[:i]:
                issues.append((f"metrics[{i}].name", f"{name!r} is defined twice; keep one definition"))
        for key, value in self.static_hyperparameters.items():
            if not _is_scalar(value):
                issues.append(
                    (
                        f"static_hyperparameters.{key}",
                        "must be a string, number or boolean, not a list or map",
                    )
                )
            elif len(key) > 256 or len(render_scalar(value)) > 2500:
                issues.append((f"static_hyperparameters.{key}", "key ≤ 256 and value ≤ 2500 characters"))
        for key, value in self.environment.items():
            if not _ENV_KEY.fullmatch(key) or len(key) > 512:
                issues.append(
                    (f"environment.{key}", "an environment variable name is [A-Za-z_][A-Za-z0-9_]*")
                )
            if not _is_scalar(value) or len(render_scalar(value)) > 512:
                issues.append(
                    (f"environment.{key}", "must be a string, number or boolean of ≤ 512 characters")
                )
        if self.spot.enabled:
            if self.spot.max_wait_s is None:
                issues.append(
                    (
                        "spot.max_wait_s",
                        "required when spot is enabled; set it ≥ max_runtime_s (e.g. twice it)",
                    )
                )
            elif self.spot.max_wait_s < self.max_runtime_s:
                issues.append(
                    (
                        "spot.max_wait_s",
                        f"{self.spot.max_wait_s} is below max_runtime_s ({self.max_runtime_s}); "
                        "set it ≥ max_runtime_s",
                    )
                )
        _fail(issues)
        return self

    def _check_allowed_instance_types(self) -> list[tuple[str, str]]:
        issues: list[tuple[str, str]] = []
        allowed = self.allowed_instance_types
        for i, itype in enumerate(allowed):
            if not _INSTANCE_TYPE.fullmatch(itype):
                issues.append(
                    (
                        f"allowed_instance_types[{i}]",
                        f"{itype!r} is not an ML instance type; e.g. 'ml.m5.xlarge'",
                    )
                )
            elif itype in allowed[:i]:
                issues.append((f"allowed_instance_types[{i}]", f"{itype!r} is listed twice; list it once"))
        if allowed and self.instance_type not in allowed:
            issues.append(
                (
                    "allowed_instance_types",
                    f"must contain instance_type ({self.instance_type!r}); add it to the list",
                )
            )
        return issues

    @property
    def instance_types_allowed(self) -> tuple[str, ...]:
        """The instance types a run's overrides may choose: ``allowed_instance_types``, by default just
        ``instance_type``."""
        return tuple(self.allowed_instance_types) or (self.instance_type,)

    def rendered_static_hyperparameters(self) -> dict[str, str]:
        return {k: render_scalar(v) for k, v in self.static_hyperparameters.items()}

    def rendered_environment(self) -> dict[str, str]:
        return {k: render_scalar(v) for k, v in self.environment.items()}


# --- tuning ----------------------------------------------------------------------------------------------


class ParameterRange(_Section):
    """A tunable hyperparameter: ``{min, max[, type][, scaling]}`` or ``{values: [...]}``.

    The kind is inferred: ``values`` → categorical; otherwise integer when both bounds are integers, else
    continuous, unless ``type`` says otherwise.
    """

    type: Annotated[ParameterType, _enum(ParameterType)] | None = None
    min: Number | None = None
    max: Number | None = None
    values: list[Any] | None = None
    scaling: Annotated[Scaling, _enum(Scaling)] = Scaling.AUTO

    @property
    def kind(self) -> ParameterType:
        if self.type is not None:
            return self.type
        if self.values is not None:
            return ParameterType.CATEGORICAL
        if isinstance(self.min, int) and isinstance(self.max, int):
            return ParameterType.INTEGER
        return ParameterType.CONTINUOUS

    @model_validator(mode="after")
    def _check(self) -> ParameterRange:
        issues: list[tuple[str, str]] = []
        kind = self.kind
        if kind is ParameterType.CATEGORICAL:
            issues.extend(self._check_categorical())
        else:
            issues.extend(self._check_numeric(kind))
        _fail(issues)
        return self

    def _check_categorical(self) -> list[tuple[str, str]]:
        issues: list[tuple[str, str]] = []
        if self.min is not None or self.max is not None:
            issues.append(("", "a categorical range has 'values' only; drop 'min'/'max' or drop 'values'"))
        if self.scaling is not Scaling.AUTO:
            issues.append(("scaling", "scaling does not apply to categorical values; remove it"))
        if not self.values:
            issues.append(("values", "list at least one value, e.g. values: [hist, approx]"))
            return issues
        if len(self.values) > MAX_CATEGORICAL_VALUES:
            issues.append(("values", f"at most {MAX_CATEGORICAL_VALUES} values; keep the likely ones"))
        rendered: list[str] = []
        for i, v in enumerate(self.values):
            if not _is_scalar(v):
                issues.append((f"values[{i}]", "must be a string, number or boolean"))
                continue
            text = render_scalar(v)
            if text in rendered:
                issues.append((f"values[{i}]", f"{text!r} is listed twice; list each value once"))
            rendered.append(text)
        return issues

    def _check_numeric(self, kind: ParameterType) -> list[tuple[str, str]]:
        issues: list[tuple[str, str]] = []
        if self.values is not None:
            issues.append(("values", f"a {kind.value} range has 'min' and 'max', not 'values'"))
        for key in ("min", "max"):
            bound = getattr(self, key)
            if bound is None:
                issues.append((key, f"required for a numeric range; add '{key}: <number>' (or use 'values')"))
            elif not math.isfinite(bound):
                issues.append((key, "must be a finite number"))
            elif kind is ParameterType.INTEGER and not float(bound).is_integer():
                issues.append((key, f"{bound} is not an integer; use an integer or 'type: continuous'"))
        if issues or self.min is None or self.max is None:
            return issues
        if self.min >= self.max:
            issues.append(("max", f"max ({self.max}) must be greater than min ({self.min})"))
        if self.scaling is Scaling.LOG and self.min <= 0:
            issues.append(("scaling", "log scaling needs min > 0; raise min or use 'linear'"))
        if self.scaling is Scaling.REVERSE_LOG:
            if kind is ParameterType.INTEGER:
                issues.append(
                    ("scaling", "reverse_log applies to continuous ranges only; use 'linear' or 'log'")
                )
            elif not (self.min >= 0 and self.max < 1):
                issues.append(("scaling", "reverse_log needs 0 ≤ min and max < 1; use 'linear' or 'log'"))
        return issues

    def rendered_values(self) -> list[str]:
        return [render_scalar(v) for v in self.values or []]

    def rendered_bounds(self) -> tuple[str, str]:
        """``(MinValue, MaxValue)`` as the API's strings (a numeric range only)."""
        if self.min is None or self.max is None:
            raise ValueError("a categorical range has no bounds")
        if self.kind is ParameterType.INTEGER:
            return str(int(self.min)), str(int(self.max))
        return repr(float(self.min)), repr(float(self.max))


class Objective(_Section):
    """The metric AMT optimises, by name from ``training.metrics``."""

    metric: str = Field(min_length=1, max_length=255)
    goal: Annotated[Goal, _enum(Goal)]


class ResourceLimits(_Section):
    """``ResourceLimits``: trials in total, trials at once, wall-clock limit of the tuning job."""

    max_jobs: Int | None = Field(default=None, ge=1, le=10_000)
    max_parallel: Int = Field(default=1, ge=1, le=100)
    max_runtime_s: Int | None = Field(default=None, ge=120, le=MAX_TUNING_RUNTIME_S)


class CompletionCriteria(_Section):
    """``TuningJobCompletionCriteria``: AMT stops when any one is met."""

    target: Float | None = None
    not_improving: Int | None = Field(default=None, ge=3)
    convergence: bool = False

    @property
    def is_empty(self) -> bool:
        return self.target is None and self.not_improving is None and not self.convergence


class HyperbandConfig(_Section):
    """Hyperband resource bounds, in epochs."""

    min_resource: Int = Field(ge=1)
    max_resource: Int = Field(ge=1, le=20_000)

    @model_validator(mode="after")
    def _check(self) -> HyperbandConfig:
        if self.min_resource > self.max_resource:
            _fail([("min_resource", "must not exceed max_resource")])
        return self


class TuningSpec(_Section):
    """The tuning job: strategy, objective, search space, limits, stopping rules."""

    strategy: Annotated[Strategy, _enum(Strategy)] = Strategy.BAYESIAN
    objective: Objective
    ranges: dict[str, ParameterRange] = Field(default_factory=dict)
    limits: ResourceLimits = ResourceLimits()
    early_stopping: Annotated[
        EarlyStopping, BeforeValidator(_early_stopping, json_schema_input_type=EarlyStopping | bool)
    ] = EarlyStopping.OFF
    completion: CompletionCriteria = CompletionCriteria()
    random_seed: Int | None = Field(default=None, ge=0, le=2**31 - 1)
    hyperband: HyperbandConfig | None = None

    @model_validator(mode="after")
    def _check(self) -> TuningSpec:
        issues: list[tuple[str, str]] = []
        if not self.ranges:
            issues.append(
                ("ranges", "list at least one hyperparameter to tune, e.g. eta: {min: 0.01, max: 0.3}")
            )
        if len(self.ranges) > MAX_TUNABLE:
            issues.append(("ranges", f"at most {MAX_TUNABLE} tunable hyperparameters; make the rest static"))
        for name in self.ranges:
            if not name or len(name) > 256:
                issues.append((f"ranges.{name}", "a hyperparameter name has 1-256 characters"))
        limits = self.limits
        if self.strategy is Strategy.GRID:
            combos = 1
            for name, rng in self.ranges.items():
                if rng.kind is not ParameterType.CATEGORICAL:
                    issues.append(
                        (f"ranges.{name}", "Grid search takes categorical ranges only; list 'values' instead")
                    )
                else:
                    combos *= len(rng.values or [])
            if combos > MAX_GRID_JOBS:
                issues.append(
                    ("ranges", f"the grid has {combos} combinations, over {MAX_GRID_JOBS}; shrink it")
                )
            elif limits.max_jobs is not None and limits.max_jobs != combos and self.ranges:
                issues.append(
                    (
                        "limits.max_jobs",
                        f"for Grid it must equal the number of combinations ({combos}); remove it or set it",
                    )
                )
        elif limits.max_jobs is None:
            issues.append(
                ("limits.max_jobs", f"required for {self.strategy.value} search; e.g. max_jobs: 20")
            )
        if limits.max_jobs is not None and limits.max_parallel > limits.max_jobs:
            issues.append(
                (
                    "limits.max_parallel",
                    f"{limits.max_parallel} exceeds max_jobs ({limits.max_jobs}); lower it",
                )
            )
        if self.strategy is Strategy.HYPERBAND:
            if self.early_stopping is EarlyStopping.AUTO:
                issues.append(("early_stopping", "must be Off with Hyperband (it stops trials itself)"))
        elif self.hyperband is not None:
            issues.append(
                ("hyperband", "only used with 'strategy: Hyperband'; remove it or change the strategy")
            )
        _fail(issues)
        return self


# --- the profile -----------------------------------------------------------------------------------------


class ModelProfile(_Section):
    """Everything amtflow needs to know about one model."""

    schema_: Literal["amtflow/v1"] = Field(alias="schema")
    model: str = Field(min_length=1, max_length=MODEL_NAME_MAX, pattern=MODEL_NAME_PATTERN)
    description: str = ""
    dataset: DatasetSpec
    training: TrainingSpec
    tuning: TuningSpec
    warm_start: WarmStartPolicy = WarmStartPolicy()
    promotion: PromotionRule = PromotionRule()
    budget: Budget = Budget()
    schedule: Annotated[str, AfterValidator(_check_schedule)] | None = None
    notifications: Notifications = Notifications()
    deployment: DeploymentSpec | None = None
    monitoring: Monitoring = Monitoring()
    sample_log_lines: list[str] = Field(default_factory=list)
    algorithms: list[AlgorithmSpec] | None = None

    @model_validator(mode="before")
    @classmethod
    def _fill(cls, data: Any) -> Any:
        from amtflow.profile._algorithms import fill_from_algorithms

        return fill_from_algorithms(data)

    @model_validator(mode="after")
    def _check(self) -> ModelProfile:
        if self.algorithms is not None:
            from amtflow.profile._algorithms import algorithm_issues

            _fail(algorithm_issues(self))
            return self
        issues = cross_section_issues(
            CrossFacts(
                metrics=[m.name for m in self.training.metrics],
                objective_metric=self.tuning.objective.metric,
                promotion_metric=self.promotion.metric,
                static=self.training.static_hyperparameters,
                ranges=self.tuning.ranges,
                strategy=self.tuning.strategy,
                hyperband=self.tuning.hyperband is not None,
            )
        )
        _fail(issues)
        return self

    @property
    def objective_metric(self) -> str:
        return self.tuning.objective.metric

    def dataset_prefix(self, version: str, *, root: str = "datasets/") -> str:
        """The key prefix of a dataset version: ``datasets/<model>/<version>/``."""
        check_dataset_version(version)
        return f"{_folder(root)}{self.model}/{version}/"

    def marker_key(self, version: str, *, root: str = "datasets/") -> str:
        """The key of the marker object that completes a dataset version."""
        return self.dataset_prefix(version, root=root) + self.dataset.marker

    def to_document(self) -> dict[str, Any]:
        """The profile as a YAML-ready mapping holding what was written (defaults left out)."""
        document = self.model_dump(mode="json", by_alias=True, exclude_unset=True)
        if self.algorithms is not None:  # filled from the first algorithm, never written
            document.pop("training", None)
            document["tuning"].pop("ranges", None)
        return document


def _folder(root: str) -> str:
    return root if not root or root.endswith("/") else root + "/"


def check_dataset_version(version: str) -> None:
    """Raise :class:`~amtflow.errors.InvalidInputError` unless ``version`` is one S3 folder name."""
    if not version or "/" in version or version in (".", "..") or len(version) > 256:
        raise InvalidInputError(
            f"dataset version {version!r} must be one folder name (no '/'), e.g. '2026-11-01'",
            field="datasetVersion",
        )


def rendered_ranges(ranges: Mapping[str, ParameterRange]) -> dict[str, list[dict[str, Any]]]:
    """``ParameterRanges`` in the API's shape (every bound and value a string)."""
    out: dict[str, list[dict[str, Any]]] = {
        "IntegerParameterRanges": [],
        "ContinuousParameterRanges": [],
        "CategoricalParameterRanges": [],
    }
    for name, rng in ranges.items():
        kind = rng.kind
        if kind is ParameterType.CATEGORICAL:
            out["CategoricalParameterRanges"].append({"Name": name, "Values": rng.rendered_values()})
            continue
        lo, hi = rng.rendered_bounds()
        item = {"Name": name, "MinValue": lo, "MaxValue": hi, "ScalingType": rng.scaling.sagemaker}
        key = "IntegerParameterRanges" if kind is ParameterType.INTEGER else "ContinuousParameterRanges"
        out[key].append(item)
    return {k: v for k, v in out.items() if v}
