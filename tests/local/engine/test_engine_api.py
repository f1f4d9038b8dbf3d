"""The SageMaker API as boto3 callers see it through the hook: shapes, error codes, lists, events,
persistence."""

from __future__ import annotations

import datetime as dt
import json
import re
import sys
import threading
import time
import uuid
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from botocore.validate import ParamValidator
from conftest import IMAGE_MAP, Harness, tuning_request

from amtflow.adapters import SageMakerTuning
from amtflow.app._spend import price, tuning_job_usage
from amtflow.local import sagemaker
from amtflow.local.engine import Engine, ManualClock, active_engine
from amtflow.local.engine._events import to_put_events_entry


def assert_valid(client: Any, operation: str, response: dict[str, Any]) -> None:
    """The response matches the operation's output shape in botocore's model (types, required members)."""
    shape = client.meta.service_model.operation_model(operation).output_shape
    body = {k: v for k, v in response.items() if k != "ResponseMetadata"}
    report = ParamValidator().validate(body, shape)
    assert not report.has_errors(), report.generate_report()


def test_a_tuning_job_runs_to_completion_with_botocore_valid_shapes(harness: Harness) -> None:
    req = harness.request()
    created = harness.sm.create_hyper_parameter_tuning_job(**req)
    assert created["HyperParameterTuningJobArn"] == (
        "arn:aws:sagemaker:us-east-1:123456789012:hyper-parameter-tuning-job/tune-1"
    )
    assert harness.engine.wait("tune-1", 60) == "Completed"
    d = harness.describe("tune-1")
    assert_valid(harness.sm, "DescribeHyperParameterTuningJob", d)
    assert d["HyperParameterTuningJobStatus"] == "Completed"
    assert isinstance(d["CreationTime"], dt.datetime)
    assert isinstance(d["HyperParameterTuningEndTime"], dt.datetime)
    assert d["TrainingJobStatusCounters"]["Completed"] == 4
    assert d["ObjectiveStatusCounters"] == {"Succeeded": 4, "Pending": 0, "Failed": 0}
    best = d["BestTrainingJob"]
    assert best["TrainingJobName"].startswith("tune-1-")
    summaries = harness.trials("tune-1")
    assert len(summaries) == 4
    for s in summaries:
        assert_valid(harness.sm, "ListTrainingJobsForHyperParameterTuningJob", {"TrainingJobSummaries": [s]})
    values = [s["FinalHyperParameterTuningJobObjectiveMetric"]["Value"] for s in summaries]
    assert best["FinalHyperParameterTuningJobObjectiveMetric"]["Value"] == min(values)
    # the objective is the script's last loss line: (x-0.3)^2 + offset(kind) + 1/3 with y=0 -> +0.49, |n-4|=0
    for s in summaries:
        hp = s["TunedHyperParameters"]
        expected = (float(hp["x"]) - 0.3) ** 2 + 0.49 + {"a": 0.0, "b": 0.5}[hp["kind"]] + 1 / 3
        assert s["FinalHyperParameterTuningJobObjectiveMetric"]["Value"] == pytest.approx(expected, abs=1e-5)
    job = harness.sm.describe_training_job(TrainingJobName=best["TrainingJobName"])
    assert_valid(harness.sm, "DescribeTrainingJob", job)
    assert job["TuningJobArn"] == created["HyperParameterTuningJobArn"]
    assert job["HyperParameters"]["epochs"] == "3"
    assert job["HyperParameters"]["_tuning_objective_metric"] == "loss"
    assert job["SecondaryStatus"] == "Completed"
    artifact = job["ModelArtifacts"]["S3ModelArtifacts"]
    assert artifact.endswith(f"/{best['TrainingJobName']}/output/model.tar.gz")
    assert Path(artifact.removeprefix("file://")).exists()
    assert [m["MetricName"] for m in job["FinalMetricDataList"]] == ["loss"]


def test_finished_training_jobs_report_their_billable_time_as_sagemaker_does(harness: Harness) -> None:
    req = harness.request(TrainingJobDefinition__ResourceConfig__InstanceCount=2)
    d = harness.run(req)
    jobs = sum(d["TrainingJobStatusCounters"].values())
    for summary in harness.trials("tune-1"):
        job = harness.sm.describe_training_job(TrainingJobName=summary["TrainingJobName"])
        assert_valid(harness.sm, "DescribeTrainingJob", job)
        billed = job["BillableTimeInSeconds"]
        assert isinstance(billed, int)
        assert 1 <= billed <= job["TrainingTimeInSeconds"]
        wall = (job["TrainingEndTime"] - job["TrainingStartTime"]).total_seconds()
        assert billed <= wall + 1
        assert job["ResourceConfig"]["InstanceType"] == "ml.m5.large"
        assert job["ResourceConfig"]["InstanceCount"] == 2
    # The application's adapter reads it from the engine as from SageMaker, and prices it.
    usage = tuning_job_usage(SageMakerTuning(harness.sm), "tune-1", jobs=jobs)
    assert len(usage.described) == jobs == 4
    assert {(j.instance_type, j.instance_count) for j in usage.described} == {("ml.m5.large", 2)}
    seconds = sum(j.billable_seconds or 0 for j in usage.described)
    cost = price(usage, {"ml.m5.large": 0.36})
    assert cost.billable_s == seconds
    assert cost.usd == pytest.approx(seconds * 2 * 0.36 / 3600, abs=1e-4)


def test_training_job_names_follow_the_tuning_job(harness: Harness) -> None:
    harness.run(harness.request())
    names = sorted(s["TrainingJobName"] for s in harness.trials("tune-1"))
    assert [n.rsplit("-", 2)[1] for n in names] == ["001", "002", "003", "004"]
    assert all(len(n.rsplit("-", 1)[1]) == 8 and len(n) <= 63 for n in names)


def test_names_are_case_insensitive_and_reuse_is_resource_in_use(harness: Harness) -> None:
    harness.run(harness.request("Tune-Case"))
    with pytest.raises(ClientError) as err:
        harness.sm.create_hyper_parameter_tuning_job(**harness.request("tune-case"))
    assert err.value.response["Error"]["Code"] == "ResourceInUse"
    assert harness.describe("TUNE-CASE")["HyperParameterTuningJobName"] == "Tune-Case"


def test_unknown_jobs_are_resource_not_found(harness: Harness) -> None:
    for call, kwargs in (
        (harness.sm.describe_hyper_parameter_tuning_job, {"HyperParameterTuningJobName": "nope"}),
        (harness.sm.stop_hyper_parameter_tuning_job, {"HyperParameterTuningJobName": "nope"}),
        (
            harness.sm.list_training_jobs_for_hyper_parameter_tuning_job,
            {"HyperParameterTuningJobName": "nope"},
        ),
        (harness.sm.describe_training_job, {"TrainingJobName": "nope"}),
    ):
        with pytest.raises(ClientError) as err:
            call(**kwargs)
        assert err.value.response["Error"]["Code"] == "ResourceNotFound"


def test_unmapped_image_is_a_validation_error_that_says_how_to_map_it(harness: Harness) -> None:
    req = harness.request(
        TrainingJobDefinition__AlgorithmSpecification__TrainingImage="111.dkr.ecr.eu-west-1.amazonaws.com/mystery:2"
    )
    with pytest.raises(ClientError) as err:
        harness.sm.create_hyper_parameter_tuning_job(**req)
    error = err.value.response["Error"]
    assert error["Code"] == "ValidationException"
    assert "mystery" in error["Message"]
    assert "image map" in error["Message"]


def test_service_rules_reject_an_invalid_request(harness: Harness) -> None:
    req = harness.request("bad_name_with_underscores")
    with pytest.raises(ClientError) as err:
        harness.sm.create_hyper_parameter_tuning_job(**req)
    assert err.value.response["Error"]["Code"] == "ValidationException"
    assert "HyperParameterTuningJobName" in err.value.response["Error"]["Message"]


def test_objective_without_a_metric_definition_is_rejected(harness: Harness) -> None:
    req = harness.request(
        HyperParameterTuningJobConfig__HyperParameterTuningJobObjective={
            "Type": "Minimize",
            "MetricName": "val-loss",
        }
    )
    with pytest.raises(ClientError) as err:
        harness.sm.create_hyper_parameter_tuning_job(**req)
    assert err.value.response["Error"]["Code"] == "ValidationException"
    assert "val-loss" in err.value.response["Error"]["Message"]


def test_list_tuning_jobs_filters_sorts_and_paginates(harness: Harness) -> None:
    for name in ("alpha-1", "beta-1", "alpha-2"):
        harness.run(
            harness.request(
                name,
                HyperParameterTuningJobConfig__ResourceLimits={
                    "MaxNumberOfTrainingJobs": 1,
                    "MaxParallelTrainingJobs": 1,
                },
            )
        )
    listed = harness.sm.list_hyper_parameter_tuning_jobs(NameContains="ALPHA", SortBy="Name")
    assert_valid(harness.sm, "ListHyperParameterTuningJobs", listed)
    assert [s["HyperParameterTuningJobName"] for s in listed["HyperParameterTuningJobSummaries"]] == [
        "alpha-1",
        "alpha-2",
    ]
    first = harness.sm.list_hyper_parameter_tuning_jobs(
        MaxResults=2, SortBy="CreationTime", SortOrder="Descending"
    )
    assert len(first["HyperParameterTuningJobSummaries"]) == 2
    assert "NextToken" in first
    rest = harness.sm.list_hyper_parameter_tuning_jobs(
        MaxResults=2, SortBy="CreationTime", SortOrder="Descending", NextToken=first["NextToken"]
    )
    names = [
        s["HyperParameterTuningJobName"]
        for s in first["HyperParameterTuningJobSummaries"] + rest["HyperParameterTuningJobSummaries"]
    ]
    assert names == ["alpha-2", "beta-1", "alpha-1"]
    assert "NextToken" not in rest
    assert (
        harness.sm.list_hyper_parameter_tuning_jobs(StatusEquals="InProgress")[
            "HyperParameterTuningJobSummaries"
        ]
        == []
    )


def test_list_training_jobs_sorts_by_objective_and_filters_status(harness: Harness) -> None:
    harness.run(harness.request())
    asc = harness.sm.list_training_jobs_for_hyper_parameter_tuning_job(
        HyperParameterTuningJobName="tune-1",
        SortBy="FinalObjectiveMetricValue",
        SortOrder="Ascending",
        MaxResults=3,
    )
    values = [s["FinalHyperParameterTuningJobObjectiveMetric"]["Value"] for s in asc["TrainingJobSummaries"]]
    assert values == sorted(values)
    assert len(values) == 3
    assert "NextToken" in asc
    desc = harness.sm.list_training_jobs_for_hyper_parameter_tuning_job(
        HyperParameterTuningJobName="tune-1", SortBy="FinalObjectiveMetricValue", SortOrder="Descending"
    )
    dvalues = [
        s["FinalHyperParameterTuningJobObjectiveMetric"]["Value"] for s in desc["TrainingJobSummaries"]
    ]
    assert dvalues == sorted(dvalues, reverse=True)
    assert dvalues[-1] == values[0]
    assert (
        harness.sm.list_training_jobs_for_hyper_parameter_tuning_job(
            HyperParameterTuningJobName="tune-1", StatusEquals="Failed"
        )["TrainingJobSummaries"]
        == []
    )


def test_state_change_events_have_aws_shapes(harness: Harness) -> None:
    harness.run(harness.request())
    tuning = [
        e for e in harness.events if e["detail-type"] == "SageMaker HyperParameter Tuning Job State Change"
    ]
    training = [e for e in harness.events if e["detail-type"] == "SageMaker Training Job State Change"]
    assert [e["detail"]["HyperParameterTuningJobStatus"] for e in tuning] == ["InProgress", "Completed"]
    last = tuning[-1]
    # the EventBridge envelope, as a rule target receives it
    assert set(last) == {
        "version",
        "id",
        "detail-type",
        "source",
        "account",
        "time",
        "region",
        "resources",
        "detail",
    }
    assert last["version"] == "0"
    assert uuid.UUID(last["id"]).version == 4
    assert len({e["id"] for e in harness.events}) == len(harness.events)
    assert last["source"] == "aws.sagemaker"
    assert last["account"] == "123456789012"
    assert last["region"] == "us-east-1"
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", last["time"])
    assert last["resources"] == ["arn:aws:sagemaker:us-east-1:123456789012:hyper-parameter-tuning-job/tune-1"]
    detail = last["detail"]
    assert detail["TrainingJobStatusCounters"]["Completed"] == 4
    assert detail["ObjectiveStatusCounters"]["Succeeded"] == 4
    assert detail["CreationTime"].isdigit()  # epoch milliseconds as a string, like AWS's example
    ends = [e["detail"] for e in training if e["detail"]["TrainingJobStatus"] == "Completed"]
    assert len(ends) == 4
    assert all(d["ModelArtifacts"]["S3ModelArtifacts"].endswith("model.tar.gz") for d in ends)
    # every event, put back on a bus, is a valid PutEvents entry
    events = boto3.client("events", region_name="us-east-1")
    shape = events.meta.service_model.operation_model("PutEvents").input_shape
    entries = [to_put_events_entry(e) for e in harness.events[:10]]
    report = ParamValidator().validate({"Entries": entries}, shape)
    assert not report.has_errors(), report.generate_report()


def test_a_slow_event_sink_never_holds_up_a_job(tmp_path: Path) -> None:
    release = threading.Event()
    received: list[dict[str, Any]] = []

    def slow_sink(event: dict[str, Any]) -> None:
        release.wait(30)  # an unreachable bus retrying
        received.append(event)

    before = set(threading.enumerate())
    with sagemaker(state_dir=tmp_path / "s", image_map=IMAGE_MAP, event_sink=slow_sink) as engine:
        req = tuning_request(ResourceLimits=None)
        req["HyperParameterTuningJobConfig"]["ResourceLimits"] = {
            "MaxNumberOfTrainingJobs": 1,
            "MaxParallelTrainingJobs": 1,
        }
        req["TrainingJobDefinition"]["OutputDataConfig"]["S3OutputPath"] = (tmp_path / "out").as_uri()
        started = time.monotonic()
        boto3.client("sagemaker", region_name="us-east-1").create_hyper_parameter_tuning_job(**req)
        engine._threads["tune-1"].join(20)  # the job's own thread: it never waits for events
        assert time.monotonic() - started < 20, "the job waited for the event sink"
        assert received == []  # every event still waits for the sink
        release.set()
    # leaving the block delivered every pending event, in order
    statuses = [e["detail"].get("HyperParameterTuningJobStatus") for e in received]
    assert statuses[0] == "InProgress"
    assert statuses[-1] == "Completed"
    assert not [t for t in threading.enumerate() if t.name == "engine-events" and t not in before]


def test_jobs_persist_and_a_restart_fails_jobs_that_were_running(tmp_path: Path) -> None:
    state = tmp_path / "state"
    req = tuning_request(
        **{"TrainingJobDefinition__OutputDataConfig__S3OutputPath": (tmp_path / "o").as_uri()}
    )
    with sagemaker(state_dir=state, image_map=IMAGE_MAP, event_sink=lambda e: None) as engine:
        boto3.client("sagemaker").create_hyper_parameter_tuning_job(**req)
        engine.wait("tune-1", 60)
    # a job left InProgress by a process that died
    doc_path = state / "tuning-jobs" / "tune-1.json"
    doc = json.loads(doc_path.read_text())
    assert doc["HyperParameterTuningJobStatus"] == "Completed"
    doc["HyperParameterTuningJobName"] = "ghost"
    doc["HyperParameterTuningJobStatus"] = "InProgress"
    (state / "tuning-jobs" / "ghost.json").write_text(json.dumps(doc))
    engine2 = Engine(state, IMAGE_MAP, event_sink=lambda e: None, clock=ManualClock())
    assert (
        engine2.handle("DescribeHyperParameterTuningJob", {"HyperParameterTuningJobName": "tune-1"})[
            "HyperParameterTuningJobStatus"
        ]
        == "Completed"
    )
    ghost = engine2.handle("DescribeHyperParameterTuningJob", {"HyperParameterTuningJobName": "ghost"})
    assert ghost["HyperParameterTuningJobStatus"] == "Failed"
    assert "engine restarted" in ghost["FailureReason"]
    assert (
        len(
            engine2.handle(
                "ListTrainingJobsForHyperParameterTuningJob",
                {"HyperParameterTuningJobName": "tune-1", "MaxResults": 100},
            )["TrainingJobSummaries"]
        )
        == 4
    )


def test_clients_created_before_entering_are_routed_and_released_after(tmp_path: Path) -> None:
    early = boto3.client("sagemaker", region_name="eu-west-1")
    with sagemaker(state_dir=tmp_path, image_map=IMAGE_MAP, event_sink=lambda e: None) as engine:
        assert active_engine() is engine
        listed = early.list_hyper_parameter_tuning_jobs()
        assert listed["HyperParameterTuningJobSummaries"] == []
        late = boto3.client("sagemaker", region_name="eu-west-1")
        assert late.list_hyper_parameter_tuning_jobs()["HyperParameterTuningJobSummaries"] == []
    assert active_engine() is None


def test_standalone_training_job(harness: Harness) -> None:
    harness.sm.create_training_job(
        TrainingJobName="single-1",
        HyperParameters={"x": "0.3", "y": "0.7", "epochs": "2"},
        AlgorithmSpecification={
            "TrainingImage": "quad",
            "TrainingInputMode": "File",
            "MetricDefinitions": [{"Name": "loss", "Regex": "loss=([0-9.]+)"}],
        },
        RoleArn="arn:aws:iam::123456789012:role/SageMakerRole",
        OutputDataConfig={"S3OutputPath": (harness.tmp / "single").as_uri()},
        ResourceConfig={"InstanceType": "ml.m5.large", "InstanceCount": 1, "VolumeSizeInGB": 1},
        StoppingCondition={"MaxRuntimeInSeconds": 60},
    )
    assert harness.engine.wait("single-1", 60) == "Completed"
    waiter = harness.sm.get_waiter("training_job_completed_or_stopped")
    waiter.wait(TrainingJobName="single-1", WaiterConfig={"Delay": 1, "MaxAttempts": 5})
    job = harness.sm.describe_training_job(TrainingJobName="single-1")
    assert_valid(harness.sm, "DescribeTrainingJob", job)
    assert job["FinalMetricDataList"][0]["Value"] == pytest.approx(0.5)  # 0 + 1/2 at epoch 2
    assert "TuningJobArn" not in job
    assert "epoch=2 loss=0.500000" in harness.engine.trial_log("single-1")
    with pytest.raises(ClientError) as err:
        harness.sm.stop_training_job(TrainingJobName="single-1")
    assert err.value.response["Error"]["Code"] == "ValidationException"


def test_a_stubber_on_a_client_still_answers_first(harness: Harness) -> None:
    from botocore.stub import Stubber

    harness.sm.list_hyper_parameter_tuning_jobs()  # the engine's handler is now on this client
    with Stubber(harness.sm) as stub:
        stub.add_client_error("describe_hyper_parameter_tuning_job", service_error_code="ThrottlingException")
        with pytest.raises(ClientError) as err:
            harness.sm.describe_hyper_parameter_tuning_job(HyperParameterTuningJobName="any")
    assert err.value.response["Error"]["Code"] == "ThrottlingException"


def test_the_same_seed_gives_the_same_trials(harness: Harness) -> None:
    first = harness.run(harness.request("seeded-a"))
    second = harness.run(harness.request("seeded-b"))
    assert first["HyperParameterTuningJobStatus"] == second["HyperParameterTuningJobStatus"] == "Completed"

    def configs(name: str) -> list[dict[str, str]]:
        trials = sorted(harness.trials(name), key=lambda s: s["TrainingJobName"])
        return [t["TunedHyperParameters"] for t in trials]

    assert configs("seeded-a") == configs("seeded-b")
    third = harness.run(harness.request("seeded-c", HyperParameterTuningJobConfig__RandomSeed=8))
    assert third["HyperParameterTuningJobStatus"] == "Completed"
    assert configs("seeded-c") != configs("seeded-a")


def test_list_tuning_jobs_time_filters(harness: Harness) -> None:
    harness.run(
        harness.request(
            HyperParameterTuningJobConfig__ResourceLimits={
                "MaxNumberOfTrainingJobs": 1,
                "MaxParallelTrainingJobs": 1,
            }
        )
    )
    created = harness.describe("tune-1")["CreationTime"]
    before = created - dt.timedelta(seconds=5)
    after = created + dt.timedelta(seconds=5)
    listed = harness.sm.list_hyper_parameter_tuning_jobs
    assert len(listed(CreationTimeAfter=before)["HyperParameterTuningJobSummaries"]) == 1
    assert listed(CreationTimeAfter=after)["HyperParameterTuningJobSummaries"] == []
    assert (
        len(
            listed(CreationTimeBefore=after, LastModifiedTimeAfter=before)["HyperParameterTuningJobSummaries"]
        )
        == 1
    )


def test_image_map_named_by_the_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    image_map = tmp_path / "map.yaml"
    image_map.write_text("".join(f'"{k}": "{v}"\n' for k, v in IMAGE_MAP.items()))
    monkeypatch.setenv("AMTFLOW_IMAGE_MAP", str(image_map))
    req = tuning_request(
        **{
            "HyperParameterTuningJobConfig__ResourceLimits": {
                "MaxNumberOfTrainingJobs": 1,
                "MaxParallelTrainingJobs": 1,
            },
            "TrainingJobDefinition__OutputDataConfig__S3OutputPath": (tmp_path / "o").as_uri(),
        }
    )
    with sagemaker(state_dir=tmp_path / "s", event_sink=lambda e: None) as engine:
        boto3.client("sagemaker").create_hyper_parameter_tuning_job(**req)
        assert engine.wait("tune-1", 60) == "Completed"


STUBBORN = """
import signal, sys, time
signal.signal(signal.SIGTERM, lambda *a: print("asked to stop", flush=True))
print("ready", flush=True)
time.sleep(60)
"""


def test_stop_training_job_answers_at_once_with_the_job_stopping(tmp_path: Path) -> None:
    script = tmp_path / "stubborn.py"
    script.write_text(STUBBORN, encoding="utf-8")
    image_map = {**IMAGE_MAP, "stubborn": f"{sys.executable} {script}"}
    with sagemaker(state_dir=tmp_path / "s", image_map=image_map, event_sink=lambda e: None) as engine:
        sm = boto3.client("sagemaker", region_name="us-east-1")
        sm.create_training_job(
            TrainingJobName="slow-to-stop",
            AlgorithmSpecification={"TrainingImage": "stubborn", "TrainingInputMode": "File"},
            RoleArn="arn:aws:iam::123456789012:role/SageMakerRole",
            OutputDataConfig={"S3OutputPath": (tmp_path / "out").as_uri()},
            ResourceConfig={"InstanceType": "ml.m5.large", "InstanceCount": 1, "VolumeSizeInGB": 1},
            StoppingCondition={"MaxRuntimeInSeconds": 120},
        )
        deadline = time.monotonic() + 20
        while "ready" not in engine.trial_log("slow-to-stop"):
            assert time.monotonic() < deadline
            time.sleep(0.05)
        asked = time.monotonic()
        sm.stop_training_job(TrainingJobName="slow-to-stop")
        assert time.monotonic() - asked < engine.stop_grace_seconds  # no waiting for the process
        job = sm.describe_training_job(TrainingJobName="slow-to-stop")
        assert job["TrainingJobStatus"] == "Stopping"
        assert job["SecondaryStatus"] == "Stopping"
        assert engine.wait("slow-to-stop", 30) == "Stopped"  # killed once the grace period is over
    assert "asked to stop" in engine.trial_log("slow-to-stop")
