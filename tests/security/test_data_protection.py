"""Data at rest and in transit (public access, TLS, encryption), and what reaches environments and logs."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from security_support import (
    PROJECT_ROOT,
    as_list,
    cloudformation,
    compiled,
    render,
    resources_of_type,
    sam_template,
)

_SECRET_NAME = re.compile(r"(?i)(secret|password|passwd|token|api[_-]?key|private[_-]?key|credential)")
_SECRET_VALUE = re.compile(
    r"(AKIA|ASIA)[0-9A-Z]{16}|-----BEGIN [A-Z ]*PRIVATE KEY-----|(?i:xox[bap]-)|ghp_[0-9A-Za-z]{20,}"
)


def _bucket_policies() -> dict[str, list[dict[str, object]]]:
    """Bucket logical id → the statements of the bucket policies written for it in template.yaml."""
    out: dict[str, list[dict[str, object]]] = {}
    for policy in resources_of_type(sam_template(), "AWS::S3::BucketPolicy").values():
        bucket = render(policy["Properties"]["Bucket"]).strip("${}")
        out.setdefault(bucket, []).extend(as_list(policy["Properties"]["PolicyDocument"]["Statement"]))
    return out


def test_template_declares_buckets() -> None:
    assert resources_of_type(sam_template(), "AWS::S3::Bucket"), "the checks below would pass vacuously"


@pytest.mark.parametrize("bucket", sorted(resources_of_type(sam_template(), "AWS::S3::Bucket")))
def test_bucket_blocks_every_kind_of_public_access(bucket: str) -> None:
    props = sam_template()["Resources"][bucket]["Properties"]
    block = props.get("PublicAccessBlockConfiguration", {})
    for setting in ("BlockPublicAcls", "BlockPublicPolicy", "IgnorePublicAcls", "RestrictPublicBuckets"):
        assert block.get(setting) is True, f"{bucket}: PublicAccessBlockConfiguration.{setting} is not true"
    rules = props.get("OwnershipControls", {}).get("Rules", [])
    assert {"ObjectOwnership": "BucketOwnerEnforced"} in rules, f"{bucket}: ACLs are not disabled"


@pytest.mark.parametrize("bucket", sorted(resources_of_type(sam_template(), "AWS::S3::Bucket")))
def test_bucket_denies_requests_without_tls(bucket: str) -> None:
    statements = _bucket_policies().get(bucket, [])
    deny_tls = [
        s
        for s in statements
        if s.get("Effect") == "Deny"
        and s.get("Principal") in ("*", {"AWS": "*"})
        and as_list(s.get("Action")) == ["s3:*"]
        and s.get("Condition") == {"Bool": {"aws:SecureTransport": "false"}}
    ]
    assert deny_tls, f"{bucket}: no bucket policy statement denies s3:* when aws:SecureTransport is false"
    covered = {render(r) for s in deny_tls for r in as_list(s["Resource"])}
    assert covered >= {f"${{{bucket}.Arn}}", f"${{{bucket}.Arn}}/*"}, (
        f"{bucket}: TLS deny covers only {covered}"
    )


@pytest.mark.parametrize("bucket", sorted(resources_of_type(sam_template(), "AWS::S3::Bucket")))
def test_bucket_encrypts_at_rest(bucket: str) -> None:
    config = sam_template()["Resources"][bucket]["Properties"].get("BucketEncryption", {})
    rules = config.get("ServerSideEncryptionConfiguration", [])
    algorithms = {r.get("ServerSideEncryptionByDefault", {}).get("SSEAlgorithm") for r in rules}
    assert algorithms, f"{bucket}: no default encryption"
    assert algorithms <= {"AES256", "aws:kms", "aws:kms:dsse"}, f"{bucket}: {algorithms}"


def test_tables_encrypt_at_rest_and_the_state_table_can_be_restored() -> None:
    tables = resources_of_type(cloudformation(), "AWS::DynamoDB::Table")
    assert {"StateTable", "IdempotencyTable"} <= set(tables)
    for name, table in tables.items():
        assert table["Properties"].get("SSESpecification", {}).get("SSEEnabled") is True, name
    # Locks, parked task tokens and lineage live here; idempotency records expire within the hour.
    pitr = tables["StateTable"]["Properties"]["PointInTimeRecoverySpecification"]
    assert pitr["PointInTimeRecoveryEnabled"] is True


def test_topic_encrypts_at_rest() -> None:
    topics = resources_of_type(cloudformation(), "AWS::SNS::Topic")
    assert topics
    for name, topic in topics.items():
        assert topic["Properties"].get("KmsMasterKeyId"), f"{name}: no KmsMasterKeyId"


def test_queues_encrypt_at_rest() -> None:
    queues = resources_of_type(cloudformation(), "AWS::SQS::Queue")
    assert queues
    unencrypted = sorted(
        name
        for name, q in queues.items()
        if q["Properties"].get("SqsManagedSseEnabled") is not True
        and not q["Properties"].get("KmsMasterKeyId")
    )
    assert not unencrypted, f"queues without encryption at rest: {unencrypted}"


def test_every_event_rule_target_has_a_dead_letter_queue_and_a_retry_policy() -> None:
    rules = resources_of_type(cloudformation(), "AWS::Events::Rule")
    assert len(rules) >= 5
    for name, rule in rules.items():
        for target in rule["Properties"]["Targets"]:
            assert "Arn" in target.get("DeadLetterConfig", {}), f"{name}: target {target['Id']} has no DLQ"
            retry = target.get("RetryPolicy", {})
            assert retry.get("MaximumRetryAttempts", 0) >= 1, f"{name}: target {target['Id']} never retries"
            assert 60 <= retry.get("MaximumEventAgeInSeconds", 0) <= 86400, f"{name}: {retry}"


def _event_driven_functions() -> list[str]:
    out = set()
    for rule in resources_of_type(cloudformation(), "AWS::Events::Rule").values():
        for target in rule["Properties"]["Targets"]:
            arn = target["Arn"]
            if isinstance(arn, dict) and "Fn::GetAtt" in arn:
                out.add(render(arn).strip("${}").removesuffix(".Arn"))
    return sorted(out)


def test_event_driven_functions_keep_events_their_handler_failed_on() -> None:
    """EventBridge invokes these asynchronously; the rules' DLQs catch only undeliverable events, so an event
    whose handler keeps failing must land in an OnFailure destination: an encrypted queue of this stack."""
    template = cloudformation()
    functions = _event_driven_functions()
    assert functions == [
        "ChampionEvaluationEventsFunction",
        "DeploymentEventsFunction",
        "JobEventsFunction",
        "ReconcileFunction",
        "StartRunFunction",
    ]
    configs = compiled().async_configs
    for function in functions:
        assert function in configs, f"{function} has no EventInvokeConfig: its failed events are lost"
        destination = render(configs[function].on_failure or "")
        assert destination.endswith(".Arn}"), f"{function}: OnFailure destination {destination!r}"
        queue = template["Resources"][destination.strip("${}").removesuffix(".Arn")]
        assert queue["Type"] == "AWS::SQS::Queue"
        assert queue["Properties"].get("SqsManagedSseEnabled") is True or queue["Properties"].get(
            "KmsMasterKeyId"
        )
        assert queue["Properties"].get("MessageRetentionPeriod", 345600) >= 7 * 86400, (
            "kept for a week at least"
        )


def test_no_secret_reaches_an_environment_variable() -> None:
    functions = resources_of_type(cloudformation(), "AWS::Lambda::Function")
    assert functions
    for name, function in functions.items():
        variables = function["Properties"].get("Environment", {}).get("Variables", {})
        for key, value in variables.items():
            assert not _SECRET_NAME.search(key), f"{name}: environment variable {key} looks like a secret"
            if isinstance(value, str):
                assert not _SECRET_VALUE.search(value), f"{name}: {key} holds what looks like a credential"
            else:
                # Only references to this stack's resources and parameters, never a resolved secret.
                assert not re.search(r"resolve:(secretsmanager|ssm-secure)", str(value)), f"{name}: {key}"


def test_the_secret_patterns_catch_what_they_are_meant_to() -> None:
    assert _SECRET_NAME.search("DB_PASSWORD")
    assert _SECRET_NAME.search("SLACK_API_KEY")
    assert not _SECRET_NAME.search("AMTFLOW_STATE_TABLE")
    assert _SECRET_VALUE.search("AKIA" + "ABCDEFGHIJKLMNOP")
    assert not _SECRET_VALUE.search("arn:aws:sns:us-east-1:123456789012:amtflow")


def test_execution_data_is_not_logged_by_the_state_machines() -> None:
    machines = resources_of_type(cloudformation(), "AWS::StepFunctions::StateMachine")
    assert set(machines) == {"TuningStateMachine", "DeploymentStateMachine"}
    for machine in machines.values():
        logging = machine["Properties"]["LoggingConfiguration"]
        assert logging["IncludeExecutionData"] is False
        assert logging["Level"] in ("ERROR", "FATAL", "OFF")


def test_powertools_is_never_told_to_log_the_event() -> None:
    for name, function in resources_of_type(cloudformation(), "AWS::Lambda::Function").items():
        variables = function["Properties"].get("Environment", {}).get("Variables", {})
        flag = str(variables.get("POWERTOOLS_LOGGER_LOG_EVENT", "false")).lower()
        assert flag not in ("true", "1", "yes"), f"{name}: POWERTOOLS_LOGGER_LOG_EVENT={flag}"


def _handler_sources() -> list[Path]:
    return sorted((PROJECT_ROOT / "functions").glob("*/app.py"))


def test_no_handler_logs_the_event_body() -> None:
    sources = _handler_sources()
    assert len(sources) >= 7
    for path in sources:
        text = path.read_text(encoding="utf-8")
        assert not re.search(r"log_event\s*=\s*True", text), f"{path}: log_event=True logs every event"
        # Logging calls pass names, ids, outcomes: never the raw event, a payload or data rows.
        for call in re.finditer(r"logger\.\w+\((?P<args>[^\n]*)", text):
            args = call.group("args")
            assert not re.search(r"\b(event|payload|rows?|body)\b(?!\.)", args), f"{path}: logs {args!r}"


def test_the_core_never_logs_data_rows() -> None:
    core = PROJECT_ROOT / "src" / "amtflow"
    for path in sorted(core.rglob("*.py")):
        if "local" in path.relative_to(core).parts:
            continue
        text = path.read_text(encoding="utf-8")
        assert not re.search(r"log_event\s*=\s*True", text), path
        for call in re.finditer(r"logger\.\w+\((?P<args>[^\n]*)", text):
            assert not re.search(r"\b(rows?|sample|event)\b", call.group("args")), f"{path}: {call.group()}"
