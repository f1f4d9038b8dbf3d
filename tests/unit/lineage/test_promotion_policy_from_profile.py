"""Promotion and registration settings read from a model profile."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from amtflow.errors import InvalidInputError
from amtflow.lineage import (
    ApprovalStatus,
    Challenger,
    ObjectiveType,
    RegistryConfig,
    build_model_package_request,
    promotion_policy_from_profile,
    registry_config_from_profile,
)
from amtflow.profile import ModelProfile, load_profile

EXAMPLE = Path(__file__).parents[3] / "examples" / "xgboost" / "profile.yaml"


def _profile(**promotion: Any) -> ModelProfile:
    doc = yaml.safe_load(EXAMPLE.read_text())
    doc["promotion"] = {**doc.get("promotion", {}), **promotion}
    return load_profile(doc)


def test_example_profile_requires_an_evaluation_across_datasets() -> None:
    policy = promotion_policy_from_profile(_profile())
    assert policy.min_improvement == 0.002
    assert policy.absolute_threshold is None
    assert policy.threshold_fallback is False
    config = registry_config_from_profile(_profile())
    assert config.approval_status is ApprovalStatus.PENDING_MANUAL_APPROVAL
    assert config.group_name is None


def test_threshold_fallback_approval_and_group_come_from_the_profile() -> None:
    profile = _profile(
        cross_dataset="threshold", threshold=0.95, approval="Approved", model_package_group="cancer-models"
    )
    policy = promotion_policy_from_profile(profile)
    assert (policy.absolute_threshold, policy.threshold_fallback) == (0.95, True)
    config = registry_config_from_profile(profile)
    assert config.approval_status is ApprovalStatus.APPROVED
    challenger = Challenger(
        model="cancer-xgb",
        tuning_job="amtf-cancer-xgb-12345678",
        training_job="amtf-cancer-xgb-12345678-001-abcdef12",
        objective_metric="validation:auc",
        objective_type=ObjectiveType.MAXIMIZE,
        objective_value=0.97,
        dataset_version="v2",
        data_fingerprint="sha256:bb",
        model_artifact="s3://b/runs/cancer-xgb/amtf-cancer-xgb-12345678/output/model.tar.gz",
        training_image="xgb:1.7-1",
    )
    request = build_model_package_request(challenger, config)
    assert request["ModelPackageGroupName"] == "cancer-models"
    assert request["ModelApprovalStatus"] == "Approved"
    with pytest.raises(InvalidInputError) as err:
        build_model_package_request(challenger, RegistryConfig(group_name="-bad-"))
    assert err.value.field == "promotion.model_package_group"


@pytest.mark.parametrize(("auto_approve", "expected"), [(True, "Approved"), (False, "PendingManualApproval")])
def test_deployment_auto_approve_registers_the_champion_approved(auto_approve: bool, expected: str) -> None:
    doc = yaml.safe_load(EXAMPLE.read_text())
    doc["deployment"] = {"auto_approve": auto_approve}
    config = registry_config_from_profile(load_profile(doc))
    assert config.approval_status.value == expected
