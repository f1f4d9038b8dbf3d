"""Validation of model profiles: what a profile author sees for good and bad documents."""

from __future__ import annotations

from typing import Any

import pytest

from amtflow.errors import InvalidInputError, ProfileError
from amtflow.profile import (
    EarlyStopping,
    Goal,
    InputMode,
    ModelProfile,
    ParameterType,
    ProfileValidationError,
    Scaling,
    Strategy,
    WarmStartType,
    dump_profile,
    load_profile,
    parse_profile,
)


def problems(doc: dict[str, Any]) -> dict[str, str]:
    """Validate ``doc`` expecting failure; the problems by key path."""
    with pytest.raises(ProfileValidationError) as info:
        parse_profile(doc, source="test.yaml")
    error = info.value
    assert isinstance(error, ProfileError)
    text = str(error)
    assert text.startswith("test.yaml is invalid")
    for leak in ("pydantic", "validation error for", "Traceback", "For further information"):
        assert leak not in text
    return {p.path: p.message for p in error.problems}


def test_the_complete_example_loads_with_typed_values(xgb_text: str) -> None:
    profile = load_profile(xgb_text)
    assert profile.model == "churn-xgb"
    assert profile.schema_ == "amtflow/v1"
    assert profile.tuning.strategy is Strategy.BAYESIAN
    assert profile.tuning.objective.goal is Goal.MAXIMIZE
    assert profile.tuning.early_stopping is EarlyStopping.AUTO
    assert profile.training.input_mode is InputMode.FILE
    assert profile.dataset.channels["train"].content_type == "text/csv"
    assert profile.dataset.marker == "_READY"
    assert profile.training.checkpoints.enabled is True
    assert profile.warm_start.allowed == [
        WarmStartType.TRANSFER_LEARNING,
        WarmStartType.IDENTICAL_DATA_AND_ALGORITHM,
    ]
    assert profile.budget.prices == {"ml.m5.xlarge": 0.23}
    assert profile.objective_metric == "validation:auc"


def test_defaults_fill_what_a_minimal_profile_leaves_out(grid_doc: dict[str, Any]) -> None:
    profile = parse_profile(grid_doc)
    assert profile.dataset.marker == "_READY"
    assert profile.training.instance_type == "ml.m5.xlarge"
    assert profile.training.spot.enabled is False
    assert profile.tuning.early_stopping is EarlyStopping.OFF
    assert profile.warm_start.max_parents == 5
    assert profile.schedule is None
    assert profile.promotion.approval.value == "PendingManualApproval"


def test_range_kinds_are_inferred_from_the_compact_forms(xgb_text: str) -> None:
    ranges = load_profile(xgb_text).tuning.ranges
    assert ranges["eta"].kind is ParameterType.CONTINUOUS
    assert ranges["max_depth"].kind is ParameterType.INTEGER
    assert ranges["min_child_weight"].kind is ParameterType.CONTINUOUS  # explicit type wins over int bounds
    assert ranges["tree_method"].kind is ParameterType.CATEGORICAL


@pytest.mark.parametrize(
    ("written", "scaling"),
    [
        ("log", Scaling.LOG),
        ("Logarithmic", Scaling.LOG),
        ("LOG", Scaling.LOG),
        ("reverse_log", Scaling.REVERSE_LOG),
        ("ReverseLogarithmic", Scaling.REVERSE_LOG),
        ("reverse-log", Scaling.REVERSE_LOG),
        ("Linear", Scaling.LINEAR),
        ("auto", Scaling.AUTO),
    ],
)
def test_scaling_accepts_yaml_and_sagemaker_spellings(
    xgb_doc: dict[str, Any], written: str, scaling: Scaling
) -> None:
    xgb_doc["tuning"]["ranges"]["subsample"]["scaling"] = written
    assert parse_profile(xgb_doc).tuning.ranges["subsample"].scaling is scaling


def test_yaml_off_and_on_mean_early_stopping_off_and_auto(xgb_text: str) -> None:
    off = load_profile(xgb_text.replace("early_stopping: Auto", "early_stopping: Off"))
    assert off.tuning.early_stopping is EarlyStopping.OFF
    on = load_profile(xgb_text.replace("early_stopping: Auto", "early_stopping: on"))
    assert on.tuning.early_stopping is EarlyStopping.AUTO


def test_unknown_keys_suggest_the_closest_valid_key(xgb_doc: dict[str, Any]) -> None:
    xgb_doc["tuning"]["stratgy"] = "Random"
    xgb_doc["tuning"]["ranges"]["eta"]["scalng"] = "log"
    xgb_doc["training"]["spot"]["max_wait"] = 10
    found = problems(xgb_doc)
    assert found["tuning.stratgy"] == "unknown key 'stratgy'; did you mean 'strategy'?"
    assert "did you mean 'scaling'?" in found["tuning.ranges.eta.scalng"]
    assert "did you mean 'max_wait_s'?" in found["training.spot.max_wait"]


def test_wrong_types_say_what_is_expected(xgb_doc: dict[str, Any]) -> None:
    xgb_doc["training"]["instance_count"] = "two"
    xgb_doc["training"]["spot"]["enabled"] = "maybe"
    xgb_doc["description"] = 20261101
    xgb_doc["tuning"]["completion"]["target"] = "high"
    found = problems(xgb_doc)
    assert found["training.instance_count"] == "expected a whole number (got 'two')"
    assert found["training.spot.enabled"] == "expected true or false (got 'maybe')"
    assert found["description"].startswith("expected text; quote the value")
    assert found["tuning.completion.target"] == "expected a number (got 'high')"


def test_unknown_keys_inside_shorthand_sections_get_suggestions(xgb_doc: dict[str, Any]) -> None:
    xgb_doc["dataset"]["channels"]["validation"]["content_tpe"] = "text/csv"
    xgb_doc["tuning"]["objective"]["goall"] = "Maximize"
    found = problems(xgb_doc)
    assert "did you mean 'content_type'?" in found["dataset.channels.validation.content_tpe"]
    assert "did you mean 'goal'?" in found["tuning.objective.goall"]


def test_an_unknown_key_with_no_close_match_lists_the_valid_keys(xgb_doc: dict[str, Any]) -> None:
    xgb_doc["budget"]["zzz"] = 1
    assert "valid keys here: max_usd_per_run, max_usd_per_month, prices" in problems(xgb_doc)["budget.zzz"]


def test_every_problem_is_reported_at_once_with_its_key_path(xgb_doc: dict[str, Any]) -> None:
    xgb_doc["tuning"]["ranges"]["eta"]["scaling"] = "logg"
    xgb_doc["training"]["instance_count"] = "two"
    xgb_doc["training"]["metrics"][1]["regex"] = "(["
    xgb_doc["dataset"]["channels"]["bad/name"] = "text/csv"
    xgb_doc["notifications"]["email"] = "not-an-address"
    found = problems(xgb_doc)
    assert set(found) >= {
        "tuning.ranges.eta.scaling",
        "training.instance_count",
        "training.metrics[1].regex",
        "dataset.channels.bad/name",
        "notifications.email",
    }
    assert "'auto', 'linear', 'log' or 'reverse_log'" in found["tuning.ranges.eta.scaling"]
    assert "'logg'" in found["tuning.ranges.eta.scaling"]
    assert "'two'" in found["training.instance_count"]
    assert "does not compile" in found["training.metrics[1].regex"]


def test_the_error_names_the_first_field_and_the_source(xgb_doc: dict[str, Any]) -> None:
    xgb_doc["tuning"]["limits"]["max_parallel"] = 0
    with pytest.raises(ProfileValidationError) as info:
        parse_profile(xgb_doc, source="s3://b/profiles/churn-xgb.yaml")
    assert info.value.field == "tuning.limits.max_parallel"
    assert info.value.error_type == "ProfileError"
    assert str(info.value).startswith("s3://b/profiles/churn-xgb.yaml is invalid (1 problem):")
    assert isinstance(info.value, InvalidInputError)


@pytest.mark.parametrize(
    ("patch", "path", "needle"),
    [
        ({"schema": "amtflow/v2"}, "schema", "write 'schema: amtflow/v1'"),
        ({"model": "Churn_XGB"}, "model", "lower-case letters, digits and single hyphens"),
        ({"model": "a" * 49}, "model", "at most 48"),
        ({"schedule": "rate(1 days)"}, "schedule", "singular unit"),
        ({"schedule": "rate(5 fortnights)"}, "schedule", "rate(<n> minutes|hours|days)"),
        ({"schedule": "cron(0 3 * * *)"}, "schedule", "6 fields"),
        ({"schedule": "cron(0 3 * * MON *)"}, "schedule", "must be '?'"),
        ({"schedule": "every day"}, "schedule", "expected rate(...) or cron(...)"),
    ],
)
def test_top_level_values(xgb_doc: dict[str, Any], patch: dict[str, Any], path: str, needle: str) -> None:
    xgb_doc.update(patch)
    assert needle in problems(xgb_doc)[path]


@pytest.mark.parametrize(
    "expression", ["rate(1 day)", "rate(15 minutes)", "cron(0 3 ? * MON *)", "cron(0 3 * * ? *)"]
)
def test_valid_schedules(xgb_doc: dict[str, Any], expression: str) -> None:
    xgb_doc["schedule"] = expression
    assert parse_profile(xgb_doc).schedule == expression


def test_a_missing_section_is_required_by_name(xgb_doc: dict[str, Any]) -> None:
    del xgb_doc["training"]
    del xgb_doc["schema"]
    found = problems(xgb_doc)
    assert found["training"].startswith("required but missing; add 'training:'")
    assert "schema" in found


RANGE_CASES = [
    ({"min": 0, "max": 5, "scaling": "log"}, "gamma.scaling", "log scaling needs min > 0"),
    ({"min": 1, "max": 5, "scaling": "reverse_log"}, "gamma.scaling", "continuous ranges only"),
    ({"min": 0.5, "max": 1.5, "scaling": "reverse_log"}, "gamma.scaling", "max < 1"),
    ({"min": 5, "max": 5}, "gamma.max", "greater than min"),
    ({"min": 1.5, "max": 4, "type": "integer"}, "gamma.min", "not an integer"),
    ({"max": 4}, "gamma.min", "required for a numeric range"),
    ({"values": ["a", "a"]}, "gamma.values[1]", "listed twice"),
    ({"values": []}, "gamma.values", "at least one value"),
    ({"values": ["a"], "scaling": "log"}, "gamma.scaling", "does not apply to categorical"),
    ({"values": ["a"], "min": 1}, "gamma", "'values' only"),
    ({"values": [["nested"]]}, "gamma.values[0]", "string, number or boolean"),
    ({"values": [str(i) for i in range(31)]}, "gamma.values", "at most 30"),
    ({"min": 1, "max": 2, "type": "continuous", "values": ["a"]}, "gamma.values", "not 'values'"),
    ({"min": 1, "max": 2, "scaling": "cubic"}, "gamma.scaling", "'cubic'"),
    ({"min": "low", "max": 2}, "gamma.min", "'low'"),
]


@pytest.mark.parametrize(("spec", "path", "needle"), RANGE_CASES)
def test_bad_ranges_name_the_range_key_and_the_fix(
    xgb_doc: dict[str, Any], spec: dict[str, Any], path: str, needle: str
) -> None:
    xgb_doc["tuning"]["ranges"]["gamma"] = spec
    found = problems(xgb_doc)
    assert needle in found[f"tuning.ranges.{path}"], found


TUNING_CASES = [
    ({"strategy": "Grid"}, "tuning.ranges.eta", "categorical ranges only"),
    ({"strategy": "Annealing"}, "tuning.strategy", "'Bayesian', 'Random', 'Grid' or 'Hyperband'"),
    ({"limits": {"max_parallel": 2}}, "tuning.limits.max_jobs", "required for Bayesian"),
    ({"limits": {"max_jobs": 2, "max_parallel": 3}}, "tuning.limits.max_parallel", "exceeds max_jobs"),
    (
        {"limits": {"max_jobs": 2, "max_runtime_s": 60}},
        "tuning.limits.max_runtime_s",
        "greater than or equal to 120",
    ),
    (
        {"strategy": "Hyperband", "hyperband": {"min_resource": 1, "max_resource": 9}},
        "tuning.early_stopping",
        "Off",
    ),
    (
        {"hyperband": {"min_resource": 1, "max_resource": 9}},
        "tuning.hyperband",
        "only used with 'strategy: Hyperband'",
    ),
    ({"strategy": "Hyperband", "early_stopping": "Off"}, "tuning.hyperband", "needs max_resource"),
    ({"completion": {"not_improving": 2}}, "tuning.completion.not_improving", "greater than or equal to 3"),
    ({"ranges": {}}, "tuning.ranges", "at least one hyperparameter"),
    ({"ranges": {f"p{i}": {"min": 0, "max": 1} for i in range(31)}}, "tuning.ranges", "at most 30"),
    (
        {"objective": {"metric": "validation:rmse", "goal": "Minimize"}},
        "tuning.objective.metric",
        "not among",
    ),
    ({"ranges": {"num_round": {"min": 10, "max": 100}}}, "tuning.ranges.num_round", "static_hyperparameters"),
    ({"random_seed": -1}, "tuning.random_seed", "greater than or equal to 0"),
]


@pytest.mark.parametrize(("patch", "path", "needle"), TUNING_CASES)
def test_tuning_rules(xgb_doc: dict[str, Any], patch: dict[str, Any], path: str, needle: str) -> None:
    xgb_doc["tuning"].update(patch)
    found = problems(xgb_doc)
    assert needle in found[path], found


def test_grid_counts_combinations(grid_doc: dict[str, Any]) -> None:
    grid_doc["tuning"]["limits"]["max_jobs"] = 5
    assert "equal the number of combinations (6)" in problems(grid_doc)["tuning.limits.max_jobs"]
    grid_doc["tuning"]["limits"]["max_jobs"] = 6
    assert parse_profile(grid_doc).tuning.limits.max_jobs == 6
    grid_doc["tuning"]["ranges"] = {f"p{i}": {"values": list(range(4))} for i in range(5)}  # 4**5 = 1024
    del grid_doc["tuning"]["limits"]["max_jobs"]
    assert "1024 combinations" in problems(grid_doc)["tuning.ranges"]


def test_hyperband_may_take_max_resource_from_an_epochs_hyperparameter(mlp_doc: dict[str, Any]) -> None:
    del mlp_doc["tuning"]["hyperband"]
    assert parse_profile(mlp_doc).tuning.hyperband is None
    del mlp_doc["training"]["static_hyperparameters"]["epochs"]
    assert "tuning.hyperband" in problems(mlp_doc)


TRAINING_CASES = [
    ({"spot": {"enabled": True}}, "training.spot.max_wait_s", "required when spot is enabled"),
    ({"spot": {"enabled": True, "max_wait_s": 60}}, "training.spot.max_wait_s", "below max_runtime_s"),
    ({"instance_type": "m5.xlarge"}, "training.instance_type", "e.g. 'ml.m5.xlarge'"),
    ({"input_mode": "Stream"}, "training.input_mode", "'File', 'Pipe' or 'FastFile'"),
    ({"environment": {"1BAD": "x"}}, "training.environment.1BAD", "environment variable name"),
    ({"static_hyperparameters": {"layers": [1, 2]}}, "training.static_hyperparameters.layers", "not a list"),
    ({"metrics": [{"name": "a", "regex": "a=(.*)"}] * 2}, "training.metrics[1].name", "defined twice"),
    (
        {"metrics": [{"name": "a", "regex": "a=(.*)", "source": "x"}]},
        "training.metrics[0].source",
        "unknown key",
    ),
    ({"max_runtime_s": 0}, "training.max_runtime_s", "greater than or equal to 1"),
    ({"retry_attempts": 31}, "training.retry_attempts", "less than or equal to 30"),
    (
        {"checkpoints": {"enabled": True, "path": "/x"}},
        "training.checkpoints.path",
        "did you mean 'local_path'",
    ),
    ({"metrics": "validation:auc"}, "training.metrics", "expected a list"),
    (
        {"allowed_instance_types": ["p4d.24xlarge"]},
        "training.allowed_instance_types[0]",
        "not an ML instance",
    ),
    (
        {"allowed_instance_types": ["ml.m5.xlarge", "ml.m5.xlarge"]},
        "training.allowed_instance_types[1]",
        "listed twice",
    ),
    (
        {"allowed_instance_types": ["ml.m5.2xlarge"]},
        "training.allowed_instance_types",
        "must contain instance_type ('ml.m5.xlarge')",
    ),
]


@pytest.mark.parametrize(("patch", "path", "needle"), TRAINING_CASES)
def test_training_rules(xgb_doc: dict[str, Any], patch: dict[str, Any], path: str, needle: str) -> None:
    xgb_doc["training"].update(patch)
    found = problems(xgb_doc)
    assert needle in found[path], found


POLICY_CASES = [
    ({"warm_start": {"max_parents": 6}}, "warm_start.max_parents", "less than or equal to 5"),
    ({"warm_start": {"allowed": ["Recursive"]}}, "warm_start.allowed[0]", "IdenticalDataAndAlgorithm"),
    (
        {"warm_start": {"drift": {"moderate": 0.3, "severe": 0.2}}},
        "warm_start.drift.severe",
        "greater than moderate",
    ),
    ({"promotion": {"cross_dataset": "threshold"}}, "promotion.threshold", "required when cross_dataset"),
    ({"promotion": {"approval": "Rejected"}}, "promotion.approval", "PendingManualApproval"),
    ({"promotion": {"metric": "nope"}}, "promotion.metric", "not among training.metrics"),
    ({"budget": {"max_usd_per_run": 300, "max_usd_per_month": 200}}, "budget.max_usd_per_run", "exceeds"),
    ({"budget": {"prices": {"m5": 1.0}}}, "budget.prices.m5", "ML instance types"),
    ({"budget": {"max_usd_per_run": 0}}, "budget.max_usd_per_run", "greater than 0"),
    ({"notifications": {"outcomes": ["exploded"]}}, "notifications.outcomes[0]", "'succeeded'"),
    ({"dataset": {"channels": {}}}, "dataset.channels", "needs at least 1 entry"),
    ({"dataset": {"channels": {"train": None}, "marker": "a/b"}}, "dataset.marker", "one object name"),
]


@pytest.mark.parametrize(("patch", "path", "needle"), POLICY_CASES)
def test_policy_sections(xgb_doc: dict[str, Any], patch: dict[str, Any], path: str, needle: str) -> None:
    xgb_doc.update(patch)
    found = problems(xgb_doc)
    assert needle in found[path], found


def test_dataset_layout_follows_the_bucket_contract(xgb_text: str) -> None:
    profile = load_profile(xgb_text)
    assert profile.dataset_prefix("2026-11-01") == "datasets/churn-xgb/2026-11-01/"
    assert profile.marker_key("2026-11-01") == "datasets/churn-xgb/2026-11-01/_READY"
    assert profile.dataset_prefix("v1", root="data") == "data/churn-xgb/v1/"
    for bad in ("", "a/b", ".."):
        with pytest.raises(InvalidInputError, match="one folder name"):
            profile.dataset_prefix(bad)


def test_a_dumped_profile_loads_back_equal(xgb_text: str, mlp_doc: dict[str, Any]) -> None:
    for profile in (load_profile(xgb_text), parse_profile(mlp_doc)):
        again = load_profile(dump_profile(profile))
        assert again == profile
        assert isinstance(again, ModelProfile)


def test_profiles_are_immutable(xgb_text: str) -> None:
    profile = load_profile(xgb_text)
    with pytest.raises(Exception, match="frozen"):
        profile.model = "other"  # type: ignore[misc]


def test_a_boolean_where_a_number_belongs_is_an_error_not_a_one(xgb_doc: dict[str, Any]) -> None:
    xgb_doc["training"]["instance_count"] = True  # `instance_count: yes` in YAML
    xgb_doc["tuning"]["limits"]["max_jobs"] = False
    xgb_doc["budget"]["max_usd_per_run"] = True
    xgb_doc["budget"]["prices"] = {"ml.m5.xlarge": True}
    found = problems(xgb_doc)
    for path in (
        "training.instance_count",
        "tuning.limits.max_jobs",
        "budget.max_usd_per_run",
        "budget.prices.ml.m5.xlarge",
    ):
        assert found[path].startswith("expected a number, not true/false"), path


def test_too_few_or_too_many_entries_say_how_many(xgb_doc: dict[str, Any]) -> None:
    xgb_doc["dataset"]["channels"] = {}
    xgb_doc["training"]["metrics"] = [{"name": f"m{i}", "regex": f"m{i}=([0-9]+)"} for i in range(21)]
    found = problems(xgb_doc)
    assert found["dataset.channels"] == "needs at least 1 entry (has 0); add one"
    assert found["training.metrics"] == "takes at most 20 entries (has 21); remove some"


def test_allowed_instance_types_default_to_the_profiles_own(xgb_doc: dict[str, Any]) -> None:
    assert parse_profile(xgb_doc).training.instance_types_allowed == ("ml.m5.xlarge",)
    xgb_doc["training"]["allowed_instance_types"] = ["ml.m5.xlarge", "ml.m5.2xlarge"]
    assert parse_profile(xgb_doc).training.instance_types_allowed == ("ml.m5.xlarge", "ml.m5.2xlarge")
