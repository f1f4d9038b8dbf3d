"""The twin's IAM evaluator decides as AWS does: explicit deny wins, no allow is a deny, wildcards match as
IAM matches them, conditions see the request's context."""

from __future__ import annotations

from typing import Any

import pytest

from amtflow.local.twin._iam import (
    Outcome,
    Policies,
    PolicyError,
    Principal,
    Request,
    authorize,
    denied_message,
    parse_policy,
    statements_without,
)

ROLE = "arn:aws:iam::123456789012:role/amtflow-StartTuningFunctionRole-X"
FN = Principal.role(ROLE, "amtflow-StartTuningFunction-Y")
TABLE = "arn:aws:dynamodb:us-east-1:123456789012:table/amtflow-StateTable-Z"
JOBS = "arn:aws:sagemaker:us-east-1:123456789012:hyper-parameter-tuning-job/amtf-*"
SM_ROLE = "arn:aws:iam::123456789012:role/amtflow-SageMakerExecutionRole-Q"


def policies(*statements: dict[str, Any], boundary: list[dict[str, Any]] | None = None) -> Policies:
    parsed = parse_policy({"Statement": list(statements)}, source="Role/policy")
    bound = parse_policy({"Statement": boundary}, source="boundary") if boundary is not None else None
    return Policies(identity=parsed, boundary=bound)


def decide(p: Policies, action: str, resource: str, **context: Any) -> Outcome:
    return authorize(FN, Request(action, resource, context), p).outcome


def test_an_allowed_action_on_its_resource_is_allowed_and_anything_else_implicitly_denied() -> None:
    p = policies({"Effect": "Allow", "Action": ["dynamodb:PutItem", "dynamodb:GetItem"], "Resource": TABLE})
    assert decide(p, "dynamodb:PutItem", TABLE) is Outcome.ALLOWED
    assert decide(p, "dynamodb:DeleteItem", TABLE) is Outcome.IMPLICIT_DENY
    assert decide(p, "dynamodb:PutItem", TABLE + "-other") is Outcome.IMPLICIT_DENY
    assert decide(policies(), "dynamodb:PutItem", TABLE) is Outcome.IMPLICIT_DENY


def test_an_explicit_deny_wins_over_any_allow() -> None:
    p = policies(
        {"Effect": "Allow", "Action": "dynamodb:*", "Resource": "*"},
        {"Sid": "NoDeletes", "Effect": "Deny", "Action": "dynamodb:DeleteItem", "Resource": TABLE},
    )
    assert decide(p, "dynamodb:PutItem", TABLE) is Outcome.ALLOWED
    decision = authorize(FN, Request("dynamodb:DeleteItem", TABLE), p)
    assert decision.outcome is Outcome.EXPLICIT_DENY
    assert decision.statement is not None
    assert decision.statement.sid == "NoDeletes"
    assert denied_message(FN, Request("dynamodb:DeleteItem", TABLE), decision).endswith(
        "with an explicit deny in an identity-based policy"
    )


def test_actions_match_case_insensitively_with_wildcards_and_resources_case_sensitively() -> None:
    p = policies(
        {
            "Effect": "Allow",
            "Action": ["sagemaker:Describe*", "states:Send?askSuccess"],
            "Resource": [JOBS, "*"],
        }
    )
    assert decide(p, "SageMaker:describehyperparametertuningjob", JOBS.replace("*", "x")) is Outcome.ALLOWED
    assert decide(p, "states:SendTaskSuccess", "arn:aws:states:::x") is Outcome.ALLOWED
    assert decide(p, "sagemaker:CreateHyperParameterTuningJob", "*") is Outcome.IMPLICIT_DENY
    scoped = policies({"Effect": "Allow", "Action": "sagemaker:DescribeTrainingJob", "Resource": JOBS})
    assert (
        decide(scoped, "sagemaker:DescribeTrainingJob", JOBS.replace("amtf-*", "amtf-run-1"))
        is Outcome.ALLOWED
    )
    assert decide(scoped, "sagemaker:DescribeTrainingJob", JOBS.replace("amtf-*", "AMTF-run-1")) is (
        Outcome.IMPLICIT_DENY
    )
    assert decide(scoped, "sagemaker:DescribeTrainingJob", JOBS.replace("amtf-*", "other-1")) is (
        Outcome.IMPLICIT_DENY
    )


def test_not_action_and_not_resource_invert_their_element() -> None:
    p = policies(
        {"Effect": "Allow", "NotAction": "iam:*", "Resource": "*"},
        {"Effect": "Deny", "Action": "s3:*", "NotResource": "arn:aws:s3:::data/*"},
    )
    assert decide(p, "iam:PassRole", SM_ROLE) is Outcome.IMPLICIT_DENY
    assert decide(p, "s3:GetObject", "arn:aws:s3:::data/profiles/a.yaml") is Outcome.ALLOWED
    assert decide(p, "s3:GetObject", "arn:aws:s3:::elsewhere/a") is Outcome.EXPLICIT_DENY


def test_pass_role_is_allowed_only_to_the_service_its_condition_names() -> None:
    p = policies(
        {
            "Effect": "Allow",
            "Action": "iam:PassRole",
            "Resource": SM_ROLE,
            "Condition": {"StringEquals": {"iam:PassedToService": "sagemaker.amazonaws.com"}},
        }
    )
    assert decide(p, "iam:PassRole", SM_ROLE, **{"iam:PassedToService": "sagemaker.amazonaws.com"}) is (
        Outcome.ALLOWED
    )
    assert decide(p, "iam:PassRole", SM_ROLE, **{"iam:PassedToService": "lambda.amazonaws.com"}) is (
        Outcome.IMPLICIT_DENY
    )
    assert decide(p, "iam:PassRole", SM_ROLE) is Outcome.IMPLICIT_DENY  # a missing key matches nothing


@pytest.mark.parametrize(
    ("operator", "policy_value", "request_value", "matches"),
    [
        ("StringLike", "/aws/sagemaker/*", "/aws/sagemaker/TrainingJobs", True),
        ("StringNotEquals", "a", "b", True),
        ("StringNotEquals", "a", "a", False),
        ("StringEqualsIgnoreCase", "ABC", "abc", True),
        ("ArnLike", "arn:*:ec2:*:*:subnet/subnet-1", "arn:aws:ec2:us-east-1:1:subnet/subnet-1", True),
        ("ArnLike", "arn:*:ec2:*:*:subnet/subnet-1", "arn:aws:ec2:us-east-1:1:subnet/subnet-2", False),
        ("NumericLessThan", "10", "3", True),
        ("Bool", "true", "true", True),
        ("Bool", "false", "true", False),
    ],
)
def test_condition_operators(operator: str, policy_value: str, request_value: str, matches: bool) -> None:
    p = policies(
        {"Effect": "Allow", "Action": "x:Y", "Resource": "*", "Condition": {operator: {"k": policy_value}}}
    )
    assert (decide(p, "x:Y", "*", k=request_value) is Outcome.ALLOWED) is matches


def test_if_exists_null_and_set_operators() -> None:
    def allowed(condition: dict[str, Any], **context: Any) -> bool:
        p = policies({"Effect": "Allow", "Action": "x:Y", "Resource": "*", "Condition": condition})
        return decide(p, "x:Y", "*", **context) is Outcome.ALLOWED

    assert allowed({"StringEqualsIfExists": {"k": "a"}})
    assert not allowed({"StringEqualsIfExists": {"k": "a"}}, k="b")
    assert allowed({"Null": {"k": "true"}})
    assert not allowed({"Null": {"k": "true"}}, k="a")
    assert allowed({"ForAnyValue:StringEquals": {"k": ["a", "b"]}}, k=["c", "b"])
    assert not allowed({"ForAllValues:StringEquals": {"k": ["a", "b"]}}, k=["a", "c"])
    # keys are case-insensitive, and global keys are in every request's context
    assert allowed({"StringEquals": {"AWS:PrincipalArn": ROLE}})
    assert allowed({"Bool": {"aws:SecureTransport": "true"}})


def test_the_permissions_boundary_limits_what_the_identity_policies_allow() -> None:
    p = policies(
        {"Effect": "Allow", "Action": "dynamodb:*", "Resource": "*"},
        boundary=[{"Effect": "Allow", "Action": "dynamodb:GetItem", "Resource": "*"}],
    )
    assert decide(p, "dynamodb:GetItem", TABLE) is Outcome.ALLOWED
    decision = authorize(FN, Request("dynamodb:PutItem", TABLE), p)
    assert decision.outcome is Outcome.IMPLICIT_DENY
    assert decision.boundary


def test_a_resource_policy_allows_a_service_principal_from_the_source_it_names() -> None:
    function = "arn:aws:lambda:us-east-1:123456789012:function:amtflow-StartRun"
    rule = "arn:aws:events:us-east-1:123456789012:rule/amtflow-DatasetMarker"
    resource = parse_policy(
        {
            "Statement": [
                {
                    "Effect": "Allow",
                    "Principal": {"Service": "events.amazonaws.com"},
                    "Action": "lambda:InvokeFunction",
                    "Resource": function,
                    "Condition": {"ArnLike": {"AWS:SourceArn": rule}},
                }
            ]
        },
        source="permission",
    )
    events = Principal.aws_service("events.amazonaws.com", source_arn=rule)
    other_rule = Principal.aws_service("events.amazonaws.com", source_arn=rule + "-2")
    request = Request("lambda:InvokeFunction", function)
    assert authorize(events, request, Policies(resource=resource)).allowed
    decision = authorize(other_rule, request, Policies(resource=resource))
    assert not decision.allowed
    assert "because no resource-based policy allows the lambda:InvokeFunction action" in denied_message(
        other_rule, request, decision
    )


def test_the_denied_message_has_awss_shape() -> None:
    request = Request("sagemaker:CreateHyperParameterTuningJob", JOBS.replace("*", "run"))
    decision = authorize(FN, request, policies())
    assert denied_message(FN, request, decision) == (
        "User: arn:aws:sts::123456789012:assumed-role/amtflow-StartTuningFunctionRole-X/"
        "amtflow-StartTuningFunction-Y is not authorized to perform: sagemaker:CreateHyperParameterTuningJob "
        f"on resource: {request.resource} because no identity-based policy allows the "
        "sagemaker:CreateHyperParameterTuningJob action"
    )


@pytest.mark.parametrize(
    "statement",
    [
        {
            "Effect": "Allow",
            "Action": "x:Y",
            "Resource": "*",
            "Condition": {"DateGreaterThanNow": {"k": "1"}},
        },
        {"Effect": "Maybe", "Action": "x:Y", "Resource": "*"},
        {"Effect": "Allow", "Action": "x:Y"},
        {"Effect": "Allow", "Action": "x:Y", "NotAction": "x:Z", "Resource": "*"},
        {"Effect": "Allow", "Action": "x:Y", "Resource": {"Fn::GetAtt": ["Bucket", "Arn"]}},
    ],
)
def test_a_policy_the_evaluator_cannot_evaluate_faithfully_is_refused_when_loaded(statement: Any) -> None:
    with pytest.raises(PolicyError, match="Role/policy"):
        policies(statement)


def test_statements_without_an_action_no_longer_allow_it_and_keep_the_rest() -> None:
    p = policies(
        {
            "Sid": "A",
            "Effect": "Allow",
            "Action": ["dynamodb:PutItem", "dynamodb:DeleteItem"],
            "Resource": TABLE,
        },
        {"Sid": "B", "Effect": "Allow", "Action": "dynamodb:DeleteItem", "Resource": TABLE},
    )
    fewer = Policies(identity=statements_without(p.identity, "dynamodb:deleteitem"))
    assert decide(fewer, "dynamodb:DeleteItem", TABLE) is Outcome.IMPLICIT_DENY
    assert decide(fewer, "dynamodb:PutItem", TABLE) is Outcome.ALLOWED
    assert [s.sid for s in fewer.identity] == ["A"]
