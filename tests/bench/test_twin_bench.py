"""bench/twin.py: a run's cost in the local twin, through the real template, ASL, handlers and engine."""

from __future__ import annotations

import importlib.util
import json
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from bench_support import BENCH, run_bench


def _load_bench(name: str) -> Any:
    """Import ``bench/<name>.py`` under a name of its own (``twin`` alone is another test package)."""
    spec = importlib.util.spec_from_file_location(f"amtflow_bench_{name}", BENCH / f"{name}.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while the class is built
    spec.loader.exec_module(module)
    return module


_bench = _load_bench("twin")
TwinRun = _bench.TwinRun
create_request = _bench.create_request
figures = _bench.figures

FIGURES = {"state_transitions_per_run", "lambda_invocations_per_run", "event_to_job_s", "overhead_fraction"}


@pytest.mark.slow
def test_quick_run_meets_the_targets_and_writes_the_documented_json(tmp_path: Path) -> None:
    target = tmp_path / "twin.json"

    result = run_bench(
        "twin", "--quick", "--trials", "2", "--rounds", "10", "--json", str(target), cwd=tmp_path
    )

    assert result.returncode == 0, result.stderr[-3000:]
    data = json.loads(target.read_text())
    assert set(data) == FIGURES | {"interval"}
    assert set(data["interval"]) == {"event_to_job_s", "overhead_fraction"}
    assert data["interval"]["event_to_job_s"]["n"] == 1
    assert 5 <= data["state_transitions_per_run"] <= 25
    assert 3 <= data["lambda_invocations_per_run"] <= 8
    assert 0 < data["event_to_job_s"] < 60
    assert data["overhead_fraction"] > -1
    out = result.stdout
    assert "warm-up run" in out
    assert "PASS no state entered twice in a run" in out
    assert "MISS" not in out
    assert "states of a run: Receive -> Plan" in out


def _run(states: tuple[str, ...], calls: int, event_to_job: float, twin_s: float) -> TwinRun:
    return TwinRun("m", "SUCCEEDED", states, calls, 2, event_to_job, twin_s - 1, twin_s, {}, {})


def test_figures_average_over_runs_and_compare_total_seconds() -> None:
    runs = [_run(("A", "B", "C"), 2, 0.5, 12.0), _run(("A", "B", "C", "D", "E"), 4, 1.5, 10.0)]

    result = figures(runs, [10.0, 10.0])
    spread = result.pop("interval")

    assert result == {
        "state_transitions_per_run": 4.0,
        "lambda_invocations_per_run": 3.0,
        "event_to_job_s": 1.0,
        "overhead_fraction": 0.1,
    }
    assert spread["event_to_job_s"]["median"] == 1.0  # the median of 0.5 and 1.5
    assert spread["overhead_fraction"]["median"] == pytest.approx(0.1)  # of +20 % and 0 %
    assert spread["overhead_fraction"]["low"] == pytest.approx(0.0)
    assert spread["overhead_fraction"]["high"] == pytest.approx(0.2)


def test_a_state_entered_twice_is_a_loop() -> None:
    assert _run(("Receive", "Wait", "Check", "Wait", "Check", "Done"), 2, 0.1, 2).repeated_states == [
        "Check",
        "Wait",
    ]
    assert _run(("Receive", "Plan", "Done"), 1, 0.1, 2).repeated_states == []


def test_the_engine_alone_gets_the_create_request_behind_the_twins_job() -> None:
    described = {
        "HyperParameterTuningJobName": "amtf-m-1",
        "HyperParameterTuningJobArn": "arn:aws:sagemaker:us-east-1:123456789012:hyper-parameter-tuning-job/x",
        "HyperParameterTuningJobConfig": {"Strategy": "Bayesian"},
        "TrainingJobDefinition": {"RoleArn": "arn:aws:iam::123456789012:role/r"},
        "HyperParameterTuningJobStatus": "Completed",
        "CreationTime": datetime(2026, 11, 4, tzinfo=UTC),
        "WarmStartConfig": None,
    }

    assert create_request(described) == {
        "HyperParameterTuningJobName": "amtf-m-1",
        "HyperParameterTuningJobConfig": {"Strategy": "Bayesian"},
        "TrainingJobDefinition": {"RoleArn": "arn:aws:iam::123456789012:role/r"},
    }
