"""Every row of the decision table, and the choice of warm-start parents."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta

import pytest

from amtflow.drift import (
    DECISION_TABLE,
    Action,
    ColumnDrift,
    ColumnType,
    Decision,
    DecisionInput,
    DecisionPolicy,
    DriftReport,
    DriftSeverity,
    NoDriftAction,
    ParameterKind,
    ParentCandidate,
    RequestedAction,
    Rule,
    SchemaChange,
    SchemaChangeKind,
    TuningJobSignature,
    TuningJobStatus,
    WarmStartType,
    decide,
    image_repository,
    select_parents,
)
from amtflow.errors import InvalidInputError

IMAGE = "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-xgboost:1.7-1"
NEW_VERSION = "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-xgboost:3.0-5"
OTHER_ALGO = "123456789012.dkr.ecr.us-east-1.amazonaws.com/my-lightgbm:1"
OLD_DATA = "sha256:" + "a" * 64
NEW_DATA = "sha256:" + "b" * 64
T0 = datetime(2026, 11, 1, tzinfo=UTC)

HPS = {
    "eta": ParameterKind.CONTINUOUS,
    "max_depth": ParameterKind.INTEGER,
    "objective": ParameterKind.STATIC,
}
CHILD = TuningJobSignature("validation:auc", "Maximize", HPS, IMAGE, NEW_DATA)


@dataclass(frozen=True)
class Champ:
    tuning_job: str = "amtf-churn-00000001"
    data_fingerprint: str = OLD_DATA
    training_image: str = IMAGE
    hyperparameters: Mapping[str, str] = field(default_factory=lambda: {"eta": "0.1", "max_depth": "6"})


def _cand(
    name: str,
    age_days: int,
    status: TuningJobStatus = TuningJobStatus.COMPLETED,
    *,
    data: str = OLD_DATA,
    image: str = IMAGE,
    best: bool = True,
    jobs: int = 20,
    **sig: object,
) -> ParentCandidate:
    signature = replace(CHILD, training_image=image, data_fingerprint=data, **sig)  # type: ignore[arg-type]
    return ParentCandidate(name, status, T0 - timedelta(days=age_days), signature, best, jobs)


HISTORY = (_cand("job-1", 10), _cand("job-2", 5))


def _report(severity: DriftSeverity, *, schema: bool = False, fp: str = NEW_DATA) -> DriftReport:
    psi = {DriftSeverity.NONE: 0.02, DriftSeverity.MODERATE: 0.18, DriftSeverity.SEVERE: 0.9}[severity]
    changes = (SchemaChange("z", SchemaChangeKind.ADDED, "column 'z' added"),) if schema else ()
    return DriftReport(
        severity=severity,
        columns=(ColumnDrift("tenure", ColumnType.NUMERIC, psi, severity),),
        schema_changes=changes,
        baseline_rows=1000,
        current_rows=1200,
        baseline_fingerprint=OLD_DATA,
        current_fingerprint=fp,
    )


def _inp(**kw: object) -> DecisionInput:
    base: dict[str, object] = {
        "child": CHILD,
        "data_fingerprint": NEW_DATA,
        "champion": Champ(),
        "drift": _report(DriftSeverity.NONE),
        "history": HISTORY,
    }
    base.update(kw)
    return DecisionInput(**base)  # type: ignore[arg-type]


POLICY = DecisionPolicy(max_jobs=40, transfer_budget_fraction=0.5, identical_extra_jobs=12)


def test_requested_skip_always_skips() -> None:
    d = decide(_inp(requested=RequestedAction.SKIP, drift=_report(DriftSeverity.SEVERE)), POLICY)
    assert (d.action, d.rule, d.max_jobs) == (Action.SKIP, Rule.REQUESTED_SKIP, 0)
    assert d.warm_start_config() is None


def test_no_champion_is_a_cold_start_with_the_full_budget() -> None:
    d = decide(_inp(champion=None, drift=None, history=()), POLICY)
    assert (d.action, d.rule, d.max_jobs, d.warm_start_type) == (Action.TUNE, Rule.NO_CHAMPION, 40, None)
    assert "no champion" in d.reason
    d = decide(_inp(champion=None, requested=RequestedAction.RETRAIN), POLICY)
    assert d.action is Action.TUNE
    assert "no hyperparameters to retrain with" in d.reason


def test_requested_retrain_uses_the_champions_hyperparameters() -> None:
    d = decide(_inp(requested=RequestedAction.RETRAIN, drift=_report(DriftSeverity.MODERATE)), POLICY)
    assert (d.action, d.rule, d.max_jobs) == (Action.RETRAIN, Rule.REQUESTED_RETRAIN, 1)
    assert d.hyperparameters == {"eta": "0.1", "max_depth": "6"}


def test_a_different_algorithm_is_a_cold_start() -> None:
    child = replace(CHILD, training_image=OTHER_ALGO)
    d = decide(_inp(child=child), POLICY)
    assert (d.action, d.rule, d.max_jobs, d.parents) == (Action.TUNE, Rule.NEW_ALGORITHM, 40, ())
    assert "different algorithm" in d.reason


def test_a_schema_change_is_a_cold_start_even_without_drift() -> None:
    d = decide(_inp(drift=_report(DriftSeverity.NONE, schema=True)), POLICY)
    assert (d.action, d.rule, d.warm_start_type) == (Action.TUNE, Rule.SCHEMA_CHANGE, None)
    assert "column 'z' added" in d.reason


def test_severe_drift_is_a_cold_start_and_names_the_driver() -> None:
    d = decide(_inp(drift=_report(DriftSeverity.SEVERE)), POLICY)
    assert (d.action, d.rule, d.max_jobs, d.severity) == (
        Action.TUNE,
        Rule.SEVERE_DRIFT,
        40,
        DriftSeverity.SEVERE,
    )
    assert "tenure PSI 0.900" in d.reason


def test_same_data_skips_unless_more_budget_is_asked_for() -> None:
    same = _inp(data_fingerprint=OLD_DATA, drift=_report(DriftSeverity.NONE, fp=OLD_DATA))
    d = decide(same, POLICY)
    assert (d.action, d.rule) == (Action.SKIP, Rule.SAME_DATA)
    assert "data unchanged" in d.reason


def test_same_data_with_more_budget_is_an_identical_data_warm_start() -> None:
    child = replace(CHILD, data_fingerprint=OLD_DATA)
    history = (*HISTORY, _cand("job-other-data", 1, data=NEW_DATA))
    d = decide(
        _inp(child=child, data_fingerprint=OLD_DATA, drift=None, extra_jobs=7, history=history), POLICY
    )
    assert (d.action, d.rule, d.warm_start_type) == (
        Action.TUNE,
        Rule.SAME_DATA,
        WarmStartType.IDENTICAL_DATA_AND_ALGORITHM,
    )
    assert d.max_jobs == 7
    # The job trained on other data cannot be an IdenticalDataAndAlgorithm parent.
    assert d.parents == ("job-2", "job-1")
    assert ("job-other-data", "data differs (IdenticalDataAndAlgorithm needs the same data)") in (
        d.skipped_parents
    )
    assert d.warm_start_config() == {
        "ParentHyperParameterTuningJobs": [
            {"HyperParameterTuningJobName": "job-2"},
            {"HyperParameterTuningJobName": "job-1"},
        ],
        "WarmStartType": "IdenticalDataAndAlgorithm",
    }
    # "tune" without a number uses the policy's extra budget.
    d = decide(_inp(child=child, data_fingerprint=OLD_DATA, requested=RequestedAction.TUNE), POLICY)
    assert d.max_jobs == 12


def test_moderate_drift_is_a_transfer_learning_warm_start_with_a_reduced_budget() -> None:
    d = decide(_inp(drift=_report(DriftSeverity.MODERATE)), POLICY)
    assert (d.action, d.rule, d.warm_start_type) == (
        Action.TUNE,
        Rule.MODERATE_DRIFT,
        WarmStartType.TRANSFER_LEARNING,
    )
    assert d.max_jobs == 20
    assert d.parents == ("job-2", "job-1")
    assert "moderate drift" in d.reason


def test_moderate_drift_without_a_compatible_parent_falls_back_to_a_cold_start() -> None:
    history = (_cand("other-metric", 1, objective_metric="validation:logloss"),)
    d = decide(_inp(drift=_report(DriftSeverity.MODERATE), history=history), POLICY)
    assert (d.action, d.warm_start_type, d.max_jobs) == (Action.TUNE, None, 40)
    assert "no terminal, compatible parent" in d.reason
    assert d.skipped_parents[0][0] == "other-metric"


def test_missing_baseline_profile_is_treated_as_moderate() -> None:
    d = decide(_inp(drift=None), POLICY)
    assert (d.rule, d.warm_start_type) == (Rule.MODERATE_DRIFT, WarmStartType.TRANSFER_LEARNING)
    assert "no baseline profile" in d.reason


def test_new_image_version_is_transfer_learning() -> None:
    child = replace(CHILD, training_image=NEW_VERSION)
    d = decide(_inp(child=child, data_fingerprint=OLD_DATA, drift=_report(DriftSeverity.NONE)), POLICY)
    assert (d.rule, d.warm_start_type, d.max_jobs) == (
        Rule.NEW_IMAGE_VERSION,
        WarmStartType.TRANSFER_LEARNING,
        20,
    )
    # TransferLearning accepts parents trained with the older image.
    assert d.parents == ("job-2", "job-1")


def test_no_drift_retrains_or_skips_per_profile() -> None:
    d = decide(_inp(), POLICY)
    assert (d.action, d.rule, d.max_jobs) == (Action.RETRAIN, Rule.NO_DRIFT, 1)
    assert d.hyperparameters == {"eta": "0.1", "max_depth": "6"}
    d = decide(_inp(), replace(POLICY, on_no_drift=NoDriftAction.SKIP))
    assert (d.action, d.rule) == (Action.SKIP, Rule.NO_DRIFT)
    d = decide(_inp(requested=RequestedAction.TUNE), POLICY)
    assert (d.action, d.warm_start_type, d.max_jobs) == (Action.TUNE, WarmStartType.TRANSFER_LEARNING, 20)


def test_external_drift_events_follow_the_same_table() -> None:
    severe = decide(_inp(drift=None, external_severity=DriftSeverity.SEVERE), POLICY)
    assert severe.rule is Rule.SEVERE_DRIFT
    assert "drift event says severe" in severe.reason
    moderate = decide(_inp(drift=None, external_severity=DriftSeverity.MODERATE), POLICY)
    assert moderate.rule is Rule.MODERATE_DRIFT
    # The worse of measured and reported drift wins.
    mixed = decide(_inp(drift=_report(DriftSeverity.NONE), external_severity=DriftSeverity.MODERATE), POLICY)
    assert mixed.severity is DriftSeverity.MODERATE
    none = decide(_inp(drift=None, external_severity=DriftSeverity.NONE), POLICY)
    assert none.action is Action.RETRAIN


def test_every_rule_is_in_the_documented_table() -> None:
    assert [r for r, _, _ in DECISION_TABLE] == list(Rule)


def test_decision_round_trips_through_its_dict() -> None:
    d = decide(_inp(drift=_report(DriftSeverity.MODERATE)), POLICY)
    assert Decision.from_dict(d.to_dict()) == d


def test_bad_policy_and_budget_requests_are_rejected() -> None:
    with pytest.raises(InvalidInputError) as err:
        DecisionPolicy(max_jobs=0)
    assert err.value.field == "drift.max_jobs"
    with pytest.raises(InvalidInputError) as err:
        DecisionPolicy(max_parents=6)
    assert err.value.field == "drift.max_parents"
    with pytest.raises(InvalidInputError) as err:
        DecisionPolicy(transfer_budget_fraction=1.5)
    assert "transfer_budget_fraction" in str(err.value)
    with pytest.raises(InvalidInputError) as err:
        decide(_inp(extra_jobs=0), POLICY)
    assert err.value.field == "overrides.extra_jobs"


# --- parent selection -------------------------------------------------------------------------------------


def test_at_most_five_most_recent_parents() -> None:
    history = [_cand(f"job-{i}", age_days=i) for i in range(8)]
    sel = select_parents(history, CHILD, WarmStartType.TRANSFER_LEARNING)
    assert sel.parents == ("job-0", "job-1", "job-2", "job-3", "job-4")
    assert [j for j, _ in sel.skipped] == ["job-5", "job-6", "job-7"]


def test_non_terminal_and_failed_without_best_job_are_skipped() -> None:
    history = [
        _cand("running", 1, TuningJobStatus.IN_PROGRESS),
        _cand("stopping", 2, TuningJobStatus.STOPPING),
        _cand("failed-empty", 3, TuningJobStatus.FAILED, best=False),
        _cand("failed-with-best", 4, TuningJobStatus.FAILED, best=True),
        _cand("stopped", 5, TuningJobStatus.STOPPED),
    ]
    sel = select_parents(history, CHILD, WarmStartType.TRANSFER_LEARNING)
    assert sel.parents == ("failed-with-best", "stopped")
    reasons = dict(sel.skipped)
    assert reasons["running"] == "status InProgress is not terminal"
    assert reasons["failed-empty"] == "failed without a best training job"


def test_incompatible_parents_are_skipped_with_the_reason() -> None:
    history = [
        _cand("minimize", 1, objective_type="Minimize"),
        _cand("more-hps", 2, hyperparameters={**HPS, "gamma": ParameterKind.CONTINUOUS}),
        _cand("kind-changed", 3, hyperparameters={**HPS, "max_depth": ParameterKind.CONTINUOUS}),
        _cand("static-to-tunable", 4, hyperparameters={**HPS, "eta": ParameterKind.STATIC}),
        _cand("other-image", 5, image=NEW_VERSION),
    ]
    sel = select_parents(history, CHILD, WarmStartType.TRANSFER_LEARNING)
    # A hyperparameter switching between static and tunable is allowed (up to 10), another image too.
    assert sel.parents == ("static-to-tunable", "other-image")
    reasons = dict(sel.skipped)
    assert "objective" in reasons["minimize"]
    assert "gamma" in reasons["more-hps"]
    assert "'max_depth' is continuous there, integer here" in reasons["kind-changed"]
    identical = select_parents(
        history, replace(CHILD, data_fingerprint=OLD_DATA), WarmStartType.IDENTICAL_DATA_AND_ALGORITHM
    )
    assert identical.parents == ("static-to-tunable",)


def test_parents_whose_jobs_exceed_the_limit_are_dropped_oldest_first() -> None:
    history = [_cand("big-new", 1, jobs=400), _cand("big-old", 2, jobs=340)]
    d = decide(_inp(drift=_report(DriftSeverity.MODERATE), history=history), POLICY)
    # 400 + 340 + 20 > 750: the older parent goes.
    assert d.parents == ("big-new",)
    assert d.skipped_parents[-1][0] == "big-old"


def test_parent_limit_must_be_one_to_five() -> None:
    with pytest.raises(InvalidInputError) as err:
        select_parents(HISTORY, CHILD, WarmStartType.TRANSFER_LEARNING, limit=6)
    assert err.value.field == "warm_start.max_parents"


def test_signature_from_a_tuning_request() -> None:
    request = {
        "HyperParameterTuningJobConfig": {
            "HyperParameterTuningJobObjective": {"Type": "Maximize", "MetricName": "validation:auc"},
            "ParameterRanges": {
                "ContinuousParameterRanges": [{"Name": "eta", "MinValue": "0.01", "MaxValue": "0.5"}],
                "IntegerParameterRanges": [{"Name": "max_depth", "MinValue": "2", "MaxValue": "10"}],
            },
        },
        "TrainingJobDefinition": {
            "StaticHyperParameters": {"objective": "binary:logistic"},
            "AlgorithmSpecification": {"TrainingImage": IMAGE, "TrainingInputMode": "File"},
        },
    }
    sig = TuningJobSignature.from_request(request, NEW_DATA)
    assert sig == CHILD
    assert TuningJobSignature.from_dict(sig.to_dict()) == sig
    with pytest.raises(InvalidInputError) as err:
        TuningJobSignature.from_request({"HyperParameterTuningJobConfig": {}})
    assert "HyperParameterTuningJobObjective" in str(err.value)


def test_image_repository_drops_tag_and_digest() -> None:
    assert image_repository(IMAGE) == image_repository(NEW_VERSION)
    assert image_repository("localhost:5000/algo:2") == "localhost:5000/algo"
    assert image_repository("repo/algo@sha256:abc") == "repo/algo"
