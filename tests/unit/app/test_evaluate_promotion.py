"""EvaluateRun: diagnosis in the evaluation, challenger vs champion like with like, registration once."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import pytest
from app_fakes import MODEL, Clock, Notifier, SageMaker, TrialLogs, profile_text, profiles, trial

from amtflow.app import EvaluateRequest, EvaluateRun, NotifyRun, evaluation_request
from amtflow.lineage import Champion, DatasetVersion, InMemoryLineageStore, ObjectiveType, client_token
from amtflow.messages import (
    Action,
    Evaluation,
    ExecutionRef,
    Outcome,
    Plan,
    PromotionOutcome,
    TrialSummary,
    Trigger,
    TuningResult,
)
from amtflow.profile import ModelProfile

JOB = "amtf-cancer-xgb-0badc0de"
OLD_JOB = "amtf-cancer-xgb-01d01d01"
T1 = datetime(2026, 11, 3, 8, 0, tzinfo=UTC)


def plan(version: str = "v2") -> Plan:
    return Plan(
        model=MODEL,
        action=Action.TUNE,
        reason="test",
        trigger=Trigger.S3,
        dataset_version=version,
        job_name=JOB,
        data_uri=f"s3://bucket/datasets/{MODEL}/{version}/",
        execution=ExecutionRef(name="exec-2", id="arn:aws:states:us-east-1:1:execution:sm:exec-2"),
        planned_at=datetime(2026, 11, 3, tzinfo=UTC),
    )


BEST = TrialSummary(
    training_job_name=f"{JOB}-002-00000002",
    status="Completed",
    objective_value=0.95,
    hyperparameters={"eta": "0.2"},
)
TUNING = TuningResult(
    job_name=JOB,
    status="Completed",
    objective_metric="validation:auc",
    objective_type="Maximize",
    best=BEST,
    training_jobs={"Completed": 2},
)


@dataclass
class Registry:
    """The Model Registry: each registration is the next version of its group; a retried one (same
    ``ClientToken``) is the registration it repeats."""

    requests: list[Mapping[str, Any]] = field(default_factory=list)
    arns: dict[tuple[str, str], str] = field(default_factory=dict)

    def register(self, request: Mapping[str, Any]) -> str:
        group = str(request["ModelPackageGroupName"])
        retried = (group, str(request.get("ClientToken", ""))) if request.get("ClientToken") else None
        if retried in self.arns:
            return self.arns[retried]
        self.requests.append(request)
        version = sum(1 for r in self.requests if r["ModelPackageGroupName"] == group)
        arn = f"arn:aws:sagemaker:us-east-1:123456789012:model-package/{group.lower()}/{version}"
        if retried is not None:
            self.arns[retried] = arn
        return arn


@dataclass
class Evidence:
    describe: Mapping[str, Any] = field(default_factory=dict)
    trials: Sequence[Mapping[str, Any]] = ()
    metrics: dict[str, Mapping[str, float]] = field(default_factory=dict)

    def describe_tuning_job(self, name: str) -> Mapping[str, Any]:
        return self.describe

    def training_jobs(self, tuning_job: str) -> Sequence[Mapping[str, Any]]:
        return self.trials

    def final_metrics(self, training_job: str) -> Mapping[str, float]:
        return self.metrics.get(training_job, {})


def load(model: str, overrides: Mapping[str, Any]) -> ModelProfile:
    return profiles().get(model, overrides).profile


def loader(**sections: Any) -> Callable[[str, Mapping[str, Any]], ModelProfile]:
    """Loads the example profile changed by ``sections`` (as pushed by its owner)."""
    catalog = profiles(profile_text(**sections))
    return lambda model, overrides: catalog.get(model, overrides).profile


def champion(value: float = 0.94, version: str = "v1", fingerprint: str = "sha256:v1") -> Champion:
    return Champion(
        model=MODEL,
        tuning_job=OLD_JOB,
        training_job=f"{OLD_JOB}-007-00000007",
        hyperparameters={"eta": "0.1", "max_depth": "4"},
        objective_metric="validation:auc",
        objective_type=ObjectiveType.MAXIMIZE,
        objective_value=value,
        dataset_version=version,
        data_fingerprint=fingerprint,
        model_artifact=f"s3://bucket/runs/{MODEL}/{OLD_JOB}/model.tar.gz",
        training_image="683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-xgboost:1.7-1",
        promoted_at=datetime(2026, 11, 1, tzinfo=UTC),
    )


@dataclass
class World:
    lineage: InMemoryLineageStore = field(default_factory=InMemoryLineageStore)
    registry: Registry = field(default_factory=Registry)
    evidence: Evidence = field(default_factory=Evidence)
    sagemaker: SageMaker = field(default_factory=SageMaker)
    logs: dict[str, list[str]] = field(default_factory=dict)
    promotion: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.sagemaker.trials[JOB] = [trial(BEST.training_job_name, 0.95, eta="0.2"), trial(f"{JOB}-1", 0.9)]

    def run(self) -> EvaluateRun:
        return EvaluateRun(
            sagemaker=self.sagemaker,
            evidence=self.evidence,
            logs=TrialLogs(self.logs),
            lineage=self.lineage,
            registry=self.registry,
            profiles=loader(promotion=self.promotion) if self.promotion else load,
            clock=Clock(T1),
            job_prefix="amtf",
        )

    def data(self, version: str, fingerprint: str) -> None:
        self.lineage.put_dataset_version(DatasetVersion(MODEL, version, fingerprint, T1))


def notification_text(evaluation: Evaluation, p: Plan) -> tuple[str, Mapping[str, Any]]:
    notifier = Notifier()
    state = {"plan": p.to_json(), "tuning": TUNING.to_json(), "evaluation": evaluation.to_json()}
    NotifyRun(notifier=notifier, clock=Clock(T1)).notify(state, execution_id="exec-2")
    (note,) = notifier.published
    return note.text, note.attributes


def test_the_first_run_of_a_model_is_promoted_and_registered_with_its_lineage() -> None:
    world = World()
    world.data("v2", "sha256:v2")
    evaluation = world.run().evaluate(plan(), TUNING)

    promotion = evaluation.promotion
    assert promotion is not None
    assert promotion.outcome is PromotionOutcome.PROMOTED
    assert "no champion yet" in promotion.reason
    (request,) = world.registry.requests
    assert request["ModelPackageGroupName"] == "amtf-cancer-xgb"
    assert request["ModelApprovalStatus"] == "PendingManualApproval"
    assert request["ClientToken"] == client_token(JOB)
    metadata = request["CustomerMetadataProperties"]
    assert metadata["amtflow:objective-value"] == "0.95"
    assert metadata["amtflow:data-fingerprint"] == "sha256:v2"
    assert metadata["amtflow:dataset-version"] == "v2"
    current = world.lineage.get_champion(MODEL)
    assert current is not None
    assert current.training_job == BEST.training_job_name
    assert current.model_package_arn == promotion.model_package_arn
    assert current.data_fingerprint == "sha256:v2"
    text, attributes = notification_text(evaluation, plan())
    assert attributes["promotion"] == "promoted"
    assert f"Promotion: promoted {BEST.training_job_name} to champion" in text
    assert "Registered: arn:aws:sagemaker" in text
    assert "approval PendingManualApproval" in text


def test_a_first_run_below_the_threshold_is_not_promoted() -> None:
    world = World(promotion={"threshold": 0.99})
    evaluation = world.run().evaluate(plan(), TUNING)
    assert evaluation.promotion is not None
    assert evaluation.promotion.outcome is PromotionOutcome.KEPT_CHAMPION
    assert "below the absolute threshold 0.99" in evaluation.promotion.reason
    assert world.registry.requests == []
    assert world.lineage.get_champion(MODEL) is None


def test_on_the_same_data_a_better_challenger_wins_and_a_worse_one_does_not() -> None:
    world = World()
    world.data("v1", "sha256:v1")
    world.lineage.set_champion(champion(0.94), expected_tuning_job=None)
    won = world.run().evaluate(plan("v1"), TUNING)
    assert won.promotion is not None
    assert won.promotion.outcome is PromotionOutcome.PROMOTED
    assert won.promotion.champion_value == 0.94
    assert "on the same data" in won.promotion.reason

    world = World()
    world.data("v1", "sha256:v1")
    world.lineage.set_champion(champion(0.97), expected_tuning_job=None)
    kept = world.run().evaluate(plan("v1"), TUNING)
    assert kept.promotion is not None
    assert kept.promotion.outcome is PromotionOutcome.KEPT_CHAMPION
    assert world.registry.requests == []
    current = world.lineage.get_champion(MODEL)
    assert current is not None
    assert current.tuning_job == OLD_JOB
    text, attributes = notification_text(kept, plan("v1"))
    assert attributes["promotion"] == "kept_champion"
    assert f"kept the champion {OLD_JOB}-007-00000007" in text
    assert "validation:auc = 0.95 on dataset v1" in text
    assert "validation:auc = 0.97 on dataset v1" in text


def test_new_data_asks_for_the_champions_evaluation_job_then_compares_like_with_like() -> None:
    world = World()
    world.data("v2", "sha256:v2")
    world.lineage.set_champion(champion(0.99), expected_tuning_job=None)
    first = world.run().evaluate(plan(), TUNING)
    promotion = first.promotion
    assert promotion is not None
    assert promotion.outcome is PromotionOutcome.NEEDS_EVALUATION
    job = promotion.evaluation_job
    assert job is not None
    assert job.job_name.startswith(f"{JOB}-ev-")
    assert job.champion_training_job == f"{OLD_JOB}-007-00000007"
    assert job.data_uri == f"s3://bucket/datasets/{MODEL}/v2/"
    assert world.registry.requests == []

    # the champion, 0.99 on v1, scores 0.93 on v2's validation data: the challenger's 0.95 wins
    world.evidence.metrics[job.job_name] = {"validation:auc": 0.93, "train:auc": 0.99}
    request = EvaluateRequest(
        plan=plan(), tuning=TUNING, evaluation=first, champion_evaluation={"jobName": "x"}
    )
    second = world.run().run(request)
    assert second.promotion is not None
    assert second.promotion.outcome is PromotionOutcome.PROMOTED
    assert second.promotion.champion_value == 0.93
    assert second.promotion.champion_value_dataset_version == "v2"
    assert "evaluated on the challenger's validation data" in second.promotion.reason
    assert len(world.registry.requests) == 1
    text, _ = notification_text(second, plan())
    assert "validation:auc = 0.93 on dataset v2" in text
    assert "validation:auc = 0.95 on dataset v2" in text


def test_a_champion_that_is_still_better_on_the_new_data_is_kept() -> None:
    world = World()
    world.data("v2", "sha256:v2")
    world.lineage.set_champion(champion(0.99), expected_tuning_job=None)
    first = world.run().evaluate(plan(), TUNING)
    assert first.promotion is not None
    assert first.promotion.evaluation_job is not None
    world.evidence.metrics[first.promotion.evaluation_job.job_name] = {"validation:auc": 0.96}
    second = world.run().promote(plan(), TUNING, first, {"jobName": "x"})
    assert second.promotion is not None
    assert second.promotion.outcome is PromotionOutcome.KEPT_CHAMPION
    assert second.promotion.champion_value == 0.96
    assert world.registry.requests == []


def test_a_failed_champion_evaluation_keeps_the_champion_and_says_why() -> None:
    world = World()
    world.data("v2", "sha256:v2")
    world.lineage.set_champion(champion(0.9), expected_tuning_job=None)
    first = world.run().evaluate(plan(), TUNING)
    error = {
        "Error": "TrainingJobFailed",
        "Cause": '{"errorType": "TrainingJobFailed", "errorMessage": "OOM"}',
    }
    second = world.run().promote(plan(), TUNING, first, error)
    assert second.promotion is not None
    assert second.promotion.outcome is PromotionOutcome.KEPT_CHAMPION
    assert "failed (TrainingJobFailed: OOM)" in second.promotion.reason
    assert world.registry.requests == []


def test_the_threshold_fallback_promotes_across_datasets_and_the_notification_says_so() -> None:
    world = World(promotion={"cross_dataset": "threshold", "threshold": 0.9})
    world.data("v2", "sha256:v2")
    world.lineage.set_champion(champion(0.99), expected_tuning_job=None)
    p = plan()
    evaluation = world.run().evaluate(p, TUNING)
    assert evaluation.promotion is not None
    assert evaluation.promotion.outcome is PromotionOutcome.PROMOTED
    assert evaluation.promotion.crossed_datasets
    assert evaluation.promotion.evaluation_job is None
    text, _ = notification_text(evaluation, p)
    assert "the comparison crossed datasets" in text
    assert "champion cancer" not in text
    assert "validation:auc = 0.99 on dataset v1" in text


def test_a_retried_evaluate_registers_once() -> None:
    world = World()
    world.data("v2", "sha256:v2")
    first = world.run().evaluate(plan(), TUNING)
    again = world.run().evaluate(plan(), TUNING)
    assert len(world.registry.requests) == 1
    assert first.promotion is not None
    assert again.promotion is not None
    assert again.promotion.outcome is PromotionOutcome.PROMOTED
    assert again.promotion.model_package_arn == first.promotion.model_package_arn
    assert len(world.lineage.champion_history) == 1


def test_an_empty_leaderboard_is_diagnosed_with_the_nearest_log_line() -> None:
    world = World()
    name = f"{JOB}-001-00000001"
    world.sagemaker.trials[JOB] = []
    request = {
        "HyperParameterTuningJobName": JOB,
        "HyperParameterTuningJobConfig": {
            "Strategy": "Bayesian",
            "HyperParameterTuningJobObjective": {"Type": "Maximize", "MetricName": "validation:auc"},
            "ResourceLimits": {"MaxNumberOfTrainingJobs": 2, "MaxParallelTrainingJobs": 1},
        },
        "TrainingJobDefinition": {
            "AlgorithmSpecification": {
                "TrainingImage": "xgboost:1",
                "TrainingInputMode": "File",
                "MetricDefinitions": [{"Name": "validation:auc", "Regex": "validation_auc=([0-9.]+)"}],
            }
        },
    }
    world.evidence = Evidence(
        describe={**request, "HyperParameterTuningJobStatus": "Completed"},
        trials=[{"TrainingJobName": name, "TrainingJobStatus": "Completed"}],
    )
    world.logs[name] = ["train: 455 rows", "[0]\ttrain-auc:0.98\tvalidation-auc:0.95"]
    tuning = TuningResult(job_name=JOB, status="Completed", objective_metric="validation:auc")
    evaluation = world.run().evaluate(plan(), tuning)
    assert evaluation.outcome is Outcome.NO_RESULT
    (finding,) = [f for f in evaluation.diagnosis if f.rule == "AMT401"]
    assert "validation-auc:0.95" in finding.message
    assert "validation-auc:0.95" in evaluation.reason
    assert evaluation.promotion is None
    text, attributes = notification_text(evaluation, plan())
    assert "Diagnosis (1 finding(s)):" in text
    assert "AMT401" in text
    assert "promotion" not in attributes


def test_without_a_readable_log_the_diagnosis_says_so() -> None:
    world = World()
    world.sagemaker.trials[JOB] = []
    world.evidence = Evidence(
        describe={"HyperParameterTuningJobName": JOB, "HyperParameterTuningJobConfig": {}},
        trials=[{"TrainingJobName": "t-1", "TrainingJobStatus": "Completed"}],
    )
    tuning = TuningResult(job_name=JOB, status="Completed", objective_metric="validation:auc")
    evaluation = world.run().evaluate(plan(), tuning)
    (finding,) = evaluation.diagnosis
    assert "could not be read" in finding.message


def test_every_trial_failing_is_grouped_by_reason() -> None:
    world = World()
    world.sagemaker.trials[JOB] = []
    reason = "AlgorithmError: ClientError: hyperparameter 'eta' must be in [0, 1]"
    world.evidence = Evidence(
        describe={"HyperParameterTuningJobName": JOB, "HyperParameterTuningJobConfig": {}},
        trials=[
            {"TrainingJobName": f"t-{i}", "TrainingJobStatus": "Failed", "FailureReason": reason}
            for i in (1, 2, 3)
        ],
    )
    tuning = TuningResult(job_name=JOB, status="Failed", objective_metric="validation:auc")
    evaluation = world.run().evaluate(plan(), tuning)
    (finding,) = evaluation.diagnosis
    assert finding.rule == "AMT402"
    assert f"3 x {reason}" in finding.message


def test_the_evaluation_job_scores_the_champions_model_on_the_new_validation_data_only() -> None:
    world = World()
    world.data("v2", "sha256:v2")
    world.lineage.set_champion(champion(0.99), expected_tuning_job=None)
    first = world.run().evaluate(plan(), TUNING)
    assert first.promotion is not None
    job = first.promotion.evaluation_job
    assert job is not None
    request = evaluation_request(
        load(MODEL, {}),
        job,
        hyperparameters=champion().hyperparameters,
        output_uri="s3://bucket/runs/x/",
        role_arn="arn:aws:iam::123456789012:role/r",
        tags={"amtflow:purpose": "champion-evaluation"},
    )
    channels = {
        c["ChannelName"]: c["DataSource"]["S3DataSource"]["S3Uri"] for c in request["InputDataConfig"]
    }
    assert channels == {
        "model": f"s3://bucket/runs/{MODEL}/{OLD_JOB}/model.tar.gz",
        "validation": f"s3://bucket/datasets/{MODEL}/v2/validation/",
    }
    assert request["HyperParameters"]["amtflow_evaluate_only"] == "true"
    assert request["HyperParameters"]["eta"] == "0.1"
    assert "CheckpointConfig" not in request
    assert request["TrainingJobName"] == job.job_name


def test_a_champion_that_cannot_be_evaluated_is_kept_with_the_reason() -> None:
    world = World()
    world.data("v2", "sha256:v2")
    old = champion(0.5)
    world.lineage.set_champion(
        Champion(**{**old.to_dict(), "model_artifact": "file:///tmp/model.tar.gz"} | _typed(old)),
        expected_tuning_job=None,
    )
    evaluation = world.run().evaluate(plan(), TUNING)
    assert evaluation.promotion is not None
    assert evaluation.promotion.outcome is PromotionOutcome.KEPT_CHAMPION
    assert "cannot be evaluated on the new data" in evaluation.promotion.reason
    assert "is not an S3 URI" in evaluation.promotion.reason
    assert world.registry.requests == []


def _typed(c: Champion) -> dict[str, Any]:
    return {"objective_type": c.objective_type, "promoted_at": c.promoted_at}


@pytest.mark.parametrize(("promotion", "expected"), [({}, "promoted"), ({"threshold": 0.99}, "not_promoted")])
def test_the_runs_lineage_record_says_whether_its_model_was_promoted(
    promotion: dict[str, Any], expected: str
) -> None:
    from amtflow.drift import Action as DriftAction
    from amtflow.drift import Decision, Rule
    from amtflow.lineage import RunOutcome, RunRecord
    from amtflow.lineage import Trigger as RunTrigger

    world = World(promotion=promotion)
    world.data("v2", "sha256:v2")
    decision = Decision(action=DriftAction.TUNE, rule=Rule.NO_CHAMPION, reason="first data", max_jobs=30)
    world.lineage.add_run(
        RunRecord(
            model=MODEL,
            run_id="exec-2",
            started_at=T1,
            trigger=RunTrigger.S3,
            dataset_version="v2",
            data_fingerprint="sha256:v2",
            decision=decision,
            tuning_job=JOB,
            outcome=RunOutcome.COMPLETED,
        )
    )
    world.run().evaluate(plan(), TUNING)
    run = world.lineage.get_run(MODEL, "exec-2")
    assert run is not None
    assert run.outcome.value == expected
