"""The notices of stalled tuning jobs, in the state table: one item ``JOB#<job>``/``STALL`` per job, written
once (a conditional put), expiring with ``expiresAt`` a year after the notice."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from amtflow.adapters._errors import aws_call
from amtflow.app import StallRecord

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

STALL_SK = "STALL"
KEEP = timedelta(days=365)


def stall_key(job_name: str) -> dict[str, Any]:
    return {"pk": {"S": f"JOB#{job_name}"}, "sk": {"S": STALL_SK}}


class DynamoStallRecords:
    """:class:`amtflow.app.StallRecords` over the state table."""

    def __init__(self, client: DynamoDBClient, table: str) -> None:
        self._db = client
        self._table = table

    def record(self, record: StallRecord) -> bool:
        item = {
            **stall_key(record.job_name),
            "model": {"S": record.model},
            "reason": {"S": record.reason},
            "stalledAt": {"S": record.stalled_at.isoformat()},
            "stopped": {"BOOL": record.stopped},
            "expiresAt": {"N": str(int((record.stalled_at + KEEP).timestamp()))},
        }
        with aws_call(
            f"recording the stall of {record.job_name}", expected={"ConditionalCheckFailedException"}
        ) as call:
            self._db.put_item(
                TableName=self._table, Item=item, ConditionExpression="attribute_not_exists(pk)"
            )
        return not call.code

    def get(self, job_name: str) -> StallRecord | None:
        with aws_call(f"reading the stall of {job_name}"):
            item = self._db.get_item(TableName=self._table, Key=stall_key(job_name), ConsistentRead=True).get(
                "Item"
            )
        if not item:
            return None
        return StallRecord(
            job_name=job_name,
            model=item.get("model", {}).get("S", ""),
            reason=item.get("reason", {}).get("S", ""),
            stalled_at=datetime.fromisoformat(item["stalledAt"]["S"]),
            stopped=bool(item.get("stopped", {}).get("BOOL", False)),
        )

    def forget(self, job_name: str) -> None:
        with aws_call(f"removing the stall of {job_name}"):
            self._db.delete_item(TableName=self._table, Key=stall_key(job_name))
