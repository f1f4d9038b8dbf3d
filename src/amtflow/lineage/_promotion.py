"""Champion / challenger: promote only on a like-with-like comparison.

A tuning job's objective is measured on *its* validation data. When the data changed since the champion was
trained, the champion's recorded objective is not comparable: the champion must be evaluated on the
challenger's validation data (an :class:`Evaluation`), or, if the model's policy allows it, the challenger
is held to an absolute threshold instead and the decision says the comparison crossed datasets.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from amtflow.errors import InvalidInputError
from amtflow.lineage._records import Champion
from amtflow.vocabulary import ObjectiveType, PromotionVerdict


@dataclass(frozen=True)
class PromotionPolicy:
    """The model's promotion rules (from its profile).

    ``min_improvement`` is how much better the challenger must be (absolute, or a fraction of the champion's
    value when ``relative``); the challenger must be strictly better in any case. ``absolute_threshold``
    is a floor (a ceiling for ``Minimize``) every promoted model must reach; with
    ``threshold_fallback`` it also decides when the champion cannot be compared on the new data.
    """

    min_improvement: float = 0.0
    relative: bool = False
    absolute_threshold: float | None = None
    threshold_fallback: bool = False

    def __post_init__(self) -> None:
        if not math.isfinite(self.min_improvement) or self.min_improvement < 0:
            raise InvalidInputError(
                f"promotion.min_improvement is {self.min_improvement}; use a number >= 0.",
                field="promotion.min_improvement",
            )
        if self.absolute_threshold is not None and not math.isfinite(self.absolute_threshold):
            raise InvalidInputError(
                "promotion.absolute_threshold must be a finite number.", field="promotion.absolute_threshold"
            )
        if self.threshold_fallback and self.absolute_threshold is None:
            raise InvalidInputError(
                "promotion.threshold_fallback needs promotion.absolute_threshold; set the threshold or turn "
                "the fallback off.",
                field="promotion.absolute_threshold",
            )


@dataclass(frozen=True)
class Challenger:
    """The best training job of a finished tuning (or retraining) run."""

    model: str
    tuning_job: str
    training_job: str
    objective_metric: str
    objective_type: ObjectiveType
    objective_value: float
    dataset_version: str
    data_fingerprint: str
    model_artifact: str
    training_image: str
    hyperparameters: Mapping[str, str] = field(default_factory=dict)
    run_id: str = ""

    def __post_init__(self) -> None:
        if not math.isfinite(self.objective_value):
            raise InvalidInputError(
                f"challenger {self.training_job} has objective {self.objective_value}; a finite value is "
                "needed to compare it (check the metric definition's regex).",
                field="challenger.objective_value",
            )

    def to_champion(self, promoted_at: datetime, *, model_package_arn: str = "") -> Champion:
        return Champion(
            model=self.model,
            tuning_job=self.tuning_job,
            training_job=self.training_job,
            hyperparameters=dict(self.hyperparameters),
            objective_metric=self.objective_metric,
            objective_type=self.objective_type,
            objective_value=self.objective_value,
            dataset_version=self.dataset_version,
            data_fingerprint=self.data_fingerprint,
            model_artifact=self.model_artifact,
            training_image=self.training_image,
            promoted_at=promoted_at,
            run_id=self.run_id,
            model_package_arn=model_package_arn,
        )


@dataclass(frozen=True)
class Evaluation:
    """The champion's objective measured on the data identified by ``data_fingerprint``."""

    objective_metric: str
    value: float
    data_fingerprint: str


@dataclass(frozen=True)
class PromotionDecision:
    outcome: PromotionVerdict
    reason: str
    challenger_value: float
    champion_value: float | None = None
    improvement: float | None = None
    crossed_datasets: bool = False

    @property
    def promote(self) -> bool:
        return self.outcome is PromotionVerdict.PROMOTE

    def to_dict(self) -> dict[str, Any]:
        return {
            "outcome": self.outcome.value,
            "promote": self.promote,
            "reason": self.reason,
            "challengerValue": self.challenger_value,
            "championValue": self.champion_value,
            "improvement": self.improvement,
            "crossedDatasets": self.crossed_datasets,
        }


def _better(kind: ObjectiveType, a: float, b: float) -> float:
    """How much better ``a`` is than ``b`` (positive when better)."""
    return a - b if kind is ObjectiveType.MAXIMIZE else b - a


def _meets(kind: ObjectiveType, value: float, threshold: float) -> bool:
    return value >= threshold if kind is ObjectiveType.MAXIMIZE else value <= threshold


def decide_promotion(
    challenger: Challenger,
    champion: Champion | None,
    policy: PromotionPolicy | None = None,
    *,
    champion_evaluation: Evaluation | None = None,
) -> PromotionDecision:
    """Promote the challenger, keep the champion, or ask for the champion's evaluation on the new data."""
    pol = policy or PromotionPolicy()
    ch = challenger
    metric = f"{ch.objective_metric} {ch.objective_value:.6g}"
    kind = ch.objective_type
    if pol.absolute_threshold is not None and not _meets(kind, ch.objective_value, pol.absolute_threshold):
        word = "below" if kind is ObjectiveType.MAXIMIZE else "above"
        return PromotionDecision(
            PromotionVerdict.KEEP_CHAMPION,
            f"challenger {metric} is {word} the absolute threshold {pol.absolute_threshold:g}",
            ch.objective_value,
        )
    if champion is None:
        return PromotionDecision(
            PromotionVerdict.PROMOTE,
            f"no champion yet: challenger {metric} becomes the champion",
            ch.objective_value,
        )
    if champion.objective_type is not kind:
        raise InvalidInputError(
            f"champion maximises/minimises differently ({champion.objective_type.value}) from the challenger "
            f"({kind.value}); the objectives are not comparable. Register the challenger manually.",
            field="challenger.objective_type",
        )

    same_data = champion.data_fingerprint == ch.data_fingerprint
    same_metric = champion.objective_metric == ch.objective_metric
    if champion_evaluation is not None:
        ev = champion_evaluation
        if ev.data_fingerprint != ch.data_fingerprint or ev.objective_metric != ch.objective_metric:
            raise InvalidInputError(
                f"the champion's evaluation is {ev.objective_metric} on {ev.data_fingerprint[:19]}, but the "
                f"challenger was measured as {ch.objective_metric} on {ch.data_fingerprint[:19]}; "
                "evaluate the champion on the challenger's validation data with the same metric.",
                field="evaluation.data_fingerprint",
            )
        if not math.isfinite(ev.value):
            raise InvalidInputError(
                "the champion's evaluation value must be finite", field="evaluation.value"
            )
        return _compare(ch, champion, ev.value, pol, "evaluated on the challenger's validation data")
    if same_data and same_metric:
        return _compare(ch, champion, champion.objective_value, pol, "on the same data")
    why = "the data changed" if not same_data else "the objective metric changed"
    if pol.threshold_fallback and pol.absolute_threshold is not None:
        return PromotionDecision(
            PromotionVerdict.PROMOTE,
            f"{why} since the champion ({champion.dataset_version}) and no evaluation of the "
            f"champion on the new data was supplied: the comparison crosses datasets, so challenger "
            f"{metric} was held to the absolute threshold {pol.absolute_threshold:g} and meets it",
            ch.objective_value,
            champion_value=champion.objective_value,
            crossed_datasets=True,
        )
    return PromotionDecision(
        PromotionVerdict.NEEDS_EVALUATION,
        f"{why} since the champion ({champion.dataset_version}): its objective "
        f"{champion.objective_metric} {champion.objective_value:.6g} is not comparable. "
        f"Evaluate the champion ({champion.training_job}) on the challenger's validation data, or set "
        "promotion.absolute_threshold with promotion.threshold_fallback",
        ch.objective_value,
        champion_value=champion.objective_value,
    )


def _compare(
    ch: Challenger, champion: Champion, champion_value: float, pol: PromotionPolicy, basis: str
) -> PromotionDecision:
    kind = ch.objective_type
    gain = _better(kind, ch.objective_value, champion_value)
    measure = gain / abs(champion_value) if pol.relative and champion_value != 0 else gain
    need = f"{pol.min_improvement:.2%}" if pol.relative else f"{pol.min_improvement:g}"
    text = (
        f"challenger {ch.objective_metric} {ch.objective_value:.6g} vs champion {champion_value:.6g} "
        f"({basis}): improvement {gain:+.6g}"
    )
    if gain > 0 and measure >= pol.min_improvement:
        return PromotionDecision(
            PromotionVerdict.PROMOTE,
            f"{text}, at least the required {need}",
            ch.objective_value,
            champion_value,
            gain,
        )
    return PromotionDecision(
        PromotionVerdict.KEEP_CHAMPION,
        f"{text}, short of the required {need} (the challenger must be strictly better); "
        f"{champion.training_job} stays champion",
        ch.objective_value,
        champion_value,
        gain,
    )
