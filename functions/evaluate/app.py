"""Evaluate: the leaderboard and diagnosis of a finished job, challenger vs champion, registration."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from amtflow import wiring
from amtflow.app import EvaluateRequest
from amtflow.log_format import RedactingFormatter
from amtflow.messages import parse_document

logger = Logger(logger_formatter=RedactingFormatter())
tracer = Tracer()
metrics = Metrics()


@logger.inject_lambda_context(correlation_id_path="plan.execution.name")
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    payload = parse_document(EvaluateRequest, event, what="evaluate input")
    evaluation = wiring.evaluate_run().run(payload)
    promotion = evaluation.promotion.outcome.value if evaluation.promotion else None
    logger.info(
        "evaluated",
        extra={
            "model": payload.plan.model,
            "outcome": evaluation.outcome.value,
            "promotion": promotion,
            "findings": len(evaluation.diagnosis),
        },
    )
    metrics.add_dimension(name="model", value=payload.plan.model)
    first = payload.evaluation is None  # not again after the champion's evaluation job: once per run
    if first and evaluation.best is not None and evaluation.best.objective_value is not None:
        metrics.add_metric(
            name="BestObjective", unit=MetricUnit.NoUnit, value=evaluation.best.objective_value
        )
    if first and payload.tuning.runtime_seconds is not None:
        metrics.add_metric(
            name="TuningRuntime", unit=MetricUnit.Seconds, value=payload.tuning.runtime_seconds
        )
    return evaluation.to_json()
