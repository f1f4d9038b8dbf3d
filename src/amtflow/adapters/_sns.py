"""SNS notifications: one message per outcome, text for e-mail, JSON for everything else."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from amtflow.adapters._errors import aws_call
from amtflow.app import Notification

if TYPE_CHECKING:
    from mypy_boto3_sns import SNSClient

MAX_MESSAGE_BYTES = 256 * 1024
"""SNS's default ``MaximumMessageSize``; it counts the message body and the message attributes together."""
ESSENTIALS = ("model", "outcome", "execution", "error", "links")
CUT_NOTE = "\n… (cut to fit SNS's 256 KB message limit; the full record is in the execution's history)"


def _attributes_bytes(attributes: Mapping[str, str]) -> int:
    return sum(len(k.encode()) + len("String") + len(v.encode()) for k, v in attributes.items())


def _envelope(document: str, text: str) -> str:
    return json.dumps({"default": document, "email": text})


def _essentials(document: Mapping[str, Any]) -> str:
    """The outcome and the decision, without the long parts (leaderboard, diagnosis, tuning details)."""
    kept: dict[str, Any] = {k: document[k] for k in ESSENTIALS if k in document}
    plan = document.get("plan")
    if isinstance(plan, Mapping):
        kept["plan"] = {k: plan[k] for k in ("action", "reason", "jobName", "datasetVersion") if k in plan}
    kept["truncated"] = True
    return json.dumps(kept, sort_keys=True, default=str)


def _cut_text(document: str, text: str, budget: int) -> str:
    """The head of ``text`` (model, outcome, decision and error come first) such that the body fits."""
    size = len(_envelope(document, text + CUT_NOTE).encode("utf-8"))
    keep = len(text)
    while size > budget and keep > 0:
        keep = max(0, min(keep - 1, int(keep * budget / size * 0.98)))
        size = len(_envelope(document, text[:keep] + CUT_NOTE).encode("utf-8"))
    return text[:keep] + CUT_NOTE


def sns_message(notification: Notification) -> str:
    """``MessageStructure=json`` body: readable text for e-mail, the JSON document for other protocols.

    Body and attributes stay within :data:`MAX_MESSAGE_BYTES`: the text's tail is cut first, then the
    document is cut to its essentials (outcome, decision, error, links)."""
    budget = MAX_MESSAGE_BYTES - _attributes_bytes(notification.attributes)
    document = json.dumps(notification.document, sort_keys=True, default=str)
    message = _envelope(document, notification.text)
    if len(message.encode("utf-8")) <= budget:
        return message
    if len(_envelope(document, "").encode("utf-8")) > budget // 2:
        document = _essentials(notification.document)
    if len(_envelope(document, CUT_NOTE).encode("utf-8")) > budget // 2:
        document = json.dumps(
            {k: str(notification.document.get(k, ""))[:200] for k in ("model", "outcome", "execution")}
            | {"truncated": True}
        )
    return _envelope(document, _cut_text(document, notification.text, budget))


class SnsNotifier:
    """Implements :class:`~amtflow.app.Notifier` for one topic."""

    def __init__(self, client: SNSClient, topic_arn: str) -> None:
        self._sns = client
        self._topic = topic_arn

    def publish(self, notification: Notification) -> str:
        with aws_call(f"publishing to {self._topic}"):
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
        return response["MessageId"]
