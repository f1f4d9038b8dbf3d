"""A whole twin run logs no data rows and no credentials.

Two dataset versions of one model go through the real template, ASL and handlers with the local engine
(and the fault injector's duplicated and lost events, so the error and retry paths log too). Every line the
process wrote (stdout, stderr, Python logging) is scanned for the dataset's rows and for the credentials the
handlers' clients were given. Every function logs through the redacting formatter, which masks
credential-like strings wherever they are in a record.
"""

from __future__ import annotations

import io
import json
import logging
from pathlib import Path

import pytest

from amtflow.local.apps.faults import FaultPlan, run_fault_suite
from amtflow.log_format import RedactingFormatter

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


def test_every_function_logs_through_the_redacting_formatter() -> None:
    """All handlers share the ``amtflow`` service logger; the first one built sets its formatter, so each
    must ask for the redacting one."""
    handlers = sorted((ROOT / "functions").glob("*/app.py"))
    assert len(handlers) >= 10
    for path in handlers:
        source = path.read_text()
        assert "Logger(logger_formatter=RedactingFormatter())" in source, path.parent.name
        assert source.count("Logger(") == 1, path.parent.name


def test_the_log_format_masks_credentials_in_messages_extras_exceptions_and_core_loggers() -> None:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(RedactingFormatter())
    service = logging.getLogger("amtflow-redaction-probe")
    service.addHandler(handler)
    service.setLevel(logging.INFO)
    try:
        service.info("denied for %s", ACCESS_KEY, extra={"why": "password=hunter2-Sup3r", "n": 3})
        try:
            raise ValueError(f"Authorization: Bearer {SECRET}")
        except ValueError:
            service.exception("failed")
        # a core module's logger propagates to the service logger's handler
        logging.getLogger("amtflow-redaction-probe.app._evaluate").warning("no diagnosis: token=%s", SECRET)
    finally:
        service.removeHandler(handler)
    records = [json.loads(line) for line in stream.getvalue().splitlines()]
    assert len(records) == 3
    written = stream.getvalue()
    for secret in (ACCESS_KEY, SECRET, "hunter2-Sup3r"):
        assert secret not in written, secret
    assert records[0]["message"] == "denied for ***"
    assert records[0]["why"] == "password=***"
    assert records[0]["n"] == 3
    assert "ValueError: Authorization: ***" in records[1]["exception"]
