"""EvaluateRun: the leaderboard, the best job's details, and an explained empty result."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from app_fakes import MODEL, SageMaker, trial

from amtflow.app import EvaluateRun, TrainingJobSummary
from amtflow.app._evaluate import LEADERBOARD_BYTES, within_budget
from amtflow.messages import Action, ExecutionRef, Outcome, Plan, TrialSummary, Trigger, TuningResult

JOB = "amtf-cancer-xgb-0badc0de"
PLAN = Plan(
    model=MODEL,
    action=Action.TUNE,
    reason="test",
    trigger=Trigger.MANUAL,
    dataset_version="v1",
    job_name=JOB,
    execution=ExecutionRef(name="exec-1"),
    planned_at=datetime(2026, 11, 1, tzinfo=UTC),
)


def tuning(objective_type: str = "Maximize", best: TrialSummary | None = None) -> TuningResult:
    return TuningResult(
        job_name=JOB,
        status="Completed",
        objective_metric="validation:auc",
        objective_type=objective_type,
        best=best,
        training_jobs={"Completed": 3, "NonRetryableError": 1},
    )


def test_leaderboard_is_ranked_by_objective_and_the_best_is_described() -> None:
    sm = SageMaker()
    sm.trials[JOB] = [
        trial("t1", 0.91, eta="0.1"),
        trial("t2", 0.95, eta="0.2"),
        trial("t3", 0.93, eta="0.3"),
    ]
    best = TrialSummary(
        training_job_name="t2", status="Completed", objective_value=0.95, hyperparameters={"eta": "0.2"}
    )
    evaluation = EvaluateRun(sagemaker=sm, leaderboard_size=2).evaluate(PLAN, tuning(best=best))

    assert evaluation.outcome is Outcome.SUCCEEDED
    assert [t.training_job_name for t in evaluation.leaderboard] == ["t2", "t3"]
    assert evaluation.best is not None
    assert evaluation.best.training_job_name == "t2"
    assert evaluation.best.objective_value == 0.95
    assert evaluation.best.hyperparameters == {"eta": "0.2"}
    assert evaluation.best.model_artifacts == "s3://bucket/runs/t2/output/model.tar.gz"
    assert sm.list_calls == [(JOB, "Maximize", 2)]


def test_a_minimized_objective_ranks_ascending() -> None:
    sm = SageMaker()
    sm.trials[JOB] = [trial("t1", 0.3), trial("t2", 0.1), trial("t3", 0.2)]
    evaluation = EvaluateRun(sagemaker=sm).evaluate(PLAN, tuning("Minimize"))
    assert [t.training_job_name for t in evaluation.leaderboard] == ["t2", "t3", "t1"]
    assert evaluation.best is not None
    assert evaluation.best.training_job_name == "t2"
    # without BestTrainingJob the described job's hyperparameters are reported
    assert evaluation.best.hyperparameters["objective"] == "binary:logistic"


def test_no_objective_reported_is_no_result_with_a_diagnosis() -> None:
    sm = SageMaker()
    sm.trials[JOB] = []  # the job exists and none of its trials reported the objective
    evaluation = EvaluateRun(sagemaker=sm).evaluate(PLAN, tuning())
    assert evaluation.outcome is Outcome.NO_RESULT
    assert evaluation.best is None
    assert evaluation.leaderboard == []
    assert "validation:auc" in evaluation.reason
    assert "MetricDefinitions" in evaluation.reason
    assert "NonRetryableError=1" in evaluation.reason


@pytest.mark.parametrize("size", [0, 101])
def test_leaderboard_size_is_bounded(size: int) -> None:
    with pytest.raises(ValueError, match="leaderboard_size"):
        EvaluateRun(sagemaker=SageMaker(), leaderboard_size=size)


def test_a_leaderboard_too_large_for_the_run_document_keeps_the_top_that_fits() -> None:
    sm = SageMaker()
    long_values = {f"option_{p:02d}": "v" * 200 for p in range(30)}  # 30 tuned values of 200 characters
    sm.trials[JOB] = [trial(f"t{i:03d}", i / 100, **long_values) for i in range(100)]
    counts = TuningResult(
        job_name=JOB, status="Completed", objective_metric="validation:auc", training_jobs={"Completed": 500}
    )

    evaluation = EvaluateRun(sagemaker=sm, leaderboard_size=100).evaluate(PLAN, counts)

    shown = evaluation.leaderboard
    assert 1 < len(shown) < 100
    assert [t.training_job_name for t in shown] == [f"t{i:03d}" for i in range(99, 99 - len(shown), -1)]
    assert sum(len(t.model_dump_json(by_alias=True)) + 1 for t in shown) <= LEADERBOARD_BYTES
    assert evaluation.best is not None
    assert evaluation.best.training_job_name == "t099"
    assert f"top {len(shown)} of 500" in evaluation.reason
    assert "ListTrainingJobsForHyperParameterTuningJob" in evaluation.reason


def test_the_best_trial_stays_on_the_leaderboard_even_when_it_alone_exceeds_the_budget() -> None:
    huge = TrialSummary(
        training_job_name="t1",
        status="Completed",
        objective_value=0.9,
        hyperparameters={"config": "x" * (LEADERBOARD_BYTES + 1)},
    )
    small = TrialSummary(training_job_name="t2", status="Completed", objective_value=0.8)

    assert within_budget([huge, small]) == [huge]
    assert within_budget([small, small]) == [small, small]
    assert within_budget([]) == []


def test_a_job_whose_every_trial_failed_is_not_blamed_on_the_metric_regex() -> None:
    sm = SageMaker()
    sm.trials[JOB] = []
    failed = TuningResult(
        job_name=JOB,
        status="Failed",
        objective_metric="validation:auc",
        training_jobs={"Completed": 0, "NonRetryableError": 4},
    )
    evaluation = EvaluateRun(sagemaker=sm).evaluate(PLAN, failed)
    assert evaluation.outcome is Outcome.NO_RESULT
    assert "MetricDefinitions" not in evaluation.reason
    assert f"no training job of {JOB} finished (training jobs: Completed=0, NonRetryableError=4)" in (
        evaluation.reason
    )


def test_a_multi_algorithm_leaderboard_names_each_trials_algorithm_and_the_winners() -> None:
    sm = SageMaker()
    sm.trials[JOB] = [
        TrainingJobSummary("t1", "Completed", 0.91, {"eta": "0.1"}, definition_name="xgboost"),
        TrainingJobSummary("t2", "Completed", 0.95, {"alpha": "0.01"}, definition_name="mlp"),
    ]
    evaluation = EvaluateRun(sagemaker=sm).evaluate(PLAN, tuning())
    assert [(t.training_job_name, t.definition_name) for t in evaluation.leaderboard] == [
        ("t2", "mlp"),
        ("t1", "xgboost"),
    ]
    assert evaluation.best is not None
    assert evaluation.best.definition_name == "mlp"
    assert evaluation.leaderboard[0].to_json()["definitionName"] == "mlp"
