"""``amtflow lineage MODEL``: the lineage recorded in a state table, as text and as JSON."""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from datetime import UTC, datetime

import boto3
import pytest
from moto import mock_aws

from amtflow import clients
from amtflow.drift import Action, Decision, DriftSeverity, ProfileOptions, Rule, WarmStartType, profile_csv
from amtflow.lineage import (
    Champion,
    DatasetVersion,
    DynamoDBLineageStore,
    InMemoryLineageStore,
    ObjectiveType,
    RunOutcome,
    RunRecord,
    Trigger,
)
from amtflow.local.cli import main
from amtflow.local.cli_lineage import render_lineage

T0 = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)
TABLE = "amtflow-state"


def fill(store: InMemoryLineageStore | DynamoDBLineageStore) -> None:
    data = b"".join(f"{i % 2},{i * 0.5}\n".encode() for i in range(100))
    profile = profile_csv(io.BytesIO(data), ProfileOptions(header=False, label_index=0))
    store.put_dataset_version(DatasetVersion("churn", "v1", profile.fingerprint, T0, "s3://b/v1/", profile))
    store.add_run(
        RunRecord(
            model="churn",
            run_id="churn-v2-0001",
            started_at=T0,
            trigger=Trigger.S3,
            dataset_version="v2",
            data_fingerprint="sha256:bb",
            decision=Decision(
                Action.TUNE,
                Rule.MODERATE_DRIFT,
                "moderate drift (c1 PSI 0.180): TransferLearning warm start from 1 parent(s) with 15 jobs",
                max_jobs=15,
                warm_start_type=WarmStartType.TRANSFER_LEARNING,
                parents=("amtf-churn-11111111",),
                severity=DriftSeverity.MODERATE,
            ),
            drift_scores={"c1": 0.18, "c0": 0.02},
            drift_severity=DriftSeverity.MODERATE,
            tuning_job="amtf-churn-22222222",
            cost_estimate_usd=1.25,
            consumed_runtime_s=640,
            best_training_job="amtf-churn-22222222-004-aa",
            best_objective=0.93,
            outcome=RunOutcome.COMPLETED,
        )
    )
    store.set_champion(
        Champion(
            model="churn",
            tuning_job="amtf-churn-22222222",
            training_job="amtf-churn-22222222-004-aa",
            hyperparameters={"eta": "0.1"},
            objective_metric="validation:auc",
            objective_type=ObjectiveType.MAXIMIZE,
            objective_value=0.93,
            dataset_version="v2",
            data_fingerprint="sha256:bb",
            model_artifact="s3://b/model.tar.gz",
            training_image="img:1",
            promoted_at=T0,
        ),
        expected_tuning_job=None,
    )


def test_the_text_names_datasets_runs_decisions_drift_parents_cost_and_the_champion() -> None:
    store = InMemoryLineageStore()
    fill(store)
    text = render_lineage(store, "churn")
    assert "v1" in text
    assert "sha256:" in text
    assert "100 rows, 2 columns" in text
    assert "tune (TransferLearning from amtf-churn-11111111), budget 15 -> completed" in text
    assert "why: moderate drift (c1 PSI 0.180)" in text
    assert "drift: moderate (c1 0.180, c0 0.020)" in text
    assert "job: amtf-churn-22222222 640s best amtf-churn-22222222-004-aa = 0.93; cost ~$1.25 est." in text
    assert text.splitlines()[-1].startswith(
        "champion: amtf-churn-22222222-004-aa validation:auc=0.93 (data v2"
    )


def test_an_unknown_model_has_an_empty_lineage() -> None:
    assert render_lineage(InMemoryLineageStore(), "nobody").splitlines() == [
        "model nobody",
        "datasets (0):",
        "runs (0, newest first):",
        "champion: none",
    ]


@pytest.fixture
def table(monkeypatch: pytest.MonkeyPatch) -> Iterator[DynamoDBLineageStore]:
    for key, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
    }.items():
        monkeypatch.setenv(key, value)
    monkeypatch.delenv("AMTFLOW_STATE_TABLE", raising=False)
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
        store = DynamoDBLineageStore(db, TABLE)
        fill(store)
        yield store
        clients.reset()


def test_the_command_reads_the_state_table_and_prints_the_same_text(
    table: DynamoDBLineageStore, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["lineage", "churn", "--table", TABLE]) == 0
    assert capsys.readouterr().out.rstrip("\n") == render_lineage(table, "churn")


def test_the_command_prints_json(table: DynamoDBLineageStore, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["lineage", "churn", "--table", TABLE, "--format", "json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert [d["version"] for d in doc["datasets"]] == ["v1"]
    assert doc["runs"][0]["decision"]["parents"] == ["amtf-churn-11111111"]
    assert doc["champion"]["training_job"] == "amtf-churn-22222222-004-aa"


def test_without_a_table_the_command_says_how_to_name_one(
    table: DynamoDBLineageStore, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["lineage", "churn"]) == 2
    assert "pass --table NAME or --stack NAME" in capsys.readouterr().err
