"""Schedule expressions fire at the times EventBridge would."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from amtflow.errors import InvalidInputError
from amtflow.local.twin import ManualClock, parse_schedule

T0 = datetime(2026, 11, 1, 0, 10, tzinfo=UTC)  # a Sunday


def test_rate_fires_every_period_after_creation() -> None:
    times = list(parse_schedule("rate(1 hour)").fire_times(T0, T0, T0 + timedelta(hours=3)))
    assert times == [T0 + timedelta(hours=h) for h in (1, 2, 3)]


def test_rate_window_after_the_anchor_continues_the_cadence() -> None:
    start = T0 + timedelta(minutes=50)
    times = list(parse_schedule("rate(30 minutes)").fire_times(T0, start, start + timedelta(minutes=40)))
    assert times == [T0 + timedelta(minutes=60), T0 + timedelta(minutes=90)]


def test_cron_fires_on_matching_minutes_only() -> None:
    times = list(parse_schedule("cron(0 3 * * ? *)").fire_times(T0, T0, T0 + timedelta(days=2)))
    assert times == [datetime(2026, 11, 1, 3, tzinfo=UTC), datetime(2026, 11, 2, 3, tzinfo=UTC)]


def test_cron_increments_names_and_day_of_week() -> None:
    every_quarter = parse_schedule("cron(0/15 * * * ? *)")
    assert len(list(every_quarter.fire_times(T0, T0, T0 + timedelta(hours=1)))) == 4
    weekdays = parse_schedule("cron(30 9 ? * MON-FRI *)")
    week = list(weekdays.fire_times(T0, T0, T0 + timedelta(days=7)))
    assert [t.strftime("%a") for t in week] == ["Mon", "Tue", "Wed", "Thu", "Fri"]
    sundays = parse_schedule("cron(0 0 ? * 1 *)")  # 1 = Sunday in EventBridge cron
    assert [t.strftime("%a") for t in sundays.fire_times(T0, T0, T0 + timedelta(days=8))] == ["Sun"]


@pytest.mark.parametrize(
    ("expression", "message"),
    [
        ("every hour", "not a schedule expression"),
        ("rate(0 minutes)", "positive rate"),
        ("cron(0 3 * *)", "6 cron fields"),
        ("cron(0 3 L * ? *)", "L, W or #"),
        ("cron(0 25 * * ? *)", "outside 0-23"),
        ("cron(x 3 * * ? *)", "where a number is expected"),
    ],
)
def test_bad_expressions_name_the_field(expression: str, message: str) -> None:
    with pytest.raises(InvalidInputError, match=message) as info:
        parse_schedule(expression, field="Nightly.ScheduleExpression")
    assert info.value.field == "Nightly.ScheduleExpression"


def test_manual_clock_never_goes_backwards_and_needs_a_timezone() -> None:
    clock = ManualClock(T0)
    clock.set(T0 + timedelta(minutes=5))
    clock.set(T0)
    assert clock.now() == T0 + timedelta(minutes=5)
    with pytest.raises(InvalidInputError, match="timezone-aware"):
        ManualClock(datetime(2026, 1, 1))
