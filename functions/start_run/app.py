"""StartRun: route S3 marker objects, the schedule and drift events to executions of the state machine."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from amtflow.app import RouteResult, compose, route_event

logger = Logger()
tracer = Tracer()
metrics = Metrics()


@logger.inject_lambda_context(correlation_id_path=correlation_paths.EVENT_BRIDGE)
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    result: RouteResult = route_event(compose.start_run(), event)
    if result.ignored:
        logger.info("nothing started", extra={"why": result.ignored})
    for started in result.executions:
        logger.info("execution", extra={"execution": started.name, "outcome": started.outcome.value})
    metrics.add_metric(
        name="RunsTriggered",
        unit=MetricUnit.Count,
        value=result.started,
    )
    return {
        "executions": [{"name": e.name, "outcome": e.outcome.value} for e in result.executions],
        "ignored": result.ignored,
    }
