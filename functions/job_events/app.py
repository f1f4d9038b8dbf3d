"""JobEvents: a tuning job or a retraining job of this stack ended; complete the run's waiting task."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.data_classes import EventBridgeEvent
from aws_lambda_powertools.utilities.typing import LambdaContext

from amtflow.app import TrainingJobStateChange, TuningJobStateChange, compose
from amtflow.log_format import RedactingFormatter
from amtflow.messages import parse_document

logger = Logger(logger_formatter=RedactingFormatter())
tracer = Tracer()
metrics = Metrics()

TRAINING_JOB_STATE_CHANGE = "SageMaker Training Job State Change"


@logger.inject_lambda_context(correlation_id_path=correlation_paths.EVENT_BRIDGE)
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    envelope = EventBridgeEvent(event)
    if envelope.detail_type == TRAINING_JOB_STATE_CHANGE:
        training = parse_document(TrainingJobStateChange, envelope.detail, what="detail")
        status = training.status
        result = compose.close_training_jobs().on_state_change(
            training.job_name, training.status, training.tuning_job_arn
        )
    else:
        tuning = parse_document(TuningJobStateChange, envelope.detail, what="detail")
        status = tuning.status
        result = compose.close_tuning_jobs().on_state_change(tuning.job_name, tuning.status)
    logger.info(
        "job event handled",
        extra={
            "job": result.job_name,
            "status": status,
            "outcome": result.outcome.value,
            "why": result.reason,
        },
    )
    metrics.add_dimension(name="outcome", value=result.outcome.value)
    metrics.add_metric(name="JobEvents", unit=MetricUnit.Count, value=1)
    return {"jobName": result.job_name, "outcome": result.outcome.value, "reason": result.reason}
