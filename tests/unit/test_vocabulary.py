"""The vocabulary: every word is defined once, the packages re-export that one definition, one model-name
rule holds everywhere, and the clock behaves as both the engine and the use cases need."""

from __future__ import annotations

import ast
import datetime as dt
import enum
import importlib
import pkgutil
import re
from pathlib import Path

import pytest

import amtflow
from amtflow import vocabulary
from amtflow.errors import InvalidInputError, ProfileError

SRC = Path(amtflow.__file__).parent
HOME = SRC / "vocabulary.py"

CLASSES = {
    "Action",
    "ApprovalStatus",
    "Clock",
    "ManualClock",
    "NoDriftAction",
    "ObjectiveType",
    "PromotionOutcome",
    "PromotionVerdict",
    "RequestedAction",
    "SystemClock",
    "TrainingJobStatus",
    "Trigger",
    "TuningJobStatus",
    "WarmStartMode",
    "WarmStartType",
}
CONSTANTS = {name for name in vocabulary.__all__ if name.isupper()}


def _pattern_texts() -> set[str]:
    texts: set[str] = set()
    for name in CONSTANTS:
        value = getattr(vocabulary, name)
        if isinstance(value, re.Pattern):
            texts.add(value.pattern)
        elif isinstance(value, str):
            texts.add(value)
    return texts


def _core_modules() -> list[Path]:
    return [path for path in sorted(SRC.rglob("*.py")) if path != HOME]


def test_each_word_of_the_vocabulary_is_defined_only_in_the_vocabulary() -> None:
    patterns = _pattern_texts()
    found: list[str] = []
    for path in _core_modules():
        where = path.relative_to(SRC).as_posix()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ClassDef) and node.name in CLASSES:
                found.append(f"{where}:{node.lineno}: class {node.name}")
            elif isinstance(node, ast.Assign | ast.AnnAssign):
                targets = node.targets if isinstance(node, ast.Assign) else [node.target]
                for target in targets:
                    if isinstance(target, ast.Name) and target.id in CONSTANTS:
                        found.append(f"{where}:{node.lineno}: {target.id} =")
            elif isinstance(node, ast.Constant) and node.value in patterns:
                found.append(f"{where}:{node.lineno}: the pattern {node.value!r}")
    assert found == [], "define these in amtflow/vocabulary.py and import them:\n" + "\n".join(found)


def test_the_vocabulary_imports_nothing_from_amtflow_but_errors() -> None:
    tree = ast.parse(HOME.read_text(encoding="utf-8"))
    imported = {
        node.module
        for node in ast.walk(tree)
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("amtflow")
    }
    assert imported == {"amtflow.errors"}


def test_the_packages_re_export_the_one_definition() -> None:
    from amtflow import app, drift, lineage, messages, naming, profile

    assert drift.TuningJobStatus is app.TuningJobStatus is vocabulary.TuningJobStatus
    assert drift.WarmStartType is profile.WarmStartType is vocabulary.WarmStartType
    assert drift.NoDriftAction is profile.NoDriftAction is vocabulary.NoDriftAction
    assert drift.Action is messages.Action is vocabulary.Action
    assert drift.RequestedAction is messages.RequestedAction is vocabulary.RequestedAction
    assert lineage.Trigger is messages.Trigger is vocabulary.Trigger
    assert messages.PromotionOutcome is vocabulary.PromotionOutcome
    assert lineage.PromotionVerdict is vocabulary.PromotionVerdict
    assert lineage.PromotionOutcome is vocabulary.PromotionVerdict  # the name lineage has long exported
    assert messages.MODEL_NAME_PATTERN == vocabulary.MODEL_NAME_PATTERN
    assert naming.TUNING_JOB_NAME_PATTERN is vocabulary.TUNING_JOB_NAME_PATTERN
    assert app.Clock is vocabulary.Clock
    assert profile.Goal is lineage.ObjectiveType is vocabulary.ObjectiveType
    assert lineage.ApprovalStatus is vocabulary.ApprovalStatus
    assert {a.value for a in profile.Approval} < {s.value for s in vocabulary.ApprovalStatus}


def _core_enums() -> dict[type[enum.Enum], set[str]]:
    """Every enum class of the core (``amtflow`` but ``amtflow.local``), with where it is imported from."""
    found: dict[type[enum.Enum], set[str]] = {}
    for info in pkgutil.walk_packages(amtflow.__path__, "amtflow."):
        if info.name.startswith("amtflow.local"):
            continue
        module = importlib.import_module(info.name)
        for name, value in vars(module).items():
            if (
                isinstance(value, type)
                and issubclass(value, enum.Enum)
                and value.__module__.startswith("amtflow")
            ):
                found.setdefault(value, set()).add(f"{info.name}.{name}")
    return found


def test_no_two_enums_of_the_core_spell_the_same_words() -> None:
    """Two enums with the same values are one word defined twice: define it once (in the vocabulary when more
    than one package speaks it) and alias it."""
    by_values: dict[frozenset[str], list[type[enum.Enum]]] = {}
    by_name: dict[str, list[type[enum.Enum]]] = {}
    enums = _core_enums()
    assert len(enums) > 20, "expected the core's enums"
    for cls in enums:
        by_values.setdefault(frozenset(str(m.value) for m in cls), []).append(cls)
        by_name.setdefault(cls.__name__, []).append(cls)
    twins = [sorted(f"{c.__module__}.{c.__qualname__}" for c in group) for group in by_values.values()]
    namesakes = [sorted(f"{c.__module__}.{c.__qualname__}" for c in group) for group in by_name.values()]
    assert [t for t in twins if len(t) > 1] == [], "the same values defined twice"
    assert [n for n in namesakes if len(n) > 1] == [], "two different enums of the same name"


def test_is_terminal_is_a_method_of_both_statuses() -> None:
    assert vocabulary.TuningJobStatus.COMPLETED.is_terminal()
    assert not vocabulary.TuningJobStatus.STOPPING.is_terminal()
    assert {s for s in vocabulary.TrainingJobStatus if s.is_terminal()} == {"Completed", "Failed", "Stopped"}


def test_a_plan_warm_start_mode_is_cold_or_an_api_warm_start_type() -> None:
    modes = {m.value for m in vocabulary.WarmStartMode}
    assert modes == {"cold"} | {t.value for t in vocabulary.WarmStartType}


# --- the model-name rule ------------------------------------------------------------------------------------

GOOD = ["churn-xgb", "m", "m2", "2026-model", "fraud-v2-xgb", "a" * 48, "-".join(["ab"] * 16)]
BAD = ["", "Churn", "churn_xgb", "churn.xgb", "-churn", "churn-", "churn--xgb", "a" * 49, "churn xgb", "é"]


@pytest.mark.parametrize("name", GOOD)
def test_a_good_model_name_passes_everywhere(name: str) -> None:
    from amtflow.messages import parse_run_request

    assert vocabulary.is_model_name(name)
    assert parse_run_request({"model": name}).model == name
    assert _profile_accepts(name)


@pytest.mark.parametrize("name", BAD)
def test_a_bad_model_name_is_refused_everywhere(name: str) -> None:
    from amtflow.messages import parse_run_request

    assert not vocabulary.is_model_name(name)
    with pytest.raises(InvalidInputError, match="model"):
        parse_run_request({"model": name})
    assert not _profile_accepts(name)


def test_names_the_run_request_used_to_accept_are_now_refused_like_the_profile_does() -> None:
    """Doubled hyphens and 49-63 characters: no profile could have such a name, so no run could use it."""
    from amtflow.messages import parse_run_request

    for name in ("churn--xgb", "a" * 63):
        with pytest.raises(InvalidInputError, match="model"):
            parse_run_request({"model": name})


def test_a_drift_event_with_a_bad_model_name_is_refused() -> None:
    from pydantic import ValidationError

    from amtflow.app._events import DriftDetected

    assert DriftDetected.model_validate({"model": "churn-xgb", "datasetVersion": "v1", "severity": "severe"})
    with pytest.raises(ValidationError):
        DriftDetected.model_validate({"model": "churn--xgb", "datasetVersion": "v1", "severity": "severe"})


def test_the_model_names_of_the_examples_and_events_follow_the_rule() -> None:
    import json

    import yaml

    root = SRC.parent.parent
    names = [
        json.loads(path.read_text(encoding="utf-8")).get("detail", {}).get("model")
        for path in sorted((root / "events").glob("*.json"))
        if "malformed" not in path.name
    ]
    names += [
        yaml.safe_load(path.read_text(encoding="utf-8"))["model"]
        for path in sorted((root / "examples").rglob("*.yaml"))
        if "schema:" in path.read_text(encoding="utf-8")
    ]
    names = [n for n in names if n is not None]
    assert names, "expected model names in events/ and examples/"
    assert all(vocabulary.is_model_name(n) for n in names), names


def _profile_accepts(name: str) -> bool:
    from amtflow.profile import load_profile

    text = (SRC.parent.parent / "examples" / "xgboost" / "profile.yaml").read_text(encoding="utf-8")
    text = re.sub(r"(?m)^model: .*$", f"model: {name!r}", text, count=1)
    try:
        load_profile(text)
    except ProfileError:
        return False
    return True


# --- the clock ----------------------------------------------------------------------------------------------


def test_the_system_clock_is_aware_and_callable_like_a_use_case_wants() -> None:
    clock = vocabulary.SystemClock()
    assert clock().tzinfo is not None
    assert clock.now().tzinfo is not None
    assert clock.monotonic() <= clock.monotonic()


def test_a_manual_clock_moves_only_when_told() -> None:
    start = dt.datetime(2026, 3, 1, tzinfo=dt.UTC)
    clock = vocabulary.ManualClock(start)
    clock.sleep(5)
    assert clock() == clock.now() == start
    assert clock.monotonic() == 0
    clock.advance(90)
    assert clock.now() == start + dt.timedelta(seconds=90)
    assert clock.monotonic() == 90
    clock.set(start)  # never backwards
    assert clock.now() == start + dt.timedelta(seconds=90)
    clock.set(start + dt.timedelta(minutes=5))
    assert clock.now() == start + dt.timedelta(minutes=5)
    assert clock.monotonic() == 300


def test_a_manual_clock_refuses_naive_times_and_going_back() -> None:
    with pytest.raises(InvalidInputError, match="timezone-aware"):
        vocabulary.ManualClock(dt.datetime(2026, 1, 1))
    clock = vocabulary.ManualClock()
    with pytest.raises(InvalidInputError, match="timezone-aware"):
        clock.set(dt.datetime(2027, 1, 1))
    with pytest.raises(InvalidInputError, match="forward"):
        clock.advance(-1)
