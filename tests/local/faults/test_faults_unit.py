"""The fault injector's parts: reproducible decisions, SDK-like retries of throttling, the figures."""

from __future__ import annotations

import json
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from botocore.stub import Stubber

from amtflow.errors import InvalidInputError
from amtflow.local.apps.faults._faults import FaultInjector, FaultPlan, RunView, chance, fault_report


def test_decisions_are_reproducible_and_near_their_rate() -> None:
    assert chance(7, "drop", "job-a", "Completed") == chance(7, "drop", "job-a", "Completed")
    assert chance(7, "drop", "job-a", "Completed") != chance(8, "drop", "job-a", "Completed")
    draws = [chance(7, "x", i) for i in range(4000)]
    assert 0.08 < sum(d < 0.1 for d in draws) / len(draws) < 0.12


@pytest.mark.parametrize("field", ["drop_sagemaker_events", "throttle_sagemaker_calls", "trial_crash_rate"])
def test_a_rate_outside_zero_to_one_is_refused_naming_it(field: str) -> None:
    with pytest.raises(InvalidInputError, match=field):
        FaultPlan(**{field: 1.5})


def test_a_lossy_sink_drops_every_copy_of_a_dropped_event_together() -> None:
    injector = FaultInjector(FaultPlan(drop_sagemaker_events=0.5))
    received: list[Any] = []
    sink = injector.lossy(received.append)
    entries = [
        {
            "Detail": json.dumps(
                {"HyperParameterTuningJobName": f"j{i}", "HyperParameterTuningJobStatus": "Completed"}
            )
        }
        for i in range(40)
    ]
    for entry in entries + entries:
        sink(entry)
    dropped = injector.counts.sagemaker_events_dropped
    assert 0 < dropped < 80
    assert dropped % 2 == 0
    assert len(received) == 80 - dropped


def test_throttling_is_retried_as_the_client_is_configured_and_only_then_surfaces() -> None:
    always = FaultInjector(FaultPlan(throttle_sagemaker_calls=0.999999))
    client = boto3.client(
        "sagemaker", region_name="us-east-1", aws_access_key_id="t", aws_secret_access_key="t"
    )
    with Stubber(client), always.throttling(), pytest.raises(ClientError) as e:
        client.describe_hyper_parameter_tuning_job(HyperParameterTuningJobName="j")
    assert e.value.response["Error"]["Code"] == "ThrottlingException"
    assert always.counts.throttled_attempts == 5  # botocore's default: 4 retries
    assert always.counts.throttles_surfaced == 1

    never = FaultInjector(FaultPlan(throttle_sagemaker_calls=0.0))
    with Stubber(client) as stub, never.throttling():
        stub.add_response("list_hyper_parameter_tuning_jobs", {"HyperParameterTuningJobSummaries": []})
        assert client.list_hyper_parameter_tuning_jobs()["HyperParameterTuningJobSummaries"] == []
    assert never.counts.throttled_attempts == 0


def view(name: str, version: str, status: str = "SUCCEEDED", model: str = "m") -> RunView:
    return RunView(
        arn=f"arn:{name}", name=name, status=status, model=model, dataset_version=version, trigger="s3"
    )


def job(name: str, execution: str, version: str, status: str = "Completed") -> dict[str, Any]:
    tags = {"amtflow:model": "m", "amtflow:dataset-version": version, "amtflow:execution": execution}
    return {"name": name, "status": status, "tags": tags}


def test_the_report_counts_each_kind_of_failure() -> None:
    versions = {("m", "v1"), ("m", "v2"), ("m", "v3")}
    executions = [
        view("e1", "v1"),
        view("e1b", "v1"),  # a second run of v1
        view("e2", "v2", status="RUNNING"),
        view("e3", "v3"),
    ]
    notes = [
        {"execution": "arn:e1", "outcome": "succeeded", "tuning": {"jobName": "j1"}},
        {"execution": "arn:e1b", "outcome": "failed"},
        {"execution": "arn:e3", "outcome": "succeeded", "tuning": {"jobName": "j-other"}},
        {"execution": "arn:e3", "outcome": "failed"},
        {"execution": "arn:e3", "outcome": "queued"},  # an interim notice does not count
    ]
    jobs = [job("j1", "e1", "v1"), job("j2", "e2", "v2", status="InProgress"), job("j3", "e3", "v3")]
    report = fault_report(versions=versions, executions=executions, notifications=notes, jobs=jobs)
    assert report == {
        "dataset_versions": 3,
        "runs": 4,
        "duplicate_runs": 1,
        "non_terminal_executions": 1,
        "runs_without_one_notification": 2,  # e2 has none, e3 has two outcomes
        "orphaned_tuning_jobs": 1,  # j2 still running
        "lineage_mismatches": 1,  # e3's notification names another job than the one tagged with it
    }
