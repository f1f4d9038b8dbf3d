"""Rules across the sections of a single-algorithm profile (the objective and the metrics, the ranges and
the static hyperparameters, Hyperband and its resource).

They are written once, on plain facts (:class:`CrossFacts`), so that they run in two places: the profile
model's own validator, and — when some section is invalid, so that pydantic never reaches that validator —
a pass over the raw document (:func:`raw_cross_section_issues`), which reads whatever facts it can and
skips a rule whose facts it cannot read. One validation run then reports every problem. The rules between
each algorithm of a multi-algorithm profile and the shared sections
(:func:`amtflow.profile._algorithms.per_algorithm_issues`) run the same two ways.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from amtflow.profile._enums import Strategy, coerce_enum
from amtflow.profile._fields import _EPOCH_KEYS, MAX_HYPERPARAMETERS


@dataclass(frozen=True)
class CrossFacts:
    """What the cross-section rules read; ``None`` is a fact that is unknown (its rules are skipped)."""

    metrics: Sequence[str] | None
    objective_metric: str | None
    promotion_metric: str | None
    static: Collection[str] | None
    ranges: Collection[str] | None
    strategy: Strategy | None
    hyperband: bool


def hyperband_lacks_max_resource(
    strategy: Strategy | None, hyperband: bool, static: Collection[str] | None
) -> bool:
    """Hyperband without a ``hyperband`` section and without an epochs-like static hyperparameter to infer
    ``max_resource`` from (``None`` static: unknown, no problem reported)."""
    return (
        strategy is Strategy.HYPERBAND
        and not hyperband
        and static is not None
        and not any(k in static for k in _EPOCH_KEYS)
    )


def cross_section_issues(facts: CrossFacts) -> list[tuple[str, str]]:
    """Every cross-section problem, as ``(key path, message)`` relative to the profile."""
    issues: list[tuple[str, str]] = []
    if facts.metrics is not None:
        known = ", ".join(facts.metrics) or "none defined"
        if facts.objective_metric is not None and facts.objective_metric not in facts.metrics:
            issues.append(
                (
                    "tuning.objective.metric",
                    f"{facts.objective_metric!r} is not among training.metrics ({known}); "
                    "add a metric definition with that name",
                )
            )
        if facts.promotion_metric is not None and facts.promotion_metric not in facts.metrics:
            issues.append(
                ("promotion.metric", f"{facts.promotion_metric!r} is not among training.metrics ({known})")
            )
    if facts.static is not None and facts.ranges is not None:
        for name in facts.ranges:
            if name in facts.static:
                issues.append(
                    (
                        f"tuning.ranges.{name}",
                        "also set in training.static_hyperparameters; keep one of the two",
                    )
                )
        total = len(facts.static) + len(facts.ranges)
        if total > MAX_HYPERPARAMETERS:
            issues.append(
                (
                    "training.static_hyperparameters",
                    f"{total} hyperparameters in total, over {MAX_HYPERPARAMETERS}",
                )
            )
    if hyperband_lacks_max_resource(facts.strategy, facts.hyperband, facts.static):
        issues.append(
            (
                "tuning.hyperband",
                "Hyperband needs max_resource: add hyperband: {min_resource: 1, max_resource: <epochs>}",
            )
        )
    return issues


def raw_cross_section_issues(document: Mapping[str, Any]) -> list[tuple[str, str]]:
    """:func:`cross_section_issues` on a raw (possibly invalid) single-algorithm profile document."""
    if document.get("algorithms") is not None:
        from amtflow.profile._algorithms import raw_algorithm_issues

        return raw_algorithm_issues(document)
    training = _mapping(document.get("training"))
    tuning = _mapping(document.get("tuning"))
    promotion = _mapping(document.get("promotion"))
    objective = _mapping(tuning.get("objective")) if tuning is not None else None
    strategy = (
        coerce_enum(Strategy, tuning.get("strategy", Strategy.BAYESIAN)) if tuning is not None else None
    )
    facts = CrossFacts(
        metrics=_metric_names(training.get("metrics", [])) if training is not None else None,
        objective_metric=_text(objective.get("metric")) if objective is not None else None,
        promotion_metric=_text(promotion.get("metric")) if promotion is not None else None,
        static=_keys(training.get("static_hyperparameters", {})) if training is not None else None,
        ranges=_keys(tuning.get("ranges", {})) if tuning is not None else None,
        strategy=strategy if isinstance(strategy, Strategy) and tuning is not None else None,
        hyperband=tuning is not None and tuning.get("hyperband") is not None,
    )
    return cross_section_issues(facts)


def _mapping(value: Any) -> Mapping[str, Any] | None:
    return value if isinstance(value, Mapping) else None


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def _keys(value: Any) -> list[str] | None:
    return [str(k) for k in value] if isinstance(value, Mapping) else None


def _metric_names(value: Any) -> list[str] | None:
    if not isinstance(value, list):
        return None
    names = [m.get("name") if isinstance(m, Mapping) else None for m in value]
    return [n for n in names if isinstance(n, str)] if all(isinstance(n, str) for n in names) else None
