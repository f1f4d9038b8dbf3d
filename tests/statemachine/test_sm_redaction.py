"""Notifications carry no secrets, through the real ASL (run by the twin): the profile's environment values,
a run's override environment and credentials printed in a trial's log never reach a subscriber."""

from __future__ import annotations

import io
import json
import logging
import time
from collections.abc import Callable

import pytest
from sm_stand_in import SageMakerStandIn
from sm_support import MODEL, PROFILE

from amtflow.local.twin import ExecutionStatus, Notification, Twin
from amtflow.log_format import RedactingFormatter
from amtflow.profile import dump_profile, load_profile

PROFILE_SECRET = "profile-env-token-0042"
OVERRIDE_PASSWORD = "hunter2-Sup3r-Secret"
ACCESS_KEY = "AKIAIOSFODNN7EXAMPLE"
SECRETS = (PROFILE_SECRET, OVERRIDE_PASSWORD, ACCESS_KEY)


def wait_until(condition: Callable[[], bool], what: str, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"still waiting for {what} after {timeout}s")
        time.sleep(0.05)


def seen(note: Notification) -> str:
    """What a subscriber receives: subject, message and attributes."""
    return "\n".join([note.subject or "", note.message, json.dumps(note.attributes)])


def test_no_environment_value_or_logged_credential_reaches_a_notification_or_the_logs(
    app: Twin,
    sagemaker: SageMakerStandIn,
    capfd: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    # Powertools sets the functions' logger level only when it first configures the logger in a process; an
    # earlier twin in this process (the demo's, at ERROR) may have left it higher than the template's INFO.
    caplog.set_level(logging.INFO, logger="amtflow")
    # What the functions' Powertools logger writes, whichever stream it was bound to when the handlers were
    # first imported (an earlier test's captured stdout, say): a second handler with the functions' formatter.
    functions_log = io.StringIO()
    written = logging.StreamHandler(functions_log)
    written.setFormatter(RedactingFormatter())
    logging.getLogger("amtflow").addHandler(written)
    try:
        _run_and_check(app, sagemaker, capfd, caplog, functions_log)
    finally:
        logging.getLogger("amtflow").removeHandler(written)


def _run_and_check(
    app: Twin,
    sagemaker: SageMakerStandIn,
    capfd: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
    functions_log: io.StringIO,
) -> None:
    document = load_profile(PROFILE).to_document()
    document["training"]["environment"] = {"SERVICE_TOKEN": PROFILE_SECRET}
    app.put_object(f"profiles/{MODEL}.yaml", dump_profile(load_profile(document)))
    # no trial reports the objective; the diagnosis quotes the log line nearest the regex
    sagemaker.report_objective = False
    sagemaker.trial_log = [
        f"connecting with {PROFILE_SECRET} as {ACCESS_KEY} password={OVERRIDE_PASSWORD}",
        f"[0]\ttrain-auc=0.98\tvalidation-auc=0.95 token {PROFILE_SECRET}",
    ]
    before = len(app.executions())
    app.put_object(f"datasets/{MODEL}/v1/_READY", "")
    wait_until(lambda: len(app.executions()) > before, "the execution of dataset version v1")
    (first,) = app.wait_for_executions()
    assert first.status is ExecutionStatus.SUCCEEDED, first.cause

    (note,) = app.notifications()
    assert note.attributes == {"model": MODEL, "outcome": "no_result"}
    diagnosis = note.json()["evaluation"]["diagnosis"]
    assert any("validation-auc=0.95" in f["message"] and "***" in f["message"] for f in diagnosis), diagnosis
    for secret in SECRETS:
        assert secret not in seen(note), secret

    # a manual run that sets an environment value in its overrides (whatever its outcome) does not show it
    app.start_execution(
        {
            "model": MODEL,
            "action": "tune",
            "datasetVersion": "v1",
            "overrides": {"training": {"environment": {"DB_PASSWORD": OVERRIDE_PASSWORD}}},
        }
    )
    app.wait_for_executions()
    _, second_note = app.notifications()
    assert 0 < len(second_note.subject or "") < 100
    for secret in SECRETS:
        assert secret not in seen(second_note), secret

    out, err = capfd.readouterr()
    # what the functions write: Powertools' JSON lines, and the records of the core's loggers
    core = [r.getMessage() for r in caplog.records if r.name.startswith("amtflow")]
    logged = "\n".join([out, err, functions_log.getvalue(), *core])
    assert "notified" in logged  # the functions did log
    for secret in SECRETS:
        assert secret not in logged, secret
