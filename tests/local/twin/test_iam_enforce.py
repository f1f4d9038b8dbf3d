"""The enforcement hook: a principal's boto3 calls are authorised before moto serves them, refused with the
service's own error; calls of no principal are not checked."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from moto import mock_aws

from amtflow.local.twin._iam import Principal, parse_policy
from amtflow.local.twin._iam_actions import Site, UnmappedOperationError
from amtflow.local.twin._iam_enforce import Enforcer, enforcing
from amtflow.local.twin._iam_policies import RolePolicies, StackPolicies

ACCOUNT = "123456789012"
ROLE = f"arn:aws:iam::{ACCOUNT}:role/reader"
BUCKET = "data"


def enforcer_with(*statements: dict[str, Any]) -> Enforcer:
    role = RolePolicies(
        "ReaderRole", ROLE, list(parse_policy({"Statement": list(statements)}, source="ReaderRole/p"))
    )
    return Enforcer(StackPolicies(roles={ROLE: role}), Site("us-east-1", ACCOUNT))


@pytest.fixture
def s3() -> Iterator[Any]:
    with mock_aws():
        client = boto3.client("s3", region_name="us-east-1")
        client.create_bucket(Bucket=BUCKET)
        client.put_object(Bucket=BUCKET, Key="profiles/a.yaml", Body=b"x")
        yield client


READ = {"Effect": "Allow", "Action": "s3:GetObject", "Resource": f"arn:aws:s3:::{BUCKET}/profiles/*"}
LIST = {"Effect": "Allow", "Action": "s3:ListBucket", "Resource": f"arn:aws:s3:::{BUCKET}"}


def test_a_principal_reads_what_its_role_allows_and_is_refused_the_rest(s3: Any) -> None:
    enforcer = enforcer_with(READ)
    with enforcing(enforcer), enforcer.acting_as(enforcer.role_principal(ROLE, "fn")):
        assert s3.get_object(Bucket=BUCKET, Key="profiles/a.yaml")["Body"].read() == b"x"
        with pytest.raises(ClientError) as refused:
            s3.put_object(Bucket=BUCKET, Key="profiles/b.yaml", Body=b"y")
    assert refused.value.response["Error"]["Code"] == "AccessDenied"
    assert refused.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403
    assert "assumed-role/reader/fn is not authorized to perform: s3:PutObject" in str(refused.value)
    # the refused call never reached the bucket; calls of no principal are not checked
    s3.head_object(Bucket=BUCKET, Key="profiles/a.yaml")
    with pytest.raises(ClientError):
        s3.head_object(Bucket=BUCKET, Key="profiles/b.yaml")
    assert [(c.request.action, c.decision.allowed) for c in enforcer.checks()] == [
        ("s3:GetObject", True),
        ("s3:PutObject", False),
    ]


def test_a_missing_key_is_no_such_key_only_to_a_role_that_may_list_the_bucket(s3: Any) -> None:
    for statements, code in (((READ,), "AccessDenied"), ((READ, LIST), "NoSuchKey")):
        enforcer = enforcer_with(*statements)
        with (
            enforcing(enforcer),
            enforcer.acting_as(Principal.role(ROLE, "fn")),
            pytest.raises(ClientError) as missing,
        ):
            s3.get_object(Bucket=BUCKET, Key="profiles/missing.yaml")
        assert missing.value.response["Error"]["Code"] == code


def test_a_refusal_is_the_services_modelled_exception() -> None:
    enforcer = enforcer_with(READ)
    with mock_aws(), enforcing(enforcer), enforcer.acting_as(Principal.role(ROLE, "fn")):
        sns = boto3.client("sns", region_name="us-east-1")
        with pytest.raises(sns.exceptions.AuthorizationErrorException):
            sns.publish(TopicArn=f"arn:aws:sns:us-east-1:{ACCOUNT}:t", Message="m")
        dynamodb = boto3.client("dynamodb", region_name="us-east-1")
        with pytest.raises(ClientError, match=r"AccessDeniedException.*dynamodb:GetItem"):
            dynamodb.get_item(TableName="T", Key={"pk": {"S": "a"}})


def test_an_operation_the_table_does_not_map_is_refused_not_served() -> None:
    enforcer = enforcer_with(READ)
    with (
        mock_aws(),
        enforcing(enforcer),
        enforcer.acting_as(Principal.role(ROLE, "fn")),
        pytest.raises(UnmappedOperationError, match="s3 CreateBucket"),
    ):
        boto3.client("s3", region_name="us-east-1").create_bucket(Bucket="new")
