"""Names are valid for their API, deterministic and distinct, whatever the model and version look like."""

from __future__ import annotations

import re
import subprocess
import sys

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from amtflow.errors import InvalidInputError
from amtflow.naming import (
    EXECUTION_NAME_PATTERN,
    TRAINING_JOB_NAME_PATTERN,
    TUNING_JOB_NAME_PATTERN,
    execution_name,
    slug,
    training_job_name,
    tuning_job_name,
)

# Anything a person might type: unicode, spaces, '+', '/', very long strings, or nothing at all.
texts = st.text(max_size=300) | st.sampled_from(
    ["", " ", "+", "日本語", "a" * 500, "2026-11-01T00:00:00+00:00"]
)
attempts = st.integers(min_value=0, max_value=10_000)
prefixes = st.sampled_from(["amtf", "a", "prod-ml", "x1-y2-z3", "p" * 21])


@settings(deadline=None)
@given(prefix=prefixes, model=texts, version=texts, attempt=attempts)
def test_tuning_job_names_are_valid_and_deterministic(
    prefix: str, model: str, version: str, attempt: int
) -> None:
    name = tuning_job_name(prefix, model, version, attempt)
    assert len(name) <= 32
    assert TUNING_JOB_NAME_PATTERN.match(name)
    assert name == name.lower()
    assert name.startswith(prefix + "-")
    assert re.fullmatch(r"[0-9a-f]{8}", name[-8:])
    assert name == tuning_job_name(prefix, model, version, attempt)


@settings(deadline=None)
@given(model=texts, v1=texts, v2=texts, a1=attempts, a2=attempts)
def test_tuning_job_names_differ_when_any_input_differs(
    model: str, v1: str, v2: str, a1: int, a2: int
) -> None:
    if (v1, a1) != (v2, a2):
        assert tuning_job_name("amtf", model, v1, a1) != tuning_job_name("amtf", model, v2, a2)


@settings(deadline=None)
@given(m1=texts, m2=texts)
def test_models_that_slug_alike_still_get_distinct_names(m1: str, m2: str) -> None:
    if m1 != m2:
        assert tuning_job_name("amtf", m1, "v1") != tuning_job_name("amtf", m2, "v1")


@settings(deadline=None)
@given(model=texts, version=texts, discriminator=texts)
def test_execution_names_are_valid_and_deterministic(model: str, version: str, discriminator: str) -> None:
    name = execution_name(model, version, discriminator)
    assert len(name) <= 80
    assert EXECUTION_NAME_PATTERN.match(name)
    assert name == execution_name(model, version, discriminator)


@settings(deadline=None)
@given(model=texts, version=texts, d1=texts, d2=texts)
def test_execution_names_differ_per_discriminator(model: str, version: str, d1: str, d2: str) -> None:
    if d1 != d2:
        assert execution_name(model, version, d1) != execution_name(model, version, d2)


@settings(deadline=None)
@given(model=texts, version=texts, index=st.integers(0, 999_999), token=texts)
def test_training_job_names_fit_63_characters(model: str, version: str, index: int, token: str) -> None:
    tuning = tuning_job_name("amtf", model, version)
    name = training_job_name(tuning, index, token)
    assert len(name) <= 63
    assert TRAINING_JOB_NAME_PATTERN.match(name)
    assert name.startswith(tuning + "-")


@settings(deadline=None)
@given(text=texts)
def test_slug_is_lower_ascii_with_single_inner_hyphens(text: str) -> None:
    out = slug(text, max_length=20)
    assert re.fullmatch(r"[a-z0-9]+(-[a-z0-9]+)*", out)
    assert len(out) <= 20


def test_the_documented_shapes() -> None:
    assert slug("Churn XGB+v2 Ünïcode") == "churn-xgb-v2-unicode"
    assert slug("日本語") == "x"
    assert slug("---") == "x"
    assert slug("ab-cd", max_length=3) == "ab"
    name = tuning_job_name("amtf", "churn-xgb", "2026-11-01")
    assert re.fullmatch(r"amtf-churn-xgb-[0-9a-f]{8}", name)
    long_model = tuning_job_name("amtf", "a-very-long-model-name-for-churn", "v1")
    assert long_model.startswith("amtf-a-very-long-model-")
    assert len(long_model) <= 32
    assert re.fullmatch(r"churn-xgb-2026-11-01-[0-9a-f]{8}", execution_name("churn-xgb", "2026-11-01"))
    assert training_job_name(name, 7, "0a1b2c3d") == f"{name}-007-0a1b2c3d"
    assert re.fullmatch(rf"{name}-012-[0-9a-f]{{8}}", training_job_name(name, 12, "not hex"))


def test_names_are_the_same_in_another_process() -> None:
    code = "from amtflow.naming import tuning_job_name as t; print(t('amtf', 'Modèle ü', 'v 1', 3))"
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout.strip()
    assert out == tuning_job_name("amtf", "Modèle ü", "v 1", 3)


@pytest.mark.parametrize("prefix", ["", "AMTF", "amtf_", "-amtf", "a--b", "p" * 22])
def test_a_bad_prefix_is_a_clear_error(prefix: str) -> None:
    with pytest.raises(InvalidInputError, match="AMTFLOW_JOB_PREFIX") as info:
        tuning_job_name(prefix, "m", "v")
    assert info.value.field == "job_prefix"


def test_bad_arguments_are_named() -> None:
    with pytest.raises(InvalidInputError) as info:
        tuning_job_name("amtf", "m", "v", attempt=-1)
    assert info.value.field == "attempt"
    with pytest.raises(InvalidInputError) as info:
        training_job_name("not_valid", 1, "t")
    assert info.value.field == "tuning_job_name"
    with pytest.raises(InvalidInputError) as info:
        training_job_name("amtf-m-0a0b0c0d", -1, "t")
    assert info.value.field == "index"
