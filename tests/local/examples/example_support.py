"""Support for the example tests: an /opt/ml-shaped folder, running a script in it, loading examples."""

from __future__ import annotations

import importlib.util
import json
import os
import signal
import subprocess
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType

import pytest
import yaml

REPO = Path(__file__).resolve().parents[3]
EXAMPLES = REPO / "examples"


def load_example_module(relative: str) -> ModuleType:
    """Import ``examples/<relative>`` by path (examples are scripts, not a package)."""
    path = EXAMPLES / relative
    name = "amtflow_example_" + relative.replace("/", "_").removesuffix(".py")
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


@dataclass
class MlDir:
    """A training container's /opt/ml, in a temporary folder."""

    root: Path

    @property
    def model(self) -> Path:
        return self.root / "model"

    @property
    def failure(self) -> Path:
        return self.root / "output" / "failure"

    @property
    def checkpoints(self) -> Path:
        return self.root / "checkpoints"

    def channel(self, name: str) -> Path:
        return self.root / "input" / "data" / name

    def write_hyperparameters(self, values: Mapping[str, str]) -> None:
        config = self.root / "input" / "config"
        config.mkdir(parents=True, exist_ok=True)
        (config / "hyperparameters.json").write_text(json.dumps(dict(values)))

    def environment(self, *, channels_from_env: bool = True) -> dict[str, str]:
        """The SM_* variables of a training container (only SM_MODEL_DIR without ``channels_from_env``)."""
        env = {"SM_MODEL_DIR": str(self.model)}
        if channels_from_env:
            env["SM_OUTPUT_DIR"] = str(self.root / "output")
            env["SM_INPUT_CONFIG_DIR"] = str(self.root / "input" / "config")
            for folder in sorted((self.root / "input" / "data").iterdir()):
                env[f"SM_CHANNEL_{folder.name.upper()}"] = str(folder)
        return env

    def run(self, script: str, *args: str) -> subprocess.CompletedProcess[str]:
        """Run ``examples/<script>`` as SageMaker would: a process with the SM_* environment and arguments."""
        env = {k: v for k, v in os.environ.items() if not k.startswith("SM_")}
        env.update(self.environment())
        return subprocess.run(
            [sys.executable, str(EXAMPLES / script), *args],
            cwd=self.root,
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )

    def run_and_stop(self, script: str, *, after: str) -> tuple[int, str]:
        """Run ``examples/<script>`` as a process and SIGTERM it (as SageMaker stops a job) once it prints a
        line starting with ``after``; the exit code and everything it printed."""
        env = {k: v for k, v in os.environ.items() if not k.startswith("SM_")}
        env.update(self.environment())
        env["PYTHONUNBUFFERED"] = "1"
        proc = subprocess.Popen(
            [sys.executable, str(EXAMPLES / script)],
            cwd=self.root,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        assert proc.stdout is not None
        lines = []
        try:
            for line in proc.stdout:
                lines.append(line)
                if line.startswith(after):
                    proc.send_signal(signal.SIGTERM)
                    break
            rest, _ = proc.communicate(timeout=60)
        finally:
            if proc.poll() is None:
                proc.kill()
        return proc.returncode, "".join(lines) + rest

    def run_in_process(
        self,
        module: ModuleType,
        *args: str,
        monkeypatch: pytest.MonkeyPatch,
        channels_from_env: bool = True,
    ) -> int:
        """Call the script's ``main`` in this process, with the same environment (faster than a process)."""
        for key in [k for k in os.environ if k.startswith("SM_")]:
            monkeypatch.delenv(key)
        for key, value in self.environment(channels_from_env=channels_from_env).items():
            monkeypatch.setenv(key, value)
        monkeypatch.chdir(self.root)
        return int(module.main(list(args)))


def write_dataset(
    ml: MlDir, dataset: str, *, seed: int = 1, max_rows: int | None = None, drift: str = "none"
) -> None:
    """Write a dataset version's channels into an /opt/ml folder's input/data."""
    data = load_example_module("data.py")
    version = data.make_version(dataset, seed=seed, max_rows=max_rows, drift=drift)
    data.write_version(version, ml.root / "input" / "data")


def load_profile_document(name: str) -> dict[str, object]:
    loaded = yaml.safe_load((EXAMPLES / name / "profile.yaml").read_text())
    assert isinstance(loaded, dict)
    return loaded
