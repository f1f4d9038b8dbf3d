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


def test_quick_demo_tells_the_whole_story_and_writes_a_report(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "report"

    code = main(["demo", "--quick", "--out", str(out), "--project", str(ROOT)])

    printed = capsys.readouterr().out
    assert code == 0, printed
    report = json.loads((out / "report.json").read_text())
    v1, rejected, v2 = report["executions"]
    # 1. dataset v1 -> real Bayesian tuning -> evaluate -> notify
    assert v1["status"] == "SUCCEEDED"
    assert v1["input"]["datasetVersion"] == "v1"
    assert {"Plan", "StartTuning", "Evaluate", "Notify"} <= set(v1["states"])
    first, second = report["runs"]
    for run in (first, second):
        assert run["strategy"] == "Bayesian"
        assert run["status"] == "Completed"
        assert len(run["trials"]) == 4
        objectives = [t["objective"] for t in run["trials"]]
        assert all(0.5 < o <= 1.0 for o in objectives)  # validation AUC of real XGBoost trials
        assert run["bestObjective"] == max(objectives) == run["bestSoFar"][-1]
    # 2. over budget -> rejected by preflight, no tuning job for that model
    assert rejected["status"] == "FAILED"
    assert rejected["error"] == "PreflightRejectedError"
    assert "AMT202" in rejected["cause"]
    assert not any("gpu" in run["jobName"] for run in report["runs"])
    # 4. the lost completion event: the reconciler closed the callback
    assert v2["status"] == "SUCCEEDED"
    assert v2["input"]["datasetVersion"] == "v2"
    subjects = [n["subject"] for n in report["notifications"]]
    assert subjects == [
        "amtflow: cancer-xgb - tuning succeeded",
        "amtflow: cancer-xgb-gpu - tuning job rejected by preflight",
        "amtflow: cancer-xgb - tuning succeeded",
    ]
    assert report["notifications"][1]["attributes"] == {"model": "cancer-xgb-gpu", "outcome": "rejected"}
    # the timeline, as printed
    assert "put datasets/cancer-xgb/v1/_READY" in printed
    assert printed.count("] trial    [") == 8
    assert "Subject: amtflow: cancer-xgb - tuning succeeded" in printed
    assert "scheduled tick with no new data: skipped" in printed
    assert "LOST on purpose: tuning job" in printed
    assert 'Reconcile <- rule ReconcileFunctionSweep: {"parked":1' in printed
    assert printed.count("] check    ok   ") == 4
    assert f"{out / 'index.html'} (and report.json)" in printed
    page = (out / "index.html").read_text()
    assert page.count("data:image/png;base64,") == 6  # convergence, leaderboard, effects per tuning job


def test_demo_outside_a_project_says_where_to_run_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(["demo", "--quick", "--project", str(tmp_path)])

    assert code == 2
    assert "no template.yaml" in capsys.readouterr().err
