"""The profile's ``deployment`` section: defaults, and a clear error naming the key and the fix."""

from __future__ import annotations

from typing import Any

import pytest

from amtflow.profile import ProfileValidationError, parse_profile


def problems(doc: dict[str, Any]) -> dict[str, str]:
    with pytest.raises(ProfileValidationError) as info:
        parse_profile(doc, source="test.yaml")
    return {p.path: p.message for p in info.value.problems}


def test_no_section_means_no_deployment(xgb_doc: dict[str, Any]) -> None:
    assert parse_profile(xgb_doc).deployment is None


def test_an_empty_section_deploys_one_instance_by_canary_with_created_alarms(xgb_doc: dict[str, Any]) -> None:
    deployment = parse_profile({**xgb_doc, "deployment": {}}).deployment
    assert deployment is not None
    assert (deployment.instance_type, deployment.instance_count) == ("ml.m5.large", 1)
    assert deployment.canary is not None
    assert deployment.canary.size_percent == 10
    assert deployment.alarms.create is True
    assert deployment.auto_approve is False
    assert deployment.keep_configs == 2
    assert deployment.endpoint_name("amtflow", "churn-xgb") == "amtflow-churn-xgb"


def test_a_named_endpoint_and_alarms_are_kept(xgb_doc: dict[str, Any]) -> None:
    section = {"endpoint": "amtflow-churn-live", "alarms": {"create": False, "names": ["churn-5xx"]}}
    deployment = parse_profile({**xgb_doc, "deployment": section}).deployment
    assert deployment is not None
    assert deployment.endpoint_name("amtflow", "churn-xgb") == "amtflow-churn-live"
    assert deployment.alarms.names == ["churn-5xx"]


@pytest.mark.parametrize(
    ("section", "path", "words"),
    [
        ({"endpoint": "has_underscore"}, "deployment.endpoint", "pattern"),
        ({"instance_type": "m5.large"}, "deployment.instance_type", "e.g. ml.m5.large"),
        ({"instance_count": 0}, "deployment.instance_count", "greater than or equal to 1"),
        ({"canary": {"size_percent": 60}}, "deployment.canary.size_percent", "less than or equal to 50"),
        ({"canary": {"wait_s": 7200}}, "deployment.canary.wait_s", "less than or equal to 3600"),
        ({"serverless": {"memory_mb": 1500}}, "deployment.serverless.memory_mb", "multiple of 1024"),
        ({"serverless": {}, "canary": {"size_percent": 10}}, "deployment.canary", "remove canary"),
        ({"alarms": {"create": False}}, "deployment.alarms", "alarms.names"),
        ({"alarms": {"names": ["a", "a"]}}, "deployment.alarms.names", "twice"),
        ({"alarms": {"names": [f"a{i}" for i in range(9)]}}, "deployment.alarms.names", "at most 10"),
        ({"keep_configs": -1}, "deployment.keep_configs", "greater than or equal to 0"),
        ({"auto_aprove": True}, "deployment.auto_aprove", ""),
    ],
)
def test_a_bad_deployment_section_names_the_key_and_the_fix(
    xgb_doc: dict[str, Any], section: dict[str, Any], path: str, words: str
) -> None:
    found = problems({**xgb_doc, "deployment": section})
    assert path in found, found
    assert words in found[path]


def test_the_documented_deployment_section_validates(xgb_doc: dict[str, Any]) -> None:
    import re
    from pathlib import Path

    import yaml

    doc = (Path(__file__).resolve().parents[3] / "docs" / "profiles.md").read_text()
    (block,) = [b for b in re.findall(r"```yaml\n(.*?)```", doc, flags=re.S) if b.startswith("deployment:")]
    deployment = parse_profile({**xgb_doc, **yaml.safe_load(block)}).deployment
    assert deployment is not None
    assert deployment.endpoint == "amtf-churn-live"
    assert deployment.canary is not None
    assert deployment.canary.wait_s == 300
