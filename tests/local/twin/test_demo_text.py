"""How the demo words what it sees (the story itself runs in tests/local/test_demo.py)."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest

from amtflow.errors import ConfigurationError
from amtflow.local.apps.demo import Timeline, load_examples_data
from amtflow.local.apps.demo._timeline import _abridged, _first_line, _state_summary


def test_timeline_stamps_and_indents_continuation_lines() -> None:
    ticks = iter([10.0, 12.5, 13.0])
    out = io.StringIO()
    timeline = Timeline(out, monotonic=lambda: next(ticks))

    timeline.line("sns", "Subject: done\nAttributes: outcome=ok")
    timeline.line("run", "finished")

    assert out.getvalue().splitlines() == [
        "[   2.5s] sns      Subject: done",
        "                   Attributes: outcome=ok",
        "[   3.0s] run      finished",
    ]
    assert timeline.lines[1] == "[   3.0s] run      finished"


def test_lambda_error_causes_read_as_their_message() -> None:
    cause = json.dumps(
        {"errorType": "PreflightRejectedError", "errorMessage": "rejected (2 errors):\n- AMT202"}
    )
    assert _first_line(cause) == "rejected (2 errors):"
    assert _first_line("plain cause") == "plain cause"
    assert _first_line(None) == ""


def test_state_summaries_pick_what_a_reader_needs() -> None:
    plan = {"plan": {"action": "tune", "reason": "new data", "jobName": "amtf-x-1"}}
    assert _state_summary("Plan", json.dumps(plan)) == "tune - new data (job amtf-x-1)"
    evaluation = {
        "evaluation": {
            "outcome": "succeeded",
            "reason": "best of 4",
            "objectiveMetric": "validation:auc",
            "best": {"trainingJobName": "t-004", "objectiveValue": 0.97},
        }
    }
    assert _state_summary("Evaluate", json.dumps(evaluation)) == (
        "succeeded - best of 4; best t-004 validation:auc=0.97"
    )
    failed = {"error": {"Error": "KeyError", "Cause": json.dumps({"errorMessage": "'Item'"})}}
    assert _state_summary("StartTuning", json.dumps(failed)) == "error KeyError: 'Item'"
    promoted = {"evaluation": {"promotion": {"outcome": "kept_champion", "reason": "0.97 vs 0.98 on v2"}}}
    assert _state_summary("Promote", json.dumps(promoted)) == "kept champion - 0.97 vs 0.98 on v2"
    assert _state_summary("Receive", json.dumps({"request": {}})) == ""
    assert _state_summary("Plan", "not json") == ""
    assert _state_summary("Plan", None) == ""


def test_the_demo_needs_the_examples_and_says_so(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match=r"examples/data.py"):
        load_examples_data(tmp_path)


def test_notifications_are_printed_abridged_to_what_a_reader_looks_for_first() -> None:
    message = {
        "model": "m",
        "outcome": "succeeded",
        "durationSeconds": 9,
        "plan": {"action": "tune", "warmStart": "cold", "parents": [], "lock": {"pk": "MODEL#m"}},
        "evaluation": {
            "outcome": "succeeded",
            "best": {"trainingJobName": "t-1", "objectiveValue": 0.97, "hyperparameters": {"eta": "0.1"}},
            "leaderboard": [{"trainingJobName": "t-1"}],
            "promotion": {"outcome": "promoted", "reason": "first run", "challengerJob": "t-1"},
            "diagnosis": [],
        },
        "tuning": {"jobName": "j"},
    }

    text = _abridged(json.dumps(message))

    body, note = text.rsplit("\n", 1)
    assert json.loads(body) == {
        "model": "m",
        "outcome": "succeeded",
        "plan": {"action": "tune", "warmStart": "cold"},
        "evaluation": {
            "outcome": "succeeded",
            "best": {"trainingJobName": "t-1", "objectiveValue": 0.97},
            "promotion": {"outcome": "promoted", "reason": "first run"},
        },
    }
    assert note == "(abridged: the whole message is in the report)"


def test_a_rejection_prints_one_finding_a_line_and_plain_text_stays_as_is() -> None:
    message = {"model": "m", "outcome": "rejected", "error": {"type": "E", "message": "rejected:\n- AMT107"}}

    body = _abridged(json.dumps(message)).rsplit("\n", 1)[0]

    assert json.loads(body)["error"] == {"type": "E", "message": ["rejected:", "- AMT107"]}
    assert _abridged("plain text") == "plain text"


def test_a_run_whose_trials_all_failed_is_not_summarised_as_a_missing_metric() -> None:
    from amtflow.local.apps.demo._story import _run_summary
    from amtflow.local.apps.report import Trial, TuningRun

    run = TuningRun("amtf-cancer-xgb-1", "Bayesian", "validation:auc", "Maximize", "Failed", None, None)
    run.trials.extend(Trial(f"t-{i}", "Failed", None, {}, None) for i in range(3))
    assert _run_summary(run) == "amtf-cancer-xgb-1: Failed, cold start, no trial finished (3 failed)"
    run.trials[0] = Trial("t-0", "Completed", None, {}, 1.0)
    assert _run_summary(run).endswith("no trial reported validation:auc")
