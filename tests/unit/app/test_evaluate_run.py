"""EvaluateRun: the leaderboard, the best job's details, and an explained empty result."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from app_fakes import MODEL, SageMaker, trial

from amtflow.app import EvaluateRun
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
