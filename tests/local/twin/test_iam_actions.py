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


def test_rollback_alarms_are_authorised_on_each_named_alarm_or_on_every_alarm() -> None:
    alarm = "arn:aws:cloudwatch:us-east-1:123456789012:alarm:"
    named = requests_for("cloudwatch", "DescribeAlarms", {"AlarmNames": ["amtf-e-errors", "ops"]}, SITE)
    assert [(r.action, r.resource) for r in named] == [
        ("cloudwatch:DescribeAlarms", f"{alarm}amtf-e-errors"),
        ("cloudwatch:DescribeAlarms", f"{alarm}ops"),
    ]
    (listed,) = requests_for("cloudwatch", "DescribeAlarms", {"AlarmNamePrefix": "amtflow-"}, SITE)
    assert listed.resource == f"{alarm}*"


def test_putting_an_alarm_names_its_actions_and_tags_and_tagging_needs_tag_resource() -> None:
    arn = "arn:aws:cloudwatch:us-east-1:123456789012:alarm:amtf-e-errors"
    (plain,) = requests_for("cloudwatch", "PutMetricAlarm", {"AlarmName": "amtf-e-errors"}, SITE)
    assert plain == Request("cloudwatch:PutMetricAlarm", arn)
    put, tag = requests_for(
        "cloudwatch",
        "PutMetricAlarm",
        {
            "AlarmName": "amtf-e-errors",
            "AlarmActions": ["arn:aws:sns:us-east-1:123456789012:ops"],
            "Tags": [{"Key": "team", "Value": "ml"}],
        },
        SITE,
    )
    assert (put.action, put.resource, tag.action, tag.resource) == (
        "cloudwatch:PutMetricAlarm",
        arn,
        "cloudwatch:TagResource",
        arn,
    )
    assert put.context == {
        "cloudwatch:AlarmActions": ["arn:aws:sns:us-east-1:123456789012:ops"],
        "aws:TagKeys": ["team"],
        "aws:RequestTag/team": "ml",
    }


# Calls the operator's command line makes with its own credentials, never a function's role.
OPERATOR_ONLY = {
    ("cloudformation", "DescribeStacks"),
    ("sns", "Subscribe"),
    ("sns", "SetSubscriptionAttributes"),
    ("sns", "ListSubscriptionsByTopic"),
    ("sns", "GetSubscriptionAttributes"),
    ("sns", "Unsubscribe"),
}


def test_every_call_the_adapters_make_is_mapped() -> None:
    import re
    from pathlib import Path

    import botocore.session

    import amtflow.adapters

    session = botocore.session.get_session()
    services = {service for service, _ in OPERATIONS} | {"cloudformation"}
    by_method: dict[str, list[tuple[str, str]]] = {}
    for service in services:
        model = session.get_service_model(service)
        for operation in model.operation_names:
            method = botocore.xform_name(operation)
            by_method.setdefault(method, []).append((service, operation))
    source = "\n".join(p.read_text() for p in Path(amtflow.adapters.__file__).parent.glob("*.py"))
    called = set(re.findall(r"\b(?:self\._\w+|client)\.(\w+)\(", source))
    called |= set(re.findall(r"get_paginator\(\"(\w+)\"\)", source))
    unmapped = [
        (method, candidates)
        for method in sorted(called)
        if (candidates := by_method.get(method))
        and not any(c in OPERATIONS or c in OPERATOR_ONLY for c in candidates)
    ]
    assert unmapped == []


@pytest.mark.parametrize("verb", ["Create", "Update"])
def test_moving_an_endpoint_to_a_configuration_is_authorised_on_both(verb: str) -> None:
    requests = requests_for(
        "sagemaker", f"{verb}Endpoint", {"EndpointName": "AMTF-e", "EndpointConfigName": "AMTF-e-2"}, SITE
    )
    arn = "arn:aws:sagemaker:us-east-1:123456789012:"
    assert [r.resource for r in requests] == [f"{arn}endpoint/amtf-e", f"{arn}endpoint-config/amtf-e-2"]
    assert {r.action for r in requests} == {f"sagemaker:{verb}Endpoint"}
