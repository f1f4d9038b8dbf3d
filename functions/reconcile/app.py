"""Reconcile: renew the leases of running runs, close parked task tokens whose tuning job has ended
(SageMaker events are best effort), and notify (or stop) running tuning jobs that stalled (the profiles'
``monitoring``)."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from amtflow import wiring
from amtflow.app import CloseOutcome, function_account, summarize, summarize_leases
from amtflow.log_format import RedactingFormatter

logger = Logger(logger_formatter=RedactingFormatter())
tracer = Tracer()
metrics = Metrics()


@logger.inject_lambda_context(correlation_id_path=correlation_paths.EVENT_BRIDGE)
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    results, ignored = wiring.close_tuning_jobs().on_sweep_event(event, account=function_account(context))
    if ignored:
        logger.info("nothing swept", extra={"why": ignored})
        return {"parked": 0, "outcomes": {}, "ignored": ignored}
    leases = wiring.renew_leases().renew()
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
    for r in results:
        logger.info("reconciled", extra={"job": r.job_name, "outcome": r.outcome.value, "why": r.reason})
    deployments = wiring.close_deployments().sweep()
    for d in deployments:
        logger.info("reconciled", extra={"endpoint": d.subject, "outcome": d.outcome.value, "why": d.reason})
    counts = summarize(results)
    metrics.add_metric(name="ParkedJobsSwept", unit=MetricUnit.Count, value=len(results) + len(deployments))
    metrics.add_metric(
        name="StalledJobs", unit=MetricUnit.Count, value=counts.get(CloseOutcome.STALLED.value, 0)
    )
    return {
        "parked": len(results),
        "outcomes": counts,
        "leases": summarize_leases(leases),
        "deployments": {d.subject: d.outcome.value for d in deployments},
    }
