"""bench/faults.py: exactly one run per dataset version under injected faults, over several seeds."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from bench_support import run_bench

FAILURES = (
    "duplicate_runs",
    "non_terminal_executions",
    "runs_without_one_notification",
    "orphaned_tuning_jobs",
    "lineage_mismatches",
)


@pytest.mark.slow
def test_each_seed_runs_a_suite_of_its_own_and_the_figures_are_their_totals(tmp_path: Path) -> None:
    target = tmp_path / "faults.json"
    result = run_bench(
        "faults", "--models", "1", "--versions", "2", "--seeds", "2", "--json", str(target), cwd=tmp_path
    )
    assert result.returncode == 0, result.stderr[-3000:]
    figures = json.loads(target.read_text())
    assert figures["seeds"] == 2
    assert [r["seed"] for r in figures["per_seed"]] == [7, 8]
    assert figures["dataset_versions"] == figures["runs"] == 4
    assert all(figures[k] == 0 for k in FAILURES)
    assert json.loads(result.stdout.strip().splitlines()[-1]) == {
        k: v for k, v in figures.items() if k not in ("seeds", "per_seed")
    }
    assert [line.startswith("seed ") for line in result.stderr.splitlines() if "injected" in line] == [
        True
    ] * 2
