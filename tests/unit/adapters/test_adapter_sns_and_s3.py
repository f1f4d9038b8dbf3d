"""SNS notifier and the S3-backed catalogues, against moto."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from moto import mock_aws

from amtflow.adapters import S3DatasetCatalog, S3ProfileStore, SnsNotifier, StoreProfileCatalog, sns_message
from amtflow.app import Notification
from amtflow.errors import InvalidInputError, ProfileError, ProfileNotFoundError

PROFILE = (Path(__file__).resolve().parents[3] / "examples" / "xgboost" / "profile.yaml").read_text()
NOTE = Notification(
    subject="amtflow: cancer-xgb - tuning succeeded",
    text="Model: cancer-xgb\nOutcome: succeeded",
    document={"model": "cancer-xgb", "outcome": "succeeded"},
    attributes={"model": "cancer-xgb", "outcome": "succeeded"},
)


@pytest.fixture
def aws() -> Iterator[None]:
    with mock_aws():
        yield


def test_one_message_with_text_for_email_json_for_queues_and_filter_attributes(aws: None) -> None:
    sns, sqs = boto3.client("sns", region_name="us-east-1"), boto3.client("sqs", region_name="us-east-1")
    topic = sns.create_topic(Name="notes")["TopicArn"]
    queue = sqs.create_queue(QueueName="q")["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=queue_arn)

    SnsNotifier(sns, topic).publish(NOTE)

    (message,) = sqs.receive_message(QueueUrl=queue, MaxNumberOfMessages=10)["Messages"]
    envelope = json.loads(message["Body"])
    assert envelope["Subject"] == NOTE.subject
    assert json.loads(envelope["Message"]) == {"model": "cancer-xgb", "outcome": "succeeded"}
    assert envelope["MessageAttributes"]["outcome"]["Value"] == "succeeded"
    assert envelope["MessageAttributes"]["model"]["Value"] == "cancer-xgb"
    assert json.loads(sns_message(NOTE))["email"] == NOTE.text


def test_an_oversized_document_is_cut_to_its_essentials() -> None:
    big = Notification("s", "t" * 300_000, {"model": "m", "outcome": "failed", "blob": "x" * 300_000}, {})
    message = sns_message(big)
    assert len(message.encode()) <= 256 * 1024
    assert json.loads(json.loads(message)["default"]) == {
        "model": "m",
        "outcome": "failed",
        "truncated": True,
    }


def test_an_oversized_text_loses_its_tail_and_keeps_the_outcome_and_decision() -> None:
    text = "Model: m\nOutcome: failed (run failed)\nDecision: tune — new data\n" + "é\n" * 200_000
    plan = {"action": "tune", "reason": "new data", "overrides": {"blob": "x" * 200_000}}
    document = {"model": "m", "outcome": "failed", "plan": plan, "error": {"type": "E", "message": "m"}}
    attributes = {"model": "m" * 256, "outcome": "failed"}
    message = sns_message(Notification("s", text, document, attributes))
    # SNS counts the body and the message attributes together
    assert len(message.encode()) + sum(len(k) + len(v) + 6 for k, v in attributes.items()) <= 262_144
    body = json.loads(message)
    assert body["email"].startswith("Model: m\nOutcome: failed (run failed)\nDecision: tune — new data")
    assert "cut to fit" in body["email"]
    essentials = json.loads(body["default"])
    assert essentials["plan"] == {"action": "tune", "reason": "new data"}
    assert essentials["error"] == {"type": "E", "message": "m"}
    assert essentials["truncated"] is True


def s3_with(objects: dict[str, str]) -> Any:
    s3 = boto3.client("s3", region_name="us-east-1")
    s3.create_bucket(Bucket="data")
    for key, body in objects.items():
        s3.put_object(Bucket="data", Key=key, Body=body.encode())
    return s3


def test_profiles_come_from_the_bucket_with_overrides_applied(aws: None) -> None:
    catalog = StoreProfileCatalog(S3ProfileStore(s3_with({"profiles/cancer-xgb.yaml": PROFILE}), "data"))
    assert list(catalog.models()) == ["cancer-xgb"]
    spec = catalog.get("cancer-xgb", {"tuning": {"limits": {"max_jobs": 5}}})
    assert spec.marker == "_READY"
    assert spec.profile.tuning.limits.max_jobs == 5
    with pytest.raises(ProfileNotFoundError, match="amtflow profiles push"):
        catalog.get("missing-model")
    with pytest.raises(ProfileError, match="overrides"):
        catalog.get("cancer-xgb", {"tuning": {"limits": {"max_jobs": 0}}})
    with pytest.raises(InvalidInputError, match=r"overrides\.budget\.max_usd_per_run: not overridable"):
        catalog.get("cancer-xgb", {"budget": {"max_usd_per_run": None}})
    assert spec.budget == catalog.get("cancer-xgb").profile.budget


def test_the_newest_complete_dataset_version_is_the_last_marker_written(aws: None) -> None:
    s3 = s3_with(
        {
            "datasets/m/v1/_READY": "",
            "datasets/m/v1/train/a.csv": "1",
            "datasets/m/v3/train/a.csv": "1",  # incomplete: no marker
        }
    )
    s3.put_object(Bucket="data", Key="datasets/m/v2/_READY", Body=b"")
    catalog = S3DatasetCatalog(s3, "data")
    assert catalog.latest_version("m", "_READY") in ("v1", "v2")
    assert catalog.latest_version("m", "_DONE") is None
    assert catalog.latest_version("other", "_READY") is None
