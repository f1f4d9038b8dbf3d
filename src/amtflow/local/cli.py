"""The ``amtflow`` command line.

Each command group lives in its own module exposing ``register(subparsers)``; this module only assembles
them, so importing it has no side effects beyond argparse set-up.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

from botocore.exceptions import NoCredentialsError

from amtflow import __version__
from amtflow.errors import AmtflowError
from amtflow.local.cli_format import EXIT_USAGE, error

DESCRIPTION = (
    "amtflow: orchestrate SageMaker Automatic Model Tuning from model profiles, and run it locally. "
    "Exit status: 0 ok, 1 findings or a failed job, 2 a usage or configuration error."
)
NO_CREDENTIALS = (
    "no AWS credentials found; configure them (aws configure, AWS_PROFILE, or AWS_ACCESS_KEY_ID and "
    "AWS_SECRET_ACCESS_KEY), or work locally ('amtflow local up', 'amtflow tune')"
)

# Modules that contribute sub-commands (each defines ``register(subparsers) -> None``; every parser sets
# ``func=callable(args) -> int``).
COMMAND_MODULES: tuple[str, ...] = (
    "amtflow.local.cli_profiles",
    "amtflow.local.cli_lint",
    "amtflow.local.cli_twin",
    "amtflow.local.cli_engine",
    "amtflow.local.cli_lineage",
    "amtflow.local.cli_status",
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="amtflow", description=DESCRIPTION)
    parser.add_argument("--version", action="version", version=f"amtflow {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMAND_MODULES:
        importlib.import_module(name).register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    func = getattr(args, "func", None)
    if func is None:
        parser.print_help()
        return 2
    try:
        return int(func(args))
    except NoCredentialsError:
        error(NO_CREDENTIALS)
        return EXIT_USAGE
    except AmtflowError as e:
        error(NO_CREDENTIALS if isinstance(e.__cause__, NoCredentialsError) else str(e))
        return EXIT_USAGE
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
