"""One filtered e-mail subscription per address, against moto; the filter policy SNS applies lets through
exactly what Notify publishes for the profile's ``notifications.outcomes``."""

from __future__ import annotations

import itertools
import json
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber
from moto import mock_aws

from amtflow.adapters import SnsEmailSubscriptions, SnsNotifier, stack_output
from amtflow.app import Notification
from amtflow.errors import AmtflowError, ConfigurationError
from amtflow.profile import Outcome as NotificationOutcome
from amtflow.profile import announces, filter_policy

REGION = "us-east-1"
MODEL = "churn-xgb"
EMAIL = "ml-team@example.com"


@pytest.fixture
def sns() -> Iterator[Any]:
    with mock_aws():
        yield boto3.client("sns", region_name=REGION)


def email_subscriptions(sns: Any, topic: str) -> list[dict[str, Any]]:
    subs = sns.list_subscriptions_by_topic(TopicArn=topic)["Subscriptions"]
    return [s for s in subs if s["Protocol"] == "email"]


def test_ensure_subscribes_the_address_once_with_the_filter_policy(sns: Any) -> None:
    topic = sns.create_topic(Name="notes")["TopicArn"]
    policy = filter_policy(MODEL, [NotificationOutcome.PROMOTED, NotificationOutcome.FAILED])
    assert policy is not None
    made = SnsEmailSubscriptions(sns, topic).ensure(EMAIL, policy)
    assert made.created
    (sub,) = email_subscriptions(sns, topic)
    assert sub["Endpoint"] == EMAIL
    attributes = sns.get_subscription_attributes(SubscriptionArn=made.arn)["Attributes"]
    assert attributes["FilterPolicyScope"] == "MessageAttributes"
    assert json.loads(attributes["FilterPolicy"]) == {
        "model": [MODEL],
        "$or": [{"promotion": ["promoted"]}, {"outcome": ["failed", "no_result", "queued"]}],
    }


def test_ensure_updates_the_policy_of_an_existing_subscription_instead_of_a_duplicate(sns: Any) -> None:
    topic = sns.create_topic(Name="notes")["TopicArn"]
    subscriptions = SnsEmailSubscriptions(sns, topic)
    first = subscriptions.ensure(EMAIL, {"model": [MODEL], "outcome": ["failed"]})
    again = subscriptions.ensure(EMAIL.upper(), {"model": [MODEL], "promotion": ["promoted"]})
    assert not again.created
    assert again.arn == first.arn
    assert len(email_subscriptions(sns, topic)) == 1
    attributes = sns.get_subscription_attributes(SubscriptionArn=first.arn)["Attributes"]
    assert json.loads(attributes["FilterPolicy"]) == {"model": [MODEL], "promotion": ["promoted"]}


def test_another_address_gets_its_own_subscription(sns: Any) -> None:
    topic = sns.create_topic(Name="notes")["TopicArn"]
    subscriptions = SnsEmailSubscriptions(sns, topic)
    subscriptions.ensure(EMAIL, {"model": [MODEL]})
    subscriptions.ensure("ops@example.com", {"model": ["fraud-xgb"]})
    assert sorted(s["Endpoint"] for s in email_subscriptions(sns, topic)) == [EMAIL, "ops@example.com"]


def test_a_missing_topic_is_an_amtflow_error(sns: Any) -> None:
    missing = f"arn:aws:sns:{REGION}:123456789012:absent"
    with pytest.raises(AmtflowError, match="absent"):
        SnsEmailSubscriptions(sns, missing).ensure(EMAIL, {"model": [MODEL]})


def test_a_pending_subscription_is_found_by_subscribing_again_and_gets_the_policy() -> None:
    client = boto3.client("sns", region_name=REGION, aws_access_key_id="x", aws_secret_access_key="x")
    topic = f"arn:aws:sns:{REGION}:123456789012:notes"
    arn = f"{topic}:0f0e0d0c-0000-1111-2222-333344445555"
    policy = {"model": [MODEL], "outcome": ["failed"]}
    with Stubber(client) as stub:
        stub.add_response(
            "list_subscriptions_by_topic",
            {
                "Subscriptions": [
                    {
                        "SubscriptionArn": "PendingConfirmation",
                        "Protocol": "email",
                        "Endpoint": EMAIL,
                        "TopicArn": topic,
                    }
                ]
            },
            {"TopicArn": topic},
        )
        stub.add_response(
            "subscribe",
            {"SubscriptionArn": arn},
            {"TopicArn": topic, "Protocol": "email", "Endpoint": EMAIL, "ReturnSubscriptionArn": True},
        )
        for name, value in (("FilterPolicyScope", "MessageAttributes"), ("FilterPolicy", json.dumps(policy))):
            stub.add_response(
                "set_subscription_attributes",
                {},
                {"SubscriptionArn": arn, "AttributeName": name, "AttributeValue": value},
            )
        made = SnsEmailSubscriptions(client, topic).ensure(EMAIL, policy)
        stub.assert_no_pending_responses()
    assert made.arn == arn
    assert not made.created


# Every message Notify can publish, by its attributes.
MESSAGES = [
    {"model": MODEL, "outcome": "succeeded"},
    {"model": MODEL, "outcome": "succeeded", "promotion": "promoted"},
    {"model": MODEL, "outcome": "succeeded", "promotion": "kept_champion"},
    {"model": MODEL, "outcome": "no_result"},
    {"model": MODEL, "outcome": "skipped"},
    {"model": MODEL, "outcome": "rejected"},
    {"model": MODEL, "outcome": "failed"},
    {"model": MODEL, "outcome": "queued"},
    {"model": MODEL, "outcome": "stalled"},
    {"model": "fraud-xgb", "outcome": "failed"},
    {"model": "fraud-xgb", "outcome": "stalled"},
    {"model": "fraud-xgb", "outcome": "succeeded", "promotion": "promoted"},
]
CHOICES = [
    list(c)
    for n in (1, 2, 3, 6)
    for c in itertools.islice(itertools.combinations(list(NotificationOutcome), n), 4)
] + [[NotificationOutcome.STALLED], [NotificationOutcome.PROMOTED, NotificationOutcome.STALLED]]


@pytest.mark.parametrize("outcomes", CHOICES, ids=lambda c: "+".join(o.value for o in c))
def test_sns_delivers_exactly_what_notify_announces_for_this_model(
    sns: Any, outcomes: list[NotificationOutcome]
) -> None:
    sqs = boto3.client("sqs", region_name=REGION)
    topic = sns.create_topic(Name="notes")["TopicArn"]
    queue = sqs.create_queue(QueueName="q")["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    policy = filter_policy(MODEL, outcomes)
    sns.subscribe(
        TopicArn=topic,
        Protocol="sqs",
        Endpoint=queue_arn,
        Attributes={
            "FilterPolicyScope": "MessageAttributes",
            "FilterPolicy": json.dumps(policy),
            "RawMessageDelivery": "true",
        },
    )
    notifier = SnsNotifier(sns, topic)
    for i, attributes in enumerate(MESSAGES):
        notifier.publish(Notification(subject="s", text=str(i), document={"i": i}, attributes=attributes))
    received = []
    while True:
        batch = sqs.receive_message(QueueUrl=queue, MaxNumberOfMessages=10).get("Messages", [])
        if not batch:
            break
        for message in batch:
            received.append(json.loads(message["Body"])["i"])
            sqs.delete_message(QueueUrl=queue, ReceiptHandle=message["ReceiptHandle"])
    expected = [i for i, a in enumerate(MESSAGES) if a["model"] == MODEL and announces(outcomes, a)]
    assert sorted(received) == expected


def test_stalled_lets_the_stall_notices_of_this_model_through() -> None:
    assert filter_policy(MODEL, [NotificationOutcome.STALLED]) == {"model": [MODEL], "outcome": ["stalled"]}
    assert filter_policy(MODEL, [NotificationOutcome.FAILED, NotificationOutcome.STALLED]) == {
        "model": [MODEL],
        "outcome": ["failed", "no_result", "queued", "stalled"],
    }


def test_no_listed_outcome_gives_no_policy() -> None:
    assert filter_policy(MODEL, []) is None


def test_stack_output_reads_the_named_output_or_none() -> None:
    template = {
        "Resources": {"Topic": {"Type": "AWS::SNS::Topic"}},
        "Outputs": {"NotificationTopicArn": {"Value": {"Ref": "Topic"}}},
    }
    with mock_aws():
        cfn = boto3.client("cloudformation", region_name=REGION)
        cfn.create_stack(StackName="amtflow", TemplateBody=json.dumps(template))
        assert (stack_output(cfn, "amtflow", "NotificationTopicArn") or "").startswith("arn:aws:sns:")
        assert stack_output(cfn, "amtflow", "Absent") is None
        with pytest.raises(AmtflowError, match="nope"):
            stack_output(cfn, "nope", "NotificationTopicArn")


# --- retiring the subscriptions of addresses a profile no longer names ---------------------------------

STUB_TOPIC = f"arn:aws:sns:{REGION}:123456789012:notes"


def stub_client() -> Any:
    return boto3.client("sns", region_name=REGION, aws_access_key_id="x", aws_secret_access_key="x")


def listed(*subscriptions: tuple[str, str]) -> dict[str, Any]:
    return {
        "Subscriptions": [
            {"SubscriptionArn": arn, "Protocol": "email", "Endpoint": address, "TopicArn": STUB_TOPIC}
            for address, arn in subscriptions
        ]
    }


def test_retire_unsubscribes_this_model_s_confirmed_subscriptions_of_other_addresses(sns: Any) -> None:
    topic = sns.create_topic(Name="notes")["TopicArn"]
    subscriptions = SnsEmailSubscriptions(sns, topic)
    subscriptions.ensure(EMAIL, {"model": [MODEL], "outcome": ["failed"]})
    subscriptions.ensure("new@example.com", {"model": [MODEL], "outcome": ["failed"]})
    subscriptions.ensure("fraud@example.com", {"model": ["fraud-xgb"], "outcome": ["failed"]})
    retired = subscriptions.retire(MODEL, keep="NEW@example.com")
    assert (retired.unsubscribed, retired.pending) == ((EMAIL,), ())
    assert sorted(s["Endpoint"] for s in email_subscriptions(sns, topic)) == [
        "fraud@example.com",
        "new@example.com",
    ]


def test_retire_reports_the_earlier_address_s_pending_subscription_and_leaves_others_alone() -> None:
    client = stub_client()
    with Stubber(client) as stub:
        stub.add_response(
            "list_subscriptions_by_topic",
            listed((EMAIL, "PendingConfirmation"), ("someone@example.com", "PendingConfirmation")),
            {"TopicArn": STUB_TOPIC},
        )
        retired = SnsEmailSubscriptions(client, STUB_TOPIC).retire(MODEL, keep=None, earlier=[EMAIL.upper()])
        stub.assert_no_pending_responses()  # no unsubscribe, no re-subscribe (it would send another e-mail)
    assert (retired.unsubscribed, retired.pending) == ((), (EMAIL,))


def test_retire_skips_a_subscription_removed_meanwhile_and_says_a_refused_removal() -> None:
    gone, refused = f"{STUB_TOPIC}:0000-gone", f"{STUB_TOPIC}:0000-refused"
    client = stub_client()
    with Stubber(client) as stub:
        stub.add_response(
            "list_subscriptions_by_topic",
            listed((EMAIL, gone), ("b@example.com", refused)),
            {"TopicArn": STUB_TOPIC},
        )
        stub.add_client_error("get_subscription_attributes", "NotFound", http_status_code=404)
        stub.add_response(
            "get_subscription_attributes",
            {"Attributes": {"FilterPolicy": json.dumps({"model": [MODEL]})}},
            {"SubscriptionArn": refused},
        )
        stub.add_client_error("unsubscribe", "AuthorizationError", http_status_code=403)
        with pytest.raises(ConfigurationError, match=r"unsubscribing b@example\.com") as refusal:
            SnsEmailSubscriptions(client, STUB_TOPIC).retire(MODEL)
        stub.assert_no_pending_responses()
    assert "grant sns:Unsubscribe on the topic to the credentials running `amtflow profiles push`" in str(
        refusal.value
    )
