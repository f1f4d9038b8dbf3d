"""The messages of a run: the documents that travel between its states.

Every state receives and returns JSON; these models give that JSON a typed shape at the edges. Field names
are camelCase on the wire (the execution input is written by people in the console) and snake_case in
Python. Documents carry references (job names, S3 URIs), never logs or whole job descriptions, so that a
run stays far below Step Functions' 256 KB payload limit.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import datetime
from enum import StrEnum
from typing import Any, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator
from pydantic.alias_generators import to_camel

from amtflow.drift import DriftSeverity
from amtflow.errors import AmtflowError, InvalidInputError
from amtflow.lineage import ObjectiveType
from amtflow.vocabulary import (
    DATASET_VERSION_PATTERN,
    MODEL_NAME_MAX,
    MODEL_NAME_PATTERN,
    Action,
    PromotionOutcome,
    RequestedAction,
    Trigger,
    WarmStartMode,
)


class Outcome(StrEnum):
    """How a run ended, as subscribers see it (the ``outcome`` message attribute)."""

    SUCCEEDED = "succeeded"
    NO_RESULT = "no_result"
    SKIPPED = "skipped"
    REJECTED = "rejected"
    FAILED = "failed"


class _Document(BaseModel):
    model_config = ConfigDict(
        alias_generator=to_camel, populate_by_name=True, extra="forbid", frozen=True, use_enum_values=False
    )

    def to_json(self) -> dict[str, Any]:
        """The wire form: camelCase keys, enums as their values, ``None`` fields omitted."""
        return self.model_dump(mode="json", by_alias=True, exclude_none=True)


def known_severity(value: str) -> str:
    """A drift severity as ``none``, ``moderate`` or ``severe`` (``low``, ``medium``, ``high`` and any case
    accepted); anything else raises ``ValueError`` (which the models turn into an error naming the field)."""
    try:
        return DriftSeverity.parse(value).value
    except AmtflowError as e:
        raise ValueError(
            f"{value!r} is not a drift severity: use one of none, moderate, severe (or low, medium, high)"
        ) from e


def objective_direction(value: str | None) -> str | None:
    """``HyperParameterTuningJobObjective.Type`` as SageMaker spells it, or nothing; anything else raises
    ``ValueError`` (which the models turn into an error naming the field)."""
    if value is None or value in set(ObjectiveType):
        return value
    raise ValueError(f"{value!r} is not an objective type: use {' or '.join(ObjectiveType)}")


class DriftInfo(_Document):
    severity: str = Field(min_length=1, max_length=32)
    score: float | None = None

    _severity = field_validator("severity")(known_severity)


class EventSource(_Document):
    bucket: str | None = None
    key: str | None = None
    event_id: str | None = None
    rule: str | None = None
    time: str | None = None


class RunRequest(_Document):
    """The execution input (see docs/architecture.md, "The run request")."""

    model: str = Field(max_length=MODEL_NAME_MAX, pattern=MODEL_NAME_PATTERN)
    action: RequestedAction = RequestedAction.AUTO
    dataset_version: str | None = Field(default=None, pattern=DATASET_VERSION_PATTERN)
    trigger: Trigger = Trigger.MANUAL
    overrides: dict[str, Any] = Field(default_factory=dict)
    drift: DriftInfo | None = None
    source: EventSource | None = None


EXECUTION_REF_NAME_PATTERN = r"^[^\s<>{}\[\]?*\"#%\\^|~`$&,;:/\x00-\x1f\x7f-\x9f]{1,80}$"
"""What Step Functions accepts as an execution name: 1-80 characters, no whitespace, brackets, wildcards,
``"#%\\^|~`$&,;:/`` or control characters."""


class ExecutionRef(_Document):
    name: str = Field(pattern=EXECUTION_REF_NAME_PATTERN)
    id: str = ""


class LockRef(_Document):
    """The state-table item that holds a model's lock, and who holds it."""

    pk: str
    sk: str
    owner: str


class ColumnScore(_Document):
    column: str
    psi: float
    severity: str


class DriftSummary(_Document):
    """The drift the planner measured against the champion's data (or was told of by a drift event): the
    few columns that drove it, never the profiles themselves (they live in the lineage)."""

    severity: str | None = None
    """``none``, ``moderate`` or ``severe``; ``None`` when there was nothing to compare with."""
    max_psi: float | None = None
    drivers: list[ColumnScore] = Field(default_factory=list)
    schema_changes: list[str] = Field(default_factory=list)
    external_severity: str | None = None
    baseline_dataset_version: str | None = None


class Plan(_Document):
    """The planner's decision, and everything later states need to act on it.

    ``job_name`` names the tuning job of a ``tune`` plan and the training job of a ``retrain`` plan
    (trained once with ``hyperparameters``, the champion's); ``parents`` and ``warm_start`` are the tuning
    job's ``WarmStartConfig``, ``max_jobs`` its budget; ``rule`` is the row of the decision table that
    decided (docs/drift.md).
    """

    model: str
    action: Action
    reason: str
    trigger: Trigger
    dataset_version: str | None = None
    overrides: dict[str, Any] = Field(default_factory=dict)
    warm_start: WarmStartMode = WarmStartMode.COLD
    parents: list[str] = Field(default_factory=list)
    max_jobs: int | None = Field(default=None, ge=1)
    rule: str | None = None
    drift: DriftSummary | None = None
    data_fingerprint: str | None = None
    hyperparameters: dict[str, str] = Field(default_factory=dict)
    job_name: str | None = None
    data_uri: str | None = None
    output_uri: str | None = None
    timeout_seconds: int | None = Field(default=None, ge=1)
    heartbeat_seconds: int | None = Field(default=None, ge=1)
    execution: ExecutionRef
    lock: LockRef | None = None
    planned_at: datetime


class TrialSummary(_Document):
    """One training job of a tuning job, as the leaderboard shows it."""

    training_job_name: str
    status: str
    objective_value: float | None = None
    hyperparameters: dict[str, str] = Field(default_factory=dict)
    definition_name: str | None = None  # the algorithm (TrainingJobDefinitionName) of a multi-algorithm job


class TuningResult(_Document):
    """What the task token of StartTuning is completed with (``SendTaskSuccess`` output)."""

    job_name: str
    status: str
    objective_metric: str | None = None
    objective_type: str | None = None
    best: TrialSummary | None = None
    training_jobs: dict[str, int] = Field(default_factory=dict)
    objective_statuses: dict[str, int] = Field(default_factory=dict)
    runtime_seconds: int | None = None
    ended_at: datetime | None = None
    stopped_for: str | None = None
    """Why amtflow stopped the job (``monitoring.on_stall: stop``): a stopped job that ends with a result."""

    _objective_type = field_validator("objective_type")(objective_direction)


class BestModel(_Document):
    training_job_name: str
    objective_value: float | None = None
    hyperparameters: dict[str, str] = Field(default_factory=dict)
    model_artifacts: str | None = None
    training_image: str | None = None
    training_seconds: int | None = None
    definition_name: str | None = None


class DiagnosisFinding(_Document):
    """One finding of the post-run diagnosis (``amtflow.preflight.diagnose``), as notifications show it."""

    rule: str
    severity: str
    field: str
    message: str
    fix: str = ""


class ChampionEvaluationJob(_Document):
    """The evaluation job that scores the champion on the challenger's validation data."""

    job_name: str
    champion_training_job: str
    model_artifact: str
    data_uri: str
    timeout_seconds: int = Field(ge=1)
    heartbeat_seconds: int = Field(ge=1)


class Promotion(_Document):
    """Challenger vs champion, like with like, and the registration of the winner."""

    outcome: PromotionOutcome
    reason: str
    challenger_job: str
    challenger_value: float
    challenger_dataset_version: str | None = None
    champion_job: str | None = None
    champion_value: float | None = None
    champion_value_dataset_version: str | None = None
    """The dataset version on which ``champion_value`` was measured."""
    crossed_datasets: bool = False
    model_package_arn: str | None = None
    model_package_group: str | None = None
    approval_status: str | None = None
    evaluation_job: ChampionEvaluationJob | None = None


class Evaluation(_Document):
    outcome: Outcome
    objective_metric: str | None = None
    objective_type: str | None = None
    leaderboard: list[TrialSummary] = Field(default_factory=list)
    best: BestModel | None = None
    reason: str = ""
    diagnosis: list[DiagnosisFinding] = Field(default_factory=list)
    promotion: Promotion | None = None

    _objective_type = field_validator("objective_type")(objective_direction)


_D = TypeVar("_D", bound=BaseModel)


def _field_name(loc: tuple[int | str, ...]) -> str:
    return ".".join(str(p) for p in loc) or "(input)"


def explain_validation_error(error: ValidationError, *, what: str, prefix: str = "") -> InvalidInputError:
    """Turn a pydantic error into one :class:`InvalidInputError` that names every bad field and its fix."""
    problems: list[str] = []
    first_field: str | None = None
    for item in error.errors():
        name = _field_name(tuple(item["loc"]))
        name = f"{prefix}{name}" if prefix else name
        first_field = first_field or name
        kind = item["type"]
        if kind == "extra_forbidden":
            problems.append(f"unknown key '{name}': remove it (check its spelling)")
        elif kind == "missing":
            problems.append(f"'{name}' is required: add it")
        elif kind == "string_pattern_mismatch":
            pattern = (item.get("ctx") or {}).get("pattern", "")
            problems.append(f"'{name}' = {item.get('input')!r} does not match {pattern}: fix the value")
        elif kind == "enum":
            expected = (item.get("ctx") or {}).get("expected", "")
            problems.append(f"'{name}' = {item.get('input')!r} is not allowed: use one of {expected}")
        elif kind == "value_error" and (item.get("ctx") or {}).get("error") is not None:
            problems.append(f"'{name}': {item['ctx']['error']}")
        else:
            problems.append(f"'{name}': {item['msg']}")
    return InvalidInputError(f"invalid {what}: " + "; ".join(problems), field=first_field)


MAX_INPUT_BYTES = 262_144
"""Step Functions' limit on an execution input (and EventBridge's on an event)."""

MAX_INPUT_DEPTH = 32
"""How deeply an incoming document may nest; amtflow's own documents stay under 10 levels."""


def _too_deep(raw: object) -> tuple[str, ...] | None:
    """The path of the first value nested deeper than :data:`MAX_INPUT_DEPTH` (walked without recursion)."""
    stack: list[tuple[object, tuple[str, ...]]] = [(raw, ())]
    while stack:
        value, path = stack.pop()
        if isinstance(value, Mapping):
            children: list[tuple[str, object]] = [(str(k), v) for k, v in value.items()]
        elif isinstance(value, list | tuple):
            children = [(str(i), v) for i, v in enumerate(value)]
        else:
            continue
        if len(path) >= MAX_INPUT_DEPTH and children:
            return path
        stack.extend((v, (*path, k)) for k, v in children if isinstance(v, Mapping | list | tuple))
    return None


def check_depth(raw: object, *, what: str, prefix: str = "") -> None:
    """Refuse a document nested deeper than :data:`MAX_INPUT_DEPTH` levels, naming where it gets too deep."""
    path = _too_deep(raw)
    if path is None:
        return
    name = prefix + ".".join(path)
    if len(name) > 200:
        name = name[:200] + "..."
    raise InvalidInputError(
        f"invalid {what}: '{name}' nests deeper than {MAX_INPUT_DEPTH} levels; "
        "flatten it (no amtflow document nests that deep)",
        field=name,
    )


TOO_DEEP = "(nested too deep: removed)"


def clip_depth(raw: Any, *, depth: int = MAX_INPUT_DEPTH) -> Any:
    """``raw`` with every value nested deeper than ``depth`` replaced by :data:`TOO_DEEP`: for the readers
    that must go on with a malformed document (a failure notification), where the others refuse it."""
    if depth >= MAX_INPUT_DEPTH and _too_deep(raw) is None:
        return raw  # within the limit: nothing to clip (a smaller depth is for a part of a document)

    def clip(value: Any, level: int) -> Any:
        if not isinstance(value, Mapping | list | tuple):
            return value
        if level >= depth:
            return TOO_DEEP
        if isinstance(value, Mapping):
            return {k: clip(v, level + 1) for k, v in value.items()}
        return [clip(v, level + 1) for v in value]

    return clip(raw, 0)


def check_size(raw: object, *, what: str) -> None:
    """Refuse a document over 256 KB: Step Functions and EventBridge could not carry it."""
    try:
        size = len(json.dumps(raw, default=str).encode("utf-8"))
    except (TypeError, ValueError, RecursionError) as e:
        raise InvalidInputError(f"invalid {what}: not JSON ({e})", field="(input)") from e
    if size > MAX_INPUT_BYTES:
        raise InvalidInputError(
            f"invalid {what}: {size} bytes, over the 256 KB (262144 bytes) Step Functions and EventBridge "
            "carry; keep large data in S3 and pass its key",
            field="(input)",
        )


def check_document(raw: object, *, what: str, prefix: str = "") -> None:
    """The guard every incoming document passes before anything reads it: at most
    :data:`MAX_INPUT_DEPTH` levels deep, at most 256 KB. Raises :class:`InvalidInputError`."""
    check_depth(raw, what=what, prefix=prefix)
    check_size(raw, what=what)


def parse_run_request(raw: object) -> RunRequest:
    """Validate an execution input; a bad input raises :class:`InvalidInputError` naming each field."""
    check_document(raw, what="run request")
    if not isinstance(raw, Mapping):
        raise InvalidInputError(
            "invalid run request: the execution input must be a JSON object such as "
            '{"model": "churn-xgb", "action": "tune"}, got ' + type(raw).__name__,
            field="(input)",
        )
    try:
        return RunRequest.model_validate(dict(raw))
    except ValidationError as e:
        raise explain_validation_error(e, what="run request") from e


def parse_document(model: type[_D], raw: object, *, what: str) -> _D:
    """Validate a document handed over by an earlier state (or an event's part): within
    :func:`check_document`'s limits, a JSON object, of ``model``'s shape."""
    check_document(raw, what=what, prefix=f"{what}.")
    if not isinstance(raw, Mapping):
        raise InvalidInputError(
            f"invalid {what}: expected a JSON object, got {type(raw).__name__}", field=what
        )
    try:
        return model.model_validate(dict(raw))
    except ValidationError as e:
        raise explain_validation_error(e, what=what, prefix=f"{what}.") from e
