"""Import every function's handler from the built artifacts on CPython 3.12 with only what Lambda has."""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from amtflow.errors import ConfigurationError
from amtflow.local.packaged._built import BuiltFunction

PROBE = Path(__file__).with_name("_probe.py")


@dataclass(frozen=True)
class ImportFailure:
    """A handler that does not import (or whose handler attribute is missing) as packaged."""

    function: BuiltFunction
    missing: str | None
    message: str
    trace: str = ""

    def describe(self) -> str:
        f = self.function
        where = f"{f.logical_id} ({f.code_dir}, Handler {f.handler})"
        if self.missing is None:
            return f"{where}: {self.message}"
        layers = ", ".join(layer.logical_id for layer in f.layers) or "none"
        return (
            f"{where}: no module named {self.missing!r}: neither the {f.runtime or 'Lambda'} runtime "
            f"(stdlib, boto3/botocore) nor its layers ({layers}) provide it; add it to pyproject's "
            "dependencies and run 'make lock', or stop importing it"
        )


@dataclass(frozen=True)
class CheckResult:
    """What the runtime's interpreter reported: its version and the functions that failed."""

    python_version: tuple[int, int]
    checked: tuple[str, ...]
    failures: tuple[ImportFailure, ...]


def check_imports(
    functions: Mapping[str, BuiltFunction], runtime_python: str | Path, *, region: str = "us-east-1"
) -> CheckResult:
    """Import each function's handler in a fresh ``runtime_python -I`` (one process per set of layers).

    ``runtime_python`` stands for the Lambda runtime: an interpreter whose environment holds only what the
    runtime bundles (boto3/botocore). Its own packages come after the layers on ``sys.path``, as in Lambda.
    """
    groups: dict[tuple[str, ...], list[BuiltFunction]] = {}
    for function in functions.values():
        groups.setdefault(tuple(str(d) for d in function.python_dirs()), []).append(function)
    failures: list[ImportFailure] = []
    version = (0, 0)
    for layers, members in groups.items():
        report = _run(runtime_python, layers, members, region)
        version = (int(report["version"][0]), int(report["version"][1]))
        for function in members:
            outcome = report["outcomes"][function.logical_id]
            if not outcome["ok"]:
                failures.append(
                    ImportFailure(
                        function, outcome.get("missing"), outcome["message"], outcome.get("trace", "")
                    )
                )
    return CheckResult(version, tuple(functions), tuple(failures))


def _run(
    python: str | Path, layers: tuple[str, ...], functions: list[BuiltFunction], region: str
) -> dict[str, Any]:
    spec = {
        "layers": list(layers),
        "functions": [
            {"name": f.logical_id, "code_dir": str(f.code_dir), "module": f.module, "attribute": f.attribute}
            for f in functions
        ],
    }
    # what the runtime sets before the handler's module is imported; no credentials, no metadata lookups
    env = {
        "PATH": os.environ.get("PATH", ""),
        "AWS_REGION": region,
        "AWS_DEFAULT_REGION": region,
        "AWS_EXECUTION_ENV": f"AWS_Lambda_{functions[0].runtime or 'python3.12'}",
        "AWS_EC2_METADATA_DISABLED": "true",
        "POWERTOOLS_TRACE_DISABLED": "true",
    }
    try:
        run = subprocess.run(
            [str(python), "-I", str(PROBE), json.dumps(spec)],
            capture_output=True,
            text=True,
            env=env,
            check=False,
            timeout=300,
        )
    except (OSError, subprocess.TimeoutExpired) as e:
        raise ConfigurationError(f"the runtime interpreter {python} cannot run the import check: {e}") from e
    lines = run.stdout.strip().splitlines()
    if run.returncode != 0 or not lines:
        raise ConfigurationError(
            f"the import check did not run under {python} (exit {run.returncode}):\n{run.stderr.strip()}"
        )
    report: dict[str, Any] = json.loads(lines[-1])
    return report
