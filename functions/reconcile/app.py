"""Reconcile: renew the leases of running runs, and close parked task tokens whose tuning job has ended
(SageMaker events are best effort)."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from amtflow.app import compose, summarize, summarize_leases
from amtflow.log_format import RedactingFormatter

logger = Logger(logger_formatter=RedactingFormatter())
tracer = Tracer()
metrics = Metrics()


@logger.inject_lambda_context(correlation_id_path=correlation_paths.EVENT_BRIDGE)
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    leases = compose.renew_leases().renew()
    for lease in leases:
        logger.info(
            "lease",
            extra={
                "model": lease.model,
                "owner": lease.owner,
                "outcome": lease.outcome.value,
                "why": lease.reason,
            },
        )
    results = compose.close_tuning_jobs().reconcile()
    for r in results:
        logger.info("reconciled", extra={"job": r.job_name, "outcome": r.outcome.value, "why": r.reason})
    counts = summarize(results)
    metrics.add_metric(name="ParkedJobsSwept", unit=MetricUnit.Count, value=len(results))
    return {"parked": len(results), "outcomes": counts, "leases": summarize_leases(leases)}
