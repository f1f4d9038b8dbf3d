"""Plan: resolve the model's profile, decide the action, take the per-model lock."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from amtflow import wiring
from amtflow.app import PlanInput
from amtflow.log_format import RedactingFormatter
from amtflow.messages import parse_document

logger = Logger(logger_formatter=RedactingFormatter())
tracer = Tracer()
metrics = Metrics()


@logger.inject_lambda_context(correlation_id_path="execution.name")
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    payload = parse_document(PlanInput, event, what="plan input")
    plan = wiring.plan_run().plan(payload.request, payload.execution)
    logger.info("planned", extra={"model": plan.model, "action": plan.action.value, "reason": plan.reason})
    metrics.add_dimension(name="trigger", value=plan.trigger.value)
    metrics.add_metric(name="RunsStarted", unit=MetricUnit.Count, value=1)
    return plan.to_json()
