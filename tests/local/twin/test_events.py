"""What rule targets receive: event shapes and Input / InputPath / InputTransformer."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime

import pytest

from amtflow.local.twin._events import json_path, normalise_event, target_input

EVENT = {
    "id": "e-1",
    "source": "fixture.worker",
    "detail-type": "Job Finished",
    "time": "2026-11-01T00:00:00Z",
    "detail": {"jobId": "job-1", "count": 3, "tags": ["a", "b"], "odd-key": "x"},
}


def test_without_input_settings_the_whole_event_is_delivered() -> None:
    assert target_input({"Arn": "x"}, EVENT, rule_name="r") == EVENT


def test_constant_input_replaces_the_event() -> None:
    assert target_input({"Input": '{"trigger": "schedule"}'}, EVENT, rule_name="r") == {"trigger": "schedule"}


def test_input_path_selects_part_of_the_event() -> None:
    assert target_input({"InputPath": "$.detail"}, EVENT, rule_name="r") == EVENT["detail"]
    assert json_path(EVENT, "$.detail.tags[1]") == "b"
    assert json_path(EVENT, "$.detail['odd-key']") == "x"
    with pytest.raises(LookupError):
        json_path(EVENT, "$.detail.missing")


def test_input_transformer_inserts_json_values_and_raw_text_inside_quotes() -> None:
    target = {
        "InputTransformer": {
            "InputPathsMap": {"job": "$.detail.jobId", "n": "$.detail.count", "tags": "$.detail.tags"},
            "InputTemplate": (
                '{"jobId": <job>, "n": <n>, "tags": <tags>, "text": "job <job> of <aws.events.rule-name>"}'
            ),
        }
    }
    assert target_input(target, EVENT, rule_name="my-rule") == {
        "jobId": "job-1",
        "n": 3,
        "tags": ["a", "b"],
        "text": "job job-1 of my-rule",
    }


def test_input_transformer_with_a_plain_text_template_delivers_a_string() -> None:
    target = {
        "InputTransformer": {"InputPathsMap": {"job": "$.detail.jobId"}, "InputTemplate": "job <job> done"}
    }
    assert target_input(target, EVENT, rule_name="r") == "job job-1 done"


def test_s3_events_from_moto_take_the_shape_aws_documents() -> None:
    counter = itertools.count(1)
    raw = {
        "version": "0",
        "id": "17793124-05d4-b198-2fde-7ededc63b103",
        "detail-type": "Object Created",
        "source": "aws.s3",
        "account": "123456789012",
        "time": 1793491200.5,
        "region": "us-east-1",
        "resources": ["arn:aws:s3:::data"],
        "ingestion-time": 1793491200.5,
        "detail": {
            "version": "0",
            "bucket": {"name": "data"},
            "object": {"key": "a b+c", "size": 3, "eTag": "abc", "version-id": None, "sequencer": "1"},
            "reason": "ObjectCreated",
        },
    }
    event = normalise_event(
        raw,
        new_id=lambda: f"id-{next(counter)}",
        now=datetime(2026, 1, 1, tzinfo=UTC),
        sequencer=lambda: "0A",
    )
    assert event["time"] == "2026-01-01T00:00:00Z"  # the twin clock, not moto's wall clock
    assert "ingestion-time" not in event
    assert event["id"] != raw["id"]
    assert event["detail"]["object"] == {"key": "a b+c", "size": 3, "etag": "abc", "sequencer": "0A"}
    assert event["detail"]["reason"] == "PutObject"
    assert event["detail"]["requester"] == "123456789012"
