"""Evaluate: the leaderboard, the best job's details, the outcome."""

from __future__ import annotations

from amtflow.app._ports import TuningService
from amtflow.messages import BestModel, Evaluation, Outcome, Plan, TrialSummary, TuningResult


class EvaluateRun:
    """Builds the :class:`Evaluation` of a finished tuning job."""

    def __init__(self, *, sagemaker: TuningService, leaderboard_size: int = 10) -> None:
        if not 1 <= leaderboard_size <= 100:
            raise ValueError("leaderboard_size must be between 1 and 100")
        self._sagemaker = sagemaker
        self._size = leaderboard_size

    def evaluate(self, plan: Plan, tuning: TuningResult) -> Evaluation:
        objective_type = tuning.objective_type or "Maximize"
        top = self._sagemaker.top_training_jobs(
            tuning.job_name, objective_type=objective_type, limit=self._size
        )
        leaderboard = [
            TrialSummary(
                training_job_name=t.name,
                status=t.status,
                objective_value=t.objective_value,
                hyperparameters=dict(t.hyperparameters),
            )
            for t in top
        ]
        best_name = tuning.best.training_job_name if tuning.best else (top[0].name if top else None)
        if best_name is None:
            metric = tuning.objective_metric or "the objective metric"
            counts = ", ".join(f"{k}={v}" for k, v in sorted(tuning.training_jobs.items())) or "none"
            return Evaluation(
                outcome=Outcome.NO_RESULT,
                objective_metric=tuning.objective_metric,
                objective_type=objective_type,
                reason=(
                    f"no training job of {tuning.job_name} reported {metric} (training jobs: {counts}): "
                    "check that the MetricDefinitions regex matches a line of the training log"
                ),
            )
        details = self._sagemaker.describe_training_job(best_name)
        best_value = tuning.best.objective_value if tuning.best else top[0].objective_value
        best = BestModel(
            training_job_name=best_name,
            objective_value=best_value,
            hyperparameters=dict(details.hyperparameters)
            if not tuning.best
            else dict(tuning.best.hyperparameters),
            model_artifacts=details.model_artifacts,
            training_image=details.training_image,
            training_seconds=details.training_seconds,
        )
        return Evaluation(
            outcome=Outcome.SUCCEEDED,
            objective_metric=tuning.objective_metric,
            objective_type=objective_type,
            leaderboard=leaderboard,
            best=best,
            reason=f"best of {len(leaderboard)} ranked training job(s) of {tuning.job_name} for {plan.model}",
        )
