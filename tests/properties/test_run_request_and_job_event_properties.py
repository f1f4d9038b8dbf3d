"""The run request (execution input typed by people in the console) and the SageMaker tuning-job
state-change event: any input gives a valid document or an error that names the field."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import example, given
from hypothesis import strategies as st
from properties_support import (
    FAST,
    MAX_PAYLOAD_BYTES,
    THOROUGH,
    assert_names_a_field,
    event,
    json_values,
    mappings_with,
    outcome,
)

from amtflow.app import EvaluateInput, NotifyInput, PlanInput, StartTuningInput, TuningJobStateChange
from amtflow.errors import AmtflowError, InvalidInputError
from amtflow.messages import (
    DATASET_VERSION_PATTERN,
    MODEL_NAME_PATTERN,
    RunRequest,
    parse_document,
    parse_run_request,
)

RUN_REQUEST_KEYS = ["model", "action", "datasetVersion", "trigger", "overrides", "drift", "source"]

run_requests = (
    mappings_with(RUN_REQUEST_KEYS)
    | st.fixed_dictionaries(
        {
            "model": st.sampled_from(["churn-xgb", "Churn", "a", "-a", "a" * 64, "churn\n"])
            | st.text(max_size=20)
        },
        optional={
            "action": st.sampled_from(["auto", "tune", "retrain", "skip", "TUNE", ""]) | json_values,
            "datasetVersion": st.sampled_from(["2026-11-01", "v1.2=3", "..", "a b", "x" * 200]) | json_values,
            "trigger": st.sampled_from(["s3", "schedule", "drift", "manual", "cron"]) | json_values,
            "overrides": json_values,
            "drift": st.fixed_dictionaries({"severity": st.text(max_size=40)}) | json_values,
            "source": mappings_with(["bucket", "key", "eventId", "rule", "time"]) | json_values,
        },
    )
    | json_values
)


@THOROUGH
@given(raw=run_requests)
@example(raw={"model": "churn-xgb", "action": "tune", "overrides": {"tuning": {"strategy": "Grid"}}})
@example(raw={"model": "churn-xgb", "actoin": "tune"})
@example(raw=["churn-xgb"])
@example(raw="churn-xgb")
def test_any_console_input_is_a_run_request_or_names_the_bad_field(raw: Any) -> None:
    result = outcome(lambda: parse_run_request(raw))
    if isinstance(result, AmtflowError):
        assert isinstance(result, InvalidInputError)
        assert_names_a_field(result, "(input)", "execution input")
        return
    assert isinstance(result, RunRequest)
    assert re.fullmatch(MODEL_NAME_PATTERN, result.model)
    if result.dataset_version is not None:
        assert re.fullmatch(DATASET_VERSION_PATTERN, result.dataset_version)
    # What the router hands on parses back to the same request.
    assert parse_run_request(json.loads(json.dumps(result.to_json()))) == result


@FAST
# Field names are accepted in snake_case as well as in the camelCase of the wire form.
@given(
    key=st.text(min_size=1, max_size=20).filter(
        lambda k: k not in {*RUN_REQUEST_KEYS, *RunRequest.model_fields}
    )
)
@example(key="dataset_versoin")
def test_an_unknown_key_is_rejected_by_name(key: str) -> None:
    error = outcome(lambda: parse_run_request({"model": "churn-xgb", key: 1}))
    assert isinstance(error, InvalidInputError)
    assert key in str(error)
    assert "unknown key" in str(error)


def test_a_run_request_over_256_kb_is_rejected_with_a_clear_error() -> None:
    raw = {"model": "churn-xgb", "overrides": {"description": "x" * MAX_PAYLOAD_BYTES}}
    result = outcome(lambda: parse_run_request(raw))
    assert isinstance(result, InvalidInputError)
    assert "256" in str(result) or "KB" in str(result) or "bytes" in str(result)


# --- the tuning-job state-change event ---------------------------------------------------------------------

DETAIL_KEYS = [
    "HyperParameterTuningJobName",
    "HyperParameterTuningJobStatus",
    "LastModifiedTime",
    "CreationTime",
    "Tags",
]
# Epoch milliseconds within datetime's range, as a number or as text; ISO 8601 text.
epoch_ms = st.integers(min_value=0, max_value=253_402_300_799_000)
timestamps = (
    epoch_ms
    | epoch_ms.map(str)
    | st.floats(min_value=0, max_value=2e12, allow_nan=False)
    | st.datetimes(timezones=st.none() | st.just(UTC)).map(lambda d: d.isoformat())
    | st.text(max_size=30)
    | json_values
)
tags = (
    st.dictionaries(st.text(max_size=20), st.text(max_size=20), max_size=4)
    | st.lists(
        st.fixed_dictionaries({"Key": st.text(max_size=20), "Value": st.text(max_size=20)}), max_size=4
    )
    | st.lists(mappings_with(["Key", "Value"]), max_size=3)
    | json_values
)
details = mappings_with(DETAIL_KEYS) | st.fixed_dictionaries(
    {"HyperParameterTuningJobName": st.text(max_size=40)},
    optional={
        "HyperParameterTuningJobStatus": st.sampled_from(["Completed", "Failed", "Stopped"]) | json_values,
        "LastModifiedTime": timestamps,
        "CreationTime": timestamps,
        "Tags": tags,
        "TrainingJobStatusCounters": json_values,
    },
)


def parse_detail(detail: Any) -> TuningJobStateChange:
    return parse_document(TuningJobStateChange, detail, what="detail")


@THOROUGH
@given(detail=details)
@example(detail=event("tuning_job_completed.json")["detail"])
@example(detail={"HyperParameterTuningJobName": "a", "CreationTime": "1793534400000.5", "Tags": []})
@example(detail={"HyperParameterTuningJobName": "a", "Tags": [{"Key": "k"}, {"Value": "v"}, 3]})
def test_any_job_event_detail_parses_or_names_the_bad_field(detail: Any) -> None:
    result = outcome(lambda: parse_detail(detail))
    if isinstance(result, AmtflowError):
        assert_names_a_field(result, "detail")
        return
    assert result.job_name
    for stamp in (result.created, result.last_modified):
        assert stamp is None or stamp.tzinfo is not None
    assert all(isinstance(k, str) and isinstance(v, str) for k, v in result.tags.items())


@FAST
@given(ms=epoch_ms, as_text=st.booleans())
def test_epoch_milliseconds_as_number_or_text_mean_the_same_instant(ms: int, as_text: bool) -> None:
    detail = {"HyperParameterTuningJobName": "a", "CreationTime": str(ms) if as_text else ms}
    created = parse_detail(detail).created
    assert created == datetime.fromtimestamp(ms / 1000, tz=UTC)


@FAST
@given(pairs=st.dictionaries(st.text(min_size=1, max_size=20), st.text(max_size=20), max_size=5))
def test_tags_as_a_map_or_as_a_list_are_the_same_tags(pairs: dict[str, str]) -> None:
    as_map = parse_detail({"HyperParameterTuningJobName": "a", "Tags": pairs}).tags
    as_list = parse_detail(
        {"HyperParameterTuningJobName": "a", "Tags": [{"Key": k, "Value": v} for k, v in pairs.items()]}
    ).tags
    assert as_map == as_list == pairs


@pytest.mark.parametrize("missing", ["HyperParameterTuningJobName"])
def test_a_job_event_without_the_job_name_names_it(missing: str) -> None:
    detail = dict(event("tuning_job_completed.json")["detail"])
    del detail[missing]
    error = outcome(lambda: parse_detail(detail))
    assert isinstance(error, InvalidInputError)
    assert_names_a_field(error, missing)


@pytest.mark.parametrize("stamp", [10**30, "9" * 30, -(10**20), 1e300])
def test_an_out_of_range_timestamp_names_the_field(stamp: Any) -> None:
    error = outcome(lambda: parse_detail({"HyperParameterTuningJobName": "a", "CreationTime": stamp}))
    assert isinstance(error, InvalidInputError)
    assert_names_a_field(error, "CreationTime")


# --- the documents the states hand to each other ----------------------------------------------------------

PAYLOADS = {
    PlanInput: ["request", "execution"],
    StartTuningInput: ["plan", "taskToken"],
    EvaluateInput: ["plan", "tuning"],
    NotifyInput: ["state", "execution"],
}
PLAN_KEYS = ["model", "action", "reason", "trigger", "datasetVersion", "jobName", "execution", "plannedAt"]


@THOROUGH
@given(
    model=st.sampled_from(sorted(PAYLOADS, key=lambda m: m.__name__)),
    data=st.data(),
)
def test_any_state_payload_parses_or_names_the_bad_field(model: type[Any], data: st.DataObject) -> None:
    nested = mappings_with(PLAN_KEYS) | mappings_with(["name", "id"]) | json_values
    payload = data.draw(mappings_with(PAYLOADS[model], nested) | json_values)
    what = f"{model.__name__} input"
    result = outcome(lambda: parse_document(model, payload, what=what))
    if isinstance(result, AmtflowError):
        assert isinstance(result, InvalidInputError)
        assert_names_a_field(result, what)
    else:
        assert isinstance(result, model)
