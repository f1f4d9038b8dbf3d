"""The DynamoDB :class:`~amtflow.lineage.LineageStore`: lineage items in the state table.

Items live under ``pk = MODEL#<model>`` (the state table's ``pk``/``sk`` schema, see docs/architecture.md):

| sk | item |
|---|---|
| ``DATASET#<version>`` | a dataset version; its profile as gzip-compressed JSON (``profile_gz``, binary) |
| ``RUN#<started-at>#<run-id>`` | a run (``record`` JSON, ``spend_usd``); newest first by a reverse query |
| ``RUNID#<run-id>`` | the guard that makes a run id unique; points at the run's sort key |
| ``CHAMPION`` | the current champion (``tuning_job`` for the compare-and-set) |
| ``CHAMPION#<promoted-at>#<tuning-job>`` | every promotion, for the history |

Profiles are kept under 100 KB by construction (``ProfileOptions.max_profile_bytes``) and compressed, so an
item stays well below DynamoDB's 400 KB limit. ``ClientError`` codes become amtflow errors.
"""

from __future__ import annotations

import gzip
import json
from collections.abc import Iterator, Mapping
from datetime import datetime
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

from amtflow.adapters._errors import aws_call, error_code
from amtflow.drift import DatasetProfile
from amtflow.errors import ConfigurationError, ConflictError, NotFoundError, TransientError
from amtflow.lineage import (
    Champion,
    DatasetVersion,
    RunRecord,
    check_champion,
    check_same_start,
    dataset_conflict,
    iso,
    month_start,
    utc,
)

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient


def _pk(model: str) -> str:
    return f"MODEL#{model}"


def _run_sk(run: RunRecord) -> str:
    return f"RUN#{iso(run.started_at)}#{run.run_id}"


class DynamoDBLineageStore:
    """Lineage in the state table. ``client`` is a boto3 DynamoDB client (``amtflow.clients.dynamodb()``)."""

    def __init__(self, client: DynamoDBClient, table_name: str) -> None:
        if not table_name:
            raise ConfigurationError(
                "the lineage store needs the state table name: set AMTFLOW_STATE_TABLE "
                "(Settings.state_table)."
            )
        self._client = client
        self._table = table_name

    # -- dataset versions ---------------------------------------------------------------------------------

    def put_dataset_version(self, record: DatasetVersion) -> bool:
        item: dict[str, Any] = {
            "pk": {"S": _pk(record.model)},
            "sk": {"S": f"DATASET#{record.version}"},
            "kind": {"S": "dataset"},
            "fingerprint": {"S": record.fingerprint},
            "recorded_at": {"S": iso(record.recorded_at)},
            "uri": {"S": record.uri},
        }
        if record.profile is not None:
            item["profile_gz"] = {"B": gzip.compress(record.profile.to_json().encode(), mtime=0)}
        try:
            self._call(
                "put_item",
                TableName=self._table,
                Item=item,
                ConditionExpression="attribute_not_exists(pk)",
            )
        except _ConditionFailed:
            existing = self.get_dataset_version(record.model, record.version)
            if existing is not None and existing.fingerprint != record.fingerprint:
                raise dataset_conflict(existing, record) from None
            return False
        return True

    def get_dataset_version(self, model: str, version: str) -> DatasetVersion | None:
        item = self._get(model, f"DATASET#{version}")
        if item is None:
            return None
        profile = None
        if "profile_gz" in item:
            profile = DatasetProfile.from_json(gzip.decompress(item["profile_gz"]["B"]))
        return DatasetVersion(
            model=model,
            version=version,
            fingerprint=item["fingerprint"]["S"],
            recorded_at=datetime.fromisoformat(item["recorded_at"]["S"].replace("Z", "+00:00")),
            uri=item.get("uri", {}).get("S", ""),
            profile=profile,
        )

    def list_dataset_versions(self, model: str) -> list[DatasetVersion]:
        versions = [
            item["sk"]["S"].removeprefix("DATASET#")
            for item in self._query(model, "DATASET#", forward=True, page=None)
        ]
        found = [d for d in (self.get_dataset_version(model, v) for v in versions) if d is not None]
        return sorted(found, key=lambda d: (d.recorded_at, d.version))

    # -- runs ---------------------------------------------------------------------------------------------

    def add_run(self, run: RunRecord) -> bool:
        sk = _run_sk(run)
        try:
            self._call(
                "transact_write_items",
                TransactItems=[
                    {
                        "Put": {
                            "TableName": self._table,
                            "Item": {
                                "pk": {"S": _pk(run.model)},
                                "sk": {"S": f"RUNID#{run.run_id}"},
                                "kind": {"S": "run-id"},
                                "run_sk": {"S": sk},
                            },
                            "ConditionExpression": "attribute_not_exists(pk)",
                        }
                    },
                    {
                        "Put": {
                            "TableName": self._table,
                            "Item": self._run_item(run, sk),
                            "ConditionExpression": "attribute_not_exists(pk)",
                        }
                    },
                ],
            )
        except _ConditionFailed:
            return False
        return True

    def update_run(self, run: RunRecord) -> None:
        sk = self._run_sk_of(run.model, run.run_id)
        if sk is not None and sk != _run_sk(run):
            recorded = self.get_run(run.model, run.run_id)
            if recorded is not None:
                check_same_start(recorded.started_at, run)
        if sk is None:
            raise NotFoundError(
                f"run {run.run_id!r} of model {run.model!r} was never recorded; add_run it first."
            )
        try:
            self._call(
                "put_item",
                TableName=self._table,
                Item=self._run_item(run, sk),
                ConditionExpression="attribute_exists(pk)",
            )
        except _ConditionFailed as e:
            raise NotFoundError(
                f"run {run.run_id!r} of model {run.model!r} disappeared while updating"
            ) from e

    def get_run(self, model: str, run_id: str) -> RunRecord | None:
        sk = self._run_sk_of(model, run_id)
        if sk is None:
            return None
        item = self._get(model, sk)
        return RunRecord.from_dict(json.loads(item["record"]["S"])) if item else None

    def list_runs(self, model: str, *, limit: int | None = None) -> list[RunRecord]:
        out: list[RunRecord] = []
        for item in self._query(model, "RUN#", forward=False, page=limit):
            out.append(RunRecord.from_dict(json.loads(item["record"]["S"])))
            if limit is not None and len(out) >= limit:
                break
        return out

    def month_to_date_spend(self, model: str, now: datetime) -> float:
        start, now = month_start(now), utc(now, "now")
        total = 0.0
        paginator_args: dict[str, Any] = {
            "TableName": self._table,
            "KeyConditionExpression": "pk = :pk AND sk BETWEEN :lo AND :hi",
            "ExpressionAttributeValues": {
                ":pk": {"S": _pk(model)},
                ":lo": {"S": f"RUN#{iso(start)}"},
                # '$' sorts after '#', so every run id started at ``now`` is included.
                ":hi": {"S": f"RUN#{iso(now)}$"},
            },
            # The record, not only the stored figure: the spend rule of RunRecord applies to every item,
            # also to those written before the rule knew a run that never launched spends nothing.
            "ProjectionExpression": "spend_usd, #record",
            "ExpressionAttributeNames": {"#record": "record"},
        }
        for item in self._paginate(paginator_args):
            if "record" in item:
                total += RunRecord.from_dict(json.loads(item["record"]["S"])).spend_usd
            else:
                total += float(item["spend_usd"]["N"])
        return total

    # -- champion -----------------------------------------------------------------------------------------

    def get_champion(self, model: str) -> Champion | None:
        item = self._get(model, "CHAMPION")
        return Champion.from_dict(json.loads(item["record"]["S"])) if item else None

    def set_champion(self, champion: Champion, *, expected_tuning_job: str | None) -> None:
        record = json.dumps(champion.to_dict(), sort_keys=True)
        put: dict[str, Any] = {
            "TableName": self._table,
            "Item": {
                "pk": {"S": _pk(champion.model)},
                "sk": {"S": "CHAMPION"},
                "kind": {"S": "champion"},
                "tuning_job": {"S": champion.tuning_job},
                "record": {"S": record},
            },
        }
        if expected_tuning_job is None:
            put["ConditionExpression"] = "attribute_not_exists(pk)"
        else:
            put["ConditionExpression"] = "tuning_job = :expected"
            put["ExpressionAttributeValues"] = {":expected": {"S": expected_tuning_job}}
        history = {
            "TableName": self._table,
            "Item": {
                "pk": {"S": _pk(champion.model)},
                "sk": {"S": f"CHAMPION#{iso(champion.promoted_at)}#{champion.tuning_job}"},
                "kind": {"S": "champion-history"},
                "record": {"S": record},
            },
        }
        try:
            self._call("transact_write_items", TransactItems=[{"Put": put}, {"Put": history}])
        except _ConditionFailed:
            check_champion(self.get_champion(champion.model), champion, expected_tuning_job)
            raise ConflictError(
                f"champion of model {champion.model!r} changed while promoting {champion.tuning_job}; "
                "re-evaluate against the current champion."
            ) from None

    # -- plumbing -----------------------------------------------------------------------------------------

    def _run_item(self, run: RunRecord, sk: str) -> dict[str, Any]:
        return {
            "pk": {"S": _pk(run.model)},
            "sk": {"S": sk},
            "kind": {"S": "run"},
            "run_id": {"S": run.run_id},
            "outcome": {"S": run.outcome.value},
            "spend_usd": {"N": repr(float(run.spend_usd))},
            "record": {"S": json.dumps(run.to_dict(), sort_keys=True)},
        }

    def _run_sk_of(self, model: str, run_id: str) -> str | None:
        guard = self._get(model, f"RUNID#{run_id}")
        return guard["run_sk"]["S"] if guard else None

    def _get(self, model: str, sk: str) -> Mapping[str, Any] | None:
        resp = self._call(
            "get_item",
            TableName=self._table,
            Key={"pk": {"S": _pk(model)}, "sk": {"S": sk}},
            ConsistentRead=True,
        )
        item: Mapping[str, Any] | None = resp.get("Item")
        return item

    def _query(
        self, model: str, prefix: str, *, forward: bool, page: int | None
    ) -> Iterator[Mapping[str, Any]]:
        args: dict[str, Any] = {
            "TableName": self._table,
            "KeyConditionExpression": "pk = :pk AND begins_with(sk, :prefix)",
            "ExpressionAttributeValues": {":pk": {"S": _pk(model)}, ":prefix": {"S": prefix}},
            "ScanIndexForward": forward,
        }
        if page is not None:
            args["Limit"] = max(1, page)
        return self._paginate(args)

    def _paginate(self, args: dict[str, Any]) -> Iterator[Mapping[str, Any]]:
        while True:
            resp = self._call("query", **args)
            yield from resp.get("Items", [])
            last = resp.get("LastEvaluatedKey")
            if not last:
                return
            args = {**args, "ExclusiveStartKey": last}

    def _call(self, operation: str, **kwargs: Any) -> Any:
        with aws_call(
            f"DynamoDB {operation} on {self._table}",
            errors={
                "ConditionalCheckFailedException": lambda e: _ConditionFailed(error_code(e)),
                "TransactionCanceledException": self._cancelled,
                "ResourceNotFoundException": lambda e: ConfigurationError(
                    f"state table {self._table!r} does not exist; check AMTFLOW_STATE_TABLE and the stack."
                ),
            },
        ):
            return getattr(self._client, operation)(**kwargs)

    def _cancelled(self, error: ClientError) -> Exception:
        reasons = [r.get("Code") for r in error.response.get("CancellationReasons", [])]
        if "ConditionalCheckFailed" in reasons:
            return _ConditionFailed(error_code(error))
        return TransientError(f"lineage write to {self._table} was cancelled ({reasons}); retry.")


class _ConditionFailed(Exception):
    """A conditional write did not apply (internal: turned into a return value or a ConflictError)."""
