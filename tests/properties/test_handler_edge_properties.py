"""Every handler, given any JSON, answers with a typed error or a result: never an untyped exception.

Each of the ten handlers (``functions/*/app.py``, decorators and all) is driven over in-memory ports with
arbitrary JSON, deeply nested JSON, and the inputs its invoker really sends with fields deleted, retyped,
nested hundreds deep or added. Whatever the input, the handler returns a JSON result or raises an
:class:`~amtflow.errors.AmtflowError` (a state-machine task's Catch routes it to NotifyFailure; an
EventBridge rule retries it, then dead-letters it). A refused input (an :class:`InvalidInputError`) or an
ignored event created nothing: no execution, lock, parked token, job, lineage record, notification or
idempotency record.
"""

from __future__ import annotations

import copy
import os
from typing import Any

import pytest
from handlers_support import (
    ACCOUNT,
    HANDLERS,
    OTHER_ACCOUNT,
    World,
    installed,
    invoke,
    valid_inputs,
)
from hypothesis import given, settings
from hypothesis import strategies as st
from properties_support import json_values

from amtflow.errors import AmtflowError, InvalidInputError

pytestmark = pytest.mark.filterwarnings("ignore:No application metrics to publish")

# 10 handlers x (500 + 500) examples; each example is in-memory only (no moto), so the module stays fast.
_IN_CI = os.environ.get("CI", "").lower() == "true"
EDGE = settings(
    max_examples=500,
    deadline=None,
    derandomize=_IN_CI,
)
VALID = valid_inputs()


@pytest.fixture(scope="module")
def fresh_world() -> Any:
    with installed() as fresh:
        yield fresh


# --- strategies ------------------------------------------------------------------------------------------


def _nest(depth: int, leaf: Any, shape: str) -> Any:
    value = leaf
    for i in range(depth):
        value = [value] if shape == "list" or (shape == "mixed" and i % 2) else {"a": value}
    return value


deep_values = st.builds(
    _nest,
    st.integers(min_value=20, max_value=800),
    st.none() | st.integers() | st.text(max_size=5),
    st.sampled_from(["dict", "list", "mixed"]),
)
"""Documents nested far deeper than any amtflow document (``overrides`` hundreds of levels deep)."""

any_json = json_values | deep_values | st.dictionaries(st.text(max_size=12), deep_values, max_size=2)
wrong_scalars = st.sampled_from([None, True, 0, -1, 1.5, 1e308, "", " ", "x" * 300, [], {}])


def _paths(document: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    found = [prefix]
    if len(prefix) >= 8:  # the fields of every input are within 8 levels; below, a drawn value
        return found
    if isinstance(document, dict):
        for key, value in document.items():
            found.extend(_paths(value, (*prefix, key)))
    elif isinstance(document, list):
        for index, value in enumerate(document):
            found.extend(_paths(value, (*prefix, index)))
    return found


def _set(document: Any, path: tuple[Any, ...], value: Any) -> Any:
    if not path:
        return value
    parent = document
    for part in path[:-1]:
        parent = parent[part]
    parent[path[-1]] = value
    return document


def _delete(document: Any, path: tuple[Any, ...]) -> Any:
    if not path:
        return document
    parent = document
    for part in path[:-1]:
        parent = parent[part]
    del parent[path[-1]]
    return document


@st.composite
def changed(draw: st.DrawFn, base: Any) -> Any:
    """``base`` with one to three of its fields deleted, retyped, nested deep, or a key added."""
    document = copy.deepcopy(base)
    for _ in range(draw(st.integers(min_value=1, max_value=3))):
        paths = _paths(document)
        path = draw(st.sampled_from(paths))
        how = draw(st.sampled_from(["delete", "json", "deep", "scalar", "add"]))
        if how == "delete":
            document = _delete(document, path)
        elif how in ("json", "deep", "scalar"):
            values = {"json": json_values, "deep": deep_values, "scalar": wrong_scalars}[how]
            document = _set(document, path, copy.deepcopy(draw(values)))
        else:
            target = document
            for part in path:
                target = target[part]
            if isinstance(target, dict):
                target[draw(st.text(max_size=12))] = copy.deepcopy(draw(json_values))
            elif isinstance(target, list):
                target.append(copy.deepcopy(draw(json_values)))
    return document


# --- what every answer must be -------------------------------------------------------------------------


def check_answer(world: World, before: tuple[int, ...], result: dict[str, Any] | AmtflowError) -> None:
    if isinstance(result, AmtflowError):
        message = str(result)
        assert message.strip(), f"{type(result).__name__} without a message"
        assert "Traceback" not in message
        if isinstance(result, InvalidInputError):
            assert result.field, f"InvalidInputError naming no field: {message!r}"
            if not result.field.startswith("("):  # "(event)", "(input)": the whole input, named by `what`
                leaf = str(result.field).rsplit(".", 1)[-1]
                assert leaf in message, f"field {result.field!r} not named in {message!r}"
            assert world.effects() == before, f"refused ({message}) yet created something"
        return
    assert isinstance(result, dict)
    if (result.get("ignored") and not result.get("executions")) or result.get("outcome") == "ignored":
        # an ignored event leaves at most its idempotency record (the answer a redelivery gets)
        assert world.effects()[:-1] == before[:-1], f"ignored ({result}) yet created something"
        assert result.get("ignored") or result.get("reason"), "ignored without a reason"


def run(fresh_world: Any, name: str, payload: Any, account: str = ACCOUNT) -> dict[str, Any] | AmtflowError:
    world: World = fresh_world()
    before = world.effects()
    result = invoke(name, payload, account=account)
    check_answer(world, before, result)
    return result


# --- the properties -------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", HANDLERS)
@EDGE
@given(data=st.data())
def test_any_json_gets_a_typed_error_or_a_result(fresh_world: Any, name: str, data: st.DataObject) -> None:
    payload = data.draw(any_json | st.sampled_from(VALID[name]).flatmap(lambda b: changed(b)), label="input")
    run(fresh_world, name, payload)


@pytest.mark.parametrize("name", HANDLERS)
@EDGE
@given(data=st.data())
def test_what_the_invoker_sends_with_any_field_changed_gets_a_typed_answer(
    fresh_world: Any, name: str, data: st.DataObject
) -> None:
    base = data.draw(st.sampled_from(VALID[name]), label="base")
    payload = data.draw(changed(base), label="input")
    account = data.draw(st.sampled_from([ACCOUNT, ACCOUNT, OTHER_ACCOUNT]), label="function account")
    run(fresh_world, name, payload, account)


EVENT_HANDLERS = ("start_run", "job_events", "reconcile", "champion_evaluation_events")


@pytest.mark.parametrize("name", EVENT_HANDLERS)
@settings(EDGE, max_examples=100)
@given(data=st.data())
def test_an_event_from_another_account_is_ignored_with_the_reason(
    fresh_world: Any, name: str, data: st.DataObject
) -> None:
    event = copy.deepcopy(data.draw(st.sampled_from(VALID[name])))
    event["account"] = data.draw(
        st.from_regex(r"[0-9]{12}", fullmatch=True).filter(lambda a: a != ACCOUNT) | st.text(min_size=1)
    )
    world: World = fresh_world()
    before = world.effects()
    result = invoke(name, event)
    assert world.effects() == before  # not even an idempotency record
    assert isinstance(result, dict), result
    reason = result.get("ignored") or result.get("reason")
    assert "account" in str(reason)


@settings(EDGE, max_examples=200)
@given(
    state=st.dictionaries(st.text(max_size=12), any_json, max_size=4)
    | st.sampled_from(VALID["notify"])
    .map(lambda payload: payload["state"])
    .flatmap(lambda state: changed(state))
    .filter(lambda s: isinstance(s, dict))
)
def test_a_run_is_told_whatever_its_state_holds(fresh_world: Any, state: dict[str, Any]) -> None:
    # Notify is also the failure path (NotifyFailure): refusing a malformed state would silence the failure
    world: World = fresh_world()
    result = invoke("notify", {"state": state, "execution": {"name": "run-1", "id": "arn:x"}})
    assert isinstance(result, dict), result
    assert result["messageId"]
    assert len(world.notifier.published) == 1
