"""Notify: one SNS message per run outcome (success, skip, rejection, failure)."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from amtflow import wiring
from amtflow.app import NotifyResult, parse_notify_input
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
        delivery = wiring.notify_run().notify_queued(payload.state, execution_id=execution_id)
        logger.info(
            "notified",
            extra={"outcome": "queued", "messageId": delivery.message_id, "suppressed": delivery.suppressed},
        )
        metrics.add_metric(name="QueuedForQuota", unit=MetricUnit.Count, value=1)
        queued: dict[str, Any] = {"messageId": delivery.message_id, "outcome": "queued"}
        if delivery.suppressed:
            queued["suppressed"] = delivery.suppressed
        return queued
    result = wiring.notify_run().notify(payload.state, execution_id=execution_id)
    logger.info(
        "notified",
        extra={
            "outcome": result.outcome.value,
            "messageId": result.message_id,
            "suppressed": result.suppressed,
        },
    )
    record_figures(result)
    output: dict[str, Any] = {"messageId": result.message_id, "outcome": result.outcome.value}
    if result.suppressed:
        output["suppressed"] = result.suppressed
    return output


def record_figures(result: NotifyResult) -> None:
    """The run's outcome count per model and outcome (with the suppressed notification, if the profile's
    ``notifications.outcomes`` did not select it), then its figures per model. One flush shares its
    dimensions, so the outcome count is flushed on its own (a flush honours POWERTOOLS_METRICS_DISABLED,
    which a single_metric block would not), and the model dimension is added only with figures: Powertools
    keeps the dimensions of a flush without metrics for the next invocation."""
    metrics.add_dimension(name="model", value=result.model)
    metrics.add_dimension(name="outcome", value=result.outcome.value)
    metrics.add_metric(name="RunOutcomes", unit=MetricUnit.Count, value=1)
    if result.suppressed:
        metrics.add_metric(name="NotificationsSuppressed", unit=MetricUnit.Count, value=1)
    metrics.flush_metrics()
    if result.has_figures:
        metrics.add_dimension(name="model", value=result.model)
    if result.trials_completed is not None:
        metrics.add_metric(name="TrialsCompleted", unit=MetricUnit.Count, value=result.trials_completed)
    if result.trials_failed is not None:
        metrics.add_metric(name="TrialsFailed", unit=MetricUnit.Count, value=result.trials_failed)
    if result.data_to_notification_seconds is not None:
        metrics.add_metric(
            name="DataToNotificationSeconds",
            unit=MetricUnit.Seconds,
            value=result.data_to_notification_seconds,
        )
    if result.run_cost_usd is not None:
        metrics.add_metric(name="RunCostUsd", unit=MetricUnit.NoUnit, value=result.run_cost_usd)
    if result.month_to_date_usd is not None:
        metrics.add_metric(name="MonthToDateUsd", unit=MetricUnit.NoUnit, value=result.month_to_date_usd)
