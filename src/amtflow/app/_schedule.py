"""Whether an EventBridge schedule expression (``rate(...)`` / ``cron(...)``) fires in a time window.

The trigger router runs on one coarse rule (e.g. hourly) and asks, for each profile, whether the profile's
own schedule had an occurrence since the previous tick. Rates are aligned to the Unix epoch; cron follows
EventBridge's six fields (minutes hours day-of-month month day-of-week year, UTC; day-of-week 1 = SUN).
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

from amtflow.errors import InvalidInputError

_RATE = re.compile(r"^rate\((\d+) (minute|minutes|hour|hours|day|days)\)$")
_CRON = re.compile(r"^cron\((.+)\)$")
_UNIT_SECONDS = {"minute": 60, "hour": 3600, "day": 86400}
_MONTH_NAMES = ("JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC")
_MONTHS = {m: i for i, m in enumerate(_MONTH_NAMES, 1)}
_DAYS = {d: i for i, d in enumerate(("SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"), 1)}
_BOUNDS = [(0, 59), (0, 23), (1, 31), (1, 12), (1, 7), (1970, 2199)]
_NAMES: list[dict[str, int]] = [{}, {}, {}, _MONTHS, _DAYS, {}]
MAX_WINDOW = timedelta(days=7)


def _field_values(text: str, index: int, expression: str) -> set[int] | None:
    """The values a cron field allows; ``None`` means any (``*`` or ``?``)."""
    if text in ("*", "?"):
        return None
    low, high = _BOUNDS[index]
    names = _NAMES[index]
    values: set[int] = set()
    for part in text.split(","):
        step = 1
        if "/" in part:
            part, step_text = part.split("/", 1)
            step = int(step_text)
        if part in ("*", ""):
            start, end = low, high
        elif "-" in part:
            a, b = part.split("-", 1)
            start, end = names.get(a, None) or int(a), names.get(b, None) or int(b)
        else:
            start = names.get(part, None) or int(part)
            end = high if step > 1 else start
        if not (low <= start <= high and low <= end <= high) or step < 1:
            raise InvalidInputError(
                f"schedule {expression!r}: field {index + 1} value {part!r} is out of range"
            )
        values.update(range(start, end + 1, step))
    return values


def _cron_matcher(expression: str, body: str) -> list[set[int] | None]:
    fields = body.split()
    if len(fields) != 6:
        raise InvalidInputError(f"schedule {expression!r}: cron takes 6 fields, e.g. cron(0 3 * * ? *)")
    try:
        return [_field_values(f.upper(), i, expression) for i, f in enumerate(fields)]
    except ValueError as e:
        raise InvalidInputError(f"schedule {expression!r}: {e}; e.g. cron(0 3 * * ? *)") from e


def _cron_matches(fields: list[set[int] | None], t: datetime) -> bool:
    weekday = (t.isoweekday() % 7) + 1  # SUN = 1 ... SAT = 7
    actual = [t.minute, t.hour, t.day, t.month, weekday, t.year]
    return all(allowed is None or value in allowed for allowed, value in zip(fields, actual, strict=True))


def schedule_due(expression: str, now: datetime, since: datetime) -> bool:
    """Whether ``expression`` has an occurrence in ``(since, now]`` (at minute resolution)."""
    if now.tzinfo is None or since.tzinfo is None:
        raise ValueError("schedule_due needs timezone-aware datetimes")
    if now <= since:
        return False
    since = max(since, now - MAX_WINDOW)
    rate = _RATE.match(expression.strip())
    if rate:
        amount, unit = int(rate.group(1)), rate.group(2).rstrip("s")
        period = amount * _UNIT_SECONDS[unit]
        if period <= 0:
            raise InvalidInputError(f"schedule {expression!r}: the rate must be at least 1")
        return int(now.timestamp()) // period != int(since.timestamp()) // period
    cron = _CRON.match(expression.strip())
    if not cron:
        raise InvalidInputError(
            f"schedule {expression!r} is neither rate(...) nor cron(...): "
            "write e.g. rate(7 days) or cron(0 3 * * ? *)"
        )
    fields = _cron_matcher(expression, cron.group(1))
    t = since.astimezone(UTC).replace(second=0, microsecond=0) + timedelta(minutes=1)
    end = now.astimezone(UTC)
    while t <= end:
        if _cron_matches(fields, t):
            return True
        t += timedelta(minutes=1)
    return False
