"""Schedule expressions (``rate(...)``, ``cron(...)``); the twin's clock is the core's :class:`ManualClock`.

Cron follows EventBridge's six fields ``minutes hours day-of-month month day-of-week year`` (UTC), with
``*``, ``?``, lists, ranges, ``/`` increments and month/day names; day-of-week counts 1-7 from Sunday.
``L``, ``W`` and ``#`` are rejected with a clear message.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta

from amtflow.errors import InvalidInputError
from amtflow.vocabulary import Clock, ManualClock

__all__ = ["Clock", "ManualClock", "Schedule", "parse_schedule"]

_RATE = re.compile(r"^rate\(\s*(\d+)\s+(minute|minutes|hour|hours|day|days)\s*\)$")
_CRON = re.compile(r"^cron\((.+)\)$")
_UNIT_SECONDS = {"minute": 60, "hour": 3600, "day": 86400}
_MONTH_NAMES = ("JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC")
_MONTHS = {m: i + 1 for i, m in enumerate(_MONTH_NAMES)}
_DAYS = {d: i + 1 for i, d in enumerate(("SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"))}


@dataclass(frozen=True)
class Schedule:
    """A parsed schedule expression; :meth:`fire_times` lists due times in a window."""

    expression: str
    period: timedelta | None
    fields: tuple[frozenset[int], ...] | None

    def fire_times(self, anchor: datetime, start: datetime, end: datetime) -> Iterator[datetime]:
        """Times ``t`` with ``start < t <= end`` at which the schedule fires.

        A rate schedule fires every period after ``anchor`` (the time it was created); a cron schedule at
        every matching minute.
        """
        if self.period is not None:
            elapsed = (start - anchor) // self.period if start > anchor else 0
            t = anchor + self.period * (elapsed + 1)
            while t <= end:
                if t > start:
                    yield t
                t += self.period
            return
        assert self.fields is not None
        t = (start + timedelta(minutes=1)).replace(second=0, microsecond=0)
        while t <= end:
            if self._cron_matches(t):
                yield t
            t += timedelta(minutes=1)

    def _cron_matches(self, t: datetime) -> bool:
        assert self.fields is not None
        minutes, hours, dom, months, dow, years = self.fields
        weekday = (t.isoweekday() % 7) + 1  # SUN=1 ... SAT=7
        return (
            t.minute in minutes
            and t.hour in hours
            and t.month in months
            and t.year in years
            and t.day in dom
            and weekday in dow
        )


def parse_schedule(expression: str, *, field: str = "ScheduleExpression") -> Schedule:
    """Parse ``rate(...)`` or ``cron(...)``; raise :class:`InvalidInputError` naming ``field`` otherwise."""
    text = expression.strip()
    rate = _RATE.match(text)
    if rate:
        value, unit = int(rate.group(1)), rate.group(2).rstrip("s")
        if value < 1:
            raise InvalidInputError(f"{field}: {expression!r} must have a positive rate", field=field)
        return Schedule(text, timedelta(seconds=value * _UNIT_SECONDS[unit]), None)
    cron = _CRON.match(text)
    if not cron:
        raise InvalidInputError(
            f"{field}: {expression!r} is not a schedule expression; use 'rate(5 minutes)' or "
            "'cron(0 3 * * ? *)'",
            field=field,
        )
    parts = cron.group(1).split()
    if len(parts) != 6:
        raise InvalidInputError(
            f"{field}: {expression!r} must have 6 cron fields (minutes hours day-of-month month "
            "day-of-week year)",
            field=field,
        )
    bounds = [(0, 59, {}), (0, 23, {}), (1, 31, {}), (1, 12, _MONTHS), (1, 7, _DAYS), (1970, 2199, {})]
    fields = tuple(
        _parse_field(part, lo, hi, names, expression, field)
        for part, (lo, hi, names) in zip(parts, bounds, strict=True)
    )
    return Schedule(text, None, fields)


def _parse_field(
    part: str, lo: int, hi: int, names: dict[str, int], expression: str, field: str
) -> frozenset[int]:
    if part in ("*", "?"):
        return frozenset(range(lo, hi + 1))
    if any(c in part for c in "LW#"):
        raise InvalidInputError(
            f"{field}: {expression!r} uses L, W or # which the local twin does not support", field=field
        )
    out: set[int] = set()
    for item in part.split(","):
        step = 1
        if "/" in item:
            item, step_text = item.split("/", 1)
            step = _number(step_text, {}, expression, field)
        if item in ("*", "?"):
            first, last = lo, hi
        elif "-" in item:
            a, b = item.split("-", 1)
            first, last = _number(a, names, expression, field), _number(b, names, expression, field)
        else:
            first = _number(item, names, expression, field)
            last = hi if step > 1 or "/" in part else first
        if not (lo <= first <= hi and lo <= last <= hi) or step < 1:
            raise InvalidInputError(f"{field}: {expression!r} has {part!r} outside {lo}-{hi}", field=field)
        out.update(range(first, last + 1, step))
    return frozenset(out)


def _number(text: str, names: dict[str, int], expression: str, field: str) -> int:
    upper = text.upper()
    if upper in names:
        return names[upper]
    try:
        return int(text)
    except ValueError:
        raise InvalidInputError(
            f"{field}: {expression!r} has {text!r} where a number is expected", field=field
        ) from None
