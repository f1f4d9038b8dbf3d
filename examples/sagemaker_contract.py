"""The SageMaker container contract the example scripts share (``xgboost/train.py``, ``mlp/train.py``).

What a training container reads and writes, and how an inference container answers, as SageMaker runs
them; each script adds only its own model:

- paths from the ``SM_*`` environment (``SM_MODEL_DIR``, ``SM_CHANNEL_<NAME>``, ``SM_INPUT_CONFIG_DIR``,
  ``SM_OUTPUT_DIR``, ``SM_CHECKPOINT_DIR``), else the ``/opt/ml`` layout;
- hyperparameters from ``hyperparameters.json`` and ``--name value`` arguments (arguments win), typed and
  checked against a script's specs, every problem reported at once; SageMaker's own additions
  (``_tuning_objective_metric``, ``sagemaker_*``) and the evaluate-only switch are accepted;
- CSV channels (label in the first column, no header, every file of the folder read);
- on error the reason in ``output/failure`` and a non-zero exit (``ClientError: ...`` for a problem the
  user can fix, ``AlgorithmError: ...`` for anything else);
- a stop (``StopTrainingJob``, a tuning job's early stopping, ``MaxRuntimeInSeconds``) arrives as SIGTERM,
  and SageMaker uploads whatever is in the model folder when the process ends: training ends after the
  round in progress (:func:`stop_requested`) and the model trained so far is written, so a stopped job,
  which can be its tuning job's best, still has a model to evaluate and deploy;
- serving (``train.py serve``): ``GET /ping`` and ``POST /invocations`` on ``SAGEMAKER_BIND_TO_PORT``
  (8080), ``text/csv`` rows of features in, ``text/csv`` or ``application/json`` predictions out.

Where it is imported from: a script appends its parent folder to ``sys.path``, so in this checkout (as
amtflow's local engine runs the scripts in place) this file is found in ``examples/``. In a SageMaker
container, where only the entry point's folder is uploaded, ship this file beside the script: with the
SageMaker Python SDK, ``dependencies=["examples/sagemaker_contract.py"]`` (copied next to the entry point),
in a custom image a ``COPY`` of both files into the same folder. It needs only the standard library and
NumPy.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import signal
import sys
import tarfile
import threading
import traceback
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import numpy as np


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

EVALUATE_ONLY = "amtflow_evaluate_only"


@dataclass(frozen=True)
class Spec:
    kind: Callable[[str], Any]
    default: Any = None
    check: Callable[[Any], bool] = lambda _v: True
    expect: str = ""


def typed_hyperparameters(
    raw: Mapping[str, str], specs: Mapping[str, Spec]
) -> tuple[dict[str, Any], list[str]]:
    """The values of ``specs`` (defaults where ``raw`` has none or a bad one) and every problem found."""
    problems: list[str] = []
    values: dict[str, Any] = {name: spec.default for name, spec in specs.items()}
    for name, text in raw.items():
        if name.startswith("_") or name.startswith("sagemaker_") or name == EVALUATE_ONLY:
            continue  # added by SageMaker itself (e.g. _tuning_objective_metric), or the mode switch
        spec = specs.get(name)
        if spec is None:
            problems.append(f"unknown hyperparameter {name!r}; supported: {', '.join(sorted(specs))}")
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
    return values, problems


def _is_integral(text: str) -> bool:
    # "64.0" is accepted for an integer (some tuners render integers as floats), "64.5" is not.
    try:
        number = float(text)
    except ValueError:
        return False
    return math.isfinite(number) and number == int(number)


def evaluate_only_requested(raw: Mapping[str, str]) -> bool:
    flag = raw.get(EVALUATE_ONLY, "false").strip().lower()
    if flag not in ("true", "false", "1", "0"):
        raise TrainingError(f"hyperparameter {EVALUATE_ONLY!r} must be true or false, got {flag!r}")
    return flag in ("true", "1")


# ---------------------------------------------------------------------------------------------------
# Data


def read_csv_table(folder: Path, channel: str) -> np.ndarray:
    """Every file of a CSV channel's folder (hidden and ``_``-prefixed ones aside) as one numeric table."""
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
    return np.vstack(blocks)


def model_channel_file(folder: Path, name: str) -> bytes:
    """The file ``name`` from the ``model`` channel (evaluate-only mode): the bare file, or that member of
    the channel's ``model.tar.gz`` (a model the script wrote)."""
    if not folder.is_dir():
        raise TrainingError(
            f"channel 'model': folder {folder} does not exist; evaluate-only mode needs the model.tar.gz "
            "to score as a 'model' channel"
        )
    bare = folder / name
    if bare.is_file():
        return bare.read_bytes()
    archives = sorted(folder.rglob("*.tar.gz"))
    if not archives:
        raise TrainingError(f"channel 'model': no model.tar.gz or {name} in {folder}")
    with tarfile.open(archives[0]) as tar:
        member = next((m for m in tar.getmembers() if Path(m.name).name == name), None)
        handle = tar.extractfile(member) if member is not None else None
        if handle is None:
            raise TrainingError(f"channel 'model': {archives[0].name} holds no {name}")
        return handle.read()


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


# ---------------------------------------------------------------------------------------------------
# Stopping: SIGTERM ends training after the round in progress

_STOP = threading.Event()


def stop_requested() -> bool:
    """Whether the job was asked to stop (SIGTERM); a training loop checks it after each round or epoch,
    ends there and writes the model it has (SageMaker kills the process 120 seconds after the SIGTERM)."""
    return _STOP.is_set()


def _on_sigterm(signum: int, frame: object) -> None:
    _STOP.set()


# ---------------------------------------------------------------------------------------------------
# The entry point


def main(
    argv: Sequence[str],
    *,
    train: Callable[[Sequence[str], Mapping[str, str], Callable[[str], None]], None],
    serve_model: Callable[[Mapping[str, str]], None],
) -> int:
    """Run a script as SageMaker runs its container: ``serve`` serves the model (``serve_model``), any other
    arguments train (``train(argv, env, out)``); the exit status, and the failure file on an error."""
    args = list(argv)
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

    with contextlib.suppress(ValueError):  # only the main thread can; a caller's thread trains as is
        signal.signal(signal.SIGTERM, _on_sigterm)
    try:
        train(args, env, out)
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
