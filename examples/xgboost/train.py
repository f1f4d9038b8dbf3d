"""XGBoost training script under the SageMaker training-container contract.

It behaves like SageMaker's built-in XGBoost algorithm in script mode, so the same tuning job runs on
SageMaker (with the built-in image, or this script as the entry point of the XGBoost framework container)
and on amtflow's local engine:

- hyperparameters from ``/opt/ml/input/config/hyperparameters.json`` and/or ``--name value`` arguments
  (arguments win), with the built-in algorithm's names: ``num_round`` (required), ``eta``, ``max_depth``,
  ``min_child_weight``, ``subsample``, ``colsample_bytree``, ``gamma``, ``alpha``, ``lambda``,
  ``objective``, ``eval_metric``, ``early_stopping_rounds`` and the others listed in ``HYPERPARAMETERS``;
  SageMaker's own additions (``_tuning_objective_metric``, ``sagemaker_*``) are accepted;
- CSV channels ``train`` (required) and ``validation`` (optional) from ``SM_CHANNEL_<NAME>`` or
  ``/opt/ml/input/data/<channel>``: label in the first column, no header, every file of the folder read;
- one evaluation line per boosting round in the built-in format, e.g.
  ``[3]<TAB>train-auc:0.91234<TAB>validation-auc:0.89012`` (CloudWatch shows the tab as ``#011``), so the
  built-in metric regexes such as ``validation-auc:([0-9\\.]+)`` match;
- the model written to ``SM_MODEL_DIR`` (``/opt/ml/model``) as ``xgboost-model`` (XGBoost's UBJSON);
- on error the reason in ``/opt/ml/output/failure`` and a non-zero exit;
- evaluate-only mode (hyperparameter ``amtflow_evaluate_only=true``): no training; the ``model`` channel's
  ``model.tar.gz`` (a model this script wrote) is scored on the ``validation`` channel and one line in the
  usual format (``[0]<TAB>validation-auc:0.95123``) is printed, so the same metric regexes read it — this is
  how amtflow measures a champion on new data;
- serving (``train.py serve``, as SageMaker starts an inference container): the ``xgboost-model`` in
  ``SM_MODEL_DIR`` (``/opt/ml/model``) is loaded and ``GET /ping`` and ``POST /invocations`` are answered on
  ``SAGEMAKER_BIND_TO_PORT`` (8080): ``text/csv`` rows of features in (no label), one prediction per row
  out (``text/csv``, or ``application/json`` ``{"predictions": [...]}`` when the ``Accept`` header asks);
- checkpoints: when ``/opt/ml/checkpoints`` exists (SageMaker creates it when the job has a
  ``CheckpointConfig``), the booster is saved there every round and a restarted job (e.g. after a spot
  interruption) with the same hyperparameters resumes from it.

Paths follow the ``SM_*`` environment where it is set (``SM_MODEL_DIR``, ``SM_CHANNEL_<NAME>``,
``SM_INPUT_CONFIG_DIR``, ``SM_OUTPUT_DIR``); the checkpoint folder is ``SM_CHECKPOINT_DIR`` if set, else
``checkpoints/`` beside the model folder's parent (``/opt/ml/checkpoints``).

The container contract it shares with the other examples (paths, hyperparameters, channels, the failure
file, serving) is ``examples/sagemaker_contract.py``: SageMaker uploads only the entry point's folder, so
ship that file beside this script (the SageMaker Python SDK's ``dependencies=[...]``, or the image's
``COPY``). ``train_and_evaluate`` can also be imported to compute the same objective in-process.
"""

from __future__ import annotations

import hashlib
import json
import re
import sys
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import xgboost as xgb

# The container contract the examples share (examples/sagemaker_contract.py): one folder up in a checkout,
# beside this script where SageMaker runs it (see that module for how to ship it).
sys.path.append(str(Path(__file__).resolve().parent.parent))
import sagemaker_contract as contract
from sagemaker_contract import Paths, Spec, TrainingError

# ---------------------------------------------------------------------------------------------------
# Hyperparameters


def _choice(*values: str) -> Spec:
    return Spec(str, None, lambda v: v in values, f"one of {', '.join(values)}")


_unit = Spec(float, None, lambda v: 0 < v <= 1, "in (0, 1]")
_non_negative = Spec(float, None, lambda v: v >= 0, ">= 0")

OBJECTIVES = (
    "binary:logistic",
    "binary:logitraw",
    "binary:hinge",
    "reg:squarederror",
    "reg:squaredlogerror",
    "reg:logistic",
    "reg:pseudohubererror",
    "reg:absoluteerror",
    "reg:gamma",
    "reg:tweedie",
    "count:poisson",
    "multi:softmax",
    "multi:softprob",
)
_METRIC = re.compile(
    r"^(auc|aucpr|error(@[0-9.]+)?|logloss|rmse|rmsle|mae|mape|mphe|mlogloss|merror|"
    r"poisson-nloglik|gamma-nloglik|gamma-deviance|tweedie-nloglik(@[0-9.]+)?)$"
)
_MAXIMIZED = ("auc", "aucpr")

HYPERPARAMETERS: dict[str, Spec] = {
    "num_round": Spec(int, None, lambda v: v >= 1, ">= 1"),
    "eta": Spec(float, 0.3, lambda v: 0 <= v <= 1, "in [0, 1]"),
    "gamma": Spec(float, 0.0, lambda v: v >= 0, ">= 0"),
    "max_depth": Spec(int, 6, lambda v: v >= 0, ">= 0"),
    "min_child_weight": Spec(float, 1.0, lambda v: v >= 0, ">= 0"),
    "max_delta_step": Spec(float, 0.0, lambda v: v >= 0, ">= 0"),
    "subsample": Spec(float, 1.0, _unit.check, _unit.expect),
    "colsample_bytree": Spec(float, 1.0, _unit.check, _unit.expect),
    "colsample_bylevel": Spec(float, 1.0, _unit.check, _unit.expect),
    "colsample_bynode": Spec(float, 1.0, _unit.check, _unit.expect),
    "lambda": Spec(float, 1.0, _non_negative.check, _non_negative.expect),
    "alpha": Spec(float, 0.0, _non_negative.check, _non_negative.expect),
    "scale_pos_weight": Spec(float, 1.0, lambda v: v > 0, "> 0"),
    "max_bin": Spec(int, 256, lambda v: v >= 2, ">= 2"),
    "max_leaves": Spec(int, 0, lambda v: v >= 0, ">= 0"),
    "base_score": Spec(float, None),
    "tree_method": Spec(
        str, "auto", lambda v: v in ("auto", "exact", "approx", "hist"), "auto|exact|approx|hist"
    ),
    "grow_policy": _choice("depthwise", "lossguide"),
    "booster": _choice("gbtree", "gblinear", "dart"),
    "objective": Spec(str, "reg:squarederror", lambda v: v in OBJECTIVES, f"one of {', '.join(OBJECTIVES)}"),
    "eval_metric": Spec(
        lambda s: [m.strip() for m in s.split(",") if m.strip()],
        None,
        lambda ms: bool(ms) and all(_METRIC.match(m) for m in ms),
        "a comma-separated list of XGBoost metrics (auc, aucpr, error, logloss, rmse, mae, mlogloss...)",
    ),
    "early_stopping_rounds": Spec(int, None, lambda v: v >= 1, ">= 1"),
    "num_class": Spec(int, None, lambda v: v >= 2, ">= 2"),
    "seed": Spec(int, 0),
    "nthread": Spec(int, None, lambda v: v >= 1, ">= 1"),
    "verbosity": Spec(int, 1, lambda v: 0 <= v <= 3, "0..3"),
    "csv_weights": Spec(int, 0, lambda v: v in (0, 1), "0 or 1"),
}


def parse_hyperparameters(raw: Mapping[str, str]) -> dict[str, Any]:
    """Typed, checked hyperparameters with defaults; every problem is reported at once."""
    values, problems = contract.typed_hyperparameters(raw, HYPERPARAMETERS)
    if values["num_round"] is None and "num_round" not in raw:
        problems.append("hyperparameter 'num_round' is required (e.g. num_round=100)")
    if values["objective"].startswith("multi:") and values["num_class"] is None and "num_class" not in raw:
        problems.append(f"objective {values['objective']!r} needs hyperparameter 'num_class'")
    if problems:
        raise TrainingError("; ".join(problems))
    if values["eval_metric"] is None:
        values["eval_metric"] = [_default_metric(values["objective"])]
    objective_metric = raw.get("_tuning_objective_metric", "")
    # Like the built-in algorithm: the tuning objective ("validation:auc") is always evaluated.
    metric = objective_metric.split(":", 1)[1] if ":" in objective_metric else ""
    if metric and _METRIC.match(metric) and metric not in values["eval_metric"]:
        values["eval_metric"].append(metric)
    return values


def _default_metric(objective: str) -> str:
    if objective.startswith("binary:"):
        return "logloss"
    if objective.startswith("multi:"):
        return "mlogloss"
    return "rmse"


def booster_params(hp: Mapping[str, Any]) -> dict[str, Any]:
    skip = {"num_round", "early_stopping_rounds", "csv_weights", "eval_metric"}
    params = {k: v for k, v in hp.items() if k not in skip and v is not None}
    params["eval_metric"] = list(hp["eval_metric"])
    return params


# ---------------------------------------------------------------------------------------------------
# Data


def read_csv_channel(folder: Path, channel: str, *, weights: bool = False) -> xgb.DMatrix:
    table = contract.read_csv_table(folder, channel)
    first_feature = 2 if weights else 1
    if table.shape[1] <= first_feature:
        raise TrainingError(f"channel {channel!r}: need a label column and at least one feature column")
    weight = table[:, 1] if weights else None
    return xgb.DMatrix(table[:, first_feature:], label=table[:, 0], weight=weight)


def check_labels(dmatrix: xgb.DMatrix, channel: str, hp: Mapping[str, Any]) -> None:
    labels = dmatrix.get_label()
    objective = hp["objective"]
    if objective.startswith("binary:") and not np.isin(labels, (0.0, 1.0)).all():
        raise TrainingError(
            f"channel {channel!r}: objective {objective!r} needs labels 0 or 1 in the first column"
        )
    if objective.startswith("multi:"):
        k = hp["num_class"]
        if not (np.equal(np.mod(labels, 1), 0).all() and labels.min() >= 0 and labels.max() < k):
            raise TrainingError(f"channel {channel!r}: labels must be integers in [0, {k}) for num_class={k}")


# ---------------------------------------------------------------------------------------------------
# Training


class _PrintRounds(xgb.callback.TrainingCallback):
    """One line per round in the built-in algorithm's format."""

    def __init__(self, offset: int, out: Callable[[str], None]) -> None:
        super().__init__()
        self.offset = offset
        self.out = out

    def after_iteration(self, model: Any, epoch: int, evals_log: Any) -> bool:
        parts = [f"[{self.offset + epoch}]"]
        for data, metrics in evals_log.items():
            for metric, history in metrics.items():
                parts.append(f"{data}-{metric}:{history[-1]:.5f}")
        self.out("\t".join(parts))
        return False


class _StopWhenAsked(xgb.callback.TrainingCallback):
    """Ends training after the round in progress once the job is asked to stop (SIGTERM)."""

    def __init__(self, offset: int, out: Callable[[str], None] | None) -> None:
        super().__init__()
        self.offset, self.out = offset, out

    def after_iteration(self, model: Any, epoch: int, evals_log: Any) -> bool:
        if not contract.stop_requested():
            return False
        if self.out is not None:
            self.out(f"stop requested (SIGTERM): training ends after round {self.offset + epoch + 1}")
        return True


class _Checkpoint(xgb.callback.TrainingCallback):
    def __init__(self, folder: Path, fingerprint: str, offset: int) -> None:
        super().__init__()
        self.folder, self.fingerprint, self.offset = folder, fingerprint, offset

    def after_iteration(self, model: Any, epoch: int, evals_log: Any) -> bool:
        save_checkpoint(self.folder, model, self.fingerprint, self.offset + epoch + 1)
        return False


def save_checkpoint(folder: Path, booster: xgb.Booster, fingerprint: str, rounds: int) -> None:
    model_tmp = folder / "xgboost-checkpoint.ubj.tmp"
    model_tmp.write_bytes(bytes(booster.save_raw("ubj")))
    model_tmp.replace(folder / "xgboost-checkpoint.ubj")
    meta_tmp = folder / "xgboost-checkpoint.json.tmp"
    meta_tmp.write_text(json.dumps({"rounds": rounds, "fingerprint": fingerprint}))
    meta_tmp.replace(folder / "xgboost-checkpoint.json")


def load_checkpoint(folder: Path, fingerprint: str) -> tuple[xgb.Booster, int] | None:
    meta, model = folder / "xgboost-checkpoint.json", folder / "xgboost-checkpoint.ubj"
    if not (meta.exists() and model.exists()):
        return None
    try:
        info = json.loads(meta.read_text())
        if info.get("fingerprint") != fingerprint:
            return None  # written with other hyperparameters: start afresh
        booster = xgb.Booster()
        booster.load_model(bytearray(model.read_bytes()))
        return booster, int(info["rounds"])
    except (ValueError, KeyError, xgb.core.XGBoostError):
        return None


def fingerprint_of(hp: Mapping[str, Any]) -> str:
    return hashlib.sha256(json.dumps(hp, sort_keys=True, default=str).encode()).hexdigest()[:16]


def train_and_evaluate(
    hp: Mapping[str, Any],
    dtrain: xgb.DMatrix,
    dvalidation: xgb.DMatrix | None,
    *,
    out: Callable[[str], None] | None = None,
    checkpoint_dir: Path | None = None,
) -> tuple[xgb.Booster, dict[str, dict[str, list[float]]]]:
    """Train with the built-in algorithm's semantics; return the booster and the per-round metrics.

    ``hp`` is the output of ``parse_hyperparameters``. Early stopping watches the last metric on the
    validation channel, as the built-in algorithm does.
    """
    evals = [(dtrain, "train")] + ([(dvalidation, "validation")] if dvalidation is not None else [])
    fingerprint = fingerprint_of(hp)
    start, done = None, 0
    if checkpoint_dir is not None and checkpoint_dir.is_dir():
        resumed = load_checkpoint(checkpoint_dir, fingerprint)
        if resumed is not None:
            start, done = resumed
            if out is not None:
                out(f"resuming from checkpoint after round {done}")
    callbacks: list[xgb.callback.TrainingCallback] = []
    if out is not None:
        callbacks.append(_PrintRounds(done, out))
    if checkpoint_dir is not None and checkpoint_dir.is_dir():
        callbacks.append(_Checkpoint(checkpoint_dir, fingerprint, done))
    callbacks.append(_StopWhenAsked(done, out))
    history: dict[str, dict[str, list[float]]] = {}
    remaining = hp["num_round"] - done
    if remaining <= 0 and start is not None:
        return start, history
    stopping = hp["early_stopping_rounds"] if dvalidation is not None else None
    booster = xgb.train(
        booster_params(hp),
        dtrain,
        num_boost_round=remaining,
        evals=evals,
        evals_result=history,
        early_stopping_rounds=stopping,
        maximize=stopping is not None and hp["eval_metric"][-1] in _MAXIMIZED,
        verbose_eval=False,
        xgb_model=start,
        callbacks=callbacks,
    )
    if checkpoint_dir is not None and checkpoint_dir.is_dir() and not contract.stop_requested():
        # Finished (possibly stopped early): a restart of this job has nothing left to train.
        save_checkpoint(checkpoint_dir, booster, fingerprint, hp["num_round"])
    return booster, history


def evaluate(
    paths: Paths, raw: Mapping[str, str], env: Mapping[str, str], out: Callable[[str], None]
) -> None:
    """Score a trained model on the validation channel; print the metrics in the training format."""
    hp = parse_hyperparameters({"num_round": "1", **raw})
    dvalidation = read_csv_channel(
        paths.channel("validation", env), "validation", weights=bool(hp["csv_weights"])
    )
    check_labels(dvalidation, "validation", hp)
    booster = xgb.Booster()
    booster.load_model(bytearray(contract.model_channel_file(paths.channel("model", env), "xgboost-model")))
    if booster.num_features() != dvalidation.num_col():
        raise TrainingError(
            f"channel 'validation' has {dvalidation.num_col()} features, but the model was trained on "
            f"{booster.num_features()}"
        )
    booster.set_param([("eval_metric", m) for m in hp["eval_metric"]])
    out(f"evaluate only: validation: {dvalidation.num_row()} rows")
    out(booster.eval_set([(dvalidation, "validation")], iteration=0))


def run(argv: Sequence[str], env: Mapping[str, str], out: Callable[[str], None]) -> None:
    paths = Paths.from_environment(env)
    raw = contract.read_raw_hyperparameters(paths, argv)
    if contract.evaluate_only_requested(raw):
        evaluate(paths, raw, env, out)
        return
    hp = parse_hyperparameters(raw)
    dtrain = read_csv_channel(paths.channel("train", env), "train", weights=bool(hp["csv_weights"]))
    check_labels(dtrain, "train", hp)
    validation_dir = paths.channel("validation", env)
    dvalidation = None
    if validation_dir.is_dir():
        dvalidation = read_csv_channel(validation_dir, "validation", weights=bool(hp["csv_weights"]))
        check_labels(dvalidation, "validation", hp)
        if dvalidation.num_col() != dtrain.num_col():
            raise TrainingError(
                f"channel 'validation' has {dvalidation.num_col()} features, "
                f"but 'train' has {dtrain.num_col()}"
            )
    elif hp["early_stopping_rounds"] is not None:
        raise TrainingError("early_stopping_rounds needs a 'validation' channel")
    out(
        f"train: {dtrain.num_row()} rows x {dtrain.num_col()} features"
        + (f", validation: {dvalidation.num_row()} rows" if dvalidation is not None else "")
    )
    booster, _ = train_and_evaluate(hp, dtrain, dvalidation, out=out, checkpoint_dir=paths.checkpoint_dir)
    if hp["early_stopping_rounds"] is not None and dvalidation is not None:
        attrs = booster.attributes()
        if "best_iteration" in attrs:
            out(f"Stopping. Best iteration: [{attrs['best_iteration']}]")
    paths.model_dir.mkdir(parents=True, exist_ok=True)
    (paths.model_dir / "xgboost-model").write_bytes(bytes(booster.save_raw("ubj")))
    out(f"model written to {paths.model_dir / 'xgboost-model'}")


# ---------------------------------------------------------------------------------------------------
# Serving: SageMaker's inference contract (``train.py serve``)


def serve_model(env: Mapping[str, str]) -> None:
    """Serve the ``xgboost-model`` in ``SM_MODEL_DIR``: CSV rows in, one prediction per row out."""
    model_file = Paths.from_environment(env).model_dir / "xgboost-model"
    if not model_file.is_file():
        raise TrainingError(f"{model_file} does not exist; deploy a model.tar.gz this script wrote")
    booster = xgb.Booster()
    booster.load_model(bytearray(model_file.read_bytes()))
    width = booster.num_features()

    def predict(body: bytes, content_type: str, accept: str) -> tuple[bytes, str]:
        rows = contract.parse_rows(body, content_type, width)
        return contract.render([float(v) for v in booster.predict(xgb.DMatrix(rows))], accept)

    contract.serve(predict, env)


def main(argv: Sequence[str] | None = None) -> int:
    return contract.main(sys.argv[1:] if argv is None else argv, train=run, serve_model=serve_model)


if __name__ == "__main__":
    sys.exit(main())
