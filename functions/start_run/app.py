"""StartRun: route S3 marker objects, the schedule and drift events to executions of the state machine.

Idempotent per EventBridge event: a redelivered event gets the first delivery's answer.
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from amtflow import wiring
from amtflow.log_format import RedactingFormatter

logger = Logger(logger_formatter=RedactingFormatter())
tracer = Tracer()
metrics = Metrics()


@logger.inject_lambda_context(correlation_id_path=correlation_paths.EVENT_BRIDGE)
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    result = wiring.start_run_once()(event, context)
    if result["ignored"]:
        logger.info("nothing started", extra={"why": result["ignored"]})
    for started in result["executions"]:
        logger.info("execution", extra={"execution": started["name"], "outcome": started["outcome"]})
    metrics.add_metric(
        name="RunsTriggered",
        unit=MetricUnit.Count,
        value=sum(1 for e in result["executions"] if e["outcome"] == "started"),
    )
    return result
