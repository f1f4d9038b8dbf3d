"""EventBridge event patterns: the subset of the pattern language the twin needs to route events.

Supported: exact values (strings, numbers, booleans, null), ``prefix``, ``suffix``, ``anything-but`` (a value,
a list, or a ``prefix``/``suffix`` filter), ``numeric`` (``<``, ``<=``, ``=``, ``>=``, ``>`` pairs),
``exists``, ``equals-ignore-case``, ``wildcard`` and ``$or``. A field of the pattern matches when any of its
filters matches; a pattern matches when every field matches; an event field holding an array matches when
any element matches (EventBridge semantics).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

from amtflow.errors import InvalidInputError

_MISSING = object()
_NUMERIC_OPS = {
    "<": lambda a, b: a < b,
    "<=": lambda a, b: a <= b,
    "=": lambda a, b: a == b,
    ">=": lambda a, b: a >= b,
    ">": lambda a, b: a > b,
}


def matches(pattern: Mapping[str, Any], event: Mapping[str, Any]) -> bool:
    """Whether ``event`` (``source``, ``detail-type``, ``detail``...) matches the EventBridge ``pattern``.

    Raises :class:`~amtflow.errors.InvalidInputError` naming the field when the pattern uses a filter the
    twin does not know, so a typo in a rule never fails silently.
    """
    return _match_node(pattern, event, "")


def _match_node(pattern: Mapping[str, Any], value: Any, path: str) -> bool:
    for key, sub in pattern.items():
        here = f"{path}.{key}" if path else key
        if key == "$or":
            if not isinstance(sub, list) or not any(_match_node(p, value, path) for p in sub):
                return False
            continue
        child = value.get(key, _MISSING) if isinstance(value, Mapping) else _MISSING
        if isinstance(sub, Mapping):
            if child is _MISSING or not isinstance(child, Mapping):
                # A nested pattern under a missing object matches only if all its leaves allow absence.
                if not _allows_missing(sub, here):
                    return False
                continue
            if not _match_node(sub, child, here):
                return False
        elif isinstance(sub, list):
            if not _match_filters(sub, child, here):
                return False
        else:
            raise InvalidInputError(
                f"event pattern field {here!r} must be a list of filters or a nested object, got {sub!r}",
                field=here,
            )
    return True


def _allows_missing(pattern: Mapping[str, Any], path: str) -> bool:
    for key, sub in pattern.items():
        here = f"{path}.{key}"
        if isinstance(sub, Mapping):
            if not _allows_missing(sub, here):
                return False
        elif isinstance(sub, list) and not _match_filters(sub, _MISSING, here):
            return False
    return True


def _match_filters(filters: Sequence[Any], value: Any, path: str) -> bool:
    values: list[Any] = list(value) if isinstance(value, list) else [value]
    for flt in filters:
        if isinstance(flt, Mapping):
            if _match_named(flt, value, values, path):
                return True
        elif value is not _MISSING and any(_equal(flt, v) for v in values):
            return True
    return False


def _equal(expected: Any, actual: Any) -> bool:
    if isinstance(expected, bool) or isinstance(actual, bool):
        return expected is actual
    return bool(expected == actual)


def _match_named(flt: Mapping[str, Any], raw: Any, values: list[Any], path: str) -> bool:
    if len(flt) != 1:
        raise InvalidInputError(
            f"event pattern filter at {path!r} must have exactly one key, got {dict(flt)}", field=path
        )
    ((name, arg),) = flt.items()
    if name == "exists":
        present = raw is not _MISSING and not (isinstance(raw, list) and not raw)
        return present is bool(arg)
    if raw is _MISSING:
        return False
    if name == "anything-but":
        return all(not _anything_but_hits(arg, v, path) for v in values)
    return any(_scalar_filter(name, arg, v, path) for v in values)


def _anything_but_hits(arg: Any, value: Any, path: str) -> bool:
    if isinstance(arg, Mapping):
        ((name, inner),) = arg.items()
        return _scalar_filter(name, inner, value, path)
    if isinstance(arg, list):
        return any(_equal(a, value) for a in arg)
    return _equal(arg, value)


def _scalar_filter(name: str, arg: Any, value: Any, path: str) -> bool:
    if name in ("prefix", "suffix"):
        if isinstance(arg, Mapping) and "equals-ignore-case" in arg:
            needle, text = str(arg["equals-ignore-case"]).lower(), str(value).lower()
        else:
            needle, text = str(arg), str(value)
        if not isinstance(value, str):
            return False
        return text.startswith(needle) if name == "prefix" else text.endswith(needle)
    if name == "equals-ignore-case":
        return isinstance(value, str) and value.lower() == str(arg).lower()
    if name == "numeric":
        if isinstance(value, bool) or not isinstance(value, int | float):
            return False
        if not isinstance(arg, list) or len(arg) % 2:
            raise InvalidInputError(
                f"numeric filter at {path!r} must be a list of operator/number pairs, got {arg!r}", field=path
            )
        for op, bound in zip(arg[::2], arg[1::2], strict=True):
            if op not in _NUMERIC_OPS:
                raise InvalidInputError(
                    f"numeric filter at {path!r} uses unknown operator {op!r}; "
                    f"use one of {sorted(_NUMERIC_OPS)}",
                    field=path,
                )
            if not _NUMERIC_OPS[op](value, bound):
                return False
        return True
    if name == "wildcard":
        regex = ".*".join(re.escape(part) for part in str(arg).split("*"))
        return isinstance(value, str) and re.fullmatch(regex, value) is not None
    raise InvalidInputError(
        f"event pattern filter {name!r} at {path!r} is not supported by the local twin; supported: "
        "exact values, prefix, suffix, anything-but, numeric, exists, equals-ignore-case, wildcard, $or",
        field=path,
    )
