"""Drift scores on synthetic shifts whose PSI is computed by hand."""

from __future__ import annotations

import io
import math

import pytest

from amtflow.drift import (
    ColumnType,
    DatasetProfile,
    DriftSeverity,
    DriftThresholds,
    ProfileOptions,
    SchemaChangeKind,
    compare_profiles,
    profile_csv,
    psi,
    severity_of,
)
from amtflow.errors import InvalidInputError

EPS = 1e-4
OPTS = ProfileOptions(bins=4, top_k=3, sample_size=1_000)


def _profile(columns: dict[str, list[object]], reference: DatasetProfile | None = None) -> DatasetProfile:
    names = list(columns)
    n = len(columns[names[0]])
    lines = [",".join(names)] + [",".join(str(columns[c][i]) for c in names) for i in range(n)]
    return profile_csv(io.BytesIO(("\n".join(lines) + "\n").encode()), OPTS, reference=reference)


def test_psi_of_two_bins_by_hand() -> None:
    # (0.25 - 0.5) ln(0.25/0.5) + (0.75 - 0.5) ln(0.75/0.5)
    expected = 0.25 * math.log(2) + 0.25 * math.log(1.5)
    assert psi([50, 50], [25, 75]) == pytest.approx(expected)
    assert psi([1, 1], [1, 1]) == 0.0


def test_psi_floors_empty_bins_at_epsilon() -> None:
    expected = (EPS - 0.5) * math.log(EPS / 0.5) + (1 - 0.5) * math.log(1 / 0.5)
    assert psi([1, 1], [0, 2], EPS) == pytest.approx(expected)


def test_psi_needs_the_same_bins() -> None:
    with pytest.raises(InvalidInputError):
        psi([1, 2], [1, 2, 3])


def test_identical_data_has_no_drift() -> None:
    base = _profile({"x": list(range(1, 101))})
    cur = _profile({"x": list(range(1, 101))}, reference=base)
    report = compare_profiles(base, cur)
    assert report.severity is DriftSeverity.NONE
    assert report.columns[0].psi == pytest.approx(0.0)
    assert report.identical
    assert not report.drivers


def test_moderate_numeric_shift_by_hand() -> None:
    base = _profile({"x": list(range(1, 101))})  # edges 25, 50, 75: 25 rows per bin
    # 10 / 25 / 25 / 40 rows in the baseline's bins.
    shifted = list(range(1, 11)) + list(range(26, 51)) + list(range(51, 76)) + list(range(76, 116))
    cur = _profile({"x": shifted}, reference=base)
    report = compare_profiles(base, cur)
    # (0.10 - 0.25) ln(0.10/0.25) + 0 + 0 + (0.40 - 0.25) ln(0.40/0.25);
    # the missing bin is empty on both sides.
    expected = 0.15 * math.log(2.5) + 0.15 * math.log(1.6)
    assert expected == pytest.approx(0.2079, abs=1e-4)
    assert report.columns[0].psi == pytest.approx(expected)
    assert report.columns[0].approximate is False
    assert report.severity is DriftSeverity.MODERATE
    assert [d.column for d in report.drivers] == ["x"]


def test_severe_numeric_shift_by_hand() -> None:
    base = _profile({"x": list(range(1, 101))})
    cur = _profile({"x": list(range(51, 151))}, reference=base)
    report = compare_profiles(base, cur)
    # Shares 0 / 0 / 0.25 / 0.75 against 0.25 each: two empty bins floored at epsilon.
    expected = 2 * (EPS - 0.25) * math.log(EPS / 0.25) + 0.5 * math.log(3)
    assert report.columns[0].psi == pytest.approx(expected)
    assert report.severity is DriftSeverity.SEVERE


def test_categorical_psi_over_categories_by_hand() -> None:
    base = _profile({"colour": ["red"] * 50 + ["blue"] * 30 + ["green"] * 20})
    colours = ["red"] * 30 + ["blue"] * 30 + ["green"] * 20 + ["purple"] * 20
    cur = _profile({"colour": colours}, reference=base)
    report = compare_profiles(base, cur)
    # Bins red, blue, green, other, missing: other goes from 0 (epsilon) to 0.2.
    expected = (0.3 - 0.5) * math.log(0.3 / 0.5) + (0.2 - EPS) * math.log(0.2 / EPS)
    col = report.columns[0]
    assert col.type is ColumnType.CATEGORICAL
    assert col.psi == pytest.approx(expected)
    assert report.severity is DriftSeverity.SEVERE


def test_a_column_going_missing_is_drift() -> None:
    base = _profile({"x": list(range(1, 101)), "k": ["a"] * 100})
    values: list[object] = list(range(1, 101))
    for i in range(0, 100, 2):
        values[i] = ""
    cur = _profile({"x": values, "k": ["a"] * 100}, reference=base)
    report = compare_profiles(base, cur)
    # The missing bin goes from 0 (epsilon) to half of the rows.
    assert report.columns[0].column == "x"
    assert report.severity is DriftSeverity.SEVERE
    assert cur.column("x").missing == 50


def test_columns_are_sorted_by_score_and_drivers_named() -> None:
    base = _profile({"a": list(range(1, 101)), "b": list(range(1, 101)), "c": list(range(1, 101))})
    mod = list(range(1, 11)) + list(range(26, 116))
    cur = _profile({"a": list(range(1, 101)), "b": list(range(51, 151)), "c": mod}, reference=base)
    report = compare_profiles(base, cur)
    assert [c.column for c in report.columns] == ["b", "c", "a"]
    assert [c.column for c in report.drivers] == ["b", "c"]
    assert report.severity is DriftSeverity.SEVERE
    summary = report.summary()
    assert summary.startswith("drift severe, driven by b PSI")
    assert "rows 100 -> 100" in summary
    assert set(report.to_dict()["columns"][0]) == {"column", "type", "psi", "severity", "approximate"}


def test_schema_changes_are_reported() -> None:
    base = _profile({"a": list(range(100)), "b": list(range(100)), "gone": list(range(100))})
    cur = _profile({"a": list(range(100)), "b": ["x", "y"] * 50, "new": list(range(100))}, reference=base)
    report = compare_profiles(base, cur)
    kinds = {(c.column, c.kind) for c in report.schema_changes}
    assert kinds == {
        ("new", SchemaChangeKind.ADDED),
        ("gone", SchemaChangeKind.REMOVED),
        ("b", SchemaChangeKind.TYPE_CHANGED),
    }
    assert report.schema_changed
    assert [c.column for c in report.columns] == ["a"]
    assert "changed type numeric -> categorical" in report.summary()


def test_row_count_change_alone_is_not_drift() -> None:
    base = _profile({"x": list(range(1, 101))})
    cur = _profile({"x": list(range(1, 101)) * 3}, reference=base)
    report = compare_profiles(base, cur)
    assert report.severity is DriftSeverity.NONE
    assert (report.baseline_rows, report.current_rows) == (100, 300)


def test_without_reference_counts_drift_is_estimated_by_rebinning() -> None:
    base = _profile({"x": list(range(1, 101))})
    same = _profile({"x": list(range(1, 101))})
    shifted = _profile({"x": list(range(51, 151))})
    same_report = compare_profiles(base, same)
    assert same_report.columns[0].psi == pytest.approx(0.0)
    assert same_report.columns[0].approximate is False
    shifted_report = compare_profiles(base, shifted)
    assert shifted_report.columns[0].approximate is True
    assert shifted_report.severity is DriftSeverity.SEVERE
    # Reference counts made against another baseline are not used.
    other = _profile({"x": list(range(1000, 1100))})
    against_other = _profile({"x": list(range(51, 151))}, reference=other)
    assert compare_profiles(base, against_other).columns[0].approximate is True


def test_thresholds_are_per_model_and_boundaries_follow_the_convention() -> None:
    th = DriftThresholds()
    assert th.classify(0.0999) is DriftSeverity.NONE
    assert th.classify(0.1) is DriftSeverity.MODERATE
    assert th.classify(0.25) is DriftSeverity.MODERATE
    assert th.classify(0.2501) is DriftSeverity.SEVERE
    base = _profile({"x": list(range(1, 101))})
    shifted = list(range(1, 11)) + list(range(26, 116))  # PSI ~0.208
    cur = _profile({"x": shifted}, reference=base)
    assert compare_profiles(base, cur, DriftThresholds(moderate=0.05, severe=0.2)).severity is (
        DriftSeverity.SEVERE
    )
    assert compare_profiles(base, cur, DriftThresholds(moderate=0.3, severe=0.5)).severity is (
        DriftSeverity.NONE
    )
    ignored = compare_profiles(base, cur, DriftThresholds(ignore_columns=("x",)))
    assert ignored.columns == ()
    assert severity_of({"a": 0.01, "b": 0.3}) is DriftSeverity.SEVERE
    assert severity_of({}) is DriftSeverity.NONE


@pytest.mark.parametrize(("moderate", "severe", "eps"), [(0.3, 0.2, EPS), (0.0, 0.2, EPS), (0.1, 0.2, 0.5)])
def test_bad_thresholds_are_rejected(moderate: float, severe: float, eps: float) -> None:
    with pytest.raises(InvalidInputError) as err:
        DriftThresholds(moderate=moderate, severe=severe, epsilon=eps)
    assert err.value.field is not None
    assert err.value.field.startswith("drift.")


def test_external_severity_is_parsed_with_a_clear_error() -> None:
    assert DriftSeverity.parse("SEVERE") is DriftSeverity.SEVERE
    assert DriftSeverity.parse("medium") is DriftSeverity.MODERATE
    with pytest.raises(InvalidInputError) as err:
        DriftSeverity.parse("catastrophic")
    assert err.value.field == "drift.severity"
    assert "none, moderate, severe" in str(err.value)
