"""The local engine's own overhead: wall clock of a tuning job vs a bare Optuna loop running the same trials.

Both run the same training processes, one at a time: the MLP example (examples/mlp) on the digits data,
with enough epochs that a trial takes at least about 2 seconds, launched with the image map's command and
the SageMaker contract (an /opt/ml-shaped folder, ``hyperparameters.json``, the ``SM_*`` environment,
``--name value`` arguments). The engine runs a Random search (``MaxParallelTrainingJobs: 1``); the bare
loop is an Optuna study that is given the engine's configurations (``enqueue_trial``, in the engine's
launch order), runs each as a subprocess, parses the last ``validation_loss`` from its output and tells
it. So the training work is identical and the difference is the orchestration: API calls, validation,
state files, log capture, metric parsing, model packing, events, polling.

The two are run alternately (``--repeats`` times, the bare loop first on odd repeats) so that a change
of machine load affects both. ``overhead_fraction = (engine seconds - bare seconds) / bare seconds``,
summed over repeats. Target: at most 0.05. Each repeat also gives its own fraction; their median and
95 % bootstrap interval (``_common.median_interval``) say how much of the figure machine load decides.
Also printed: the engine's time outside its training processes (from each trial's
TrainingStartTime/TrainingEndTime), the part of the overhead that machine load does not blur.

JSON: ``{"overhead_fraction": x, "interval": {"median", "low", "high", "n"}}`` (per-repeat fractions).

    python bench/overhead.py            # 3 trials of 120 epochs, 10 repeats
    python bench/overhead.py --quick    # 2 trials of 2 epochs, 1 repeat
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import tempfile
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from _common import EXAMPLES, base_parser, median_interval, show_interval, table, write_json
from _tuning import FAKE_AWS, local_engine, run_tuning_job, tuning_request, write_dataset

LOSS = re.compile(r"validation_loss=([0-9.]+)")
WORKERS = 2  # the engine's max_workers; trials still run one at a time (MaxParallelTrainingJobs: 1)


def overrides(*, trials: int, epochs: int) -> dict[str, Any]:
    return {
        "training": {"static_hyperparameters": {"epochs": epochs}},
        "tuning": {
            "strategy": "Random",
            "early_stopping": "Off",
            "hyperband": None,
            "limits": {"max_jobs": trials, "max_parallel": 1, "max_runtime_s": None},
            "random_seed": 0,
        },
    }


def run_engine(
    root: Path, data_uri: str, *, trials: int, epochs: int, tag: str
) -> tuple[float, float, list[dict[str, str]]]:
    """Seconds from CreateHyperParameterTuningJob to the job's end, the seconds its training processes ran
    (TrainingStartTime to TrainingEndTime), and the configurations in launch order."""
    request = tuning_request(
        "mlp",
        f"bench-overhead-{tag}",
        data_uri,
        (root / "output").as_uri() + "/",
        overrides(trials=trials, epochs=epochs),
    )
    with local_engine(root / f"state-{tag}", max_workers=WORKERS) as (engine, sagemaker):
        start = time.perf_counter()
        job = run_tuning_job(engine, sagemaker, request, step_pattern=r"^epoch=\d+ ")
        elapsed = time.perf_counter() - start
        training = 0.0
        for t in job:
            described = sagemaker.describe_training_job(TrainingJobName=t.name)
            training += (described["TrainingEndTime"] - described["TrainingStartTime"]).total_seconds()
    if any(t.status != "Completed" for t in job):
        raise RuntimeError(f"engine trials did not all complete: {[t.status for t in job]}")
    return elapsed, training, [t.hyperparameters for t in job]


def run_bare(
    root: Path, data_dir: Path, configs: Sequence[Mapping[str, str]], *, epochs: int, tag: str
) -> tuple[float, list[float]]:
    """The same trials from a bare Optuna ask/tell loop; seconds and per-trial durations."""
    import optuna
    from optuna.distributions import CategoricalDistribution

    from amtflow.local.engine import load_image_map

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    command = load_image_map(EXAMPLES / "image-map.yaml").resolve(
        "123456789012.dkr.ecr.us-east-1.amazonaws.com/amtflow-mlp:1.0"
    )
    names = sorted(configs[0])
    # Each parameter as a categorical of the values it takes: the study hands back exactly these strings.
    space = {n: CategoricalDistribution(sorted({c[n] for c in configs})) for n in names}
    start = time.perf_counter()
    study = optuna.create_study(direction="minimize", sampler=optuna.samplers.RandomSampler(seed=0))
    for config in configs:
        study.enqueue_trial(dict(config))
    durations = []
    for i in range(len(configs)):
        trial = study.ask(space)
        t0 = time.perf_counter()
        ml = root / f"bare-{tag}" / f"trial-{i}" / "opt-ml"
        (ml / "input" / "config").mkdir(parents=True)
        (ml / "model").mkdir()
        (ml / "output").mkdir()
        (ml / "checkpoints").mkdir()  # as in the engine: the profile asks for checkpoints
        hyperparameters = {"epochs": str(epochs), **{k: str(v) for k, v in trial.params.items()}}
        (ml / "input" / "config" / "hyperparameters.json").write_text(json.dumps(hyperparameters))
        env = {k: v for k, v in os.environ.items() if not k.startswith("SM_")}
        env |= {
            "SM_MODEL_DIR": str(ml / "model"),
            "SM_OUTPUT_DIR": str(ml / "output"),
            "SM_INPUT_CONFIG_DIR": str(ml / "input" / "config"),
            "SM_CHANNEL_TRAIN": str(data_dir / "train"),
            "SM_CHANNEL_VALIDATION": str(data_dir / "validation"),
            "SM_HPS": json.dumps(hyperparameters),
            "SM_CHECKPOINT_DIR": str(ml / "checkpoints"),
            # The thread count the engine gives each trial: the cores shared among its worker slots.
            "OMP_NUM_THREADS": str(max(1, (os.cpu_count() or 1) // WORKERS)),
        }
        args = [a for k, v in hyperparameters.items() for a in (f"--{k}", v)]
        done = subprocess.run([*command, *args], cwd=ml, env=env, capture_output=True, text=True, check=False)
        durations.append(time.perf_counter() - t0)
        values = LOSS.findall(done.stdout)
        if done.returncode != 0 or not values:
            raise RuntimeError(f"bare trial {i} failed: {done.stderr[-500:]}")
        study.tell(trial, float(values[-1]))
    return time.perf_counter() - start, durations


def main(argv: Sequence[str] | None = None) -> int:
    parser = base_parser(__doc__.split("\n\n")[0])
    parser.add_argument("--trials", type=int, help="trials per run (default 3, quick 2)")
    parser.add_argument("--epochs", type=int, help="epochs per trial (default 120, quick 2)")
    parser.add_argument("--repeats", type=int, help="engine/bare pairs (default 10, quick 1)")
    args = parser.parse_args(argv)
    trials = args.trials or (2 if args.quick else 3)
    epochs = args.epochs or (2 if args.quick else 120)
    repeats = args.repeats or (1 if args.quick else 10)
    if min(trials, epochs, repeats) < 1:
        parser.error("--trials, --epochs and --repeats must be at least 1")
    for key, value in FAKE_AWS.items():
        os.environ.setdefault(key, value)

    rows = []
    engine_total, bare_total, engine_training = 0.0, 0.0, 0.0
    shortest = float("inf")
    per_repeat: dict[int, dict[str, float]] = {}
    with tempfile.TemporaryDirectory(prefix="amtflow-bench-overhead-") as tmp:
        root = Path(tmp)
        data_uri = write_dataset(root / "data", "digits", seed=1)
        configs: list[dict[str, str]] = []
        for r in range(repeats):
            order = ("bare", "engine") if r % 2 else ("engine", "bare")
            if not configs:  # the engine's configurations are needed first
                order = ("engine", "bare")
            for which in order:
                if which == "engine":
                    seconds, training, configs = run_engine(
                        root, data_uri, trials=trials, epochs=epochs, tag=str(r)
                    )
                    engine_total += seconds
                    engine_training += training
                else:
                    seconds, durations = run_bare(root, root / "data", configs, epochs=epochs, tag=str(r))
                    bare_total += seconds
                    shortest = min(shortest, *durations)
                per_repeat.setdefault(r, {})[which] = seconds
                rows.append([r, which, seconds, seconds / trials])
                print(f"repeat {r} {which:6s}: {seconds:.2f}s for {trials} trials", flush=True)
    overhead = (engine_total - bare_total) / bare_total
    interval = median_interval([(s["engine"] - s["bare"]) / s["bare"] for s in per_repeat.values()])
    print(table(["repeat", "runner", "seconds", "per trial"], rows))
    print(f"shortest trial in the bare loop: {shortest:.2f}s (trials are meant to take >= 2 s)")
    outside = engine_total - engine_training
    print(
        f"engine time outside training processes: {outside:.2f}s of {engine_total:.1f}s "
        f"({outside / engine_total:.1%}); the rest is the trials' own run time, which machine load also moves"
    )
    print(
        f"{'PASS' if overhead <= 0.05 else 'MISS'} overhead {overhead:+.2%}: engine {engine_total:.1f}s "
        f"vs bare Optuna loop {bare_total:.1f}s (target <= 5%); per repeat, median and 95% interval: "
        f"{show_interval(interval, '{:+.2%}')}"
    )
    write_json(args.json, {"overhead_fraction": round(overhead, 4), "interval": interval})
    return 0


if __name__ == "__main__":
    sys.exit(main())
