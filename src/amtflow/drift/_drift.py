"""Drift of a dataset version against the baseline (the data the champion was trained on).

Scores are Population Stability Indexes, ``PSI = sum_i (a_i - e_i) * ln(a_i / e_i)`` over bins, with ``e``
the baseline's share of bin ``i`` and ``a`` the new data's, both floored at ``epsilon`` so an empty bin does
not make the index infinite:

- numeric columns: the baseline's quantile bins, plus one bin for missing values;
- categorical columns: PSI over categories too (the baseline's top-k values, one bin for every other value,
  one for missing values), so one set of thresholds reads the same for both kinds of column.

Severity follows the credit-scoring convention (Siddiqi, *Credit Risk Scorecards*, Wiley 2006; reviewed by
du Pisanie et al., arXiv:2303.01227): PSI < 0.1 no significant change, 0.1-0.25 moderate, > 0.25 severe.
Thresholds are per model (:class:`DriftThresholds`). Schema differences are reported beside the scores:
added or removed columns and type changes; a change of row count is informational only.
"""

from __future__ import annotations

import bisect
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from amtflow.drift._summary import ColumnProfile, ColumnType, DatasetProfile, NumericSummary
from amtflow.errors import InvalidInputError


class DriftSeverity(StrEnum):
    NONE = "none"
    MODERATE = "moderate"
    SEVERE = "severe"

    @property
    def rank(self) -> int:
        return _RANK[self]

    @classmethod
    def parse(cls, value: str, *, field_name: str = "drift.severity") -> DriftSeverity:
        """Parse an external severity (e.g. from a model-monitoring event), case-insensitively."""
        text = str(value).strip().lower()
        aliases = {"low": cls.NONE, "no": cls.NONE, "medium": cls.MODERATE, "high": cls.SEVERE}
        try:
            return aliases.get(text) or cls(text)
        except ValueError as e:
            raise InvalidInputError(
                f"{field_name} is {value!r}; use one of none, moderate, severe.", field=field_name
            ) from e


_RANK = {DriftSeverity.NONE: 0, DriftSeverity.MODERATE: 1, DriftSeverity.SEVERE: 2}


class SchemaChangeKind(StrEnum):
    ADDED = "added"
    REMOVED = "removed"
    TYPE_CHANGED = "type_changed"


@dataclass(frozen=True)
class DriftThresholds:
    """PSI thresholds: ``score >= moderate`` is moderate drift, ``score > severe`` severe."""

    moderate: float = 0.1
    severe: float = 0.25
    epsilon: float = 1e-4
    ignore_columns: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if not (0 < self.moderate <= self.severe):
            raise InvalidInputError(
                f"drift thresholds must satisfy 0 < moderate <= severe, got moderate={self.moderate}, "
                f"severe={self.severe}; the usual values are 0.1 and 0.25.",
                field="drift.thresholds",
            )
        if not (0 < self.epsilon < 0.01):
            raise InvalidInputError(
                f"drift epsilon must be in (0, 0.01), got {self.epsilon}; 1e-4 is usual.",
                field="drift.epsilon",
            )

    def classify(self, score: float) -> DriftSeverity:
        if score > self.severe:
            return DriftSeverity.SEVERE
        if score >= self.moderate:
            return DriftSeverity.MODERATE
        return DriftSeverity.NONE


@dataclass(frozen=True)
class ColumnDrift:
    """The drift of one column. ``approximate`` is true when the new data had to be re-binned from its own
    histogram (it was not profiled against this baseline)."""

    column: str
    type: ColumnType
    psi: float
    severity: DriftSeverity
    approximate: bool = False

    def to_dict(self) -> dict[str, Any]:
        return {
            "column": self.column,
            "type": self.type.value,
            "psi": round(self.psi, 6),
            "severity": self.severity.value,
            "approximate": self.approximate,
        }


@dataclass(frozen=True)
class SchemaChange:
    column: str
    kind: SchemaChangeKind
    detail: str

    def to_dict(self) -> dict[str, str]:
        return {"column": self.column, "kind": self.kind.value, "detail": self.detail}


@dataclass(frozen=True)
class DriftReport:
    """Severity, the columns that drove it (highest score first), schema changes, row counts."""

    severity: DriftSeverity
    columns: tuple[ColumnDrift, ...]
    schema_changes: tuple[SchemaChange, ...] = ()
    baseline_rows: int = 0
    current_rows: int = 0
    baseline_fingerprint: str = ""
    current_fingerprint: str = ""
    thresholds: DriftThresholds = field(default_factory=DriftThresholds)

    @property
    def schema_changed(self) -> bool:
        return bool(self.schema_changes)

    @property
    def identical(self) -> bool:
        return self.baseline_fingerprint == self.current_fingerprint != ""

    @property
    def drivers(self) -> tuple[ColumnDrift, ...]:
        """The columns at or above the moderate threshold, highest score first."""
        return tuple(c for c in self.columns if c.severity is not DriftSeverity.NONE)

    @property
    def max_psi(self) -> float:
        return max((c.psi for c in self.columns), default=0.0)

    def scores(self) -> dict[str, float]:
        return {c.column: round(c.psi, 6) for c in self.columns}

    def summary(self, limit: int = 3) -> str:
        """One line for a human: severity, top drivers, schema changes, row counts."""
        parts = [f"drift {self.severity.value}"]
        if self.drivers:
            top = ", ".join(f"{c.column} PSI {c.psi:.3f}" for c in self.drivers[:limit])
            more = len(self.drivers) - limit
            parts.append(f"driven by {top}" + (f" and {more} more" if more > 0 else ""))
        else:
            parts.append(f"max PSI {self.max_psi:.3f}")
        if self.schema_changes:
            parts.append("schema changed: " + "; ".join(c.detail for c in self.schema_changes[:limit]))
        parts.append(f"rows {self.baseline_rows} -> {self.current_rows}")
        return ", ".join(parts)

    def to_dict(self) -> dict[str, Any]:
        return {
            "severity": self.severity.value,
            "max_psi": round(self.max_psi, 6),
            "columns": [c.to_dict() for c in self.columns],
            "schema_changes": [c.to_dict() for c in self.schema_changes],
            "baseline_rows": self.baseline_rows,
            "current_rows": self.current_rows,
            "baseline_fingerprint": self.baseline_fingerprint,
            "current_fingerprint": self.current_fingerprint,
            "thresholds": {"moderate": self.thresholds.moderate, "severe": self.thresholds.severe},
        }


def psi(expected: Sequence[float], actual: Sequence[float], epsilon: float = 1e-4) -> float:
    """Population Stability Index of two histograms over the same bins (counts or shares).

    Each histogram is normalised to shares, and shares are floored at ``epsilon``.
    """
    if len(expected) != len(actual):
        raise InvalidInputError(
            f"PSI needs histograms over the same bins, got {len(expected)} and {len(actual)} bins",
            field="bins",
        )
    te, ta = math.fsum(expected), math.fsum(actual)
    if te <= 0 or ta <= 0:
        return 0.0
    total = 0.0
    for e, a in zip(expected, actual, strict=True):
        pe = max(e / te, epsilon)
        pa = max(a / ta, epsilon)
        total += (pa - pe) * math.log(pa / pe)
    return total


def compare_profiles(
    baseline: DatasetProfile,
    current: DatasetProfile,
    thresholds: DriftThresholds | None = None,
) -> DriftReport:
    """Drift of ``current`` against ``baseline``: PSI per shared column, schema changes, a severity.

    The severity is the worst column severity (the label column included: a shift of the label's
    distribution is drift too). Schema changes do not raise the severity; the decision table treats them
    on their own.
    """
    th = thresholds or DriftThresholds()
    base_cols = {c.name: c for c in baseline.columns}
    cur_cols = {c.name: c for c in current.columns}
    changes: list[SchemaChange] = []
    for name in cur_cols.keys() - base_cols.keys():
        changes.append(SchemaChange(name, SchemaChangeKind.ADDED, f"column {name!r} added"))
    for name in base_cols.keys() - cur_cols.keys():
        changes.append(SchemaChange(name, SchemaChangeKind.REMOVED, f"column {name!r} removed"))
    drifts: list[ColumnDrift] = []
    ref = (
        current.reference
        if (current.reference is not None and current.reference.fingerprint == baseline.fingerprint)
        else None
    )
    for name, b in base_cols.items():
        c = cur_cols.get(name)
        if c is None or name in th.ignore_columns:
            continue
        if b.type is not c.type:
            changes.append(
                SchemaChange(
                    name,
                    SchemaChangeKind.TYPE_CHANGED,
                    f"column {name!r} changed type {b.type.value} -> {c.type.value}",
                )
            )
            continue
        expected, actual, approximate = _histograms(b, c, ref)
        score = psi(expected, actual, th.epsilon)
        drifts.append(ColumnDrift(name, b.type, score, th.classify(score), approximate))
    drifts.sort(key=lambda d: (-d.psi, d.column))
    changes.sort(key=lambda s: (s.kind.value, s.column))
    severity = max((d.severity for d in drifts), key=lambda s: s.rank, default=DriftSeverity.NONE)
    return DriftReport(
        severity=severity,
        columns=tuple(drifts),
        schema_changes=tuple(changes),
        baseline_rows=baseline.rows,
        current_rows=current.rows,
        baseline_fingerprint=baseline.fingerprint,
        current_fingerprint=current.fingerprint,
        thresholds=th,
    )


def _histograms(base: ColumnProfile, cur: ColumnProfile, ref: Any) -> tuple[list[float], list[float], bool]:
    """Baseline and current histograms over the baseline's bins, each followed by the missing bin."""
    base_missing = float(base.sample_missing)
    if ref is not None and base.name in ref.missing:
        cur_missing = float(ref.missing[base.name])
        if base.numeric is not None and base.name in ref.numeric:
            return (
                [*map(float, base.numeric.counts), base_missing],
                [*map(float, ref.numeric[base.name]), cur_missing],
                False,
            )
        if base.categorical is not None and base.name in ref.categorical:
            return (
                [*(float(c) for _, c in base.categorical.top), float(base.categorical.other), base_missing],
                [*map(float, ref.categorical[base.name]), cur_missing],
                False,
            )
    cur_missing = float(cur.sample_missing)
    if base.numeric is not None and cur.numeric is not None:
        approx = base.numeric.edges != cur.numeric.edges
        counts = rebin(cur.numeric, base.numeric.edges) if approx else [float(x) for x in cur.numeric.counts]
        return [*map(float, base.numeric.counts), base_missing], [*counts, cur_missing], approx
    if base.categorical is not None and cur.categorical is not None:
        names = [v for v, _ in base.categorical.top]
        cur_top = dict(cur.categorical.top)
        # A baseline category outside the new data's top-k is counted as absent (an upper bound on drift).
        counts = [float(cur_top.get(v, 0)) for v in names]
        other = float(sum(cur_top.values()) + cur.categorical.other) - math.fsum(counts)
        exact = set(names) <= set(cur_top) or cur.categorical.other == 0
        return (
            [*(float(c) for _, c in base.categorical.top), float(base.categorical.other), base_missing],
            [*counts, other, cur_missing],
            not exact,
        )
    raise InvalidInputError(f"column {base.name!r} has no summary in one of the profiles", field=base.name)


def rebin(summary: NumericSummary, edges: Sequence[float]) -> list[float]:
    """Estimate ``summary``'s counts over other ``edges``, assuming values uniform within each own bin.

    The outer bins are taken to span ``[min, first edge]`` and ``[last edge, max]``.
    """
    own = [summary.minimum, *summary.edges, summary.maximum]
    out = [0.0] * (len(edges) + 1)
    targets = [-math.inf, *edges, math.inf]
    for i, count in enumerate(summary.counts):
        lo, hi = own[i], own[i + 1]
        if count == 0:
            continue
        if hi <= lo:
            # A point mass (or an empty span): put it where the value falls.
            j = _bin_of(hi, edges)
            out[j] += count
            continue
        for j in range(len(out)):
            a, b = max(lo, targets[j]), min(hi, targets[j + 1])
            if b > a:
                out[j] += count * (b - a) / (hi - lo)
    return out


def _bin_of(x: float, edges: Sequence[float]) -> int:
    return bisect.bisect_left(edges, x)


def severity_of(scores: Mapping[str, float], thresholds: DriftThresholds | None = None) -> DriftSeverity:
    """The severity of a set of per-column scores (e.g. sent by a model monitor)."""
    th = thresholds or DriftThresholds()
    return max((th.classify(s) for s in scores.values()), key=lambda s: s.rank, default=DriftSeverity.NONE)
