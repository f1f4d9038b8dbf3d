"""StartRun: one execution per dataset version, named deterministically; other objects start nothing."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from app_fakes import MODEL, T0, XGB_PROFILE, Datasets, Executions, profiles

from amtflow.app import StartOutcome, StartRun, route_event
from amtflow.errors import InvalidInputError
from amtflow.messages import RunRequest, Trigger
from amtflow.naming import EXECUTION_NAME_PATTERN, execution_name

EVENTS = Path(__file__).resolve().parents[3] / "events"


def event(name: str) -> dict[str, Any]:
    return json.loads((EVENTS / name).read_text())  # type: ignore[no-any-return]


def router(executions: Executions, *texts: str, datasets: Datasets | None = None) -> StartRun:
    return StartRun(
        profiles=profiles(*texts),
        datasets=datasets or Datasets({MODEL: "2026-11-01"}),
        executions=executions,
        execution_namer=lambda model, version: execution_name(model, version),
        data_bucket="amtflow-data",
        schedule_period=timedelta(hours=1),
    )


def test_the_marker_object_starts_one_execution_named_after_the_version() -> None:
    executions = Executions()
    result = route_event(router(executions), event("s3_marker_created.json"))
    (started,) = result.executions
    assert started.outcome is StartOutcome.STARTED
    assert result.started == 1
    assert started.name == execution_name(MODEL, "2026-11-01")
    assert EXECUTION_NAME_PATTERN.match(started.name)
    request = RunRequest.model_validate(executions.started[started.name])
    assert request.model == MODEL
    assert request.dataset_version == "2026-11-01"
    assert request.trigger is Trigger.S3
    assert request.source is not None
    assert request.source.key == "datasets/cancer-xgb/2026-11-01/_READY"
    assert request.source.time == "2026-11-01T12:00:00Z"  # the data's arrival, for Notify's latency metric


def test_a_duplicated_marker_event_is_a_duplicate_not_a_second_run() -> None:
    executions = Executions()
    r = router(executions)
    route_event(r, event("s3_marker_created.json"))
    again = event("s3_marker_created.json")
    again["id"] = "another-delivery-of-the-same-object"
    (second,) = route_event(r, again).executions
    assert second.outcome is StartOutcome.DUPLICATE
    assert len(executions.started) == 1


def test_a_channel_file_starts_nothing() -> None:
    executions = Executions()
    result = route_event(router(executions), event("s3_channel_object_created.json"))
    assert result.executions == ()
    assert "not a marker" in result.ignored
    assert executions.started == {}


@pytest.mark.parametrize(
    ("bucket", "key", "why"),
    [
        ("other-bucket", "datasets/cancer-xgb/v1/_READY", "not the data bucket"),
        ("amtflow-data", "profiles/cancer-xgb.yaml", "not under datasets/"),
        ("amtflow-data", "datasets/cancer-xgb/v1/_DONE", "is not the marker object '_READY'"),
        ("amtflow-data", "datasets/Cancer XGB/v1/_READY", "not valid"),
        ("amtflow-data", "datasets/cancer-xgb//_READY", "not a marker"),
    ],
)
def test_other_objects_start_nothing_and_say_why(bucket: str, key: str, why: str) -> None:
    executions = Executions()
    result = router(executions).on_object_created(bucket, key, "id-1")
    assert why in result.ignored
    assert executions.started == {}


def test_the_profiles_own_marker_is_honoured() -> None:
    executions = Executions()
    custom = XGB_PROFILE.replace("marker: _READY", "marker: manifest.json")
    r = router(executions, custom)
    assert r.on_object_created("amtflow-data", "datasets/cancer-xgb/v1/_READY", "a").ignored
    assert r.on_object_created("amtflow-data", "datasets/cancer-xgb/v1/manifest.json", "b").started == 1


def test_a_marker_for_a_model_without_profile_starts_a_run_that_will_explain() -> None:
    executions = Executions()
    result = router(executions).on_object_created("amtflow-data", "datasets/unknown-model/v1/_READY", "x")
    assert result.started == 1


def test_url_encoded_keys_are_decoded() -> None:
    executions = Executions()
    e = event("s3_marker_created.json")
    e["detail"]["object"]["key"] = "datasets/cancer-xgb/2026-11-01/%5FREADY"
    assert route_event(router(executions), e).started == 1


def test_the_schedule_starts_each_due_profile_once_per_slot() -> None:
    executions = Executions()
    hourly = XGB_PROFILE.replace("schedule: rate(7 days)", "schedule: rate(1 hour)")
    r = router(executions, hourly)
    result = route_event(r, event("scheduled_event.json"))
    (started,) = result.executions
    request = RunRequest.model_validate(executions.started[started.name])
    assert request.trigger is Trigger.SCHEDULE
    assert request.dataset_version == "2026-11-01"
    (again,) = route_event(r, event("scheduled_event.json")).executions  # while it runs: the same answer
    assert (again.outcome, again.arn) == (StartOutcome.STARTED, started.arn)
    assert len(executions.started) == 1
    executions.end(started.name)
    assert route_event(r, event("scheduled_event.json")).executions[0].outcome is StartOutcome.DUPLICATE


def test_the_schedule_skips_profiles_not_due_or_without_data() -> None:
    executions = Executions()
    weekly = router(executions)  # rate(7 days): 2026-11-01T13:00 is not a 7-day boundary
    assert route_event(weekly, event("scheduled_event.json")).started == 0
    hourly = XGB_PROFILE.replace("schedule: rate(7 days)", "schedule: rate(1 hour)")
    no_data = router(executions, hourly, datasets=Datasets())
    result = route_event(no_data, event("scheduled_event.json"))
    assert result.started == 0
    assert "cancer-xgb: due but no complete dataset version" in result.ignored


def test_a_version_folder_with_an_invalid_name_is_skipped_with_the_reason() -> None:
    executions = Executions()
    hourly = XGB_PROFILE.replace("schedule: rate(7 days)", "schedule: rate(1 hour)")
    r = router(executions, hourly, datasets=Datasets({MODEL: "2026 11 01"}))
    result = route_event(r, event("scheduled_event.json"))
    assert result.started == 0
    assert "datasetVersion" in result.ignored
    assert executions.started == {}


def test_a_drift_event_starts_a_drift_run() -> None:
    executions = Executions()
    (started,) = route_event(router(executions), event("drift_detected.json")).executions
    request = RunRequest.model_validate(executions.started[started.name])
    assert request.trigger is Trigger.DRIFT
    assert request.drift is not None
    assert request.drift.severity == "moderate"
    assert request.dataset_version == "2026-11-01"


def test_a_malformed_drift_event_names_the_field() -> None:
    e = event("drift_detected.json")
    del e["detail"]["datasetVersion"]
    with pytest.raises(InvalidInputError, match="datasetVersion"):
        route_event(router(Executions()), e)


def test_unsupported_events_start_nothing() -> None:
    e = event("scheduled_event.json")
    e["source"] = "aws.ec2"
    assert "unsupported event" in route_event(router(Executions()), e).ignored


def test_schedule_slot_names_differ_between_hours() -> None:
    executions = Executions()
    hourly = XGB_PROFILE.replace("schedule: rate(7 days)", "schedule: rate(1 hour)")
    r = router(executions, hourly)
    first = r.on_schedule(T0).executions[0].name
    second = r.on_schedule(T0 + timedelta(hours=1)).executions[0].name
    assert first != second


@pytest.mark.parametrize("key", ["datasets/cancer-xgb/v1%0A/_READY", "datasets/cancer-xgb%0A/v1/_READY"])
def test_a_line_break_in_a_key_starts_nothing(key: str) -> None:
    executions = Executions()
    e = event("s3_marker_created.json")
    e["detail"]["object"]["key"] = key
    assert "not valid" in route_event(router(executions), e).ignored
    assert executions.started == {}


@pytest.mark.parametrize(("section", "field"), [("bucket", "detail.bucket"), ("object", "detail.object")])
def test_an_s3_event_missing_a_section_names_it(section: str, field: str) -> None:
    e = event("s3_marker_created.json")
    del e["detail"][section]
    with pytest.raises(InvalidInputError, match=field) as error:
        route_event(router(Executions()), e)
    assert error.value.field == field


@pytest.mark.parametrize("time", ["yesterday", "2026-13-01T00:00:00Z", 10**30, None])
def test_a_scheduled_event_with_a_bad_time_names_the_field(time: object) -> None:
    e = event("scheduled_event.json")
    e["time"] = time
    with pytest.raises(InvalidInputError, match="time") as error:
        route_event(router(Executions()), e)
    assert error.value.field == "time"


def test_an_event_over_256_kb_is_refused() -> None:
    e = event("drift_detected.json")
    e["detail"]["notes"] = "x" * 262_144
    executions = Executions()
    with pytest.raises(InvalidInputError, match="256 KB"):
        route_event(router(executions), e)
    assert executions.started == {}
