"""SNS notifications: one message per outcome, text for e-mail, JSON for everything else."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from amtflow.adapters._errors import ACCESS_CODES, ErrorFor, aws_call
from amtflow.app import Notification
from amtflow.errors import ConfigurationError, NotFoundError

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


PENDING = "PendingConfirmation"
"""The ``SubscriptionArn`` SNS lists for a subscription whose confirmation e-mail is not yet answered."""


@dataclass(frozen=True)
class EmailSubscription:
    """The one ``email`` subscription of an address on a topic: ``created`` when this call made it (SNS then
    sends the address a confirmation e-mail, and nothing is delivered until it is confirmed)."""

    arn: str
    created: bool


@dataclass(frozen=True)
class RetiredSubscriptions:
    """What :meth:`SnsEmailSubscriptions.retire` did: the addresses it unsubscribed, and those whose
    subscription is still pending confirmation (SNS lists it without an ARN, so it cannot be unsubscribed;
    SNS deletes it after 48 hours unless its confirmation link is followed)."""

    unsubscribed: tuple[str, ...] = ()
    pending: tuple[str, ...] = ()


def _operator_denied(action: str, permission: str) -> dict[str, ErrorFor]:
    """An access denied to the operator's credentials (``amtflow profiles push``), named with the fix."""

    def denied(e: Any) -> Exception:
        return ConfigurationError(
            f"{action}: access denied; grant {permission} on the topic to the credentials running "
            "`amtflow profiles push`"
        )

    return dict.fromkeys(ACCESS_CODES, denied)


def _policy_model(policy: str | None) -> object:
    """The ``model`` of a subscription's filter policy (``None`` when it has none or is not JSON)."""
    try:
        document = json.loads(policy or "null")
    except ValueError:
        return None
    return document.get("model") if isinstance(document, dict) else None


class SnsEmailSubscriptions:
    """Keeps one ``email`` subscription per address on a topic, with a filter policy on the message
    attributes (``FilterPolicyScope`` = ``MessageAttributes``)."""

    def __init__(self, client: SNSClient, topic_arn: str) -> None:
        self._sns = client
        self._topic = topic_arn

    def _emails(self) -> list[tuple[str, str]]:
        """``(address, subscription ARN)`` of every ``email`` subscription on the topic (the ARN is
        ``PendingConfirmation`` while unconfirmed)."""
        found = []
        with aws_call(f"listing the subscriptions of {self._topic}", field="--topic-arn"):
            pages = self._sns.get_paginator("list_subscriptions_by_topic").paginate(TopicArn=self._topic)
            for page in pages:
                for sub in page.get("Subscriptions", []):
                    if sub.get("Protocol") == "email":
                        found.append((sub.get("Endpoint", ""), sub.get("SubscriptionArn", PENDING)))
        return found

    def _existing(self, email: str) -> str | None:
        """The subscription ARN of ``email`` on the topic (``PendingConfirmation`` while unconfirmed)."""
        return next((arn for address, arn in self._emails() if address.lower() == email.lower()), None)

    def retire(
        self, model: str, *, keep: str | None = None, earlier: Iterable[str] = ()
    ) -> RetiredSubscriptions:
        """Unsubscribe the confirmed ``email`` subscriptions made for ``model`` (their filter policy's
        ``model`` is ``[model]``) of every address but ``keep``. A pending one cannot be told apart by its
        policy (SNS shows it without an ARN): those of the ``earlier`` addresses (the model's previous
        ``notifications.email``) are reported as pending instead."""
        kept = (keep or "").lower()
        before = {e.lower() for e in earlier} - {kept}
        unsubscribed: list[str] = []
        pending: list[str] = []
        for address, arn in self._emails():
            if address.lower() == kept:
                continue
            if arn == PENDING:
                if address.lower() in before:
                    pending.append(address)
                continue
            try:
                reading = f"reading the filter policy of {arn}"
                with aws_call(reading, errors=_operator_denied(reading, "sns:GetSubscriptionAttributes")):
                    attributes = self._sns.get_subscription_attributes(SubscriptionArn=arn)["Attributes"]
                if _policy_model(attributes.get("FilterPolicy")) != [model]:
                    continue
                removing = f"unsubscribing {address} from {self._topic}"
                with aws_call(removing, errors=_operator_denied(removing, "sns:Unsubscribe")):
                    self._sns.unsubscribe(SubscriptionArn=arn)
            except NotFoundError:
                continue  # unsubscribed meanwhile (the link at the foot of an e-mail)
            unsubscribed.append(address)
        return RetiredSubscriptions(tuple(unsubscribed), tuple(pending))

    def ensure(self, email: str, filter_policy: Mapping[str, Any]) -> EmailSubscription:
        """Subscribe ``email`` with ``filter_policy``, or set the policy of its existing subscription (one
        per address, never a duplicate)."""
        policy = json.dumps(filter_policy, sort_keys=True)
        attributes = {"FilterPolicyScope": "MessageAttributes", "FilterPolicy": policy}
        arn = self._existing(email)
        if arn is None:
            with aws_call(f"subscribing {email} to {self._topic}", field="notifications.email"):
                response = self._sns.subscribe(
                    TopicArn=self._topic,
                    Protocol="email",
                    Endpoint=email,
                    Attributes=attributes,
                    ReturnSubscriptionArn=True,
                )
            return EmailSubscription(arn=response["SubscriptionArn"], created=True)
        if arn == PENDING:
            # An unconfirmed subscription is listed without its ARN; subscribing again returns it.
            with aws_call(f"finding the pending subscription of {email}", field="notifications.email"):
                response = self._sns.subscribe(
                    TopicArn=self._topic, Protocol="email", Endpoint=email, ReturnSubscriptionArn=True
                )
            arn = response["SubscriptionArn"]
        with aws_call(f"setting the filter policy of {arn}", field="notifications.email"):
            for name in ("FilterPolicyScope", "FilterPolicy"):
                self._sns.set_subscription_attributes(
                    SubscriptionArn=arn, AttributeName=name, AttributeValue=attributes[name]
                )
        return EmailSubscription(arn=arn, created=False)


def stack_output(client: Any, stack: str, key: str) -> str | None:
    """The value of output ``key`` of CloudFormation stack ``stack``, or ``None`` when it has none."""
    with aws_call(f"reading the outputs of stack {stack}", field="--stack"):
        stacks = client.describe_stacks(StackName=stack).get("Stacks", [])
    outputs = {o["OutputKey"]: o["OutputValue"] for s in stacks for o in s.get("Outputs", [])}
    value = outputs.get(key)
    return str(value) if value is not None else None
