"""The model-profile loader and ``apply_overrides``: any text, any mapping, any override gives a valid profile
or a :class:`ProfileValidationError` whose every problem names its key path."""

from __future__ import annotations

import copy
from typing import Any

import yaml
from hypothesis import example, given
from hypothesis import strategies as st
from properties_support import FAST, THOROUGH, XGB_PROFILE, assert_names_a_field, json_values, outcome

from amtflow.errors import AmtflowError
from amtflow.profile import ModelProfile, ProfileValidationError, apply_overrides, load_profile

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


def check_problems(error: ProfileValidationError, *, prefix: str = "") -> None:
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


@THOROUGH
@given(path=st.sampled_from(PATHS), value=json_values)
@example(path=("model",), value="another-model")
@example(path=("schema",), value="amtflow/v2")
@example(path=("tuning",), value=None)
def test_any_override_gives_a_valid_profile_or_names_overrides_paths(
    path: tuple[Any, ...], value: Any
) -> None:
    overrides = nested(path, value)
    result = outcome(lambda: apply_overrides(BASE, overrides))
    if isinstance(result, AmtflowError):
        assert isinstance(result, ProfileValidationError)
        check_problems(result, prefix="overrides")
        assert_names_a_field(result)
    else:
        assert isinstance(result, ModelProfile)
        assert result.model == BASE.model


@FAST
@given(overrides=json_values)
def test_overrides_that_are_not_a_mapping_are_named(overrides: Any) -> None:
    result = outcome(lambda: apply_overrides(BASE, overrides))
    if isinstance(result, AmtflowError):
        assert isinstance(result, ProfileValidationError)
        check_problems(result, prefix="overrides")
    else:
        assert isinstance(result, ModelProfile)


@FAST
@given(path=st.sampled_from([p for p in PATHS if not isinstance(p[-1], int)]))
def test_overriding_a_value_with_itself_changes_nothing(path: tuple[Any, ...]) -> None:
    node: Any = DOCUMENT
    for part in path:
        node = node[part]
    if any(isinstance(p, int) for p in path):
        return
    assert apply_overrides(BASE, nested(path, node)) == BASE
