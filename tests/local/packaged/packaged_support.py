"""A built project in a temporary folder: template.yaml plus .aws-sam/build as ``sam build`` lays it out."""

from __future__ import annotations

import shutil
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path

GOOD_HANDLER = """
import json

import boto3
from corelib import answer


def lambda_handler(event, context):
    return {"answer": answer(), "sdk": boto3.__name__, "echo": json.dumps(event)}
"""


def write_project(
    root: Path,
    functions: Mapping[str, str],
    layer: Mapping[str, str],
    *,
    runtime: str = "python3.12",
    handlers: Mapping[str, str] | None = None,
) -> Path:
    """``functions``: logical id -> app.py source; ``layer``: path under the layer's python/ -> source."""
    resources = [
        "  CoreLayer:",
        "    Type: AWS::Serverless::LayerVersion",
        "    Properties: {ContentUri: src/}",
        "    Metadata: {BuildMethod: makefile}",
    ]
    for logical_id in functions:
        resources += [
            f"  {logical_id}:",
            "    Type: AWS::Serverless::Function",
            "    Properties:",
            f"      CodeUri: functions/{logical_id.lower()}/",
        ]
        if handlers and logical_id in handlers:
            resources.append(f"      Handler: {handlers[logical_id]}")
    template = [
        "Transform: AWS::Serverless-2016-10-31",
        "Globals:",
        "  Function:",
        f"    Runtime: {runtime}",
        "    Handler: app.lambda_handler",
        "    Layers:",
        "      - !Ref CoreLayer",
        "Resources:",
        *resources,
    ]
    (root / "template.yaml").write_text("\n".join(template) + "\n", encoding="utf-8")
    build = root / ".aws-sam" / "build"
    for logical_id, source in functions.items():
        (root / "functions" / logical_id.lower()).mkdir(parents=True, exist_ok=True)
        (root / "functions" / logical_id.lower() / "app.py").write_text(source, encoding="utf-8")
        (build / logical_id).mkdir(parents=True)
        (build / logical_id / "app.py").write_text(source, encoding="utf-8")
    for path, source in layer.items():
        target = build / "CoreLayer" / "python" / path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(source, encoding="utf-8")
    return root


def python312() -> str | None:
    """CPython 3.12 (what Lambda runs): python3.12 on PATH, else pyenv's."""
    candidates = [shutil.which("python3.12")]
    if pyenv := shutil.which("pyenv"):
        listed = subprocess.run([pyenv, "versions", "--bare"], capture_output=True, text=True, check=False)
        for version in listed.stdout.split():
            if version.startswith("3.12"):
                where = subprocess.run(
                    [pyenv, "prefix", version], capture_output=True, text=True, check=False
                )
                candidates.append(str(Path(where.stdout.strip()) / "bin" / "python3.12"))
    for exe in filter(None, candidates):
        probe = subprocess.run(
            [exe, "-c", "import sys; print(sys.version_info[:2] == (3, 12))"],
            capture_output=True,
            text=True,
            check=False,
        )
        if probe.stdout.strip() == "True":
            return exe
    return None


def bare_runtime(folder: Path) -> tuple[Path, str]:
    """A virtual environment with nothing installed (the stdlib only): its python and its ``pythonX.Y``."""
    base = python312() or getattr(sys, "_base_executable", sys.executable)
    subprocess.run([base, "-m", "venv", "--without-pip", str(folder)], check=True, capture_output=True)
    python = folder / "bin" / "python"
    version = subprocess.run(
        [str(python), "-c", "import sys; print(f'python{sys.version_info[0]}.{sys.version_info[1]}')"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    return python, version
