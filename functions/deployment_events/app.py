"""DeploymentEvents: an approved model package starts its deployment; an endpoint's state change completes
the deployment waiting for it."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from amtflow import wiring
from amtflow.app import function_account
from amtflow.log_format import RedactingFormatter

logger = Logger(logger_formatter=RedactingFormatter())
tracer = Tracer()
metrics = Metrics()


@logger.inject_lambda_context(correlation_id_path=correlation_paths.EVENT_BRIDGE)
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    result = wiring.deployment_events().on_event(event, account=function_account(context))
    logger.info(
        "deployment event handled",
        extra={"subject": result.subject, "outcome": result.outcome.value, "why": result.reason},
    )
    metrics.add_dimension(name="outcome", value=result.outcome.value)
    metrics.add_metric(name="DeploymentEvents", unit=MetricUnit.Count, value=1)
    return {"subject": result.subject, "outcome": result.outcome.value, "reason": result.reason}
