"""Trials saved by warm start after a moderate data shift: TransferLearning vs a cold start.

Through the real engine, with the XGBoost example (examples/xgboost, its profile's Bayesian search and
ranges; early stopping and completion criteria off so every job uses its whole budget). The objective is
the validation log-loss (``eval_metric: logloss``, minimised) rather than the profile's AUC: on the ~100
validation rows of the drifted breast-cancer data AUC saturates at 1.0, so "reaching the cold start's final
best" would be a matter of ties. For each seed:

1. a parent tuning job on dataset version v1 (``examples/data.py``, breast-cancer data);
2. a moderate drift of the data (v2: ``--drift moderate``, the resampled covariate shift);
3. on v2, a cold-start job and a ``TransferLearning`` warm-start job (parent: job 1), same budget and
   ``RandomSeed``.

Trials needed: for the cold start, the launch index of the trial that found its final best; for the warm
start, the index of the first trial whose objective reaches that value (a warm job that never reaches it
counts ``budget + 1``). ``trials_ratio = sum(warm trials needed) / sum(cold trials needed)`` over seeds.
Target: at most 0.5.

JSON: ``{"trials_ratio": x}``.

    python bench/warm_start.py            # 4 seeds, 20 trials per job
    python bench/warm_start.py --quick    # 1 seed, 4 trials per job
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from _common import base_parser, table, write_json
from _tuning import FAKE_AWS, Trial, local_engine, run_tuning_job, tuning_request, write_dataset

from amtflow.profile import WarmStart, WarmStartType

STEP = r"^\[\d+\]\t"


METRIC = "validation:logloss"


def overrides(*, trials: int, parallel: int, seed: int) -> dict[str, Any]:
    return {
        "training": {
            "static_hyperparameters": {"eval_metric": "logloss"},
            "metrics": [{"name": METRIC, "regex": r"validation-logloss:([0-9\.]+)"}],
        },
        "tuning": {
            "objective": {"metric": METRIC, "goal": "Minimize"},
            "strategy": "Bayesian",
            "early_stopping": "Off",
            "completion": {"not_improving": None},
            "limits": {"max_jobs": trials, "max_parallel": parallel, "max_runtime_s": None},
            "random_seed": seed,
        },
    }


def best(trials: Sequence[Trial]) -> float:
    values = [t.objective for t in trials if t.objective is not None]
    if not values:
        raise RuntimeError("no trial reported an objective")
    return min(values)  # the log-loss is minimised


def trials_to_reach(trials: Sequence[Trial], target: float, budget: int) -> int:
    """Launch index of the first trial whose objective reaches ``target``; ``budget + 1`` if none does."""
    for t in trials:
        if t.objective is not None and t.objective <= target:
            return t.index
    return budget + 1


def best_after(trials: Sequence[Trial], k: int) -> float | None:
    """The best objective among the first ``k`` trials launched (None when none of them has one)."""
    values = [t.objective for t in trials if t.index <= k and t.objective is not None]
    return min(values) if values else None


def main(argv: Sequence[str] | None = None) -> int:
    parser = base_parser(__doc__.split("\n\n")[0])
    parser.add_argument("--seeds", type=int, help="parent/cold/warm triples (default 4, quick 1)")
    parser.add_argument("--trials", type=int, help="trials per tuning job (default 20, quick 4)")
    parser.add_argument("--parallel", type=int, default=2, help="MaxParallelTrainingJobs (default 2)")
    args = parser.parse_args(argv)
    seeds = args.seeds or (1 if args.quick else 4)
    budget = args.trials or (4 if args.quick else 20)
    if min(seeds, budget, args.parallel) < 1:
        parser.error("--seeds, --trials and --parallel must be at least 1")
    for key, value in FAKE_AWS.items():
        os.environ.setdefault(key, value)

    rows = []
    curves: dict[str, list[list[float | None]]] = {"cold": [], "warm": []}
    checkpoints = sorted({k for k in (1, 3, 5, 10, budget) if k <= budget})
    needed_cold, needed_warm = 0, 0
    start = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="amtflow-bench-ws-") as tmp:
        root = Path(tmp)
        output = (root / "output").as_uri() + "/"
        with local_engine(root / "state", max_workers=args.parallel) as (engine, sagemaker):
            for seed in range(seeds):
                v1 = write_dataset(root / f"v1-{seed}", "breast_cancer", seed=10 * seed + 1)
                v2 = write_dataset(root / f"v2-{seed}", "breast_cancer", seed=10 * seed + 2, drift="moderate")
                settings = overrides(trials=budget, parallel=args.parallel, seed=seed)
                parent_name = f"bench-ws-parent-{seed}"
                parent = run_tuning_job(
                    engine,
                    sagemaker,
                    tuning_request("xgboost", parent_name, v1, output, settings),
                    step_pattern=STEP,
                )
                cold = run_tuning_job(
                    engine,
                    sagemaker,
                    tuning_request("xgboost", f"bench-ws-cold-{seed}", v2, output, settings),
                    step_pattern=STEP,
                )
                warm_start = WarmStart(WarmStartType.TRANSFER_LEARNING, (parent_name,))
                warm = run_tuning_job(
                    engine,
                    sagemaker,
                    tuning_request(
                        "xgboost", f"bench-ws-warm-{seed}", v2, output, settings, warm_start=warm_start
                    ),
                    step_pattern=STEP,
                )
                target = best(cold)
                n_cold = trials_to_reach(cold, target, budget)
                n_warm = trials_to_reach(warm, target, budget)
                curves["cold"].append([best_after(cold, k) for k in checkpoints])
                curves["warm"].append([best_after(warm, k) for k in checkpoints])
                needed_cold += n_cold
                needed_warm += n_warm
                rows.append([seed, best(parent), target, best(warm), n_cold, n_warm])
                print(
                    f"seed {seed}: cold best {target:.4f} at trial {n_cold}, warm reaches it at trial "
                    f"{n_warm if n_warm <= budget else 'never'} (warm best {best(warm):.4f}; "
                    f"{time.perf_counter() - start:.0f}s)",
                    flush=True,
                )
    ratio = needed_warm / needed_cold
    print(table(["seed", "parent best", "cold best", "warm best", "cold trials", "warm trials"], rows))
    curve_rows = []
    for which, runs in curves.items():
        means = []
        for i in range(len(checkpoints)):
            values = [run[i] for run in runs if run[i] is not None]
            means.append(sum(values) / len(values) if values else float("nan"))
        curve_rows.append([which, *means])
    print("mean best objective after k trials:")
    print(table(["start", *(f"k={k}" for k in checkpoints)], curve_rows))
    print(
        f"{'PASS' if ratio <= 0.5 else 'MISS'} trials ratio {ratio:.2f} = {needed_warm}/{needed_cold} "
        f"(target <= 0.5); {seeds} seed(s) x {budget} trials, wall clock {time.perf_counter() - start:.0f}s"
    )
    write_json(args.json, {"trials_ratio": round(ratio, 4)})
    return 0


if __name__ == "__main__":
    sys.exit(main())
