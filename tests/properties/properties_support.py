"""What every parser property asserts, the strategies they share, and in-memory ports for the router.

The contract of a parser: whatever it is given, it returns a valid result or raises an
:class:`amtflow.errors.AmtflowError` whose message names the field at fault (and the fix). Anything else
(a ``KeyError``, a pydantic ``ValidationError``, an ``OverflowError``) would reach the user as a stack trace.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st

from amtflow.app import ExecutionStart, StartOutcome, StartRun
from amtflow.errors import AmtflowError, InvalidInputError
from amtflow.naming import execution_name
from amtflow.profile import InMemoryProfileStore

PROJECT_ROOT = Path(__file__).resolve().parents[2]
EVENTS = PROJECT_ROOT / "events"
XGB_PROFILE = (PROJECT_ROOT / "examples" / "xgboost" / "profile.yaml").read_text(encoding="utf-8")
BUCKET = "amtflow-data"
MAX_PAYLOAD_BYTES = 262_144  # Step Functions' limit on an execution input, and EventBridge's on an event

# Modest budgets: these run in the default suite on two cores. In CI (CI=true) the examples are derived
# from each test's name, so a run is reproducible; elsewhere they vary from run to run and keep exploring.
_IN_CI = os.environ.get("CI", "").lower() == "true"
FAST = settings(
    max_examples=60, deadline=None, derandomize=_IN_CI, suppress_health_check=[HealthCheck.too_slow]
)
THOROUGH = settings(
    max_examples=150, deadline=None, derandomize=_IN_CI, suppress_health_check=[HealthCheck.too_slow]
)

T = TypeVar("T")


def event(name: str) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads((EVENTS / name).read_text(encoding="utf-8"))
    return loaded


def outcome(call: Callable[[], T]) -> T | AmtflowError:
    """Run a parser: its result, or the :class:`AmtflowError` it raised (any other exception propagates)."""
    try:
        return call()
    except AmtflowError as e:
        return e


def assert_names_a_field(error: AmtflowError, *fields: str) -> None:
    """The error is one a person can act on: a message (no traceback) naming the field it is about.

    An :class:`InvalidInputError` carries ``field``; the message must mention it (or, for the input as a
    whole, one of ``fields``: the name the caller knows the input by).
    """
    message = str(error)
    assert message.strip(), f"{type(error).__name__} without a message"
    assert "Traceback" not in message
    named = getattr(error, "field", None)
    candidates = [f for f in (named, *fields) if f]
    assert candidates, f"{type(error).__name__} names no field: {message!r}"
    if isinstance(error, InvalidInputError) and named:
        leaf = str(named).split(".")[-1].split("[")[0]
        assert leaf in message or any(f in message for f in fields), (
            f"field {named!r} is not named in the message {message!r}"
        )
    else:
        assert any(f in message for f in candidates), f"none of {candidates} is named in {message!r}"


# --- JSON-ish values -------------------------------------------------------------------------------------

scalars = st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=30)
json_values = st.recursive(
    scalars,
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=4)
    ),
    max_leaves=20,
)


def mappings_with(
    keys: list[str], values: st.SearchStrategy[Any] = json_values
) -> st.SearchStrategy[dict[str, Any]]:
    """Mappings mostly over ``keys`` (so validation gets past "unknown key"), sometimes with stray keys."""
    key = st.sampled_from(keys) | st.text(max_size=12)
    return st.dictionaries(key, values, max_size=len(keys) + 1)


# --- in-memory ports for the trigger router --------------------------------------------------------------


@dataclass
class RecordingExecutions:
    """An :class:`~amtflow.app.ExecutionStarter` that records what it was asked to start."""

    started: list[tuple[str, Mapping[str, Any]]] = field(default_factory=list)

    def start(self, name: str, run_input: Mapping[str, Any]) -> ExecutionStart:
        self.started.append((name, run_input))
        return ExecutionStart(
            name=name, outcome=StartOutcome.STARTED, arn=f"arn:aws:states:::execution:{name}"
        )


@dataclass
class NoDatasets:
    def latest_version(self, model: str, marker: str) -> str | None:
        return None


def router(executions: RecordingExecutions, *profiles: str) -> StartRun:
    from amtflow.adapters import StoreProfileCatalog

    store = InMemoryProfileStore({str(i): p for i, p in enumerate(profiles or (XGB_PROFILE,))})
    return StartRun(
        profiles=StoreProfileCatalog(store),
        datasets=NoDatasets(),
        executions=executions,
        execution_namer=lambda model, version: execution_name(model, version),
        data_bucket=BUCKET,
    )
