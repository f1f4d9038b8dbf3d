"""Requests the service refuses are refused by the engine too, with the service's code and wording."""

from __future__ import annotations

from typing import Any

import pytest
from botocore.exceptions import ClientError
from conftest import Harness

SHAPE = "1 validation error detected: Value '{value}' at '{field}' failed to satisfy constraint: "


def refusal(call: Any, **kwargs: Any) -> tuple[str, str]:
    with pytest.raises(ClientError) as err:
        call(**kwargs)
    error = err.value.response["Error"]
    return error["Code"], error["Message"]


@pytest.mark.parametrize(
    ("operation", "kwargs", "field", "value", "constraint"),
    [
        (
            "list_hyper_parameter_tuning_jobs",
            {"MaxResults": 101},
            "MaxResults",
            "101",
            "Member must have value less than or equal to 100",
        ),
        (
            "list_hyper_parameter_tuning_jobs",
            {"SortBy": "Size"},
            "SortBy",
            "Size",
            "Member must satisfy enum value set: [Name, Status, CreationTime]",
        ),
        (
            "list_hyper_parameter_tuning_jobs",
            {"SortOrder": "Up"},
            "SortOrder",
            "Up",
            "Member must satisfy enum value set: [Ascending, Descending]",
        ),
        (
            "list_hyper_parameter_tuning_jobs",
            {"StatusEquals": "Running"},
            "StatusEquals",
            "Running",
            "Member must satisfy enum value set: "
            "[Completed, InProgress, Failed, Stopped, Stopping, Deleting, DeleteFailed]",
        ),
        (
            "list_training_jobs_for_hyper_parameter_tuning_job",
            {"HyperParameterTuningJobName": "tune-1", "MaxResults": 500},
            "MaxResults",
            "500",
            "Member must have value less than or equal to 100",
        ),
        (
            "list_training_jobs_for_hyper_parameter_tuning_job",
            {"HyperParameterTuningJobName": "tune-1", "StatusEquals": "Running"},
            "StatusEquals",
            "Running",
            "Member must satisfy enum value set: "
            "[InProgress, Completed, Failed, Stopping, Stopped, Deleting]",
        ),
        (
            "list_training_jobs_for_hyper_parameter_tuning_job",
            {"HyperParameterTuningJobName": "tune-1", "SortBy": "Loss"},
            "SortBy",
            "Loss",
            "Member must satisfy enum value set: [Name, CreationTime, Status, FinalObjectiveMetricValue]",
        ),
    ],
)
def test_list_calls_refuse_what_the_model_forbids_in_the_service_wording(
    harness: Harness, operation: str, kwargs: dict[str, Any], field: str, value: str, constraint: str
) -> None:
    code, message = refusal(getattr(harness.sm, operation), **kwargs)
    assert code == "ValidationException"
    assert message == SHAPE.format(value=value, field=field) + constraint


def test_several_violations_are_counted_and_joined(harness: Harness) -> None:
    _, message = refusal(harness.sm.list_hyper_parameter_tuning_jobs, MaxResults=101, SortOrder="Up")
    assert message.startswith("2 validation errors detected: Value '101' at 'MaxResults'")
    assert "; Value 'Up' at 'SortOrder' failed to satisfy constraint" in message


def test_too_many_parallel_training_jobs_is_a_resource_limit(harness: Harness) -> None:
    req = harness.request(
        HyperParameterTuningJobConfig__ResourceLimits={
            "MaxNumberOfTrainingJobs": 20,
            "MaxParallelTrainingJobs": 11,
        }
    )
    code, message = refusal(harness.sm.create_hyper_parameter_tuning_job, **req)
    assert code == "ResourceLimitExceeded"
    assert "MaxParallelTrainingJobs" in message
    assert harness.sm.list_hyper_parameter_tuning_jobs()["HyperParameterTuningJobSummaries"] == []


@pytest.mark.parametrize(
    "ranges",
    [
        {"CategoricalParameterRanges": [{"Name": "kind", "Values": ["a", "b"]}]},
        {"IntegerParameterRanges": [{"Name": "depth", "MinValue": "1", "MaxValue": "3"}]},
    ],
)
def test_a_discrete_space_smaller_than_the_budget_is_refused(
    harness: Harness, ranges: dict[str, Any]
) -> None:
    req = harness.request(HyperParameterTuningJobConfig__ParameterRanges=ranges)
    req["HyperParameterTuningJobConfig"]["ResourceLimits"]["MaxNumberOfTrainingJobs"] = 4
    code, message = refusal(harness.sm.create_hyper_parameter_tuning_job, **req)
    assert code == "ValidationException"
    assert "You don't have enough combinations of hyperparameter ranges" in message
    assert "MaxNumberOfTrainingJobs, [4]" in message


def test_a_discrete_space_as_large_as_the_budget_runs_each_configuration_once(harness: Harness) -> None:
    ranges = {"CategoricalParameterRanges": [{"Name": "kind", "Values": ["a", "b"]}]}
    req = harness.request(HyperParameterTuningJobConfig__ParameterRanges=ranges)
    req["HyperParameterTuningJobConfig"]["ResourceLimits"]["MaxNumberOfTrainingJobs"] = 2
    assert harness.run(req)["HyperParameterTuningJobStatus"] == "Completed"
    tried = sorted(t["TunedHyperParameters"]["kind"] for t in harness.trials("tune-1"))
    assert tried == ["a", "b"]


def change_environment(definition: dict[str, Any], config: dict[str, Any]) -> None:
    definition["Environment"] = {"OMP_NUM_THREADS": "1"}


def drop_hyperparameter(definition: dict[str, Any], config: dict[str, Any]) -> None:
    definition["StaticHyperParameters"].pop("epochs")


def change_type(definition: dict[str, Any], config: dict[str, Any]) -> None:
    ranges = config["ParameterRanges"]
    ranges["CategoricalParameterRanges"] = [
        *ranges["CategoricalParameterRanges"],
        {"Name": "x", "Values": ["0.1", "0.9"]},
    ]
    ranges.pop("ContinuousParameterRanges")


@pytest.mark.parametrize(
    ("change", "field"),
    [
        (change_environment, "TrainingJobDefinition.Environment"),
        (drop_hyperparameter, "TrainingJobDefinition.StaticHyperParameters"),
        (change_type, "HyperParameterTuningJobConfig.ParameterRanges"),
    ],
)
def test_a_warm_start_child_keeps_what_the_service_keeps_fixed(
    harness: Harness, change: Any, field: str
) -> None:
    harness.run(harness.request("parent"))
    child = harness.request(
        "child",
        WarmStartConfig={
            "ParentHyperParameterTuningJobs": [{"HyperParameterTuningJobName": "parent"}],
            "WarmStartType": "TransferLearning",
        },
    )
    change(child["TrainingJobDefinition"], child["HyperParameterTuningJobConfig"])
    code, message = refusal(harness.sm.create_hyper_parameter_tuning_job, **child)
    assert code == "ValidationException"
    assert message.startswith(field)
    assert "parent 'parent'" in message
    names = [
        s["HyperParameterTuningJobName"]
        for s in harness.sm.list_hyper_parameter_tuning_jobs()["HyperParameterTuningJobSummaries"]
    ]
    assert names == ["parent"]
