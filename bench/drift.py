"""Trials saved by warm start after a drift, in the twin: TransferLearning vs cold, moderate and severe shift.

The numbers behind the decision table (moderate drift → ``TransferLearning`` warm start; severe drift → cold
start). Everything runs through the application in the local twin (real template, ASL, handlers; the local
AMT engine with the XGBoost example's Bayesian search and ranges, early stopping and completion criteria off
so every job uses its whole budget). The objective is the validation log-loss (minimised) rather than the
profile's AUC, which saturates at 1.0 on the ~100 validation rows of the shifted data, so that reaching the
cold start's best is not a matter of ties. For each seed and each shift (``examples/data.py``:
``moderate``, the calibrated covariate shift; ``severe``, shifted and rescaled features and a changed
label relationship):

- warm arm: a model's v1 lands (cold start), then the shifted v2 lands and the plan warm-starts a
  ``TransferLearning`` job from v1's job. The moderate arm uses the example profile's drift thresholds (the
  plan decides as it would in production); the severe arm raises its severe threshold out of reach, so the
  plan warm-starts where the table says cold start — to measure what the table avoids. Both arms keep the
  whole budget (``transfer_budget_fraction: 1``), so warm and cold get the same number of trials;
- cold arm: another model whose first dataset version is the same shifted data: a cold start.

Trials needed: for the cold start, the launch index of the trial that found its final best; for the warm
start, the index of the first trial whose objective reaches that value (a warm job that never reaches it
counts ``budget + 1``). Per seed and shift, ``ratio = warm trials needed / cold trials needed``: reported as
the median over seeds with a 95 % bootstrap interval (``_common.median_interval``); below 1 the warm start
saves trials, at or above 1 it does not. ``trials_ratio`` (kept for comparison with earlier runs) is
``sum(warm trials needed) / sum(cold trials needed)`` over seeds.

Each seed runs in a worker process with a twin (and engine) of its own (``--workers``, default 2); the
engine runs two trials of a job at once. Each seed is 6 tuning jobs of ``--trials`` trials: the default size
(10 seeds, 10 trials per job) took 9 min 51 s on an otherwise idle 2-core machine (2026-12-07).

JSON: ``{"moderate": {"trials_ratio": x, "interval": {"median", "low", "high", "n"}}, "severe": {...}}``.

    python bench/drift.py              # 10 seeds, 10 trials per job, 2 processes
    python bench/drift.py --quick      # 1 seed, 4 trials per job
"""

from __future__ import annotations

import contextlib
import os
import sys
import tempfile
import time
import warnings
from collections.abc import Mapping, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import yaml
from _common import (
    EXAMPLES,
    REPO,
    base_parser,
    load_example,
    median_interval,
    show_interval,
    table,
    write_json,
)
from _tuning import FAKE_AWS

SHIFTS = ("moderate", "severe")
START = datetime(2026, 11, 4, 22, 0, tzinfo=UTC)
QUIET = {"POWERTOOLS_LOG_LEVEL": "ERROR", "POWERTOOLS_METRICS_DISABLED": "true"}
OUT_OF_REACH = 1e9
METRIC = "validation:logloss"


@dataclass(frozen=True)
class Job:
    """A tuning job as the bench reads it back: warm start and objectives in launch order."""

    name: str
    warm_start_type: str | None
    parents: tuple[str, ...]
    objectives: tuple[float | None, ...]  # validation:logloss, minimised

    @property
    def best(self) -> float:
        values = [v for v in self.objectives if v is not None]
        if not values:
            raise RuntimeError(f"{self.name}: no trial reported an objective")
        return min(values)


def trials_to_reach(objectives: Sequence[float | None], target: float) -> int:
    """Launch index (from 1) of the first trial reaching ``target`` (at or below: a loss); ``len + 1`` when
    none does."""
    for i, value in enumerate(objectives, 1):
        if value is not None and value <= target:
            return i
    return len(objectives) + 1


def trials_ratio(pairs: Sequence[tuple[Job, Job]]) -> tuple[float, int, int]:
    """``(ratio, warm trials needed, cold trials needed)`` summed over ``(cold, warm)`` pairs."""
    needed_cold = sum(trials_to_reach(cold.objectives, cold.best) for cold, _ in pairs)
    needed_warm = sum(trials_to_reach(warm.objectives, cold.best) for cold, warm in pairs)
    return needed_warm / needed_cold, needed_warm, needed_cold


def seed_ratios(pairs: Sequence[tuple[Job, Job]]) -> list[float]:
    """Per ``(cold, warm)`` pair: warm trials needed / cold trials needed."""
    return [
        trials_to_reach(warm.objectives, cold.best) / trials_to_reach(cold.objectives, cold.best)
        for cold, warm in pairs
    ]


def profile(model: str, *, trials: int, seed: int, severe_threshold: float | None) -> dict[str, Any]:
    doc: dict[str, Any] = yaml.safe_load((EXAMPLES / "xgboost" / "profile.yaml").read_text(encoding="utf-8"))
    doc["model"] = model
    training = doc["training"]
    training["static_hyperparameters"]["eval_metric"] = "logloss"
    training["metrics"] = [{"name": METRIC, "regex": r"validation-logloss:([0-9\.]+)"}]
    doc["sample_log_lines"] = ["[0]\ttrain-logloss:0.45123\tvalidation-logloss:0.47210"]
    tuning = doc["tuning"]
    tuning["objective"] = {"metric": METRIC, "goal": "Minimize"}
    tuning["limits"] = {"max_jobs": trials, "max_parallel": min(2, trials), "max_runtime_s": 3600}
    tuning["early_stopping"] = "Off"
    tuning.pop("completion", None)
    tuning["random_seed"] = seed
    warm = doc.setdefault("warm_start", {})
    warm["transfer_budget_fraction"] = 1.0
    if severe_threshold is not None:
        warm["drift"] = {**warm.get("drift", {}), "severe": severe_threshold}
    # v1's best becomes the champion (the plan measures drift against its data); a challenger on new data is
    # held to the threshold rather than waiting for the champion's evaluation job (a training-job callback).
    doc["promotion"] = {**doc.get("promotion", {}), "cross_dataset": "threshold", "threshold": 1.0}
    return doc


class Bench:
    """Lands profiles and dataset versions in one running twin and reads the tuning jobs back."""

    def __init__(self, twin: Any, work: Path) -> None:
        self.twin = twin
        self.work = work
        self.data = load_example("data.py")

    def land(self, doc: Mapping[str, Any], version: str, *, seed: int, drift: str) -> Job:
        """Put the profile (if new) and a dataset version with its marker; return the run's tuning job."""
        model = str(doc["model"])
        self.twin.put_object(f"profiles/{model}.yaml", yaml.safe_dump(dict(doc), sort_keys=False))
        files = self.data.write_version(
            self.data.make_version("breast_cancer", seed=seed, drift=drift), self.work / model / version
        )
        for channel, path in sorted(files.items()):
            self.twin.put_object(f"datasets/{model}/{version}/{channel}/data.csv", Path(path).read_bytes())
        self.twin.wait_idle()
        self.twin.put_object(f"datasets/{model}/{version}/_READY", b"")
        self.twin.wait_for_executions(timeout=1800)
        runs = [
            e
            for e in self.twin.executions()
            if isinstance(e.input, dict)
            and (e.input.get("model"), e.input.get("datasetVersion")) == (model, version)
        ]
        if len(runs) != 1 or runs[0].status.value != "SUCCEEDED":
            found = ", ".join(f"{e.status.value} {e.error or ''} {e.cause or ''}" for e in runs) or "none"
            raise RuntimeError(f"{model} {version}: expected one succeeded execution, got: {found}")
        output = runs[0].output if isinstance(runs[0].output, dict) else {}
        name = (output.get("plan") or {}).get("jobName")
        if not name:
            raise RuntimeError(f"{model} {version}: the run planned no tuning job ({output.get('plan')})")
        return self.job_of(str(name))

    def job_of(self, name: str) -> Job:
        sm = self.twin.client("sagemaker")
        described = sm.describe_hyper_parameter_tuning_job(HyperParameterTuningJobName=name)
        warm = described.get("WarmStartConfig") or {}
        rows = sm.list_training_jobs_for_hyper_parameter_tuning_job(
            HyperParameterTuningJobName=name, MaxResults=100
        )["TrainingJobSummaries"]
        rows.sort(key=lambda r: (r["CreationTime"], r["TrainingJobName"]))
        return Job(
            name=name,
            warm_start_type=warm.get("WarmStartType"),
            parents=tuple(
                p["HyperParameterTuningJobName"] for p in warm.get("ParentHyperParameterTuningJobs", [])
            ),
            objectives=tuple(
                float(r["FinalHyperParameterTuningJobObjectiveMetric"]["Value"])
                if r.get("FinalHyperParameterTuningJobObjectiveMetric")
                else None
                for r in rows
            ),
        )


def run_seed(bench: Bench, shift: str, seed: int, trials: int) -> tuple[Job, Job, Job]:
    """``(parent, cold, warm)`` for one seed and one shift."""
    severe = OUT_OF_REACH if shift == "severe" else None
    warm_model = f"drift-{shift}-warm-{seed}"
    warm_profile = profile(warm_model, trials=trials, seed=seed, severe_threshold=severe)
    parent = bench.land(warm_profile, "v1", seed=10 * seed + 1, drift="none")
    warm = bench.land(warm_profile, "v2", seed=10 * seed + 2, drift=shift)
    if warm.warm_start_type != "TransferLearning" or warm.parents != (parent.name,):
        raise RuntimeError(
            f"{warm_model} v2 ({shift} drift): expected a TransferLearning warm start from {parent.name}, "
            f"got {warm.warm_start_type or 'a cold start'} from {list(warm.parents)}; the plan must be "
            "drift-aware"
        )
    cold_model = f"drift-{shift}-cold-{seed}"
    cold = bench.land(
        profile(cold_model, trials=trials, seed=seed, severe_threshold=None),
        "v2",
        seed=10 * seed + 2,
        drift=shift,
    )
    if cold.warm_start_type:
        raise RuntimeError(
            f"{cold_model}: a first dataset version must cold-start, got {cold.warm_start_type}"
        )
    return parent, cold, warm


def run_seeds(seeds: Sequence[int], trials: int) -> list[tuple[str, int, Job, Job, Job]]:
    """``(shift, seed, parent, cold, warm)`` for each seed and shift, in one twin of its own."""
    for key, value in FAKE_AWS.items():
        os.environ.setdefault(key, value)
    # With metrics switched off Powertools never flushes, so a warm handler's dimensions pile up.
    warnings.filterwarnings("ignore", message="Dimension .* has already been added")
    warnings.filterwarnings("ignore", message="No application metrics to publish")

    from amtflow.local.engine import sagemaker as local_engine
    from amtflow.local.twin import ManualClock, Twin

    out: list[tuple[str, int, Job, Job, Job]] = []
    with tempfile.TemporaryDirectory(prefix="amtflow-bench-drift-") as tmp:
        work = Path(tmp)

        def engine(sink: Any) -> Any:
            return local_engine(
                state_dir=work / "engine",
                image_map=EXAMPLES / "image-map.yaml",
                event_sink=sink,
                max_workers=2,
            )

        # The functions' own output (their CloudWatch log in the twin) is not the benchmark's: Powertools
        # prints a metric set once it holds 100 values, even with metrics switched off.
        with (
            open(os.devnull, "w", encoding="utf-8") as devnull,
            contextlib.redirect_stdout(devnull),
            Twin.start(
                REPO, sagemaker=engine, clock=ManualClock(START), work_dir=work, environment=QUIET, seed=1
            ) as twin,
        ):
            bench = Bench(twin, work)
            for seed in seeds:
                for shift in SHIFTS:
                    out.append((shift, seed, *run_seed(bench, shift, seed, trials)))
    return out


def _run_one(job: tuple[int, int]) -> list[tuple[str, int, Job, Job, Job]]:
    seed, trials = job
    return run_seeds([seed], trials)


def main(argv: Sequence[str] | None = None) -> int:
    parser = base_parser(__doc__.split("\n\n")[0])
    parser.add_argument("--seeds", type=int, help="seeds per shift (default 10, quick 1)")
    parser.add_argument("--trials", type=int, help="trials per tuning job (default 10, quick 4)")
    parser.add_argument(
        "--workers",
        type=int,
        default=2,
        help="processes, each with a twin of its own, one seed at a time (default 2)",
    )
    args = parser.parse_args(argv)
    seeds = args.seeds or (1 if args.quick else 10)
    trials = args.trials or (4 if args.quick else 10)
    if min(seeds, trials, args.workers) < 1:
        parser.error("--seeds, --trials and --workers must be at least 1")

    start = time.perf_counter()
    pairs: dict[str, list[tuple[Job, Job]]] = {shift: [] for shift in SHIFTS}
    rows: list[list[object]] = []
    if args.workers == 1:
        done = iter([run_seeds(range(seeds), trials)])
    else:
        pool = ProcessPoolExecutor(max_workers=min(args.workers, seeds))
        done = pool.map(_run_one, [(seed, trials) for seed in range(seeds)])
    try:
        for chunk in done:
            for shift, seed, parent, cold, warm in chunk:
                pairs[shift].append((cold, warm))
                n_cold = trials_to_reach(cold.objectives, cold.best)
                n_warm = trials_to_reach(warm.objectives, cold.best)
                rows.append([shift, seed, parent.best, cold.best, warm.best, n_cold, n_warm])
                print(
                    f"{shift} seed {seed}: cold best {cold.best:.4f} at trial {n_cold}, warm (from "
                    f"{parent.name}) reaches it at trial {n_warm if n_warm <= trials else 'never'} "
                    f"(warm best {warm.best:.4f}; {time.perf_counter() - start:.0f}s)",
                    flush=True,
                )
    finally:
        if args.workers != 1:
            pool.shutdown()
    print(table(["shift", "seed", "v1 best", "cold best", "warm best", "cold trials", "warm trials"], rows))
    result: dict[str, dict[str, Any]] = {}
    for shift in SHIFTS:
        ratio, warm_needed, cold_needed = trials_ratio(pairs[shift])
        interval = median_interval(seed_ratios(pairs[shift]))
        result[shift] = {"trials_ratio": round(ratio, 4), "interval": interval}
        verdict = "warm start saves trials" if interval["median"] < 1 else "warm start saves nothing"
        print(
            f"{shift}: per-seed trials ratio {show_interval(interval, '{:.2f}')}, summed {ratio:.2f} = "
            f"{warm_needed}/{cold_needed} ({verdict})"
        )
    print(
        f"{seeds} seed(s) x {trials} trials per job, {args.workers} process(es), "
        f"wall clock {time.perf_counter() - start:.0f}s"
    )
    write_json(args.json, result)
    return 0


if __name__ == "__main__":
    sys.exit(main())
