"""The trigger router's parsers: S3 "Object Created" events and their marker keys, drift and schedule events.

Keys reach the router URL-encoded (``+`` for a space, ``%xx``) and are decoded as the Powertools data class
does; whatever the key, one marker object starts at most one execution, for a valid model and version,
under a valid execution name, and nothing else starts anything.
"""

from __future__ import annotations

import copy
import re
from typing import Any
from urllib.parse import quote, quote_plus

import pytest
from hypothesis import example, given
from hypothesis import strategies as st
from properties_support import (
    BUCKET,
    FAST,
    MAX_PAYLOAD_BYTES,
    THOROUGH,
    RecordingExecutions,
    assert_names_a_field,
    event,
    json_values,
    mappings_with,
    outcome,
    router,
)

from amtflow.app import RouteResult, route_event
from amtflow.drift import DriftSeverity
from amtflow.errors import AmtflowError
from amtflow.messages import DATASET_VERSION_PATTERN, MODEL_NAME_PATTERN
from amtflow.naming import EXECUTION_NAME_PATTERN

MODEL = "cancer-xgb"  # the example profile; its marker is _READY
VERSION_CHARS = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._=-"
valid_versions = st.from_regex(
    re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9._=-]{0,126}[A-Za-z0-9])?"), fullmatch=True
)
key_text = st.text(
    st.characters(blacklist_categories=("Cs",)),
    max_size=300,
)
key_parts = (
    st.sampled_from(["datasets", MODEL, "_READY", "..", ".", "", " ", "+", "%2F", "a b", "é"]) | key_text
)
encodings = st.sampled_from([quote_plus, quote, lambda k: k])


def s3_event(key: str, bucket: str = BUCKET) -> dict[str, Any]:
    e = event("s3_marker_created.json")
    e["detail"]["bucket"]["name"] = bucket
    e["detail"]["object"]["key"] = key
    return e


def check_started(result: RouteResult, executions: RecordingExecutions) -> None:
    assert len(executions.started) == len(result.executions) <= 1
    for name, run_input in executions.started:
        assert EXECUTION_NAME_PATTERN.fullmatch(name), name
        assert re.fullmatch(MODEL_NAME_PATTERN, run_input["model"])
        assert re.fullmatch(DATASET_VERSION_PATTERN, run_input["datasetVersion"])
        assert run_input["trigger"] in ("s3", "drift")


@FAST
@given(parts=st.lists(key_parts, min_size=0, max_size=6), encode=encodings)
@example(parts=["datasets", MODEL, "..", "_READY"], encode=quote_plus)
@example(parts=["datasets", MODEL, "v 1", "_READY"], encode=quote_plus)
@example(parts=["datasets", MODEL, "v+1", "_READY"], encode=quote_plus)
@example(parts=["datasets", MODEL, "v%2F1", "_READY"], encode=lambda k: k)
@example(parts=["datasets", MODEL, "v1" * 2000, "_READY"], encode=quote_plus)
def test_any_object_key_starts_at_most_one_valid_execution(parts: list[str], encode: Any) -> None:
    key = encode("/".join(parts))
    executions = RecordingExecutions()
    result = outcome(lambda: route_event(router(executions), s3_event(key)))
    if isinstance(result, AmtflowError):
        assert_names_a_field(result, "key", "model")
        assert not executions.started
        return
    check_started(result, executions)
    assert result.executions or result.ignored, "an event neither started a run nor said why not"


@THOROUGH
@given(version=valid_versions, encode=encodings)
def test_a_marker_key_round_trips_to_its_dataset_version(version: str, encode: Any) -> None:
    executions = RecordingExecutions()
    result = route_event(router(executions), s3_event(encode(f"datasets/{MODEL}/{version}/_READY")))
    check_started(result, executions)
    ((_, run_input),) = executions.started
    assert run_input["datasetVersion"] == version
    assert run_input["model"] == MODEL


@FAST
@given(version=valid_versions, name=st.sampled_from(["_READY.tmp", "part-0000.csv", "_ready", "manifest"]))
def test_objects_other_than_the_marker_start_nothing(version: str, name: str) -> None:
    executions = RecordingExecutions()
    result = route_event(router(executions), s3_event(quote_plus(f"datasets/{MODEL}/{version}/{name}")))
    assert not executions.started
    assert "marker" in result.ignored


@FAST
@given(bucket=st.text(max_size=70))
def test_objects_in_other_buckets_start_nothing(bucket: str) -> None:
    executions = RecordingExecutions()
    result = outcome(lambda: route_event(router(executions), s3_event(f"datasets/{MODEL}/v1/_READY", bucket)))
    if bucket == BUCKET:
        assert len(executions.started) == 1
    else:
        assert not executions.started
        assert isinstance(result, RouteResult)
        assert result.ignored


@pytest.mark.parametrize("key", [f"datasets/{MODEL}/v1%0A/_READY", f"datasets/{MODEL}%0A/v1/_READY"])
def test_a_line_break_in_a_key_is_ignored_not_a_crash(key: str) -> None:
    executions = RecordingExecutions()
    result = outcome(lambda: route_event(router(executions), s3_event(key)))
    assert isinstance(result, RouteResult | AmtflowError)
    assert not executions.started


def _without(e: dict[str, Any], *path: str) -> dict[str, Any]:
    e = copy.deepcopy(e)
    node = e
    for part in path[:-1]:
        node = node[part]
    del node[path[-1]]
    return e


@pytest.mark.parametrize(
    "path", [("detail",), ("detail", "bucket"), ("detail", "object"), ("detail", "object", "key")]
)
def test_an_s3_event_missing_a_field_names_it(path: tuple[str, ...]) -> None:
    result = outcome(lambda: route_event(router(RecordingExecutions()), _without(s3_event("k"), *path)))
    assert isinstance(result, AmtflowError)
    assert_names_a_field(result, path[-1])


# --- drift events ------------------------------------------------------------------------------------------


def drift_event(detail: Any) -> dict[str, Any]:
    e = event("drift_detected.json")
    e["detail"] = detail
    return e


@THOROUGH
@given(
    detail=mappings_with(["model", "datasetVersion", "severity", "score"])
    | st.fixed_dictionaries(
        {"model": st.just(MODEL), "datasetVersion": valid_versions | st.text(max_size=20)},
        optional={"severity": st.text(max_size=40) | json_values, "score": json_values},
    )
    | json_values
)
@example(detail={"model": MODEL, "datasetVersion": "v1", "severity": "médium ☃ / ../"})
@example(detail={"model": MODEL, "datasetVersion": "v1", "severity": "x" * 32})
def test_any_drift_event_starts_a_valid_execution_or_names_the_bad_field(detail: Any) -> None:
    executions = RecordingExecutions()
    result = outcome(lambda: route_event(router(executions), drift_event(detail)))
    if isinstance(result, AmtflowError):
        assert_names_a_field(result, "detail")
        assert not executions.started
        return
    check_started(result, executions)
    assert len(executions.started) == 1


@THOROUGH
@given(text=st.text(max_size=40) | st.sampled_from(["High", " severe ", "MODERATE", "low", "none", "medium"]))
def test_any_drift_severity_parses_or_names_the_field(text: str) -> None:
    result = outcome(lambda: DriftSeverity.parse(text))
    if isinstance(result, AmtflowError):
        assert_names_a_field(result, "drift.severity")
    else:
        assert isinstance(result, DriftSeverity)


# --- schedule events ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("time", ["yesterday", "2026-13-01T00:00:00Z", 10**30])
def test_a_scheduled_event_with_a_bad_time_names_the_field(time: Any) -> None:
    e = event("scheduled_event.json")
    e["time"] = time
    result = outcome(lambda: route_event(router(RecordingExecutions()), e))
    assert isinstance(result, AmtflowError)
    assert_names_a_field(result, "time")


# --- oversized events ---------------------------------------------------------------------------------


def test_an_event_over_256_kb_is_rejected_with_a_clear_error() -> None:
    detail = {
        "model": MODEL,
        "datasetVersion": "v1",
        "severity": "moderate",
        "notes": "x" * MAX_PAYLOAD_BYTES,
    }
    executions = RecordingExecutions()
    result = outcome(lambda: route_event(router(executions), drift_event(detail)))
    assert isinstance(result, AmtflowError)
    assert "256" in str(result) or "KB" in str(result) or "bytes" in str(result)
    assert not executions.started


@THOROUGH
@given(
    detail=mappings_with(
        ["bucket", "object", "version", "reason"], mappings_with(["name", "key", "size"]) | json_values
    )
    | json_values
)
@example(detail={"bucket": {"name": BUCKET}, "object": {"key": 5}})
@example(detail={"bucket": {"name": None}, "object": {"key": f"datasets/{MODEL}/v1/_READY"}})
def test_any_s3_event_detail_routes_or_names_the_bad_field(detail: Any) -> None:
    e = s3_event("k")
    e["detail"] = detail
    executions = RecordingExecutions()
    result = outcome(lambda: route_event(router(executions), e))
    if isinstance(result, AmtflowError):
        assert_names_a_field(result, "detail")
        assert not executions.started
    else:
        check_started(result, executions)
