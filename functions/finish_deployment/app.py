"""FinishDeployment: record the deployment in the lineage, prune old endpoint configurations, notify once."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from amtflow import wiring
from amtflow.app import FinishDeploymentInput
from amtflow.log_format import RedactingFormatter
from amtflow.messages import parse_document

logger = Logger(logger_formatter=RedactingFormatter())
tracer = Tracer()
metrics = Metrics()


@logger.inject_lambda_context(correlation_id_path="execution.name")
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    payload = parse_document(FinishDeploymentInput, event, what="finish-deployment input")
    finished = wiring.finish_deployment().finish(payload.state, payload.execution)
    outcome, record = finished.outcome.value, finished.record
    logger.info("deployment finished", extra={"outcome": outcome})
    metrics.add_dimension(name="outcome", value=outcome)
    metrics.add_metric(name="Deployments", unit=MetricUnit.Count, value=1)
    return {"outcome": outcome, "endpoint": record.endpoint if record is not None else None}
