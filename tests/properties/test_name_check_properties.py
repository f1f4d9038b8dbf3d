"""Name and value checks match the whole text: a trailing line break (which ``re.match`` with ``$`` lets
through) never makes an invalid name, prefix, channel, instance type or URI look valid."""

from __future__ import annotations

import re
import unicodedata
from typing import Any

import pytest
from hypothesis import example, given
from hypothesis import strategies as st
from properties_support import FAST, XGB_PROFILE, assert_names_a_field, outcome

from amtflow.errors import AmtflowError, InvalidInputError
from amtflow.naming import (
    TRAINING_JOB_NAME_PATTERN,
    TUNING_JOB_NAME_PATTERN,
    check_training_job_name,
    check_tuning_job_name,
    training_job_name,
    tuning_job_name,
)
from amtflow.profile import (
    InMemoryProfileStore,
    ProfileValidationError,
    apply_overrides,
    compile_tuning_request,
    load_profile,
    merge_documents,
)

BASE = load_profile(XGB_PROFILE)
SAGEMAKER_NAME = re.compile(r"[a-zA-Z0-9](-*[a-zA-Z0-9]){0,31}")


@FAST
@given(name=st.text(max_size=40) | st.from_regex(SAGEMAKER_NAME, fullmatch=True).map(lambda s: s + "\n"))
def test_a_tuning_job_name_is_accepted_only_if_sagemaker_would(name: str) -> None:
    result = outcome(lambda: check_tuning_job_name(name))
    valid = len(name) <= 32 and SAGEMAKER_NAME.fullmatch(name) is not None
    if valid:
        assert result == name
    else:
        assert isinstance(result, InvalidInputError)
        assert_names_a_field(result, "HyperParameterTuningJobName")


@FAST
@given(
    token=st.text(max_size=12) | st.from_regex(r"[0-9a-f]{8}\n", fullmatch=True), index=st.integers(0, 999)
)
def test_training_job_names_are_valid_whatever_the_token(token: str, index: int) -> None:
    name = training_job_name("amtf-churn-0badc0de", index, token)
    assert TRAINING_JOB_NAME_PATTERN.fullmatch(name)
    assert len(name) <= 63
    assert check_training_job_name(name) == name


@FAST
@given(prefix=st.text(max_size=12), model=st.text(max_size=40), version=st.text(max_size=40))
def test_job_names_are_valid_or_the_prefix_is_named(prefix: str, model: str, version: str) -> None:
    result = outcome(lambda: tuning_job_name(prefix, model, version))
    if isinstance(result, AmtflowError):
        assert_names_a_field(result, "prefix")
    else:
        assert TUNING_JOB_NAME_PATTERN.fullmatch(result)
        assert len(result) <= 32
        assert result.startswith(prefix + "-")


@pytest.mark.parametrize(
    "change",
    [
        {"training": {"instance_type": "ml.m5.xlarge\n"}},
        {"dataset": {"channels": {"train\n": "text/csv"}}},
        {"training": {"environment": {"KEY\n": "v"}}},
        {"schedule": "rate(7 days)\n"},
    ],
)
def test_a_trailing_line_break_makes_a_profile_value_invalid(change: dict[str, Any]) -> None:
    error = outcome(lambda: load_profile(merge_documents(BASE.to_document(), change)))
    assert isinstance(error, ProfileValidationError), f"{change} was accepted"
    assert_names_a_field(error)
    # As a run's override it is refused too (an instance type the profile does not allow, or not overridable).
    refused = outcome(lambda: apply_overrides(BASE, change))
    assert isinstance(refused, InvalidInputError), f"{change} was accepted as an override"
    assert_names_a_field(refused)


def test_a_model_name_with_a_line_break_is_not_looked_up() -> None:
    error = outcome(lambda: InMemoryProfileStore({"x": XGB_PROFILE}).get("cancer-xgb\n"))
    assert isinstance(error, InvalidInputError)
    assert_names_a_field(error, "model")


def sagemaker_accepts_tag_text(text: str) -> bool:
    """SageMaker's tag pattern ``[\\p{L}\\p{Z}\\p{N}_.:/=+\\-@]*``, by Unicode category."""
    return all(unicodedata.category(c)[0] in "LZN" or c in "_.:/=+-@" for c in text)


@FAST
@given(
    value=st.text(max_size=30)
    | st.sampled_from(["a\tb", "line\nbreak", "nbsp\u00a0ok", "ünïcödé 42", "x\x1fy", "a\u2028b"])
)
@example(value="a\tb")
@example(value="nbsp\u00a0ok")
def test_a_tag_is_accepted_only_if_sagemaker_would(value: str) -> None:
    result = outcome(
        lambda: compile_tuning_request(
            BASE,
            job_name="amtf-cancer-xgb-0badc0de",
            data_uri="s3://bucket/datasets/cancer-xgb/v1/",
            output_uri="s3://bucket/runs/cancer-xgb/amtf-cancer-xgb-0badc0de/",
            role_arn="arn:aws:iam::123456789012:role/amtflow-training",
            tags={"amtflow:execution": value},
        )
    )
    if sagemaker_accepts_tag_text(value) and len(value) <= 256:
        assert isinstance(result, dict)
        assert {"Key": "amtflow:execution", "Value": value} in result["Tags"]
    else:
        assert isinstance(result, InvalidInputError)
        assert_names_a_field(result, "tags")
