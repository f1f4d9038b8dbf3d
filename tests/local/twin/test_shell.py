"""``amtflow local up``'s command loop, driven against the fixture application."""

from __future__ import annotations

import io
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from amtflow.errors import InvalidInputError
from amtflow.local.apps.shell import Shell, parse_duration
from amtflow.local.twin import ManualClock, SageMakerFactory, Twin

FIXTURE = Path(__file__).parent / "fixtures" / "app"


@pytest.fixture
def shell(no_sagemaker: SageMakerFactory) -> Iterator[tuple[Shell, io.StringIO]]:
    clock = ManualClock(datetime(2026, 11, 1, 0, 10, tzinfo=UTC))
    with Twin.start(FIXTURE, sagemaker=no_sagemaker, clock=clock) as twin:
        out = io.StringIO()
        yield Shell(twin, out), out


def test_put_then_wait_then_list_executions_and_notifications(shell: tuple[Shell, io.StringIO]) -> None:
    sh, out = shell

    for line in ["put incoming/a.go --text hello", "wait 30", "executions", "notifications", "errors"]:
        assert sh.handle(line)

    text = out.getvalue()
    assert "incoming/a.go (5 bytes)" in text
    assert "idle; 1 execution(s)" in text
    assert "SUCCEEDED  Route > Submit > Notify" in text
    assert "job done [outcome=done]" in text
    assert "no errors" in text


def test_advance_reports_what_fired(shell: tuple[Shell, io.StringIO]) -> None:
    sh, out = shell

    sh.handle("advance 1h")

    text = out.getvalue()
    assert "clock now 2026-11-01 01:10:00Z; 3 schedule firing(s)" in text
    assert "2026-11-01T01:10:00Z RouterFunctionHourly" in text


def test_bad_commands_explain_themselves_and_quit_stops(shell: tuple[Shell, io.StringIO]) -> None:
    sh, out = shell

    assert sh.handle("frobnicate")
    assert sh.handle("start {not json}")
    assert sh.handle("advance soon")
    assert sh.handle("put only-a-key")
    assert sh.handle('start "unterminated')
    assert not sh.handle("quit")

    text = out.getvalue()
    assert "unknown command 'frobnicate'; type 'help'" in text
    assert "error: the execution input is not JSON" in text
    assert "error: duration 'soon' must look like 90, 15m, 2h or 1d" in text
    assert "error: usage: put KEY FILE" in text
    assert "error: No closing quotation" in text


def test_run_reads_until_quit(shell: tuple[Shell, io.StringIO]) -> None:
    sh, out = shell

    sh.run(["help\n", "outputs\n", "quit\n", "executions\n"])

    text = out.getvalue()
    assert "advance DURATION" in text
    assert "DataBucketName" in text
    assert "no executions yet" not in text  # nothing after quit runs


def test_parse_duration() -> None:
    assert parse_duration("90") == 90
    assert parse_duration("15m") == 900
    assert parse_duration("2h") == 7200
    assert parse_duration("1d") == 86400
    with pytest.raises(InvalidInputError):
        parse_duration("-1h")
