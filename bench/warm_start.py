"""Trials saved by warm start after a data shift: TransferLearning vs a cold start, with a peer.

The engine's strategy layer driven in-process (``make_strategy`` and ``warm_start_strategy``, the code a
tuning job with ``WarmStartConfig`` runs; the objective computed in-process exactly as the XGBoost
example computes it: ``examples/xgboost/train.py``'s ``train_and_evaluate``, the profile's 8 ranges and
``num_round`` 100 with early stopping after 10 rounds, one thread), asynchronous with ``--parallel``
trials at once like the engine. The objective is the validation log-loss (minimised; the last value
reported, as AMT takes it) rather than the profile's AUC, which saturates on small validation sets.

Tasks (both binary, ``examples/data.py``):

``cancer``     breast-cancer data: ~140 validation rows (~100 after the shift); *noisy*: the ranking of
               good configurations there is partly noise, on the old data and the new.
``synthetic``  4,000 generated rows: 1,000 validation rows (~700 after the shift); *large*: noise
               does not decide the ranking of configurations.

For each seed and task: a parent job (Bayesian) on version v1; then, after a moderate shift (v2: the
resampled covariate shift, PSI 0.17), a cold start, a ``TransferLearning`` warm start from the parent
(same budget and seed) and a peer: an Optuna TPE study seeded with the parent's best configurations
(``enqueue_trial``, as many as the engine proposes first, best first); after a severe shift (v3:
shifted, rescaled features and rotated labels), a cold and a warm start again.

Figures, per seed: trials needed = for the cold start, the launch index of the trial that found its final
best; for the warm start or the peer, the index of the first trial that reaches that value (never:
``budget + 1``); ``ratio = warm needed / cold needed``. Severe shift: ``severe_regret = (best(warm) -
best(cold)) / best(cold)`` after the whole budget (positive: warm is worse). Reported: the median over
seeds with a 95 % bootstrap interval. Targets: median moderate ratio <= 0.5; after a severe shift warm no
worse than cold beyond noise (the interval of ``severe_regret`` reaches 0 or below).

Second figure (moderate shift, labelled as such; the figure above stays the target): on a small validation
set the cold start's final best is partly a lucky draw of the validation rows, so ``ratio_within_noise``
counts, for both jobs alike, the trials needed to reach a configuration *within the validation noise* of
the cold start's best: one whose per-row validation log-losses exceed the best's by, on average, at most
their standard error (a paired comparison on the same rows).

Each seed runs in a worker process (``--workers``, default 2); about 25 minutes on 2 busy cores.

JSON: ``{"trials_ratio": x, "interval": {...}, "tasks": {TASK: {"ratio": {...}, "peer_ratio": {...},
"ratio_within_noise": {...}, "severe_regret": {...}, "sum_ratio": x}}, "seeds": n, "budget": b}``, each
``{...}`` a ``median_interval``; ``trials_ratio``/``interval`` are the large-validation task's
moderate-shift figures.

    python bench/warm_start.py            # 30 seeds x 20 trials per job, both tasks
    python bench/warm_start.py --quick    # 2 seeds x 6 trials, both tasks
"""

from __future__ import annotations

import math
import statistics
import sys
import time
from collections import deque
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import ProcessPoolExecutor
from functools import cache
from typing import Any

from _common import base_parser, load_example, median_interval, show_interval, table, write_json

TASKS = {"cancer": "breast_cancer", "synthetic": "synthetic"}
LARGE = "synthetic"  # the task whose validation set is large enough that noise does not decide
STATIC = {
    "objective": "binary:logistic",
    "eval_metric": "logloss",
    "num_round": "100",
    "early_stopping_rounds": "10",
    "nthread": "1",
}
Objective = Callable[[Mapping[str, Any]], float]


@cache
def ranges() -> dict[str, Any]:
    from search import _profile_ranges

    return _profile_ranges("xgboost")


def objective(dataset: str, *, seed: int, drift: str, rows: dict[str, Any] | None = None) -> Objective:
    """The validation log-loss of a configuration on one dataset version (with ``rows``: each
    configuration's per-row validation log-losses are kept there, under :func:`key`)."""
    import numpy as np
    import xgboost as xgb

    train = load_example("xgboost/train.py")
    version = load_example("data.py").make_version(dataset, seed=seed, drift=drift)
    dtrain = xgb.DMatrix(version.x_train, label=version.y_train)
    dvalidation = xgb.DMatrix(version.x_validation, label=version.y_validation)

    def loss(config: Mapping[str, Any]) -> float:
        hp = train.parse_hyperparameters({**STATIC, **{k: str(v) for k, v in config.items()}})
        booster, history = train.train_and_evaluate(hp, dtrain, dvalidation)
        if rows is not None:
            p = np.clip(booster.predict(dvalidation), 1e-15, 1 - 1e-15)
            y = np.asarray(version.y_validation, dtype=float)
            rows[key(config)] = -(y * np.log(p) + (1 - y) * np.log(1 - p))
        return float(history["validation"]["logloss"][-1])

    return loss


def key(config: Mapping[str, Any]) -> str:
    return repr(sorted((k, str(v)) for k, v in config.items()))


def within_noise(
    rows: Mapping[str, Any], configs: Sequence[Mapping[str, Any]], best: Mapping[str, Any]
) -> list[float]:
    """Per configuration, 1.0 if its validation log-loss is within the noise of ``best``'s: the mean of the
    per-row differences at most their standard error (paired, on the same validation rows), else 0.0."""
    import numpy as np

    out = []
    for config in configs:
        d = np.asarray(rows[key(config)]) - np.asarray(rows[key(best)])
        se = float(np.std(d, ddof=1) / math.sqrt(len(d))) if len(d) > 1 else 0.0
        out.append(1.0 if float(np.mean(d)) <= se else 0.0)
    return out


class _Searcher:
    """ask/tell over the engine's Bayesian strategy, optionally warm-started from a parent's results."""

    def __init__(self, seed: int, *, parent: Sequence[tuple[Mapping[str, Any], float]] = (), parallel: int):
        from amtflow.local.engine import make_strategy, warm_start_strategy

        config = {
            "Strategy": "Bayesian",
            "ParameterRanges": ranges(),
            "HyperParameterTuningJobObjective": {"Type": "Minimize", "MetricName": "validation:logloss"},
        }
        self.strategy = make_strategy(config, seed)
        if parent:
            results = [({k: str(v) for k, v in c.items()}, v) for c, v in parent]
            warm_start_strategy(self.strategy, "TransferLearning", results, max_parallel=parallel)

    def ask(self) -> tuple[dict[str, Any], Any]:
        config = self.strategy.suggest()
        assert config is not None
        return dict(config), config

    def tell(self, handle: Any, value: float) -> None:
        self.strategy.on_result(handle, value if math.isfinite(value) else None)


class _OptunaPeer:
    """Optuna's TPE study, seeded with the parent's best configurations (``enqueue_trial``)."""

    def __init__(self, seed: int, *, prior: Sequence[Mapping[str, Any]]) -> None:
        import optuna
        from search import optuna_distributions

        optuna.logging.set_verbosity(optuna.logging.WARNING)
        self.study = optuna.create_study(direction="minimize", sampler=optuna.samplers.TPESampler(seed=seed))
        self.distributions = optuna_distributions(ranges())
        for config in prior:
            self.study.enqueue_trial(dict(config))

    def ask(self) -> tuple[dict[str, Any], Any]:
        trial = self.study.ask(self.distributions)
        return dict(trial.params), trial

    def tell(self, handle: Any, value: float) -> None:
        self.study.tell(handle, value)


def run_job(searcher: _Searcher | _OptunaPeer, f: Objective, *, budget: int, parallel: int) -> list[Any]:
    """``(config, value)`` in launch order; ``parallel`` pending, the oldest told first (the engine's order
    with equal trial durations)."""
    pending: deque[tuple[dict[str, Any], Any]] = deque()
    done: list[Any] = []
    issued = 0
    while len(done) < budget:
        while len(pending) < parallel and issued < budget:
            pending.append(searcher.ask())
            issued += 1
        config, handle = pending.popleft()
        value = f(config)
        searcher.tell(handle, value)
        done.append((config, value))
    return done


def best(values: Sequence[float]) -> float:
    return min(values)


def trials_to_reach(values: Sequence[float], target: float) -> int:
    """Launch index (from 1) of the first value that reaches ``target``; ``len + 1`` if none does."""
    for i, v in enumerate(values, 1):
        if v <= target:
            return i
    return len(values) + 1


def cold_needed(values: Sequence[float]) -> int:
    return trials_to_reach(values, best(values))


def best_after(values: Sequence[float], k: int) -> float:
    return min(values[:k])


def prior_configs(parent: Sequence[tuple[Mapping[str, Any], float]], parallel: int) -> list[dict[str, Any]]:
    """The parent's best distinct configurations, as many as the engine proposes first (``max(TOP_K,
    parallel)``)."""
    from amtflow.local.engine._transfer import TOP_K

    out: list[dict[str, Any]] = []
    for config, _ in sorted(parent, key=lambda cv: cv[1]):
        if dict(config) not in out:
            out.append(dict(config))
        if len(out) >= max(TOP_K, parallel):
            break
    return out


def run_seed(task: str, seed: int, *, budget: int, parallel: int, peer: bool) -> dict[str, list[float]]:
    dataset = TASKS[task]
    f1 = objective(dataset, seed=10 * seed + 1, drift="none")
    rows: dict[str, Any] = {}
    f2 = objective(dataset, seed=10 * seed + 2, drift="moderate", rows=rows)
    f3 = objective(dataset, seed=10 * seed + 3, drift="severe")
    parent = run_job(_Searcher(seed, parallel=parallel), f1, budget=budget, parallel=parallel)
    runs: dict[str, list[float]] = {"parent": [v for _, v in parent]}
    for name, f in (("moderate", f2), ("severe", f3)):
        cold = run_job(_Searcher(seed, parallel=parallel), f, budget=budget, parallel=parallel)
        warm = run_job(_Searcher(seed, parent=parent, parallel=parallel), f, budget=budget, parallel=parallel)
        runs[f"{name}_cold"] = [v for _, v in cold]
        runs[f"{name}_warm"] = [v for _, v in warm]
        if name == "moderate":
            top = cold[cold_needed(runs["moderate_cold"]) - 1][0]
            runs["moderate_cold_near"] = within_noise(rows, [c for c, _ in cold], top)
            runs["moderate_warm_near"] = within_noise(rows, [c for c, _ in warm], top)
    if peer:
        searcher = _OptunaPeer(seed, prior=prior_configs(parent, parallel))
        runs["moderate_peer"] = [v for _, v in run_job(searcher, f2, budget=budget, parallel=parallel)]
    return runs


def summarise(per_seed: Sequence[Mapping[str, Sequence[float]]]) -> dict[str, Any]:
    ratios, peer_ratios, regrets, noise_ratios = [], [], [], []
    needed_cold = needed_warm = 0
    for runs in per_seed:
        cold = runs["moderate_cold"]
        n_cold = cold_needed(cold)
        n_warm = trials_to_reach(runs["moderate_warm"], best(cold))
        needed_cold += n_cold
        needed_warm += n_warm
        ratios.append(n_warm / n_cold)
        if "moderate_cold_near" in runs:  # 1.0: within the validation noise of the cold start's best
            needed = trials_to_reach([-v for v in runs["moderate_warm_near"]], -1.0)
            noise_ratios.append(needed / trials_to_reach([-v for v in runs["moderate_cold_near"]], -1.0))
        if "moderate_peer" in runs:
            peer_ratios.append(trials_to_reach(runs["moderate_peer"], best(cold)) / n_cold)
        severe_cold, severe_warm = best(runs["severe_cold"]), best(runs["severe_warm"])
        regrets.append((severe_warm - severe_cold) / severe_cold)
    out: dict[str, Any] = {
        "ratio": median_interval(ratios),
        "sum_ratio": round(needed_warm / needed_cold, 4),
        "severe_regret": median_interval(regrets),
    }
    if peer_ratios:
        out["peer_ratio"] = median_interval(peer_ratios)
    if noise_ratios:
        out["ratio_within_noise"] = median_interval(noise_ratios)
    return out


def _run_seed(job: tuple[str, int, int, int, bool]) -> tuple[int, dict[str, list[float]]]:
    from threadpoolctl import threadpool_limits

    task, seed, budget, parallel, peer = job
    with threadpool_limits(1):
        return seed, run_seed(task, seed, budget=budget, parallel=parallel, peer=peer)


def _report(
    task: str, done: Iterable[tuple[int, dict[str, list[float]]]], budget: int, start: float
) -> dict[str, Any]:
    """Print each seed's figures as it comes and the task's table; the task's summary."""
    per_seed = []
    for seed, runs in done:
        per_seed.append(runs)
        cold = runs["moderate_cold"]
        n_warm = trials_to_reach(runs["moderate_warm"], best(cold))
        print(
            f"{task} seed {seed}: moderate cold best {best(cold):.4f} at trial {cold_needed(cold)}, "
            f"warm reaches it at {n_warm if n_warm <= budget else 'never'} (warm best "
            f"{best(runs['moderate_warm']):.4f}); severe cold {best(runs['severe_cold']):.4f} "
            f"warm {best(runs['severe_warm']):.4f} ({time.perf_counter() - start:.0f}s)",
            flush=True,
        )
    checkpoints = sorted({k for k in (1, 3, 5, 10, budget) if k <= budget})
    rows = []
    for which in ("moderate_cold", "moderate_warm", "moderate_peer", "severe_cold", "severe_warm"):
        if which in per_seed[0]:
            rows.append(
                [which] + [statistics.median(best_after(r[which], k) for r in per_seed) for k in checkpoints]
            )
    print(f"{task}: median best validation log-loss after k trials")
    print(table(["job", *(f"k={k}" for k in checkpoints)], rows))
    return summarise(per_seed)


def main(argv: Sequence[str] | None = None) -> int:
    parser = base_parser(__doc__.split("\n\n")[0])
    parser.add_argument("--seeds", type=int, help="seeds per task (default 30, quick 2)")
    parser.add_argument("--trials", type=int, help="trials per job (default 20, quick 6)")
    parser.add_argument("--parallel", type=int, default=2, help="trials at once (default 2)")
    parser.add_argument("--tasks", help=f"comma-separated subset of {', '.join(TASKS)}")
    parser.add_argument("--no-peer", action="store_true", help="skip the Optuna peer")
    parser.add_argument(
        "--workers", type=int, default=2, help="processes, one seed at a time each (default 2)"
    )
    args = parser.parse_args(argv)
    seeds = args.seeds or (2 if args.quick else 30)
    budget = args.trials or (6 if args.quick else 20)
    chosen = args.tasks.split(",") if args.tasks else list(TASKS)
    unknown = [t for t in chosen if t not in TASKS]
    if unknown:
        parser.error(f"--tasks: unknown {', '.join(unknown)}; choose from {', '.join(TASKS)}")
    if min(seeds, budget, args.parallel, args.workers) < 1:
        parser.error("--seeds, --trials, --parallel and --workers must be at least 1")

    start = time.perf_counter()
    results: dict[str, dict[str, Any]] = {}
    pool = ProcessPoolExecutor(max_workers=args.workers) if args.workers > 1 else None
    try:
        for task in chosen:
            jobs = [(task, seed, budget, args.parallel, not args.no_peer) for seed in range(seeds)]
            done = pool.map(_run_seed, jobs) if pool else map(_run_seed, jobs)
            results[task] = _report(task, done, budget, start)
    finally:
        if pool:
            pool.shutdown()
    rows = []
    for task, figures in results.items():
        rows.append(
            [
                f"{task} ({'large' if task == LARGE else 'noisy'} validation)",
                show_interval(figures["ratio"], "{:.2f}"),
                show_interval(figures["peer_ratio"], "{:.2f}") if "peer_ratio" in figures else "",
                show_interval(figures["severe_regret"], "{:+.1%}"),
                show_interval(figures["ratio_within_noise"], "{:.2f}")
                if "ratio_within_noise" in figures
                else "",
            ]
        )
    headers = ["task", "moderate: warm/cold trials", "optuna peer/cold", "severe: warm vs cold"]
    print(table([*headers, "second figure: within noise"], rows))
    for task, figures in results.items():
        ratio, regret = figures["ratio"], figures["severe_regret"]
        print(
            f"{'PASS' if ratio['median'] <= 0.5 else 'MISS'} {task} moderate shift: median trials ratio "
            f"{ratio['median']:.2f} (target <= 0.5; sum ratio {figures['sum_ratio']:.2f})"
        )
        print(
            f"{'PASS' if regret['low'] <= 0 else 'MISS'} {task} severe shift: warm vs cold best "
            f"{show_interval(regret, '{:+.1%}')} (target: interval reaches 0 or below)"
        )
    print(
        f"{seeds} seed(s) x {budget} trials per job, parallel {args.parallel}, "
        f"wall clock {time.perf_counter() - start:.0f}s"
    )
    headline = results.get(LARGE) or next(iter(results.values()))
    write_json(
        args.json,
        {
            "trials_ratio": round(headline["ratio"]["median"], 4),
            "interval": headline["ratio"],
            "tasks": results,
            "seeds": seeds,
            "budget": budget,
        },
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
