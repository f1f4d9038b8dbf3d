"""Notify: one SNS message per run outcome (success, skip, rejection, failure)."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from amtflow import wiring
from amtflow.app import parse_notify_input
from amtflow.log_format import RedactingFormatter

logger = Logger(logger_formatter=RedactingFormatter())
tracer = Tracer()
metrics = Metrics()


@logger.inject_lambda_context(correlation_id_path="execution.name")
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    payload = parse_notify_input(event)
    execution_id = payload.execution.id or payload.execution.name
    if payload.notice == "queued":
        message_id = wiring.notify_run().notify_queued(payload.state, execution_id=execution_id)
        logger.info("notified", extra={"outcome": "queued", "messageId": message_id})
        metrics.add_metric(name="QueuedForQuota", unit=MetricUnit.Count, value=1)
        return {"messageId": message_id, "outcome": "queued"}
    result = wiring.notify_run().notify(payload.state, execution_id=execution_id)
    logger.info("notified", extra={"outcome": result.outcome.value, "messageId": result.message_id})
    metrics.add_dimension(name="outcome", value=result.outcome.value)
    metrics.add_metric(name="RunOutcomes", unit=MetricUnit.Count, value=1)
    return {"messageId": result.message_id, "outcome": result.outcome.value}
