from __future__ import annotations

import os
import threading

import pytest

from amtflow.errors import ConfigurationError
from amtflow.settings import invocation_environment, load_settings


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


def test_the_training_network_defaults_to_no_isolation_and_no_vpc() -> None:
    # the values the template passes with its parameters' defaults
    env = {
        "AMTFLOW_TRAINING_NETWORK_ISOLATION": "false",
        "AMTFLOW_TRAINING_SUBNET_IDS": "",
        "AMTFLOW_TRAINING_SECURITY_GROUP_IDS": "",
    }
    for settings in (load_settings(env), load_settings({})):
        assert settings.training_network_isolation is False
        assert settings.training_subnet_ids == ()
        assert settings.training_security_group_ids == ()


def test_the_training_network_is_read_from_the_comma_separated_parameters() -> None:
    settings = load_settings(
        {
            "AMTFLOW_TRAINING_NETWORK_ISOLATION": "true",
            "AMTFLOW_TRAINING_SUBNET_IDS": "subnet-0a1b, subnet-0c2d",
            "AMTFLOW_TRAINING_SECURITY_GROUP_IDS": "sg-0e3f",
        }
    )
    assert settings.training_network_isolation is True
    assert settings.training_subnet_ids == ("subnet-0a1b", "subnet-0c2d")
    assert settings.training_security_group_ids == ("sg-0e3f",)


def test_a_malformed_flag_names_the_variable_and_the_values() -> None:
    with pytest.raises(ConfigurationError, match="AMTFLOW_TRAINING_NETWORK_ISOLATION must be true or false"):
        load_settings({"AMTFLOW_TRAINING_NETWORK_ISOLATION": "yes"})


@pytest.mark.parametrize(
    ("env", "named"),
    [
        ({"AMTFLOW_TRAINING_SUBNET_IDS": "subnet-1"}, "AMTFLOW_TRAINING_SECURITY_GROUP_IDS is empty"),
        ({"AMTFLOW_TRAINING_SECURITY_GROUP_IDS": "sg-1"}, "AMTFLOW_TRAINING_SUBNET_IDS is empty"),
        (
            {"AMTFLOW_TRAINING_SUBNET_IDS": "subnet-1", "AMTFLOW_TRAINING_SECURITY_GROUP_IDS": "sg 1"},
            "AMTFLOW_TRAINING_SECURITY_GROUP_IDS has 'sg 1'",
        ),
        (
            {
                "AMTFLOW_TRAINING_SUBNET_IDS": ",".join(f"subnet-{i}" for i in range(17)),
                "AMTFLOW_TRAINING_SECURITY_GROUP_IDS": "sg-1",
            },
            "AMTFLOW_TRAINING_SUBNET_IDS lists 17 IDs",
        ),
    ],
)
def test_a_half_or_malformed_training_vpc_names_the_variable_and_the_fix(
    env: dict[str, str], named: str
) -> None:
    with pytest.raises(ConfigurationError) as info:
        load_settings(env)
    assert named in str(info.value)


def test_an_invocations_variables_are_read_first_and_only_within_its_block(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("AMTFLOW_DATA_BUCKET", "process")
    monkeypatch.setenv("AMTFLOW_JOB_PREFIX", "proc")
    monkeypatch.delenv("AMTFLOW_TOPIC_ARN", raising=False)

    with invocation_environment({"AMTFLOW_DATA_BUCKET": "function", "AMTFLOW_TOPIC_ARN": "arn:t"}):
        inside = load_settings()
        assert "AMTFLOW_TOPIC_ARN" not in os.environ  # never put into the process environment

    assert (inside.data_bucket, inside.topic_arn, inside.job_prefix) == ("function", "arn:t", "proc")
    assert inside.extra["topic_arn"] == "arn:t"
    after = load_settings()
    assert (after.data_bucket, after.topic_arn) == ("process", "")


def test_an_invocations_variables_are_not_seen_by_another_thread(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("AMTFLOW_DATA_BUCKET", raising=False)
    seen: list[str] = []
    with invocation_environment({"AMTFLOW_DATA_BUCKET": "mine"}):
        other = threading.Thread(target=lambda: seen.append(load_settings().data_bucket))
        other.start()
        other.join()
        assert load_settings().data_bucket == "mine"

    assert seen == [""]
