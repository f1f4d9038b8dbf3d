"""The fault-injection suite in the local twin: exactly one run per dataset version, whatever goes wrong.

Many models times dataset versions go through the real template, ASL and handlers, with the local AMT engine
behind SageMaker (a tiny stand-in training script, small budgets) while every event is delivered three
times, 10% of SageMaker's events are lost, 20% of SageMaker call attempts are throttled and 5% of trials
crash (``amtflow.local.apps.faults``). The reconciler's schedule runs until every execution has ended.

The suite runs once per seed (``--seeds``, each with its own draws of the faults). It prints the figures
summed over the seeds as JSON (``--json PATH`` also writes them, with ``"seeds"`` and each seed's figures
under ``"per_seed"``) and exits 1 unless every count of a failure is zero in every seed; what was injected
goes to stderr, a line per seed. The failure counts are counts, not samples: the figure is their total, and
a single failure anywhere fails the benchmark.

    python bench/faults.py --quick          # 2 models x 2 versions, 1 seed
    python bench/faults.py                  # 4 models x 3 versions, 10 seeds
"""

from __future__ import annotations

import contextlib
import json
import os
import sys
from pathlib import Path

from _common import base_parser, write_json

from amtflow.local.apps.faults import REPORT_KEYS, FaultPlan, run_fault_suite

ROOT = Path(__file__).resolve().parents[1]
FAILURE_KEYS = tuple(k for k in REPORT_KEYS if k not in ("dataset_versions", "runs"))


def main(argv: list[str] | None = None) -> int:
    parser = base_parser(__doc__.splitlines()[0])
    parser.add_argument("--models", type=int, help="number of models (default 2 quick, 4 full)")
    parser.add_argument("--versions", type=int, help="dataset versions per model (default 2 quick, 3 full)")
    parser.add_argument("--seed", type=int, default=7, help="the first seed (default 7)")
    parser.add_argument("--seeds", type=int, help="seeds, one suite each (default 1 quick, 10 full)")
    args = parser.parse_args(argv)
    for key, value in (("AWS_ACCESS_KEY_ID", "testing"), ("AWS_SECRET_ACCESS_KEY", "testing")):
        os.environ.setdefault(key, value)
    os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
    models = args.models or (2 if args.quick else 4)
    versions = args.versions or (2 if args.quick else 3)
    seeds = args.seeds or (1 if args.quick else 10)
    if seeds < 1:
        parser.error("--seeds must be at least 1")
    per_seed, unfinished = [], []
    for seed in range(args.seed, args.seed + seeds):
        with contextlib.redirect_stdout(sys.stderr):  # the handlers' own log lines: stdout is for figures
            result = run_fault_suite(ROOT, models=models, versions=versions, plan=FaultPlan(seed=seed))
        per_seed.append({"seed": seed, **result.report})
        unfinished += list(result.unfinished)
        print(
            f"seed {seed}: injected {json.dumps(result.counts)}; {result.sweeps} reconciler sweeps; "
            f"{result.seconds:.0f} s",
            file=sys.stderr,
        )
    report = {k: sum(int(r[k]) for r in per_seed) for k in REPORT_KEYS}
    print(json.dumps(report))
    with contextlib.redirect_stdout(sys.stderr):
        write_json(args.json, {**report, "seeds": seeds, "per_seed": per_seed})
    failures = {k: report[k] for k in FAILURE_KEYS if report[k]}
    short = [r["seed"] for r in per_seed if r["runs"] != r["dataset_versions"]]
    if short:
        failures["seeds with runs != dataset versions"] = short
    if failures:
        print(f"FAILED: {failures}; still running: {unfinished}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
