"""SNS notifications: one message per outcome, text for e-mail, JSON for everything else."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

from botocore.exceptions import BotoCoreError, ClientError

from amtflow.adapters._errors import translate
from amtflow.app import Notification

if TYPE_CHECKING:
    from mypy_boto3_sns import SNSClient

MAX_MESSAGE_BYTES = 256 * 1024


def sns_message(notification: Notification) -> str:
    """``MessageStructure=json`` body: readable text for e-mail, the JSON document for other protocols."""
    body = {
        "default": json.dumps(notification.document, sort_keys=True, default=str),
        "email": notification.text,
    }
    message = json.dumps(body)
    if len(message.encode("utf-8")) > MAX_MESSAGE_BYTES:
        body["default"] = json.dumps(
            {
                k: notification.document[k]
                for k in ("model", "outcome", "execution")
                if k in notification.document
            }
        )
        body["email"] = notification.text[:100_000]
        message = json.dumps(body)
    return message


class SnsNotifier:
    """Implements :class:`~amtflow.app.Notifier` for one topic."""

    def __init__(self, client: SNSClient, topic_arn: str) -> None:
        self._sns = client
        self._topic = topic_arn

    def publish(self, notification: Notification) -> str:
        try:
            response = self._sns.publish(
                TopicArn=self._topic,
                Subject=notification.subject,
                Message=sns_message(notification),
                MessageStructure="json",
                MessageAttributes={
                    name: {"DataType": "String", "StringValue": value}
                    for name, value in notification.attributes.items()
                },
            )
        except (ClientError, BotoCoreError) as e:
            raise translate(e, f"publishing to {self._topic}") from e
        return response["MessageId"]
