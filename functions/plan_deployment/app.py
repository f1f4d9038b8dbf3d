"""PlanDeployment: read the approved package and the model's deployment section, check them, take the
model's deployment lock."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger, Tracer
from aws_lambda_powertools.utilities.typing import LambdaContext

from amtflow import wiring
from amtflow.app import PlanDeploymentInput
from amtflow.log_format import RedactingFormatter
from amtflow.messages import parse_document

logger = Logger(logger_formatter=RedactingFormatter())
tracer = Tracer()


@logger.inject_lambda_context(correlation_id_path="execution.name")
@tracer.capture_lambda_handler
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    payload = parse_document(PlanDeploymentInput, event, what="deployment plan input")
    plan = wiring.plan_deployment().plan(payload.request, payload.execution)
    logger.info(
        "deployment planned",
        extra={"model": plan.model, "action": plan.action, "endpoint": plan.endpoint, "reason": plan.reason},
    )
    return plan.to_json()
