"""Compute saved by early stopping: epochs spent and final best objective, with and without stopping.

The trials are replayed from validation-loss curves recorded once from real runs of the MLP example
(``bench/record_curves.py`` -> ``bench/data/mlp_digits_curves.json``: 200 configurations of the example
profile's ranges x 30 epochs on 1,000 rows of the digits data), so that many seeds fit in minutes and
every method sees exactly the same trials. The stopping decisions are the engine's own objects, driven
the way the engine's job loop drives them (``amtflow.local.engine._loop``): each running trial reports
its next epoch's value to the strategy's ``on_report`` and, with ``Auto``, to the median rule; a trial
told to stop ends there with its last value as its objective; a finished or stopped trial is given to
``on_result``/``on_trial_end``. ``--parallel`` trials run at once, one epoch per tick each.

For each seed, ``--trials`` configurations are drawn from the recorded ones (a permutation by seed) and run
by every method, in the same launch order:

``off``            no stopping (baseline: every trial runs every epoch)
``auto``           ``TrainingJobEarlyStoppingType: Auto``: the engine's median rule, aware of slow starters
                   (``MedianStoppingRule.slow_start_aware``: values at the same step, the latest
                   one-step improvement credited, never at the first step)
``auto_amt``       reference: the median rule exactly as AMT describes it (running averages, from step 1)
``hyperband``      ``Strategy: Hyperband``, MinResource ``--min-resource`` (default 3), MaxResource 30
``optuna_asha``    peer: Optuna's ``SuccessiveHalvingPruner`` (asynchronous successive halving, ASHA),
                   min_resource and reduction factor 3 like Hyperband
``optuna_hyperband`` peer: Optuna's ``HyperbandPruner`` (min_resource 3, max_resource 30, factor 3)
``optuna_asha:gN`` the ASHA peer with a grace period of ``N`` epochs (its first rung; ``--asha-grace``):
                   a larger grace period stops later and loses less. Compared at *equal loss*: the
                   variant saving the most epochs among those whose mean relative loss is no worse than
                   ``auto``'s is the peer ``auto`` must beat on epochs saved (``equal_loss`` in the JSON)

Per method and seed: ``epochs_saved = 1 - epochs(method) / epochs(off)`` and ``relative_loss =
(best(method) - best(off)) / best(off)`` on the validation loss (positive = worse). Reported: the median
over seeds with a 95 % bootstrap interval (``_common.median_interval``) of both, and the *mean* relative
loss, which is what the target is checked on: the median hides a best trial lost on a few seeds, the
mean does not. Target: median epochs saved >= 50 % at a mean relative loss <= 1 %, ahead of the
multi-fidelity peer at equal loss.

JSON: ``{"epochs_saved_fraction": x, "relative_loss": x, "by_method": {METHOD: {"epochs_saved_fraction"
(median), "relative_loss" (mean), "worst_relative_loss", "seeds_losing" (seeds above 1 %),
"epochs_saved_interval", "relative_loss_interval"}}, "equal_loss": {"peer": METHOD or null,
"peer_epochs_saved_fraction", "peer_relative_loss", "auto_epochs_saved_fraction", "auto_relative_loss",
"verdict"}, "seeds": n}``: ``verdict`` is ``ahead`` or ``behind`` when the 95 % intervals of epochs
saved do not overlap, else ``level``; the top-level figures are Hyperband's (the examples' per-epoch
profile uses Hyperband).

ASHA's decisions (and Hyperband's) do not depend on ``--parallel``: a trial reaching a rung is compared
with every earlier-launched trial that reached it, finished or not, and in launch order those are the
same trials at any parallelism. The median rule compares with *finished* trials only, so it stops less
the more trials run at once (none at all while fewer than 3 have finished).

    python bench/early_stopping.py            # 60 draws (seeds) x 24 trials of up to 30 epochs
    python bench/early_stopping.py --quick    # 3 seeds x 8 trials
"""

from __future__ import annotations

import json
import math
import statistics
import sys
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from _common import (
    REPO,
    base_parser,
    installed,
    int_list,
    median_interval,
    show_interval,
    table,
    write_json,
)

CURVES = REPO / "bench" / "data" / "mlp_digits_curves.json"
METHODS = ("off", "auto", "auto_amt", "hyperband", "optuna_asha", "optuna_hyperband")
PEERS = {"optuna_asha", "optuna_hyperband"}
ETA = 3
ASHA_GRACE = (4, 5, 6, 8, 10, 12, 15)  # grace periods of the ASHA variants compared at equal loss


def peer_name(method: str) -> str:
    """``optuna_asha:g10`` -> ``optuna_asha``; other names unchanged."""
    return method.split(":", 1)[0]


def grace_of(method: str, default: int) -> int:
    """The first rung a method name asks for (``optuna_asha:g10`` -> 10), else ``default``."""
    _, _, tail = method.partition(":g")
    return int(tail) if tail else default


@dataclass(frozen=True)
class Recorded:
    config: dict[str, str]
    curve: tuple[float, ...]  # validation loss after each epoch, as printed
    failed: bool  # diverged after len(curve) epochs: no objective


@dataclass(frozen=True)
class Outcome:
    epochs: int  # epochs the trial ran
    objective: float | None  # its last value (None: it failed)


def load_curves(path: Path = CURVES) -> tuple[int, list[Recorded]]:
    data = json.loads(path.read_text())
    trials = [Recorded(dict(t["config"]), tuple(t["curve"]), bool(t["failed"])) for t in data["trials"]]
    return int(data["epochs"]), trials


class _Stopper:
    """One method's decisions: ``report`` each epoch's value (True = stop), ``end`` when a trial ends."""

    def report(self, trial: str, step: int, value: float) -> bool:
        return False

    def end(self, trial: str, config: Mapping[str, str], objective: float | None) -> None:
        return None


class _EngineStopper(_Stopper):
    """The engine's strategy (Random or Hyperband) and, with ``Auto``, its median rule."""

    def __init__(self, method: str, *, epochs: int, min_resource: int, seed: int) -> None:
        from amtflow.local.engine import MedianStoppingRule, make_strategy

        config: dict[str, Any] = {
            "Strategy": "Hyperband" if method == "hyperband" else "Random",
            "ParameterRanges": {},
            "HyperParameterTuningJobObjective": {"Type": "Minimize", "MetricName": "validation:loss"},
        }
        if method == "hyperband":
            config["StrategyConfig"] = {
                "HyperbandStrategyConfig": {"MinResource": min_resource, "MaxResource": epochs}
            }
        self.strategy = make_strategy(config, seed)
        self.median = (
            MedianStoppingRule.slow_start_aware(maximize=False)
            if method == "auto"
            else MedianStoppingRule(maximize=False)
            if method == "auto_amt"
            else None
        )

    def report(self, trial: str, step: int, value: float) -> bool:
        stop = self.strategy.on_report(trial, step, value).value == "stop"
        if self.median is not None and self.median.on_report(trial, step, value).value == "stop":
            stop = True
        return stop

    def end(self, trial: str, config: Mapping[str, str], objective: float | None) -> None:
        self.strategy.on_trial_end(trial)
        if self.median is not None:
            self.median.on_trial_end(trial)


class _OptunaStopper(_Stopper):
    """An Optuna study whose pruner decides; the trials' values are the recorded ones."""

    def __init__(self, method: str, *, epochs: int, min_resource: int, seed: int) -> None:
        import optuna

        optuna.logging.set_verbosity(optuna.logging.WARNING)
        self.optuna = optuna
        pruner: Any = (
            optuna.pruners.SuccessiveHalvingPruner(
                min_resource=grace_of(method, min_resource), reduction_factor=ETA
            )
            if peer_name(method) == "optuna_asha"
            else optuna.pruners.HyperbandPruner(
                min_resource=min_resource, max_resource=epochs, reduction_factor=ETA
            )
        )
        self.study = optuna.create_study(
            study_name=f"bench-es-{seed}",
            direction="minimize",
            sampler=optuna.samplers.RandomSampler(seed=seed),
            pruner=pruner,
        )
        self.trials: dict[str, Any] = {}

    def _trial(self, trial: str) -> Any:
        if trial not in self.trials:
            self.trials[trial] = self.study.ask()
        return self.trials[trial]

    def report(self, trial: str, step: int, value: float) -> bool:
        handle = self._trial(trial)
        handle.report(value, step)
        return bool(handle.should_prune())

    def end(self, trial: str, config: Mapping[str, str], objective: float | None) -> None:
        handle = self._trial(trial)
        state = self.optuna.trial.TrialState
        if objective is None:
            self.study.tell(handle, state=state.FAIL)
        elif handle.should_prune():
            self.study.tell(handle, state=state.PRUNED)
        else:
            self.study.tell(handle, objective)


def make_stopper(method: str, *, epochs: int, min_resource: int, seed: int) -> _Stopper:
    if method == "off":
        return _Stopper()
    if peer_name(method) in PEERS:
        return _OptunaStopper(method, epochs=epochs, min_resource=min_resource, seed=seed)
    return _EngineStopper(method, epochs=epochs, min_resource=min_resource, seed=seed)


def replay(trials: Sequence[Recorded], stopper: _Stopper, *, parallel: int) -> list[Outcome]:
    """Run ``trials`` in launch order, ``parallel`` at a time, one epoch per tick each."""
    outcomes: dict[int, Outcome] = {}
    running: dict[int, int] = {}  # launch index -> epochs reported so far
    launched = 0
    while len(outcomes) < len(trials):
        while len(running) < parallel and launched < len(trials):
            running[launched] = 0
            launched += 1
        for index in sorted(running):
            recorded = trials[index]
            name = f"trial-{index + 1:03d}"
            step = running[index] + 1
            value = recorded.curve[step - 1]
            running[index] = step
            stop = stopper.report(name, step, value)
            last = step == len(recorded.curve)
            if stop or last:
                objective = None if recorded.failed and last and not stop else value
                stopper.end(name, recorded.config, objective)
                outcomes[index] = Outcome(step, objective)
                del running[index]
    return [outcomes[i] for i in range(len(trials))]


def best(outcomes: Sequence[Outcome]) -> float:
    values = [o.objective for o in outcomes if o.objective is not None]
    if not values:
        raise RuntimeError("no trial reported an objective")
    return min(values)


def run(
    pool: Sequence[Recorded],
    methods: Sequence[str],
    *,
    seeds: int,
    trials: int,
    parallel: int,
    epochs: int,
    min_resource: int,
) -> dict[str, list[list[Outcome]]]:
    results: dict[str, list[list[Outcome]]] = {m: [] for m in methods}
    usable = [t for t in pool if t.curve]
    for seed in range(seeds):
        order = np.random.default_rng([seed, 7]).permutation(len(usable))[:trials]
        chosen = [usable[int(i)] for i in order]
        for method in methods:
            stopper = make_stopper(method, epochs=epochs, min_resource=min_resource, seed=seed)
            results[method].append(replay(chosen, stopper, parallel=parallel))
    return results


def figures(results: Mapping[str, Sequence[Sequence[Outcome]]]) -> dict[str, dict[str, Any]]:
    base = results["off"]
    out: dict[str, dict[str, Any]] = {}
    for method, runs in results.items():
        if method == "off":
            continue
        saved = [
            1 - sum(o.epochs for o in mine) / sum(o.epochs for o in off)
            for mine, off in zip(runs, base, strict=True)
        ]
        losses = [(best(mine) - best(off)) / abs(best(off)) for mine, off in zip(runs, base, strict=True)]
        saved_interval, loss_interval = median_interval(saved), median_interval(losses)
        out[method] = {
            "epochs_saved_fraction": round(saved_interval["median"], 4),
            "relative_loss": round(statistics.fmean(losses), 4),
            "worst_relative_loss": round(max(losses), 4),
            "seeds_losing": sum(1 for x in losses if x > 0.01),
            "epochs_saved_interval": saved_interval,
            "relative_loss_interval": loss_interval,
        }
    return out


def equal_loss(by_method: Mapping[str, Mapping[str, Any]]) -> dict[str, Any]:
    """``auto`` against the ASHA variant that saves the most epochs at a mean loss no worse than its own."""
    auto = by_method.get("auto")
    if auto is None:
        return {}
    fair = [
        (f["epochs_saved_fraction"], m)
        for m, f in by_method.items()
        if peer_name(m) == "optuna_asha" and f["relative_loss"] <= auto["relative_loss"]
    ]
    out: dict[str, Any] = {
        "peer": None,
        "auto_epochs_saved_fraction": auto["epochs_saved_fraction"],
        "auto_relative_loss": auto["relative_loss"],
        "verdict": "ahead",
    }
    if fair:
        saved, peer = max(fair)
        mine, theirs = auto["epochs_saved_interval"], by_method[peer]["epochs_saved_interval"]
        out.update(
            peer=peer,
            peer_epochs_saved_fraction=saved,
            peer_relative_loss=by_method[peer]["relative_loss"],
            verdict="ahead"
            if mine["low"] > theirs["high"]
            else "behind"
            if mine["high"] < theirs["low"]
            else "level",
        )
    return out


def main(argv: Sequence[str] | None = None) -> int:
    parser = base_parser(__doc__.split("\n\n")[0])
    parser.add_argument("--seeds", type=int, help="draws of trials per method (default 60, quick 3)")
    parser.add_argument("--trials", type=int, help="trials per tuning job (default 24, quick 8)")
    parser.add_argument("--parallel", type=int, default=2, help="trials at once (default 2)")
    parser.add_argument("--min-resource", type=int, default=3, help="first rung, in epochs (default 3)")
    parser.add_argument(
        "--asha-grace",
        type=int_list,
        default=list(ASHA_GRACE),
        help="grace periods of the ASHA variants compared at equal loss (default 4,5,6,8,10,12,15)",
    )
    parser.add_argument("--curves", default=str(CURVES), help="recorded curves (bench/record_curves.py)")
    args = parser.parse_args(argv)
    seeds = args.seeds or (3 if args.quick else 60)
    trials = args.trials or (8 if args.quick else 24)
    if min(seeds, trials, args.parallel, args.min_resource) < 1:
        parser.error("--seeds, --trials, --parallel and --min-resource must be at least 1")
    epochs, pool = load_curves(Path(args.curves))
    if trials > len(pool):
        parser.error(f"--trials: at most {len(pool)} (the recorded configurations)")
    if any(g < 1 for g in args.asha_grace):
        parser.error("--asha-grace: grace periods must be at least 1")
    every = list(METHODS) + [f"optuna_asha:g{g}" for g in args.asha_grace if g != args.min_resource]
    methods = [m for m in every if peer_name(m) not in PEERS or installed("optuna")]
    for skipped in sorted(set(every) - set(methods)):
        print(f"note: {skipped} skipped: optuna is not installed")

    start = time.perf_counter()
    results = run(
        pool,
        methods,
        seeds=seeds,
        trials=trials,
        parallel=args.parallel,
        epochs=epochs,
        min_resource=args.min_resource,
    )
    by_method = figures(results)
    rows_out = []
    for m in methods:
        f = by_method.get(m)
        rows_out.append(
            [
                m,
                sum(o.epochs for job in results[m] for o in job),
                statistics.fmean(best(job) for job in results[m]),
                show_interval(f["epochs_saved_interval"], "{:.1%}") if f else "",
                show_interval(f["relative_loss_interval"], "{:+.2%}") if f else "",
                f"{f['relative_loss']:+.2%}" if f else "",
            ]
        )
    headers = ["method", "epochs", "mean best loss", "epochs saved", "relative loss", "mean rel. loss"]
    headers[3:5] = ["epochs saved: median [95%]", "relative loss: median [95%]"]
    print(table(headers, rows_out))
    for method, f in by_method.items():
        ok = f["epochs_saved_fraction"] >= 0.5 and f["relative_loss"] <= 0.01
        print(
            f"{'PASS' if ok else 'MISS'} {method}: median {f['epochs_saved_fraction']:.0%} of the epochs "
            f"saved at {f['relative_loss']:+.2%} mean relative loss (worst seed "
            f"{f['worst_relative_loss']:+.2%}, best trial lost in {f['seeds_losing']} of {seeds}; "
            f"target >= 50% at <= 1%)"
        )
    matched = equal_loss(by_method)
    if matched:
        peer = matched["peer"]
        print(
            f"{'PASS' if matched['verdict'] == 'ahead' else 'MISS'} auto vs ASHA at equal loss "
            f"({matched['verdict']}): auto saves "
            f"{matched['auto_epochs_saved_fraction']:.0%} at {matched['auto_relative_loss']:+.2%}; "
            + (
                f"{peer}, the ASHA variant saving the most at no more loss, saves "
                f"{matched['peer_epochs_saved_fraction']:.0%} at {matched['peer_relative_loss']:+.2%}"
                if peer
                else "no ASHA variant reaches a loss that low"
            )
        )
    print(
        f"{seeds} seed(s) x {trials} trials x up to {epochs} epochs replayed from {len(pool)} recorded "
        f"curves, parallel {args.parallel}, wall clock {time.perf_counter() - start:.0f}s"
    )
    hyperband = by_method.get("hyperband", {})
    write_json(
        args.json,
        {
            "epochs_saved_fraction": hyperband.get("epochs_saved_fraction", math.nan),
            "relative_loss": hyperband.get("relative_loss", math.nan),
            "by_method": by_method,
            "equal_loss": matched,
            "seeds": seeds,
        },
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
