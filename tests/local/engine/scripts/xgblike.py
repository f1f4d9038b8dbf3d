"""A sub-second stand-in for SageMaker's built-in XGBoost image in engine tests.

It takes XGBoost's hyperparameters (``--eta``, ``--max_depth``, ``--num_round``, others ignored) and
prints one evaluation line per round the way the built-in algorithm does, fields separated by a tab::

    [0]	train-rmse:0.61	validation-rmse:0.72

with ``validation-rmse = (eta - 0.3)^2 + |max_depth - 5|/10 + 1/(round+1)`` and ``validation-auc = 1 -
validation-rmse / 4``, so the final metrics are known functions of the hyperparameters.
"""

import argparse
import json
import os
import pathlib

parser = argparse.ArgumentParser()
parser.add_argument("--eta", type=float, default=0.3)
parser.add_argument("--max_depth", type=int, default=6)
parser.add_argument("--num_round", type=int, default=3)
args, _ = parser.parse_known_args()

base = (args.eta - 0.3) ** 2 + abs(args.max_depth - 5) / 10
for r in range(args.num_round):
    rmse = base + 1.0 / (r + 1)
    print(
        f"[{r}]\ttrain-rmse:{rmse / 2:.5f}\tvalidation-rmse:{rmse:.5f}\tvalidation-auc:{1 - rmse / 4:.5f}",
        flush=True,
    )
pathlib.Path(os.environ["SM_MODEL_DIR"], "xgboost-model").write_text(json.dumps(vars(args)))
