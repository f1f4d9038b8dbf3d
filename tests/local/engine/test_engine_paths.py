"""The engine keeps to its folder: names, channels, S3 keys, URIs and symlinks that would lead a write
outside the state folder are refused with ValidationException, and nothing is written outside."""

from __future__ import annotations

from pathlib import Path
from typing import Any
from unittest.mock import Mock

import boto3
import pytest
from botocore.exceptions import ClientError
from conftest import IMAGE_MAP, Harness, tuning_request

from amtflow.local import sagemaker
from amtflow.local.engine import ServiceError
from amtflow.local.engine._io import upload
from amtflow.local.engine._paths import check_uri, inside

ONE = {"MaxNumberOfTrainingJobs": 1, "MaxParallelTrainingJobs": 1}


def snapshot(root: Path, *, skip: Path) -> set[Path]:
    """Every path below ``root`` except those below ``skip`` (the state folder)."""
    return {p for p in root.rglob("*") if skip not in (p, *p.parents)}


def training_request(harness: Harness, name: str, **extra: Any) -> dict[str, Any]:
    return {
        "TrainingJobName": name,
        "HyperParameters": {"epochs": "1"},
        "AlgorithmSpecification": {"TrainingImage": "quad", "TrainingInputMode": "File"},
        "RoleArn": "arn:aws:iam::123456789012:role/SageMakerRole",
        "OutputDataConfig": {"S3OutputPath": (harness.tmp / "out").as_uri()},
        "ResourceConfig": {"InstanceType": "ml.m5.large", "InstanceCount": 1, "VolumeSizeInGB": 1},
        "StoppingCondition": {"MaxRuntimeInSeconds": 60},
        **extra,
    }


def refused(call: Any, **kwargs: Any) -> str:
    with pytest.raises(ClientError) as err:
        call(**kwargs)
    assert err.value.response["Error"]["Code"] == "ValidationException"
    return str(err.value.response["Error"]["Message"])


@pytest.fixture
def state(harness: Harness) -> Path:
    return harness.engine.store.root


@pytest.mark.parametrize("name", ["../../x", "../x", "..", "a/b", "/tmp/x", "x\n", "-x", "a_b", "a" * 64])
def test_training_job_names_outside_the_pattern_are_refused(harness: Harness, state: Path, name: str) -> None:
    before = snapshot(harness.tmp, skip=state)
    message = refused(harness.sm.create_training_job, **training_request(harness, name))
    assert "at 'TrainingJobName' failed to satisfy constraint" in message
    assert snapshot(harness.tmp, skip=state) == before
    assert not (harness.tmp / "x").exists()
    assert not (harness.tmp / "x.json").exists()
    assert list((state / "training-jobs").iterdir()) == []


@pytest.mark.parametrize("name", ["../../x", "..", "tune_1", "tune-1\n", "t" * 33])
def test_tuning_job_names_outside_the_pattern_are_refused(harness: Harness, state: Path, name: str) -> None:
    before = snapshot(harness.tmp, skip=state)
    message = refused(harness.sm.create_hyper_parameter_tuning_job, **harness.request(name))
    assert "HyperParameterTuningJobName" in message
    assert snapshot(harness.tmp, skip=state) == before
    assert list((state / "tuning-jobs").iterdir()) == []


def test_the_service_wording_names_the_pattern_and_the_fix(harness: Harness) -> None:
    message = refused(harness.sm.create_training_job, **training_request(harness, "../../x"))
    assert message.startswith("1 validation error detected: Value '../../x' at 'TrainingJobName'")
    assert "regular expression pattern: [a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}" in message
    assert "letters, digits and hyphens" in message


@pytest.mark.parametrize("channel", ["..", ".", "../../x", "a/b", "/tmp", "c\n"])
def test_channel_names_that_are_not_one_folder_name_are_refused(
    harness: Harness, state: Path, channel: str
) -> None:
    data = harness.tmp / "data"
    data.mkdir()
    channels = [
        {
            "ChannelName": channel,
            "DataSource": {"S3DataSource": {"S3DataType": "S3Prefix", "S3Uri": data.as_uri()}},
        }
    ]
    before = snapshot(harness.tmp, skip=state)
    message = refused(
        harness.sm.create_hyper_parameter_tuning_job,
        **harness.request(TrainingJobDefinition__InputDataConfig=channels),
    )
    assert "TrainingJobDefinition.InputDataConfig[0].ChannelName" in message
    message = refused(
        harness.sm.create_training_job, **training_request(harness, "job-1", InputDataConfig=channels)
    )
    assert "InputDataConfig[0].ChannelName" in message
    assert snapshot(harness.tmp, skip=state) == before
    assert list((state / "tuning-jobs").iterdir()) == list((state / "training-jobs").iterdir()) == []


@pytest.mark.parametrize(
    ("field", "uri"),
    [
        ("TrainingJobDefinition.InputDataConfig[0].DataSource.S3DataSource.S3Uri", "s3://bucket/../.."),
        ("TrainingJobDefinition.InputDataConfig[0].DataSource.S3DataSource.S3Uri", "s3://bucket/a/../../b/"),
        ("TrainingJobDefinition.InputDataConfig[0].DataSource.S3DataSource.S3Uri", "file:///tmp/d/%2E%2E/x"),
        ("TrainingJobDefinition.InputDataConfig[0].DataSource.S3DataSource.S3Uri", "file://etc/passwd"),
        ("TrainingJobDefinition.InputDataConfig[0].DataSource.S3DataSource.S3Uri", "/etc"),
        ("TrainingJobDefinition.OutputDataConfig.S3OutputPath", "file:///tmp/out/../../x"),
        ("TrainingJobDefinition.OutputDataConfig.S3OutputPath", "s3://bucket/./x"),
    ],
)
def test_uris_with_dot_segments_or_no_absolute_folder_are_refused(
    harness: Harness, state: Path, field: str, uri: str
) -> None:
    req = harness.request(
        TrainingJobDefinition__InputDataConfig=[
            {
                "ChannelName": "train",
                "DataSource": {"S3DataSource": {"S3DataType": "S3Prefix", "S3Uri": "s3://b/t/"}},
            }
        ]
    )
    definition = req["TrainingJobDefinition"]
    if "OutputDataConfig" in field:
        definition["OutputDataConfig"]["S3OutputPath"] = uri
    else:
        definition["InputDataConfig"][0]["DataSource"]["S3DataSource"]["S3Uri"] = uri
    before = snapshot(harness.tmp, skip=state)
    message = refused(harness.sm.create_hyper_parameter_tuning_job, **req)
    assert f"at '{field}'" in message
    assert snapshot(harness.tmp, skip=state) == before


def test_a_symlinked_trial_folder_pointing_outside_is_refused(harness: Harness, state: Path) -> None:
    outside = harness.tmp / "outside"
    outside.mkdir()
    (state / "training-jobs" / "job-1").symlink_to(outside, target_is_directory=True)
    message = refused(harness.sm.create_training_job, **training_request(harness, "job-1"))
    assert "would be outside the state folder" in message
    assert list(outside.iterdir()) == []
    assert not (state / "training-jobs" / "job-1.json").exists()


def test_a_symlinked_job_document_pointing_outside_is_refused(harness: Harness, state: Path) -> None:
    outside = harness.tmp / "precious.json"
    outside.write_text("keep me")
    (state / "tuning-jobs" / "tune-1.json").symlink_to(outside)
    refused(harness.sm.create_hyper_parameter_tuning_job, **harness.request())
    assert outside.read_text() == "keep me"
    assert (state / "tuning-jobs" / "tune-1.json").is_symlink()


def test_a_symlinked_data_folder_pointing_outside_is_refused(harness: Harness, state: Path) -> None:
    outside = harness.tmp / "outside"
    outside.mkdir()
    (state / "data" / "tune-1").symlink_to(outside, target_is_directory=True)
    req = harness.request(
        TrainingJobDefinition__InputDataConfig=[
            {
                "ChannelName": "train",
                "DataSource": {"S3DataSource": {"S3DataType": "S3Prefix", "S3Uri": "s3://b/t/"}},
            }
        ]
    )
    message = refused(harness.sm.create_hyper_parameter_tuning_job, **req)
    assert "'data/tune-1/train' would be outside the state folder" in message
    assert list(outside.iterdir()) == []
    assert list((state / "tuning-jobs").iterdir()) == []


def test_documents_found_through_a_link_or_with_a_bad_name_are_not_loaded(tmp_path: Path) -> None:
    state = tmp_path / "state"
    (state / "tuning-jobs").mkdir(parents=True)
    (state / "training-jobs").mkdir()
    outside = tmp_path / "elsewhere.json"
    outside.write_text('{"TrainingJobName": "job-9", "TrainingJobStatus": "InProgress"}')
    (state / "training-jobs" / "job-9.json").symlink_to(outside)
    (state / "training-jobs" / "evil.json").write_text(
        '{"TrainingJobName": "../../evil", "TrainingJobStatus": "InProgress", "_local": {}}'
    )
    with sagemaker(state_dir=state, image_map=IMAGE_MAP, event_sink=lambda e: None) as engine:
        assert engine.store.load_training() == []
    assert outside.read_text().endswith('"InProgress"}')
    assert not (tmp_path / "evil.json").exists()


def test_an_s3_key_with_dot_segments_fails_the_trial_and_writes_nothing_outside(
    aws: None, tmp_path: Path
) -> None:
    s3 = boto3.client("s3", region_name="us-east-1")
    s3.create_bucket(Bucket="data")
    s3.put_object(Bucket="data", Key="v1/train/part-0.csv", Body=b"1,2,3\n")
    s3.put_object(Bucket="data", Key="v1/train/../../../../escaped.csv", Body=b"gotcha\n")
    assert any(".." in o["Key"] for o in s3.list_objects_v2(Bucket="data", Prefix="v1/train/")["Contents"])
    req = tuning_request(
        **{
            "HyperParameterTuningJobConfig__ResourceLimits": ONE,
            "TrainingJobDefinition__InputDataConfig": [
                {
                    "ChannelName": "train",
                    "DataSource": {
                        "S3DataSource": {"S3DataType": "S3Prefix", "S3Uri": "s3://data/v1/train/"}
                    },
                }
            ],
            "TrainingJobDefinition__OutputDataConfig__S3OutputPath": "s3://data/runs",
        }
    )
    state = tmp_path / "a" / "b" / "state"
    sm = boto3.client("sagemaker", region_name="us-east-1")
    with sagemaker(state_dir=state, image_map=IMAGE_MAP, event_sink=lambda e: None) as engine:
        sm.create_hyper_parameter_tuning_job(**req)
        assert engine.wait("tune-1", 60) == "Failed"
        (summary,) = sm.list_training_jobs_for_hyper_parameter_tuning_job(
            HyperParameterTuningJobName="tune-1"
        )["TrainingJobSummaries"]
    assert "'v1/train/../../../../escaped.csv'" in summary["FailureReason"]
    assert "outside the channel's folder" in summary["FailureReason"]
    assert [p for p in tmp_path.rglob("escaped.csv")] == []
    assert not (state / "data" / "tune-1" / "train").exists()  # no half-fetched channel is kept


def test_a_file_output_folder_keeps_the_model_below_it(tmp_path: Path) -> None:
    out, elsewhere = tmp_path / "out", tmp_path / "elsewhere"
    (out / "job-1").mkdir(parents=True)
    elsewhere.mkdir()
    (out / "job-1" / "output").symlink_to(elsewhere, target_is_directory=True)
    archive = tmp_path / "model.tar.gz"
    archive.write_bytes(b"x")
    with pytest.raises(ServiceError) as err:
        upload(archive, out.as_uri(), "job-1", None)
    assert err.value.code == "ValidationException"
    assert "outside the output folder" in err.value.message
    assert list(elsewhere.iterdir()) == []
    upload(archive, out.as_uri(), "job-2", None)
    assert (out / "job-2" / "output" / "model.tar.gz").read_bytes() == b"x"


def test_inside_refuses_escapes_links_and_the_base_itself(tmp_path: Path) -> None:
    (tmp_path / "base").mkdir()
    (tmp_path / "base" / "link").symlink_to(tmp_path)
    assert inside(tmp_path / "base", "a", "b") == (tmp_path / "base" / "a" / "b").resolve()
    for parts in (("..",), ("a", "..", ".."), ("/etc",), ("link", "x"), (".",), ("a\x00",)):
        with pytest.raises(ServiceError):
            inside(tmp_path / "base", *parts)
    assert inside(tmp_path / "base", "link", follow_last=False) == (tmp_path / "base").resolve() / "link"
    with pytest.raises(ServiceError):
        inside(tmp_path / "base", "a/b", follow_last=False)


def test_check_uri_accepts_plain_s3_and_file_uris() -> None:
    for uri in ("s3://bucket/", "s3://bucket/data/v1/train/", "file:///tmp/data/", "file://localhost/tmp/x"):
        assert check_uri(uri, "f") == uri


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"HyperParameters": {"a\x00b": "1"}}, "HyperParameters"),
        ({"HyperParameters": {"a\nb": "1"}}, "HyperParameters"),
        ({"HyperParameters": {"k" * 257: "1"}}, "HyperParameters"),
        ({"HyperParameters": {"a": "x\x00"}}, "HyperParameters.a"),
        ({"Environment": {"A=B": "1"}}, "Environment"),
        ({"Environment": {"A": "v" * 513}}, "Environment.A"),
        (
            {
                "AlgorithmSpecification": {
                    "TrainingImage": "quad",
                    "TrainingInputMode": "File",
                    "MetricDefinitions": [{"Name": "loss\nx", "Regex": "loss=(.*)"}],
                }
            },
            "AlgorithmSpecification.MetricDefinitions[0].Name",
        ),
    ],
)
def test_names_that_become_arguments_or_variables_are_checked(
    harness: Harness, overrides: dict[str, Any], field: str
) -> None:
    message = refused(harness.sm.create_training_job, **training_request(harness, "job-1", **overrides))
    assert f"at '{field}" in message


def test_a_hyperparameter_name_with_an_equals_sign_still_trains(harness: Harness) -> None:
    harness.sm.create_training_job(**training_request(harness, "job-1", HyperParameters={"a=b": "1"}))
    assert harness.engine.wait("job-1", 60) == "Completed"


def test_hyperparameter_values_given_as_numbers_to_the_engine_directly_still_train(harness: Harness) -> None:
    req = training_request(harness, "job-1", HyperParameters={"epochs": 1, "x": 0.3})
    harness.engine.handle("CreateTrainingJob", req)
    assert harness.engine.wait("job-1", 60) == "Completed"
    assert "epoch=1 loss=" in harness.engine.trial_log("job-1")


def test_a_tuning_trial_whose_folder_links_outside_fails_and_writes_nothing_there(tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    logs = Mock()
    req = tuning_request(HyperParameterTuningJobConfig__ResourceLimits=ONE)
    req["TrainingJobDefinition"]["OutputDataConfig"]["S3OutputPath"] = (tmp_path / "out").as_uri()
    sm = boto3.client("sagemaker", region_name="us-east-1")
    with sagemaker(
        state_dir=tmp_path / "state", image_map=IMAGE_MAP, event_sink=lambda e: None, logs_client=logs
    ) as engine:
        trial = engine._training_name("tune-1", 1, 7)  # the first trial's name under RandomSeed 7
        (engine.store.root / "training-jobs" / trial).symlink_to(outside, target_is_directory=True)
        sm.create_hyper_parameter_tuning_job(**req)
        assert engine.wait("tune-1", 60) == "Failed"
        reason = sm.describe_hyper_parameter_tuning_job(HyperParameterTuningJobName="tune-1")["FailureReason"]
        (summary,) = sm.list_training_jobs_for_hyper_parameter_tuning_job(
            HyperParameterTuningJobName="tune-1"
        )["TrainingJobSummaries"]
    assert reason.startswith("All training jobs failed."), reason  # the job loop itself did not break
    assert summary["TrainingJobName"] == trial
    assert "would be outside the state folder" in summary["FailureReason"]
    assert list(outside.iterdir()) == []
    logs.put_log_events.assert_not_called()
