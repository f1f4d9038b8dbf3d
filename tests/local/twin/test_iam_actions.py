"""Each call the application makes maps to the IAM action, resource ARN and condition keys AWS authorises;
a call the table does not know is refused, never let through."""

from __future__ import annotations

import pytest

from amtflow.local.twin._iam import Request
from amtflow.local.twin._iam_actions import (
    OPERATIONS,
    Site,
    UnmappedOperationError,
    access_denied,
    requests_for,
)

SITE = Site("us-east-1", "123456789012", task_state_machine=lambda token: "arn:sm" if token == "t1" else None)
ROLE = "arn:aws:iam::123456789012:role/amtflow-SageMakerExecutionRole-Q"


def test_creating_a_tuning_job_also_passes_its_role_to_sagemaker_and_tags_it() -> None:
    requests = requests_for(
        "sagemaker",
        "CreateHyperParameterTuningJob",
        {
            "HyperParameterTuningJobName": "AMTF-churn-1",
            "TrainingJobDefinition": {"RoleArn": ROLE},
            "Tags": [{"Key": "amtflow:model", "Value": "churn"}],
        },
        SITE,
    )
    job = "arn:aws:sagemaker:us-east-1:123456789012:hyper-parameter-tuning-job/amtf-churn-1"
    assert requests == [
        Request("sagemaker:CreateHyperParameterTuningJob", job),
        Request("iam:PassRole", ROLE, {"iam:PassedToService": "sagemaker.amazonaws.com"}),
        Request("sagemaker:AddTags", job),
    ]


def test_a_transaction_needs_each_items_own_action_on_its_table() -> None:
    requests = requests_for(
        "dynamodb",
        "TransactWriteItems",
        {"TransactItems": [{"Put": {"TableName": "T"}}, {"ConditionCheck": {"TableName": "U"}}]},
        SITE,
    )
    assert [(r.action, r.resource.rsplit("/", 1)[-1]) for r in requests] == [
        ("dynamodb:PutItem", "T"),
        ("dynamodb:ConditionCheckItem", "U"),
    ]


@pytest.mark.parametrize(
    ("service", "operation", "params", "expected"),
    [
        (
            "s3",
            "GetObject",
            {"Bucket": "b", "Key": "profiles/a.yaml"},
            ("s3:GetObject", "arn:aws:s3:::b/profiles/a.yaml"),
        ),
        ("s3", "ListObjectsV2", {"Bucket": "b", "Prefix": "datasets/"}, ("s3:ListBucket", "arn:aws:s3:::b")),
        (
            "dynamodb",
            "Query",
            {"TableName": "T", "IndexName": "I"},
            ("dynamodb:Query", "arn:aws:dynamodb:us-east-1:123456789012:table/T/index/I"),
        ),
        ("stepfunctions", "SendTaskSuccess", {"taskToken": "t1"}, ("states:SendTaskSuccess", "arn:sm")),
        (
            "lambda",
            "Invoke",
            {"FunctionName": "fn", "Qualifier": "live"},
            ("lambda:InvokeFunction", "arn:aws:lambda:us-east-1:123456789012:function:fn:live"),
        ),
        (
            "sqs",
            "SendMessage",
            {"QueueUrl": "https://sqs.us-east-1.amazonaws.com/123456789012/q", "MessageBody": "x"},
            ("sqs:SendMessage", "arn:aws:sqs:us-east-1:123456789012:q"),
        ),
        (
            "logs",
            "GetLogEvents",
            {"logGroupName": "/aws/sagemaker/TrainingJobs", "logStreamName": "amtf-1/algo-1"},
            (
                "logs:GetLogEvents",
                "arn:aws:logs:us-east-1:123456789012:log-group:/aws/sagemaker/TrainingJobs:log-stream:amtf-1/algo-1",
            ),
        ),
    ],
)
def test_calls_map_to_their_action_and_resource(
    service: str, operation: str, params: dict[str, object], expected: tuple[str, str]
) -> None:
    (request,) = requests_for(service, operation, params, SITE)
    assert (request.action, request.resource) == expected


def test_a_task_token_no_task_awaits_is_left_to_the_service_to_refuse() -> None:
    assert requests_for("stepfunctions", "SendTaskFailure", {"taskToken": "gone"}, SITE) == []


def test_put_metric_data_carries_its_namespace_as_the_condition_key() -> None:
    (request,) = requests_for(
        "cloudwatch", "PutMetricData", {"Namespace": "/aws/sagemaker/TrainingJobs"}, SITE
    )
    assert request.context == {"cloudwatch:namespace": "/aws/sagemaker/TrainingJobs"}


def test_an_unmapped_operation_is_refused_with_a_message_saying_where_to_add_it() -> None:
    assert ("dynamodb", "DeleteTable") not in OPERATIONS
    with pytest.raises(UnmappedOperationError, match=r"dynamodb DeleteTable .* not mapped.*_iam_actions"):
        requests_for("dynamodb", "DeleteTable", {"TableName": "T"}, SITE)


def test_each_service_refuses_with_its_own_access_denied_code() -> None:
    assert access_denied("s3") == ("AccessDenied", 403)
    assert access_denied("sns") == ("AuthorizationError", 403)
    assert access_denied("dynamodb") == ("AccessDeniedException", 400)
