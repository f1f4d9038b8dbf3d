"""Multi-algorithm tuning: several training definitions tuned by one tuning job (``algorithms:``).

A profile either describes one training definition (``training`` and ``tuning.ranges``) or lists 2-10
``algorithms``, each a complete training definition with its own name, image, metrics, static
hyperparameters, instance and ranges. All of them share ``dataset`` (the same channels) and ``tuning``
(strategy, objective goal, limits). SageMaker compiles them to ``TrainingJobDefinitions`` and picks the best
trial across them. What SageMaker allows with several definitions (AWS developer guide, "Tune multiple
algorithms"): warm start and early stopping only when tuning a single algorithm; each definition has its own
``DefinitionName``, ``TuningObjective`` and ``HyperParameterRanges``; the objective metric names may differ
per definition (``objective_metric``), the direction is the tuning job's one ``tuning.objective.goal``.

So that code which needs one training definition keeps working, ``training`` and ``tuning.ranges`` of a
multi-algorithm profile are filled from the first algorithm; a person never writes them next to
``algorithms`` (that is refused, naming the key).
"""

from __future__ import annotations

import re
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from pydantic import Field, ValidationError, model_validator

from amtflow.profile._cross import _keys, _mapping, _metric_names, _text, hyperband_lacks_max_resource
from amtflow.profile._enums import EarlyStopping, Strategy, coerce_enum
from amtflow.profile._fields import MAX_HYPERPARAMETERS, MAX_TUNABLE, _fail
from amtflow.profile._model import ModelProfile, ParameterRange, TrainingSpec

MAX_ALGORITHMS = 10
#: SageMaker's ``DefinitionName`` pattern (1-64 characters).
DEFINITION_NAME = re.compile(r"[a-zA-Z0-9](-*[a-zA-Z0-9]){0,63}")
_PER_ALGORITHM = ("name", "ranges", "objective_metric")
# a definition that validates, standing in for ``training``/``tuning.ranges`` while the algorithms do not:
# their own problems are then reported once, under ``algorithms[i]``
_PLACEHOLDER_TRAINING = {"image": "placeholder"}
_PLACEHOLDER_RANGES = {"placeholder": {"values": ["placeholder"]}}


class AlgorithmSpec(TrainingSpec):
    """One training definition of a multi-algorithm profile: a ``training`` section plus its name, its
    ranges and (optionally) its own objective metric name."""

    name: str = Field(min_length=1, max_length=64)
    ranges: dict[str, ParameterRange] = Field(default_factory=dict)
    objective_metric: str | None = Field(default=None, min_length=1, max_length=255)

    @model_validator(mode="after")
    def _check_algorithm(self) -> AlgorithmSpec:
        issues: list[tuple[str, str]] = []
        if not DEFINITION_NAME.fullmatch(self.name):
            issues.append(
                ("name", f"{self.name!r} must be 1-64 letters, digits or hyphens (e.g. 'xgboost', 'mlp')")
            )
        if not self.ranges:
            issues.append(("ranges", "list at least one hyperparameter to tune for this algorithm"))
        if len(self.ranges) > MAX_TUNABLE:
            issues.append(("ranges", f"at most {MAX_TUNABLE} tunable hyperparameters; make the rest static"))
        for name in self.ranges:
            if name in self.static_hyperparameters:
                issues.append((f"ranges.{name}", "also set in static_hyperparameters; keep one of the two"))
        total = len(self.static_hyperparameters) + len(self.ranges)
        if total > MAX_HYPERPARAMETERS:
            issues.append(
                ("static_hyperparameters", f"{total} hyperparameters in total, over {MAX_HYPERPARAMETERS}")
            )
        _fail(issues)
        return self

    def training_document(self) -> dict[str, Any]:
        """The keys of this algorithm that form a ``training`` section."""
        written = self.model_dump(mode="json", exclude_unset=True, by_alias=True)
        return {k: v for k, v in written.items() if k not in _PER_ALGORITHM}


def fill_from_algorithms(data: Any) -> Any:
    """Before validation: refuse ``training``/``tuning.ranges`` next to ``algorithms`` and fill them from
    the first algorithm (a placeholder while the algorithms themselves are invalid)."""
    if not isinstance(data, Mapping) or data.get("algorithms") is None:
        return data
    issues: list[tuple[str, str]] = []
    if "training" in data:
        issues.append(
            (
                "training",
                "a profile with 'algorithms' has no 'training' section: each algorithm carries its own "
                "training definition; move these keys into every algorithms[i]",
            )
        )
    tuning = data.get("tuning")
    if isinstance(tuning, Mapping) and "ranges" in tuning:
        issues.append(
            (
                "tuning.ranges",
                "ranges outside an algorithm: with 'algorithms' each algorithm has its own ranges; move "
                "them to algorithms[i].ranges",
            )
        )
    if isinstance(tuning, Mapping) and str(tuning.get("strategy", "")).lower() == "grid":
        issues.append(
            (
                "tuning.strategy",
                "Grid search over several algorithms is not supported in a profile; use Bayesian or Random",
            )
        )
    _fail(issues)
    algorithms = data["algorithms"]
    first: AlgorithmSpec | None = None
    if isinstance(algorithms, list) and algorithms and isinstance(algorithms[0], Mapping):
        try:
            first = AlgorithmSpec.model_validate(algorithms[0])
        except ValidationError:
            first = None
    out = dict(data)
    out["training"] = first.training_document() if first else dict(_PLACEHOLDER_TRAINING)
    ranges = dict(algorithms[0].get("ranges") or {}) if first else dict(_PLACEHOLDER_RANGES)
    out["tuning"] = {**(tuning if isinstance(tuning, Mapping) else {}), "ranges": ranges}
    return out


def algorithm_issues(profile: ModelProfile) -> list[tuple[str, str]]:
    """Rules across the algorithms of a profile (key paths relative to the profile)."""
    algorithms = profile.algorithms or []
    tuning = profile.tuning
    issues: list[tuple[str, str]] = []
    if not 2 <= len(algorithms) <= MAX_ALGORITHMS:
        issues.append(
            (
                "algorithms",
                f"{len(algorithms)} algorithms; list 2 to {MAX_ALGORITHMS} (for one, use 'training' and "
                "'tuning.ranges')",
            )
        )
    seen: dict[str, int] = {}
    for i, algo in enumerate(algorithms):
        key = algo.name.lower()
        if key in seen:
            issues.append(
                (
                    f"algorithms[{i}].name",
                    f"{algo.name!r} is also the name of algorithms[{seen[key]}] (names are compared "
                    "ignoring case); give each algorithm its own name",
                )
            )
        seen.setdefault(key, i)
        issues.extend(
            per_algorithm_issues(
                i,
                AlgorithmFacts(
                    metrics=[m.name for m in algo.metrics],
                    objective_metric=algo.objective_metric or tuning.objective.metric,
                    own_objective=algo.objective_metric is not None,
                    promotion_metric=profile.promotion.metric,
                    static=algo.static_hyperparameters,
                    strategy=tuning.strategy,
                    hyperband=tuning.hyperband is not None,
                ),
            )
        )
    if tuning.early_stopping is EarlyStopping.AUTO:
        issues.append(
            (
                "tuning.early_stopping",
                "early stopping is available only when tuning a single algorithm; set it to Off",
            )
        )
    return issues


@dataclass(frozen=True)
class AlgorithmFacts:
    """What the rules on one algorithm against the shared sections read; ``None``: unknown (skipped)."""

    metrics: Sequence[str] | None
    objective_metric: str | None
    own_objective: bool
    promotion_metric: str | None
    static: Collection[str] | None
    strategy: Strategy | None
    hyperband: bool


def per_algorithm_issues(i: int, facts: AlgorithmFacts) -> list[tuple[str, str]]:
    """The rules between ``algorithms[i]`` and the shared sections (objective, promotion, Hyperband): run
    by the model's validator and, when a section is invalid, on the raw document
    (:func:`raw_algorithm_issues`)."""
    issues: list[tuple[str, str]] = []
    names = facts.metrics
    if names is not None and facts.objective_metric is not None and facts.objective_metric not in names:
        where = "objective_metric" if facts.own_objective else "metrics"
        issues.append(
            (
                f"algorithms[{i}].{where}",
                f"the objective {facts.objective_metric!r} is not among this algorithm's metrics "
                f"({', '.join(names) or 'none defined'}); add a metric definition with that name",
            )
        )
    if names is not None and facts.promotion_metric is not None and facts.promotion_metric not in names:
        issues.append(
            (
                f"algorithms[{i}].metrics",
                f"promotion.metric {facts.promotion_metric!r} is not among this algorithm's metrics; every "
                "algorithm must report it",
            )
        )
    if hyperband_lacks_max_resource(facts.strategy, facts.hyperband, facts.static):
        issues.append(
            (
                f"algorithms[{i}].static_hyperparameters",
                "Hyperband needs max_resource: set tuning.hyperband or an 'epochs' static hyperparameter",
            )
        )
    return issues


def raw_algorithm_issues(document: Mapping[str, Any]) -> list[tuple[str, str]]:
    """:func:`per_algorithm_issues` for every algorithm of a raw (possibly invalid) document, on the facts
    that can be read."""
    algorithms = document.get("algorithms")
    if not isinstance(algorithms, list):
        return []
    tuning = _mapping(document.get("tuning"))
    objective = _mapping(tuning.get("objective")) if tuning is not None else None
    promotion = _mapping(document.get("promotion"))
    strategy = coerce_enum(Strategy, (tuning or {}).get("strategy", Strategy.BAYESIAN))
    issues: list[tuple[str, str]] = []
    for i, algo in enumerate(algorithms):
        if not isinstance(algo, Mapping):
            continue
        own = _text(algo.get("objective_metric"))
        shared = _text(objective.get("metric")) if objective is not None else None
        facts = AlgorithmFacts(
            metrics=_metric_names(algo.get("metrics", [])),
            objective_metric=own or shared,
            own_objective=own is not None,
            promotion_metric=_text(promotion.get("metric")) if promotion is not None else None,
            static=_keys(algo.get("static_hyperparameters", {})),
            strategy=strategy if isinstance(strategy, Strategy) and tuning is not None else None,
            hyperband=tuning is not None and tuning.get("hyperband") is not None,
        )
        issues.extend(per_algorithm_issues(i, facts))
    return issues


def algorithm_named(algorithms: list[AlgorithmSpec], name: str | None) -> AlgorithmSpec | None:
    """The algorithm called ``name`` (ignoring case), or None."""
    if name is None:
        return None
    return next((a for a in algorithms if a.name.lower() == name.lower()), None)


ModelProfile.model_rebuild(_types_namespace={"AlgorithmSpec": AlgorithmSpec})
