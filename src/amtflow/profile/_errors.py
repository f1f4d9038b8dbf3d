"""Turn pydantic's validation errors into one :class:`ProfileValidationError` a person can act on.

Every problem names its key path (``tuning.ranges.eta.scaling``) and the fix; an unknown key comes with the
closest valid key. The raw pydantic error never reaches the user.
"""

from __future__ import annotations

import difflib
import types
import typing
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, ValidationError

from amtflow.errors import InvalidInputError, ProfileError


@dataclass(frozen=True)
class ProfileProblem:
    """One problem in a profile: where (dotted key path) and what to do about it."""

    path: str
    message: str

    def __str__(self) -> str:
        return f"{self.path}: {self.message}" if self.path else self.message


class ProfileValidationError(ProfileError):
    """A profile (or an override of one) is invalid; :attr:`problems` lists every problem found."""

    error_type = "ProfileError"

    def __init__(self, problems: Sequence[ProfileProblem], *, source: str = "profile") -> None:
        self.problems = tuple(problems)
        self.source = source
        count = len(self.problems)
        lines = "\n".join(f"  - {p}" for p in self.problems)
        noun = "problem" if count == 1 else "problems"
        super().__init__(
            f"{source} is invalid ({count} {noun}):\n{lines}",
            field=self.problems[0].path if self.problems else None,
        )


class OverridesRefusedError(InvalidInputError):
    """A run's ``overrides`` reach outside the allow-list (budget, image, role, environment, ...) or beyond
    the stored profile's limits; :attr:`problems` names every refused key and the rule (docs/profiles.md)."""

    def __init__(self, problems: Sequence[ProfileProblem]) -> None:
        self.problems = tuple(problems)
        count = len(self.problems)
        noun = "problem" if count == 1 else "problems"
        lines = "\n".join(f"  - {p}" for p in self.problems)
        super().__init__(
            f"overrides refused ({count} {noun}):\n{lines}",
            field=self.problems[0].path if self.problems else "overrides",
        )


def join_path(parts: Iterable[Any]) -> str:
    """``("training", "metrics", 0, "regex")`` → ``training.metrics[0].regex``."""
    out = ""
    for part in parts:
        if part in ("", None):
            continue
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            text = str(part)
            if text.startswith("["):
                out += text
            else:
                out += f".{text}" if out else text
    return out


def problems_from(error: ValidationError, root: type[BaseModel], *, prefix: str = "") -> list[ProfileProblem]:
    """Every problem in ``error`` (raised validating ``root``), paths prefixed with ``prefix``."""
    problems: list[ProfileProblem] = []
    for item in error.errors(include_url=False):
        loc = tuple(item["loc"])
        if len(loc) > 1 and loc[-1] == "[key]":  # pydantic's marker after a mapping key it rejected
            loc = loc[:-1]
        # An empty key is shown as '' so that its problem still has a path a person can find.
        shown = tuple("''" if p == "" else p for p in loc)
        kind = item["type"]
        ctx = item.get("ctx") or {}
        if kind == "amtflow_issues":
            for rel, message in ctx["issues"]:
                problems.append(ProfileProblem(join_path((prefix, *shown, *_split(rel))), message))
            continue
        path = join_path((prefix, *shown))
        problems.append(ProfileProblem(path, _message(kind, item, loc, root)))
    return _dedupe(problems)


def _split(rel: str) -> list[str]:
    return [p for p in rel.replace("[", ".[").split(".") if p]


def _dedupe(problems: list[ProfileProblem]) -> list[ProfileProblem]:
    seen: set[tuple[str, str]] = set()
    out = []
    for p in problems:
        if (p.path, p.message) not in seen:
            seen.add((p.path, p.message))
            out.append(p)
    return out


def _message(kind: str, item: Any, loc: tuple[Any, ...], root: type[BaseModel]) -> str:
    value = item.get("input")
    if kind == "extra_forbidden":
        key = str(loc[-1]) if loc else "?"
        valid = _keys_at(root, loc[:-1])
        close = (
            difflib.get_close_matches(key, valid, n=1, cutoff=0.6)
            or [v for v in valid if key and (key in v or v in key)][:1]
        )
        if close:
            return f"unknown key {key!r}; did you mean {close[0]!r}?"
        return f"unknown key {key!r}; valid keys here: {', '.join(valid) or 'none'}"
    if kind == "missing":
        name = str(loc[-1]) if loc else "value"
        return f"required but missing; add '{name}:' (see docs/profiles.md)"
    msg = str(item.get("msg", "invalid value"))
    msg = msg.removeprefix("Value error, ")
    if kind in ("model_type", "model_attributes_type", "dict_type"):
        return f"expected a mapping of keys, got {_describe(value)}"
    if kind == "list_type":
        return f"expected a list, got {_describe(value)}"
    if kind in ("too_short", "too_long"):
        ctx = item.get("ctx") or {}
        actual = ctx.get("actual_length", "?")
        if kind == "too_short":
            least = ctx.get("min_length", 1)
            return f"needs at least {least} {_entries(least)} (has {actual}); add {_entries(least, 'one')}"
        most = ctx.get("max_length", "?")
        return f"takes at most {most} {_entries(most)} (has {actual}); remove some"
    if kind in _TYPE_HINTS:
        return f"{_TYPE_HINTS[kind]} (got {_describe(value)})"
    if kind == "string_pattern_mismatch" and loc == ("model",):
        return (
            f"{value!r} is not a valid model name; use lower-case letters, digits and single hyphens, "
            "e.g. 'churn-xgb'"
        )
    if kind == "literal_error" and loc == ("schema",):
        return f"{value!r} is not supported; write 'schema: amtflow/v1'"
    return f"{_lower_first(msg)} (got {_describe(value)})"


_TYPE_HINTS = {
    "int_parsing": "expected a whole number",
    "int_type": "expected a whole number",
    "int_from_float": "expected a whole number, without a fraction",
    "float_parsing": "expected a number",
    "float_type": "expected a number",
    "bool_parsing": "expected true or false",
    "bool_type": "expected true or false",
    "string_type": "expected text; quote the value if YAML reads it as a number, date or boolean",
}


def _entries(count: Any, one: str = "entry") -> str:
    return one if count == 1 else "entries"


def _lower_first(text: str) -> str:
    return text[:1].lower() + text[1:]


def _describe(value: Any) -> str:
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _keys_at(root: type[BaseModel], loc: Sequence[Any]) -> list[str]:
    """The keys the section at ``loc`` accepts (empty when ``loc`` is not a section)."""
    annotation: Any = root
    for part in loc:
        model = _as_model(annotation)
        if model is not None:
            field = _field(model, part)
            if field is None:
                return []
            annotation = field.annotation
            continue
        origin = typing.get_origin(_strip(annotation))
        args = typing.get_args(_strip(annotation))
        if origin in (list, dict) and args:
            annotation = args[-1]
        else:
            return []
    model = _as_model(annotation)
    if model is None:
        return []
    return [f.alias or name for name, f in model.model_fields.items()]


def _field(model: type[BaseModel], key: Any) -> Any:
    for name, field in model.model_fields.items():
        if key in (name, field.alias):
            return field
    return None


def _strip(annotation: Any) -> Any:
    """Remove ``Annotated`` and ``| None`` around a type."""
    while True:
        origin = typing.get_origin(annotation)
        if origin is typing.Annotated:
            annotation = typing.get_args(annotation)[0]
            continue
        if origin in (typing.Union, types.UnionType):
            members = [a for a in typing.get_args(annotation) if a is not type(None)]
            if len(members) == 1:
                annotation = members[0]
                continue
        return annotation


def _as_model(annotation: Any) -> type[BaseModel] | None:
    bare = _strip(annotation)
    if isinstance(bare, type) and issubclass(bare, BaseModel):
        return bare
    return None
