"""Operations beyond tuning's core, as boto3 callers see them through the hook: ListTrainingJobs, tags,
DeleteHyperParameterTuningJob, UpdateTrainingJob, Search, built-in algorithm metrics, CloudWatch metrics."""

from __future__ import annotations

import datetime as dt
import re
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from conftest import IMAGE_MAP, Harness
from moto import mock_aws

from amtflow import clients
from amtflow.local import sagemaker
from amtflow.local.engine import ImageMap

XGBOOST_IMAGE = "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-xgboost:1.7-1"
XGBLIKE = Path(__file__).parent / "scripts" / "xgblike.py"


def _code(e: pytest.ExceptionInfo[ClientError]) -> str:
    return str(e.value.response["Error"]["Code"])


@pytest.fixture
def done(harness: Harness) -> dict[str, Any]:
    """A completed tuning job of 4 trials, tagged team=ml."""
    return harness.run(harness.request(Tags=[{"Key": "team", "Value": "ml"}]))


def test_list_training_jobs_filters_sorts_and_pages(harness: Harness, done: dict[str, Any]) -> None:
    pages = harness.sm.get_paginator("list_training_jobs").paginate(PaginationConfig={"PageSize": 3})
    rows = [r for page in pages for r in page["TrainingJobSummaries"]]
    assert len(rows) == 4
    assert [r["CreationTime"] for r in rows] == sorted(r["CreationTime"] for r in rows)
    assert {r["TrainingJobStatus"] for r in rows} == {"Completed"}
    assert all("TrainingEndTime" in r for r in rows)
    by_name = harness.sm.list_training_jobs(SortBy="Name", SortOrder="Descending")["TrainingJobSummaries"]
    assert [r["TrainingJobName"] for r in by_name] == sorted(
        (r["TrainingJobName"] for r in rows), reverse=True
    )
    assert harness.sm.list_training_jobs(StatusEquals="InProgress")["TrainingJobSummaries"] == []
    future = dt.datetime.now(dt.UTC) + dt.timedelta(days=1)
    assert harness.sm.list_training_jobs(CreationTimeAfter=future)["TrainingJobSummaries"] == []
    assert len(harness.sm.list_training_jobs(NameContains="TUNE-1")["TrainingJobSummaries"]) == 4


def test_tags_of_tuning_and_training_jobs_are_added_listed_and_deleted(
    harness: Harness, done: dict[str, Any]
) -> None:
    arn = done["HyperParameterTuningJobArn"]
    trial_arn = harness.sm.describe_training_job(TrainingJobName=done["BestTrainingJob"]["TrainingJobName"])[
        "TrainingJobArn"
    ]
    assert harness.sm.list_tags(ResourceArn=arn)["Tags"] == [{"Key": "team", "Value": "ml"}]
    assert harness.sm.list_tags(ResourceArn=trial_arn)["Tags"] == [{"Key": "team", "Value": "ml"}]
    harness.sm.add_tags(
        ResourceArn=arn, Tags=[{"Key": "team", "Value": "ds"}, {"Key": "stage", "Value": "1"}]
    )
    assert harness.sm.list_tags(ResourceArn=arn)["Tags"] == [
        {"Key": "team", "Value": "ds"},
        {"Key": "stage", "Value": "1"},
    ]
    harness.sm.delete_tags(ResourceArn=arn, TagKeys=["team", "absent"])
    assert harness.sm.list_tags(ResourceArn=arn)["Tags"] == [{"Key": "stage", "Value": "1"}]
    # kept with the job: a restarted engine reads them back
    assert "stage" in (harness.engine.store.tuning_path("tune-1").read_text())


def test_tags_beyond_fifty_and_unknown_jobs_are_refused(harness: Harness, done: dict[str, Any]) -> None:
    arn = done["HyperParameterTuningJobArn"]
    many = [{"Key": f"k{i}", "Value": "v"} for i in range(50)]
    with pytest.raises(ClientError) as e:
        harness.sm.add_tags(ResourceArn=arn, Tags=many)
    assert _code(e) == "ValidationException"
    assert "at most 50" in str(e.value)
    assert harness.sm.list_tags(ResourceArn=arn)["Tags"] == [{"Key": "team", "Value": "ml"}]  # unchanged
    with pytest.raises(ClientError) as e:
        harness.sm.list_tags(ResourceArn=arn.replace("tune-1", "tune-9"))
    assert _code(e) == "ResourceNotFound"


def test_tags_of_other_resources_go_on_to_moto(tmp_path: Path) -> None:
    clients.reset()
    with mock_aws(), sagemaker(state_dir=tmp_path / "state", image_map=IMAGE_MAP, event_sink=lambda e: None):
        sm = boto3.client("sagemaker", region_name="us-east-1")
        arn = sm.create_model_package_group(ModelPackageGroupName="g")["ModelPackageGroupArn"]
        sm.add_tags(ResourceArn=arn, Tags=[{"Key": "a", "Value": "b"}])
        assert sm.list_tags(ResourceArn=arn)["Tags"] == [{"Key": "a", "Value": "b"}]
    clients.reset()


def test_an_ended_tuning_job_is_deleted_and_its_trials_stay(harness: Harness, done: dict[str, Any]) -> None:
    harness.sm.delete_hyper_parameter_tuning_job(HyperParameterTuningJobName="tune-1")
    with pytest.raises(ClientError) as e:
        harness.describe("tune-1")
    assert _code(e) == "ResourceNotFound"
    assert not harness.engine.store.tuning_path("tune-1").exists()
    assert len(harness.sm.list_training_jobs()["TrainingJobSummaries"]) == 4
    # its trials keep their names: a new job of the same name (same trial names) is refused
    with pytest.raises(ClientError) as e:
        harness.sm.create_hyper_parameter_tuning_job(**harness.request())
    assert _code(e) == "ResourceInUse"
    assert "choose another name" in str(e.value)
    assert len(harness.sm.list_training_jobs(StatusEquals="Completed")["TrainingJobSummaries"]) == 4


def test_a_running_tuning_job_is_not_deleted(harness: Harness) -> None:
    harness.sm.create_hyper_parameter_tuning_job(
        **harness.request(TrainingJobDefinition__StaticHyperParameters={"epochs": "20", "sleep": "0.5"})
    )
    with pytest.raises(ClientError) as e:
        harness.sm.delete_hyper_parameter_tuning_job(HyperParameterTuningJobName="tune-1")
    assert _code(e) == "ValidationException"
    assert "Stop it" in str(e.value)
    assert harness.describe("tune-1")["HyperParameterTuningJobStatus"] in ("InProgress", "Stopping")


def test_update_training_job_keeps_the_settings_and_refuses_profiling_an_ended_job(
    harness: Harness, done: dict[str, Any]
) -> None:
    name = done["BestTrainingJob"]["TrainingJobName"]
    got = harness.sm.update_training_job(
        TrainingJobName=name, ResourceConfig={"KeepAlivePeriodInSeconds": 60}
    )
    assert got["TrainingJobArn"].endswith(f"training-job/{name}")
    job = harness.sm.describe_training_job(TrainingJobName=name)
    assert job["ResourceConfig"]["KeepAlivePeriodInSeconds"] == 60
    assert job["ResourceConfig"]["InstanceType"] == "ml.m5.large"
    with pytest.raises(ClientError) as e:
        harness.sm.update_training_job(TrainingJobName=name, ProfilerConfig={"DisableProfiler": True})
    assert _code(e) == "ValidationException"
    assert "Completed" in str(e.value)
    with pytest.raises(ClientError) as e:
        harness.sm.update_training_job(TrainingJobName="nope", ProfilerConfig={"DisableProfiler": True})
    assert _code(e) == "ResourceNotFound"


def test_search_finds_training_jobs_by_filters_tags_and_hyperparameters(
    harness: Harness, done: dict[str, Any]
) -> None:
    def names(**request: Any) -> list[str]:
        pages = harness.sm.get_paginator("search").paginate(Resource="TrainingJob", **request)
        return [r["TrainingJob"]["TrainingJobName"] for page in pages for r in page["Results"]]

    trials = {t["TrainingJobName"]: t for t in harness.trials("tune-1")}
    assert sorted(names()) == sorted(trials)
    tuned = {
        "SearchExpression": {
            "Filters": [
                {"Name": "TuningJobArn", "Operator": "Equals", "Value": done["HyperParameterTuningJobArn"]}
            ]
        }
    }
    assert sorted(names(**tuned)) == sorted(trials)
    kind_a = [n for n, t in trials.items() if t["TunedHyperParameters"]["kind"] == "a"]
    expression = {
        "Filters": [
            {"Name": "HyperParameters.kind", "Operator": "Equals", "Value": "a"},
            {"Name": "Tags.team", "Operator": "Equals", "Value": "ml"},
            {"Name": "TrainingJobStatus", "Operator": "In", "Value": "Completed,Stopped"},
        ]
    }
    assert sorted(names(SearchExpression=expression)) == sorted(kind_a)
    small_x = {"Filters": [{"Name": "HyperParameters.x", "Operator": "LessThan", "Value": "0.5"}]}
    assert sorted(names(SearchExpression=small_x)) == sorted(
        n for n, t in trials.items() if float(t["TunedHyperParameters"]["x"]) < 0.5
    )
    either = {
        "Operator": "Or",
        "SubExpressions": [
            {"Filters": [{"Name": "HyperParameters.kind", "Operator": "Equals", "Value": "a"}]},
            {"Filters": [{"Name": "HyperParameters.kind", "Operator": "Equals", "Value": "b"}]},
        ],
    }
    assert sorted(names(SearchExpression=either)) == sorted(trials)
    nested = {
        "NestedFilters": [
            {
                "NestedPropertyName": "FinalMetricDataList",
                "Filters": [
                    {"Name": "FinalMetricDataList.MetricName", "Operator": "Equals", "Value": "loss"}
                ],
            }
        ]
    }
    assert sorted(names(SearchExpression=nested)) == sorted(trials)
    assert names(SearchExpression={"Filters": [{"Name": "Tags.absent", "Operator": "Exists"}]}) == []
    by_time = names(SortBy="CreationTime", SortOrder="Ascending")
    assert by_time == sorted(trials, key=lambda n: trials[n]["CreationTime"])
    with pytest.raises(ClientError) as e:
        names(SearchExpression={"Filters": [{"Name": "TrainingJobName", "Operator": "Like", "Value": "x"}]})
    assert _code(e) == "ValidationException"
    assert "Operator" in str(e.value)
    with pytest.raises(ClientError) as e:
        names(SearchExpression={})
    assert _code(e) == "ValidationException"
    assert "at least one of Filters" in str(e.value)
    assert names() == sorted(
        trials,
        key=lambda n: harness.sm.describe_training_job(TrainingJobName=n)["LastModifiedTime"],
        reverse=True,
    )


def test_built_in_xgboost_images_carry_the_published_metric_definitions() -> None:
    definitions = {d["Name"]: d["Regex"] for d in ImageMap().builtin_metric_definitions(XGBOOST_IMAGE)}
    assert {"validation:auc", "validation:logloss", "validation:rmse", "train:rmse", "train:auc"} <= set(
        definitions
    )
    for line in (
        "[12]\ttrain-auc:0.91\tvalidation-auc:0.81",
        "[12]#011train-auc:0.91#011validation-auc:0.81",
    ):
        assert re.search(definitions["validation:auc"], line).group(1) == "0.81"  # type: ignore[union-attr]
        assert re.search(definitions["train:auc"], line).group(1) == "0.91"  # type: ignore[union-attr]
    assert re.search(definitions["validation:error"], "[1]\tvalidation-merror:0.2") is None
    assert ImageMap().builtin_metric_definitions("123456789012.dkr.ecr.us-east-1.amazonaws.com/quad:1") == []


def test_a_built_in_xgboost_tuning_job_needs_no_metric_definitions_and_keeps_its_request(
    tmp_path: Path,
) -> None:
    images = {"sagemaker-xgboost": f"{sys.executable} {XGBLIKE}"}
    with sagemaker(state_dir=tmp_path / "state", image_map=images, event_sink=lambda e: None) as engine:
        harness = Harness(engine, boto3.client("sagemaker", region_name="us-east-1"), [], tmp_path)
        req = harness.request(
            HyperParameterTuningJobConfig__HyperParameterTuningJobObjective={
                "Type": "Maximize",
                "MetricName": "validation:auc",
            },
            HyperParameterTuningJobConfig__ResourceLimits={
                "MaxNumberOfTrainingJobs": 2,
                "MaxParallelTrainingJobs": 2,
            },
            HyperParameterTuningJobConfig__ParameterRanges={
                "ContinuousParameterRanges": [{"Name": "eta", "MinValue": "0", "MaxValue": "1"}]
            },
            TrainingJobDefinition__AlgorithmSpecification={
                "TrainingImage": XGBOOST_IMAGE,
                "TrainingInputMode": "File",
            },
            TrainingJobDefinition__StaticHyperParameters={"num_round": "2"},
        )
        d = harness.run(req)
        assert d["ObjectiveStatusCounters"]["Succeeded"] == 2
        assert "MetricDefinitions" not in d["TrainingJobDefinition"]["AlgorithmSpecification"]
        trial = harness.sm.describe_training_job(TrainingJobName=d["BestTrainingJob"]["TrainingJobName"])
        shown = {m["Name"] for m in trial["AlgorithmSpecification"]["MetricDefinitions"]}
        assert {"validation:auc", "train:rmse"} <= shown
        eta = float(trial["HyperParameters"]["eta"])
        expected = 1 - ((eta - 0.3) ** 2 + 0.1 + 0.5) / 4  # max_depth 6, round 2
        assert d["BestTrainingJob"]["FinalHyperParameterTuningJobObjectiveMetric"]["Value"] == pytest.approx(
            expected, abs=1e-4
        )


def test_trial_metrics_reach_cloudwatch_by_job_and_by_host(tmp_path: Path) -> None:
    clients.reset()
    with mock_aws():
        cloudwatch = boto3.client("cloudwatch", region_name="us-east-1")
        with sagemaker(
            state_dir=tmp_path / "state",
            image_map=IMAGE_MAP,
            event_sink=lambda e: None,
            cloudwatch_client=cloudwatch,
        ) as engine:
            harness = Harness(engine, boto3.client("sagemaker", region_name="us-east-1"), [], tmp_path)
            d = harness.run(
                harness.request(
                    HyperParameterTuningJobConfig__ResourceLimits={
                        "MaxNumberOfTrainingJobs": 1,
                        "MaxParallelTrainingJobs": 1,
                    }
                )
            )
        name = d["BestTrainingJob"]["TrainingJobName"]
        for dimension, value in (("TrainingJobName", name), ("Host", f"{name}/algo-1")):
            stats = cloudwatch.get_metric_statistics(
                Namespace="/aws/sagemaker/TrainingJobs",
                MetricName="loss",
                Dimensions=[{"Name": dimension, "Value": value}],
                StartTime=dt.datetime.now(dt.UTC) - dt.timedelta(minutes=5),
                EndTime=dt.datetime.now(dt.UTC) + dt.timedelta(minutes=5),
                Period=60,
                Statistics=["SampleCount", "Minimum"],
            )["Datapoints"]
            assert sum(p["SampleCount"] for p in stats) == 3  # one point per epoch
            assert min(p["Minimum"] for p in stats) == pytest.approx(
                d["BestTrainingJob"]["FinalHyperParameterTuningJobObjectiveMetric"]["Value"], abs=1e-5
            )
    clients.reset()


@pytest.fixture(autouse=True)
def _no_leftover_clients() -> Iterator[None]:
    yield
    clients.reset()
