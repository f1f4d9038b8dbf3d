"""A multi-layer perceptron (scikit-learn) trained epoch by epoch, under the SageMaker training contract.

Made for Hyperband and early stopping: it prints one metric line per epoch,
``epoch=3 validation_loss=0.4100 validation_accuracy=0.8800 train_loss=0.3500``, so a tuner can compare
trials at equal epochs and stop the poor ones early. ``epochs`` is the resource (a static hyperparameter;
Hyperband's ``MaxResource`` is inferred from it).

Contract (the same as SageMaker script mode, so it runs unmodified there as the entry point of the
scikit-learn framework container or a custom image, with ``examples/sagemaker_contract.py``, the contract the
examples share, shipped beside it: the SageMaker Python SDK's ``dependencies=[...]``, or the image's
``COPY``):

- hyperparameters from ``/opt/ml/input/config/hyperparameters.json`` and/or ``--name value`` arguments
  (arguments win); see ``HYPERPARAMETERS``; SageMaker's own additions (``_tuning_objective_metric``,
  ``sagemaker_*``) are accepted;
- CSV channels ``train`` and ``validation`` (both required) from ``SM_CHANNEL_<NAME>`` or
  ``/opt/ml/input/data/<channel>``: integer class label in the first column, no header;
- the fitted pipeline (standardisation + MLP) pickled to ``SM_MODEL_DIR/model.pkl`` with a
  ``metadata.json`` beside it;
- evaluate-only mode (hyperparameter ``amtflow_evaluate_only=true``): no training; the ``model`` channel's
  ``model.tar.gz`` (a model this script wrote) is scored on the ``validation`` channel and one metric line in
  the usual format is printed (``epoch=0 validation_loss=... validation_accuracy=...``) — this is how amtflow
  measures a champion on new data;
- on error the reason in ``/opt/ml/output/failure`` and a non-zero exit (a diverging run fails with a
  message that says to lower the learning rate);
- serving (``train.py serve``, as SageMaker starts an inference container): the ``model.pkl`` in
  ``SM_MODEL_DIR`` (``/opt/ml/model``) is loaded and ``GET /ping`` and ``POST /invocations`` are answered on
  ``SAGEMAKER_BIND_TO_PORT`` (8080): ``text/csv`` rows of features in (no label), one predicted class per
  row out (``text/csv``, or ``application/json`` ``{"predictions": [...]}`` when the ``Accept`` header asks);
- checkpoints: when ``/opt/ml/checkpoints`` exists the model is saved there after an epoch when at least
  ``CHECKPOINT_EVERY_S`` seconds passed since the last save, and after the last epoch; a restarted job
  with the same hyperparameters resumes after the last saved epoch (epochs are short: saving after
  every one would cost more than it protects).

Paths follow the ``SM_*`` environment where it is set (``SM_MODEL_DIR``, ``SM_CHANNEL_<NAME>``,
``SM_INPUT_CONFIG_DIR``, ``SM_OUTPUT_DIR``); the checkpoint folder is ``SM_CHECKPOINT_DIR`` if set, else
``checkpoints/`` beside the model folder (``/opt/ml/checkpoints``).
"""

from __future__ import annotations

import hashlib
import json
import math
import pickle
import sys
import time
import warnings
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from sklearn.exceptions import ConvergenceWarning
from sklearn.metrics import accuracy_score, log_loss
from sklearn.neural_network import MLPClassifier
from sklearn.preprocessing import StandardScaler

# The container contract the examples share (examples/sagemaker_contract.py): one folder up in a checkout,
# beside this script where SageMaker runs it (see that module for how to ship it).
sys.path.append(str(Path(__file__).resolve().parent.parent))
import sagemaker_contract as contract
from sagemaker_contract import Paths, Spec, TrainingError

CHECKPOINT_EVERY_S = 10.0


# ---------------------------------------------------------------------------------------------------
# Hyperparameters


HYPERPARAMETERS: dict[str, Spec] = {
    "epochs": Spec(int, 20, lambda v: 1 <= v <= 20000, "an integer in [1, 20000]"),
    "learning_rate_init": Spec(float, 1e-3, lambda v: 0 < v <= 1, "in (0, 1]"),
    "alpha": Spec(float, 1e-4, lambda v: v >= 0, ">= 0 (L2 penalty)"),
    "hidden_units": Spec(int, 64, lambda v: 1 <= v <= 4096, "an integer in [1, 4096]"),
    "hidden_layers": Spec(int, 1, lambda v: 1 <= v <= 8, "an integer in [1, 8]"),
    "batch_size": Spec(int, 32, lambda v: v >= 1, "an integer >= 1"),
    "activation": Spec(
        str, "relu", lambda v: v in ("relu", "tanh", "logistic"), "one of relu, tanh, logistic"
    ),
    "beta_1": Spec(float, 0.9, lambda v: 0 <= v < 1, "in [0, 1)"),
    "seed": Spec(int, 0, lambda v: v >= 0, "an integer >= 0"),
}


def parse_hyperparameters(raw: Mapping[str, str]) -> dict[str, Any]:
    """Typed, checked hyperparameters with defaults; every problem is reported at once."""
    values, problems = contract.typed_hyperparameters(raw, HYPERPARAMETERS)
    if problems:
        raise TrainingError("; ".join(problems))
    return values


# ---------------------------------------------------------------------------------------------------
# Data


def read_csv_channel(folder: Path, channel: str) -> tuple[np.ndarray, np.ndarray]:
    table = contract.read_csv_table(folder, channel)
    if table.shape[1] < 2:
        raise TrainingError(f"channel {channel!r}: need a label column and at least one feature column")
    labels = table[:, 0]
    if not np.equal(np.mod(labels, 1), 0).all():
        raise TrainingError(f"channel {channel!r}: the first column must hold integer class labels")
    return table[:, 1:], labels.astype(int)


# ---------------------------------------------------------------------------------------------------
# Training


@dataclass
class State:
    """What a checkpoint holds: the fitted scaler and network after ``epoch`` epochs."""

    fingerprint: str
    epoch: int
    scaler: StandardScaler
    network: MLPClassifier
    classes: np.ndarray


def fingerprint_of(hp: Mapping[str, Any]) -> str:
    # More epochs continue the same run, so `epochs` is not part of what a checkpoint must match.
    relevant = {k: v for k, v in hp.items() if k != "epochs"}
    return hashlib.sha256(json.dumps(relevant, sort_keys=True).encode()).hexdigest()[:16]


def new_state(hp: Mapping[str, Any], x_train: np.ndarray, y_train: np.ndarray, classes: np.ndarray) -> State:
    network = MLPClassifier(
        hidden_layer_sizes=(hp["hidden_units"],) * hp["hidden_layers"],
        activation=hp["activation"],
        solver="adam",
        alpha=hp["alpha"],
        batch_size=min(hp["batch_size"], len(y_train)),
        learning_rate_init=hp["learning_rate_init"],
        beta_1=hp["beta_1"],
        random_state=hp["seed"],
    )
    return State(fingerprint_of(hp), 0, StandardScaler().fit(x_train), network, classes)


def save_checkpoint(folder: Path, state: State) -> None:
    tmp = folder / "mlp-checkpoint.pkl.tmp"
    tmp.write_bytes(pickle.dumps(state))
    tmp.replace(folder / "mlp-checkpoint.pkl")


def load_checkpoint(folder: Path, fingerprint: str) -> State | None:
    file = folder / "mlp-checkpoint.pkl"
    if not file.exists():
        return None
    try:
        state = pickle.loads(file.read_bytes())  # our own file, written by save_checkpoint
    except Exception:
        return None
    if not isinstance(state, State) or state.fingerprint != fingerprint:
        return None  # written by another version or with other hyperparameters: start afresh
    return state


def train_epochs(
    hp: Mapping[str, Any],
    train: tuple[np.ndarray, np.ndarray],
    validation: tuple[np.ndarray, np.ndarray],
    *,
    out: Callable[[str], None],
    checkpoint_dir: Path | None = None,
    clock: Callable[[], float] = time.monotonic,
) -> tuple[State, dict[str, float]]:
    """Train ``hp['epochs']`` epochs, one metric line per epoch; return the state and the last metrics."""
    (x_train, y_train), (x_validation, y_validation) = train, validation
    classes = np.unique(np.concatenate([y_train, y_validation]))
    if len(classes) < 2:
        raise TrainingError("the labels hold a single class; a classifier needs at least two")
    state = None
    if checkpoint_dir is not None and checkpoint_dir.is_dir():
        state = load_checkpoint(checkpoint_dir, fingerprint_of(hp))
        if state is not None:
            out(f"resuming from checkpoint after epoch {state.epoch}")
    if state is None:
        state = new_state(hp, x_train, y_train, classes)
    xs_train, xs_validation = state.scaler.transform(x_train), state.scaler.transform(x_validation)
    metrics: dict[str, float] = {}
    saved = clock()
    while state.epoch < hp["epochs"]:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            state.network.partial_fit(xs_train, y_train, classes=state.classes)
        state.epoch += 1
        proba = state.network.predict_proba(xs_validation)
        if not np.isfinite(proba).all() or not math.isfinite(state.network.loss_):
            raise TrainingError(
                f"training diverged at epoch {state.epoch} (the loss is not finite); "
                f"lower learning_rate_init (now {hp['learning_rate_init']})"
            )
        metrics = {
            "validation_loss": float(log_loss(y_validation, proba, labels=state.classes)),
            "validation_accuracy": float(accuracy_score(y_validation, state.classes[proba.argmax(axis=1)])),
            "train_loss": float(state.network.loss_),
        }
        out(
            f"epoch={state.epoch} validation_loss={metrics['validation_loss']:.4f} "
            f"validation_accuracy={metrics['validation_accuracy']:.4f} train_loss={metrics['train_loss']:.4f}"
        )
        last, stopping = state.epoch >= hp["epochs"], contract.stop_requested()
        if (
            checkpoint_dir is not None
            and checkpoint_dir.is_dir()
            and (last or stopping or clock() - saved >= CHECKPOINT_EVERY_S)
        ):
            save_checkpoint(checkpoint_dir, state)
            saved = clock()
        if stopping and not last:
            out(f"stop requested (SIGTERM): training ends after epoch {state.epoch}")
            break
    return state, metrics


def load_packaged_model(folder: Path) -> dict[str, Any]:
    """``{"scaler", "network"}`` from the ``model`` channel (a ``model.tar.gz`` or the bare ``model.pkl``)."""
    data = contract.model_channel_file(folder, "model.pkl")
    model = pickle.loads(data)  # a model this script wrote (the champion's own artifact)
    if not isinstance(model, dict) or not {"scaler", "network"} <= set(model):
        raise TrainingError("channel 'model': model.pkl was not written by this script")
    return model


def evaluate(paths: Paths, env: Mapping[str, str], out: Callable[[str], None]) -> None:
    """Score a trained model on the validation channel; print the metrics in the training format."""
    x_validation, y_validation = read_csv_channel(paths.channel("validation", env), "validation")
    model = load_packaged_model(paths.channel("model", env))
    scaler, network = model["scaler"], model["network"]
    if scaler.n_features_in_ != x_validation.shape[1]:
        raise TrainingError(
            f"channel 'validation' has {x_validation.shape[1]} features, but the model was trained on "
            f"{scaler.n_features_in_}"
        )
    proba = network.predict_proba(scaler.transform(x_validation))
    classes = network.classes_
    out(f"evaluate only: validation: {len(y_validation)} rows")
    out(
        f"epoch=0 validation_loss={float(log_loss(y_validation, proba, labels=classes)):.4f} "
        f"validation_accuracy={float(accuracy_score(y_validation, classes[proba.argmax(axis=1)])):.4f}"
    )


def run(argv: Sequence[str], env: Mapping[str, str], out: Callable[[str], None]) -> None:
    paths = Paths.from_environment(env)
    raw = contract.read_raw_hyperparameters(paths, argv)
    if contract.evaluate_only_requested(raw):
        parse_hyperparameters(raw)
        evaluate(paths, env, out)
        return
    hp = parse_hyperparameters(raw)
    train = read_csv_channel(paths.channel("train", env), "train")
    validation = read_csv_channel(paths.channel("validation", env), "validation")
    if train[0].shape[1] != validation[0].shape[1]:
        raise TrainingError(
            f"channel 'validation' has {validation[0].shape[1]} features but 'train' has {train[0].shape[1]}"
        )
    out(f"train: {len(train[1])} rows x {train[0].shape[1]} features, validation: {len(validation[1])} rows")
    state, metrics = train_epochs(hp, train, validation, out=out, checkpoint_dir=paths.checkpoint_dir)
    paths.model_dir.mkdir(parents=True, exist_ok=True)
    (paths.model_dir / "model.pkl").write_bytes(
        pickle.dumps({"scaler": state.scaler, "network": state.network})
    )
    metadata = {
        "hyperparameters": hp,
        "epochs": state.epoch,
        "classes": state.classes.tolist(),
        "metrics": metrics,
    }
    (paths.model_dir / "metadata.json").write_text(json.dumps(metadata, indent=2))
    out(f"model written to {paths.model_dir / 'model.pkl'}")


# ---------------------------------------------------------------------------------------------------
# Serving: SageMaker's inference contract (``train.py serve``)


def serve_model(env: Mapping[str, str]) -> None:
    """Serve the ``model.pkl`` in ``SM_MODEL_DIR``: CSV rows in, one predicted class per row out."""
    model = load_packaged_model(Paths.from_environment(env).model_dir)
    scaler, network = model["scaler"], model["network"]
    width = int(scaler.n_features_in_)

    def predict(body: bytes, content_type: str, accept: str) -> tuple[bytes, str]:
        rows = contract.parse_rows(body, content_type, width)
        return contract.render([v.item() for v in network.predict(scaler.transform(rows))], accept)

    contract.serve(predict, env)


def main(argv: Sequence[str] | None = None) -> int:
    return contract.main(sys.argv[1:] if argv is None else argv, train=run, serve_model=serve_model)


if __name__ == "__main__":
    sys.exit(main())
