"""``amtflow profiles push`` gives a profile's ``notifications.email`` one filtered SNS subscription."""

from __future__ import annotations

import argparse
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from moto import mock_aws

from amtflow import clients
from amtflow.errors import ConfigurationError
from amtflow.local.cli_profiles import register

BUCKET = "amtflow-data"
REGION = "us-east-1"
EMAIL = "ml-team@example.com"  # notifications.email of tests/unit/profile/data/churn-xgb.yaml


def run(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="amtflow")
    register(parser.add_subparsers(dest="command"))
    args = parser.parse_args(argv)
    return int(args.func(args))


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, Any]]:
    monkeypatch.delenv("AMTFLOW_TOPIC_ARN", raising=False)
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    with mock_aws():
        clients.reset()
        boto3.client("s3", region_name=REGION).create_bucket(Bucket=BUCKET)
        sns = boto3.client("sns", region_name=REGION)
        topic = sns.create_topic(Name="amtflow-notifications")["TopicArn"]
        yield {"sns": sns, "topic": topic}
    clients.reset()


@pytest.fixture
def profile(tmp_path: Path, xgb_text: str) -> Path:
    path = tmp_path / "churn-xgb.yaml"
    path.write_text(xgb_text)
    return path


def emails(aws: dict[str, Any]) -> list[dict[str, Any]]:
    subs = aws["sns"].list_subscriptions_by_topic(TopicArn=aws["topic"])["Subscriptions"]
    found = []
    for sub in subs:
        if sub["Protocol"] == "email":
            attributes = aws["sns"].get_subscription_attributes(SubscriptionArn=sub["SubscriptionArn"])
            found.append({"endpoint": sub["Endpoint"], **attributes["Attributes"]})
    return found


def test_push_with_a_topic_subscribes_the_email_to_this_model_s_listed_outcomes(
    aws: dict[str, Any], profile: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run(["profiles", "push", str(profile), "--bucket", BUCKET, "--topic-arn", aws["topic"]]) == 0
    (sub,) = emails(aws)
    assert sub["endpoint"] == EMAIL
    assert sub["FilterPolicyScope"] == "MessageAttributes"
    # outcomes: [promoted, not_promoted, rejected, failed]
    assert json.loads(sub["FilterPolicy"]) == {
        "model": ["churn-xgb"],
        "$or": [
            {"promotion": ["promoted", "kept_champion"]},
            {"outcome": ["rejected", "failed", "no_result", "queued"]},
        ],
    }
    out = capsys.readouterr().out
    assert f"subscribed {EMAIL}" in out
    assert "confirmation e-mail" in out


def test_pushing_again_with_other_outcomes_updates_the_one_subscription(
    aws: dict[str, Any], profile: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run(["profiles", "push", str(profile), "--bucket", BUCKET, "--topic-arn", aws["topic"]]) == 0
    text = profile.read_text().replace(
        "outcomes: [promoted, not_promoted, rejected, failed]", "outcomes: [failed]"
    )
    assert "outcomes: [failed]" in text
    profile.write_text(text)
    assert run(["profiles", "push", str(profile), "--bucket", BUCKET, "--topic-arn", aws["topic"]]) == 0
    (sub,) = emails(aws)
    assert json.loads(sub["FilterPolicy"]) == {
        "model": ["churn-xgb"],
        "outcome": ["failed", "no_result", "queued"],
    }
    assert f"updated the filter of {EMAIL}'s subscription (failed)" in capsys.readouterr().out


def test_push_reads_the_topic_from_the_stack_s_output(
    aws: dict[str, Any], profile: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    template = {
        "Resources": {"Topic": {"Type": "AWS::SNS::Topic"}},
        "Outputs": {"NotificationTopicArn": {"Value": {"Ref": "Topic"}}},
    }
    cfn = boto3.client("cloudformation", region_name=REGION)
    cfn.create_stack(StackName="amtflow", TemplateBody=json.dumps(template))
    stack_topic = cfn.describe_stacks(StackName="amtflow")["Stacks"][0]["Outputs"][0]["OutputValue"]
    assert run(["profiles", "push", str(profile), "--bucket", BUCKET, "--stack", "amtflow"]) == 0
    subs = aws["sns"].list_subscriptions_by_topic(TopicArn=stack_topic)["Subscriptions"]
    assert [s["Endpoint"] for s in subs] == [EMAIL]


def test_a_stack_without_the_topic_output_is_a_configuration_error(
    aws: dict[str, Any], profile: Path
) -> None:
    template = {"Resources": {"Topic": {"Type": "AWS::SNS::Topic"}}}
    boto3.client("cloudformation", region_name=REGION).create_stack(
        StackName="bare", TemplateBody=json.dumps(template)
    )
    with pytest.raises(ConfigurationError, match="NotificationTopicArn"):
        run(["profiles", "push", str(profile), "--bucket", BUCKET, "--stack", "bare"])


def test_push_without_a_topic_says_the_email_was_not_subscribed_and_how(
    aws: dict[str, Any], profile: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run(["profiles", "push", str(profile), "--bucket", BUCKET]) == 0
    assert emails(aws) == []
    out = capsys.readouterr().out
    assert f"notifications.email {EMAIL} not subscribed: no notification topic" in out
    assert "--topic-arn" in out
    assert "--stack" in out


def test_a_subscription_that_fails_is_said_and_fails_the_push(
    aws: dict[str, Any], profile: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    missing = f"arn:aws:sns:{REGION}:123456789012:absent"
    assert run(["profiles", "push", str(profile), "--bucket", BUCKET, "--topic-arn", missing]) == 1
    out = capsys.readouterr().out
    assert "uploaded" in out  # the profile itself is in place
    assert f"notifications.email {EMAIL} not subscribed" in out


def test_a_profile_without_email_subscribes_no_one(
    aws: dict[str, Any], profile: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    profile.write_text(profile.read_text().replace(f"  email: {EMAIL}\n", ""))
    assert run(["profiles", "push", str(profile), "--bucket", BUCKET, "--topic-arn", aws["topic"]]) == 0
    assert emails(aws) == []
    assert "subscribed" not in capsys.readouterr().out


def push(aws: dict[str, Any], profile: Path, *extra: str) -> int:
    return run(["profiles", "push", str(profile), "--bucket", BUCKET, "--topic-arn", aws["topic"], *extra])


def test_removing_the_email_unsubscribes_it_at_the_next_push(
    aws: dict[str, Any], profile: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert push(aws, profile) == 0
    assert [s["endpoint"] for s in emails(aws)] == [EMAIL]
    profile.write_text(profile.read_text().replace(f"  email: {EMAIL}\n", ""))
    capsys.readouterr()
    assert push(aws, profile) == 0
    assert emails(aws) == []
    out = capsys.readouterr().out
    assert f"churn-xgb: unsubscribed {EMAIL} from the notifications of churn-xgb (no longer its" in out
    assert push(aws, profile) == 0  # nothing left to remove: quiet
    assert "unsubscribed" not in capsys.readouterr().out


def test_replacing_the_email_subscribes_the_new_address_and_unsubscribes_the_old(
    aws: dict[str, Any], profile: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert push(aws, profile) == 0
    profile.write_text(profile.read_text().replace(EMAIL, "data-team@example.com"))
    assert push(aws, profile) == 0
    assert [s["endpoint"] for s in emails(aws)] == ["data-team@example.com"]
    out = capsys.readouterr().out
    assert "subscribed data-team@example.com" in out
    assert f"unsubscribed {EMAIL}" in out


def test_only_this_model_s_subscriptions_are_removed(
    aws: dict[str, Any], profile: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    sns, topic = aws["sns"], aws["topic"]
    other = json.dumps({"model": ["fraud-xgb"], "outcome": ["failed"]})
    sns.subscribe(
        TopicArn=topic,
        Protocol="email",
        Endpoint="fraud@example.com",
        Attributes={"FilterPolicyScope": "MessageAttributes", "FilterPolicy": other},
    )
    sns.subscribe(TopicArn=topic, Protocol="email", Endpoint="everything@example.com")  # no filter: not ours
    profile.write_text(profile.read_text().replace(f"  email: {EMAIL}\n", ""))
    assert push(aws, profile) == 0
    assert sorted(s["endpoint"] for s in emails(aws)) == ["everything@example.com", "fraud@example.com"]
    assert "unsubscribed" not in capsys.readouterr().out


def test_an_email_with_no_outcome_listed_is_unsubscribed(
    aws: dict[str, Any], profile: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert push(aws, profile) == 0
    text = profile.read_text().replace("outcomes: [promoted, not_promoted, rejected, failed]", "outcomes: []")
    profile.write_text(text)
    assert push(aws, profile) == 0
    assert emails(aws) == []
    out = capsys.readouterr().out
    assert "not subscribed: notifications.outcomes lists no outcome" in out
    assert f"unsubscribed {EMAIL} from the notifications of churn-xgb (notifications.outcomes lists no" in out


def test_removing_the_email_without_a_topic_says_it_was_not_unsubscribed_and_how(
    aws: dict[str, Any], profile: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert push(aws, profile) == 0
    profile.write_text(profile.read_text().replace(f"  email: {EMAIL}\n", ""))
    capsys.readouterr()
    assert run(["profiles", "push", str(profile), "--bucket", BUCKET]) == 0
    assert [s["endpoint"] for s in emails(aws)] == [EMAIL]
    out = capsys.readouterr().out
    assert (
        f"notifications.email {EMAIL} (the stored profile's) not unsubscribed: no notification topic" in out
    )
    assert "--topic-arn" in out


class RefusingSubscriptions:
    """Subscriptions whose removal SNS refuses (e.g. no sns:Unsubscribe for the caller)."""

    def ensure(self, email: str, policy: Any) -> Any:
        raise AssertionError("the profile has no email")

    def retire(self, model: str, *, keep: str | None = None, earlier: Any = ()) -> Any:
        raise ConfigurationError("unsubscribing from the topic: AuthorizationError; grant sns:Unsubscribe")


def test_a_removal_that_fails_is_said_and_fails_the_push(
    aws: dict[str, Any], profile: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from amtflow.local.cli_profiles import push_profiles

    profile.write_text(profile.read_text().replace(f"  email: {EMAIL}\n", ""))
    code = push_profiles(
        [str(profile)],
        client=boto3.client("s3", region_name=REGION),
        bucket=BUCKET,
        subscriptions=RefusingSubscriptions(),  # type: ignore[arg-type]
    )
    assert code == 1
    out = capsys.readouterr().out
    assert "uploaded" in out
    assert "churn-xgb: the subscriptions of earlier notifications.email addresses not removed" in out
    assert "sns:Unsubscribe" in out


class PendingSubscriptions:
    """The stored profile's address is still pending confirmation (SNS lists it without an ARN)."""

    def __init__(self) -> None:
        self.asked: list[tuple[str, str | None, list[str]]] = []

    def ensure(self, email: str, policy: Any) -> Any:
        raise AssertionError("the profile has no email")

    def retire(self, model: str, *, keep: str | None = None, earlier: Any = ()) -> Any:
        from amtflow.adapters import RetiredSubscriptions

        self.asked.append((model, keep, list(earlier)))
        return RetiredSubscriptions(pending=tuple(earlier))


def test_a_pending_subscription_of_the_stored_address_is_reported_not_removed(
    aws: dict[str, Any], profile: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from amtflow.local.cli_profiles import push_profiles

    s3 = boto3.client("s3", region_name=REGION)
    assert push_profiles([str(profile)], client=s3, bucket=BUCKET) == 0  # stored with its email
    profile.write_text(profile.read_text().replace(f"  email: {EMAIL}\n", ""))
    pending = PendingSubscriptions()
    capsys.readouterr()
    assert push_profiles([str(profile)], client=s3, bucket=BUCKET, subscriptions=pending) == 0  # type: ignore[arg-type]
    assert pending.asked == [("churn-xgb", None, [EMAIL])]
    out = capsys.readouterr().out
    assert f"churn-xgb: {EMAIL} not unsubscribed: its subscription is still pending confirmation" in out
    assert "48 hours" in out
