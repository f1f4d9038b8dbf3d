"""EventBridge pattern matching as rules use it."""

from __future__ import annotations

import pytest

from amtflow.errors import InvalidInputError
from amtflow.local.twin import matches

S3_EVENT = {
    "source": "aws.s3",
    "detail-type": "Object Created",
    "detail": {"bucket": {"name": "data"}, "object": {"key": "datasets/churn/v1/_READY", "size": 0}},
    "resources": ["arn:aws:s3:::data"],
}


def test_exact_values_and_nested_objects_must_all_match() -> None:
    assert matches({"source": ["aws.s3"], "detail": {"bucket": {"name": ["data"]}}}, S3_EVENT)
    assert not matches({"source": ["aws.s3"], "detail": {"bucket": {"name": ["other"]}}}, S3_EVENT)
    assert not matches({"source": ["aws.sagemaker"]}, S3_EVENT)


def test_prefix_and_suffix() -> None:
    assert matches({"detail": {"object": {"key": [{"prefix": "datasets/"}]}}}, S3_EVENT)
    assert matches({"detail": {"object": {"key": [{"suffix": "/_READY"}]}}}, S3_EVENT)
    assert not matches({"detail": {"object": {"key": [{"prefix": "profiles/"}]}}}, S3_EVENT)
    assert not matches({"detail": {"object": {"size": [{"prefix": "0"}]}}}, S3_EVENT)


def test_anything_but_value_list_and_prefix() -> None:
    assert matches({"detail-type": [{"anything-but": ["Object Deleted"]}]}, S3_EVENT)
    assert not matches({"detail-type": [{"anything-but": "Object Created"}]}, S3_EVENT)
    assert not matches({"detail": {"object": {"key": [{"anything-but": {"prefix": "datasets/"}}]}}}, S3_EVENT)
    # anything-but never matches an absent field
    assert not matches({"detail": {"missing": [{"anything-but": "x"}]}}, S3_EVENT)


def test_numeric_ranges() -> None:
    event = {"detail": {"score": 0.42, "label": "0.42"}}
    assert matches({"detail": {"score": [{"numeric": [">", 0, "<=", 0.5]}]}}, event)
    assert not matches({"detail": {"score": [{"numeric": [">=", 0.5]}]}}, event)
    assert not matches({"detail": {"label": [{"numeric": [">", 0]}]}}, event)


def test_exists_true_and_false_including_missing_parents() -> None:
    assert matches({"detail": {"object": {"size": [{"exists": True}]}}}, S3_EVENT)
    assert matches({"detail": {"object": {"version-id": [{"exists": False}]}}}, S3_EVENT)
    assert matches({"detail": {"nothing": {"here": [{"exists": False}]}}}, S3_EVENT)
    assert not matches({"detail": {"nothing": {"here": [{"exists": True}]}}}, S3_EVENT)


def test_array_fields_match_when_any_element_matches() -> None:
    assert matches({"resources": ["arn:aws:s3:::data"]}, S3_EVENT)
    assert matches({"resources": [{"prefix": "arn:aws:s3:::"}]}, S3_EVENT)
    assert not matches({"resources": ["arn:aws:s3:::other"]}, S3_EVENT)


def test_or_and_any_filter_of_a_field() -> None:
    status_rule = {"detail": {"status": ["Completed", "Failed", "Stopped"]}}
    assert matches(status_rule, {"detail": {"status": "Failed"}})
    assert not matches(status_rule, {"detail": {"status": "InProgress"}})
    either = {"$or": [{"source": ["a"]}, {"detail": {"x": [1]}}]}
    assert matches(either, {"source": "b", "detail": {"x": 1}})
    assert not matches(either, {"source": "b", "detail": {"x": 2}})


def test_booleans_do_not_equal_numbers() -> None:
    assert matches({"detail": {"flag": [True]}}, {"detail": {"flag": True}})
    assert not matches({"detail": {"flag": [1]}}, {"detail": {"flag": True}})


def test_unknown_filter_is_rejected_naming_the_field() -> None:
    with pytest.raises(InvalidInputError, match=r"'detail.key'.*not supported") as info:
        matches({"detail": {"key": [{"regex": ".*"}]}}, {"detail": {"key": "a"}})
    assert info.value.field == "detail.key"


def test_scalar_instead_of_list_is_rejected() -> None:
    with pytest.raises(InvalidInputError, match="must be a list of filters"):
        matches({"source": "aws.s3"}, S3_EVENT)
