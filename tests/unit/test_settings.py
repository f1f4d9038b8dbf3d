from __future__ import annotations

import pytest

from amtflow.errors import ConfigurationError
from amtflow.settings import load_settings


def test_environment_fills_settings_and_explicit_arguments_win() -> None:
    env = {"AMTFLOW_DATA_BUCKET": "from-env", "AMTFLOW_JOB_PREFIX": "envp", "AMTFLOW_LEADERBOARD_SIZE": "5"}
    settings = load_settings(env, data_bucket="explicit")
    assert settings.data_bucket == "explicit"
    assert settings.job_prefix == "envp"
    assert settings.leaderboard_size == 5


def test_defaults_apply_when_nothing_is_set() -> None:
    settings = load_settings({})
    assert settings.job_prefix == "amtf"
    assert settings.profiles_prefix == "profiles/"


def test_region_falls_back_to_the_aws_variables() -> None:
    assert load_settings({"AWS_REGION": "eu-west-1"}).region == "eu-west-1"


def test_a_malformed_integer_names_the_variable() -> None:
    with pytest.raises(ConfigurationError, match="AMTFLOW_LEADERBOARD_SIZE"):
        load_settings({"AMTFLOW_LEADERBOARD_SIZE": "ten"})


def test_require_names_every_missing_variable_and_the_fix() -> None:
    settings = load_settings({})
    with pytest.raises(ConfigurationError) as info:
        settings.require("data_bucket", "topic_arn")
    assert "AMTFLOW_DATA_BUCKET" in str(info.value)
    assert "AMTFLOW_TOPIC_ARN" in str(info.value)
    assert "template.yaml" in str(info.value)
