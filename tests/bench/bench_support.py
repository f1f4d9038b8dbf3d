"""Support for the benchmark tests: running a benchmark script, the tiny budgets."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
BENCH = REPO / "bench"
sys.path.insert(0, str(BENCH))  # the benchmarks are scripts; their helpers are imported by the tests

# Tiny budgets on top of --quick, so that each benchmark finishes in seconds (each still runs every
# strategy, method, task and runner it has; only seeds, trials, budgets and epochs are fewer).
TINY = {
    "search": ["--seeds", "2", "--budgets", "3,6", "--workers", "1"],
    "early_stopping": ["--seeds", "2", "--trials", "4"],
    "warm_start": ["--seeds", "1", "--trials", "2"],
    "overhead": ["--trials", "1", "--epochs", "1"],
}


HIDING = """import sys


class _Hidden:
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in {names!r}:
            raise ModuleNotFoundError(f"No module named {{name!r}}", name=name)
        return None


sys.meta_path.insert(0, _Hidden())
"""


@dataclass(frozen=True)
class BenchRun:
    result: subprocess.CompletedProcess[str]
    figures: dict[str, Any]


def run_bench(
    name: str, *args: str, cwd: Path, hide: set[str] | None = None
) -> subprocess.CompletedProcess[str]:
    """Run ``bench/<name>.py``; ``hide``: top-level packages the run must find missing."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("SM_")}
    if hide:
        # A first meta-path finder that refuses them: importing one fails as if it were not installed.
        site = cwd / "hide-packages"
        site.mkdir(exist_ok=True)
        (site / "sitecustomize.py").write_text(HIDING.format(names=sorted(hide)))
        env["PYTHONPATH"] = os.pathsep.join(p for p in (str(site), env.get("PYTHONPATH", "")) if p)
    return subprocess.run(
        [sys.executable, str(BENCH / f"{name}.py"), *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )


class BenchResults:
    """Each benchmark's tiny ``--quick`` run, made once, when a test first asks for it.

    The overhead benchmark is run by ``run_all.py --quick --only overhead -- <tiny sizes>`` (its output
    passes through), so the one run serves the overhead tests and run_all's: ``run_all`` is that
    ``run_all.py`` process, ``run_all_summary`` the summary it wrote."""

    names = tuple(TINY)

    def __init__(self, out: Path) -> None:
        self.out = out
        self.run_all_summary = out / "run-all-summary.json"
        self._runs: dict[str, BenchRun] = {}

    def __getitem__(self, name: str) -> BenchRun:
        if name not in self._runs:
            target = self.out / f"{name}.json"
            if name == "overhead":
                args = [
                    "--quick",
                    "--only",
                    name,
                    "--out",
                    str(self.out),
                    "--json",
                    str(self.run_all_summary),
                ]
                result = run_bench("run_all", *args, "--", *TINY[name], cwd=self.out)
            else:
                result = run_bench(name, "--quick", *TINY[name], "--json", str(target), cwd=self.out)
            assert result.returncode == 0, f"{name}: {result.stderr[-2000:]}"
            self._runs[name] = BenchRun(result, json.loads(target.read_text()))
        return self._runs[name]

    @property
    def run_all(self) -> subprocess.CompletedProcess[str]:
        return self["overhead"].result
