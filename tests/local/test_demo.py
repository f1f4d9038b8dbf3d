"""``amtflow demo --quick`` runs the application end to end in the twin, with real training."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from amtflow.local.cli import main

ROOT = Path(__file__).resolve().parents[2]

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not (ROOT / "template.yaml").is_file(), reason="template.yaml not written yet"),
]


def test_quick_demo_tunes_notifies_skips_the_idle_tick_and_writes_a_report(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "report"

    code = main(["demo", "--quick", "--out", str(out), "--project", str(ROOT)])

    printed = capsys.readouterr().out
    assert code == 0, printed
    report = json.loads((out / "report.json").read_text())
    (execution,) = report["executions"]
    assert execution["status"] == "SUCCEEDED"
    assert {"Plan", "StartTuning", "Evaluate", "Notify"} <= set(execution["states"])
    (run,) = report["runs"]
    assert run["strategy"] == "Bayesian"
    assert run["status"] == "Completed"
    assert len(run["trials"]) == 4
    objectives = [t["objective"] for t in run["trials"]]
    assert all(0.5 < o <= 1.0 for o in objectives)  # validation AUC of real XGBoost trials
    assert run["bestObjective"] == max(objectives)
    assert run["bestSoFar"][-1] == max(objectives)
    (note,) = report["notifications"]
    assert "tuning succeeded" in note["subject"]
    assert note["attributes"] == {"model": "cancer-xgb", "outcome": "succeeded"}
    assert json.loads(note["message"])["model"] == "cancer-xgb"
    # the timeline, as printed
    assert "put datasets/cancer-xgb/v1/_READY" in printed
    assert printed.count("] trial    [") == 4
    assert "Subject: amtflow: cancer-xgb - tuning succeeded" in printed
    assert "scheduled tick with no new data: skipped" in printed
    assert f"{out / 'index.html'} (and report.json)" in printed
    page = (out / "index.html").read_text()
    assert page.count("data:image/png;base64,") == 3  # convergence, leaderboard, hyperparameter effects


def test_demo_outside_a_project_says_where_to_run_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(["demo", "--quick", "--project", str(tmp_path)])

    assert code == 2
    assert "no template.yaml" in capsys.readouterr().err
