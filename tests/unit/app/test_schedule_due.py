"""schedule_due: EventBridge rate/cron expressions evaluated over a window."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from amtflow.app import schedule_due
from amtflow.errors import InvalidInputError

NOON = datetime(2026, 11, 2, 12, 0, tzinfo=UTC)  # a Monday
HOUR = timedelta(hours=1)


@pytest.mark.parametrize(
    ("expression", "now", "due"),
    [
        ("rate(1 hour)", NOON, True),
        ("rate(30 minutes)", NOON + timedelta(minutes=10), True),
        ("rate(1 day)", NOON, False),
        ("rate(1 day)", datetime(2026, 11, 3, 0, 30, tzinfo=UTC), True),
        ("cron(0 12 * * ? *)", NOON, True),
        ("cron(0 3 * * ? *)", NOON, False),
        ("cron(30 11 ? * MON *)", NOON, True),
        ("cron(30 11 ? * TUE *)", NOON, False),
        ("cron(0/15 * * * ? *)", NOON + timedelta(minutes=20), True),
        ("cron(0 12 1 * ? *)", NOON, False),
        ("cron(0 9-17 ? * MON-FRI *)", NOON, True),
        ("cron(0 12 2 NOV ? 2026)", NOON, True),
    ],
)
def test_occurrence_within_the_last_hour(expression: str, now: datetime, due: bool) -> None:
    assert schedule_due(expression, now, now - HOUR) is due


def test_the_window_is_half_open() -> None:
    assert schedule_due("cron(0 12 * * ? *)", NOON, NOON - HOUR)
    assert not schedule_due("cron(0 12 * * ? *)", NOON + HOUR, NOON)
    assert not schedule_due("rate(1 hour)", NOON, NOON)


@pytest.mark.parametrize(
    "expression", ["every day", "cron(0 3 * *)", "cron(99 3 * * ? *)", "cron(x 3 * * ? *)"]
)
def test_bad_expressions_say_what_to_write(expression: str) -> None:
    with pytest.raises(InvalidInputError, match="schedule"):
        schedule_due(expression, NOON, NOON - HOUR)


def test_naive_datetimes_are_refused() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        schedule_due("rate(1 hour)", datetime(2026, 1, 1), datetime(2025, 12, 31))
