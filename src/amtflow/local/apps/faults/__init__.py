"""The fault-injection suite: duplicated and lost events, throttled SageMaker calls and crashing trials in
a twin run, and the figures that say whether the application still ran each dataset version exactly once."""

from amtflow.local.apps.faults._faults import (
    FAULT_IMAGE,
    REPORT_KEYS,
    TRIAL_SCRIPT,
    FaultCounts,
    FaultInjector,
    FaultPlan,
    FaultSuiteResult,
    RunView,
    fault_profile,
    fault_report,
    run_fault_suite,
)

__all__ = [
    "FAULT_IMAGE",
    "REPORT_KEYS",
    "TRIAL_SCRIPT",
    "FaultCounts",
    "FaultInjector",
    "FaultPlan",
    "FaultSuiteResult",
    "RunView",
    "fault_profile",
    "fault_report",
    "run_fault_suite",
]
