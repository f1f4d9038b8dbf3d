"""The decision table: skip, retrain with the champion's hyperparameters, warm-start tune, or cold-start tune.

:func:`decide` is one pure function of what the planner knows (the request, the champion, the drift
report or an external drift severity, the lineage of earlier tuning jobs) and of the model's
:class:`DecisionPolicy`. Rows are tried in order; the first that matches wins. ``docs/drift.md`` renders the
same table for people; :data:`DECISION_TABLE` is its source of truth. A warm start's parents are chosen by
:func:`~amtflow.drift.select_parents`.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Protocol

from amtflow.drift._drift import DriftReport, DriftSeverity, DriftThresholds
from amtflow.drift._parents import MAX_PARENTS, ParentCandidate, TuningJobSignature, select_parents
from amtflow.errors import InvalidInputError
from amtflow.vocabulary import Action, NoDriftAction, RequestedAction, WarmStartType

MAX_TRAINING_JOBS_PER_TUNING_JOB = 750
"""The default AMT limit; the parents' training jobs count against the child's (see aws-facts 1.5)."""


class Rule(StrEnum):
    """The rows of the decision table, in the order they are tried."""

    REQUESTED_SKIP = "requested-skip"
    NO_CHAMPION = "no-champion"
    REQUESTED_RETRAIN = "requested-retrain"
    NEW_ALGORITHM = "new-algorithm"
    SCHEMA_CHANGE = "schema-change"
    SEVERE_DRIFT = "severe-drift"
    SAME_DATA = "same-data"
    MODERATE_DRIFT = "moderate-drift"
    NEW_IMAGE_VERSION = "new-image-version"
    NO_DRIFT = "no-drift"


class Incumbent(Protocol):
    """What the decision needs to know about the champion (``amtflow.lineage.Champion`` provides it)."""

    @property
    def tuning_job(self) -> str: ...
    @property
    def data_fingerprint(self) -> str: ...
    @property
    def training_image(self) -> str: ...
    @property
    def hyperparameters(self) -> Mapping[str, str]: ...


@dataclass(frozen=True)
class DecisionPolicy:
    """The model's policy (from its profile). ``max_jobs`` is a cold start's budget; a transfer-learning
    warm start gets ``ceil(max_jobs * transfer_budget_fraction)``; an identical-data warm start gets the
    extra budget the request asks for, or ``identical_extra_jobs``."""

    thresholds: DriftThresholds = field(default_factory=DriftThresholds)
    on_no_drift: NoDriftAction = NoDriftAction.RETRAIN
    max_jobs: int = 50
    transfer_budget_fraction: float = 0.5
    identical_extra_jobs: int = 20
    max_parents: int = MAX_PARENTS
    max_jobs_per_tuning_job: int = MAX_TRAINING_JOBS_PER_TUNING_JOB
    warm_start_allowed: frozenset[WarmStartType] = frozenset(WarmStartType)
    """Warm-start types the model allows; empty disables warm start (every tuning run starts cold)."""

    def __post_init__(self) -> None:
        checks: list[tuple[bool, str, str]] = [
            (self.max_jobs >= 1, "max_jobs", "use at least 1 training job"),
            (0 < self.transfer_budget_fraction <= 1, "transfer_budget_fraction", "use a value in (0, 1]"),
            (self.identical_extra_jobs >= 1, "identical_extra_jobs", "use at least 1 training job"),
            (1 <= self.max_parents <= MAX_PARENTS, "max_parents", "use 1 to 5 parents"),
            (
                self.max_jobs <= self.max_jobs_per_tuning_job,
                "max_jobs",
                f"use at most {self.max_jobs_per_tuning_job} (the AMT limit per tuning job)",
            ),
        ]
        for ok, name, fix in checks:
            if not ok:
                raise InvalidInputError(
                    f"decision policy {name}={getattr(self, name)!r} is invalid: {fix}.",
                    field=f"drift.{name}",
                )

    @property
    def transfer_jobs(self) -> int:
        return max(1, math.ceil(self.max_jobs * self.transfer_budget_fraction))


@dataclass(frozen=True)
class DecisionInput:
    """What the planner knows when it decides.

    ``data_fingerprint`` is the new dataset version's; ``child`` the signature of the tuning job that would
    be launched (objective, hyperparameters, image); ``drift`` the report against the champion's data (None
    when there is no baseline profile); ``external_severity`` the severity an external drift event carries;
    ``extra_jobs`` the budget a request asks for beyond what was spent (a request for more tuning).
    """

    child: TuningJobSignature
    data_fingerprint: str
    champion: Incumbent | None = None
    drift: DriftReport | None = None
    external_severity: DriftSeverity | None = None
    requested: RequestedAction = RequestedAction.AUTO
    extra_jobs: int | None = None
    history: Sequence[ParentCandidate] = ()


@dataclass(frozen=True)
class Decision:
    """The planner's answer. ``max_jobs`` is 0 for skip, 1 for retrain (one training job)."""

    action: Action
    rule: Rule
    reason: str
    max_jobs: int = 0
    warm_start_type: WarmStartType | None = None
    parents: tuple[str, ...] = ()
    severity: DriftSeverity | None = None
    hyperparameters: Mapping[str, str] = field(default_factory=dict)
    skipped_parents: tuple[tuple[str, str], ...] = ()

    def warm_start_config(self) -> dict[str, Any] | None:
        """The ``WarmStartConfig`` member of the tuning request, or None for a cold start."""
        if self.warm_start_type is None or not self.parents:
            return None
        return {
            "ParentHyperParameterTuningJobs": [{"HyperParameterTuningJobName": p} for p in self.parents],
            "WarmStartType": self.warm_start_type.value,
        }

    def to_dict(self) -> dict[str, Any]:
        return {
            "action": self.action.value,
            "rule": self.rule.value,
            "reason": self.reason,
            "maxJobs": self.max_jobs,
            "warmStartType": self.warm_start_type.value if self.warm_start_type else None,
            "parents": list(self.parents),
            "severity": self.severity.value if self.severity else None,
            "hyperparameters": dict(self.hyperparameters),
            "skippedParents": [{"tuningJob": j, "why": w} for j, w in self.skipped_parents],
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Decision:
        return cls(
            action=Action(data["action"]),
            rule=Rule(data["rule"]),
            reason=str(data["reason"]),
            max_jobs=int(data.get("maxJobs", 0)),
            warm_start_type=WarmStartType(data["warmStartType"]) if data.get("warmStartType") else None,
            parents=tuple(data.get("parents", ())),
            severity=DriftSeverity(data["severity"]) if data.get("severity") else None,
            hyperparameters=dict(data.get("hyperparameters", {})),
            skipped_parents=tuple((d["tuningJob"], d["why"]) for d in data.get("skippedParents", ())),
        )


DECISION_TABLE: tuple[tuple[Rule, str, str], ...] = (
    (Rule.REQUESTED_SKIP, "the request says `skip`", "skip"),
    (Rule.NO_CHAMPION, "no champion (no history)", "tune, cold start, full budget"),
    (
        Rule.REQUESTED_RETRAIN,
        "the request says `retrain`",
        "retrain once with the champion's hyperparameters",
    ),
    (
        Rule.NEW_ALGORITHM,
        "the training image's repository differs from the champion's (a new algorithm)",
        "tune, cold start, full budget",
    ),
    (Rule.SCHEMA_CHANGE, "columns added, removed or changed type", "tune, cold start, full budget"),
    (
        Rule.SEVERE_DRIFT,
        "drift severity severe (measured or from a drift event)",
        "tune, cold start, full budget",
    ),
    (
        Rule.SAME_DATA,
        "same data fingerprint as the champion's, same image",
        "skip; with `tune` or extra budget: IdenticalDataAndAlgorithm warm start with the extra budget",
    ),
    (
        Rule.MODERATE_DRIFT,
        "drift severity moderate, or no baseline profile to measure it",
        "tune, TransferLearning warm start, reduced budget",
    ),
    (
        Rule.NEW_IMAGE_VERSION,
        "same image repository, new tag (algorithm version change)",
        "tune, TransferLearning warm start, reduced budget",
    ),
    (
        Rule.NO_DRIFT,
        "new data, drift none",
        "retrain once with the champion's hyperparameters, or skip (policy `on_no_drift`); "
        "with `tune`: TransferLearning warm start, reduced budget",
    ),
)
"""``(rule, when, then)`` rows in the order :func:`decide` tries them."""


def image_repository(image: str) -> str:
    """``<registry>/<repo>`` of an image URI without its tag or digest."""
    base = image.split("@", 1)[0]
    slash = base.rfind("/")
    colon = base.rfind(":")
    return base[:colon] if colon > slash else base


def decide(inp: DecisionInput, policy: DecisionPolicy | None = None) -> Decision:
    """Apply the decision table (see :data:`DECISION_TABLE` and ``docs/drift.md``)."""
    pol = policy or DecisionPolicy()
    champ = inp.champion
    severity = _effective_severity(inp)
    if inp.extra_jobs is not None and inp.extra_jobs < 1:
        raise InvalidInputError(
            f"extra_jobs is {inp.extra_jobs}; ask for at least 1 more training job or leave it unset.",
            field="overrides.extra_jobs",
        )

    if inp.requested is RequestedAction.SKIP:
        return Decision(
            Action.SKIP, Rule.REQUESTED_SKIP, "skipped: the run request asked to skip", severity=severity
        )
    if champ is None:
        note = (
            " (retrain was requested, but there are no hyperparameters to retrain with)"
            if (inp.requested is RequestedAction.RETRAIN)
            else ""
        )
        return _cold(
            pol, Rule.NO_CHAMPION, "no champion yet: cold-start tuning with the full budget" + note, severity
        )
    if inp.requested is RequestedAction.RETRAIN:
        return Decision(
            Action.RETRAIN,
            Rule.REQUESTED_RETRAIN,
            f"retrain requested: one training job with the hyperparameters of {champ.tuning_job}",
            max_jobs=1,
            severity=severity,
            hyperparameters=dict(champ.hyperparameters),
        )
    # a multi-algorithm job's signature joins its definitions' images with ',': the champion's is one of them
    images = inp.child.training_image.split(",")
    new_image = champ.training_image not in images
    if new_image and image_repository(champ.training_image) not in {image_repository(i) for i in images}:
        return _cold(
            pol,
            Rule.NEW_ALGORITHM,
            f"training image {inp.child.training_image} is a different algorithm from the champion's "
            f"{champ.training_image}: cold start",
            severity,
        )
    if inp.drift is not None and inp.drift.schema_changed:
        changes = "; ".join(c.detail for c in inp.drift.schema_changes[:3])
        return _cold(pol, Rule.SCHEMA_CHANGE, f"schema changed ({changes}): cold start", severity)
    if severity is DriftSeverity.SEVERE:
        return _cold(pol, Rule.SEVERE_DRIFT, f"severe drift ({_drift_text(inp)}): cold start", severity)
    wants_more = inp.requested is RequestedAction.TUNE or inp.extra_jobs is not None
    same_data = inp.data_fingerprint == champ.data_fingerprint and bool(inp.data_fingerprint)
    if same_data and not new_image:
        if not wants_more:
            return Decision(
                Action.SKIP,
                Rule.SAME_DATA,
                f"data unchanged since the champion ({_short(inp.data_fingerprint)}): nothing to do",
                severity=severity,
            )
        budget = inp.extra_jobs or pol.identical_extra_jobs
        return _warm(
            inp,
            pol,
            Rule.SAME_DATA,
            WarmStartType.IDENTICAL_DATA_AND_ALGORITHM,
            budget,
            f"same data and image, {budget} more training jobs requested",
            severity,
        )
    if severity is DriftSeverity.MODERATE or (severity is None and not same_data):
        what = f"moderate drift ({_drift_text(inp)})" if severity else "no baseline profile to measure drift"
        return _warm(
            inp, pol, Rule.MODERATE_DRIFT, WarmStartType.TRANSFER_LEARNING, pol.transfer_jobs, what, severity
        )
    if new_image:
        return _warm(
            inp,
            pol,
            Rule.NEW_IMAGE_VERSION,
            WarmStartType.TRANSFER_LEARNING,
            pol.transfer_jobs,
            f"new version of the training image ({inp.child.training_image})",
            severity,
        )
    if wants_more:
        budget = inp.extra_jobs or pol.transfer_jobs
        return _warm(
            inp,
            pol,
            Rule.NO_DRIFT,
            WarmStartType.TRANSFER_LEARNING,
            budget,
            f"new data without drift ({_drift_text(inp)}), tuning requested",
            severity,
        )
    if pol.on_no_drift is NoDriftAction.SKIP:
        return Decision(
            Action.SKIP,
            Rule.NO_DRIFT,
            f"new data without drift ({_drift_text(inp)}); the profile says skip",
            severity=severity,
        )
    return Decision(
        Action.RETRAIN,
        Rule.NO_DRIFT,
        f"new data without drift ({_drift_text(inp)}): one training job with the hyperparameters "
        f"of {champ.tuning_job}",
        max_jobs=1,
        severity=severity,
        hyperparameters=dict(champ.hyperparameters),
    )


def _effective_severity(inp: DecisionInput) -> DriftSeverity | None:
    levels = [s for s in (inp.drift.severity if inp.drift else None, inp.external_severity) if s is not None]
    return max(levels, key=lambda s: s.rank) if levels else None


def _drift_text(inp: DecisionInput) -> str:
    parts = []
    if inp.drift is not None:
        parts.append(inp.drift.summary())
    if inp.external_severity is not None:
        parts.append(f"drift event says {inp.external_severity.value}")
    return "; ".join(parts) or "drift not measured"


def _short(fingerprint: str) -> str:
    return fingerprint[:19]


def _cold(pol: DecisionPolicy, rule: Rule, reason: str, severity: DriftSeverity | None) -> Decision:
    return Decision(Action.TUNE, rule, reason, max_jobs=pol.max_jobs, severity=severity)


def _warm(
    inp: DecisionInput,
    pol: DecisionPolicy,
    rule: Rule,
    kind: WarmStartType,
    budget: int,
    why: str,
    severity: DriftSeverity | None,
) -> Decision:
    if kind not in pol.warm_start_allowed:
        reason = (
            f"{why}, but the profile does not allow {kind.value} warm starts: cold start with the full budget"
        )
        return Decision(Action.TUNE, rule, reason, max_jobs=pol.max_jobs, severity=severity)
    selection = select_parents(inp.history, inp.child, kind, limit=pol.max_parents)
    parents = list(selection.parents)
    skipped = list(selection.skipped)
    jobs = {c.tuning_job: c.training_jobs for c in inp.history}
    budget = min(budget, pol.max_jobs_per_tuning_job)
    # The parents' training jobs count against the child's limit: drop the oldest parents until it fits.
    while parents and sum(jobs.get(p, 0) for p in parents) + budget > pol.max_jobs_per_tuning_job:
        dropped = parents.pop()
        skipped.append(
            (dropped, f"its training jobs would push the child over {pol.max_jobs_per_tuning_job}")
        )
    if not parents:
        reason = f"{why}, but no terminal, compatible parent tuning job: cold start with the full budget"
        return Decision(
            Action.TUNE,
            rule,
            reason,
            max_jobs=pol.max_jobs,
            severity=severity,
            skipped_parents=tuple(skipped),
        )
    reason = f"{why}: {kind.value} warm start from {len(parents)} parent(s) with {budget} training jobs"
    return Decision(
        Action.TUNE,
        rule,
        reason,
        max_jobs=budget,
        warm_start_type=kind,
        parents=tuple(parents),
        severity=severity,
        skipped_parents=tuple(skipped),
    )
