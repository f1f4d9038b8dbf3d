"""Reading profiles from text, bytes and files, and overriding them per run."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from amtflow.profile import (
    EarlyStopping,
    OverridesRefusedError,
    ProfileValidationError,
    Strategy,
    apply_overrides,
    load_profile,
    load_profile_file,
    merge_documents,
    parse_profile,
)

ROOT = Path(__file__).resolve().parents[3]


def only_problem(excinfo: pytest.ExceptionInfo[ProfileValidationError]) -> str:
    assert len(excinfo.value.problems) == 1
    return str(excinfo.value.problems[0])


def test_yaml_syntax_errors_give_line_and_column() -> None:
    with pytest.raises(ProfileValidationError) as info:
        load_profile("schema: amtflow/v1\nmodel: [unclosed\n", source="bad.yaml")
    assert "not valid YAML at line 3" in only_problem(info)
    assert str(info.value).startswith("bad.yaml is invalid")


@pytest.mark.parametrize(
    ("text", "needle"),
    [
        ("", "got empty"),
        ("- a\n- b\n", "got a list"),
        ("just a string", "got a str"),
        ("schema: amtflow/v1\n---\nschema: amtflow/v1\n", "2 YAML documents"),
    ],
)
def test_documents_that_are_not_one_mapping(text: str, needle: str) -> None:
    with pytest.raises(ProfileValidationError) as info:
        load_profile(text)
    assert needle in only_problem(info)


def test_bytes_must_be_utf8(xgb_text: str) -> None:
    assert load_profile(xgb_text.encode()).model == "churn-xgb"
    with pytest.raises(ProfileValidationError, match="UTF-8"):
        load_profile(b"\xff\xfe\x00bad")


def test_files_are_named_in_errors(tmp_path: Path, xgb_text: str) -> None:
    good = tmp_path / "good.yaml"
    good.write_text(xgb_text)
    assert load_profile_file(good).model == "churn-xgb"
    bad = tmp_path / "bad.yaml"
    bad.write_text(xgb_text.replace("max_parallel: 3", "max_paralel: 3"))
    with pytest.raises(ProfileValidationError) as info:
        load_profile_file(bad)
    assert str(info.value).startswith(f"{bad} is invalid")
    assert "did you mean 'max_parallel'" in str(info.value)
    with pytest.raises(ProfileValidationError, match="cannot be read"):
        load_profile_file(tmp_path / "missing.yaml")


def test_a_mapping_is_accepted_directly(xgb_doc: dict[str, Any]) -> None:
    assert load_profile(xgb_doc).model == "churn-xgb"


def test_merge_documents_deep_merges_replaces_lists_and_none_removes() -> None:
    base = {"a": {"b": 1, "c": [1, 2], "d": {"e": 1}}, "f": 2}
    merged = merge_documents(base, {"a": {"c": [3], "d": {"g": 2}, "b": None}, "h": 3})
    assert merged == {"a": {"c": [3], "d": {"e": 1, "g": 2}}, "f": 2, "h": 3}
    assert base == {"a": {"b": 1, "c": [1, 2], "d": {"e": 1}}, "f": 2}  # untouched


def test_overrides_change_only_what_they_name(xgb_text: str) -> None:
    profile = load_profile(xgb_text)
    changed = apply_overrides(
        profile,
        {
            "tuning": {
                "strategy": "Random",
                "limits": {"max_jobs": 8},
                "ranges": {"eta": {"max": 0.2}, "tree_method": {"values": ["hist"]}},
                "early_stopping": "Off",
            }
        },
    )
    assert changed.tuning.strategy is Strategy.RANDOM
    assert changed.tuning.limits.max_jobs == 8
    assert changed.tuning.limits.max_parallel == 3  # kept
    assert changed.tuning.ranges["eta"].max == 0.2
    assert changed.tuning.ranges["eta"].min == 0.01  # kept
    assert changed.tuning.ranges["tree_method"].values == ["hist"]
    assert changed.tuning.early_stopping is EarlyStopping.OFF
    assert changed.training == profile.training
    assert changed.budget == profile.budget
    assert profile.tuning.strategy is Strategy.BAYESIAN  # the original is unchanged


def test_null_in_overrides_resets_an_allowed_setting_to_its_default(xgb_text: str) -> None:
    profile = load_profile(xgb_text)
    changed = apply_overrides(profile, {"tuning": {"completion": None, "random_seed": None}})
    assert changed.tuning.completion.is_empty
    assert changed.tuning.random_seed is None
    assert changed.tuning.ranges == profile.tuning.ranges


def test_empty_overrides_return_the_profile(xgb_text: str) -> None:
    profile = load_profile(xgb_text)
    assert apply_overrides(profile, {}) is profile
    assert apply_overrides(profile, None) is profile


def test_override_errors_are_named_under_overrides(xgb_text: str) -> None:
    profile = load_profile(xgb_text)
    with pytest.raises(ProfileValidationError) as info:
        apply_overrides(
            profile,
            {"tuning": {"ranges": {"eta": {"scaling": "cubic"}}, "limits": {"max_parallel": -1}}},
        )
    paths = {p.path for p in info.value.problems}
    assert paths == {"overrides.tuning.ranges.eta.scaling", "overrides.tuning.limits.max_parallel"}
    assert info.value.field is not None
    assert info.value.field.startswith("overrides.")
    assert str(info.value).startswith("overrides is invalid")


def test_overrides_cannot_change_the_model_or_schema(xgb_text: str) -> None:
    profile = load_profile(xgb_text)
    with pytest.raises(OverridesRefusedError) as info:
        apply_overrides(profile, {"model": "other", "schema": "amtflow/v2"})
    assert {p.path for p in info.value.problems} == {"overrides.model", "overrides.schema"}
    with pytest.raises(OverridesRefusedError):
        apply_overrides(profile, {"model": "churn-xgb"})


def test_overrides_must_be_a_mapping(xgb_text: str) -> None:
    with pytest.raises(ProfileValidationError) as info:
        apply_overrides(load_profile(xgb_text), ["tuning"])  # type: ignore[arg-type]
    assert info.value.field == "overrides"


def test_cross_field_rules_run_again_after_overrides(xgb_text: str) -> None:
    with pytest.raises(ProfileValidationError) as info:
        apply_overrides(load_profile(xgb_text), {"tuning": {"strategy": "Grid"}})
    assert "categorical ranges only" in str(info.value)
    assert "overrides.tuning.ranges.eta" in {p.path for p in info.value.problems}


def _field_error_and_two_cross_section_problems(doc: dict[str, Any]) -> dict[str, Any]:
    doc["training"]["instance_count"] = "many"  # a field error in one section
    doc["tuning"]["objective"]["metric"] = "validation:f1"  # not among training.metrics
    name = next(iter(doc["tuning"]["ranges"]))
    doc["training"].setdefault("static_hyperparameters", {})[name] = 1  # a range that is also static
    return doc


def test_one_validation_reports_field_errors_and_cross_section_problems_together(
    xgb_doc: dict[str, Any],
) -> None:
    doc = _field_error_and_two_cross_section_problems(xgb_doc)
    name = next(iter(doc["tuning"]["ranges"]))
    with pytest.raises(ProfileValidationError) as raised:
        parse_profile(doc)
    paths = [p.path for p in raised.value.problems]
    assert paths == ["training.instance_count", "tuning.objective.metric", f"tuning.ranges.{name}"]
    assert "'validation:f1' is not among training.metrics" in str(raised.value)


def test_hyperband_without_max_resource_is_reported_next_to_a_field_error(mlp_doc: dict[str, Any]) -> None:
    del mlp_doc["tuning"]["hyperband"]
    del mlp_doc["training"]["static_hyperparameters"]["epochs"]
    mlp_doc["dataset"]["marker"] = "a/b"  # a field error in another section
    with pytest.raises(ProfileValidationError) as raised:
        parse_profile(mlp_doc)
    paths = [p.path for p in raised.value.problems]
    assert paths[-1] == "tuning.hyperband"
    assert any(p.startswith("dataset") for p in paths)


def test_cross_section_problems_alone_are_reported_once(xgb_doc: dict[str, Any]) -> None:
    xgb_doc["tuning"]["objective"]["metric"] = "validation:f1"
    with pytest.raises(ProfileValidationError) as raised:
        parse_profile(xgb_doc)
    assert [p.path for p in raised.value.problems] == ["tuning.objective.metric"]


def test_an_unreadable_section_skips_the_rules_that_need_it(xgb_doc: dict[str, Any]) -> None:
    xgb_doc["training"] = "not a mapping"
    xgb_doc["tuning"]["objective"]["metric"] = "validation:f1"
    with pytest.raises(ProfileValidationError) as raised:
        parse_profile(xgb_doc)
    assert [p.path for p in raised.value.problems] == ["training"]


def test_a_multi_algorithm_profile_reports_field_errors_and_algorithm_problems_together() -> None:
    doc = yaml.safe_load((ROOT / "examples" / "xgboost-vs-mlp" / "profile.yaml").read_text())
    doc["algorithms"][1]["instance_count"] = "many"  # a field error
    doc["tuning"]["objective"]["metric"] = "validation:accuracy"  # only the mlp reports it
    with pytest.raises(ProfileValidationError) as raised:
        parse_profile(doc)
    paths = [p.path for p in raised.value.problems]
    assert paths == ["algorithms[1].instance_count", "algorithms[0].metrics"]
    assert "the objective 'validation:accuracy' is not among this algorithm's metrics" in str(raised.value)
