"""Notify: one SNS message per run outcome (success, skip, rejection, failure)."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from amtflow.app import compose, parse_notify_input

logger = Logger()
tracer = Tracer()
metrics = Metrics()


@logger.inject_lambda_context(correlation_id_path="execution.name")
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    payload = parse_notify_input(event)
    result = compose.notify_run().notify(
        payload.state, execution_id=payload.execution.id or payload.execution.name
    )
    logger.info("notified", extra={"outcome": result.outcome.value, "messageId": result.message_id})
    metrics.add_dimension(name="outcome", value=result.outcome.value)
    metrics.add_metric(name="RunOutcomes", unit=MetricUnit.Count, value=1)
    return {"messageId": result.message_id, "outcome": result.outcome.value}
