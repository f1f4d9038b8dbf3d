"""The core's import graph: layers bottom-up, no import from a lower layer to a higher one, no cycle.

Read with :mod:`ast` (nothing is imported): every ``import`` counts, including those under
``TYPE_CHECKING`` and inside functions, because a type is a dependency too.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SRC = ROOT / "src"

# Bottom-up. A module may import its own layer and the layers below it, never one above.
LAYERS: tuple[tuple[str, ...], ...] = (
    (
        "amtflow",
        "amtflow.errors",
        "amtflow.settings",
        "amtflow.naming",
        "amtflow.vocabulary",
        "amtflow.redaction",
        "amtflow.log_format",
    ),
    ("amtflow.profile",),
    ("amtflow.drift",),
    ("amtflow.lineage",),
    ("amtflow.preflight",),
    ("amtflow.messages",),
    ("amtflow.app",),
    ("amtflow.adapters", "amtflow.clients"),
    ("amtflow.wiring",),
    ("functions",),
    ("amtflow.local",),
)

# Only the adapters (and the one place that builds clients) talk to AWS; only the edges know Powertools.
BOTO = ("boto3", "botocore")
BOTO_ALLOWED = ("amtflow.adapters", "amtflow.clients", "amtflow.local")
POWERTOOLS = "aws_lambda_powertools"
POWERTOOLS_ALLOWED = ("amtflow.log_format", "amtflow.wiring", "functions", "amtflow.local")


def _within(module: str, package: str) -> bool:
    return module == package or module.startswith(package + ".")


def package_of(module: str) -> str:
    """The unit the layers are made of: ``amtflow.<name>`` (or ``amtflow`` itself), or ``functions``."""
    parts = module.split(".")
    if parts[0] == "functions":
        return "functions"
    return ".".join(parts[:2]) if len(parts) > 1 else parts[0]


def layer_of(module: str) -> int:
    package = package_of(module)
    for index, layer in enumerate(LAYERS):
        if package in layer:
            return index
    raise AssertionError(f"{module} is in no layer: add its package to LAYERS in {__file__}")


def modules() -> Iterator[tuple[str, Path]]:
    for path in sorted((SRC / "amtflow").rglob("*.py")):
        parts = list(path.relative_to(SRC).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        yield ".".join(parts), path
    for path in sorted((ROOT / "functions").glob("*/app.py")):
        yield f"functions.{path.parent.name}.app", path


def _is_module(name: str) -> bool:
    path = SRC.joinpath(*name.split("."))
    return path.with_suffix(".py").is_file() or (path / "__init__.py").is_file()


def imports(module: str, path: Path) -> set[str]:
    """Every module ``path`` names in an import (relative imports resolved against ``module``)."""
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            found.add(base)
            # ``from amtflow import wiring`` names the module amtflow.wiring
            found.update(f"{base}.{alias.name}" for alias in node.names if _is_module(f"{base}.{alias.name}"))
    return found


GRAPH = {module: imports(module, path) for module, path in modules()}


def _ours(name: str) -> bool:
    return name == "amtflow" or name.startswith("amtflow.")


def test_every_package_of_the_core_is_in_a_layer() -> None:
    for module in GRAPH:
        layer_of(module)


def test_no_module_imports_a_higher_layer() -> None:
    upward = sorted(
        f"{module} ({package_of(module)}) imports {name} ({package_of(name)})"
        for module, names in GRAPH.items()
        for name in names
        if _ours(name) and name != "amtflow" and layer_of(name) > layer_of(module)
    )
    assert not upward, "\n".join(upward)


def test_no_import_cycle_between_packages() -> None:
    edges: dict[str, set[str]] = {}
    for module, names in GRAPH.items():
        source = package_of(module)
        for name in names:
            if _ours(name) and name != "amtflow" and package_of(name) != source:
                edges.setdefault(source, set()).add(package_of(name))

    cycles: list[list[str]] = []

    def visit(node: str, trail: list[str]) -> None:
        for nxt in sorted(edges.get(node, ())):
            if nxt in trail:
                cycles.append([*trail[trail.index(nxt) :], nxt])
            elif len(trail) < len(edges) + 1:
                visit(nxt, [*trail, nxt])

    for start in sorted(edges):
        visit(start, [start])
    assert not cycles, "\n".join(sorted({" -> ".join(c) for c in cycles}))


@pytest.mark.parametrize(
    ("third_party", "allowed"), [(BOTO, BOTO_ALLOWED), ((POWERTOOLS,), POWERTOOLS_ALLOWED)]
)
def test_aws_sdk_and_powertools_stay_at_the_edges(
    third_party: tuple[str, ...], allowed: tuple[str, ...]
) -> None:
    offenders = sorted(
        f"{module} imports {name}"
        for module, names in GRAPH.items()
        if not any(_within(module, a) for a in allowed)
        for name in names
        if name.split(".")[0] in third_party
    )
    assert not offenders, "\n".join(offenders)


def test_no_package_imports_the_private_modules_of_another() -> None:
    private = sorted(
        f"{module} imports {name}"
        for module, names in GRAPH.items()
        for name in names
        if _ours(name)
        and package_of(name) != package_of(module)
        and any(part.startswith("_") for part in name.split(".")[2:])
        and not _within(module, "amtflow.local")
    )
    assert not private, "\n".join(private)


def test_the_layer_rule_sees_an_upward_import() -> None:
    assert layer_of("amtflow.lineage._store") < layer_of("amtflow.adapters._lineage")
    assert layer_of("amtflow.app") < layer_of("amtflow.wiring") < layer_of("functions.plan.app")
