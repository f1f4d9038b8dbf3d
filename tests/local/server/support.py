"""``amtflow local serve`` for tests: the service as a subprocess, fake AWS settings, a tuning request.

The service runs the engine's stand-in training script (``tests/local/engine/scripts/quad.py``) for the
image ``.../quad:1``, reading its ``train`` channel from a ``file://`` folder, so nothing touches S3.
"""

from __future__ import annotations

import os
import select
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

SCRIPT = Path(__file__).parents[1] / "engine" / "scripts" / "quad.py"
IMAGE = "123456789012.dkr.ecr.us-east-1.amazonaws.com/quad:1"
PYTHON = Path(sys.executable)
READY_TIMEOUT = 90.0

#: What every client process gets: fake keys, no config files, no metadata service.
CLIENT_ENV = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_CONFIG_FILE": "/dev/null",
    "AWS_SHARED_CREDENTIALS_FILE": "/dev/null",
    "AWS_EC2_METADATA_DISABLED": "true",
    "AWS_DEFAULT_REGION": "us-east-1",
}


def client_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update(CLIENT_ENV)
    return env


def tuning_request(name: str, data: Path, out: Path, **static: str) -> dict[str, Any]:
    """A small Random search over the quad script with a file:// ``train`` channel."""
    return {
        "HyperParameterTuningJobName": name,
        "HyperParameterTuningJobConfig": {
            "Strategy": "Random",
            "HyperParameterTuningJobObjective": {"Type": "Minimize", "MetricName": "loss"},
            "ResourceLimits": {"MaxNumberOfTrainingJobs": 2, "MaxParallelTrainingJobs": 2},
            "ParameterRanges": {
                "ContinuousParameterRanges": [
                    {"Name": "x", "MinValue": "0", "MaxValue": "1", "ScalingType": "Linear"}
                ]
            },
            "RandomSeed": 7,
        },
        "TrainingJobDefinition": {
            "StaticHyperParameters": {"epochs": "2", "data": "1", **static},
            "AlgorithmSpecification": {
                "TrainingImage": IMAGE,
                "TrainingInputMode": "File",
                "MetricDefinitions": [{"Name": "loss", "Regex": "loss=([0-9.]+)"}],
            },
            "RoleArn": "arn:aws:iam::123456789012:role/SageMakerRole",
            "InputDataConfig": [
                {
                    "ChannelName": "train",
                    "DataSource": {
                        "S3DataSource": {
                            "S3DataType": "S3Prefix",
                            "S3Uri": (data / "train").as_uri() + "/",
                        }
                    },
                }
            ],
            "OutputDataConfig": {"S3OutputPath": out.as_uri()},
            "ResourceConfig": {"InstanceType": "ml.m5.large", "InstanceCount": 1, "VolumeSizeInGB": 1},
            "StoppingCondition": {"MaxRuntimeInSeconds": 120},
        },
    }


@dataclass
class Service:
    """A running ``amtflow local serve`` subprocess."""

    process: subprocess.Popen[str]
    url: str
    root: Path
    lines: list[str]

    @property
    def state_dir(self) -> Path:
        return self.root / "state"

    def request(self, name: str, **static: str) -> dict[str, Any]:
        return tuning_request(name, self.root / "data", self.root / "out", **static)

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 60) -> tuple[int, str]:
        """Send ``sig``, wait for the exit; the exit code and everything printed after the URL."""
        self.process.send_signal(sig)
        rest, _ = self.process.communicate(timeout=timeout)
        return self.process.returncode, "".join(self.lines[1:]) + rest


def start_service(root: Path) -> Service:
    """Start ``amtflow local serve --port 0`` in ``root`` and wait for the URL it prints."""
    (root / "data" / "train").mkdir(parents=True, exist_ok=True)
    (root / "data" / "train" / "rows.csv").write_text("a,b\n1,2\n")
    image_map = root / "image-map.yaml"
    image_map.write_text(f'quad: "{PYTHON} {SCRIPT}"\n')
    process = subprocess.Popen(
        [
            str(PYTHON),
            "-m",
            "amtflow.local.cli",
            "local",
            "serve",
            "--port",
            "0",
            "--state-dir",
            str(root / "state"),
            "--image-map",
            str(image_map),
            "--max-workers",
            "2",
        ],
        stdout=subprocess.PIPE,
        stderr=(root / "serve.log").open("w"),
        text=True,
        env=client_env(),
        cwd=root,
    )
    assert process.stdout is not None
    deadline = time.monotonic() + READY_TIMEOUT
    lines: list[str] = []
    while time.monotonic() < deadline:
        ready, _, _ = select.select([process.stdout], [], [], 0.5)
        if ready:
            line = process.stdout.readline()
            if not line:
                break
            lines.append(line)
            if line.startswith("amtflow local serve: http://"):
                return Service(process, line.split(": ", 1)[1].strip(), root, lines)
    process.kill()
    process.wait()
    log = (root / "serve.log").read_text()
    pytest.fail(f"amtflow local serve printed no URL: {''.join(lines)}\n{log}")
