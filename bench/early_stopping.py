"""Compute saved by early stopping: epochs spent and final best objective, with and without stopping.

Through the real engine, with the MLP example (examples/mlp, one metric line per epoch) on the digits
data. For each seed, three tuning jobs with the same number of trials and the same ``RandomSeed``:

``off``        Random search, ``TrainingJobEarlyStoppingType: Off`` (baseline: every trial runs every epoch)
``auto``       the same Random search with ``Auto`` (the median rule); the configurations are the same ones
``hyperband``  ``Strategy: Hyperband`` (MinResource = epochs / 10, MaxResource = epochs: the example
               profile's own 3 and 30); with the same seed it tries the same configurations as ``off``

Epochs spent = the epoch lines the trials printed. Figures, per method, summed over seeds:
``epochs_saved_fraction = 1 - epochs(method) / epochs(off)`` and, averaged over seeds,
``relative_loss = (best(method) - best(off)) / best(off)`` on the validation loss (positive = worse).

JSON: ``{"epochs_saved_fraction": x, "relative_loss": x, "by_method": {"auto": {...}, "hyperband": {...}}}``;
the top-level figures are Hyperband's (the examples' per-epoch profile uses Hyperband), ``by_method`` has
both. Target: at least 50% of the epochs saved at no more than 1% relative loss.

    python bench/early_stopping.py            # 4 seeds, 24 trials of up to 30 epochs each
    python bench/early_stopping.py --quick    # 1 seed, 4 trials of up to 4 epochs
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

METHODS = ("off", "auto", "hyperband")


def overrides(method: str, *, epochs: int, trials: int, parallel: int, seed: int) -> dict[str, Any]:
    tuning: dict[str, Any] = {
        "strategy": "Hyperband" if method == "hyperband" else "Random",
        "early_stopping": "Auto" if method == "auto" else "Off",
        "limits": {"max_jobs": trials, "max_parallel": parallel, "max_runtime_s": None},
        "random_seed": seed,
        "hyperband": {"min_resource": max(1, epochs // 10), "max_resource": epochs}
        if method == "hyperband"
        else None,
    }
    return {"training": {"static_hyperparameters": {"epochs": epochs}}, "tuning": tuning}


def best(trials: Sequence[Trial]) -> float:
    values = [t.objective for t in trials if t.objective is not None]
    if not values:
        raise RuntimeError("no trial reported an objective")
    return min(values)


def main(argv: Sequence[str] | None = None) -> int:
    parser = base_parser(__doc__.split("\n\n")[0])
    parser.add_argument("--seeds", type=int, help="tuning jobs per method (default 4, quick 1)")
    parser.add_argument("--trials", type=int, help="trials per tuning job (default 24, quick 4)")
    parser.add_argument("--epochs", type=int, help="epochs per full trial (default 30, quick 4)")
    parser.add_argument("--parallel", type=int, default=2, help="MaxParallelTrainingJobs (default 2)")
    parser.add_argument("--rows", type=int, help="rows of the digits data (default 1000, quick 300)")
    args = parser.parse_args(argv)
    seeds = args.seeds or (1 if args.quick else 4)
    trials = args.trials or (4 if args.quick else 24)
    epochs = args.epochs or (4 if args.quick else 30)
    rows = args.rows or (300 if args.quick else 1000)
    if min(seeds, trials, epochs, args.parallel) < 1 or rows < 50:
        parser.error("--seeds, --trials, --epochs, --parallel must be at least 1 and --rows at least 50")
    for key, value in FAKE_AWS.items():
        os.environ.setdefault(key, value)

    results: dict[str, list[list[Trial]]] = {m: [] for m in METHODS}
    start = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="amtflow-bench-es-") as tmp:
        root = Path(tmp)
        with local_engine(root / "state", max_workers=args.parallel) as (engine, sagemaker):
            for seed in range(seeds):
                data_uri = write_dataset(root / f"data-{seed}", "digits", seed=seed + 1, max_rows=rows)
                for method in METHODS:
                    request = tuning_request(
                        "mlp",
                        f"bench-es-{method}-{seed}",
                        data_uri,
                        (root / "output").as_uri() + "/",
                        overrides(method, epochs=epochs, trials=trials, parallel=args.parallel, seed=seed),
                    )
                    job = run_tuning_job(engine, sagemaker, request, step_pattern=r"^epoch=\d+ ")
                    results[method].append(job)
                    print(
                        f"seed {seed} {method:9s}: {len(job)} trials, {sum(t.steps for t in job)} epochs, "
                        f"best validation loss {best(job):.4f} ({time.perf_counter() - start:.0f}s)",
                        flush=True,
                    )

    epochs_spent = {m: sum(t.steps for job in results[m] for t in job) for m in METHODS}
    by_method: dict[str, dict[str, float]] = {}
    for method in METHODS[1:]:
        losses = [
            (best(mine) - best(base)) / abs(best(base))
            for mine, base in zip(results[method], results["off"], strict=True)
        ]
        by_method[method] = {
            "epochs_saved_fraction": round(1 - epochs_spent[method] / epochs_spent["off"], 4),
            "relative_loss": round(sum(losses) / len(losses), 4),
        }
    rows_out = [
        [
            m,
            epochs_spent[m],
            sum(best(job) for job in results[m]) / seeds,
            by_method.get(m, {}).get("epochs_saved_fraction", 0.0),
            by_method.get(m, {}).get("relative_loss", 0.0),
        ]
        for m in METHODS
    ]
    print(table(["method", "epochs", "mean best loss", "epochs saved", "relative loss"], rows_out))
    for method, figures in by_method.items():
        ok = figures["epochs_saved_fraction"] >= 0.5 and figures["relative_loss"] <= 0.01
        print(
            f"{'PASS' if ok else 'MISS'} {method}: {figures['epochs_saved_fraction']:.0%} of the epochs "
            f"saved at {figures['relative_loss']:+.2%} relative loss (target >= 50% at <= 1%)"
        )
    print(
        f"{seeds} seed(s) x {trials} trials x up to {epochs} epochs, "
        f"wall clock {time.perf_counter() - start:.0f}s"
    )
    write_json(args.json, {**by_method["hyperband"], "by_method": by_method})
    return 0


if __name__ == "__main__":
    sys.exit(main())
