"""What a run's ``overrides`` may change: an allow-list, walked before anything is merged.

A run request (a console execution) may adjust the search — tuning ranges, strategy, early stopping,
completion criteria, random seed, max jobs, max parallel jobs — and pick an instance type the profile
allows, each within the stored profile's own limits. Everything else (budget caps and prices, the image,
the environment, the data layout, promotion, notifications, the model, ...) comes from the stored profile
only: overriding it is refused with :class:`OverridesRefusedError`, which names the key and the rule.

:func:`check_overrides` walks the override document along the allow-list, which is four levels deep at
most: a refused key is not descended into (beyond naming a section's keys), so a document nested
hundreds of levels deep is refused like any other, without recursion. :func:`check_limits` then compares
the merged, validated profile with the stored one (the numbers are only comparable once parsed).
"""

from __future__ import annotations

import difflib
from collections.abc import Mapping
from typing import Any

from amtflow.profile._enums import ParameterType, Strategy
from amtflow.profile._errors import OverridesRefusedError, ProfileProblem, _describe, _keys_at
from amtflow.profile._fields import _is_scalar
from amtflow.profile._model import ModelProfile, ParameterRange

MAX_PROBLEMS = 20
"""At most this many problems are listed (the rest are counted), however large the document."""

_SCALAR = "one value"
_VALUES = "a list of values"
_RANGES = "the profile's tuned hyperparameters"
_INSTANCE = "an allowed instance type"

_RANGE: Mapping[str, Any] = {
    "min": _SCALAR,
    "max": _SCALAR,
    "values": _VALUES,
    "scaling": _SCALAR,
    "type": _SCALAR,
}
ALLOWED: Mapping[str, Any] = {
    "tuning": {
        "strategy": _SCALAR,
        "ranges": _RANGES,
        "limits": {"max_jobs": _SCALAR, "max_parallel": _SCALAR},
        "early_stopping": _SCALAR,
        "completion": {"target": _SCALAR, "not_improving": _SCALAR, "convergence": _SCALAR},
        "random_seed": _SCALAR,
    },
    "training": {"instance_type": _INSTANCE},
}
"""The keys an override may set: a mapping is a section, a string the kind of value it takes."""

_NULLABLE = frozenset({("tuning", "completion")})
"""Sections that ``null`` may reset to their defaults (no completion criteria: within any limit)."""

_PUSH = "change the profile and push it"
_WHY: Mapping[str, str] = {
    "budget": "budget caps and prices come from the stored profile",
    "training.image": "the training image comes from the stored profile",
    "training.environment": "the container environment comes from the stored profile",
    "training.allowed_instance_types": "the allowed instance types come from the stored profile",
    "training": (
        "the training definition comes from the stored profile (a run may only pick "
        "training.instance_type among training.allowed_instance_types)"
    ),
    "tuning.objective": "the objective comes from the stored profile",
    "tuning.limits.max_runtime_s": "the tuning job's runtime limit comes from the stored profile",
    "tuning.hyperband": "the Hyperband resource bounds come from the stored profile",
    "dataset": "the dataset layout comes from the stored profile",
    "warm_start": "the warm-start policy comes from the stored profile",
    "promotion": "the promotion rule comes from the stored profile",
    "notifications": "the notifications come from the stored profile",
    "schedule": "the schedule comes from the stored profile",
    "description": "the description comes from the stored profile",
    "sample_log_lines": "the sample log lines come from the stored profile",
    "schema": "the schema comes from the stored profile",
}


def check_overrides(profile: ModelProfile, overrides: Mapping[str, Any]) -> None:
    """Refuse every key of ``overrides`` outside the allow-list (or the ``profile``'s allowed instance
    types and tuned hyperparameters), and every value of the wrong shape, before anything is merged.

    Raises :class:`OverridesRefusedError` listing each refused key with its rule.
    """
    problems: list[ProfileProblem] = []
    if profile.algorithms is not None:  # its training definitions and ranges are per algorithm
        tuning = overrides.get("tuning")
        keys = ["training"] if "training" in overrides else []
        keys += ["tuning.ranges"] if isinstance(tuning, Mapping) and "ranges" in tuning else []
        problems.extend(
            ProfileProblem(
                f"overrides.{key}",
                f"model {profile.model!r} tunes several algorithms: their training definitions and ranges "
                f"come from the stored profile ({_PUSH} to change them)",
            )
            for key in keys
        )
    _walk(overrides, ALLOWED, (), profile, problems)
    _raise(problems)


def check_limits(stored: ModelProfile, merged: ModelProfile) -> None:
    """Refuse a ``merged`` profile (stored profile plus overrides, validated) that goes beyond the stored
    profile's limits: more training jobs or more at once, a range wider than the stored one or of another
    kind, a categorical value the stored range does not list."""
    problems: list[ProfileProblem] = []
    limits = "overrides.tuning.limits"
    jobs, stored_jobs = _max_jobs(merged), _max_jobs(stored)
    if jobs > stored_jobs:
        problems.append(
            ProfileProblem(
                f"{limits}.max_jobs",
                f"the run would have up to {jobs} training jobs, above the stored profile's {stored_jobs}; "
                f"an override may only lower max_jobs ({_PUSH} to raise it)",
            )
        )
    parallel, stored_parallel = merged.tuning.limits.max_parallel, stored.tuning.limits.max_parallel
    if parallel > stored_parallel:
        problems.append(
            ProfileProblem(
                f"{limits}.max_parallel",
                f"{parallel} is above the stored profile's max_parallel ({stored_parallel}); "
                f"an override may only lower it ({_PUSH} to raise it)",
            )
        )
    for name, rng in merged.tuning.ranges.items():
        base = stored.tuning.ranges.get(name)
        if base is not None:
            problems.extend(_range_problems(f"overrides.tuning.ranges.{name}", base, rng))
    _raise(problems)


# --- the walk --------------------------------------------------------------------------------------------


def _walk(
    document: Mapping[Any, Any],
    node: Mapping[str, Any],
    path: tuple[str, ...],
    profile: ModelProfile,
    problems: list[ProfileProblem],
) -> None:
    for raw_key, value in document.items():
        here = (*path, str(raw_key))
        rule = node.get(here[-1])
        if rule is None:
            problems.extend(_refused(here, value, node))
        else:
            _check(rule, value, here, profile, problems)


def _check(
    rule: Any, value: Any, here: tuple[str, ...], profile: ModelProfile, problems: list[ProfileProblem]
) -> None:
    where = _path(here)
    if isinstance(rule, Mapping):
        if value is None:
            if here not in _NULLABLE:
                problems.append(
                    ProfileProblem(where, "cannot be removed by an override; leave it out to keep it")
                )
        elif not isinstance(value, Mapping):
            problems.append(ProfileProblem(where, f"expected a mapping of keys, got {_describe(value)}"))
        else:
            _walk(value, rule, here, profile, problems)
    elif rule == _RANGES:
        _check_ranges(value, here, profile, problems)
    elif rule == _INSTANCE:
        allowed = profile.training.instance_types_allowed
        if value not in allowed:
            problems.append(
                ProfileProblem(
                    where,
                    f"{_describe(value)} is not an instance type the stored profile allows "
                    f"({', '.join(allowed)}); add it to training.allowed_instance_types and push the profile",
                )
            )
    elif rule == _VALUES:
        if not isinstance(value, list) or not value:
            got = "an empty list" if value == [] else _describe(value)
            problems.append(ProfileProblem(where, f"expected a list of one or more values, got {got}"))
            return
        problems.extend(
            ProfileProblem(f"{where}[{i}]", f"must be a string, number or boolean, not {_describe(v)}")
            for i, v in enumerate(value)
            if not _is_scalar(v)
        )
    elif value is not None and not _is_scalar(value):
        problems.append(ProfileProblem(where, f"expected {rule}, got {_describe(value)}"))


def _check_ranges(
    value: Any, here: tuple[str, ...], profile: ModelProfile, problems: list[ProfileProblem]
) -> None:
    where = _path(here)
    if not isinstance(value, Mapping):
        problems.append(
            ProfileProblem(
                where,
                "cannot be removed by an override; leave it out to keep it"
                if value is None
                else f"expected a mapping of keys, got {_describe(value)}",
            )
        )
        return
    tuned = profile.tuning.ranges
    for raw_name, rng in value.items():
        name = str(raw_name)
        at = f"{where}.{name}"
        if name not in tuned:
            problems.append(
                ProfileProblem(
                    at,
                    f"not overridable — the stored profile does not tune {name!r} (it tunes "
                    f"{', '.join(tuned)}); an override may only narrow the profile's own ranges; {_PUSH}",
                )
            )
        elif rng is None:
            problems.append(
                ProfileProblem(
                    at, "a tuned hyperparameter cannot be dropped by an override; narrow its range instead"
                )
            )
        elif not isinstance(rng, Mapping):
            problems.append(ProfileProblem(at, f"expected a mapping of keys, got {_describe(rng)}"))
        else:
            _walk(rng, _RANGE, (*here, name), profile, problems)


def _refused(here: tuple[str, ...], value: Any, node: Mapping[str, Any]) -> list[ProfileProblem]:
    """The problems of a key outside the allow-list: a refused section is named key by key (one level
    down, no further), anything else as a whole."""
    keys = _keys_at(ModelProfile, here[:-1])
    if here[-1] not in keys:
        return [ProfileProblem(_path(here), _unknown(here[-1], keys, node))]
    if len(here) == 1 and isinstance(value, Mapping) and value and _keys_at(ModelProfile, here):
        return [ProfileProblem(_path((*here, str(k))), _refusal((*here, str(k)))) for k in value]
    return [ProfileProblem(_path(here), _refusal(here))]


def _refusal(here: tuple[str, ...]) -> str:
    if here[0] == "model":
        return "not overridable — a run tunes the model its request names; start a run for the other model"
    why = next(
        (_WHY[".".join(here[:n])] for n in range(len(here), 0, -1) if ".".join(here[:n]) in _WHY),
        "it comes from the stored profile",
    )
    return f"not overridable — {why}; {_PUSH}"


def _unknown(key: str, keys: list[str], node: Mapping[str, Any]) -> str:
    close = difflib.get_close_matches(key, keys, n=1, cutoff=0.6)
    if close:
        return f"unknown key {key!r}; did you mean {close[0]!r}?"
    allowed = ", ".join(node) or "none"
    return f"unknown key {key!r}; a run may override only {allowed} here (see docs/profiles.md)"


# --- the limits ------------------------------------------------------------------------------------------


def _max_jobs(profile: ModelProfile) -> int:
    """The most training jobs the profile's tuning job may run (for Grid without max_jobs: the grid)."""
    tuning = profile.tuning
    if tuning.limits.max_jobs is not None:
        return tuning.limits.max_jobs
    combos = 1
    if tuning.strategy is Strategy.GRID:
        for rng in tuning.ranges.values():
            combos *= len(rng.values or [])
    return combos


def _range_problems(where: str, base: ParameterRange, rng: ParameterRange) -> list[ProfileProblem]:
    if rng.kind is not base.kind:
        return [
            ProfileProblem(
                where,
                f"the stored profile's range is {base.kind.value}; an override may narrow it but not "
                f"make it {rng.kind.value}",
            )
        ]
    if base.kind is ParameterType.CATEGORICAL:
        stored = base.rendered_values()
        extra = [v for v in rng.rendered_values() if v not in stored]
        if not extra:
            return []
        return [
            ProfileProblem(
                f"{where}.values",
                f"{', '.join(extra)} not among the stored profile's values ({', '.join(stored)}); "
                f"an override may only choose among them ({_PUSH} to add one)",
            )
        ]
    problems = []
    if base.min is not None and rng.min is not None and rng.min < base.min:
        problems.append(
            ProfileProblem(
                f"{where}.min",
                f"{rng.min} is below the stored profile's min ({base.min}); an override may only narrow "
                f"the range ({_PUSH} to widen it)",
            )
        )
    if base.max is not None and rng.max is not None and rng.max > base.max:
        problems.append(
            ProfileProblem(
                f"{where}.max",
                f"{rng.max} is above the stored profile's max ({base.max}); an override may only narrow "
                f"the range ({_PUSH} to widen it)",
            )
        )
    return problems


# --- helpers ---------------------------------------------------------------------------------------------


def _path(here: tuple[str, ...]) -> str:
    return ".".join(("overrides", *here))


def _raise(problems: list[ProfileProblem]) -> None:
    if not problems:
        return
    shown = problems[:MAX_PROBLEMS]
    if len(problems) > MAX_PROBLEMS:
        shown.append(ProfileProblem("overrides", f"and {len(problems) - MAX_PROBLEMS} more problems"))
    raise OverridesRefusedError(shown)
