"""The plan carries the few columns that drove drift, never every column: it must fit the run's document."""

from __future__ import annotations

from amtflow.app import drift_summary
from amtflow.drift import ColumnDrift, ColumnType, DriftReport, DriftSeverity, SchemaChange, SchemaChangeKind


def test_a_dataset_with_thousands_of_drifted_columns_yields_a_small_summary() -> None:
    columns = tuple(
        ColumnDrift(f"feature_{i:05d}", ColumnType.NUMERIC, 0.9 - i / 10_000, DriftSeverity.SEVERE)
        for i in range(5_000)
    )
    changes = tuple(
        SchemaChange(f"extra_{i:05d}", SchemaChangeKind.ADDED, f"column extra_{i:05d} added")
        for i in range(5_000)
    )
    report = DriftReport(severity=DriftSeverity.SEVERE, columns=columns, schema_changes=changes)

    summary = drift_summary(report, None, "v1")

    assert summary is not None
    assert [d.column for d in summary.drivers] == [f"feature_{i:05d}" for i in range(5)]  # the worst first
    assert len(summary.schema_changes) == 5
    assert summary.max_psi == 0.9
    assert len(summary.model_dump_json(by_alias=True)) < 2_048  # whatever the number of columns
