"""One contract, two implementations: the in-memory notifier records what the SNS adapter (moto) delivers to
a topic's subscribers: the subject, the JSON document and the filterable attributes, under a message ID of
its own per publish."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from app_fakes import Notifier
from botocore.stub import Stubber
from moto import mock_aws

from amtflow.adapters import SnsNotifier
from amtflow.app import Notification
from amtflow.errors import ConfigurationError, NotFoundError, TransientError

TOPIC = "arn:aws:sns:us-east-1:123456789012:amtflow-notifications"


def notification(outcome: str = "promoted") -> Notification:
    return Notification(
        subject=f"amtflow: cancer-xgb - {outcome}",
        text=f"cancer-xgb: {outcome}\nbest trial 0.97",
        document={"model": "cancer-xgb", "outcome": outcome, "best": {"value": 0.97}},
        attributes={"model": "cancer-xgb", "outcome": outcome},
    )


class World:
    def __init__(self, notifier: Any, received: Any) -> None:
        self.notifier = notifier
        self.received = received
        """What a subscriber got: ``[(message ID, subject, document, attributes)]``."""


@pytest.fixture(params=["in-memory", "sns"])
def world(request: pytest.FixtureRequest) -> Iterator[World]:
    if request.param == "in-memory":
        fake = Notifier()

        def recorded() -> list[tuple[str, str, Any, dict[str, str]]]:
            return [
                (f"message-{i}", n.subject, dict(n.document), dict(n.attributes))
                for i, n in enumerate(fake.published, start=1)
            ]

        yield World(fake, recorded)
        return
    with mock_aws():
        sns = boto3.client("sns", region_name="us-east-1")
        sqs = boto3.client("sqs", region_name="us-east-1")
        topic = sns.create_topic(Name="amtflow-notifications")["TopicArn"]
        queue = sqs.create_queue(QueueName="subscriber")["QueueUrl"]
        queue_arn = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])["Attributes"][
            "QueueArn"
        ]
        sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=queue_arn)

        def received() -> list[tuple[str, str, Any, dict[str, str]]]:
            out = []
            for m in sqs.receive_message(QueueUrl=queue, MaxNumberOfMessages=10).get("Messages", []):
                body = json.loads(m["Body"])
                attributes = {k: v["Value"] for k, v in body.get("MessageAttributes", {}).items()}
                out.append((body["MessageId"], body["Subject"], json.loads(body["Message"]), attributes))
            return out

        yield World(SnsNotifier(sns, topic), received)


def test_subscribers_get_the_subject_the_document_and_the_attributes(world: World) -> None:
    message_id = world.notifier.publish(notification())
    assert world.received() == [
        (
            message_id,
            "amtflow: cancer-xgb - promoted",
            {"model": "cancer-xgb", "outcome": "promoted", "best": {"value": 0.97}},
            {"model": "cancer-xgb", "outcome": "promoted"},
        )
    ]


def test_every_publish_is_its_own_message(world: World) -> None:
    ids = [world.notifier.publish(notification(o)) for o in ("promoted", "kept", "failed")]
    assert all(isinstance(i, str) and i for i in ids)
    assert len(set(ids)) == 3
    assert sorted(r[3]["outcome"] for r in world.received()) == ["failed", "kept", "promoted"]


def test_a_topic_that_does_not_exist_is_not_found() -> None:
    with mock_aws():
        sns = boto3.client("sns", region_name="us-east-1")
        with pytest.raises(NotFoundError, match="amtflow-notifications"):
            SnsNotifier(sns, TOPIC).publish(notification())


@pytest.mark.parametrize(
    ("code", "status", "error"),
    [
        ("Throttling", 400, TransientError),
        ("InternalError", 500, TransientError),
        ("KMSThrottling", 400, TransientError),
        ("NotFound", 404, NotFoundError),
        ("AuthorizationError", 403, ConfigurationError),
    ],
)
def test_a_publish_sns_refuses_is_a_domain_error(code: str, status: int, error: type[Exception]) -> None:
    sns = boto3.client("sns", region_name="us-east-1")
    with Stubber(sns) as stub:
        stub.add_client_error("publish", service_error_code=code, http_status_code=status)
        with pytest.raises(error):
            SnsNotifier(sns, TOPIC).publish(notification())
