"""Promotion and registration settings of a model, read from its profile's ``promotion`` section."""

from __future__ import annotations

from typing import TYPE_CHECKING

from amtflow.lineage._promotion import PromotionPolicy
from amtflow.lineage._registry import ApprovalStatus, RegistryConfig

if TYPE_CHECKING:
    from amtflow.profile import ModelProfile


def promotion_policy_from_profile(profile: ModelProfile) -> PromotionPolicy:
    """``promotion.min_improvement`` (absolute), ``promotion.threshold`` (a floor for every promotion) and
    ``promotion.cross_dataset`` (``threshold``: fall back to the threshold when the champion was not
    evaluated on the new data; ``evaluate``: require that evaluation)."""
    rule = profile.promotion
    return PromotionPolicy(
        min_improvement=rule.min_improvement,
        absolute_threshold=rule.threshold,
        threshold_fallback=rule.cross_dataset.value == "threshold",
    )


def registry_config_from_profile(profile: ModelProfile) -> RegistryConfig:
    """``promotion.approval`` and ``promotion.model_package_group`` (default: derived from the model name);
    ``deployment.auto_approve`` registers the champion ``Approved``, which deploys it."""
    rule = profile.promotion
    auto = profile.deployment is not None and profile.deployment.auto_approve
    return RegistryConfig(
        approval_status=ApprovalStatus.APPROVED if auto else ApprovalStatus(rule.approval.value),
        group_name=rule.model_package_group,
    )
