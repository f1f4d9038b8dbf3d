"""``amtflow lineage MODEL``: the lineage recorded in a state table, as text and as JSON."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest
from botocore.exceptions import NoCredentialsError
from moto import mock_aws

from amtflow import clients
from amtflow.adapters import DynamoDBLineageStore
from amtflow.drift import Action, Decision, DriftSeverity, ProfileOptions, Rule, WarmStartType, profile_csv
from amtflow.lineage import (
    Champion,
    DatasetVersion,
    InMemoryLineageStore,
    ObjectiveType,
    RunOutcome,
    RunRecord,
    Trigger,
)
from amtflow.local.cli import main
from amtflow.local.cli_lineage import RUN_COLUMNS, lineage_document, render_lineage

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
    store.add_run(
        RunRecord(
            model="churn",
            run_id="churn-v3-rejected",
            started_at=T0 + timedelta(hours=1),
            trigger=Trigger.MANUAL,
            dataset_version="v3",
            data_fingerprint="sha256:cc",
            decision=Decision(Action.TUNE, Rule.SEVERE_DRIFT, "severe drift", max_jobs=30),
            tuning_job="amtf-churn-33333333",
            cost_estimate_usd=168.91,
            launched=False,
            outcome=RunOutcome.FAILED,
        )
    )
    store.add_run(
        RunRecord(
            model="churn",
            run_id="churn-v3-0002",
            started_at=T0 + timedelta(hours=2),
            trigger=Trigger.MANUAL,
            dataset_version="v3",
            data_fingerprint="sha256:cc",
            decision=Decision(Action.TUNE, Rule.SEVERE_DRIFT, "severe drift", max_jobs=30),
            tuning_job="amtf-churn-44444444",
            cost_estimate_usd=1.38,
            launched=True,
            billable_s=2400,
            cost_usd=0.1533,
            training_jobs=30,
            outcome=RunOutcome.COMPLETED,
        )
    )
    store.add_run(
        RunRecord(
            model="churn",
            run_id="churn-v4-0003",
            started_at=T0 + timedelta(hours=3),
            trigger=Trigger.MANUAL,
            dataset_version="v4",
            data_fingerprint="sha256:dd",
            decision=Decision(Action.TUNE, Rule.SEVERE_DRIFT, "severe drift", max_jobs=30),
            tuning_job="amtf-churn-55555555",
            cost_estimate_usd=1.38,
            launched=True,
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
    text = render_lineage(store, "churn", now=T0)
    assert "v1" in text
    assert "sha256:" in text
    assert "100 rows, 2 columns" in text
    assert "tune (TransferLearning from amtf-churn-11111111), budget 15 -> completed" in text
    assert "why: moderate drift (c1 PSI 0.180)" in text
    assert "drift: moderate (c1 0.180, c0 0.020)" in text
    assert "job: amtf-churn-22222222 640s best amtf-churn-22222222-004-aa = 0.93" in text
    assert text.splitlines()[-2].startswith("month to date (2026-11): $")


def test_each_run_shows_its_estimate_beside_its_actual_cost_and_what_the_month_counts() -> None:
    store = InMemoryLineageStore()
    fill(store)
    text = render_lineage(store, "churn", now=T0 + timedelta(days=1))
    # finished before runs recorded their billable time: its estimate stays what it counts
    assert "cost: estimate $1.25, actual unknown (not priced); counts $1.25 (estimate)" in text
    # rejected by preflight: nothing ran, nothing counts
    assert "cost: estimate $168.91, actual $0.00 (no job ran); counts $0.00 (none)" in text
    # finished and priced from its billable time
    assert "cost: estimate $1.38, actual $0.15 for 2400s billable; counts $0.15 (actual)" in text
    # still running: its estimate counts until it ends
    assert "cost: estimate $1.38, actual - (job not ended); counts $1.38 (estimate)" in text
    # the month's figure is the store's, the one preflight checks against the monthly cap
    assert "month to date (2026-11): $2.78 (what preflight checks against budget.max_usd_per_month)" in text
    assert store.month_to_date_spend("churn", T0 + timedelta(days=1)) == pytest.approx(1.25 + 0.1533 + 1.38)
    assert text.splitlines()[-1].startswith(
        "champion: amtf-churn-22222222-004-aa validation:auc=0.93 (data v2"
    )


def test_an_unknown_model_has_an_empty_lineage() -> None:
    now = datetime(2026, 12, 7, tzinfo=UTC)
    assert render_lineage(InMemoryLineageStore(), "nobody", now=now).splitlines() == [
        "model nobody",
        "datasets (0):",
        "runs (0, newest first):",
        "month to date (2026-12): $0.00 (what preflight checks against budget.max_usd_per_month)",
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
    assert doc["runs"][-1]["decision"]["parents"] == ["amtf-churn-11111111"]
    assert doc["champion"]["training_job"] == "amtf-churn-22222222-004-aa"
    assert set(doc["month_to_date"]) == {"month", "as_of", "usd"}
    assert doc["month_to_date"]["usd"] == table.month_to_date_spend("churn", datetime.now(UTC))


def test_the_json_has_estimate_and_actual_per_run_and_the_month_preflight_counts(
    table: DynamoDBLineageStore,
) -> None:
    now = T0 + timedelta(days=1)
    doc = lineage_document(table, "churn", now=now)
    runs = {r["run_id"]: r for r in doc["runs"]}
    costs = {
        k: (r["cost_estimate_usd"], r["cost_usd"], r["billable_s"], r["spend_usd"], r["spend_basis"])
        for k, r in runs.items()
    }
    assert costs == {
        "churn-v2-0001": (1.25, None, None, 1.25, "estimate"),
        "churn-v3-rejected": (168.91, None, None, 0.0, "none"),
        "churn-v3-0002": (1.38, 0.1533, 2400, 0.1533, "actual"),
        "churn-v4-0003": (1.38, None, None, 1.38, "estimate"),
    }
    assert doc["month_to_date"]["month"] == "2026-11"
    assert doc["month_to_date"]["usd"] == pytest.approx(table.month_to_date_spend("churn", now))
    assert doc["month_to_date"]["usd"] == pytest.approx(sum(r["spend_usd"] for r in doc["runs"]))


def test_without_a_table_the_command_says_how_to_name_one(
    table: DynamoDBLineageStore, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["lineage", "churn"]) == 2
    assert "pass --table NAME or --stack NAME" in capsys.readouterr().err


class _NoCredentials:
    """A client for a machine without AWS credentials: botocore refuses to sign any call."""

    def __getattr__(self, name: str) -> Any:
        def call(*args: Any, **kwargs: Any) -> Any:
            raise NoCredentialsError()

        return call


@pytest.mark.parametrize("where", [["--stack", "amtflow"], ["--table", TABLE]])
def test_without_credentials_the_command_says_so_without_a_traceback(
    where: list[str], monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(clients, "cloudformation", _NoCredentials)
    monkeypatch.setattr(clients, "dynamodb", _NoCredentials)
    assert main(["lineage", "churn", *where]) == 2
    captured = capsys.readouterr()
    assert "amtflow: error: no AWS credentials found; configure them" in captured.err
    assert "Traceback" not in captured.err
    assert "retried" not in captured.err
    assert captured.out == ""


def test_the_command_prints_the_runs_table_as_csv(
    table: DynamoDBLineageStore, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["lineage", "churn", "--table", TABLE, "--format", "csv"]) == 0
    rows = list(csv.DictReader(io.StringIO(capsys.readouterr().out)))
    runs = table.list_runs("churn")
    assert [r["run_id"] for r in rows] == [r.run_id for r in runs]
    assert list(rows[0]) == list(RUN_COLUMNS)
    by_id = {r["run_id"]: r for r in rows}
    priced = by_id["churn-v3-0002"]
    assert (priced["cost_estimate_usd"], priced["cost_usd"], priced["billable_s"]) == (
        "1.38",
        "0.1533",
        "2400",
    )
    assert priced["spend_basis"] == "actual"
    warm = next(r for r in runs if r.decision.parents)
    assert by_id[warm.run_id]["parents"] == " ".join(warm.decision.parents)
    assert by_id[warm.run_id]["action"] == warm.decision.action.value
    assert by_id["churn-v2-0001"]["cost_usd"] == ""
