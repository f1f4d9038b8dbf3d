"""While a handler runs in the twin, it imports only what Lambda would give it.

The twin runs in one process with moto, the engine and every development dependency importable, so a
handler that imports a module the layer does not ship would work in the twin and fail on Lambda. With
:func:`import_guard` installed, an import **made by the function's code or by a module its layers ship**
(amtflow's core, Powertools, pydantic, ...), on the thread running a handler (see :func:`enforcing`), of a
module that neither the python3.12 runtime (the standard library, boto3/botocore and what they bring) nor
the function's built layers nor its own folder provide raises ``ModuleNotFoundError``, as on Lambda. The
check sees every ``import`` statement, also of a module this process has already loaded (a meta-path
finder would not: it is asked only for modules not yet in ``sys.modules``), and calls through
``importlib.import_module``. Imports made by the twin, moto, botocore or the standard library, and imports
on other threads, are never refused: they are the machine's, not the function's.
"""

from __future__ import annotations

import builtins
import importlib
import importlib.util
import sys
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from functools import cache
from pathlib import Path
from typing import Any

from amtflow.local.packaged._built import BuiltFunction

# What the python3.12 runtime brings besides the standard library (boto3's own dependencies included).
RUNTIME_PROVIDED = frozenset({"boto3", "botocore", "s3transfer", "jmespath", "dateutil", "six", "urllib3"})
# Standard-library modules the process may have (it can run 3.11) that Python 3.12 removed.
REMOVED_IN_312 = frozenset({"distutils", "imp", "asynchat", "asyncore", "smtpd"})
_EXTENSION_SUFFIXES = (".so", ".pyd")


class PackagedImports:
    """What one function can import on Lambda: its folder, its layers, the runtime and the stdlib."""

    def __init__(self, function: BuiltFunction) -> None:
        self.function = function
        self._code_dir = function.code_dir.resolve()
        self._layer_dirs = [d.resolve() for d in function.python_dirs()]
        self._own = _top_level_names([self._code_dir])
        self._layered = _top_level_names(self._layer_dirs)
        self._wheels = _installed_top_level_names(self._layer_dirs)
        self._polices: dict[tuple[object, object], bool] = {}

    def polices(self, importer: Mapping[str, Any] | None) -> bool:
        """Whether an import made from the module whose globals are ``importer`` is the function's."""
        if not importer:
            return False
        key = (importer.get("__file__"), importer.get("__name__"))
        known = self._polices.get(key)
        if known is None:
            where, name = key
            known = self._polices[key] = (
                isinstance(where, str) and Path(where).resolve().is_relative_to(self._code_dir)
            ) or (isinstance(name, str) and self._in_layer(name))
        return known

    def refusal(self, name: str, importer: str = "") -> ModuleNotFoundError | None:
        """The error Lambda would raise for importing ``name`` (absolute), or None when it is there.

        ``importer`` is the importing module's name: an installed package's imports of its own modules are
        left to the version this process has, which may differ from the layer's pinned one.
        """
        top = name.partition(".")[0]
        if top in REMOVED_IN_312:
            return self._missing(name, "Python 3.12 removed it from the standard library")
        if top in RUNTIME_PROVIDED or top in self._own:
            return None
        if top in self._layered:
            if self._in_layer(name) or (top in self._wheels and importer.partition(".")[0] == top):
                return None
            return self._missing(name, f"the layers ship {top} without it")
        if top in sys.stdlib_module_names or top in sys.builtin_module_names:
            return None
        return self._missing(name, "neither the python3.12 runtime nor the function's layers provide it")

    def _in_layer(self, name: str) -> bool:
        return _shipped(tuple(self._layer_dirs), name)

    def _missing(self, name: str, why: str) -> ModuleNotFoundError:
        layers = ", ".join(layer.logical_id for layer in self.function.layers) or "no layers"
        return ModuleNotFoundError(
            f"No module named {name!r} ({self.function.logical_id} runs as packaged, with {layers}: {why})",
            name=name,
        )


def _top_level_names(folders: Sequence[Path]) -> frozenset[str]:
    names: set[str] = set()
    for folder in folders:
        for entry in folder.iterdir() if folder.is_dir() else ():
            stem = entry.name.split(".", 1)[0]
            if entry.is_dir() and "." not in entry.name and entry.name not in {"__pycache__", "bin"}:
                names.add(entry.name)
            elif entry.suffix == ".py" or entry.suffix in _EXTENSION_SUFFIXES:
                names.add(stem)
    return frozenset(names)


def _installed_top_level_names(folders: Sequence[Path]) -> frozenset[str]:
    """The top-level names that installed distributions (``*.dist-info/RECORD``) put in ``folders``."""
    names: set[str] = set()
    for folder in folders:
        for record in folder.glob("*.dist-info/RECORD"):
            for line in record.read_text(encoding="utf-8").splitlines():
                first = line.split(",", 1)[0].split("/", 1)[0]
                if first and not first.endswith((".dist-info", ".data")):
                    names.add(first.split(".", 1)[0])
    return frozenset(names)


@cache
def _shipped(folders: tuple[Path, ...], name: str) -> bool:
    """Whether module ``name`` (dotted) is a file or package in one of the layer folders."""
    parts = name.split(".")
    for folder in folders:
        base = folder.joinpath(*parts[:-1])
        leaf = parts[-1]
        if (base / leaf).is_dir() or (base / f"{leaf}.py").is_file():
            return True
        if base.is_dir() and any(
            p.name.startswith(leaf + ".") and p.suffix in _EXTENSION_SUFFIXES for p in base.iterdir()
        ):
            return True
    return False


# --- the hooks --------------------------------------------------------------------------------------------

_active = threading.local()


def _current() -> PackagedImports | None:
    stack: list[PackagedImports] | None = getattr(_active, "stack", None)
    return stack[-1] if stack else None


@contextmanager
def enforcing(policy: PackagedImports) -> Iterator[None]:
    """Apply ``policy`` to the imports of this thread until the block ends (nested calls stack)."""
    stack: list[PackagedImports] = getattr(_active, "stack", None) or []
    _active.stack = stack
    stack.append(policy)
    try:
        yield
    finally:
        stack.pop()


def _absolute(name: str, importer: Mapping[str, Any], level: int) -> str | None:
    if level == 0:
        return name
    package = importer.get("__package__") or ""
    try:
        return importlib.util.resolve_name("." * level + name, package)
    except ImportError:
        return None  # the import itself fails the same way


def _checked_import(original: Callable[..., Any]) -> Callable[..., Any]:
    def guarded(
        name: str,
        globals: Mapping[str, Any] | None = None,
        locals: Mapping[str, Any] | None = None,
        fromlist: Sequence[str] | None = (),
        level: int = 0,
    ) -> Any:
        policy = _current()
        if policy is None or not policy.polices(globals):
            return original(name, globals, locals, fromlist, level)
        assert globals is not None
        importer = str(globals.get("__name__", ""))
        absolute = _absolute(name, globals, level)
        if absolute and (refused := policy.refusal(absolute, importer)):
            raise refused
        module = original(name, globals, locals, fromlist, level)
        for item in fromlist or ():
            # `from package import submodule`: a submodule the layer lacks is refused like any module
            sub = f"{absolute}.{item}"
            if absolute and item != "*" and sub in sys.modules and (refused := policy.refusal(sub, importer)):
                raise refused
        return module

    return guarded


def _checked_import_module(original: Callable[..., Any]) -> Callable[..., Any]:
    def guarded(name: str, package: str | None = None) -> Any:
        policy = _current()
        caller = sys._getframe(1).f_globals
        if policy is not None and policy.polices(caller):
            absolute = importlib.util.resolve_name(name, package) if name.startswith(".") else name
            if refused := policy.refusal(absolute, str(caller.get("__name__", ""))):
                raise refused
        return original(name, package)

    return guarded


@contextmanager
def import_guard() -> Iterator[None]:
    """Install the check for the block's duration (inactive on a thread until :func:`enforcing`)."""
    saved_import, saved_import_module = builtins.__import__, importlib.import_module
    builtins.__import__ = _checked_import(saved_import)
    importlib.import_module = _checked_import_module(saved_import_module)
    try:
        yield
    finally:
        builtins.__import__ = saved_import
        importlib.import_module = saved_import_module
