"""Champion / challenger both ways, like with like."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime

import pytest

from amtflow.errors import InvalidInputError
from amtflow.lineage import (
    Challenger,
    Champion,
    Evaluation,
    ObjectiveType,
    PromotionOutcome,
    PromotionPolicy,
    decide_promotion,
)

NOW = datetime(2026, 11, 20, tzinfo=UTC)
OLD, NEW = "sha256:" + "a" * 64, "sha256:" + "b" * 64

CHAMPION = Champion(
    model="churn",
    tuning_job="amtf-churn-old",
    training_job="amtf-churn-old-004-aaaaaaaa",
    hyperparameters={"eta": "0.2"},
    objective_metric="validation:auc",
    objective_type=ObjectiveType.MAXIMIZE,
    objective_value=0.90,
    dataset_version="2026-10-01",
    data_fingerprint=OLD,
    model_artifact="s3://b/runs/churn/amtf-churn-old/output/model.tar.gz",
    training_image="xgb:1.7-1",
    promoted_at=NOW,
)


def _challenger(value: float, data: str = OLD, **kw: object) -> Challenger:
    base: dict[str, object] = {
        "model": "churn",
        "tuning_job": "amtf-churn-new",
        "training_job": "amtf-churn-new-011-bbbbbbbb",
        "objective_metric": "validation:auc",
        "objective_type": ObjectiveType.MAXIMIZE,
        "objective_value": value,
        "dataset_version": "2026-11-01" if data == NEW else "2026-10-01",
        "data_fingerprint": data,
        "model_artifact": "s3://b/runs/churn/amtf-churn-new/output/model.tar.gz",
        "training_image": "xgb:1.7-1",
        "hyperparameters": {"eta": "0.1"},
    }
    base.update(kw)
    return Challenger(**base)  # type: ignore[arg-type]


def test_first_model_is_promoted() -> None:
    d = decide_promotion(_challenger(0.7), None)
    assert d.promote
    assert "no champion yet" in d.reason


def test_better_challenger_on_the_same_data_is_promoted() -> None:
    d = decide_promotion(_challenger(0.92), CHAMPION)
    assert d.outcome is PromotionOutcome.PROMOTE
    assert d.improvement == pytest.approx(0.02)
    assert not d.crossed_datasets


def test_worse_or_equal_challenger_keeps_the_champion() -> None:
    worse = decide_promotion(_challenger(0.89), CHAMPION)
    assert worse.outcome is PromotionOutcome.KEEP_CHAMPION
    assert "stays champion" in worse.reason
    tie = decide_promotion(_challenger(0.90), CHAMPION)
    assert tie.outcome is PromotionOutcome.KEEP_CHAMPION


def test_min_improvement_absolute_and_relative() -> None:
    absolute = PromotionPolicy(min_improvement=0.01)
    assert not decide_promotion(_challenger(0.905), CHAMPION, absolute).promote
    assert decide_promotion(_challenger(0.911), CHAMPION, absolute).promote
    relative = PromotionPolicy(min_improvement=0.02, relative=True)  # 2% of 0.90 = 0.018
    assert not decide_promotion(_challenger(0.917), CHAMPION, relative).promote
    assert decide_promotion(_challenger(0.919), CHAMPION, relative).promote


def test_minimize_objectives_improve_downwards() -> None:
    champ = replace(
        CHAMPION,
        objective_metric="validation:rmse",
        objective_type=ObjectiveType.MINIMIZE,
        objective_value=2.0,
    )
    better = _challenger(1.8, objective_metric="validation:rmse", objective_type=ObjectiveType.MINIMIZE)
    worse = replace(better, objective_value=2.1)
    assert decide_promotion(better, champ).promote
    assert not decide_promotion(worse, champ).promote
    capped = PromotionPolicy(absolute_threshold=1.5)
    assert "above the absolute threshold" in decide_promotion(better, champ, capped).reason


def test_changed_data_needs_the_champions_evaluation() -> None:
    # The challenger's 0.85 on new data says nothing against the champion's 0.90 on old data.
    d = decide_promotion(_challenger(0.85, NEW), CHAMPION)
    assert d.outcome is PromotionOutcome.NEEDS_EVALUATION
    assert not d.promote
    assert "Evaluate the champion" in d.reason


def test_changed_data_compares_against_the_champion_evaluated_on_the_new_data() -> None:
    ev = Evaluation("validation:auc", 0.80, NEW)
    d = decide_promotion(_challenger(0.85, NEW), CHAMPION, champion_evaluation=ev)
    assert d.promote
    assert d.champion_value == 0.80
    assert "evaluated on the challenger's validation data" in d.reason
    ev = Evaluation("validation:auc", 0.87, NEW)
    assert not decide_promotion(_challenger(0.85, NEW), CHAMPION, champion_evaluation=ev).promote


def test_an_evaluation_on_other_data_is_rejected() -> None:
    with pytest.raises(InvalidInputError) as err:
        decide_promotion(
            _challenger(0.85, NEW), CHAMPION, champion_evaluation=Evaluation("validation:auc", 0.8, OLD)
        )
    assert err.value.field == "evaluation.data_fingerprint"


def test_threshold_fallback_says_the_comparison_crossed_datasets() -> None:
    policy = PromotionPolicy(absolute_threshold=0.8, threshold_fallback=True)
    d = decide_promotion(_challenger(0.85, NEW), CHAMPION, policy)
    assert d.promote
    assert d.crossed_datasets
    assert "crosses datasets" in d.reason
    below = decide_promotion(_challenger(0.75, NEW), CHAMPION, policy)
    assert below.outcome is PromotionOutcome.KEEP_CHAMPION
    assert "below the absolute threshold 0.8" in below.reason


def test_a_threshold_is_a_floor_even_without_a_champion() -> None:
    d = decide_promotion(_challenger(0.6), None, PromotionPolicy(absolute_threshold=0.7))
    assert d.outcome is PromotionOutcome.KEEP_CHAMPION


def test_invalid_inputs_are_named() -> None:
    with pytest.raises(InvalidInputError) as err:
        PromotionPolicy(threshold_fallback=True)
    assert err.value.field == "promotion.absolute_threshold"
    with pytest.raises(InvalidInputError) as err:
        PromotionPolicy(min_improvement=-1)
    assert err.value.field == "promotion.min_improvement"
    with pytest.raises(InvalidInputError) as err:
        _challenger(float("nan"))
    assert err.value.field == "challenger.objective_value"
    with pytest.raises(InvalidInputError) as err:
        decide_promotion(_challenger(0.9, objective_type=ObjectiveType.MINIMIZE), CHAMPION)
    assert err.value.field == "challenger.objective_type"


def test_promoted_challenger_becomes_the_champion_record() -> None:
    ch = _challenger(0.95, NEW, run_id="exec-9")
    champ = ch.to_champion(
        NOW, model_package_arn="arn:aws:sagemaker:us-east-1:123456789012:model-package/churn/2"
    )
    assert champ.tuning_job == ch.tuning_job
    assert champ.data_fingerprint == NEW
    assert champ.run_id == "exec-9"
    assert Champion.from_dict(champ.to_dict()) == champ
