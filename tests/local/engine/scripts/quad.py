"""A sub-second training script for engine tests, under the SageMaker script-mode contract.

Hyperparameters (as ``--name value``): ``x``, ``y`` (floats), ``n`` (int), ``kind`` (categorical a/b/c),
``epochs``, ``sleep`` (seconds per epoch), ``fail`` (``file``: write output/failure and exit 3; ``crash``:
raise; anything else: succeed), ``data`` (``1``: require the ``train`` channel and echo its first line).
Each epoch prints ``epoch=E loss=L`` where ``L = (x-0.3)^2 + (y-0.7)^2 + |n-4|/10 + kind offset + 1/E``,
so the final loss is a known function of the hyperparameters.
"""

import argparse
import json
import os
import pathlib
import sys
import time

parser = argparse.ArgumentParser()
for name in ("x", "y", "sleep"):
    parser.add_argument(f"--{name}", type=float, default=0.0)
parser.add_argument("--n", type=int, default=4)
parser.add_argument("--epochs", type=int, default=3)
parser.add_argument("--kind", default="a")
parser.add_argument("--fail", default="")
parser.add_argument("--data", default="")
args, _ = parser.parse_known_args()

output = pathlib.Path(os.environ["SM_OUTPUT_DIR"])
model = pathlib.Path(os.environ["SM_MODEL_DIR"])
hps = json.loads(pathlib.Path(os.environ["SM_INPUT_CONFIG_DIR"], "hyperparameters.json").read_text())
print(f"hyperparameters {sorted(hps)}", flush=True)

if args.data == "1":
    train = pathlib.Path(os.environ["SM_CHANNEL_TRAIN"])
    first = sorted(p for p in train.rglob("*") if p.is_file())[0]
    print("data:", first.read_text().splitlines()[0], flush=True)

offset = {"a": 0.0, "b": 0.5, "c": 1.0}.get(args.kind, 2.0)
base = (args.x - 0.3) ** 2 + (args.y - 0.7) ** 2 + abs(args.n - 4) / 10 + offset
for epoch in range(1, args.epochs + 1):
    if args.fail == "file" and epoch == 2:
        (output / "failure").write_text("ValueError: x is not allowed to be that\n")
        sys.exit(3)
    if args.fail == "crash" and epoch == 2:
        raise RuntimeError("the model diverged")
    print(f"epoch={epoch} loss={base + 1.0 / epoch:.6f}", flush=True)
    if args.sleep:
        time.sleep(args.sleep)

(model / "model.json").write_text(json.dumps({"x": args.x, "y": args.y}))
print("done", flush=True)
