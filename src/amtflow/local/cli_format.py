"""What every ``amtflow`` command shares: exit codes, ``--format``, and where messages go.

- Exit codes: :data:`EXIT_OK` (0), :data:`EXIT_FINDINGS` (1: findings, an invalid file, a failed job),
  :data:`EXIT_USAGE` (2: a usage or configuration error, a file that cannot be read, no credentials).
- ``--format text|json`` (and ``csv`` where a table is printed): results on stdout in that format;
  progress and notes on stderr whenever the format is not ``text``, so stdout can be piped.
- Errors go to stderr as ``amtflow: error: ...``, without a traceback.
"""

from __future__ import annotations

import argparse
import csv
import json
import re
import sys
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any, TextIO

EXIT_OK, EXIT_FINDINGS, EXIT_USAGE = 0, 1, 2

TEXT, JSON, CSV = "text", "json", "csv"


def add_format(parser: argparse.ArgumentParser, *, table: bool = False, json_alias: bool = False) -> None:
    """Add ``--format`` (``csv`` too when the command prints a table); ``json_alias`` keeps the older
    ``--json`` flag as a deprecated spelling of ``--format json``."""
    choices = (TEXT, JSON, CSV) if table else (TEXT, JSON)
    parser.add_argument(
        "--format",
        choices=choices,
        default=TEXT,
        help=f"output format: {', '.join(choices)} (default text)",
    )
    if json_alias:
        parser.add_argument("--json", action="store_true", help="deprecated: use --format json")


def plain_text(doc: str | None) -> str:
    """A docstring as ``--help`` shows it: without reStructuredText markup (````x````, ``:func:`x```)."""
    text = re.sub(r":[a-z]+:`~?([^`]+)`", r"\1", doc or "")
    return text.replace("``", "")


def output_format(args: argparse.Namespace, err: TextIO | None = None) -> str:
    """The format asked for; ``--json`` (deprecated) means ``json`` and says so on stderr."""
    if getattr(args, "json", False):
        print("amtflow: note: --json is deprecated; use --format json", file=err or sys.stderr)
        return JSON
    return str(getattr(args, "format", TEXT) or TEXT)


def error(message: str, err: TextIO | None = None) -> None:
    """Print ``amtflow: error: message`` on stderr."""
    print(f"amtflow: error: {message}", file=err or sys.stderr)


def _plain(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    return str(value)


def write_json(document: Any, out: TextIO) -> None:
    """``document`` as indented JSON (datetimes in ISO 8601)."""
    out.write(json.dumps(document, indent=2, default=_plain) + "\n")


def write_csv(rows: Sequence[Mapping[str, Any]], columns: Sequence[str], out: TextIO) -> None:
    """``rows`` as CSV with a header of ``columns`` (a mapping or list cell as compact JSON)."""
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(columns)
    for row in rows:
        writer.writerow([_cell(row.get(c)) for c in columns])


def _cell(value: Any) -> Any:
    if value is None:
        return ""
    if isinstance(value, Mapping | list):
        return json.dumps(value, separators=(",", ":"), sort_keys=True, default=_plain)
    if isinstance(value, datetime):
        return value.isoformat()
    return value
