"""StartChampionEvaluation: create the job that scores the champion on the new validation data, park the
task token (the training job's state-change event completes the task)."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from amtflow import wiring
from amtflow.app import ChampionEvaluationRequest
from amtflow.log_format import RedactingFormatter
from amtflow.messages import parse_document

logger = Logger(logger_formatter=RedactingFormatter())
tracer = Tracer()
metrics = Metrics()


@logger.inject_lambda_context(correlation_id_path="plan.execution.name")
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    payload = parse_document(ChampionEvaluationRequest, event, what="champion-evaluation input")
    started = wiring.start_champion_evaluation().start(payload.plan, payload.job, payload.task_token)
    logger.info("champion evaluation started", extra={"job": started.job_name, "jobCreated": started.created})
    metrics.add_metric(
        name="ChampionEvaluationsStarted", unit=MetricUnit.Count, value=1 if started.created else 0
    )
    return {"jobName": started.job_name, "created": started.created}
