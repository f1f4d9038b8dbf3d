"""The trials' metric series and the pure judgements on them (used by the ``health`` rules).

A series is read like SageMaker reads metrics: every metric definition's regex applied to every line in
order, the first capture group parsed as a number; a value printed as ``nan`` or ``inf`` is caught too, by a
probe with the capture group replaced (SageMaker drops such values silently). The judgements
(:func:`overfitting`, :func:`not_improving`, :func:`degenerate`, :func:`slow_trials`) are pure functions of
the series, bounded by the thresholds below.
"""

from __future__ import annotations

import math
import re
import statistics
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum

from amtflow.preflight._metrics import first_group_source
from amtflow.preflight._practice import _MAXIMIZE_TOKENS, _MINIMIZE_TOKENS

#: A metric series shorter than this is not judged for overfitting, progress or constancy.
MIN_POINTS = 6
#: The "last part" of a series: this share of its points, and at least :data:`MIN_TAIL_POINTS`.
TAIL_SHARE = 1 / 3
MIN_TAIL_POINTS = 3
#: Overfitting: the objective's last value is worse than its best by at least this share of the distance
#: its series covered (max - min), while over the tail the train metric improves and the objective worsens.
OVERFIT_SPAN_SHARE = 0.1
#: Not improving: the best of the last part is better than the mean of the first part by less than this
#: share of the first part's magnitude (Debugger's LossNotDecreasing default is 0.1 %).
NO_PROGRESS_SHARE = 0.001
#: Slow: a trial takes at least this many times the median of its peers (in total, or per epoch/iteration) ...
SLOW_FACTOR = 3.0
#: ... and at least this many seconds longer than the median in total.
MIN_SLOW_EXCESS_SECONDS = 60.0
#: Trials with a known duration needed before any is called slow (the median of fewer means little).
MIN_PEERS = 4

_NON_FINITE = r"[-+]?(?i:nan|inf(?:inity)?)"
_TRAIN_PREFIX = re.compile(r"^train(?:ing)?(?=[:_\-. ]|$)", re.IGNORECASE)
_SEPARATOR = re.compile(r"[:_\-. ]")


# ---------------------------------------------------------------------------------------------------------
# Reading the series


@dataclass(frozen=True)
class SeriesRegex:
    """One metric definition as the series reader uses it: the regex and its ``nan``/``inf`` probe."""

    name: str
    field: str
    compiled: re.Pattern[str]
    probe: re.Pattern[str] | None


def series_regex(name: str, source: str, field: str = "") -> SeriesRegex | None:
    """The reader of metric ``name`` (``None`` when its regex does not compile or has no capture group).

    The probe is the regex with its capture group replaced by ``nan``/``inf``: it finds the values SageMaker
    would drop as not a number."""
    try:
        compiled = re.compile(source)
    except (re.error, RecursionError, OverflowError):
        return None
    if compiled.groups < 1:
        return None
    group = first_group_source(source)
    probe: re.Pattern[str] | None = None
    if group is not None and f"({group})" in source:
        try:
            probe = re.compile(source.replace(f"({group})", f"({_NON_FINITE})", 1))
        except (re.error, RecursionError, OverflowError):
            probe = None
    return SeriesRegex(name, field, compiled, probe)


def _number(text: str | None) -> float | None:
    if text is None:
        return None
    try:
        return float(text.strip())
    except ValueError:
        return None


def metric_series(lines: Iterable[str], regexes: Sequence[SeriesRegex]) -> dict[str, list[float]]:
    """Every metric's values in log order (``nan``/``inf`` included), as SageMaker would read them."""
    series: dict[str, list[float]] = {r.name: [] for r in regexes}
    for line in lines:
        if not isinstance(line, str):
            continue
        for r in regexes:
            match = r.compiled.search(line)
            value = _number(match.group(1)) if match is not None else None
            if value is None and r.probe is not None:
                probed = r.probe.search(line)
                value = _number(probed.group(1)) if probed is not None else None
            if value is not None:
                series[r.name].append(value)
    return series


# ---------------------------------------------------------------------------------------------------------
# Pure judgements


def _better(a: float, b: float, maximize: bool) -> bool:
    return a > b if maximize else a < b


def _slope(values: Sequence[float]) -> float:
    """The least-squares slope of ``values`` against their index."""
    n = len(values)
    if n < 2:
        return 0.0
    mean_x = (n - 1) / 2
    mean_y = sum(values) / n
    num = sum((i - mean_x) * (v - mean_y) for i, v in enumerate(values))
    den = sum((i - mean_x) ** 2 for i in range(n))
    return num / den


def tail(values: Sequence[float]) -> list[float]:
    """The last part of a series: :data:`TAIL_SHARE` of its points, at least :data:`MIN_TAIL_POINTS`."""
    size = max(MIN_TAIL_POINTS, math.ceil(len(values) * TAIL_SHARE))
    return list(values[-size:])


def _finite(values: Sequence[float]) -> bool:
    return all(math.isfinite(v) for v in values)


@dataclass(frozen=True)
class Overfit:
    """The evidence of overfitting in one trial."""

    best: float
    last: float
    train_from: float
    train_to: float


def overfitting(
    train: Sequence[float], objective: Sequence[float], *, train_maximize: bool, objective_maximize: bool
) -> Overfit | None:
    """Over the tail the train metric improves while the objective worsens, ending worse than its best by at
    least :data:`OVERFIT_SPAN_SHARE` of the objective's span."""
    if len(train) < MIN_POINTS or len(objective) < MIN_POINTS or not _finite(train) or not _finite(objective):
        return None
    train_tail, objective_tail = tail(train), tail(objective)
    train_slope, objective_slope = _slope(train_tail), _slope(objective_tail)
    train_improves = train_slope > 0 if train_maximize else train_slope < 0
    objective_worsens = objective_slope < 0 if objective_maximize else objective_slope > 0
    if not (train_improves and objective_worsens):
        return None
    best = max(objective) if objective_maximize else min(objective)
    last = objective[-1]
    span = max(objective) - min(objective)
    if span <= 0 or abs(last - best) < OVERFIT_SPAN_SHARE * span:
        return None
    return Overfit(best, last, train_tail[0], train_tail[-1])


@dataclass(frozen=True)
class Stall:
    """The evidence of a metric that did not improve in one trial."""

    first: float
    last: float


def not_improving(values: Sequence[float], *, maximize: bool) -> Stall | None:
    """The mean of the tail improves on the mean of the series' first part (as long as the tail) by less
    than :data:`NO_PROGRESS_SHARE` of its magnitude. Constant or non-finite series are :func:`degenerate`'s.
    """
    if len(values) < MIN_POINTS or not _finite(values) or _flat(values):
        return None
    late = tail(values)
    first = statistics.fmean(values[: len(late)])
    last = statistics.fmean(late)
    gain = last - first if maximize else first - last
    if gain >= NO_PROGRESS_SHARE * max(abs(first), 1e-12):
        return None
    return Stall(first, last)


def _flat(values: Sequence[float]) -> bool:
    return max(values) - min(values) <= 1e-12 * max(1.0, abs(values[0]))


class Degeneracy(StrEnum):
    NON_FINITE = "nan/inf"
    CONSTANT = "constant"


def degenerate(values: Sequence[float]) -> Degeneracy | None:
    """A series holding ``nan``/``inf`` (any length), or :data:`MIN_POINTS` or more identical values other
    than exactly 0 or 1 (a saturated metric: a train AUC or accuracy of 1, an error of 0, is a perfect fit,
    not a broken one)."""
    if not _finite(values):
        return Degeneracy.NON_FINITE
    if len(values) >= MIN_POINTS and _flat(values):
        return None if values[0] in (0.0, 1.0) else Degeneracy.CONSTANT
    return None


@dataclass(frozen=True)
class Slow:
    """A trial far slower than its peers, by total time or by time per epoch/iteration."""

    name: str
    seconds: float
    median_seconds: float
    ratio: float
    per_step: bool


def slow_trials(durations: Mapping[str, float], steps: Mapping[str, int] | None = None) -> list[Slow]:
    """Trials taking :data:`SLOW_FACTOR` times the median of the trials' durations and
    :data:`MIN_SLOW_EXCESS_SECONDS` more. Where the number of epochs/iterations (``steps``) is known for the
    trial and :data:`MIN_PEERS` trials, time per step decides: more epochs are not slowness."""
    steps = steps or {}
    known = {n: s for n, s in durations.items() if s > 0}
    if len(known) < MIN_PEERS:
        return []
    median = statistics.median(known.values())
    per_step = {n: known[n] / steps[n] for n in known if steps.get(n, 0) > 0}
    median_step = statistics.median(per_step.values()) if len(per_step) >= MIN_PEERS else None
    found: list[Slow] = []
    for name, seconds in sorted(known.items()):
        if seconds - median < MIN_SLOW_EXCESS_SECONDS:
            continue
        if median_step is not None and name in per_step:
            ratio = per_step[name] / median_step
            if ratio >= SLOW_FACTOR:
                found.append(Slow(name, seconds, median, ratio, True))
        elif median > 0 and seconds / median >= SLOW_FACTOR:
            found.append(Slow(name, seconds, median, seconds / median, False))
    return sorted(found, key=lambda s: -s.ratio)


def metric_maximized(name: str) -> bool | None:
    """Whether metric ``name`` is higher-is-better by its name (``None`` when the name does not say)."""
    tokens = set(re.split(r"[^a-z0-9²]+", name.lower()))
    up, down = bool(tokens & _MAXIMIZE_TOKENS), bool(tokens & _MINIMIZE_TOKENS)
    return None if up == down else up


def _suffix(name: str) -> str:
    parts = _SEPARATOR.split(name, maxsplit=1)
    return parts[-1].lower()


def train_metric(objective: str, names: Sequence[str]) -> str | None:
    """The training counterpart of ``objective`` among ``names``: a ``train``-prefixed metric with the same
    suffix (``validation:auc`` → ``train:auc``), else the first ``train`` metric whose name says its
    direction."""
    trains = [n for n in names if n != objective and _TRAIN_PREFIX.match(n)]
    same = [n for n in trains if _suffix(n) == _suffix(objective)]
    if same:
        return same[0]
    return next((n for n in trains if metric_maximized(n) is not None), None)
