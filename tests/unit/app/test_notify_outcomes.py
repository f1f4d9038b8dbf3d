"""NotifyRun honours the profile's ``notifications.outcomes``: a run it does not list publishes nothing and
says why; a run whose profile cannot be read is always announced. The reconciler's stall notice follows
``stalled`` like any outcome."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from app_fakes import MODEL, T0, Clock, Notifier

from amtflow.app import NotifyRun, ParkedJob, StallRecord
from amtflow.errors import ProfileError, ProfileNotFoundError
from amtflow.profile import ModelProfile, load_profile

PROFILE_YAML = (Path(__file__).resolve().parents[3] / "examples" / "xgboost" / "profile.yaml").read_text()
EXECUTION = "arn:aws:states:us-east-1:123456789012:execution:sm:cancer-xgb-v1-0123abcd"
PLAN = {
    "model": MODEL,
    "action": "tune",
    "reason": "new data",
    "trigger": "s3",
    "datasetVersion": "v1",
    "jobName": "amtf-cancer-xgb-0badc0de",
    "execution": {"name": "cancer-xgb-v1-0123abcd", "id": EXECUTION},
    "plannedAt": T0.isoformat(),
}
BEST = {"trainingJobName": "t2", "objectiveValue": 0.95}


def evaluation(promotion: str | None) -> dict[str, Any]:
    document: dict[str, Any] = {"outcome": "succeeded", "objectiveMetric": "validation:auc", "best": BEST}
    if promotion is not None:
        document["promotion"] = {
            "outcome": promotion,
            "reason": "compared like with like",
            "challengerJob": "t2",
            "challengerValue": 0.95,
            "championJob": "t0",
            "championValue": 0.93,
        }
    return document


STATES: dict[str, dict[str, Any]] = {
    "promoted": {"plan": PLAN, "evaluation": evaluation("promoted")},
    "kept_champion": {"plan": PLAN, "evaluation": evaluation("kept_champion")},
    "succeeded": {"plan": PLAN, "evaluation": evaluation(None)},
    "no_result": {"plan": PLAN, "evaluation": {"outcome": "no_result", "reason": "no trial reported"}},
    "skipped": {"plan": {**PLAN, "action": "skip", "jobName": None}},
    "rejected": {"plan": PLAN, "error": {"Error": "PreflightRejectedError", "Cause": "AMT101"}},
    "failed": {"plan": PLAN, "error": {"Error": "TuningJobFailed", "Cause": "AlgorithmError"}},
}


def listing(*outcomes: str) -> Any:
    def profiles(model: str) -> ModelProfile:
        document = load_profile(PROFILE_YAML).to_document()
        document["notifications"] = {"outcomes": list(outcomes)}
        return load_profile(document)

    return profiles


def run(state: dict[str, Any], profiles: Any) -> tuple[Any, Notifier]:
    notifier = Notifier()
    result = NotifyRun(notifier=notifier, clock=Clock(), profiles=profiles).notify(
        state, execution_id=EXECUTION
    )
    return result, notifier


@pytest.mark.parametrize(
    ("run_kind", "listed", "published"),
    [
        ("promoted", ["promoted", "failed"], True),
        ("kept_champion", ["promoted", "failed"], False),
        ("kept_champion", ["not_promoted"], True),
        ("kept_champion", ["succeeded"], True),  # a run with a result also counts as succeeded
        ("promoted", ["not_promoted"], False),
        ("succeeded", ["promoted"], False),
        ("succeeded", ["succeeded"], True),
        ("no_result", ["failed"], True),
        ("no_result", ["succeeded", "promoted"], False),
        ("skipped", ["promoted", "failed"], False),
        ("skipped", ["skipped"], True),
        ("rejected", ["failed"], False),
        ("rejected", ["rejected"], True),
        ("failed", ["promoted", "failed"], True),
        ("failed", ["promoted"], False),
        ("failed", [], False),
    ],
)
def test_only_the_listed_outcomes_are_published(run_kind: str, listed: list[str], published: bool) -> None:
    result, notifier = run(STATES[run_kind], listing(*listed))
    assert bool(notifier.published) is published
    if published:
        assert result.message_id == "message-1"
        assert result.suppressed is None
    else:
        assert result.message_id is None
        assert result.suppressed is not None
        assert "notifications.outcomes" in result.suppressed
        assert MODEL in result.suppressed


def test_the_runs_are_what_they_claim() -> None:
    for kind in ("promoted", "kept_champion"):
        result, notifier = run(STATES[kind], listing("promoted", "not_promoted"))
        assert result.outcome.value == "succeeded"
        assert notifier.published[0].attributes["promotion"] == kind


def test_the_default_publishes_every_outcome() -> None:
    def default(model: str) -> ModelProfile:
        return load_profile(PROFILE_YAML)

    for state in STATES.values():
        result, notifier = run(state, default)
        assert len(notifier.published) == 1
        assert result.suppressed is None


def test_a_suppressed_run_still_reports_its_outcome_and_says_what_was_listed() -> None:
    result, _ = run(STATES["kept_champion"], listing("promoted", "failed"))
    assert result.outcome.value == "succeeded"
    assert result.model == MODEL
    assert "promoted, failed" in result.suppressed
    assert "promotion=kept_champion" in result.suppressed


@pytest.mark.parametrize("error", [ProfileNotFoundError, ProfileError])
def test_a_run_whose_profile_cannot_be_read_is_always_announced(error: type[Exception]) -> None:
    def unreadable(model: str) -> ModelProfile:
        raise error(f"profile of {model}: cannot be read")

    for state in STATES.values():
        result, notifier = run(state, unreadable)
        assert len(notifier.published) == 1
        assert result.suppressed is None


QUEUED_STATE = {"plan": PLAN, "quota": {"Error": "QuotaExceededError", "Cause": "ResourceLimitExceeded"}}


@pytest.mark.parametrize(("listed", "published"), [(["failed"], True), (["promoted", "succeeded"], False)])
def test_the_queued_notice_follows_failed(listed: list[str], published: bool) -> None:
    notifier = Notifier()
    delivery = NotifyRun(notifier=notifier, clock=Clock(), profiles=listing(*listed)).notify_queued(
        QUEUED_STATE, execution_id=EXECUTION
    )
    assert bool(notifier.published) is published
    assert (delivery.message_id is not None) is published
    assert (delivery.suppressed is None) is published


STALL = StallRecord(
    job_name="amtf-cancer-xgb-0badc0de",
    model=MODEL,
    reason="stalled: 3 trials finished and none reported validation:auc",
    stalled_at=T0,
    stopped=False,
)
PARKED = ParkedJob("amtf-cancer-xgb-0badc0de", "token-1", MODEL, "exec-1", T0)


def stall_notice(profiles: Any) -> tuple[str | None, Notifier]:
    notifier = Notifier()
    message_id = NotifyRun(notifier=notifier, clock=Clock(), profiles=profiles).notify_stalled(STALL, PARKED)
    return message_id, notifier


@pytest.mark.parametrize(
    ("listed", "published"),
    [(["stalled"], True), (["failed", "stalled"], True), (["promoted", "failed"], False), ([], False)],
)
def test_the_stall_notice_follows_stalled(listed: list[str], published: bool) -> None:
    message_id, notifier = stall_notice(listing(*listed))
    assert bool(notifier.published) is published
    assert (message_id is not None) is published
    if published:
        assert notifier.published[0].attributes == {"model": MODEL, "outcome": "stalled"}


def test_the_default_list_announces_stalls_and_an_unreadable_profile_does_too() -> None:
    def unreadable(model: str) -> ModelProfile:
        raise ProfileError(f"profile of {model}: cannot be read")

    for profiles in (lambda model: load_profile(PROFILE_YAML), unreadable):
        message_id, notifier = stall_notice(profiles)
        assert message_id == "message-1"
        assert len(notifier.published) == 1


def test_stalled_selects_no_runs_outcome() -> None:
    for kind, state in STATES.items():
        _, notifier = run(state, listing("stalled"))
        assert notifier.published == [], kind
