"""The ``monitoring:`` section: stall rules validated with errors that name the key and the fix."""

from __future__ import annotations

from typing import Any

import pytest

from amtflow.profile import OnStall, ProfileValidationError, load_profile


def with_monitoring(doc: dict[str, Any], monitoring: Any) -> dict[str, Any]:
    return {**doc, "monitoring": monitoring}


def test_no_monitoring_section_watches_nothing(mlp_doc: dict[str, Any]) -> None:
    monitoring = load_profile(mlp_doc).monitoring
    assert not monitoring.watches
    assert monitoring.on_stall is OnStall.NOTIFY


def test_stall_rules_are_read(mlp_doc: dict[str, Any]) -> None:
    monitoring = load_profile(
        with_monitoring(mlp_doc, {"stall_after": {"minutes": 45}, "silent_after": 20, "on_stall": "Stop"})
    ).monitoring
    assert monitoring.stall_after is not None
    assert monitoring.stall_after.minutes == 45
    assert monitoring.silent_after == 20
    assert monitoring.on_stall is OnStall.STOP
    assert monitoring.watches


@pytest.mark.parametrize(
    ("monitoring", "where", "says"),
    [
        ({"on_stall": "stop"}, "monitoring.on_stall", "stop needs a rule to fire"),
        ({"stall_after": {"trials": 3, "minutes": 5}}, "monitoring.stall_after", "exactly one of trials"),
        ({"stall_after": {}}, "monitoring.stall_after", "exactly one of trials"),
        ({"stall_after": {"trials": 0}}, "monitoring.stall_after.trials", "greater than or equal to 1"),
        ({"silent_after": 0}, "monitoring.silent_after", "greater than or equal to 1"),
        ({"on_stall": "halt", "silent_after": 5}, "monitoring.on_stall", "'notify' or 'stop'"),
        ({"stall_afterr": {"trials": 3}}, "monitoring.stall_afterr", "did you mean 'stall_after'"),
    ],
)
def test_a_bad_monitoring_section_names_the_key_and_the_fix(
    mlp_doc: dict[str, Any], monitoring: dict[str, Any], where: str, says: str
) -> None:
    with pytest.raises(ProfileValidationError) as info:
        load_profile(with_monitoring(mlp_doc, monitoring))
    assert f"{where}:" in str(info.value)
    assert says in str(info.value)


def test_overrides_cannot_change_monitoring(mlp_doc: dict[str, Any]) -> None:
    from amtflow.profile import OverridesRefusedError, apply_overrides

    profile = load_profile(with_monitoring(mlp_doc, {"stall_after": {"trials": 5}}))
    with pytest.raises(OverridesRefusedError) as info:
        apply_overrides(profile, {"monitoring": {"on_stall": "stop"}})
    assert "overrides.monitoring" in str(info.value)
