"""A multi-layer perceptron (scikit-learn) trained epoch by epoch, under the SageMaker training contract.

Made for Hyperband and early stopping: it prints one metric line per epoch,
``epoch=3 validation_loss=0.4100 validation_accuracy=0.8800 train_loss=0.3500``, so a tuner can compare
trials at equal epochs and stop the poor ones early. ``epochs`` is the resource (a static hyperparameter;
Hyperband's ``MaxResource`` is inferred from it).

Contract (the same as SageMaker script mode, so it runs unmodified there as the entry point of the
scikit-learn framework container or a custom image):

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
import os
import pickle
import sys
import tarfile
import time
import traceback
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

CHECKPOINT_EVERY_S = 10.0


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
    # The SageMaker Python SDK JSON-encodes string hyperparameters ('"relu"'); the API passes plain strings.
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


@dataclass(frozen=True)
class Spec:
    kind: type
    default: Any
    check: Callable[[Any], bool]
    expect: str


EVALUATE_ONLY = "amtflow_evaluate_only"

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
            kind = {int: "an integer", float: "a number"}.get(spec.kind, "valid")
            problems.append(f"hyperparameter {name!r} must be {kind}, got {text!r}")
            continue
        if isinstance(value, float) and not math.isfinite(value):
            problems.append(f"hyperparameter {name!r} must be a finite number, got {text!r}")
        elif not spec.check(value):
            problems.append(f"hyperparameter {name!r} must be {spec.expect}, got {text!r}")
        else:
            values[name] = value
    if problems:
        raise TrainingError("; ".join(problems))
    return values


def _is_integral(text: str) -> bool:
    # "64.0" is accepted for an integer (some tuners render integers as floats), "64.5" is not.
    try:
        number = float(text)
    except ValueError:
        return False
    return math.isfinite(number) and number == int(number)


# ---------------------------------------------------------------------------------------------------
# Data


def read_csv_channel(folder: Path, channel: str) -> tuple[np.ndarray, np.ndarray]:
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
        last = state.epoch >= hp["epochs"]
        if (
            checkpoint_dir is not None
            and checkpoint_dir.is_dir()
            and (last or clock() - saved >= CHECKPOINT_EVERY_S)
        ):
            save_checkpoint(checkpoint_dir, state)
            saved = clock()
    return state, metrics


def evaluate_only_requested(raw: Mapping[str, str]) -> bool:
    flag = raw.get(EVALUATE_ONLY, "false").strip().lower()
    if flag not in ("true", "false", "1", "0"):
        raise TrainingError(f"hyperparameter {EVALUATE_ONLY!r} must be true or false, got {flag!r}")
    return flag in ("true", "1")


def load_packaged_model(folder: Path) -> dict[str, Any]:
    """``{"scaler", "network"}`` from the ``model`` channel (a ``model.tar.gz`` or the bare ``model.pkl``)."""
    if not folder.is_dir():
        raise TrainingError(
            f"channel 'model': folder {folder} does not exist; evaluate-only mode needs the model.tar.gz "
            "to score as a 'model' channel"
        )
    bare = folder / "model.pkl"
    if bare.is_file():
        data = bare.read_bytes()
    else:
        archives = sorted(folder.rglob("*.tar.gz"))
        if not archives:
            raise TrainingError(f"channel 'model': no model.tar.gz or model.pkl in {folder}")
        with tarfile.open(archives[0]) as tar:
            member = next((m for m in tar.getmembers() if Path(m.name).name == "model.pkl"), None)
            handle = tar.extractfile(member) if member is not None else None
            if handle is None:
                raise TrainingError(f"channel 'model': {archives[0].name} holds no model.pkl")
            data = handle.read()
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
    raw = read_raw_hyperparameters(paths, argv)
    if evaluate_only_requested(raw):
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
    """Serve the ``model.pkl`` in ``SM_MODEL_DIR``: CSV rows in, one predicted class per row out."""
    model = load_packaged_model(Paths.from_environment(env).model_dir)
    scaler, network = model["scaler"], model["network"]
    width = int(scaler.n_features_in_)

    def predict(body: bytes, content_type: str, accept: str) -> tuple[bytes, str]:
        rows = parse_rows(body, content_type, width)
        return render([v.item() for v in network.predict(scaler.transform(rows))], accept)

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
