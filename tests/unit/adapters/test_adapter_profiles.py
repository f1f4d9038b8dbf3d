"""ProfileSpec: a run's profile as the application sees it; its preflight judges cost by the stored budget."""

from __future__ import annotations

from pathlib import Path

from amtflow.adapters import ProfileSpec
from amtflow.profile import Budget, ModelProfile, load_profile

ROOT = Path(__file__).resolve().parents[3]
STORED = load_profile((ROOT / "examples" / "xgboost" / "profile.yaml").read_text())
ROLE = "arn:aws:iam::123456789012:role/amtflow-sagemaker"


def big_and_uncapped(profile: ModelProfile) -> ModelProfile:
    """``profile`` as if a run had lifted its caps, priced its instance at nothing and chosen a big one."""
    training = profile.training.model_copy(update={"instance_type": "ml.p4d.24xlarge", "instance_count": 20})
    return profile.model_copy(
        update={"training": training, "budget": Budget(prices={"ml.p4d.24xlarge": 0.0001})}
    )


def cost_errors(spec: ProfileSpec) -> list[str]:
    request = spec.compile(
        job_name="amtf-cancer-xgb-0123abcd",
        data_uri="s3://data/datasets/cancer-xgb/v1/",
        output_uri="s3://data/runs/cancer-xgb/amtf-cancer-xgb-0123abcd/",
        role_arn=ROLE,
        tags={},
    )
    return [f.rule for f in spec.preflight(request, month_to_date_usd=0.0) if f.is_error]


def test_the_budget_is_the_stored_profiles_whatever_the_run_changed() -> None:
    effective = big_and_uncapped(STORED)
    spec = ProfileSpec(effective, STORED)
    assert spec.profile is effective
    assert spec.budget == STORED.budget
    assert STORED.budget.max_usd_per_run == 10
    # The stored caps and price table judge the run: 20 x ml.p4d.24xlarge is far above 10 USD a run.
    assert "AMT202" in cost_errors(spec)
    # Judged by its own (lifted) budget, the same run would pass: the stored budget is what stops it.
    assert "AMT202" not in cost_errors(ProfileSpec(effective))


def test_without_overrides_the_profile_is_its_own_stored_profile() -> None:
    spec = ProfileSpec(STORED)
    assert spec.stored is STORED
    assert spec.budget == STORED.budget
