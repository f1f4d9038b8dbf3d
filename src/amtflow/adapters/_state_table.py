"""The state table: per-model locks and parked task tokens (pk ``pk``, sort key ``sk``).

Items:

- lock ``MODEL#<model>`` / ``LOCK``: ``owner`` (the execution name), ``expiresAt`` (epoch seconds, TTL);
- parked token ``JOB#<job>`` / ``TOKEN``: ``taskToken``, ``model``, ``execution``, ``parkedAt``, ``kind``
  (``tuning`` or ``training``) and, for a training job, ``objectiveMetric``/``objectiveType``;
- index item ``PARKED`` / ``<job>``: the same attributes, so the reconciler finds every parked job with one
  ``Query`` instead of a ``Scan``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from botocore.exceptions import BotoCoreError, ClientError

from amtflow.adapters._errors import error_code, translate
from amtflow.app import JobKind, ParkedJob
from amtflow.errors import ModelBusyError

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

LOCK_SK = "LOCK"
TOKEN_SK = "TOKEN"  # noqa: S105 (a sort-key value, not a secret)
PARKED_PK = "PARKED"
TOKEN_TTL_SECONDS = 400 * 24 * 3600

HolderProbe = Callable[[str], bool | None]
"""``execution name -> is it still running?`` (``None``: cannot tell). A lock whose holder is known not to
run any more (aborted from the console, so it never reached its release step) is taken over."""


def lock_key(model: str) -> dict[str, Any]:
    return {"pk": {"S": f"MODEL#{model}"}, "sk": {"S": LOCK_SK}}


def token_key(job_name: str) -> dict[str, Any]:
    return {"pk": {"S": f"JOB#{job_name}"}, "sk": {"S": TOKEN_SK}}


def parked_key(job_name: str) -> dict[str, Any]:
    return {"pk": {"S": PARKED_PK}, "sk": {"S": job_name}}


class DynamoStateTable:
    """Implements :class:`~amtflow.app.LockStore` and :class:`~amtflow.app.TokenStore`.

    ``holder_running`` (optional) is asked about the holder of a lock that is not free: when it answers
    ``False`` the lock is taken over (conditionally on that holder, so two contenders cannot both win).
    """

    def __init__(
        self, client: DynamoDBClient, table_name: str, *, holder_running: HolderProbe | None = None
    ) -> None:
        self._db = client
        self._table = table_name
        self._holder_running = holder_running

    # --- locks -------------------------------------------------------------------------------------------

    def acquire(self, model: str, owner: str, *, now: datetime, ttl_seconds: int) -> tuple[str, str]:
        key = lock_key(model)
        condition = "attribute_not_exists(pk) OR #owner = :owner OR expiresAt < :now"
        if self._try_put(model, owner, now=now, ttl_seconds=ttl_seconds, condition=condition, holder=None):
            return key["pk"]["S"], key["sk"]["S"]
        holder = self._lock_holder(model)
        taken_over = (
            holder is not None
            and holder != owner
            and self._holder_running is not None
            and self._holder_running(holder) is False
            and self._try_put(
                model, owner, now=now, ttl_seconds=ttl_seconds, condition="#owner = :holder", holder=holder
            )
        )
        if taken_over:
            return key["pk"]["S"], key["sk"]["S"]
        raise ModelBusyError(
            f"model '{model}' is locked by run {holder or 'unknown'}: one run per model at a time; "
            "this run waits for the lock and starts when that run has ended"
        )

    def _try_put(
        self,
        model: str,
        owner: str,
        *,
        now: datetime,
        ttl_seconds: int,
        condition: str,
        holder: str | None,
    ) -> bool:
        """Write the lock item for ``owner`` if ``condition`` holds; ``False`` if it does not."""
        values: dict[str, Any] = {":owner": {"S": owner}} if ":owner" in condition else {}
        if ":now" in condition:
            values[":now"] = {"N": str(int(now.timestamp()))}
        if holder is not None:
            values[":holder"] = {"S": holder}
        try:
            self._db.put_item(
                TableName=self._table,
                Item={
                    **lock_key(model),
                    "owner": {"S": owner},
                    "acquiredAt": {"S": now.isoformat()},
                    "expiresAt": {"N": str(int(now.timestamp()) + ttl_seconds)},
                },
                ConditionExpression=condition,
                ExpressionAttributeNames={"#owner": "owner"},
                ExpressionAttributeValues=values,
            )
        except ClientError as e:
            if error_code(e) == "ConditionalCheckFailedException":
                return False
            raise translate(e, f"locking model {model}") from e
        except BotoCoreError as e:
            raise translate(e, f"locking model {model}") from e
        return True

    def _lock_holder(self, model: str) -> str | None:
        try:
            item = self._db.get_item(TableName=self._table, Key=lock_key(model), ConsistentRead=True).get(
                "Item"
            )
        except (ClientError, BotoCoreError):
            return None
        return item["owner"]["S"] if item and "owner" in item else None

    def release(self, model: str, owner: str) -> bool:
        try:
            self._db.delete_item(
                TableName=self._table,
                Key=lock_key(model),
                ConditionExpression="#owner = :owner",
                ExpressionAttributeNames={"#owner": "owner"},
                ExpressionAttributeValues={":owner": {"S": owner}},
            )
        except ClientError as e:
            if error_code(e) == "ConditionalCheckFailedException":
                return False
            raise translate(e, f"releasing the lock of model {model}") from e
        except BotoCoreError as e:
            raise translate(e, f"releasing the lock of model {model}") from e
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
        try:
            self._db.transact_write_items(
                TransactItems=[
                    {"Put": {"TableName": self._table, "Item": {**token_key(job.job_name), **attributes}}},
                    {"Put": {"TableName": self._table, "Item": {**parked_key(job.job_name), **attributes}}},
                ]
            )
        except (ClientError, BotoCoreError) as e:
            raise translate(e, f"parking the task token of {job.job_name}") from e

    def claim(self, job_name: str) -> ParkedJob | None:
        try:
            response = self._db.delete_item(
                TableName=self._table,
                Key=token_key(job_name),
                ConditionExpression="attribute_exists(pk)",
                ReturnValues="ALL_OLD",
            )
        except ClientError as e:
            if error_code(e) == "ConditionalCheckFailedException":
                self._forget_index(job_name)
                return None
            raise translate(e, f"claiming the task token of {job_name}") from e
        except BotoCoreError as e:
            raise translate(e, f"claiming the task token of {job_name}") from e
        self._forget_index(job_name)
        item = response.get("Attributes")
        return self._from_item(item) if item else None

    def _forget_index(self, job_name: str) -> None:
        try:
            self._db.delete_item(TableName=self._table, Key=parked_key(job_name))
        except (ClientError, BotoCoreError) as e:
            raise translate(e, f"removing {job_name} from the parked index") from e

    def parked(self) -> Sequence[ParkedJob]:
        jobs: list[ParkedJob] = []
        kwargs: dict[str, Any] = {
            "TableName": self._table,
            "KeyConditionExpression": "pk = :pk",
            "ExpressionAttributeValues": {":pk": {"S": PARKED_PK}},
        }
        try:
            while True:
                page = self._db.query(**kwargs)
                jobs.extend(self._from_item(item) for item in page.get("Items", []))
                if "LastEvaluatedKey" not in page:
                    return jobs
                kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]
        except (ClientError, BotoCoreError) as e:
            raise translate(e, "listing parked tuning jobs") from e
