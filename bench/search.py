"""Search quality: the engine's Bayesian and Random strategies against a bare Optuna study, same budget.

Tasks
    ``branin`` (2-d, minimum 0.397887) and ``hartmann6`` (6-d, minimum -3.32237), analytic; and two real
    tuning tasks whose objective is computed in-process, exactly as the example scripts compute it:
    ``xgboost_cancer`` (examples/xgboost: the profile's 8 ranges, validation log-loss after up to 100
    rounds with early stopping, breast-cancer data) and ``mlp_digits`` (examples/mlp: the profile's 6
    ranges, validation loss after 8 epochs, 640 rows of the digits data). The real objectives are
    deterministic for a given configuration.
Strategies
    ``bayesian`` and ``random``: the engine's strategy layer (``make_strategy``), driven directly;
    ``optuna_default``: ``optuna.create_study`` with its default sampler (TPE), seeded, the same ranges
    and scaling (``Auto`` resolved the way the engine resolves it); ``optuna_gp``: the same study with
    Optuna's ``GPSampler`` (a Gaussian-process peer; it needs torch, from the ``bench`` extra, and is
    skipped with a note when torch is missing).
Parallelism
    asynchronous, like the engine with ``MaxParallelTrainingJobs = p`` and equal trial durations: ``p``
    configurations are suggested before any result; then each time the oldest trial's result is told,
    one more is suggested, so every suggestion after the first ``p`` is made with ``p - 1`` trials
    pending (the strategies see them as pending). Random search draws the same configurations whatever is
    pending, so it runs once per task and seed and that run stands for every level.
Score
    per task, budget ``b`` and parallelism ``p``: ``100 * (R - S) / (R - O)`` on the loss scale, where
    ``S`` is the strategy's mean (over seeds) best value after ``b`` evaluations, ``R`` the same for
    random search at the same ``b`` and ``p``, and ``O`` the optimum (analytic tasks) or, for the real
    tasks, the best value any run of the benchmark found. 100 = optimum, 0 = random search's mean best.
    Also per seed (``S`` = that seed's best, ``R`` still random search's mean): the median of the
    per-seed scores and its 95 % bootstrap interval (``_common.median_interval``).

JSON: ``{"score": {TASK: {STRATEGY: {"p1": {"b20": x, "b50": x}, "p4": {...}}}}, "interval": {same nesting:
{"median", "low", "high", "n"}}, "seeds": {TASK: n}}``.

    python bench/search.py                 # 30 seeds analytic, 10 real; budgets 20 and 50
    python bench/search.py --quick         # 3 seeds, parallelism 1 and 4 only

``--curves PATH`` keeps every run's values in ``PATH`` (JSON, written as runs finish) and skips the runs
already there: an interrupted run resumes, and a change to one strategy reruns only that strategy's runs
once its entries are removed. Every run is deterministic for its task, strategy, seed and parallelism.
"""

from __future__ import annotations

import json
import math
import os
import sys
import time
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from functools import cache
from typing import Any

import numpy as np
from _common import (
    EXAMPLES,
    base_parser,
    installed,
    int_list,
    load_example,
    median_interval,
    table,
    write_json,
)

STRATEGIES = ("bayesian", "random", "optuna_default", "optuna_gp")
NEEDS = {"optuna_gp": "torch"}  # a peer whose package is missing is skipped, with a note
Config = dict[str, Any]


# --------------------------------------------------------------------------------------------------
# Tasks


def branin(c: Mapping[str, Any]) -> float:
    x1, x2 = float(c["x1"]), float(c["x2"])
    b, cc, r, s, t = 5.1 / (4 * math.pi**2), 5 / math.pi, 6.0, 10.0, 1 / (8 * math.pi)
    return (x2 - b * x1**2 + cc * x1 - r) ** 2 + s * (1 - t) * math.cos(x1) + s


_H6_A = np.array(
    [
        [10, 3, 17, 3.5, 1.7, 8],
        [0.05, 10, 17, 0.1, 8, 14],
        [3, 3.5, 1.7, 10, 17, 8],
        [17, 8, 0.05, 10, 0.1, 14],
    ]
)
_H6_P = 1e-4 * np.array(
    [
        [1312, 1696, 5569, 124, 8283, 5886],
        [2329, 4135, 8307, 3736, 1004, 9991],
        [2348, 1451, 3522, 2883, 3047, 6650],
        [4047, 8828, 8732, 5743, 1091, 381],
    ]
)
_H6_ALPHA = np.array([1.0, 1.2, 3.0, 3.2])


def hartmann6(c: Mapping[str, Any]) -> float:
    x = np.array([float(c[f"x{i}"]) for i in range(1, 7)])
    return float(-np.sum(_H6_ALPHA * np.exp(-np.sum(_H6_A * (x - _H6_P) ** 2, axis=1))))


def _continuous(name: str, low: float, high: float, scaling: str = "Linear") -> dict[str, str]:
    return {"Name": name, "MinValue": repr(low), "MaxValue": repr(high), "ScalingType": scaling}


@dataclass(frozen=True)
class Task:
    name: str
    real: bool
    ranges: dict[str, Any]
    optimum: float | None  # on the loss scale (all tasks minimise)


def _profile_ranges(example: str) -> dict[str, Any]:
    """The ``ParameterRanges`` the example's profile compiles to."""
    from amtflow.profile import compile_tuning_request, load_profile_file

    profile = load_profile_file(EXAMPLES / example / "profile.yaml")
    request = compile_tuning_request(
        profile,
        job_name="bench",
        data_uri="s3://bench/data/",
        output_uri="s3://bench/output/",
        role_arn="arn:aws:iam::123456789012:role/bench",
    )
    return dict(request["HyperParameterTuningJobConfig"]["ParameterRanges"])


def tasks() -> dict[str, Task]:
    return {
        "branin": Task(
            "branin",
            False,
            {"ContinuousParameterRanges": [_continuous("x1", -5.0, 10.0), _continuous("x2", 0.0, 15.0)]},
            0.397887,
        ),
        "hartmann6": Task(
            "hartmann6",
            False,
            {"ContinuousParameterRanges": [_continuous(f"x{i}", 0.0, 1.0) for i in range(1, 7)]},
            -3.32237,
        ),
        "xgboost_cancer": Task("xgboost_cancer", True, _profile_ranges("xgboost"), None),
        "mlp_digits": Task("mlp_digits", True, _profile_ranges("mlp"), None),
    }


@cache
def objective(task: str) -> Callable[[Mapping[str, Any]], float]:
    """The loss of a configuration (built once per process: data loading happens here)."""
    if task == "branin":
        return branin
    if task == "hartmann6":
        return hartmann6
    data = load_example("data.py")
    if task == "xgboost_cancer":
        import xgboost as xgb

        train = load_example("xgboost/train.py")
        version = data.make_version("breast_cancer", seed=1)
        dtrain = xgb.DMatrix(version.x_train, label=version.y_train)
        dvalidation = xgb.DMatrix(version.x_validation, label=version.y_validation)
        static = {"objective": "binary:logistic", "eval_metric": "logloss", "num_round": "100"}
        static |= {"early_stopping_rounds": "10", "nthread": "1"}

        def xgboost_loss(c: Mapping[str, Any]) -> float:
            hp = train.parse_hyperparameters({**static, **{k: str(v) for k, v in c.items()}})
            _, history = train.train_and_evaluate(hp, dtrain, dvalidation)
            return float(history["validation"]["logloss"][-1])  # the last reported value, as AMT takes it

        return xgboost_loss
    if task == "mlp_digits":
        train = load_example("mlp/train.py")
        version = data.make_version("digits", seed=1, max_rows=640)
        splits = ((version.x_train, version.y_train), (version.x_validation, version.y_validation))

        def mlp_loss(c: Mapping[str, Any]) -> float:
            hp = train.parse_hyperparameters({"epochs": "8", **{k: str(v) for k, v in c.items()}})
            try:
                _, metrics = train.train_epochs(hp, *splits, out=lambda _line: None)
            except train.TrainingError:
                return math.inf  # diverged: no objective
            return float(metrics["validation_loss"])

        return mlp_loss
    raise ValueError(f"unknown task {task!r}")


# --------------------------------------------------------------------------------------------------
# Strategies behind one ask/tell interface


class _Engine:
    def __init__(self, strategy: str, ranges: Mapping[str, Any], seed: int) -> None:
        from amtflow.local.engine import make_strategy

        config = {
            "Strategy": "Bayesian" if strategy == "bayesian" else "Random",
            "ParameterRanges": dict(ranges),
            "HyperParameterTuningJobObjective": {"Type": "Minimize", "MetricName": "loss"},
        }
        self.strategy = make_strategy(config, seed)

    def ask(self) -> tuple[Config, Any]:
        config = self.strategy.suggest()
        assert config is not None
        return config, config

    def tell(self, handle: Any, value: float) -> None:
        self.strategy.on_result(handle, value if math.isfinite(value) else None)


class _Optuna:
    def __init__(self, ranges: Mapping[str, Any], seed: int, *, gp: bool = False) -> None:
        import optuna

        optuna.logging.set_verbosity(optuna.logging.WARNING)
        self.optuna = optuna
        sampler = (
            optuna.samplers.GPSampler(seed=seed, warn_independent_sampling=False)
            if gp
            else optuna.samplers.TPESampler(seed=seed)
        )
        self.study = optuna.create_study(direction="minimize", sampler=sampler)
        self.distributions = optuna_distributions(ranges)

    def ask(self) -> tuple[Config, Any]:
        trial = self.study.ask(self.distributions)
        return dict(trial.params), trial

    def tell(self, handle: Any, value: float) -> None:
        if math.isfinite(value):
            self.study.tell(handle, value)
        else:
            self.study.tell(handle, state=self.optuna.trial.TrialState.FAIL)


def optuna_distributions(ranges: Mapping[str, Any]) -> dict[str, Any]:
    """The same search space for Optuna; ``Auto`` scaling resolved as the engine resolves it."""
    from optuna.distributions import CategoricalDistribution, FloatDistribution, IntDistribution

    def is_log(r: Mapping[str, str], low: float, high: float) -> bool:
        scaling = r.get("ScalingType", "Auto")
        return scaling == "Logarithmic" or (scaling == "Auto" and low > 0 and high / low >= 100)

    out: dict[str, Any] = {}
    for r in ranges.get("ContinuousParameterRanges", []):
        low, high = float(r["MinValue"]), float(r["MaxValue"])
        out[r["Name"]] = FloatDistribution(low, high, log=is_log(r, low, high))
    for r in ranges.get("IntegerParameterRanges", []):
        low_i, high_i = int(r["MinValue"]), int(r["MaxValue"])
        out[r["Name"]] = IntDistribution(low_i, high_i, log=is_log(r, low_i, high_i))
    for r in ranges.get("CategoricalParameterRanges", []):
        out[r["Name"]] = CategoricalDistribution(list(r["Values"]))
    return out


def run_search(task: str, strategy: str, seed: int, parallelism: int, budget: int) -> list[float]:
    """Loss values in the order the evaluations complete (asynchronous, ``parallelism`` at a time)."""
    ranges = tasks()[task].ranges
    searcher: _Engine | _Optuna = (
        _Optuna(ranges, seed, gp=strategy == "optuna_gp")
        if strategy.startswith("optuna")
        else _Engine(strategy, ranges, seed)
    )
    f = objective(task)
    pending: deque[tuple[Config, Any]] = deque()
    values: list[float] = []
    issued = 0
    while len(values) < budget:
        while len(pending) < parallelism and issued < budget:
            pending.append(searcher.ask())
            issued += 1
        config, handle = pending.popleft()
        value = f(config)
        searcher.tell(handle, value)
        values.append(value)
    return values


def _job(args: tuple[str, str, int, int, int]) -> tuple[tuple[str, str, int, int], list[float], float]:
    task, strategy, seed, parallelism, budget = args
    from threadpoolctl import threadpool_limits

    start = time.perf_counter()
    with threadpool_limits(1):
        values = run_search(task, strategy, seed, parallelism, budget)
    return (task, strategy, seed, parallelism), values, time.perf_counter() - start


# --------------------------------------------------------------------------------------------------
# Scores


def best_at(values: Sequence[float], budget: int) -> float:
    return float(min(values[:budget]))


def scores(
    curves: Mapping[tuple[str, str, int, int], Sequence[float]],
    optima: Mapping[str, float | None],
    budgets: Sequence[int],
) -> tuple[dict[str, Any], dict[str, Any], dict[str, Any]]:
    """``(score, mean_best, interval)``: the normalised scores, the raw mean best values and the median
    and 95 % interval of the per-seed scores, nested like the JSON."""
    score: dict[str, Any] = {}
    mean_best: dict[str, Any] = {}
    interval: dict[str, Any] = {}
    for task in sorted({k[0] for k in curves}):
        runs = {k: v for k, v in curves.items() if k[0] == task}
        optimum = optima.get(task)
        if optimum is None:  # real task: the best value any run found
            optimum = min(min(v) for v in runs.values())
        for strategy in sorted({k[1] for k in runs}):
            for p in sorted({k[3] for k in runs}):
                for b in budgets:
                    mine = [best_at(v, b) for k, v in runs.items() if k[1] == strategy and k[3] == p]
                    rand = [best_at(v, b) for k, v in runs.items() if k[1] == "random" and k[3] == p]
                    if not mine or not rand:
                        continue
                    m, r = float(np.mean(mine)), float(np.mean(rand))
                    value = 100.0 * (r - m) / (r - optimum) if r - optimum > 1e-12 else 100.0
                    per_seed = [
                        100.0 * (r - v) / (r - optimum) if r - optimum > 1e-12 else 100.0 for v in mine
                    ]
                    interval.setdefault(task, {}).setdefault(strategy, {}).setdefault(f"p{p}", {})[
                        f"b{b}"
                    ] = median_interval(per_seed)
                    score.setdefault(task, {}).setdefault(strategy, {}).setdefault(f"p{p}", {})[f"b{b}"] = (
                        round(value, 2)
                    )
                    mean_best.setdefault(task, {}).setdefault(strategy, {}).setdefault(f"p{p}", {})[
                        f"b{b}"
                    ] = m
    return score, mean_best, interval


def verdicts(
    score: Mapping[str, Any], mean_best: Mapping[str, Any], real: set[str], budgets: Sequence[int]
) -> list[str]:
    """The targets, checked: one line each, PASS or MISS with the numbers."""
    lines = []
    for task, by_strategy in sorted(score.items()):
        bayes = by_strategy.get("bayesian", {})
        for b in budgets:
            key = f"b{b}"
            if task in real:
                mb = mean_best[task]
                for p in sorted(bayes, key=lambda s: int(s[1:])):
                    ours, theirs = mb["bayesian"][p][key], mb["random"][p][key]
                    ok = ours <= theirs
                    lines.append(
                        f"{'PASS' if ok else 'MISS'} {task} {p} {key}: bayesian mean best loss {ours:.4f} "
                        f"{'<=' if ok else '>'} random {theirs:.4f}"
                    )
                continue
            p1 = bayes.get("p1", {}).get(key)
            if p1 is not None:
                lines.append(
                    f"{'PASS' if p1 >= 80 else 'MISS'} {task} p1 {key}: bayesian {p1:.1f} (target >= 80)"
                )
                for p in ("p4",):
                    pp = bayes.get(p, {}).get(key)
                    if pp is not None:
                        ok = pp >= p1 - 15
                        lines.append(
                            f"{'PASS' if ok else 'MISS'} {task} {p} {key}: bayesian {pp:.1f} "
                            f"(target within 15 of p1 {p1:.1f})"
                        )
            for p, value in sorted(bayes.items()):
                for peer in ("optuna_default", "optuna_gp"):
                    other = by_strategy.get(peer, {}).get(p, {}).get(key)
                    if other is not None and key in value:
                        ok = value[key] > other
                        lines.append(
                            f"{'PASS' if ok else 'MISS'} {task} {p} {key}: bayesian {value[key]:.1f} "
                            f"vs {peer} {other:.1f}"
                        )
    return lines


def _interval_cell(figure: Mapping[str, float]) -> str:
    return f"{figure['median']:.1f} [{figure['low']:.1f}, {figure['high']:.1f}]"


# --------------------------------------------------------------------------------------------------


RunKey = tuple[str, str, int, int]


def load_curves(path: str | None, budget: int) -> dict[RunKey, list[float]]:
    """Runs kept in ``path`` (``--curves``) with at least ``budget`` values; none without a path."""
    if not path or not os.path.exists(path):
        return {}
    with open(path, encoding="utf-8") as f:
        rows = json.load(f)
    return {
        (r["task"], r["strategy"], int(r["seed"]), int(r["p"])): [float(v) for v in r["values"]]
        for r in rows
        if len(r["values"]) >= budget
    }


def save_curves(path: str | None, curves: Mapping[RunKey, Sequence[float]]) -> None:
    if not path:
        return
    rows = [
        {"task": t, "strategy": s, "seed": seed, "p": p, "values": list(v)}
        for (t, s, seed, p), v in sorted(curves.items())
    ]
    tmp = f"{path}.tmp"
    with open(tmp, "w", encoding="utf-8") as f:
        json.dump(rows, f)
    os.replace(tmp, path)


def default_seeds(task: Task, *, quick: bool) -> int:
    """Seeds per configuration: 30 for the cheap analytic tasks (at 10, runs of equivalent strategies
    differed by up to 20 points in a cell), 10 for the real ones (30 would take them past 10 minutes)."""
    return 3 if quick else 10 if task.real else 30


def main(argv: Sequence[str] | None = None) -> int:
    parser = base_parser(__doc__.split("\n\n")[0])
    parser.add_argument(
        "--seeds", type=int, help="seeds per configuration (default 30 analytic, 10 real tasks; quick 3)"
    )
    parser.add_argument("--budgets", type=int_list, help="evaluation budgets (default 20,50)")
    parser.add_argument("--tasks", help=f"comma-separated subset of {', '.join(tasks())}")
    parser.add_argument(
        "--parallelism", type=int_list, help="levels to run (default 1,4,8 analytic, 1,4 real and quick)"
    )
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1, help="processes (default: cores)")
    parser.add_argument("--curves", help="JSON file of runs' values to reuse and extend (see above)")
    args = parser.parse_args(argv)
    if args.seeds is not None and args.seeds < 1:
        parser.error("--seeds must be at least 1")
    budgets = sorted(args.budgets or [20, 50])
    all_tasks = tasks()
    chosen = args.tasks.split(",") if args.tasks else list(all_tasks)
    unknown = [t for t in chosen if t not in all_tasks]
    if unknown:
        parser.error(f"--tasks: unknown {', '.join(unknown)}; choose from {', '.join(all_tasks)}")
    if args.workers < 1:
        parser.error("--workers must be at least 1")
    seeds_of = {name: args.seeds or default_seeds(all_tasks[name], quick=args.quick) for name in chosen}
    strategies = [s for s in STRATEGIES if s not in NEEDS or installed(NEEDS[s])]
    for skipped in sorted(set(STRATEGIES) - set(strategies)):
        print(f"note: {skipped} skipped: {NEEDS[skipped]} is not installed (pip install -e '.[bench]')")

    kept = load_curves(args.curves, max(budgets))
    jobs = []
    levels_of: dict[str, Sequence[int]] = {}
    for name in chosen:
        task = all_tasks[name]
        levels = levels_of[name] = args.parallelism or ((1, 4) if task.real or args.quick else (1, 4, 8))
        for p in levels:
            for strategy in strategies:
                if strategy == "random" and p != levels[0]:
                    continue  # random search ignores what is pending: one run stands for every level
                for seed in range(seeds_of[name]):
                    jobs.append((name, strategy, seed, p, max(budgets)))
    curves = {key: values for key, values in kept.items() if key in {j[:4] for j in jobs}}
    jobs = [j for j in jobs if j[:4] not in curves]
    reused = f", {len(curves)} reused from {args.curves}" if curves else ""
    print(
        f"search quality: {len(jobs)} runs (seeds: {', '.join(f'{k} {n}' for k, n in seeds_of.items())}; "
        f"budgets {budgets}) on {args.workers} "
        f"processes{reused}"
    )
    start = time.perf_counter()
    seconds: dict[str, float] = {}
    if args.workers == 1:
        results = map(_job, jobs)
    else:
        pool = ProcessPoolExecutor(max_workers=args.workers)
        results = pool.map(_job, jobs, chunksize=1)
    try:
        for done, (key, values, spent) in enumerate(results, 1):
            curves[key] = values
            kept[key] = values
            save_curves(args.curves, kept)
            seconds[key[1]] = seconds.get(key[1], 0.0) + spent
            if done % max(1, len(jobs) // 10) == 0:
                print(f"  {done}/{len(jobs)} runs ({time.perf_counter() - start:.0f}s)", flush=True)
    finally:
        if args.workers != 1:
            pool.shutdown()
    elapsed = time.perf_counter() - start
    for (task_name, strategy, seed, _p), values in list(curves.items()):
        if strategy == "random":
            for level in levels_of[task_name]:
                curves.setdefault((task_name, strategy, seed, level), values)

    score, mean_best, interval = scores(curves, {n: all_tasks[n].optimum for n in chosen}, budgets)
    rows = []
    for task, by_strategy in score.items():
        for strategy, by_p in by_strategy.items():
            for p, by_b in by_p.items():
                rows.append(
                    [task, strategy, p]
                    + [by_b[f"b{b}"] for b in budgets]
                    + [mean_best[task][strategy][p][f"b{b}"] for b in budgets]
                    + [_interval_cell(interval[task][strategy][p][f"b{b}"]) for b in budgets]
                )
    headers = (
        ["task", "strategy", "p"]
        + [f"score b{b}" for b in budgets]
        + [f"mean best b{b}" for b in budgets]
        + [f"per-seed score b{b}: median [95%]" for b in budgets]
    )
    print(table(headers, rows))
    print(
        "time spent suggesting + evaluating, per strategy: "
        + ", ".join(f"{k} {v:.0f}s" for k, v in sorted(seconds.items()))
        + f"; wall clock {elapsed:.0f}s"
    )
    for line in verdicts(score, mean_best, {n for n in chosen if all_tasks[n].real}, budgets):
        print(line)
    write_json(args.json, {"score": score, "interval": interval, "seeds": seeds_of})
    return 0


if __name__ == "__main__":
    sys.exit(main())
