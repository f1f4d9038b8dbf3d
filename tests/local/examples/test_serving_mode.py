"""The example scripts' serving mode (``train.py serve``): SageMaker's inference contract over stdlib HTTP.

Each script is trained on a few rows, then started as SageMaker starts an inference container; its answers
are compared with the saved model's own predictions.
"""

from __future__ import annotations

import http.client
import json
import os
import pickle
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pytest
import xgboost as xgb
from example_support import EXAMPLES, MlDir, write_dataset

pytestmark = pytest.mark.slow


def _port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def serving(script: str, model_dir: Path) -> Iterator[int]:
    port = _port()
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("SM_")},
        "SM_MODEL_DIR": str(model_dir),
        "SAGEMAKER_BIND_TO_PORT": str(port),
        "SAGEMAKER_BIND_TO_HOST": "127.0.0.1",
    }
    process = subprocess.Popen(
        [sys.executable, str(EXAMPLES / script), "serve"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    try:
        # generous: the server imports its framework first, and slow tests run side by side under -n 2
        deadline = time.monotonic() + 120
        while request(port, "GET", "/ping")[0] != 200:
            assert process.poll() is None, process.communicate()[0]
            assert time.monotonic() < deadline
            time.sleep(0.1)
        yield port
    finally:
        process.terminate()
        process.communicate(timeout=10)


def request(
    port: int, method: str, path: str, body: bytes = b"", headers: dict[str, str] | None = None
) -> tuple[int, bytes, str]:
    try:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        conn.request(method, path, body=body, headers=headers or {})
        response = conn.getresponse()
        return response.status, response.read(), response.getheader("Content-Type") or ""
    except OSError:
        return 0, b"", ""


def _features(ml_dir: MlDir) -> np.ndarray:
    folder = ml_dir.channel("validation")
    table = np.vstack([np.loadtxt(f, delimiter=",", ndmin=2) for f in sorted(folder.iterdir())])
    return table[:5, 1:]


def _csv(rows: np.ndarray) -> bytes:
    return "\n".join(",".join(repr(float(v)) for v in row) for row in rows).encode()


def test_the_xgboost_script_serves_the_predictions_of_the_model_it_trained(ml_dir: MlDir) -> None:
    write_dataset(ml_dir, "breast_cancer", max_rows=120)
    ml_dir.write_hyperparameters({"num_round": "5", "objective": "binary:logistic", "max_depth": "3"})
    assert ml_dir.run("xgboost/train.py").returncode == 0
    rows = _features(ml_dir)
    booster = xgb.Booster()
    booster.load_model(bytearray((ml_dir.model / "xgboost-model").read_bytes()))
    expected = booster.predict(xgb.DMatrix(rows))

    with serving("xgboost/train.py", ml_dir.model) as port:
        status, body, content_type = request(
            port, "POST", "/invocations", _csv(rows), {"Content-Type": "text/csv"}
        )
        assert (status, content_type) == (200, "text/csv")
        assert np.allclose([float(v) for v in body.decode().split()], expected)

        status, body, _ = request(
            port,
            "POST",
            "/invocations",
            _csv(rows[:1]),
            {"Content-Type": "text/csv", "Accept": "application/json"},
        )
        assert json.loads(body)["predictions"] == pytest.approx([float(expected[0])])

        status, body, _ = request(port, "POST", "/invocations", b"1,2", {"Content-Type": "text/csv"})
        assert status == 400
        assert b"30 features" in body
        status, _, _ = request(port, "POST", "/invocations", b"{}", {"Content-Type": "application/json"})
        assert status == 415


def test_the_mlp_script_serves_the_classes_its_model_predicts(ml_dir: MlDir) -> None:
    write_dataset(ml_dir, "digits", max_rows=200)
    ml_dir.write_hyperparameters({"epochs": "2", "hidden_units": "8", "batch_size": "32"})
    assert ml_dir.run("mlp/train.py").returncode == 0
    rows = _features(ml_dir)
    model = pickle.loads((ml_dir.model / "model.pkl").read_bytes())
    expected = model["network"].predict(model["scaler"].transform(rows)).tolist()

    with serving("mlp/train.py", ml_dir.model) as port:
        status, body, _ = request(port, "POST", "/invocations", _csv(rows), {"Content-Type": "text/csv"})
        assert status == 200
        assert [int(v) for v in body.decode().split()] == expected


def test_serving_without_a_model_exits_with_the_reason(tmp_path: Path) -> None:
    env = {**os.environ, "SM_MODEL_DIR": str(tmp_path), "SAGEMAKER_BIND_TO_PORT": str(_port())}
    result = subprocess.run(
        [sys.executable, str(EXAMPLES / "xgboost" / "train.py"), "serve"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 1
    assert "xgboost-model does not exist" in result.stderr
