"""Event shapes at the edge: SageMaker's timestamps and tags in every documented form."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest
from pydantic import ValidationError

from amtflow.app import TuningJobStateChange, normalize_tags, parse_timestamp

EVENTS = Path(__file__).resolve().parents[3] / "events"
AT = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    "value", ["1793534400000", 1793534400000, 1793534400000.0, "2026-11-01T12:00:00Z", AT]
)
def test_timestamps_as_strings_numbers_or_iso(value: object) -> None:
    assert parse_timestamp(value) == AT


def test_tags_as_map_or_list() -> None:
    assert normalize_tags({"a": "1"}) == {"a": "1"}
    assert normalize_tags([{"Key": "a", "Value": "1"}]) == {"a": "1"}
    assert normalize_tags(None) == {}
    with pytest.raises(ValueError, match="Tags"):
        normalize_tags("a=1")


@pytest.mark.parametrize(
    ("fixture", "status"),
    [
        ("tuning_job_completed.json", "Completed"),
        ("tuning_job_failed.json", "Failed"),
        ("tuning_job_in_progress.json", "InProgress"),
    ],
)
def test_every_fixture_parses(fixture: str, status: str) -> None:
    detail = json.loads((EVENTS / fixture).read_text())["detail"]
    change = TuningJobStateChange.model_validate(detail)
    assert change.status == status
    assert change.created == AT
    if fixture != "tuning_job_in_progress.json":
        assert change.tags == {"amtflow:model": "cancer-xgb"}


def test_the_job_name_is_required() -> None:
    with pytest.raises(ValidationError):
        TuningJobStateChange.model_validate({"HyperParameterTuningJobStatus": "Completed"})


@pytest.mark.parametrize("value", [10**30, "9" * 30, -(10**20), 1e300, "yesterday", True, [1]])
def test_a_value_that_is_not_a_time_is_a_value_error_saying_what_to_use(value: object) -> None:
    with pytest.raises(ValueError, match="epoch milliseconds or ISO 8601"):
        parse_timestamp(value)


def test_a_multi_algorithm_jobs_detail_with_its_definitions_list_parses() -> None:
    """A job with TrainingJobDefinitions sends the list and no TrainingJobDefinition, as Describe shows it."""
    detail = json.loads((EVENTS / "tuning_job_completed.json").read_text())["detail"]
    single = detail.pop("TrainingJobDefinition", {})
    detail["TrainingJobDefinitions"] = [
        {**single, "DefinitionName": "xgb"},
        {**single, "DefinitionName": "mlp"},
    ]
    change = TuningJobStateChange.model_validate(detail)
    assert change.status == "Completed"
    assert change.job_name == detail["HyperParameterTuningJobName"]
