"""Lineage: dataset versions, runs, the champion, the promotion rule and Model Registry requests.

The :class:`LineageStore` port has an in-memory implementation here and a DynamoDB one (the state table)
in :mod:`amtflow.adapters`; both pass one contract suite. :func:`decide_promotion` compares challenger and
champion like with like, and :func:`build_model_package_request` builds the winner's registration (sent
by :mod:`amtflow.adapters`).
"""

from amtflow.lineage._policy import promotion_policy_from_profile, registry_config_from_profile
from amtflow.lineage._promotion import (
    Challenger,
    Evaluation,
    PromotionDecision,
    PromotionPolicy,
    decide_promotion,
)
from amtflow.lineage._records import (
    Champion,
    DatasetVersion,
    ObjectiveType,
    RunOutcome,
    RunRecord,
    SpendBasis,
    iso,
    utc,
)
from amtflow.lineage._registry import (
    ApprovalStatus,
    RegistryConfig,
    build_model_package_request,
    client_token,
    metadata_value,
    model_package_group_name,
)
from amtflow.lineage._store import (
    InMemoryLineageStore,
    LineageStore,
    check_champion,
    check_same_start,
    dataset_conflict,
    month_start,
    parent_candidates,
)
from amtflow.vocabulary import PromotionVerdict, Trigger

PromotionOutcome = PromotionVerdict
"""The name this package has long exported for :class:`~amtflow.vocabulary.PromotionVerdict` (what the rule
decides); what promotion did, as a run reports it, is :class:`amtflow.vocabulary.PromotionOutcome`."""

__all__ = [
    "ApprovalStatus",
    "Challenger",
    "Champion",
    "DatasetVersion",
    "Evaluation",
    "InMemoryLineageStore",
    "LineageStore",
    "ObjectiveType",
    "PromotionDecision",
    "PromotionOutcome",
    "PromotionPolicy",
    "PromotionVerdict",
    "RegistryConfig",
    "RunOutcome",
    "RunRecord",
    "SpendBasis",
    "Trigger",
    "build_model_package_request",
    "check_champion",
    "check_same_start",
    "client_token",
    "dataset_conflict",
    "decide_promotion",
    "iso",
    "metadata_value",
    "model_package_group_name",
    "month_start",
    "parent_candidates",
    "promotion_policy_from_profile",
    "registry_config_from_profile",
    "utc",
]
