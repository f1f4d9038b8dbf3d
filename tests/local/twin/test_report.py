"""The demo report: leaderboard order, convergence and the files written."""

from __future__ import annotations

import json
from pathlib import Path

from amtflow.local.twin._report import Trial, TuningRun, write_report


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
