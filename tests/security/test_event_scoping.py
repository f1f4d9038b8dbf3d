"""Who can invoke what: every function permission is tied to the one rule that delivers to it, and each rule
matches only this stack's events (its bucket and prefix, its tuning jobs)."""

from __future__ import annotations

from typing import Any

from security_support import as_list, cloudformation, render, resources_of_type, sam_template


def _rules() -> dict[str, dict[str, Any]]:
    return resources_of_type(cloudformation(), "AWS::Events::Rule")


def test_every_invoke_permission_names_its_rule_as_the_source() -> None:
    permissions = resources_of_type(cloudformation(), "AWS::Lambda::Permission")
    rules = _rules()
    assert permissions
    targets = {(render(t["Arn"]), rule) for rule, r in rules.items() for t in r["Properties"]["Targets"]}
    for name, permission in permissions.items():
        props = permission["Properties"]
        assert props["Action"] == "lambda:InvokeFunction"
        assert props["Principal"] == "events.amazonaws.com", f"{name}: {props['Principal']}"
        assert "SourceArn" in props, f"{name}: any rule of any account could invoke the function"
        rule = render(props["SourceArn"]).strip("${}").removesuffix(".Arn")
        function = render(props["FunctionName"]).strip("${}")
        assert (f"${{{function}.Arn}}", rule) in targets, f"{name}: {rule} does not target {function}"


def test_the_dataset_rule_matches_only_this_stacks_bucket_and_prefix() -> None:
    pattern = _rules()["StartRunFunctionDatasetMarkerCreated"]["Properties"]["EventPattern"]
    assert pattern["source"] == ["aws.s3"]
    assert pattern["detail-type"] == ["Object Created"]
    assert [render(b) for b in pattern["detail"]["bucket"]["name"]] == ["${DataBucket}"]
    assert pattern["detail"]["object"]["key"] == [{"prefix": "datasets/"}]


def test_the_job_rule_matches_only_this_stacks_tuning_jobs_when_they_end() -> None:
    pattern = _rules()["JobEventsFunctionTuningJobEnded"]["Properties"]["EventPattern"]
    assert pattern["source"] == ["aws.sagemaker"]
    assert pattern["detail-type"] == ["SageMaker HyperParameter Tuning Job State Change"]
    detail = pattern["detail"]
    assert sorted(detail["HyperParameterTuningJobStatus"]) == ["Completed", "Failed", "Stopped"]
    (prefix,) = detail["HyperParameterTuningJobName"]
    assert render(prefix["prefix"]) == "${JobPrefix}-"


def test_rules_listen_on_the_default_bus_only() -> None:
    for name, rule in _rules().items():
        assert rule["Properties"].get("EventBusName") in (None, "default"), name


def test_queue_policies_admit_only_this_accounts_services() -> None:
    policies = resources_of_type(sam_template(), "AWS::SQS::QueuePolicy")
    assert policies, "the EventBridge dead-letter queue needs a policy for the rules to deliver to it"
    for name, policy in policies.items():
        for statement in as_list(policy["Properties"]["PolicyDocument"]["Statement"]):
            if statement["Effect"] != "Allow":
                continue
            principal = statement["Principal"]
            assert isinstance(principal, dict), f"{name}: open to {principal}"
            assert set(principal) == {"Service"}, f"{name}: open to {principal}"
            assert as_list(statement["Action"]) == ["sqs:SendMessage"], f"{name}: {statement['Action']}"
            conditions = {k for op in statement.get("Condition", {}).values() for k in op}
            assert conditions >= {"aws:SourceAccount"} or conditions >= {"aws:SourceArn"}, (
                f"{name}: any account's {principal} could send to the queue"
            )
