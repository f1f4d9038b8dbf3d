"""The fault-injection suite in the local twin: exactly one run per dataset version, whatever goes wrong.

Many models times dataset versions go through the real template, ASL and handlers, with the local AMT engine
behind SageMaker (a tiny stand-in training script, small budgets) while every event is delivered three
times, 10% of SageMaker's events are lost, 20% of SageMaker call attempts are throttled and 5% of trials
crash (``amtflow.local.apps.faults``). The reconciler's schedule runs until every execution has ended.

Prints exactly the issue's figures as JSON (``--json PATH`` also writes them) and exits 1 unless every
count of a failure is zero; what was injected goes to stderr.

    python bench/faults.py --quick          # 2 models x 2 versions (about a minute)
    python bench/faults.py                  # 4 models x 3 versions
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
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args(argv)
    for key, value in (("AWS_ACCESS_KEY_ID", "testing"), ("AWS_SECRET_ACCESS_KEY", "testing")):
        os.environ.setdefault(key, value)
    os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
    models = args.models or (2 if args.quick else 4)
    versions = args.versions or (2 if args.quick else 3)
    with contextlib.redirect_stdout(sys.stderr):  # the handlers' own log lines: stdout is for the figures
        result = run_fault_suite(ROOT, models=models, versions=versions, plan=FaultPlan(seed=args.seed))
    print(json.dumps(result.report))
    print(
        f"injected: {json.dumps(result.counts)}; {result.sweeps} reconciler sweeps; {result.seconds:.0f} s",
        file=sys.stderr,
    )
    with contextlib.redirect_stdout(sys.stderr):
        write_json(args.json, result.report)
    failures = {k: result.report[k] for k in FAILURE_KEYS if result.report[k]}
    if result.report["runs"] != result.report["dataset_versions"]:
        failures["runs"] = result.report["runs"]
    if failures:
        print(f"FAILED: {failures}; still running: {list(result.unfinished)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
