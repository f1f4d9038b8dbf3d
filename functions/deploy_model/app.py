"""DeployModel: create the model and a new endpoint configuration, park the task token, create the endpoint
or update it blue/green (the endpoint's state-change event completes the task)."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger, Tracer
from aws_lambda_powertools.utilities.typing import LambdaContext

from amtflow import wiring
from amtflow.app import DeployInput
from amtflow.log_format import RedactingFormatter
from amtflow.messages import parse_document

logger = Logger(logger_formatter=RedactingFormatter())
tracer = Tracer()


@logger.inject_lambda_context(correlation_id_path="plan.execution.name")
@tracer.capture_lambda_handler
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    payload = parse_document(DeployInput, event, what="deploy input")
    done = wiring.deploy_model().deploy(payload.plan, payload.task_token)
    logger.info("deployment started", extra={"endpoint": payload.plan.endpoint, "done": done})
    return {"endpoint": payload.plan.endpoint, "done": done}
