"""The quick fault-injection suite: duplicated, lost and throttled events and crashing trials, in the twin.

Two models, two dataset versions each, through the real template, ASL and handlers with the local engine:
every event delivered three times, 10% of SageMaker's events lost, 20% of SageMaker call attempts throttled,
5% of trials crashing. Every dataset version gets exactly one run, every run ends and is notified once, no
tuning job is left running or unaccounted for.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from amtflow.local.apps.faults import REPORT_KEYS, FaultPlan, run_fault_suite

ROOT = Path(__file__).resolve().parents[3]


@pytest.fixture(scope="module")
def suite() -> object:
    return run_fault_suite(ROOT, models=2, versions=2, plan=FaultPlan(seed=7), deadline_seconds=240)


def test_every_dataset_version_gets_exactly_one_run_that_ends_and_is_notified_once(suite: object) -> None:
    report = suite.report  # type: ignore[attr-defined]
    assert tuple(report) == REPORT_KEYS
    assert report == {
        "dataset_versions": 4,
        "runs": 4,
        "duplicate_runs": 0,
        "non_terminal_executions": 0,
        "runs_without_one_notification": 0,
        "orphaned_tuning_jobs": 0,
        "lineage_mismatches": 0,
    }, suite.unfinished  # type: ignore[attr-defined]


def test_the_faults_really_happened(suite: object) -> None:
    counts = suite.counts  # type: ignore[attr-defined]
    assert counts["extra_deliveries"] == 2 * counts["deliveries"] // 3  # every delivery three times
    assert counts["sagemaker_events_dropped"] >= 1
    assert counts["throttled_attempts"] >= 1
    assert suite.sweeps >= 1  # type: ignore[attr-defined]
