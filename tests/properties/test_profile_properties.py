"""The model-profile loader and ``apply_overrides``: any text, any mapping, any override gives a valid profile
or an error whose every problem names its key path (:class:`ProfileValidationError`, or
:class:`OverridesRefusedError` for an override outside the allow-list); an accepted override never changes
the budget, the training definition (beyond an allowed instance type) or any limit upwards."""

from __future__ import annotations

import copy
from typing import Any

import yaml
from hypothesis import example, given
from hypothesis import strategies as st
from properties_support import (
    FAST,
    THOROUGH,
    XGB_PROFILE,
    assert_names_a_field,
    json_values,
    mappings_with,
    outcome,
    scalars,
)

from amtflow.errors import AmtflowError
from amtflow.profile import (
    ModelProfile,
    OverridesRefusedError,
    ProfileValidationError,
    apply_overrides,
    load_profile,
)

BASE = load_profile(XGB_PROFILE, source="examples/xgboost/profile.yaml")
DOCUMENT = BASE.to_document()
SECTIONS = [*sorted(DOCUMENT), "notifications"]


def paths(node: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Every key path of a document (mapping keys and list indexes)."""
    out = [prefix] if prefix else []
    if isinstance(node, dict):
        for k, v in node.items():
            out += paths(v, (*prefix, k))
    elif isinstance(node, list):
        for i, v in enumerate(node):
            out += paths(v, (*prefix, i))
    return out


PATHS = paths(DOCUMENT)
ALLOWED = [
    ("tuning", "strategy"),
    ("tuning", "ranges"),
    ("tuning", "limits", "max_jobs"),
    ("tuning", "limits", "max_parallel"),
    ("tuning", "early_stopping"),
    ("tuning", "completion"),
    ("tuning", "random_seed"),
    ("training", "instance_type"),
]
"""The key paths (docs/profiles.md, "Overrides") an override may set; nothing else."""


def allowed(path: tuple[Any, ...]) -> bool:
    return any(path[: len(prefix)] == prefix for prefix in ALLOWED)


def only_allowed_keys(document: Any, prefix: tuple[Any, ...] = ()) -> bool:
    """Whether every key an override ``document`` sets is on the allow-list (an empty section sets none)."""
    for key, value in document.items():
        path = (*prefix, key)
        if allowed(path):
            continue
        leads_to_allowed = any(a[: len(path)] == path for a in ALLOWED)
        if not (leads_to_allowed and isinstance(value, dict) and only_allowed_keys(value, path)):
            return False
    return True


def replaced(document: Any, path: tuple[Any, ...], value: Any) -> Any:
    doc = copy.deepcopy(document)
    node = doc
    for part in path[:-1]:
        node = node[part]
    node[path[-1]] = value
    return doc


def nested(path: tuple[Any, ...], value: Any) -> dict[str, Any]:
    """``("tuning", "limits", "max_jobs"), 5`` → ``{"tuning": {"limits": {"max_jobs": 5}}}``."""
    keys = [p for p in path if isinstance(p, str)]
    out: Any = value
    for key in reversed(keys):
        out = {key: out}
    return out


def check_problems(error: ProfileValidationError | OverridesRefusedError, *, prefix: str = "") -> None:
    assert error.problems
    for problem in error.problems:
        assert problem.message.strip()
        assert problem.path.startswith(prefix), f"{problem.path!r} is not under {prefix!r}"
        assert str(problem) in str(error)


@THOROUGH
@given(text=st.text(max_size=300) | st.binary(max_size=200))
@example(text="")
@example(text="schema: amtflow/v1\nmodel: a\n---\nschema: amtflow/v1\n")
@example(text="!!python/object/apply:os.system ['true']")
@example(text=b"\xff\xfe")
@example(text="a: &x [*x]")
def test_any_text_is_a_profile_or_a_list_of_problems(text: str | bytes) -> None:
    result = outcome(lambda: load_profile(text, source="garbage.yaml"))
    if isinstance(result, AmtflowError):
        assert isinstance(result, ProfileValidationError)
        check_problems(result)
        assert_names_a_field(result, "garbage.yaml")
    else:
        assert isinstance(result, ModelProfile)


@THOROUGH
@given(document=st.dictionaries(st.sampled_from(SECTIONS) | st.text(max_size=10), json_values, max_size=8))
@example(document={"": None})
@example(document={"[key]": None})
@example(document={"tuning": {"": 1}, "training": {"metrics": [{"": "x"}]}})
def test_any_mapping_is_a_profile_or_names_each_bad_key(document: dict[str, Any]) -> None:
    result = outcome(lambda: load_profile(document, source="mapping"))
    if isinstance(result, AmtflowError):
        assert isinstance(result, ProfileValidationError)
        check_problems(result)
        assert all(p.path for p in result.problems), [str(p) for p in result.problems]
        assert_names_a_field(result)
    else:
        assert isinstance(result, ModelProfile)


@THOROUGH
@given(path=st.sampled_from(PATHS), value=json_values)
@example(path=("tuning", "limits", "max_jobs"), value=10**40)
@example(path=("training", "metrics", 0, "regex"), value="([")
@example(path=("tuning", "ranges", "eta", "min"), value=float("inf"))
def test_one_bad_value_in_a_valid_profile_is_named(path: tuple[Any, ...], value: Any) -> None:
    document = replaced(DOCUMENT, path, value)
    text = yaml.safe_dump(document, allow_unicode=True)
    for candidate in (document, text):
        result = outcome(lambda c=candidate: load_profile(c, source="profile.yaml"))
        if isinstance(result, AmtflowError):
            assert isinstance(result, ProfileValidationError)
            check_problems(result)
            assert all(p.path for p in result.problems), [str(p) for p in result.problems]
        else:
            assert isinstance(result, ModelProfile)


def check_within_the_stored_profile(result: ModelProfile) -> None:
    """What an accepted override may not change: everything outside the allow-list, or a limit upwards."""
    for section in ("schema_", "model", "dataset", "warm_start", "promotion", "budget", "schedule"):
        assert getattr(result, section) == getattr(BASE, section), section
    assert result.notifications == BASE.notifications
    assert result.training.model_copy(update={"instance_type": BASE.training.instance_type}) == BASE.training
    assert result.training.instance_type in BASE.training.instance_types_allowed
    assert result.tuning.objective == BASE.tuning.objective
    assert result.tuning.hyperband == BASE.tuning.hyperband
    assert result.tuning.limits.max_runtime_s == BASE.tuning.limits.max_runtime_s
    assert (result.tuning.limits.max_jobs or 0) <= (BASE.tuning.limits.max_jobs or 0)
    assert result.tuning.limits.max_parallel <= BASE.tuning.limits.max_parallel
    assert set(result.tuning.ranges) == set(BASE.tuning.ranges)
    for name, rng in result.tuning.ranges.items():
        base = BASE.tuning.ranges[name]
        assert rng.kind is base.kind
        if rng.values is not None:
            assert set(rng.rendered_values()) <= set(base.rendered_values())
        else:
            assert base.min is not None
            assert base.max is not None
            assert rng.min is not None
            assert rng.max is not None
            assert base.min <= rng.min < rng.max <= base.max


def check_override_outcome(result: ModelProfile | AmtflowError) -> None:
    if isinstance(result, AmtflowError):
        assert isinstance(result, ProfileValidationError | OverridesRefusedError)
        check_problems(result, prefix="overrides")
        assert_names_a_field(result)
    else:
        assert isinstance(result, ModelProfile)
        check_within_the_stored_profile(result)


@THOROUGH
@given(path=st.sampled_from(PATHS), value=json_values)
@example(path=("model",), value="another-model")
@example(path=("schema",), value="amtflow/v2")
@example(path=("tuning",), value=None)
@example(path=("budget", "max_usd_per_run"), value=None)
@example(path=("training", "instance_type"), value="ml.p4d.24xlarge")
@example(path=("tuning", "limits", "max_jobs"), value=500)
@example(path=("tuning", "ranges", "eta", "min"), value=1e-9)
def test_any_override_gives_a_valid_profile_or_names_overrides_paths(
    path: tuple[Any, ...], value: Any
) -> None:
    overrides = nested(path, value)
    result = outcome(lambda: apply_overrides(BASE, overrides))
    if not only_allowed_keys(overrides):
        assert isinstance(result, OverridesRefusedError), f"{overrides} was accepted"
    check_override_outcome(result)


TUNING_KEYS = ["strategy", "ranges", "limits", "early_stopping", "completion", "random_seed", "objective"]
RANGE_DOCS = st.dictionaries(
    st.sampled_from([*sorted(DOCUMENT["tuning"]["ranges"]), "gamma_x"]),
    st.none()
    | st.dictionaries(
        st.sampled_from(["min", "max", "values", "scaling", "type"]),
        st.none()
        | st.floats(-100, 100)
        | st.integers(-100, 100)
        | st.lists(scalars, max_size=3)
        | st.sampled_from(["log", "linear", "integer", "continuous", "categorical"]),
        max_size=3,
    ),
    max_size=3,
)
OVERRIDE_DOCS = st.fixed_dictionaries(
    {},
    optional={
        "tuning": st.fixed_dictionaries(
            {},
            optional={
                "strategy": st.sampled_from(["Bayesian", "Random", "Grid", "Hyperband", "x"]),
                "ranges": RANGE_DOCS,
                "limits": st.dictionaries(
                    st.sampled_from(["max_jobs", "max_parallel", "max_runtime_s"]),
                    st.none() | st.integers(-5, 1000),
                    max_size=2,
                ),
                "early_stopping": st.sampled_from(["Off", "Auto", True, None]),
                "completion": st.none()
                | st.fixed_dictionaries({}, optional={"not_improving": st.integers(0, 50)}),
                "random_seed": st.none() | st.integers(-1, 2**31),
            },
        ),
        "training": st.dictionaries(
            st.sampled_from(["instance_type", "image", "instance_count"]),
            st.sampled_from(["ml.m5.xlarge", "ml.p4d.24xlarge", "x"]) | st.integers(1, 20),
            max_size=2,
        ),
        "budget": mappings_with(["max_usd_per_run", "max_usd_per_month", "prices"]),
    },
)


@THOROUGH
@given(overrides=OVERRIDE_DOCS)
def test_any_combination_of_overrides_stays_within_the_stored_profile(overrides: dict[str, Any]) -> None:
    result = outcome(lambda: apply_overrides(BASE, overrides))
    if overrides.get("budget") is not None:
        assert isinstance(result, OverridesRefusedError)
    check_override_outcome(result)


@FAST
@given(depth=st.integers(1, 3000), at=st.sampled_from([(), ("budget",), ("tuning", "ranges", "eta", "min")]))
def test_a_deeply_nested_override_is_refused_by_name(depth: int, at: tuple[str, ...]) -> None:
    deep: dict[str, Any] = {}
    node = deep
    for _ in range(depth):
        node["x"] = {}
        node = node["x"]
    result = outcome(lambda: apply_overrides(BASE, nested(at, deep) if at else deep))
    assert isinstance(result, OverridesRefusedError)
    check_problems(result, prefix="overrides")


@FAST
@given(overrides=json_values)
def test_overrides_that_are_not_a_mapping_are_named(overrides: Any) -> None:
    result = outcome(lambda: apply_overrides(BASE, overrides))
    if isinstance(result, AmtflowError):
        assert isinstance(result, ProfileValidationError | OverridesRefusedError)
        check_problems(result, prefix="overrides")
    else:
        assert isinstance(result, ModelProfile)
        check_within_the_stored_profile(result)


@FAST
@given(path=st.sampled_from([p for p in PATHS if not isinstance(p[-1], int)]))
def test_overriding_a_value_with_itself_changes_nothing(path: tuple[Any, ...]) -> None:
    node: Any = DOCUMENT
    for part in path:
        node = node[part]
    if any(isinstance(p, int) for p in path):
        return
    result = outcome(lambda: apply_overrides(BASE, nested(path, node)))
    if allowed(path):
        assert result == BASE
    else:
        assert isinstance(result, OverridesRefusedError)
