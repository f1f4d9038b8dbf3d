"""Tuning runs read back through the SageMaker API, written as HTML with plots and as JSON."""

from amtflow.local.apps.report._report import (
    Trial,
    TuningRun,
    collect_runs,
    decision_text,
    drift_text,
    promotion_text,
    write_report,
)

__all__ = [
    "Trial",
    "TuningRun",
    "collect_runs",
    "decision_text",
    "drift_text",
    "promotion_text",
    "write_report",
]
