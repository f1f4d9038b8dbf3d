"""``amtflow demo --quick`` runs the application end to end in the twin, with real training."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from amtflow.local.cli import main

ROOT = Path(__file__).resolve().parents[2]

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not (ROOT / "template.yaml").is_file(), reason="template.yaml not written yet"),
]


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """One quick demo, shared by the tests below: its exit code, printed timeline, report and page."""
    out = tmp_path_factory.mktemp("demo") / "report"
    with pytest.MonkeyPatch.context() as mp:
        printed: list[str] = []
        mp.setattr("sys.stdout", _Capture(printed))
        code = main(["demo", "--quick", "--out", str(out), "--project", str(ROOT)])
    return {
        "code": code,
        "printed": "".join(printed),
        "out": out,
        "report": json.loads((out / "report.json").read_text()),
        "page": (out / "index.html").read_text(),
    }


class _Capture:
    def __init__(self, sink: list[str]) -> None:
        self._sink = sink

    def write(self, text: str) -> int:
        self._sink.append(text)
        return len(text)

    def flush(self) -> None:
        pass


def _by_version(report: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {
        e["input"]["datasetVersion"]: e
        for e in report["executions"]
        if e["input"].get("trigger") != "manual"
        and e["input"].get("datasetVersion")
        and e["input"].get("model") == "cancer-xgb"
    }


def test_every_step_of_the_story_turned_out_as_told(demo: dict[str, Any]) -> None:
    assert demo["code"] == 0, demo["printed"][-5000:]
    checks = demo["report"]["checks"]
    assert [c["check"].split(" ", 1)[0] for c in checks] == [
        "1.",
        "2.",
        "3.",
        "4.",
        "5.",
        "6.",
        "6.",
        "6.",
        "7.",
    ]
    assert all(c["ok"] for c in checks), checks
    assert demo["printed"].count("] check    ok   ") == len(checks)


def _runs(report: dict[str, Any], model: str = "cancer-xgb") -> list[dict[str, Any]]:
    return [r for r in report["runs"] if r["plan"]["model"] == model]


def test_each_dataset_version_ran_one_tuning_job_with_real_trials(demo: dict[str, Any]) -> None:
    report = demo["report"]
    runs = _runs(report)
    assert Counter(r["plan"]["datasetVersion"] for r in runs) == {"v1": 1, "v2": 1, "v3": 1}
    for run in runs:
        assert run["strategy"] == "Bayesian"
        assert run["status"] == "Completed"
        assert len(run["trials"]) == run["plan"].get("maxJobs", 4)
        objectives = [t["objective"] for t in run["trials"]]
        assert all(0.0 <= o <= 1.0 for o in objectives)  # validation AUC of real XGBoost trials
        assert max(objectives) > 0.8
        assert run["bestObjective"] == max(objectives) == run["bestSoFar"][-1]
        assert run["plan"]["action"] == "tune"
    v1, _, v3 = runs
    assert v1["decision"].startswith("tune; cold start")
    assert v3["decision"].startswith("tune; cold start")
    assert v3["driftScores"]["severity"] == "severe"
    executions = _by_version(report)
    for version in ("v1", "v2", "v3"):
        assert executions[version]["status"] == "SUCCEEDED"
        assert {"Plan", "StartTuning", "Evaluate", "Notify"} <= set(executions[version]["states"])
        assert executions[version]["plan"]["jobName"] in {r["jobName"] for r in runs}


def test_a_moderate_drift_warm_starts_from_v1s_job_with_a_reduced_budget(demo: dict[str, Any]) -> None:
    v1, v2, _ = _runs(demo["report"])
    assert v1["warmStart"] is None
    assert v2["warmStart"] == {"type": "TransferLearning", "parents": [v1["jobName"]]}
    assert v2["plan"]["warmStart"] == "TransferLearning"
    assert v2["plan"]["parents"] == [v1["jobName"]]
    assert v2["plan"]["maxJobs"] == len(v2["trials"]) < len(v1["trials"])
    assert v2["driftScores"]["severity"] == "moderate"
    assert v2["driftScores"]["baselineDatasetVersion"] == "v1"
    assert v2["decision"].startswith(f"tune; TransferLearning warm start from {v1['jobName']}")
    assert "drift moderate vs v1, max PSI" in v2["decision"]
    printed = demo["printed"]
    assert "reached v1's best validation:auc=" in printed or "did not reach v1's best" in printed


def test_the_console_execution_whose_overrides_lift_the_budget_is_refused_naming_each_key(
    demo: dict[str, Any],
) -> None:
    report = demo["report"]
    (manual,) = [e for e in report["executions"] if e["input"].get("trigger") == "manual"]
    assert manual["status"] == "FAILED"
    assert manual["error"] == "OverridesRefusedError"
    assert "StartTuning" not in manual["states"]
    assert "overrides.budget.max_usd_per_run: not overridable" in manual["cause"]
    (note,) = [n for n in report["notifications"] if n["attributes"].get("outcome") == "failed"]
    assert note["subject"] == "amtflow: cancer-xgb - run failed"
    message = json.loads(note["message"])
    assert message["error"]["type"] == "OverridesRefusedError"
    text = message["error"]["message"]
    text = "\n".join(text) if isinstance(text, list) else text
    assert (
        "overrides.budget.max_usd_per_run: not overridable — budget caps and prices come from the stored "
        "profile; change the profile and push it"
    ) in text
    assert "overrides.training.instance_type: 'ml.p4d.24xlarge' is not an instance type" in text


def test_subscribers_hear_once_per_run_with_the_best_model(demo: dict[str, Any]) -> None:
    report = demo["report"]
    notes = [n for n in report["notifications"] if not n["attributes"]["outcome"].startswith("deployment_")]
    assert [(n["attributes"]["model"], n["attributes"]["outcome"]) for n in notes] == [
        ("cancer-xgb", "succeeded"),
        ("cancer-xgb", "succeeded"),
        ("cancer-xgb", "failed"),
        ("cancer-xgb", "succeeded"),
        ("cancer-xgb-deep", "succeeded"),
    ]
    runs = {r["jobName"]: r for r in report["runs"]}
    for note in (notes[0], notes[1], notes[3]):
        assert note["subject"] == "amtflow: cancer-xgb - tuning succeeded"
        evaluation = json.loads(note["message"])["evaluation"]
        run = runs[evaluation["best"]["trainingJobName"].rsplit("-", 2)[0]]
        assert evaluation["best"]["objectiveValue"] == pytest.approx(run["bestObjective"])
        assert len(evaluation["leaderboard"]) == len(run["trials"])
        assert note["attributes"]["promotion"] == evaluation["promotion"]["outcome"]
        assert run["promotion"].startswith(evaluation["promotion"]["outcome"].replace("_", " "))
    first = json.loads(notes[0]["message"])["evaluation"]["promotion"]
    assert first["outcome"] == "promoted"
    assert "no champion yet" in first["reason"]
    assert first["modelPackageGroup"] == "amtf-cancer-xgb"
    later = json.loads(notes[1]["message"])["evaluation"]["promotion"]
    assert later["championJob"] == first["challengerJob"]
    # Like with like: the champion was scored on the new data by an evaluation job.
    assert later["crossedDatasets"] is False
    assert later["championValueDatasetVersion"] == later["challengerDatasetVersion"] == "v2"
    assert "evaluated on the challenger's validation data" in later["reason"]
    assert "EvaluateChampion" in _by_version(report)["v2"]["states"]


def test_a_run_that_overfits_is_named_in_its_notification_and_the_report_shows_the_status(
    demo: dict[str, Any],
) -> None:
    report = demo["report"]
    (note,) = [n for n in report["notifications"] if n["attributes"]["model"] == "cancer-xgb-deep"]
    diagnosis = json.loads(note["message"])["evaluation"]["diagnosis"]
    (finding,) = [f for f in diagnosis if f["rule"] == "AMT301"]
    assert "train:logloss" in finding["message"]
    assert finding["fix"]
    status = report["status"]
    assert [m["model"] for m in status["models"]] == ["cancer-xgb", "cancer-xgb-deep"]
    assert all(m["runningJobs"] == [] for m in status["models"])
    assert status["models"][0]["champion"]["objectiveMetric"] == "validation:auc"
    assert "<h2>Status (amtflow status)</h2>" in demo["page"]


def test_the_lost_completion_event_is_recovered_by_the_reconciler(demo: dict[str, Any]) -> None:
    printed = demo["printed"]
    assert "LOST on purpose: tuning job" in printed
    assert 'Reconcile <- rule ReconcileFunctionSweep: {"parked":1' in printed
    assert _by_version(demo["report"])["v3"]["status"] == "SUCCEEDED"


def test_the_timeline_and_the_report_show_the_story(demo: dict[str, Any]) -> None:
    printed, out = demo["printed"], demo["out"]
    assert "put datasets/cancer-xgb/v1/_READY" in printed
    runs = demo["report"]["runs"]
    assert printed.count("] trial    [") == sum(len(r["trials"]) for r in runs)
    assert "Subject: amtflow: cancer-xgb - tuning succeeded" in printed
    assert "scheduled tick with no new data: skipped" in printed
    assert "console  StartExecution" in printed
    assert f"{out / 'index.html'} (and report.json)" in printed
    page = demo["page"]
    assert page.count("data:image/png;base64,") == 12  # convergence, leaderboard, effects per tuning job
    assert page.count("<p>Decision: tune; cold start") == 3
    assert page.count("<p>Decision: tune; TransferLearning warm start from") == 1
    assert page.count("<p>Drift scores: drift moderate vs v1") == 1
    assert "What the story showed" in page


def test_demo_outside_a_project_says_where_to_run_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(["demo", "--quick", "--project", str(tmp_path)])

    assert code == 2
    assert "no template.yaml" in capsys.readouterr().err


def test_the_approved_champion_serves_a_later_one_rolls_out_and_a_broken_one_rolls_back(
    demo: dict[str, Any],
) -> None:
    report = demo["report"]
    deployments = report["deployments"]
    assert [d["status"] for d in deployments] == ["deployed", "deployed", "rolled_back"]
    assert {d["endpoint"] for d in deployments} == {"amtf-cancer-xgb"}
    assert deployments[0]["prediction"] is not None
    assert deployments[2]["reason"]
    outcomes = [n["attributes"]["outcome"] for n in report["notifications"]]
    deployed = [o for o in outcomes if o.startswith("deployment_")]  # step 7's run is notified after them
    assert deployed == ["deployment_deployed", "deployment_deployed", "deployment_rolled_back"]
    assert "InvokeEndpoint amtf-cancer-xgb text/csv" in demo["printed"]
    assert "<h2>Deployments</h2>" in demo["page"]
    # Each approval's outcome is printed, with the reason when there is one (a failed check says why).
    lines = [
        line.split("] deploy ", 1)[1].strip() for line in demo["printed"].splitlines() if "] deploy " in line
    ]
    printed = [text for text in lines if text.startswith("amtf-cancer-xgb ")]
    assert printed[:2] == ["amtf-cancer-xgb deployed", "amtf-cancer-xgb deployed"]
    assert printed[2].startswith("amtf-cancer-xgb rolled_back: ")
    assert deployments[2]["reason"][:60] in printed[2]
