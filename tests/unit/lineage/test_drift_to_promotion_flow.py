"""The pieces together, as the planner and the evaluator use them: profile, drift, decide, record, promote."""

from __future__ import annotations

import io
import random
from dataclasses import replace
from datetime import UTC, datetime, timedelta

from amtflow.drift import (
    Action,
    DecisionInput,
    DecisionPolicy,
    ParameterKind,
    ProfileOptions,
    Rule,
    TuningJobSignature,
    TuningJobStatus,
    WarmStartType,
    compare_profiles,
    decide,
    profile_csv,
)
from amtflow.lineage import (
    Challenger,
    DatasetVersion,
    Evaluation,
    InMemoryLineageStore,
    ObjectiveType,
    RunOutcome,
    RunRecord,
    Trigger,
    decide_promotion,
    parent_candidates,
)

T0 = datetime(2026, 11, 1, tzinfo=UTC)
IMAGE = "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-xgboost:1.7-1"
OPTIONS = ProfileOptions(header=False, label_index=0, sample_size=2_000)


def _csv(seed: int, shift: float, n: int = 3_000) -> bytes:
    rng = random.Random(seed)
    lines = []
    for _ in range(n):
        x = rng.gauss(shift, 1.0)
        lines.append(f"{int(x > shift)},{x:.5f},{rng.choice('abc')}\n")
    return "".join(lines).encode()


def _challenger(version: str, fingerprint: str, value: float) -> Challenger:
    job = f"amtf-churn-{version}"
    return Challenger(
        model="churn",
        tuning_job=job,
        training_job=f"{job}-004-aaaaaaaa",
        objective_metric="validation:auc",
        objective_type=ObjectiveType.MAXIMIZE,
        objective_value=value,
        dataset_version=version,
        data_fingerprint=fingerprint,
        model_artifact=f"s3://b/runs/churn/{job}/output/model.tar.gz",
        training_image=IMAGE,
        hyperparameters={"eta": "0.2"},
    )


def test_moderate_drift_warm_starts_from_the_champions_tuning_job_and_promotes_like_with_like() -> None:
    store = InMemoryLineageStore()
    policy = DecisionPolicy(max_jobs=30)
    child = TuningJobSignature(
        "validation:auc",
        "Maximize",
        {"eta": ParameterKind.CONTINUOUS, "objective": ParameterKind.STATIC},
        IMAGE,
    )

    # Version 1: no champion yet -> cold start.
    v1 = profile_csv(io.BytesIO(_csv(1, 0.0)), OPTIONS)
    store.put_dataset_version(DatasetVersion("churn", "v1", v1.fingerprint, T0, profile=v1))
    first = decide(DecisionInput(replace(child, data_fingerprint=v1.fingerprint), v1.fingerprint), policy)
    assert (first.action, first.rule) == (Action.TUNE, Rule.NO_CHAMPION)
    store.add_run(
        RunRecord(
            model="churn",
            run_id="exec-1",
            started_at=T0,
            trigger=Trigger.S3,
            dataset_version="v1",
            data_fingerprint=v1.fingerprint,
            decision=first,
            tuning_job="amtf-churn-v1",
            signature=replace(child, data_fingerprint=v1.fingerprint),
            job_status=TuningJobStatus.COMPLETED,
            best_training_job="amtf-churn-v1-004-aaaaaaaa",
            best_objective=0.91,
            training_jobs=30,
            outcome=RunOutcome.PROMOTED,
        )
    )
    champion = _challenger("v1", v1.fingerprint, 0.91).to_champion(T0)
    store.set_champion(champion, expected_tuning_job=None)

    # Version 2: the feature's mean moved by 0.4 sd (PSI about 0.16: moderate).
    baseline = store.get_dataset_version("churn", champion.dataset_version)
    assert baseline is not None
    assert baseline.profile is not None
    v2 = profile_csv(io.BytesIO(_csv(4, 0.4)), OPTIONS, reference=baseline.profile)
    report = compare_profiles(baseline.profile, v2, policy.thresholds)
    assert [d.column for d in report.drivers] == ["c1"]
    assert 0.1 < report.max_psi < 0.25
    decision = decide(
        DecisionInput(
            replace(child, data_fingerprint=v2.fingerprint),
            v2.fingerprint,
            champion=store.get_champion("churn"),
            drift=report,
            history=parent_candidates(store, "churn"),
        ),
        policy,
    )
    assert decision.rule is Rule.MODERATE_DRIFT, report.summary()
    assert decision.warm_start_type is WarmStartType.TRANSFER_LEARNING
    assert decision.parents == ("amtf-churn-v1",)
    assert decision.max_jobs == 15
    assert store.add_run(
        RunRecord(
            model="churn",
            run_id="exec-2",
            started_at=T0 + timedelta(days=7),
            trigger=Trigger.S3,
            dataset_version="v2",
            data_fingerprint=v2.fingerprint,
            decision=decision,
            drift_scores=report.scores(),
            drift_severity=report.severity,
        )
    )

    # The challenger was measured on v2: compare it with the champion evaluated on v2, not on v1.
    challenger = _challenger("v2", v2.fingerprint, 0.89)
    assert not decide_promotion(challenger, champion).promote
    verdict = decide_promotion(
        challenger, champion, champion_evaluation=Evaluation("validation:auc", 0.86, v2.fingerprint)
    )
    assert verdict.promote
    assert verdict.improvement is not None
    assert abs(verdict.improvement - 0.03) < 1e-9
