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

The script is self-contained (SageMaker uploads only the entry point's folder); ``train_and_evaluate``
can also be imported to compute the same objective in-process.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import re
import sys
import tarfile
import tempfile
import traceback
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import xgboost as xgb


class TrainingError(Exception):
    """A problem the user can fix; its message goes to the failure file as is."""


# ---------------------------------------------------------------------------------------------------
# The SageMaker training-container contract


@dataclass(frozen=True)
class Paths:
    config_dir: Path
    model_dir: Path
    output_dir: Path
    checkpoint_dir: Path

    @classmethod
    def from_environment(cls, env: Mapping[str, str]) -> Paths:
        model_dir = Path(env.get("SM_MODEL_DIR", "/opt/ml/model"))
        root = model_dir.parent
        input_dir = Path(env.get("SM_INPUT_DIR", str(root / "input")))
        return cls(
            config_dir=Path(env.get("SM_INPUT_CONFIG_DIR", str(input_dir / "config"))),
            model_dir=model_dir,
            output_dir=Path(env.get("SM_OUTPUT_DIR", str(root / "output"))),
            checkpoint_dir=Path(env.get("SM_CHECKPOINT_DIR", str(root / "checkpoints"))),
        )

    def channel(self, name: str, env: Mapping[str, str]) -> Path:
        default = self.config_dir.parent / "data" / name
        return Path(env.get(f"SM_CHANNEL_{name.upper()}", str(default)))


def read_raw_hyperparameters(paths: Paths, argv: Sequence[str]) -> dict[str, str]:
    """hyperparameters.json, then ``--name value`` arguments on top; values as strings."""
    raw: dict[str, str] = {}
    file = paths.config_dir / "hyperparameters.json"
    if file.exists():
        try:
            loaded = json.loads(file.read_text())
        except json.JSONDecodeError as e:
            raise TrainingError(f"{file} is not valid JSON: {e}") from e
        if not isinstance(loaded, dict):
            raise TrainingError(f"{file} must hold a JSON object of hyperparameters")
        raw.update({str(k): _unquote(v) for k, v in loaded.items()})
    args = list(argv)
    if len(args) % 2:
        raise TrainingError(f"arguments must come in '--name value' pairs, got {' '.join(args)!r}")
    for flag, value in zip(args[::2], args[1::2], strict=True):
        if not flag.startswith("--") or len(flag) < 3:
            raise TrainingError(f"argument {flag!r} is not of the form --name")
        raw[flag[2:]] = _unquote(value)
    return raw


def _unquote(value: object) -> str:
    # The SageMaker Python SDK JSON-encodes string hyperparameters ('"hist"'); the API passes plain strings.
    text = value if isinstance(value, str) else json.dumps(value)
    if len(text) >= 2 and text[0] == text[-1] == '"':
        try:
            decoded = json.loads(text)
        except json.JSONDecodeError:
            return text
        return decoded if isinstance(decoded, str) else text
    return text


def write_failure(paths: Paths, message: str) -> None:
    try:
        paths.output_dir.mkdir(parents=True, exist_ok=True)
        (paths.output_dir / "failure").write_text(message[:1024])
    except OSError:
        pass  # the message still goes to stderr


# ---------------------------------------------------------------------------------------------------
# Hyperparameters

EVALUATE_ONLY = "amtflow_evaluate_only"


@dataclass(frozen=True)
class Spec:
    kind: Callable[[str], Any]
    default: Any = None
    check: Callable[[Any], bool] = lambda _v: True
    expect: str = ""


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
    problems: list[str] = []
    values: dict[str, Any] = {name: spec.default for name, spec in HYPERPARAMETERS.items()}
    for name, text in raw.items():
        if name.startswith("_") or name.startswith("sagemaker_") or name == EVALUATE_ONLY:
            continue  # added by SageMaker itself (e.g. _tuning_objective_metric), or the mode switch
        spec = HYPERPARAMETERS.get(name)
        if spec is None:
            problems.append(
                f"unknown hyperparameter {name!r}; supported: {', '.join(sorted(HYPERPARAMETERS))}"
            )
            continue
        try:
            value = int(float(text)) if spec.kind is int and _is_integral(text) else spec.kind(text)
        except ValueError:
            kind = "an integer" if spec.kind is int else "a number" if spec.kind is float else "valid"
            problems.append(f"hyperparameter {name!r} must be {kind}, got {text!r}")
            continue
        if isinstance(value, float) and not math.isfinite(value):
            problems.append(f"hyperparameter {name!r} must be a finite number, got {text!r}")
        elif not spec.check(value):
            problems.append(f"hyperparameter {name!r} must be {spec.expect}, got {text!r}")
        else:
            values[name] = value
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


def _is_integral(text: str) -> bool:
    # "6.0" is accepted for an integer (some tuners render integers as floats), "6.5" is not.
    try:
        number = float(text)
    except ValueError:
        return False
    return math.isfinite(number) and number == int(number)


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
    if not folder.is_dir():
        raise TrainingError(
            f"channel {channel!r}: folder {folder} does not exist; give the job a {channel!r} channel"
        )
    files = sorted(p for p in folder.rglob("*") if p.is_file() and not p.name.startswith((".", "_")))
    if not files:
        raise TrainingError(f"channel {channel!r}: no files in {folder}")
    blocks = []
    for file in files:
        try:
            block = np.loadtxt(file, delimiter=",", dtype=float, ndmin=2)
        except ValueError as e:
            raise TrainingError(
                f"channel {channel!r}: {file.name} is not a numeric CSV without header "
                f"(label in the first column): {e}"
            ) from e
        if block.size:
            blocks.append(block)
    if not blocks:
        raise TrainingError(f"channel {channel!r}: every file in {folder} is empty")
    widths = {b.shape[1] for b in blocks}
    if len(widths) > 1:
        raise TrainingError(f"channel {channel!r}: files have different column counts {sorted(widths)}")
    table = np.vstack(blocks)
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
    if checkpoint_dir is not None and checkpoint_dir.is_dir():
        # Finished (possibly stopped early): a restart of this job has nothing left to train.
        save_checkpoint(checkpoint_dir, booster, fingerprint, hp["num_round"])
    return booster, history


def evaluate_only_requested(raw: Mapping[str, str]) -> bool:
    flag = raw.get(EVALUATE_ONLY, "false").strip().lower()
    if flag not in ("true", "false", "1", "0"):
        raise TrainingError(f"hyperparameter {EVALUATE_ONLY!r} must be true or false, got {flag!r}")
    return flag in ("true", "1")


def unpack_model(folder: Path, into: Path) -> Path:
    """The ``xgboost-model`` file from the ``model`` channel (a ``model.tar.gz`` or the bare file)."""
    if not folder.is_dir():
        raise TrainingError(
            f"channel 'model': folder {folder} does not exist; evaluate-only mode needs the model.tar.gz "
            "to score as a 'model' channel"
        )
    bare = folder / "xgboost-model"
    if bare.is_file():
        return bare
    archives = sorted(folder.rglob("*.tar.gz"))
    if not archives:
        raise TrainingError(f"channel 'model': no model.tar.gz or xgboost-model in {folder}")
    with tarfile.open(archives[0]) as tar:
        tar.extractall(into, filter="data")
    found = sorted(into.rglob("xgboost-model"))
    if not found:
        raise TrainingError(f"channel 'model': {archives[0].name} holds no xgboost-model file")
    return found[0]


def evaluate(
    paths: Paths, raw: Mapping[str, str], env: Mapping[str, str], out: Callable[[str], None]
) -> None:
    """Score a trained model on the validation channel; print the metrics in the training format."""
    hp = parse_hyperparameters({"num_round": "1", **raw})
    dvalidation = read_csv_channel(
        paths.channel("validation", env), "validation", weights=bool(hp["csv_weights"])
    )
    check_labels(dvalidation, "validation", hp)
    with tempfile.TemporaryDirectory() as scratch:
        booster = xgb.Booster()
        booster.load_model(str(unpack_model(paths.channel("model", env), Path(scratch))))
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
    raw = read_raw_hyperparameters(paths, argv)
    if evaluate_only_requested(raw):
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


class RequestError(Exception):
    """A request the model cannot answer; the message goes back to the caller with a 4xx status."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


def parse_rows(body: bytes, content_type: str, width: int) -> np.ndarray:
    """CSV rows of features (no header, no label) as a 2-D array of ``width`` columns."""
    if content_type.split(";", 1)[0].strip().lower() != "text/csv":
        raise RequestError(415, f"Content-Type {content_type or '(none)'!r} is not supported; send text/csv")
    text = body.decode("utf-8", errors="replace").strip()
    if not text:
        raise RequestError(400, "the request body is empty; send CSV rows of features")
    try:
        rows = np.loadtxt(text.splitlines(), delimiter=",", dtype=float, ndmin=2)
    except ValueError as e:
        raise RequestError(400, f"the body is not numeric CSV rows of features: {e}") from e
    if rows.shape[1] != width:
        raise RequestError(400, f"each row must have {width} features (no label), got {rows.shape[1]}")
    return rows


def render(values: Sequence[Any], accept: str) -> tuple[bytes, str]:
    """Predictions as ``text/csv`` (one per line, the default) or ``application/json``."""
    kind = accept.split(";", 1)[0].strip().lower()
    if kind == "application/json":
        return json.dumps({"predictions": list(values)}).encode(), "application/json"
    if kind not in ("", "*/*", "text/csv"):
        raise RequestError(406, f"Accept {accept!r} is not supported; ask for text/csv or application/json")
    return "".join(f"{v}\n" for v in values).encode(), "text/csv"


def serve(predict: Callable[[bytes, str, str], tuple[bytes, str]], env: Mapping[str, str]) -> None:
    """Answer ``GET /ping`` and ``POST /invocations`` on ``SAGEMAKER_BIND_TO_PORT`` (8080) until stopped."""
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    class Handler(BaseHTTPRequestHandler):
        def _reply(self, status: int, body: bytes = b"", content_type: str = "text/plain") -> None:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def do_GET(self) -> None:
            self._reply(200 if self.path == "/ping" else 404)

        def do_POST(self) -> None:
            if self.path == "/ping":
                self._reply(200)
                return
            if self.path != "/invocations":
                self._reply(404)
                return
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            try:
                answer, content_type = predict(
                    body, self.headers.get("Content-Type") or "", self.headers.get("Accept") or ""
                )
            except RequestError as e:
                self._reply(e.status, str(e).encode())
                return
            except Exception as e:  # a bug answers 500 with its kind; the trace goes to the log
                traceback.print_exc()
                self._reply(500, f"{type(e).__name__}: {e}".encode())
                return
            self._reply(200, answer, content_type)

        def log_message(self, format: str, *args: Any) -> None:
            print(f"{self.address_string()} {format % args}", flush=True)

    host = env.get("SAGEMAKER_BIND_TO_HOST", "0.0.0.0")  # a container listens on every address
    port = int(env.get("SAGEMAKER_BIND_TO_PORT", "8080"))
    server = ThreadingHTTPServer((host, port), Handler)
    print(f"serving on {host}:{port}", flush=True)
    server.serve_forever()


def serve_model(env: Mapping[str, str]) -> None:
    """Serve the ``xgboost-model`` in ``SM_MODEL_DIR``: CSV rows in, one prediction per row out."""
    model_file = Paths.from_environment(env).model_dir / "xgboost-model"
    if not model_file.is_file():
        raise TrainingError(f"{model_file} does not exist; deploy a model.tar.gz this script wrote")
    booster = xgb.Booster()
    booster.load_model(bytearray(model_file.read_bytes()))
    width = booster.num_features()

    def predict(body: bytes, content_type: str, accept: str) -> tuple[bytes, str]:
        rows = parse_rows(body, content_type, width)
        return render([float(v) for v in booster.predict(xgb.DMatrix(rows))], accept)

    serve(predict, env)


def main(argv: Sequence[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else list(argv)
    env = dict(os.environ)
    if args == ["serve"]:  # SageMaker runs an inference container as ``<image> serve``
        try:
            serve_model(env)
        except TrainingError as e:
            print(f"cannot serve: {e}", file=sys.stderr, flush=True)
            return 1
        return 0

    def out(line: str) -> None:
        print(line, flush=True)

    try:
        run(args, env, out)
    except TrainingError as e:
        message = f"ClientError: {e}"
    except Exception as e:  # anything else is still reported, with its type, in the failure file
        traceback.print_exc()
        message = f"AlgorithmError: {type(e).__name__}: {e}"
    else:
        return 0
    print(message, file=sys.stderr, flush=True)
    write_failure(Paths.from_environment(env), message)
    return 1


if __name__ == "__main__":
    sys.exit(main())
