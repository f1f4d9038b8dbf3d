"""Overrides are an allow-list: a run may adjust the search within the stored profile's limits, no more."""

from __future__ import annotations

from typing import Any

import pytest

from amtflow.errors import InvalidInputError
from amtflow.profile import (
    EarlyStopping,
    ModelProfile,
    OverridesRefusedError,
    Scaling,
    Strategy,
    apply_overrides,
    load_profile,
    parse_profile,
)

ATTACK: dict[str, Any] = {
    "budget": {
        "max_usd_per_run": None,
        "max_usd_per_month": None,
        "prices": {"ml.p4d.24xlarge": 0.0001},
    },
    "training": {"instance_type": "ml.p4d.24xlarge"},
    "tuning": {"limits": {"max_jobs": 500, "max_parallel": 20}},
}


@pytest.fixture
def profile(xgb_text: str) -> ModelProfile:
    return load_profile(xgb_text)


def refused(profile: ModelProfile, overrides: dict[str, Any]) -> dict[str, str]:
    """Apply ``overrides`` expecting a refusal; the problems by key path."""
    with pytest.raises(OverridesRefusedError) as info:
        apply_overrides(profile, overrides)
    error = info.value
    assert isinstance(error, InvalidInputError)
    assert str(error).startswith("overrides refused")
    assert error.field == error.problems[0].path
    return {p.path: p.message for p in error.problems}


def nested(depth: int) -> dict[str, Any]:
    root: dict[str, Any] = {}
    node = root
    for _ in range(depth):
        node["x"] = {}
        node = node["x"]
    return root


def test_the_budget_bypass_is_refused_naming_each_key_and_the_rule(profile: ModelProfile) -> None:
    found = refused(profile, ATTACK)
    assert found["overrides.budget.max_usd_per_run"] == (
        "not overridable — budget caps and prices come from the stored profile; "
        "change the profile and push it"
    )
    assert "overrides.budget.max_usd_per_month" in found
    assert "overrides.budget.prices" in found
    assert (
        "is not an instance type the stored profile allows (ml.m5.xlarge)"
        in (found["overrides.training.instance_type"])
    )


@pytest.mark.parametrize(
    ("overrides", "path", "needle"),
    [
        ({"budget": {"max_usd_per_run": 1000}}, "overrides.budget.max_usd_per_run", "budget caps"),
        ({"budget": None}, "overrides.budget", "budget caps"),
        (
            {"training": {"image": "999999999999.dkr.ecr.us-east-1.amazonaws.com/x:1"}},
            "overrides.training.image",
            "training image",
        ),
        ({"training": {"environment": {"AWS_REGION": "x"}}}, "overrides.training.environment", "environment"),
        ({"training": {"instance_count": 20}}, "overrides.training.instance_count", "training definition"),
        ({"training": {"volume_gb": 2000}}, "overrides.training.volume_gb", "training definition"),
        ({"training": {"spot": {"enabled": False}}}, "overrides.training.spot", "training definition"),
        (
            {"training": {"static_hyperparameters": {"a": 1}}},
            "overrides.training.static_hyperparameters",
            "training definition",
        ),
        (
            {"training": {"allowed_instance_types": ["ml.p4d.24xlarge"]}},
            "overrides.training.allowed_instance_types",
            "allowed instance types",
        ),
        ({"tuning": {"objective": {"goal": "Minimize"}}}, "overrides.tuning.objective", "objective"),
        (
            {"tuning": {"limits": {"max_runtime_s": 2_592_000}}},
            "overrides.tuning.limits.max_runtime_s",
            "runtime limit",
        ),
        (
            {"tuning": {"hyperband": {"min_resource": 1, "max_resource": 9}}},
            "overrides.tuning.hyperband",
            "Hyperband",
        ),
        ({"dataset": {"marker": "_GO"}}, "overrides.dataset.marker", "dataset layout"),
        ({"promotion": {"approval": "Approved"}}, "overrides.promotion.approval", "promotion rule"),
        ({"notifications": {"email": "x@example.com"}}, "overrides.notifications.email", "notifications"),
        ({"warm_start": {"enabled": False}}, "overrides.warm_start.enabled", "warm-start policy"),
        ({"schedule": None}, "overrides.schedule", "schedule"),
        ({"description": "x"}, "overrides.description", "description"),
        ({"sample_log_lines": []}, "overrides.sample_log_lines", "sample log lines"),
        ({"model": "other-model"}, "overrides.model", "start a run for the other model"),
        ({"schema": "amtflow/v1"}, "overrides.schema", "schema"),
        ({"role_arn": "arn:aws:iam::999999999999:role/x"}, "overrides.role_arn", "unknown key 'role_arn'"),
        ({"output_uri": "s3://elsewhere/"}, "overrides.output_uri", "unknown key"),
        ({"vpc": {"subnets": ["subnet-1"]}}, "overrides.vpc", "unknown key"),
        ({"kms_key": "k"}, "overrides.kms_key", "unknown key"),
        ({"tuning": {"stratgy": "Random"}}, "overrides.tuning.stratgy", "did you mean 'strategy'?"),
        ({"tunning": {}}, "overrides.tunning", "did you mean 'tuning'?"),
    ],
)
def test_everything_outside_the_allow_list_is_refused(
    profile: ModelProfile, overrides: dict[str, Any], path: str, needle: str
) -> None:
    found = refused(profile, overrides)
    assert needle in found[path], found
    if "unknown" not in needle and "did you mean" not in needle:
        assert found[path].startswith("not overridable — ")


def test_every_allowed_key_may_change_within_the_limits(profile: ModelProfile) -> None:
    changed = apply_overrides(
        profile,
        {
            "tuning": {
                "strategy": "Random",
                "ranges": {
                    "eta": {"min": 0.05, "max": 0.2, "scaling": "linear"},
                    "max_depth": {"min": 3, "max": 6},
                    "tree_method": {"values": ["approx"]},
                },
                "limits": {"max_jobs": 12, "max_parallel": 2},
                "early_stopping": "Off",
                "completion": {"target": 0.9, "not_improving": 5, "convergence": False},
                "random_seed": 7,
            },
            "training": {"instance_type": "ml.m5.xlarge"},
        },
    )
    tuning = changed.tuning
    assert tuning.strategy is Strategy.RANDOM
    assert (tuning.ranges["eta"].min, tuning.ranges["eta"].max) == (0.05, 0.2)
    assert tuning.ranges["eta"].scaling is Scaling.LINEAR
    assert tuning.ranges["tree_method"].values == ["approx"]
    assert (tuning.limits.max_jobs, tuning.limits.max_parallel) == (12, 2)
    assert tuning.early_stopping is EarlyStopping.OFF
    assert (tuning.completion.target, tuning.completion.not_improving) == (0.9, 5)
    assert tuning.random_seed == 7
    assert changed.budget == profile.budget
    assert changed.training == profile.training


def test_the_stored_values_themselves_are_accepted(profile: ModelProfile) -> None:
    same = apply_overrides(profile, {"tuning": {"limits": {"max_jobs": 30, "max_parallel": 3}}})
    assert same.tuning.limits == profile.tuning.limits


@pytest.mark.parametrize(
    ("overrides", "path", "needle"),
    [
        (
            {"tuning": {"limits": {"max_jobs": 31}}},
            "overrides.tuning.limits.max_jobs",
            "up to 31 training jobs, above the stored profile's 30",
        ),
        (
            {"tuning": {"limits": {"max_parallel": 4}}},
            "overrides.tuning.limits.max_parallel",
            "4 is above the stored profile's max_parallel (3)",
        ),
        (
            {"tuning": {"ranges": {"eta": {"min": 0.001}}}},
            "overrides.tuning.ranges.eta.min",
            "below the stored profile's min (0.01)",
        ),
        (
            {"tuning": {"ranges": {"eta": {"max": 0.9}}}},
            "overrides.tuning.ranges.eta.max",
            "above the stored profile's max (0.3)",
        ),
        (
            {"tuning": {"ranges": {"max_depth": {"max": 100}}}},
            "overrides.tuning.ranges.max_depth.max",
            "above the stored profile's max (10)",
        ),
        (
            {"tuning": {"ranges": {"max_depth": {"max": 9.5}}}},
            "overrides.tuning.ranges.max_depth",
            "range is integer; an override may narrow it but not make it continuous",
        ),
        (
            {"tuning": {"ranges": {"tree_method": {"values": ["hist", "exact"]}}}},
            "overrides.tuning.ranges.tree_method.values",
            "exact not among the stored profile's values",
        ),
    ],
)
def test_limits_may_only_narrow(
    profile: ModelProfile, overrides: dict[str, Any], path: str, needle: str
) -> None:
    found = refused(profile, overrides)
    assert needle in found[path], found


@pytest.mark.parametrize(
    ("overrides", "path", "needle"),
    [
        (
            {"tuning": {"ranges": {"gamma": {"min": 0, "max": 5}}}},
            "overrides.tuning.ranges.gamma",
            "the stored profile does not tune 'gamma'",
        ),
        ({"tuning": {"ranges": {"eta": None}}}, "overrides.tuning.ranges.eta", "cannot be dropped"),
        ({"tuning": {"ranges": None}}, "overrides.tuning.ranges", "cannot be removed"),
        ({"tuning": None}, "overrides.tuning", "cannot be removed"),
        ({"tuning": {"limits": None}}, "overrides.tuning.limits", "cannot be removed"),
        ({"tuning": "Random"}, "overrides.tuning", "expected a mapping"),
        (
            {"tuning": {"strategy": {"a": 1}}},
            "overrides.tuning.strategy",
            "expected one value, got a mapping",
        ),
        (
            {"tuning": {"ranges": {"tree_method": {"values": "hist"}}}},
            "overrides.tuning.ranges.tree_method.values",
            "expected a list of one or more values",
        ),
        (
            {"tuning": {"ranges": {"tree_method": {"values": []}}}},
            "overrides.tuning.ranges.tree_method.values",
            "got an empty list",
        ),
        (
            {"tuning": {"ranges": {"tree_method": {"values": [["hist"]]}}}},
            "overrides.tuning.ranges.tree_method.values[0]",
            "must be a string, number or boolean",
        ),
        ({"tuning": {"ranges": {"eta": {"step": 0.1}}}}, "overrides.tuning.ranges.eta.step", "unknown key"),
    ],
)
def test_ranges_are_the_profiles_own_and_shapes_are_checked_before_merging(
    profile: ModelProfile, overrides: dict[str, Any], path: str, needle: str
) -> None:
    found = refused(profile, overrides)
    assert needle in found[path], found


def test_a_grid_may_not_have_more_jobs_than_the_stored_profile(grid_doc: dict[str, Any]) -> None:
    grid = parse_profile(grid_doc)  # 3 x 2 combinations, no max_jobs: 6 jobs
    smaller = apply_overrides(grid, {"tuning": {"ranges": {"depth": {"values": [2, 4]}}}})
    assert smaller.tuning.ranges["depth"].values == [2, 4]
    grid_doc["tuning"]["strategy"] = "Random"
    grid_doc["tuning"]["limits"]["max_jobs"] = 4
    random = parse_profile(grid_doc)
    found = refused(random, {"tuning": {"strategy": "Grid", "limits": {"max_jobs": None}}})
    assert "up to 6 training jobs, above the stored profile's 4" in found["overrides.tuning.limits.max_jobs"]


def test_an_instance_type_the_profile_allows_may_be_chosen(xgb_doc: dict[str, Any]) -> None:
    xgb_doc["training"]["allowed_instance_types"] = ["ml.m5.xlarge", "ml.m5.2xlarge"]
    profile = parse_profile(xgb_doc)
    bigger = apply_overrides(profile, {"training": {"instance_type": "ml.m5.2xlarge"}})
    assert bigger.training.instance_type == "ml.m5.2xlarge"
    assert bigger.training.allowed_instance_types == ["ml.m5.xlarge", "ml.m5.2xlarge"]
    found = refused(profile, {"training": {"instance_type": "ml.p4d.24xlarge"}})
    assert (
        "(ml.m5.xlarge, ml.m5.2xlarge); add it to training.allowed_instance_types"
        in (found["overrides.training.instance_type"])
    )


@pytest.mark.parametrize(
    "overrides",
    [
        {"budget": nested(5000)},
        {"x": nested(5000)},
        {"tuning": {"ranges": {"eta": {"min": nested(5000)}}}},
        {"tuning": {"ranges": {"tree_method": {"values": [nested(5000)]}}}},
        {"tuning": {"completion": {"target": nested(5000)}}},
        {"training": {"instance_type": nested(5000)}},
    ],
)
def test_a_deeply_nested_document_is_refused_by_the_walk(
    profile: ModelProfile, overrides: dict[str, Any]
) -> None:
    assert refused(profile, overrides)


def test_a_flood_of_refused_keys_lists_twenty_and_counts_the_rest(profile: ModelProfile) -> None:
    found = refused(profile, {f"key{i}": i for i in range(500)})
    assert len(found) == 21
    assert found["overrides"] == "and 480 more problems"


def test_nothing_is_merged_when_anything_is_refused(profile: ModelProfile) -> None:
    # An allowed change next to a refused one: the whole document is refused, the profile is untouched.
    refused(profile, {"tuning": {"limits": {"max_jobs": 5}}, "budget": {"max_usd_per_run": 1e9}})
    assert profile.tuning.limits.max_jobs == 30
    assert profile.budget.max_usd_per_run == 25
