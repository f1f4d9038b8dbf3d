"""``amtflow status``: models, last runs, champions, running jobs, spend against the cap and the stack's
alarms, read from a (moto) state table, bucket and CloudWatch, as text and as JSON, with its exit codes."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import boto3
import pytest
import yaml
from botocore.exceptions import NoCredentialsError
from moto import mock_aws

from amtflow import clients
from amtflow.adapters import DynamoDBLineageStore, DynamoStateTable
from amtflow.app import JobKind, ParkedJob
from amtflow.drift import Action, Decision, Rule
from amtflow.lineage import Champion, ObjectiveType, RunOutcome, RunRecord, Trigger
from amtflow.local.cli import main

TABLE = "amtflow-state"
BUCKET = "amtflow-data"
STACK = "amtflow"
NOW = datetime.now(UTC)
XGB = Path(__file__).resolve().parents[2] / "examples" / "xgboost" / "profile.yaml"


def run(model: str, run_id: str, outcome: RunOutcome, *, cost: float, hours: int = 0) -> RunRecord:
    return RunRecord(
        model=model,
        run_id=run_id,
        started_at=NOW - timedelta(minutes=5) + timedelta(seconds=hours),
        trigger=Trigger.S3,
        dataset_version="v2",
        data_fingerprint="sha256:bb",
        decision=Decision(Action.TUNE, Rule.NO_CHAMPION, "no champion yet", max_jobs=10),
        tuning_job=f"amtf-{model}-22222222",
        cost_estimate_usd=cost,
        best_objective=0.93 if outcome is RunOutcome.PROMOTED else None,
        outcome=outcome,
        launched=True,
    )


def champion(model: str) -> Champion:
    return Champion(
        model=model,
        tuning_job=f"amtf-{model}-22222222",
        training_job=f"amtf-{model}-22222222-004-aa",
        hyperparameters={"eta": "0.1"},
        objective_metric="validation:auc",
        objective_type=ObjectiveType.MAXIMIZE,
        objective_value=0.93,
        dataset_version="v2",
        data_fingerprint="sha256:bb",
        model_artifact="s3://b/model.tar.gz",
        training_image="img:1",
        promoted_at=NOW - timedelta(minutes=1),
    )


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    for key, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
    }.items():
        monkeypatch.setenv(key, value)
    for key in ("AMTFLOW_STATE_TABLE", "AMTFLOW_DATA_BUCKET"):
        monkeypatch.delenv(key, raising=False)
    with mock_aws():
        clients.reset()
        db = boto3.client("dynamodb")
        db.create_table(
            TableName=TABLE,
            AttributeDefinitions=[
                {"AttributeName": "pk", "AttributeType": "S"},
                {"AttributeName": "sk", "AttributeType": "S"},
            ],
            KeySchema=[
                {"AttributeName": "pk", "KeyType": "HASH"},
                {"AttributeName": "sk", "KeyType": "RANGE"},
            ],
            BillingMode="PAY_PER_REQUEST",
        )
        yield
        clients.reset()


@pytest.fixture
def healthy(aws: None) -> DynamoDBLineageStore:
    """One model, its last run promoted, a champion, a job running."""
    db = boto3.client("dynamodb")
    store = DynamoDBLineageStore(db, TABLE)
    store.add_run(run("churn", "churn-v2-0001", RunOutcome.PROMOTED, cost=1.25))
    store.set_champion(champion("churn"), expected_tuning_job=None)
    DynamoStateTable(db, TABLE).park(
        ParkedJob("amtf-churn-33333333", "token", "churn", "churn-v3-0002", NOW, JobKind.TUNING)
    )
    return store


@pytest.fixture
def troubled(healthy: DynamoDBLineageStore) -> DynamoDBLineageStore:
    """Also a model whose last run failed."""
    healthy.add_run(run("fraud", "fraud-v1-0001", RunOutcome.FAILED, cost=0.5))
    return healthy


@pytest.fixture
def stack(troubled: DynamoDBLineageStore) -> None:
    """The stack's outputs, the churn profile with a monthly cap of $1, and one alarm in ALARM."""
    profile = yaml.safe_load(XGB.read_text())
    profile["model"] = "churn"
    profile["budget"] = {"max_usd_per_month": 1}
    s3 = boto3.client("s3")
    s3.create_bucket(Bucket=BUCKET)
    s3.put_object(Bucket=BUCKET, Key="profiles/churn.yaml", Body=yaml.safe_dump(profile).encode())
    template = {
        "Resources": {"Topic": {"Type": "AWS::SNS::Topic"}},
        "Outputs": {"StateTableName": {"Value": TABLE}, "DataBucketName": {"Value": BUCKET}},
    }
    boto3.client("cloudformation").create_stack(StackName=STACK, TemplateBody=json.dumps(template))
    cw = boto3.client("cloudwatch")
    for name in (f"{STACK}-ExecutionsFailed", f"{STACK}-RunDuration", "another-stack-ExecutionsFailed"):
        cw.put_metric_alarm(
            AlarmName=name,
            Namespace="AWS/States",
            MetricName="ExecutionsFailed",
            Statistic="Sum",
            Period=300,
            EvaluationPeriods=1,
            Threshold=1,
            ComparisonOperator="GreaterThanOrEqualToThreshold",
        )
    cw.set_alarm_state(AlarmName=f"{STACK}-ExecutionsFailed", StateValue="ALARM", StateReason="1 failed run")
    cw.set_alarm_state(AlarmName="another-stack-ExecutionsFailed", StateValue="ALARM", StateReason="x")


def test_a_healthy_table_prints_each_model_and_exits_0(
    healthy: DynamoDBLineageStore, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["status", "--table", TABLE]) == 0
    out = capsys.readouterr().out
    assert "model churn" in out
    assert "  last run:  churn-v2-0001 promoted (s3, data v2" in out
    assert "  champion:  amtf-churn-22222222-004-aa validation:auc=0.93 (Maximize, data v2" in out
    assert "  running:   amtf-churn-33333333" in out
    assert f"  spend:     $1.25 (no monthly cap) in {NOW:%Y-%m}" in out
    assert "alarms: not checked" in out
    assert "attention: none" in out


def test_a_failed_last_run_needs_attention_and_exits_1(
    troubled: DynamoDBLineageStore, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["status", "--table", TABLE]) == 1
    out = capsys.readouterr().out
    assert "  last run:  fraud-v1-0001 failed" in out
    assert "  champion:  none" in out
    assert "  - fraud: last run fraud-v1-0001 failed" in out


def test_the_json_document_holds_the_same_view(
    troubled: DynamoDBLineageStore, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["status", "--table", TABLE, "--format", "json"]) == 1
    doc = json.loads(capsys.readouterr().out)
    models = {m["model"]: m for m in doc["models"]}
    assert sorted(models) == ["churn", "fraud"]
    churn = models["churn"]
    assert churn["lastRun"]["outcome"] == "promoted"
    assert churn["champion"]["objectiveValue"] == 0.93
    assert churn["champion"]["objectiveMetric"] == "validation:auc"
    assert churn["runningJobs"] == ["amtf-churn-33333333"]
    assert churn["monthToDateUsd"] == pytest.approx(1.25)
    assert churn["monthCapUsd"] is None
    assert models["fraud"]["lastRun"]["outcome"] == "failed"
    assert doc["alarms"] is None
    assert doc["attention"] == ["fraud: last run fraud-v1-0001 failed"]


def test_the_stack_gives_the_caps_and_its_own_alarms_in_alarm(
    stack: None, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["status", "--stack", STACK, "--format", "json"]) == 1
    doc = json.loads(capsys.readouterr().out)
    assert [a["name"] for a in doc["alarms"]] == [f"{STACK}-ExecutionsFailed"]
    assert doc["alarms"][0]["reason"] == "1 failed run"
    churn = next(m for m in doc["models"] if m["model"] == "churn")
    assert churn["problem"] is None
    assert churn["monthCapUsd"] == 1.0
    assert "churn: month-to-date spend reached budget.max_usd_per_month" in doc["attention"]
    assert f"alarm {STACK}-ExecutionsFailed is in ALARM" in doc["attention"]

    assert main(["status", "--stack", STACK]) == 1
    out = capsys.readouterr().out
    assert f"  spend:     $1.25 of $1.00 cap in {NOW:%Y-%m}  OVER CAP" in out
    assert "alarms in ALARM (1):" in out
    assert f"  {STACK}-ExecutionsFailed since" in out


def test_without_a_table_the_command_says_how_to_name_one(
    aws: None, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["status"]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert "pass --stack NAME or --table NAME" in captured.err


def test_an_unknown_stack_is_an_error_on_stderr(aws: None, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["status", "--stack", "nope"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("amtflow: error: reading the outputs of stack nope")
    assert "Traceback" not in err


def test_missing_credentials_are_an_error_without_a_traceback(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    class NoCredentials:
        def scan(self, **kwargs: object) -> None:
            raise NoCredentialsError()

    monkeypatch.setattr(clients, "dynamodb", lambda: NoCredentials())
    monkeypatch.delenv("AMTFLOW_DATA_BUCKET", raising=False)
    assert main(["status", "--table", TABLE]) == 2
    err = capsys.readouterr().err
    assert "no AWS credentials found; configure them" in err
    assert "Traceback" not in err
