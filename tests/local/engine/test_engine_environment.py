"""A trial's process starts from an allow-listed part of the host environment: no AWS credentials or
profile of the host unless its image map entry opts in."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any

import boto3
import pytest

from amtflow.errors import ConfigurationError
from amtflow.local import sagemaker
from amtflow.local.engine import load_image_map
from amtflow.local.engine._runner import host_environment

SCRIPT = Path(__file__).parent / "scripts" / "env.py"
COMMAND = f"{sys.executable} {SCRIPT}"
IMAGE_MAP: dict[str, Any] = {
    "envdump": COMMAND,
    "envdump-aws": {"command": COMMAND, "pass_aws_credentials": True},
    "envdump-some": {"command": COMMAND, "inherit_env": ["TEAM_TOKEN", "CUDA_*"]},
}
HOST_AWS = {
    "AWS_ACCESS_KEY_ID": "AKIAHOSTFAKE0000000",
    "AWS_SECRET_ACCESS_KEY": "host-secret-fake",
    "AWS_SESSION_TOKEN": "host-session-fake",
    "AWS_PROFILE": "host-profile",
    "AWS_DEFAULT_PROFILE": "host-profile",
    "AWS_SHARED_CREDENTIALS_FILE": "/home/someone/.aws/credentials",
    "AWS_CONFIG_FILE": "/home/someone/.aws/config",
    "AWS_CONTAINER_CREDENTIALS_FULL_URI": "http://169.254.170.23/creds",
    "AWS_CONTAINER_AUTHORIZATION_TOKEN": "host-token-fake",
    "AWS_WEB_IDENTITY_TOKEN_FILE": "/var/run/token",
    "AWS_ROLE_ARN": "arn:aws:iam::111111111111:role/host",
}


@pytest.fixture
def host(monkeypatch: pytest.MonkeyPatch) -> Any:
    """Fake AWS credentials and a secret in this process's environment; the SageMaker client made before."""
    client = boto3.client("sagemaker", region_name="us-east-1")
    for key, value in HOST_AWS.items():
        monkeypatch.setenv(key, value)
    monkeypatch.setenv("HOST_DATABASE_PASSWORD", "hunter2")
    monkeypatch.setenv("TEAM_TOKEN", "team")
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "0")
    return client


def trial_environment(
    sm: Any, tmp_path: Path, image: str, environment: dict[str, str] | None = None
) -> dict[str, str]:
    """Run the env script as a training job for ``image``; the environment it printed."""
    with sagemaker(state_dir=tmp_path / "state", image_map=IMAGE_MAP, event_sink=lambda e: None) as engine:
        sm.create_training_job(
            TrainingJobName="env-1",
            AlgorithmSpecification={"TrainingImage": image, "TrainingInputMode": "File"},
            RoleArn="arn:aws:iam::123456789012:role/SageMakerRole",
            OutputDataConfig={"S3OutputPath": (tmp_path / "out").as_uri()},
            ResourceConfig={"InstanceType": "ml.m5.large", "InstanceCount": 1, "VolumeSizeInGB": 1},
            StoppingCondition={"MaxRuntimeInSeconds": 60},
            HyperParameters={"epochs": "1"},
            Environment=environment or {},
        )
        assert engine.wait("env-1", 60) == "Completed", engine.trial_log("env-1")
        log = engine.trial_log("env-1")
    (line,) = [line for line in log.splitlines() if line.startswith("env=")]
    env: dict[str, str] = json.loads(line.removeprefix("env="))
    return env


def test_a_trial_sees_no_aws_credentials_or_secrets_of_the_host(host: Any, tmp_path: Path) -> None:
    env = trial_environment(host, tmp_path, "envdump", {"MY_SETTING": "job's own"})
    leaked = {k: v for k, v in env.items() if v in HOST_AWS.values() or v in ("hunter2", "team")}
    assert leaked == {}
    assert not {"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE"} & set(env)
    assert not [k for k in env if k.startswith(("AWS_CONTAINER_", "AWS_WEB_IDENTITY", "AWS_ROLE"))]
    # the SDK in the trial finds no credentials file or instance role of the host either
    assert env["AWS_SHARED_CREDENTIALS_FILE"] == env["AWS_CONFIG_FILE"] == os.devnull
    assert env["AWS_EC2_METADATA_DISABLED"] == "true"
    assert "HOST_DATABASE_PASSWORD" not in env
    assert "CUDA_VISIBLE_DEVICES" not in env
    # what it needs to run is there: the interpreter's PATH and HOME, the SM_* contract, the job's Environment
    assert env["PATH"] == os.environ["PATH"]
    assert env["HOME"] == os.environ["HOME"]
    assert env["SM_MODEL_DIR"].endswith("/opt-ml/model")
    assert env["TRAINING_JOB_NAME"] == "env-1"
    assert env["SM_HP_EPOCHS"] == "1"
    assert env["MY_SETTING"] == "job's own"


def test_pass_aws_credentials_gives_the_trial_the_hosts_aws_variables(
    host: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("AWS_EC2_METADATA_DISABLED", raising=False)
    env = trial_environment(host, tmp_path, "envdump-aws")
    assert {k: env.get(k) for k in HOST_AWS} == HOST_AWS
    assert "AWS_EC2_METADATA_DISABLED" not in env
    assert "HOST_DATABASE_PASSWORD" not in env


def test_inherit_env_passes_the_named_variables_only(host: Any, tmp_path: Path) -> None:
    env = trial_environment(host, tmp_path, "envdump-some")
    assert env["TEAM_TOKEN"] == "team"
    assert env["CUDA_VISIBLE_DEVICES"] == "0"
    assert "AWS_ACCESS_KEY_ID" not in env
    assert env["AWS_SHARED_CREDENTIALS_FILE"] == os.devnull
    assert "HOST_DATABASE_PASSWORD" not in env


def test_host_environment_keeps_what_the_interpreter_needs() -> None:
    host = {
        "PATH": "/bin",
        "HOME": "/home/u",
        "TMPDIR": "/tmp",
        "LANG": "C.UTF-8",
        "LC_ALL": "C.UTF-8",
        "PYTHONPATH": "/src",
        "VIRTUAL_ENV": "/venv",
        "AWS_REGION": "eu-west-1",
        "GITHUB_TOKEN": "x",
    }
    env = host_environment(host)
    assert {k: env[k] for k in host if k in env} == {
        k: v for k, v in host.items() if k not in ("AWS_REGION", "GITHUB_TOKEN")
    }
    inherited = host_environment(host, inherit_env=["AWS_REGION", "AWS_SHARED_CREDENTIALS_FILE"])
    assert inherited["AWS_REGION"] == "eu-west-1"
    assert inherited["AWS_SHARED_CREDENTIALS_FILE"] == os.devnull  # not on the host: still switched off


def test_image_map_files_take_the_opt_ins(tmp_path: Path) -> None:
    path = tmp_path / "map.yaml"
    path.write_text(
        "plain: python a.py\n"
        "cloud:\n  command: python b.py\n  pass_aws_credentials: true\n  inherit_env: [HF_HOME, 'WANDB_*']\n"
    )
    m = load_image_map(path)
    assert m.command("plain").pass_aws_credentials is False
    cloud = m.command("cloud:1")
    assert cloud.argv == [sys.executable, "b.py"]
    assert cloud.pass_aws_credentials is True
    assert cloud.inherit_env == ("HF_HOME", "WANDB_*")


@pytest.mark.parametrize(
    ("entry", "words"),
    [
        ("{command: python a.py, pass_aws_credentials: 'yes'}", "pass_aws_credentials"),
        ("{command: python a.py, inherit_env: AWS_PROFILE}", "inherit_env"),
        ("{command: python a.py, inherit_env: ['A=B']}", "inherit_env"),
        ("{command: python a.py, env: {A: B}}", "unknown key(s): env"),
        ("{pass_aws_credentials: true}", "'command'"),
    ],
)
def test_bad_image_map_entries_name_the_entry_and_the_fix(tmp_path: Path, entry: str, words: str) -> None:
    path = tmp_path / "map.yaml"
    path.write_text(f"trainer: {entry}\n")
    with pytest.raises(ConfigurationError) as err:
        load_image_map(path)
    assert "entry 'trainer'" in str(err.value)
    assert words in str(err.value)
