"""bench/deploy.py: approval to InService through the real template, ASL and handlers in the twin."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from bench_support import run_bench

FIGURES = {
    "approval_to_in_service_s",
    "approval_to_notified_s",
    "state_transitions_per_deployment",
    "lambda_invocations_per_deployment",
    "interval",
}


@pytest.mark.slow
def test_quick_run_writes_the_documented_json_with_no_polling_loop(tmp_path: Path) -> None:
    target = tmp_path / "deploy.json"
    result = run_bench("deploy", "--quick", "--repeats", "1", "--json", str(target), cwd=tmp_path)
    assert result.returncode == 0, result.stderr[-3000:]
    figures = json.loads(target.read_text())
    assert set(figures) == FIGURES
    assert figures["state_transitions_per_deployment"] == 9
    assert figures["lambda_invocations_per_deployment"] == 3
    assert 0 < figures["approval_to_in_service_s"] <= figures["approval_to_notified_s"]
    spread = figures["interval"]["approval_to_in_service_s"]
    assert spread["n"] == 1
    assert spread["low"] <= spread["median"] <= spread["high"]
    assert set(figures["interval"]) == {"approval_to_in_service_s", "approval_to_notified_s"}
