"""Lineage: dataset versions, runs, the champion, the promotion rule and the Model Registry adapter.

The :class:`LineageStore` port has an in-memory implementation and a DynamoDB one (the state table); both
pass one contract suite. :func:`decide_promotion` compares challenger and champion like with like, and
:func:`build_model_package_request` / :func:`register_model_package` register the winner.
"""

from amtflow.lineage._dynamodb import DynamoDBLineageStore
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
)
from amtflow.lineage._registry import (
    ApprovalStatus,
    RegistryConfig,
    build_model_package_request,
    client_token,
    ensure_model_package_group,
    metadata_value,
    model_package_group_name,
    register_model_package,
)
from amtflow.lineage._store import InMemoryLineageStore, LineageStore, month_start, parent_candidates
from amtflow.vocabulary import PromotionVerdict, Trigger

PromotionOutcome = PromotionVerdict
"""The name this package has long exported for :class:`~amtflow.vocabulary.PromotionVerdict` (what the rule
decides); what promotion did, as a run reports it, is :class:`amtflow.vocabulary.PromotionOutcome`."""

__all__ = [
    "ApprovalStatus",
    "Challenger",
    "Champion",
    "DatasetVersion",
    "DynamoDBLineageStore",
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
    "client_token",
    "decide_promotion",
    "ensure_model_package_group",
    "metadata_value",
    "model_package_group_name",
    "month_start",
    "parent_candidates",
    "promotion_policy_from_profile",
    "register_model_package",
    "registry_config_from_profile",
]
