"""``amtflow local check-build``: every handler imports as packaged, on the Lambda runtime's terms.

``amtflow local check-build [--project DIR] [--build-dir DIR] --runtime-python PYTHON`` reads the project's
template.yaml, finds each function's and layer's folder under ``.aws-sam/build`` (``make build``) and
imports every handler with ``PYTHON``, an interpreter standing for the runtime (CPython 3.12 whose
environment holds only the runtime's boto3/botocore; ``make import-check`` makes one in .venv-lambda).
Exit 1 names each function that fails and the module it lacks; see :mod:`amtflow.local.packaged`.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from amtflow.errors import ConfigurationError


def add_check_build(local_subparsers: Any) -> None:
    """Add ``check-build`` under ``amtflow local``."""
    check = local_subparsers.add_parser(
        "check-build", help="import every built handler with only the Lambda runtime and its layers"
    )
    check.add_argument("--project", default=".", help="project root holding template.yaml (default .)")
    check.add_argument("--build-dir", default=None, help="sam build's output (default .aws-sam/build)")
    check.add_argument(
        "--runtime-python",
        required=True,
        help="CPython 3.12 whose environment holds only boto3/botocore (the runtime's own packages)",
    )
    check.set_defaults(func=_check_build)


def _check_build(args: argparse.Namespace) -> int:
    from amtflow.local.packaged import built_functions, check_imports

    root = Path(args.project).resolve()
    build_dir = Path(args.build_dir).resolve() if args.build_dir else None
    functions = built_functions(root, build_dir=build_dir)
    if not functions:
        raise ConfigurationError(f"--project: {root / 'template.yaml'} has no AWS::Serverless::Function")
    result = check_imports(functions, args.runtime_python)
    wanted = {_version(f.runtime) for f in functions.values()} - {None}
    if wanted and result.python_version not in wanted:
        have = ".".join(map(str, result.python_version))
        raise ConfigurationError(
            f"--runtime-python: {args.runtime_python} is Python {have}, but the functions run on "
            f"{', '.join(sorted({f.runtime for f in functions.values()}))}; pass that version's interpreter"
        )
    for failure in result.failures:
        print(f"FAIL {failure.describe()}", file=sys.stderr)
        if failure.trace:
            print("  " + failure.trace.strip().replace("\n", "\n  "), file=sys.stderr)
    passed = len(result.checked) - len(result.failures)
    where = build_dir or root / ".aws-sam" / "build"
    version = ".".join(map(str, result.python_version))
    print(
        f"import check: {passed} of {len(result.checked)} handlers import from {where} with only the "
        f"runtime (Python {version}, boto3/botocore) and their layers"
    )
    return 1 if result.failures else 0


def _version(runtime: str) -> tuple[int, int] | None:
    """``python3.12`` -> (3, 12); None for anything else."""
    if not runtime.startswith("python3."):
        return None
    minor = runtime.removeprefix("python3.")
    return (3, int(minor)) if minor.isdigit() else None
