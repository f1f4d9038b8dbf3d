"""StartTuning: lint the compiled request, park the task token, create the tuning job."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from amtflow import wiring
from amtflow.app import StartTuningInput
from amtflow.log_format import RedactingFormatter
from amtflow.messages import parse_document

logger = Logger(logger_formatter=RedactingFormatter())
tracer = Tracer()
metrics = Metrics()


@logger.inject_lambda_context(correlation_id_path="plan.execution.name")
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    payload = parse_document(StartTuningInput, event, what="start-tuning input")
    started = wiring.start_tuning().start(payload.plan, payload.task_token)
    logger.info("tuning job started", extra={"job": started.job_name, "jobCreated": started.created})
    for warning in started.warnings:
        logger.warning(warning)
    metrics.add_metric(name="TuningJobsStarted", unit=MetricUnit.Count, value=1 if started.created else 0)
    return {"jobName": started.job_name, "created": started.created, "warnings": list(started.warnings)}
