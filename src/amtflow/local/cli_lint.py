"""``amtflow lint FILE``: run the preflight catalogue on a model profile or a raw tuning request.

FILE is either a model profile (YAML, ``schema: amtflow/v1``), compiled with placeholder names and URIs,
or a ``CreateHyperParameterTuningJob`` request (JSON or YAML). Exit status: 0 without error findings, 1
with at least one, 2 when FILE cannot be read or parsed (the reason goes to stderr).
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import yaml

from amtflow.errors import AmtflowError
from amtflow.preflight import LintContext, LintReport, context_for_profile, lint_request, render_catalogue
from amtflow.profile import load_profile, preview_tuning_request

EXIT_CLEAN, EXIT_FINDINGS, EXIT_UNREADABLE = 0, 1, 2

_REQUEST_KEYS = frozenset({"HyperParameterTuningJobConfig", "HyperParameterTuningJobName"})


class _Unreadable(Exception):
    """FILE could not be read or parsed; the message says why."""


def register(subparsers: Any) -> None:
    """Add ``amtflow lint`` to the CLI."""
    parser = subparsers.add_parser(
        "lint",
        help="check a profile or a tuning request against the preflight rules",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "file", nargs="?", metavar="FILE", help="model profile (YAML) or tuning request (JSON/YAML)"
    )
    parser.add_argument(
        "--format",
        choices=("text", "json"),
        default="text",
        help="text for people (default); json prints a list of {rule, severity, field, message, why, fix}",
    )
    parser.add_argument(
        "--sample-log",
        action="append",
        default=[],
        metavar="LOG",
        help="a training log to test the metric regexes against (repeatable)",
    )
    parser.add_argument(
        "--month-to-date-usd",
        type=float,
        default=None,
        metavar="USD",
        help="spend so far this month, checked with the profile's max_usd_per_month",
    )
    parser.add_argument(
        "--catalogue",
        action="store_true",
        help="print the rule catalogue as Markdown (the tables of docs/preflight.md) and exit",
    )
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """The ``lint`` command: print the report, return the exit status."""
    if args.catalogue:
        print(render_catalogue(), end="")
        return EXIT_CLEAN
    if not args.file:
        print("amtflow lint: give a FILE to lint (a model profile or a tuning request)", file=sys.stderr)
        return EXIT_UNREADABLE
    try:
        report = lint_file(
            Path(args.file), sample_logs=list(args.sample_log), month_to_date_usd=args.month_to_date_usd
        )
    except _Unreadable as e:
        print(f"amtflow lint: {e}", file=sys.stderr)
        return EXIT_UNREADABLE
    if args.format == "json":
        print(json.dumps([f.to_dict() for f in report.findings], indent=2))
    else:
        print(report.to_text())
    return EXIT_FINDINGS if report.has_errors else EXIT_CLEAN


def lint_file(
    path: Path, *, sample_logs: Sequence[str] = (), month_to_date_usd: float | None = None
) -> LintReport:
    """Read ``path`` (a profile or a request) and lint it; raises ``_Unreadable`` when it cannot be read."""
    document = _read_document(path)
    logs = {log: _read_lines(Path(log)) for log in sample_logs}
    if _is_request(document):
        context = LintContext(request=document, sample_logs=logs)
        return lint_request(document, context, source=str(path))
    try:
        profile = load_profile(document, source=str(path))
        request = preview_tuning_request(profile)
    except AmtflowError as e:
        raise _Unreadable(f"{path} is not a valid profile: {e}") from e
    context = context_for_profile(profile, request, month_to_date_usd=month_to_date_usd)
    if logs:
        context = LintContext(
            request=request,
            sample_logs={**context.sample_logs, **logs},
            parents=context.parents,
            extra=context.extra,
        )
    return lint_request(request, context, source=str(path), from_profile=True)


def _read_document(path: Path) -> Mapping[str, Any]:
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as e:
        raise _Unreadable(f"cannot read {path}: {e.strerror if isinstance(e, OSError) else e}") from e
    try:
        document = json.loads(text) if path.suffix.lower() == ".json" else yaml.safe_load(text)
    except json.JSONDecodeError as e:
        raise _Unreadable(f"{path} is not valid JSON: {e.msg} at line {e.lineno}, column {e.colno}") from e
    except yaml.YAMLError as e:
        where = getattr(e, "problem_mark", None)
        at = f" at line {where.line + 1}, column {where.column + 1}" if where is not None else ""
        problem = getattr(e, "problem", None) or str(e)
        raise _Unreadable(f"{path} is not valid YAML: {problem}{at}") from e
    if not isinstance(document, Mapping):
        raise _Unreadable(
            f"{path} holds a {type(document).__name__}, not a mapping: expected a model profile "
            "(schema: amtflow/v1) or a CreateHyperParameterTuningJob request"
        )
    return document


def _is_request(document: Mapping[str, Any]) -> bool:
    return bool(_REQUEST_KEYS & set(document)) and "schema" not in document


def _read_lines(path: Path) -> list[str]:
    try:
        return path.read_text(encoding="utf-8", errors="replace").splitlines()
    except OSError as e:
        raise _Unreadable(f"cannot read sample log {path}: {e.strerror}") from e
