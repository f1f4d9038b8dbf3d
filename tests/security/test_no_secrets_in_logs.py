"""A whole twin run logs no data rows and no credentials.

Two dataset versions of one model go through the real template, ASL and handlers with the local engine
(and the fault injector's duplicated and lost events, so the error and retry paths log too). Every line the
process wrote (stdout, stderr, Python logging) is scanned for the dataset's rows and for the credentials the
handlers' clients were given.
"""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from amtflow.local.apps.faults import FaultPlan, run_fault_suite

ROOT = Path(__file__).resolve().parents[2]
SECRET = "wJalrXUtnFEMIK7MDENGbPxRfiCYzzSecretKey"  # the handlers' (fake) secret access key
ACCESS_KEY = "AKIAAMTFLOWLOGSCAN01"


def rows(model: int, version: int) -> list[str]:
    """Rows whose values are distinctive enough that finding one in a log means a row was logged."""
    return [f"{i % 2},{7310000 + 97 * i + version}.{model}4219,{8820000 + 13 * i}.5573" for i in range(40)]


def test_a_whole_run_logs_no_data_rows_and_no_credentials(
    capfd: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", ACCESS_KEY)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", SECRET)
    caplog.set_level(logging.DEBUG)
    result = run_fault_suite(
        ROOT,
        models=1,
        versions=2,
        plan=FaultPlan(seed=3, throttle_sagemaker_calls=0.0, trial_crash_rate=0.0),
        dataset=lambda m, v: "\n".join(rows(m, v)) + "\n",
        deadline_seconds=240,
    )
    assert result.report["runs"] == 2
    assert result.report["non_terminal_executions"] == 0
    out, err = capfd.readouterr()
    text = "\n".join([out, err, *(r.getMessage() for r in caplog.records)])
    assert text.count("\n") > 20  # the handlers did log
    assert SECRET not in text
    assert ACCESS_KEY not in text
    cells = {cell for v in range(2) for row in rows(0, v) for cell in row.split(",")[1:]}
    leaked = sorted(cell for cell in cells if cell in text)
    assert leaked == [], f"dataset values in the logs: {leaked[:5]}"
