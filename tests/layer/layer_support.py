"""What the layer tests share: the lock as data, pyproject's runtime dependencies, the runtime's packages."""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parents[2]
SRC = ROOT / "src"
LOCK = SRC / "requirements.lock"
RUNTIME_PROVIDED_FILE = SRC / "runtime-provided.txt"
# The handlers' folders, as template.yaml's CodeUri names them (tests/unit/test_template.py keeps that true).
FUNCTIONS = sorted(p.parent for p in (ROOT / "functions").glob("*/app.py"))


@dataclass(frozen=True)
class Pin:
    name: str
    version: str
    hashes: tuple[str, ...]


def runtime_dependencies() -> list[Requirement]:
    """``[project.dependencies]`` of pyproject.toml: what the Lambda functions need at run time."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    return [Requirement(r) for r in project["dependencies"]]


def runtime_provided() -> set[str]:
    """The packages the python3.12 Lambda runtime brings, which the layer must not ship again."""
    lines = RUNTIME_PROVIDED_FILE.read_text(encoding="utf-8").splitlines()
    return {canonicalize_name(s) for line in lines if (s := line.split("#", 1)[0].strip())}


def lock_lines() -> list[str]:
    """The lock's requirement lines, each with its ``--hash`` continuations joined and comments dropped."""
    joined = re.sub(r"\\\n", " ", LOCK.read_text(encoding="utf-8"))
    return [s for line in joined.splitlines() if (s := line.split("#", 1)[0].strip())]


_PIN = re.compile(r"(?P<name>[A-Za-z0-9][A-Za-z0-9._-]*)==(?P<version>[^\s;]+)(?P<rest>.*)")
_HASH = re.compile(r"--hash=sha256:([0-9a-f]{64})")


def parse_pin(line: str) -> Pin:
    """One lock line as a :class:`Pin`; ``ValueError`` when it is not ``name==version --hash=sha256:...``."""
    match = _PIN.fullmatch(line)
    if match is None:
        raise ValueError(f"not an exact pin: {line!r}")
    rest = match["rest"].split()
    hashes = tuple(h for token in rest if (h := _hash(token)))
    if not hashes or len(hashes) != len(rest):
        raise ValueError(f"every pin needs --hash=sha256:... and nothing else: {line!r}")
    return Pin(canonicalize_name(match["name"]), match["version"], hashes)


def _hash(token: str) -> str | None:
    match = _HASH.fullmatch(token)
    return match[1] if match else None


def lock() -> dict[str, Pin]:
    pins = [parse_pin(line) for line in lock_lines()]
    return {p.name: p for p in pins}
