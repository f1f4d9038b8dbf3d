"""The demo report: leaderboard order, convergence and the files written."""

from __future__ import annotations

import json
from pathlib import Path

from amtflow.local.apps.report import (
    Trial,
    TuningRun,
    decision_text,
    drift_text,
    promotion_text,
    write_report,
)


def _run(goal: str) -> TuningRun:
    trials = [
        Trial("job-001-a", "Completed", 0.5, {"eta": "0.1", "depth": "3"}, 1.0),
        Trial("job-002-b", "Failed", None, {"eta": "0.3", "depth": "4"}, None),
        Trial("job-003-c", "Completed", 0.7, {"eta": "0.01", "depth": "5"}, 2.0),
        Trial("job-004-d", "Stopped", 0.6, {"eta": "0.2", "depth": "6"}, 0.5),
    ]
    return TuningRun("job", "Bayesian", "validation:auc", goal, "Completed", "job-003-c", 0.7, trials)


def test_leaderboard_ranks_by_goal_and_skips_trials_without_objective() -> None:
    assert [t.name for t in _run("Maximize").leaderboard()] == ["job-003-c", "job-004-d", "job-001-a"]
    assert [t.name for t in _run("Minimize").leaderboard(2)] == ["job-001-a", "job-004-d"]


def test_best_so_far_follows_the_goal() -> None:
    assert _run("Maximize").best_so_far() == [0.5, 0.5, 0.7, 0.7]
    assert _run("Minimize").best_so_far() == [0.5, 0.5, 0.5, 0.5]


def test_report_files_hold_the_same_data(tmp_path: Path) -> None:
    page = write_report(
        tmp_path / "out",
        title="demo <test>",
        runs=[_run("Maximize")],
        timeline=["[ 0.0s] demo start"],
        notifications=[{"subject": "done", "message": '{"a": 1}', "attributes": {"outcome": "ok"}}],
        executions=[{"name": "e1", "status": "SUCCEEDED", "states": ["A", "B"], "lambdaInvocations": 2}],
    )

    data = json.loads((tmp_path / "out" / "report.json").read_text())
    assert data["runs"][0]["leaderboard"] == ["job-003-c", "job-004-d", "job-001-a"]
    assert data["runs"][0]["bestSoFar"] == [0.5, 0.5, 0.7, 0.7]
    html = page.read_text()
    assert "demo &lt;test&gt;" in html
    assert html.count("data:image/png;base64,") == 3
    assert "A → B" in html
    assert "&quot;a&quot;: 1" in html


def test_decision_and_drift_scores_read_as_one_line_each() -> None:
    plan = {
        "action": "tune",
        "warmStart": "TransferLearning",
        "parents": ["amtf-m-aaaa1111"],
        "maxJobs": 8,
        "reason": "moderate drift: warm start with half the budget",
        "drift": {
            "severity": "moderate",
            "maxPsi": 0.1712,
            "drivers": [{"column": "f7", "psi": 0.1712, "severity": "moderate"}],
            "baselineDatasetVersion": "v1",
        },
    }

    assert decision_text(plan) == (
        "tune; TransferLearning warm start from amtf-m-aaaa1111; budget 8 training jobs; "
        "drift moderate vs v1, max PSI 0.171 (f7 0.171) - moderate drift: warm start with half the budget"
    )
    assert decision_text({"action": "tune", "warmStart": "cold", "reason": "new model"}) == (
        "tune; cold start - new model"
    )
    assert decision_text({"action": "skip", "reason": "same data"}) == "skip - same data"
    assert decision_text(None) == ""
    assert drift_text({"severity": "severe", "schemaChanges": ["column f9 added"]}) == (
        "drift severe; schema: column f9 added"
    )
    assert drift_text({"severity": None, "externalSeverity": "moderate"}) == (
        "drift not measured; reported: moderate"
    )


def test_promotion_reads_as_its_outcome_and_reason() -> None:
    evaluation = {"promotion": {"outcome": "kept_champion", "reason": "0.97 < 0.98 on v2"}}
    assert promotion_text(evaluation) == "kept champion - 0.97 < 0.98 on v2"
    assert promotion_text({"outcome": "succeeded"}) == ""
    assert promotion_text(None) == ""


def test_the_report_shows_each_runs_warm_start_decision_and_promotion(tmp_path: Path) -> None:
    run = _run("Maximize")
    run.warm_start_type, run.parents = "TransferLearning", ["parent-job"]
    run.plan = {
        "action": "tune",
        "warmStart": "TransferLearning",
        "parents": ["parent-job"],
        "reason": "drift",
    }
    run.evaluation = {"outcome": "succeeded", "promotion": {"outcome": "promoted", "reason": "better"}}

    page = write_report(
        tmp_path,
        title="t",
        runs=[run],
        timeline=[],
        notifications=[],
        executions=[],
        checks=[("1. v1 tuned", True), ("2. v2 warm-started", False)],
    )

    data = json.loads((tmp_path / "report.json").read_text())
    (written,) = data["runs"]
    assert written["warmStart"] == {"type": "TransferLearning", "parents": ["parent-job"]}
    assert written["decision"] == "tune; TransferLearning warm start from parent-job - drift"
    assert written["promotion"] == "promoted - better"
    assert data["checks"] == [
        {"check": "1. v1 tuned", "ok": True},
        {"check": "2. v2 warm-started", "ok": False},
    ]
    html = page.read_text()
    assert "Warm start (SageMaker): TransferLearning from parent-job" in html
    assert "Decision: tune; TransferLearning warm start from parent-job - drift" in html
    assert "Promotion: promoted - better" in html
    assert "✘ FAILED: 2. v2 warm-started" in html


def test_the_report_shows_the_status_view(tmp_path: Path) -> None:
    from datetime import UTC, datetime

    from amtflow.app import AlarmState, ModelStatus, StatusView

    view = StatusView(
        as_of=datetime(2026, 11, 5, tzinfo=UTC),
        models=[ModelStatus("cancer-xgb", running_jobs=("amtf-cancer-xgb-1",), month_to_date_usd=1.5)],
        alarms=[AlarmState("amtflow-ExecutionsFailed", "1 failed run")],
    )
    page = write_report(
        tmp_path, title="t", runs=[], timeline=[], notifications=[], executions=[], status=view
    )
    text = page.read_text()
    assert "<h2>Status (amtflow status)</h2>" in text
    assert "running:   amtf-cancer-xgb-1" in text
    assert "amtflow-ExecutionsFailed: 1 failed run" in text
    data = json.loads((tmp_path / "report.json").read_text())
    assert data["status"]["models"][0]["runningJobs"] == ["amtf-cancer-xgb-1"]
    assert data["status"]["attention"] == ["alarm amtflow-ExecutionsFailed is in ALARM"]
