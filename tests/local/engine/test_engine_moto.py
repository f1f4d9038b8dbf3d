"""The hook alongside moto's mock_aws: channels from moto S3, the model to moto S3, events to moto's
EventBridge, and SageMaker operations the engine does not serve still reaching moto."""

from __future__ import annotations

import io
import json
import tarfile
from pathlib import Path

import boto3
from conftest import IMAGE_MAP, tuning_request

from amtflow.local import sagemaker


def test_channels_and_model_go_through_moto_s3_and_events_reach_eventbridge(
    aws: None, tmp_path: Path
) -> None:
    s3 = boto3.client("s3", region_name="us-east-1")
    s3.create_bucket(Bucket="data")
    s3.put_object(Bucket="data", Key="datasets/m/v1/train/part-0.csv", Body=b"7,8,9\n")
    s3.put_object(Bucket="data", Key="datasets/m/v1/train/sub/part-1.csv", Body=b"1,1,1\n")
    sqs = boto3.client("sqs", region_name="us-east-1")
    queue = sqs.create_queue(QueueName="sm-events")["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    events = boto3.client("events", region_name="us-east-1")
    events.put_rule(
        Name="tuning",
        EventPattern=json.dumps(
            {"source": ["aws.sagemaker"], "detail-type": ["SageMaker HyperParameter Tuning Job State Change"]}
        ),
    )
    events.put_targets(Rule="tuning", Targets=[{"Id": "q", "Arn": queue_arn}])

    req = tuning_request(
        **{
            "HyperParameterTuningJobConfig__ResourceLimits": {
                "MaxNumberOfTrainingJobs": 1,
                "MaxParallelTrainingJobs": 1,
            },
            "TrainingJobDefinition__StaticHyperParameters": {"epochs": "2", "data": "1"},
            "TrainingJobDefinition__InputDataConfig": [
                {
                    "ChannelName": "train",
                    "DataSource": {
                        "S3DataSource": {"S3DataType": "S3Prefix", "S3Uri": "s3://data/datasets/m/v1/train/"}
                    },
                }
            ],
            "TrainingJobDefinition__OutputDataConfig__S3OutputPath": "s3://data/runs/m/tune-1",
        }
    )
    sm = boto3.client("sagemaker", region_name="us-east-1")
    logs = boto3.client("logs", region_name="us-east-1")
    with sagemaker(state_dir=tmp_path, image_map=IMAGE_MAP, logs_client=logs) as engine:
        sm.create_hyper_parameter_tuning_job(**req)
        assert engine.wait("tune-1", 60) == "Completed"
        (summary,) = sm.list_training_jobs_for_hyper_parameter_tuning_job(
            HyperParameterTuningJobName="tune-1"
        )["TrainingJobSummaries"]
        job = sm.describe_training_job(TrainingJobName=summary["TrainingJobName"])
        assert "data: 7,8,9" in engine.trial_log(summary["TrainingJobName"])
        # operations the engine does not serve still reach moto
        sm.create_model_package_group(ModelPackageGroupName="m")
        assert sm.describe_model_package_group(ModelPackageGroupName="m")["ModelPackageGroupName"] == "m"

    key = f"runs/m/tune-1/{summary['TrainingJobName']}/output/model.tar.gz"
    assert job["ModelArtifacts"]["S3ModelArtifacts"] == f"s3://data/{key}"
    body = s3.get_object(Bucket="data", Key=key)["Body"].read()
    with tarfile.open(fileobj=io.BytesIO(body)) as tar:
        assert tar.getnames() == ["model.json"]
    (stream,) = logs.describe_log_streams(logGroupName="/aws/sagemaker/TrainingJobs")["logStreams"]
    assert stream["logStreamName"].startswith(f"{summary['TrainingJobName']}/algo-1-")
    lines = [
        e["message"]
        for e in logs.get_log_events(
            logGroupName="/aws/sagemaker/TrainingJobs", logStreamName=stream["logStreamName"]
        )["events"]
    ]
    assert "epoch=2 loss=" in " ".join(lines)
    messages = sqs.receive_message(QueueUrl=queue, MaxNumberOfMessages=10)["Messages"]
    statuses = sorted(json.loads(m["Body"])["detail"]["HyperParameterTuningJobStatus"] for m in messages)
    assert statuses == ["Completed", "InProgress"]


def test_a_missing_s3_channel_fails_the_trial_with_a_clear_reason(aws: None, tmp_path: Path) -> None:
    boto3.client("s3", region_name="us-east-1").create_bucket(Bucket="data")
    req = tuning_request(
        **{
            "HyperParameterTuningJobConfig__ResourceLimits": {
                "MaxNumberOfTrainingJobs": 1,
                "MaxParallelTrainingJobs": 1,
            },
            "TrainingJobDefinition__InputDataConfig": [
                {
                    "ChannelName": "train",
                    "DataSource": {
                        "S3DataSource": {"S3DataType": "S3Prefix", "S3Uri": "s3://data/nothing-here/"}
                    },
                }
            ],
            "TrainingJobDefinition__OutputDataConfig__S3OutputPath": "s3://data/runs",
        }
    )
    sm = boto3.client("sagemaker", region_name="us-east-1")
    with sagemaker(state_dir=tmp_path, image_map=IMAGE_MAP, event_sink=lambda e: None) as engine:
        sm.create_hyper_parameter_tuning_job(**req)
        assert engine.wait("tune-1", 60) == "Failed"
        (summary,) = sm.list_training_jobs_for_hyper_parameter_tuning_job(
            HyperParameterTuningJobName="tune-1"
        )["TrainingJobSummaries"]
    assert summary["TrainingJobStatus"] == "Failed"
    assert "s3://data/nothing-here/" in summary["FailureReason"]
    assert "InputDataConfig[0]" in summary["FailureReason"]
