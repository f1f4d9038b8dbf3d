"""The decision policy of a model, read from its profile (``warm_start`` and ``tuning.limits``)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from amtflow.drift._decision import DecisionPolicy
from amtflow.drift._drift import DriftThresholds
from amtflow.vocabulary import NoDriftAction, WarmStartType

if TYPE_CHECKING:
    from amtflow.profile import ModelProfile


def decision_policy_from_profile(profile: ModelProfile) -> DecisionPolicy:
    """Map ``warm_start.{enabled, allowed, max_parents, drift, transfer_budget_fraction, on_no_drift}`` and
    ``tuning.limits.max_jobs`` (the cold-start budget; 50 when unset) to a :class:`DecisionPolicy`."""
    ws = profile.warm_start
    defaults = DecisionPolicy()
    # SageMaker offers warm start only when tuning a single algorithm
    single = profile.algorithms is None
    allowed = frozenset(WarmStartType(t.value) for t in ws.allowed) if ws.enabled and single else frozenset()
    max_jobs = profile.tuning.limits.max_jobs or defaults.max_jobs
    return DecisionPolicy(
        thresholds=DriftThresholds(moderate=ws.drift.moderate, severe=ws.drift.severe),
        on_no_drift=NoDriftAction(ws.on_no_drift.value),
        max_jobs=max_jobs,
        transfer_budget_fraction=ws.transfer_budget_fraction,
        identical_extra_jobs=max(1, min(defaults.identical_extra_jobs, max_jobs)),
        max_parents=ws.max_parents,
        max_jobs_per_tuning_job=max(defaults.max_jobs_per_tuning_job, max_jobs),
        warm_start_allowed=allowed,
    )
