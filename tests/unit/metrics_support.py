"""The metrics the functions emit, read from ``functions/*/app.py`` (imported by name by the tests).

A handler's metrics flush together when it returns, and Powertools gives every metric of one flush the same
dimensions: all the ``metrics.add_dimension`` calls on the path the handler took, plus ``service``
(``POWERTOOLS_SERVICE_NAME``). A path ends at a ``return``; an ``if`` whose body returns forks one off. A
``with single_metric(name=...) as m`` block is a flush of its own, with ``m.add_dimension`` and ``service``;
so is what precedes ``metrics.flush_metrics()``. A call to one of the module's own functions is walked where
it stands.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SERVICE_DIMENSION = "service"


@dataclass(frozen=True)
class Emitted:
    name: str
    unit: str  # MetricUnit's member: Count, Seconds, NoUnit...
    dimensions: frozenset[str]
    function: str  # the folder under functions/


def _keyword(call: ast.Call, name: str) -> str | None:
    for kw in call.keywords:
        if kw.arg == name and isinstance(kw.value, ast.Constant) and isinstance(kw.value.value, str):
            return kw.value.value
    return None


def _calls(node: ast.AST, receiver: str, method: str) -> Iterator[ast.Call]:
    for sub in ast.walk(node):
        if (
            isinstance(sub, ast.Call)
            and isinstance(sub.func, ast.Attribute)
            and sub.func.attr == method
            and isinstance(sub.func.value, ast.Name)
            and sub.func.value.id == receiver
        ):
            yield sub


def _metric(call: ast.Call) -> tuple[str, str]:
    unit = next((kw.value for kw in call.keywords if kw.arg == "unit"), None)
    return _keyword(call, "name") or "?", unit.attr if isinstance(unit, ast.Attribute) else "?"


def _returns(body: list[ast.stmt]) -> bool:
    return any(isinstance(s, ast.Return) for s in body)


class _Scan:
    def __init__(self, functions: dict[str, ast.FunctionDef] | None = None) -> None:
        self.flushes: list[tuple[list[tuple[str, str]], set[str]]] = []
        self.functions = functions or {}
        """The module's own functions: a call to one is walked where it stands."""

    def walk(self, body: list[ast.stmt], metrics: list[tuple[str, str]], dims: set[str]) -> bool:
        """Walk ``body`` adding to ``metrics`` and ``dims``; ``True`` if it ended in a return (flushed)."""
        for stmt in body:
            if isinstance(stmt, ast.Return):
                self.flushes.append((list(metrics), set(dims)))
                return True
            if isinstance(stmt, ast.If):
                if _returns(stmt.body):
                    self.walk(stmt.body, list(metrics), set(dims))
                else:
                    self.walk(stmt.body, metrics, dims)
                self.walk(stmt.orelse, metrics, dims)
            elif isinstance(stmt, ast.With):
                single = [
                    item
                    for item in stmt.items
                    if isinstance(item.context_expr, ast.Call)
                    and isinstance(item.context_expr.func, ast.Name)
                    and item.context_expr.func.id == "single_metric"
                ]
                if single:
                    call = single[0].context_expr
                    assert isinstance(call, ast.Call)
                    var = single[0].optional_vars
                    own = set()
                    if isinstance(var, ast.Name):
                        own = {_keyword(c, "name") or "?" for c in _calls(stmt, var.id, "add_dimension")}
                    self.flushes.append(([_metric(call)], own))
                    continue
                self.walk(stmt.body, metrics, dims)
            elif isinstance(stmt, ast.For | ast.While | ast.Try):
                self.walk(stmt.body, metrics, dims)
            elif (
                isinstance(stmt, ast.Expr)
                and isinstance(stmt.value, ast.Call)
                and isinstance(stmt.value.func, ast.Name)
                and stmt.value.func.id in self.functions
            ):
                self.walk(self.functions[stmt.value.func.id].body, metrics, dims)
            elif list(_calls(stmt, "metrics", "flush_metrics")):  # a flush of its own, then a fresh set
                self.flushes.append((list(metrics), set(dims)))
                metrics.clear()
                dims.clear()
            else:
                metrics.extend(_metric(c) for c in _calls(stmt, "metrics", "add_metric"))
                dims.update(_keyword(c, "name") or "?" for c in _calls(stmt, "metrics", "add_dimension"))
        return False


def emitted_metrics() -> list[Emitted]:
    """Every (metric, dimensions, function) a handler can emit."""
    out: set[Emitted] = set()
    for app in sorted((ROOT / "functions").glob("*/app.py")):
        tree = ast.parse(app.read_text(encoding="utf-8"))
        functions = {n.name: n for n in tree.body if isinstance(n, ast.FunctionDef)}
        handler = functions.pop("lambda_handler")
        scan = _Scan(functions)
        metrics: list[tuple[str, str]] = []
        dims: set[str] = set()
        if not scan.walk(handler.body, metrics, dims):
            scan.flushes.append((metrics, dims))
        for names, dimensions in scan.flushes:
            for name, unit in names:
                out.add(Emitted(name, unit, frozenset(dimensions | {SERVICE_DIMENSION}), app.parent.name))
    return sorted(out, key=lambda e: (e.name, sorted(e.dimensions), e.function))
