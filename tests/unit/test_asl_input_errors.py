"""A state-machine task's input error (``InvalidInputError``) is not retried and reaches NotifyFailure."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

ASL = json.loads((Path(__file__).resolve().parents[2] / "statemachine" / "tuning.asl.json").read_text())
STATES: dict[str, Any] = ASL["States"]


def _matches(error_equals: list[str], error: str) -> bool:
    return error in error_equals or "States.ALL" in error_equals


@pytest.mark.parametrize(
    ("state", "caught_by"),
    [
        ("Plan", "NotifyFailure"),
        ("StartTuning", "NotifyFailure"),
        ("StartTraining", "NotifyFailure"),
        ("Evaluate", "NotifyFailure"),
        ("EvaluateChampion", "Promote"),  # no evaluation of the champion: Promote keeps it and says why
        ("Promote", "NotifyFailure"),
        ("Notify", "NotifyFailure"),
    ],
)
def test_an_invalid_input_fails_the_task_once_and_is_routed_to_the_failure_notice(
    state: str, caught_by: str
) -> None:
    task = STATES[state]
    for error in ("InvalidInputError", "ProfileError"):
        assert not any(_matches(r["ErrorEquals"], error) for r in task.get("Retry", [])), (state, error)
        catch = next(c for c in task["Catch"] if _matches(c["ErrorEquals"], error))
        assert catch["Next"] == caught_by
        assert catch["ResultPath"]  # the error is kept for the notice
