"""A training script that overfits on purpose, under the SageMaker script-mode contract.

It prints XGBoost's per-round line (``[i]<TAB>train-auc:T<TAB>validation-auc:V``): the train AUC rises
every round while the validation AUC peaks at round 5 and then falls, which is what AMT301 looks for.
Hyperparameters are accepted and ignored; the model is a stub.
"""

import os
import pathlib

for i in range(12):
    train = 0.70 + 0.025 * i
    validation = 0.70 + 0.05 * i if i <= 5 else 0.95 - 0.03 * (i - 5)
    print(f"[{i}]\ttrain-auc:{train:.5f}\tvalidation-auc:{validation:.5f}", flush=True)

pathlib.Path(os.environ["SM_MODEL_DIR"], "model.json").write_text("{}")
print("done", flush=True)
