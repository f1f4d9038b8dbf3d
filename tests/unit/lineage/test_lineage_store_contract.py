"""One contract suite for every LineageStore: the in-memory fake and the DynamoDB adapter (moto)."""

from __future__ import annotations

import hashlib
import io
import json
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import boto3
import pytest
from botocore.stub import Stubber
from moto import mock_aws

from amtflow.adapters import DynamoDBLineageStore
from amtflow.drift import (
    Action,
    Decision,
    DriftSeverity,
    ParameterKind,
    ProfileOptions,
    Rule,
    TuningJobSignature,
    TuningJobStatus,
    WarmStartType,
    profile_csv,
)
from amtflow.errors import ConfigurationError, ConflictError, InvalidInputError, NotFoundError, TransientError
from amtflow.lineage import (
    Champion,
    DatasetVersion,
    InMemoryLineageStore,
    LineageStore,
    ObjectiveType,
    RunOutcome,
    RunRecord,
    Trigger,
    parent_candidates,
)

TABLE = "amtflow-state"
NOW = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
SIG = TuningJobSignature(
    "validation:auc",
    "Maximize",
    {"eta": ParameterKind.CONTINUOUS, "objective": ParameterKind.STATIC},
    "xgb:1.7-1",
    "sha256:aa",
)


def _create_table(client: object) -> None:
    client.create_table(  # type: ignore[attr-defined]
        TableName=TABLE,
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
        AttributeDefinitions=[
            {"AttributeName": "pk", "AttributeType": "S"},
            {"AttributeName": "sk", "AttributeType": "S"},
        ],
        BillingMode="PAY_PER_REQUEST",
    )


@pytest.fixture(params=["memory", "dynamodb"])
def store(request: pytest.FixtureRequest) -> Iterator[LineageStore]:
    if request.param == "memory":
        yield InMemoryLineageStore()
        return
    with mock_aws():
        client = boto3.client("dynamodb", region_name="us-east-1")
        _create_table(client)
        yield DynamoDBLineageStore(client, TABLE)


def _decision(parents: tuple[str, ...] = ()) -> Decision:
    return Decision(
        Action.TUNE,
        Rule.MODERATE_DRIFT,
        "moderate drift (tenure PSI 0.180)",
        max_jobs=20,
        warm_start_type=WarmStartType.TRANSFER_LEARNING if parents else None,
        parents=parents,
        severity=DriftSeverity.MODERATE,
    )


def _run(run_id: str, started: datetime, model: str = "churn", **kw: object) -> RunRecord:
    base: dict[str, object] = {
        "model": model,
        "run_id": run_id,
        "started_at": started,
        "trigger": Trigger.S3,
        "dataset_version": "2026-11-01",
        "data_fingerprint": "sha256:aa",
        "decision": _decision(),
        "cost_estimate_usd": 10.0,
    }
    base.update(kw)
    return RunRecord(**base)  # type: ignore[arg-type]


def _champion(job: str, value: float = 0.9) -> Champion:
    return Champion(
        model="churn",
        tuning_job=job,
        training_job=f"{job}-001-abcdef12",
        hyperparameters={"eta": "0.1"},
        objective_metric="validation:auc",
        objective_type=ObjectiveType.MAXIMIZE,
        objective_value=value,
        dataset_version="2026-11-01",
        data_fingerprint="sha256:aa",
        model_artifact=f"s3://bucket/runs/churn/{job}/output/model.tar.gz",
        training_image="xgb:1.7-1",
        promoted_at=NOW,
    )


def test_dataset_version_round_trips_with_its_profile(store: LineageStore) -> None:
    data = b"x,k\n" + b"".join(f"{i},{'ab'[i % 2]}\n".encode() for i in range(500))
    profile = profile_csv(io.BytesIO(data), ProfileOptions(sample_size=100))
    record = DatasetVersion(
        "churn", "2026-11-01", profile.fingerprint, NOW, "s3://b/datasets/churn/2026-11-01/", profile
    )
    assert store.put_dataset_version(record) is True
    assert store.get_dataset_version("churn", "2026-11-01") == record
    assert store.get_dataset_version("churn", "2026-10-01") is None
    assert store.get_dataset_version("other", "2026-11-01") is None


def test_dataset_versions_are_listed_per_model_oldest_first(store: LineageStore) -> None:
    for i, version in enumerate(("v2", "v1", "v3")):
        store.put_dataset_version(
            DatasetVersion("churn", version, f"sha256:{i}", NOW + timedelta(hours=i), f"s3://b/{version}/")
        )
    store.put_dataset_version(DatasetVersion("other", "v9", "sha256:9", NOW))
    assert [d.version for d in store.list_dataset_versions("churn")] == ["v2", "v1", "v3"]
    assert [d.fingerprint for d in store.list_dataset_versions("churn")] == [
        "sha256:0",
        "sha256:1",
        "sha256:2",
    ]
    assert store.list_dataset_versions("nobody") == []


def test_dataset_version_is_recorded_once_and_never_changes(store: LineageStore) -> None:
    record = DatasetVersion("churn", "v1", "sha256:aa", NOW)
    assert store.put_dataset_version(record) is True
    assert store.put_dataset_version(replace(record, recorded_at=NOW + timedelta(hours=1))) is False
    assert store.get_dataset_version("churn", "v1") == record
    with pytest.raises(ConflictError) as err:
        store.put_dataset_version(replace(record, fingerprint="sha256:bb"))
    assert "Publish the new data as a new version" in str(err.value)


def test_large_profile_fits_in_one_item(store: LineageStore) -> None:
    # Hex digests compress poorly, so the stored item is close to the profile's size.
    rows = [[hashlib.sha256(f"{c}-{i}".encode()).hexdigest() for c in range(40)] for i in range(400)]
    data = ("\n".join(",".join(r) for r in [[f"col{c}" for c in range(40)], *rows]) + "\n").encode()
    profile = profile_csv(io.BytesIO(data), ProfileOptions(top_k=200, max_profile_bytes=100_000))
    assert 50_000 < len(profile.to_json()) <= 100_000
    record = DatasetVersion("churn", "big", profile.fingerprint, NOW, profile=profile)
    assert store.put_dataset_version(record) is True
    got = store.get_dataset_version("churn", "big")
    assert got is not None
    assert got.profile == profile


def test_a_run_is_recorded_once(store: LineageStore) -> None:
    run = _run("exec-1", NOW)
    assert store.add_run(run) is True
    # A retried invocation (even with a later clock) does not record a second run nor overwrite the first.
    assert store.add_run(replace(run, started_at=NOW + timedelta(seconds=5), cost_estimate_usd=99.0)) is False
    assert store.get_run("churn", "exec-1") == run
    assert len(store.list_runs("churn")) == 1


def test_update_run_replaces_the_outcome(store: LineageStore) -> None:
    run = _run(
        "exec-1", NOW, tuning_job="amtf-churn-1", signature=SIG, job_status=TuningJobStatus.IN_PROGRESS
    )
    store.add_run(run)
    done = replace(
        run,
        job_status=TuningJobStatus.COMPLETED,
        consumed_runtime_s=3600,
        training_jobs=20,
        best_training_job="amtf-churn-1-007-12345678",
        best_objective=0.93,
        cost_usd=7.5,
        outcome=RunOutcome.PROMOTED,
        finished_at=NOW + timedelta(hours=1),
    )
    store.update_run(done)
    assert store.get_run("churn", "exec-1") == done
    with pytest.raises(InvalidInputError) as err:
        store.update_run(replace(done, started_at=NOW + timedelta(minutes=1)))
    assert err.value.field == "started_at"
    assert store.get_run("churn", "exec-1") == done
    with pytest.raises(NotFoundError):
        store.update_run(_run("never-added", NOW))
    assert store.get_run("churn", "never-added") is None


def test_runs_are_listed_newest_first_per_model(store: LineageStore) -> None:
    for i in range(5):
        store.add_run(_run(f"exec-{i}", NOW - timedelta(days=5 - i)))
    store.add_run(_run("other-model", NOW, model="fraud"))
    runs = store.list_runs("churn")
    assert [r.run_id for r in runs] == ["exec-4", "exec-3", "exec-2", "exec-1", "exec-0"]
    assert [r.run_id for r in store.list_runs("churn", limit=2)] == ["exec-4", "exec-3"]
    assert [r.run_id for r in store.list_runs("fraud")] == ["other-model"]
    assert store.list_runs("nobody") == []


def test_champion_is_compare_and_set(store: LineageStore) -> None:
    assert store.get_champion("churn") is None
    first = _champion("job-a")
    store.set_champion(first, expected_tuning_job=None)
    assert store.get_champion("churn") == first
    with pytest.raises(ConflictError) as err:
        store.set_champion(_champion("job-b"), expected_tuning_job=None)
    assert "job-a" in str(err.value)
    with pytest.raises(ConflictError):
        store.set_champion(_champion("job-b"), expected_tuning_job="job-x")
    second = _champion("job-b", 0.95)
    store.set_champion(second, expected_tuning_job="job-a")
    assert store.get_champion("churn") == second


def test_month_to_date_spend_counts_this_month_up_to_now(store: LineageStore) -> None:
    store.add_run(_run("last-month", datetime(2026, 10, 31, 23, 59, tzinfo=UTC), cost_estimate_usd=100.0))
    store.add_run(_run("first-second", datetime(2026, 11, 1, tzinfo=UTC), cost_estimate_usd=1.5))
    store.add_run(_run("estimated", NOW - timedelta(days=1), cost_estimate_usd=4.0))
    store.add_run(_run("actual", NOW - timedelta(hours=1), cost_estimate_usd=50.0, cost_usd=2.25))
    store.add_run(_run("at-now", NOW, cost_estimate_usd=0.25))
    store.add_run(_run("later", NOW + timedelta(days=2), cost_estimate_usd=1000.0))
    store.add_run(_run("other-model", NOW, model="fraud", cost_estimate_usd=1000.0))
    assert store.month_to_date_spend("churn", NOW) == pytest.approx(1.5 + 4.0 + 2.25 + 0.25)
    assert store.month_to_date_spend("churn", datetime(2026, 12, 3, tzinfo=UTC)) == 0.0
    with pytest.raises(InvalidInputError):
        store.month_to_date_spend("churn", datetime(2026, 11, 20))


def test_month_to_date_spend_is_what_was_spent(store: LineageStore) -> None:
    ended = NOW - timedelta(hours=2)
    # Rejected by preflight (or by SageMaker), skipped: no job ran, nothing was spent.
    store.add_run(_run("rejected", NOW - timedelta(days=3), outcome=RunOutcome.FAILED, launched=False))
    store.add_run(_run("skipped", NOW - timedelta(days=3), outcome=RunOutcome.SKIPPED, finished_at=ended))
    # Pending (planned, queued for quota, running): the estimate counts.
    store.add_run(_run("running", NOW - timedelta(hours=1), cost_estimate_usd=4.0, launched=True))
    store.add_run(_run("queued", NOW - timedelta(hours=1), cost_estimate_usd=3.0))
    # Finished: its actual cost from billable time, whatever the estimate said.
    done = _run(
        "done",
        NOW - timedelta(days=1),
        cost_estimate_usd=80.0,
        launched=True,
        hourly_usd={"ml.m5.xlarge": 0.23},
    )
    store.add_run(done)
    store.update_run(replace(done, outcome=RunOutcome.COMPLETED, billable_s=3600, cost_usd=1.25))
    # Finished but unpriced (no price for its instance type): the estimate stays.
    store.add_run(_run("unpriced", NOW - timedelta(days=2), cost_estimate_usd=2.0, launched=True))
    store.update_run(replace(store.get_run("churn", "unpriced"), outcome=RunOutcome.FAILED))  # type: ignore[arg-type]
    assert store.month_to_date_spend("churn", NOW) == pytest.approx(4.0 + 3.0 + 1.25 + 2.0)
    got = store.get_run("churn", "done")
    assert got is not None
    assert (got.billable_s, got.cost_usd, got.launched) == (3600, 1.25, True)
    assert got.hourly_usd == {"ml.m5.xlarge": 0.23}
    assert store.get_run("churn", "rejected") == _run(
        "rejected", NOW - timedelta(days=3), outcome=RunOutcome.FAILED, launched=False
    )


LEGACY_REJECTED = {
    # A run stored before runs recorded whether they launched: preflight rejected it, its estimate stayed.
    "model": "churn",
    "run_id": "legacy-rejected",
    "started_at": "2026-11-19T08:00:00.000000Z",
    "trigger": "s3",
    "dataset_version": "2026-11-01",
    "data_fingerprint": "sha256:aa",
    "decision": _decision().to_dict(),
    "tuning_job": "amtf-churn-legacy",
    "job_status": "InProgress",
    "cost_estimate_usd": 90.0,
    "cost_usd": None,
    "consumed_runtime_s": None,
    "training_jobs": 0,
    "outcome": "failed",
    "finished_at": "2026-11-19T08:00:01.000000Z",
}
LEGACY_FINISHED = {
    **LEGACY_REJECTED,
    "run_id": "legacy-finished",
    "tuning_job": "amtf-churn-legacy2",
    "job_status": "Completed",
    "cost_estimate_usd": 5.0,
    "consumed_runtime_s": 600,
    "training_jobs": 4,
    "outcome": "completed",
}


def _store_legacy(store: LineageStore, data: dict[str, object]) -> None:
    """Store a run item exactly as an older release wrote it (no launched/billable_s, spend = estimate)."""
    run = RunRecord.from_dict(data)
    store.add_run(run)
    if isinstance(store, DynamoDBLineageStore):
        client = boto3.client("dynamodb", region_name="us-east-1")
        client.put_item(
            TableName=TABLE,
            Item={
                "pk": {"S": "MODEL#churn"},
                "sk": {"S": f"RUN#{data['started_at']}#{data['run_id']}"},
                "kind": {"S": "run"},
                "run_id": {"S": str(data["run_id"])},
                "outcome": {"S": str(data["outcome"])},
                "spend_usd": {"N": repr(float(data["cost_estimate_usd"]))},  # type: ignore[arg-type]
                "record": {"S": json.dumps(data, sort_keys=True)},
            },
        )


def test_runs_stored_without_the_spend_fields_still_load_and_count_what_they_spent(
    store: LineageStore,
) -> None:
    _store_legacy(store, LEGACY_REJECTED)
    _store_legacy(store, LEGACY_FINISHED)
    rejected = store.get_run("churn", "legacy-rejected")
    finished = store.get_run("churn", "legacy-finished")
    assert rejected is not None
    assert finished is not None
    assert (rejected.launched, rejected.billable_s, rejected.was_launched) == (None, None, False)
    assert finished.was_launched is True
    # The rejected run adds nothing; the finished one (no actual cost recorded then) its estimate.
    assert store.month_to_date_spend("churn", NOW) == pytest.approx(5.0)


def test_parent_candidates_come_from_runs_with_tuning_jobs(store: LineageStore) -> None:
    store.add_run(_run("skipped", NOW - timedelta(days=3), outcome=RunOutcome.SKIPPED))
    store.add_run(
        _run(
            "tuned",
            NOW - timedelta(days=2),
            tuning_job="amtf-churn-1",
            signature=SIG,
            job_status=TuningJobStatus.COMPLETED,
            best_training_job="amtf-churn-1-003-abcdef12",
            training_jobs=30,
        )
    )
    (cand,) = parent_candidates(store, "churn")
    assert cand.tuning_job == "amtf-churn-1"
    assert cand.status is TuningJobStatus.COMPLETED
    assert cand.has_best_job
    assert cand.training_jobs == 30
    assert cand.signature == SIG


# --- DynamoDB-specific behaviour ---------------------------------------------------------------------------


def test_dynamodb_items_use_the_state_table_key_schema() -> None:
    with mock_aws():
        client = boto3.client("dynamodb", region_name="us-east-1")
        _create_table(client)
        store = DynamoDBLineageStore(client, TABLE)
        store.put_dataset_version(DatasetVersion("churn", "v1", "sha256:aa", NOW))
        store.add_run(_run("exec-1", NOW))
        store.set_champion(_champion("job-a"), expected_tuning_job=None)
        keys = sorted((i["pk"]["S"], i["sk"]["S"]) for i in client.scan(TableName=TABLE)["Items"])
    assert keys == [
        ("MODEL#churn", "CHAMPION"),
        ("MODEL#churn", "CHAMPION#2026-11-20T12:00:00.000000Z#job-a"),
        ("MODEL#churn", "DATASET#v1"),
        ("MODEL#churn", "RUN#2026-11-20T12:00:00.000000Z#exec-1"),
        ("MODEL#churn", "RUNID#exec-1"),
    ]


def test_dynamodb_errors_become_amtflow_errors() -> None:
    client = boto3.client("dynamodb", region_name="us-east-1")
    store = DynamoDBLineageStore(client, TABLE)
    with Stubber(client) as stub:
        stub.add_client_error("get_item", "ProvisionedThroughputExceededException", http_status_code=400)
        with pytest.raises(TransientError):
            store.get_champion("churn")
        stub.add_client_error("get_item", "ResourceNotFoundException", http_status_code=400)
        with pytest.raises(ConfigurationError) as err:
            store.get_champion("churn")
        assert "AMTFLOW_STATE_TABLE" in str(err.value)


def test_dynamodb_store_needs_a_table_name() -> None:
    client = boto3.client("dynamodb", region_name="us-east-1")
    with pytest.raises(ConfigurationError) as err:
        DynamoDBLineageStore(client, "")
    assert "AMTFLOW_STATE_TABLE" in str(err.value)


def test_records_reject_naive_times_and_bad_run_ids() -> None:
    with pytest.raises(InvalidInputError) as err:
        _run("exec-1", datetime(2026, 11, 1))
    assert err.value.field == "started_at"
    with pytest.raises(InvalidInputError) as err:
        _run("bad#id", NOW)
    assert err.value.field == "run_id"
    with pytest.raises(InvalidInputError) as err:
        _run("exec-1", NOW, best_objective=float("nan"))
    assert err.value.field == "best_objective"
