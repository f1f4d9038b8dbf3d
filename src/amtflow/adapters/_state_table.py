"""The state table: per-model locks (leases) and parked task tokens (pk ``pk``, sort key ``sk``).

Items:

- lock ``MODEL#<model>`` / ``LOCK``: ``owner`` (the execution name: the state machine's release matches it),
  ``holder`` (the execution ARN), ``leaseUntil`` (epoch seconds: the lease ends then unless renewed),
  ``leaseVersion`` (bumped by every write: takeovers and renewals are conditional on it), ``acquiredAt``,
  ``renewedAt`` and ``expiresAt`` (the TTL: a year past the lease, longer than any execution can run, so
  DynamoDB never deletes the lock of a run that may still run);
- lease index item ``LEASES`` / ``<model>``: ``owner``, so the reconciler finds every lease with one
  ``Query`` (an entry whose lock was released is dropped by the next sweep);
- parked token ``JOB#<job>`` / ``TOKEN``: ``taskToken``, ``model``, ``execution``, ``parkedAt``, ``kind``
  (``tuning`` or ``training``) and, for a training job, ``objectiveMetric``/``objectiveType``;
- index item ``PARKED`` / ``<job>``: the same attributes, so the reconciler finds every parked job with one
  ``Query`` instead of a ``Scan``.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from amtflow.adapters._dynamo import take_item
from amtflow.adapters._errors import aws_call
from amtflow.app import HolderProbe, JobKind, Lease, ParkedJob, lease_seconds
from amtflow.errors import AmtflowError, ModelBusyError

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

LOCK_SK = "LOCK"
LEASES_PK = "LEASES"
TOKEN_SK = "TOKEN"  # noqa: S105 (a sort-key value, not a secret)
PARKED_PK = "PARKED"
TOKEN_TTL_SECONDS = 400 * 24 * 3600
LOCK_TTL_MARGIN_SECONDS = 366 * 24 * 3600
"""A lock item outlives its lease by a year (a Standard execution runs at most a year) before DynamoDB's TTL
may delete it: a lock is never deleted under a run that could still be running."""
DEFAULT_LEASE_SECONDS = lease_seconds()
ACQUIRE_ATTEMPTS = 3
"""Reads of the lease per acquire: a conditional write lost (the lease changed meanwhile) reads it again."""


def lock_key(model: str) -> dict[str, Any]:
    return {"pk": {"S": f"MODEL#{model}"}, "sk": {"S": LOCK_SK}}


def lease_index_key(model: str) -> dict[str, Any]:
    return {"pk": {"S": LEASES_PK}, "sk": {"S": model}}


def token_key(job_name: str) -> dict[str, Any]:
    return {"pk": {"S": f"JOB#{job_name}"}, "sk": {"S": TOKEN_SK}}


def parked_key(job_name: str) -> dict[str, Any]:
    return {"pk": {"S": PARKED_PK}, "sk": {"S": job_name}}


def _busy(model: str, holder: str) -> ModelBusyError:
    return ModelBusyError(
        f"model '{model}' is locked by run {holder}: one run per model at a time; "
        "this run waits for the lock and starts when that run has ended"
    )


class DynamoStateTable:
    """Implements :class:`~amtflow.app.LockStore` and :class:`~amtflow.app.TokenStore`.

    A lock is a lease of ``lease_seconds``. ``holder_running`` is asked about the holder of a lease held by
    another execution: ``False`` (it ended) lets the lease be taken over, ``True`` renews an expired lease for
    the holder, ``None`` (cannot tell) or no probe at all leaves the lease as it is. Every write of a held
    lease is conditional on the holder and version read, so of concurrent writers exactly one wins.
    """

    def __init__(
        self,
        client: DynamoDBClient,
        table_name: str,
        *,
        holder_running: HolderProbe | None = None,
        lease_seconds: int = DEFAULT_LEASE_SECONDS,
    ) -> None:
        self._db = client
        self._table = table_name
        self._holder_running = holder_running
        self._lease_seconds = lease_seconds

    # --- locks -------------------------------------------------------------------------------------------

    def acquire(self, model: str, owner: str, *, holder: str, now: datetime) -> tuple[str, str]:
        key = lock_key(model)
        for _ in range(ACQUIRE_ATTEMPTS):
            if self._take(model, owner, holder, now=now):
                self._index(model, owner)
                return key["pk"]["S"], key["sk"]["S"]
        raise _busy(model, self._holder_name(model))

    def _take(self, model: str, owner: str, holder: str, *, now: datetime) -> bool:
        """One attempt at the lease: ``True`` if ``owner`` holds it now, ``False`` if a conditional write lost
        a race (the lease changed since it was read: read it again); :class:`ModelBusyError` if another
        execution holds it and is not known to have ended."""
        held = self._read(model)
        if held is None:
            return self._write(model, owner, holder, now=now, expected=None)
        lease, acquired_at = held
        if lease.owner == owner:  # a retried Plan of the holder: re-entrant, and renewed
            return self._write(model, owner, holder, now=now, expected=lease, acquired_at=acquired_at)
        running = self._holder_running(lease.holder) if self._holder_running is not None else None
        if running is False:
            return self._write(model, owner, holder, now=now, expected=lease)
        if running is True and lease.expires_at < int(now.timestamp()):
            self._write(model, lease.owner, lease.holder, now=now, expected=lease, acquired_at=acquired_at)
        raise _busy(model, lease.owner)

    def renew(self, lease: Lease, *, now: datetime) -> bool:
        held = self._read(lease.model)
        acquired_at = held[1] if held is not None else None
        return self._write(
            lease.model, lease.owner, lease.holder, now=now, expected=lease, acquired_at=acquired_at
        )

    def _write(
        self,
        model: str,
        owner: str,
        holder: str,
        *,
        now: datetime,
        expected: Lease | None,
        acquired_at: str | None = None,
    ) -> bool:
        """Write the lease of ``owner`` from ``now``: over no lease at all (``expected`` ``None``) or over
        exactly the lease ``expected`` (same owner, same version). ``False`` if the condition failed."""
        until = int(now.timestamp()) + self._lease_seconds
        version = expected.version + 1 if expected is not None else 1
        names: dict[str, str] = {}
        values: dict[str, Any] = {}
        if expected is None:
            condition = "attribute_not_exists(pk)"
        else:
            names = {"#owner": "owner", "#version": "leaseVersion"}
            values = {":owner": {"S": expected.owner}}
            if expected.version:
                condition = "#owner = :owner AND #version = :version"
                values[":version"] = {"N": str(expected.version)}
            else:  # a lock written before leases had versions
                condition = "#owner = :owner AND attribute_not_exists(#version)"
        item = {
            **lock_key(model),
            "owner": {"S": owner},
            "holder": {"S": holder},
            "acquiredAt": {"S": acquired_at or now.isoformat()},
            "renewedAt": {"S": now.isoformat()},
            "leaseUntil": {"N": str(until)},
            "leaseVersion": {"N": str(version)},
            "expiresAt": {"N": str(until + LOCK_TTL_MARGIN_SECONDS)},
        }
        request: dict[str, Any] = {"TableName": self._table, "Item": item, "ConditionExpression": condition}
        if names:
            request["ExpressionAttributeNames"] = names
        if values:
            request["ExpressionAttributeValues"] = values
        with aws_call(f"locking model {model}", expected={"ConditionalCheckFailedException"}) as call:
            self._db.put_item(**request)
        return call.code is None

    def _index(self, model: str, owner: str) -> None:
        with aws_call(f"indexing the lease of model {model}"):
            self._db.put_item(
                TableName=self._table,
                Item={**lease_index_key(model), "model": {"S": model}, "owner": {"S": owner}},
            )

    def _read(self, model: str) -> tuple[Lease, str | None] | None:
        """The model's lease as stored (and when it was first acquired); ``None`` if the lock is free."""
        with aws_call(f"reading the lock of model {model}"):
            item = self._db.get_item(TableName=self._table, Key=lock_key(model), ConsistentRead=True).get(
                "Item"
            )
        if not item or "owner" not in item:
            return None
        owner = item["owner"]["S"]
        until = item.get("leaseUntil", item.get("expiresAt", {"N": "0"}))["N"]
        lease = Lease(
            model=model,
            owner=owner,
            holder=item.get("holder", {}).get("S", owner),
            expires_at=int(until),
            version=int(item.get("leaseVersion", {}).get("N", "0")),
        )
        return lease, item.get("acquiredAt", {}).get("S")

    def _holder_name(self, model: str) -> str:
        try:
            held = self._read(model)
        except AmtflowError:  # it only names the holder in the busy message
            return "unknown"
        return held[0].owner if held is not None else "unknown"

    def leases(self) -> Sequence[Lease]:
        found: list[Lease] = []
        kwargs: dict[str, Any] = {
            "TableName": self._table,
            "KeyConditionExpression": "pk = :pk",
            "ExpressionAttributeValues": {":pk": {"S": LEASES_PK}},
        }
        with aws_call("listing the models' leases"):
            while True:
                page = self._db.query(**kwargs)
                for entry in page.get("Items", []):
                    model = entry["sk"]["S"]
                    held = self._read(model)
                    if held is None:
                        self._forget_lease(model, entry["owner"]["S"])
                    else:
                        found.append(held[0])
                if "LastEvaluatedKey" not in page:
                    return found
                kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]

    def _forget_lease(self, model: str, owner: str) -> None:
        """Drop the index entry of a released lease (unless a new holder rewrote it meanwhile)."""
        with aws_call(
            f"removing model {model} from the lease index", expected={"ConditionalCheckFailedException"}
        ):
            self._db.delete_item(
                TableName=self._table,
                Key=lease_index_key(model),
                ConditionExpression="#owner = :owner",
                ExpressionAttributeNames={"#owner": "owner"},
                ExpressionAttributeValues={":owner": {"S": owner}},
            )

    def release(self, model: str, owner: str) -> bool:
        with aws_call(
            f"releasing the lock of model {model}", expected={"ConditionalCheckFailedException"}
        ) as call:
            self._db.delete_item(
                TableName=self._table,
                Key=lock_key(model),
                ConditionExpression="#owner = :owner",
                ExpressionAttributeNames={"#owner": "owner"},
                ExpressionAttributeValues={":owner": {"S": owner}},
            )
        if call.code:
            return False
        self._forget_lease(model, owner)
        return True

    # --- parked task tokens ------------------------------------------------------------------------------

    @staticmethod
    def _attributes(job: ParkedJob) -> dict[str, Any]:
        return {
            "jobName": {"S": job.job_name},
            "taskToken": {"S": job.task_token},
            "model": {"S": job.model},
            "execution": {"S": job.execution},
            "parkedAt": {"S": job.parked_at.isoformat()},
            "expiresAt": {"N": str(int(job.parked_at.timestamp()) + TOKEN_TTL_SECONDS)},
            "kind": {"S": job.kind.value},
            **({"objectiveMetric": {"S": job.objective_metric}} if job.objective_metric else {}),
            **({"objectiveType": {"S": job.objective_type}} if job.objective_type else {}),
        }

    @staticmethod
    def _from_item(item: dict[str, Any]) -> ParkedJob:
        parked_at = datetime.fromisoformat(item["parkedAt"]["S"])
        if parked_at.tzinfo is None:
            parked_at = parked_at.replace(tzinfo=UTC)
        return ParkedJob(
            job_name=item["jobName"]["S"],
            task_token=item["taskToken"]["S"],
            model=item["model"]["S"],
            execution=item["execution"]["S"],
            parked_at=parked_at,
            kind=JobKind(item.get("kind", {}).get("S", JobKind.TUNING.value)),
            objective_metric=item.get("objectiveMetric", {}).get("S"),
            objective_type=item.get("objectiveType", {}).get("S"),
        )

    def park(self, job: ParkedJob) -> None:
        attributes = self._attributes(job)
        with aws_call(f"parking the task token of {job.job_name}"):
            self._db.transact_write_items(
                TransactItems=[
                    {"Put": {"TableName": self._table, "Item": {**token_key(job.job_name), **attributes}}},
                    {"Put": {"TableName": self._table, "Item": {**parked_key(job.job_name), **attributes}}},
                ]
            )

    def claim(self, job_name: str) -> ParkedJob | None:
        item = take_item(
            self._db, self._table, token_key(job_name), action=f"claiming the task token of {job_name}"
        )
        self._forget_index(job_name)
        return self._from_item(item) if item else None

    def _forget_index(self, job_name: str) -> None:
        with aws_call(f"removing {job_name} from the parked index"):
            self._db.delete_item(TableName=self._table, Key=parked_key(job_name))

    def parked(self) -> Sequence[ParkedJob]:
        jobs: list[ParkedJob] = []
        kwargs: dict[str, Any] = {
            "TableName": self._table,
            "KeyConditionExpression": "pk = :pk",
            "ExpressionAttributeValues": {":pk": {"S": PARKED_PK}},
        }
        with aws_call("listing parked tuning jobs"):
            while True:
                page = self._db.query(**kwargs)
                jobs.extend(self._from_item(item) for item in page.get("Items", []))
                if "LastEvaluatedKey" not in page:
                    return jobs
                kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]
