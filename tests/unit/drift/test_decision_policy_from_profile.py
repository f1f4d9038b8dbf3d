"""The decision policy read from a model profile."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from amtflow.drift import (
    DecisionInput,
    DecisionPolicy,
    DriftThresholds,
    NoDriftAction,
    ParameterKind,
    TuningJobSignature,
    WarmStartType,
    decide,
    decision_policy_from_profile,
)
from amtflow.profile import load_profile


@dataclass(frozen=True)
class Champ:
    tuning_job: str = "old"
    data_fingerprint: str = "sha256:a"
    training_image: str = "img:1"
    hyperparameters: Mapping[str, str] = field(default_factory=dict)


EXAMPLE = Path(__file__).parents[3] / "examples" / "xgboost" / "profile.yaml"


def _profile(**warm_start: object) -> object:
    doc = yaml.safe_load(EXAMPLE.read_text())
    doc["warm_start"] = {**doc.get("warm_start", {}), **warm_start}
    return load_profile(doc)


def test_policy_follows_the_example_profile() -> None:
    policy = decision_policy_from_profile(_profile())  # type: ignore[arg-type]
    assert policy.thresholds == DriftThresholds(moderate=0.1, severe=0.25)
    assert policy.max_jobs == 30  # tuning.limits.max_jobs
    assert policy.transfer_jobs == 15  # half of it
    assert policy.on_no_drift is NoDriftAction.RETRAIN
    assert policy.warm_start_allowed == frozenset(WarmStartType)


def test_policy_reads_thresholds_no_drift_action_and_allowed_types() -> None:
    profile = _profile(
        drift={"moderate": 0.05, "severe": 0.4},
        on_no_drift="skip",
        allowed=["TransferLearning"],
        max_parents=2,
        transfer_budget_fraction=0.25,
    )
    policy = decision_policy_from_profile(profile)  # type: ignore[arg-type]
    assert (policy.thresholds.moderate, policy.thresholds.severe) == (0.05, 0.4)
    assert policy.on_no_drift is NoDriftAction.SKIP
    assert policy.warm_start_allowed == frozenset({WarmStartType.TRANSFER_LEARNING})
    assert policy.max_parents == 2
    assert policy.transfer_jobs == 8  # ceil(30 * 0.25)


def test_disabled_warm_start_makes_every_tuning_run_cold() -> None:
    policy = decision_policy_from_profile(_profile(enabled=False))  # type: ignore[arg-type]
    assert policy.warm_start_allowed == frozenset()
    child = TuningJobSignature("m", "Maximize", {"eta": ParameterKind.CONTINUOUS}, "img:1", "sha256:b")
    d = decide(DecisionInput(child, "sha256:b", Champ(), drift=None), policy)
    assert d.warm_start_type is None
    assert d.max_jobs == 30
    assert "does not allow TransferLearning" in d.reason
    assert DecisionPolicy().warm_start_allowed == frozenset(WarmStartType)
