"""Support for the benchmark tests: running a benchmark script, the tiny budgets."""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
BENCH = REPO / "bench"
sys.path.insert(0, str(BENCH))  # the benchmarks are scripts; their helpers are imported by the tests

# Tiny budgets on top of --quick, so that each benchmark finishes in seconds.
TINY = {
    "search": ["--seeds", "2", "--budgets", "3,6", "--workers", "1"],
    "early_stopping": ["--trials", "2", "--epochs", "2", "--rows", "120"],
    "warm_start": ["--trials", "2"],
    "overhead": ["--trials", "1", "--epochs", "1"],
}


@dataclass(frozen=True)
class BenchRun:
    result: subprocess.CompletedProcess[str]
    figures: dict[str, Any]


def run_bench(name: str, *args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SM_")}
    return subprocess.run(
        [sys.executable, str(BENCH / f"{name}.py"), *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
