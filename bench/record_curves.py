"""Record the validation-loss curves the early-stopping benchmark replays (run once; the file is committed).

Trains ``--configs`` configurations of the MLP example (examples/mlp/train.py, in-process, one thread)
for ``--epochs`` epochs each on the digits data (``examples/data.py``, split seed 1, ``--rows`` rows)
and writes, per configuration, its hyperparameters and the ``validation_loss`` it printed after every
epoch, rounded as printed (what the engine parses from the log). The configurations are drawn by the
engine's Random strategy over the example profile's ranges (seed ``--seed``), exactly the way a Random or
Hyperband tuning job draws them. A configuration that diverges keeps the epochs it printed and is marked
``failed`` (its trial ends without an objective).

    python bench/record_curves.py                       # 200 configurations x 30 epochs -> bench/data/
    python bench/record_curves.py --configs 4 --epochs 3 --out /tmp/curves.json
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from _common import REPO, base_parser, load_example

CURVES = REPO / "bench" / "data" / "mlp_digits_curves.json"
LOSS_DIGITS = 4  # train.py prints validation_loss with 4 decimals


def record(*, configs: int, epochs: int, rows: int, seed: int) -> dict[str, Any]:
    from search import _profile_ranges
    from threadpoolctl import threadpool_limits

    from amtflow.local.engine import make_strategy

    train = load_example("mlp/train.py")
    data = load_example("data.py")
    version = data.make_version("digits", seed=1, max_rows=rows)
    splits = ((version.x_train, version.y_train), (version.x_validation, version.y_validation))
    strategy = make_strategy(
        {
            "Strategy": "Random",
            "ParameterRanges": _profile_ranges("mlp"),
            "HyperParameterTuningJobObjective": {"Type": "Minimize", "MetricName": "validation:loss"},
        },
        seed,
    )
    trials = []
    start = time.perf_counter()
    for i in range(configs):
        config = strategy.suggest()
        assert config is not None
        hp = train.parse_hyperparameters({"epochs": str(epochs), **{k: str(v) for k, v in config.items()}})
        curve: list[float] = []

        def out(line: str, curve: list[float] = curve) -> None:
            if line.startswith("epoch="):
                value = float(line.split("validation_loss=")[1].split()[0])
                curve.append(round(value, LOSS_DIGITS))

        failed = False
        with threadpool_limits(1):
            try:
                train.train_epochs(hp, *splits, out=out)
            except train.TrainingError:
                failed = True
        trials.append({"config": {k: str(v) for k, v in config.items()}, "curve": curve, "failed": failed})
        if (i + 1) % 10 == 0:
            print(f"  {i + 1}/{configs} configurations ({time.perf_counter() - start:.0f}s)", flush=True)
    return {
        "example": "mlp",
        "dataset": "digits",
        "split_seed": 1,
        "rows": rows,
        "epochs": epochs,
        "strategy_seed": seed,
        "trials": trials,
    }


def main(argv: Sequence[str] | None = None) -> int:
    parser = base_parser(__doc__.split("\n\n")[0])
    parser.add_argument("--configs", type=int, default=200, help="configurations to train (default 200)")
    parser.add_argument("--epochs", type=int, default=30, help="epochs each (default 30)")
    parser.add_argument("--rows", type=int, default=1000, help="rows of the digits data (default 1000)")
    parser.add_argument("--seed", type=int, default=0, help="the Random strategy's seed (default 0)")
    parser.add_argument("--out", default=str(CURVES), help=f"where to write (default {CURVES})")
    args = parser.parse_args(argv)
    if min(args.configs, args.epochs) < 1 or args.rows < 50:
        parser.error("--configs and --epochs must be at least 1 and --rows at least 50")
    recorded = record(configs=args.configs, epochs=args.epochs, rows=args.rows, seed=args.seed)
    target = Path(args.out)
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(json.dumps(recorded, separators=(",", ":")) + "\n")
    print(f"{len(recorded['trials'])} curves of up to {args.epochs} epochs written to {target}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
