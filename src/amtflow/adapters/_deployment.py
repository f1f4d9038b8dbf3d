"""Deployments: SageMaker hosting, the rollback alarms, and the deployment's items in the state table.

State-table items:

- parked deployment ``ENDPOINT#<endpoint>`` / ``TOKEN`` and its index item ``PARKED_ENDPOINTS`` /
  ``<endpoint>`` (``taskToken, model, execution, configName, packageArn, parkedAt, expiresAt``; while a Failed
  endpoint is replaced ``replacedFailed`` and, until it is deleted, ``awaitingDeletion``): the endpoint
  events and the reconciler claim it with a conditional delete;
- deployment lock ``MODEL#<model>`` / ``DEPLOYMENT`` (``owner``: the execution name the state machine's
  release matches, ``lockedUntil``: a lock held past it is taken over, ``expiresAt``);
- deployment record ``MODEL#<model>`` / ``DEPLOYMENT#<started at>#<execution>`` in the model's lineage.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from amtflow.adapters._dynamo import take_item
from amtflow.adapters._errors import aws_call
from amtflow.app import (
    ConfigSummary,
    DeploymentOutcome,
    DeploymentRecord,
    EndpointState,
    EndpointStatus,
    ModelPackage,
    ParkedDeployment,
)
from amtflow.errors import AmtflowError, DeploymentBusyError, NotFoundError
from amtflow.messages import LockRef

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient
    from mypy_boto3_sagemaker import SageMakerClient

# DescribeModel/EndpointConfig/Endpoint answer ValidationException for a name that does not exist.
_ABSENT = frozenset({"ValidationException", "ResourceNotFound"})
TOKEN_SK = "TOKEN"  # noqa: S105 (a sort-key value, not a secret)
PARKED_ENDPOINTS_PK = "PARKED_ENDPOINTS"
LOCK_SK = "DEPLOYMENT"
RECORD_PREFIX = "DEPLOYMENT#"
TTL_SECONDS = 400 * 24 * 3600


def _aware(value: Any) -> datetime:
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    return datetime.fromtimestamp(0, tz=UTC)


def endpoint_state(raw: Mapping[str, Any]) -> EndpointState:
    name = str(raw["EndpointName"])
    text = str(raw.get("EndpointStatus", ""))
    status = EndpointStatus.read(text)
    if status is None:
        raise AmtflowError(f"endpoint {name} has an unknown status {text!r}")
    pending = raw.get("PendingDeploymentSummary") or {}
    return EndpointState(
        name=name,
        status=status,
        config_name=raw.get("EndpointConfigName"),
        failure_reason=raw.get("FailureReason"),
        pending_config=pending.get("EndpointConfigName"),
    )


class SageMakerDeployment:
    """Implements :class:`~amtflow.app.DeploymentService` over an injected SageMaker client."""

    def __init__(self, client: SageMakerClient) -> None:
        self._sm = client

    def describe_model_package(self, arn: str) -> ModelPackage:
        with aws_call(f"describing model package {arn}", expected=_ABSENT) as call:
            raw = self._sm.describe_model_package(ModelPackageName=arn)
        if call.code:
            raise NotFoundError(f"model package {arn} does not exist")
        containers = (raw.get("InferenceSpecification") or {}).get("Containers") or [{}]
        version = raw.get("ModelPackageVersion")
        return ModelPackage(
            arn=str(raw.get("ModelPackageArn", arn)),
            group=str(raw.get("ModelPackageGroupName", "")),
            version=int(version) if version is not None else None,
            approval=str(raw.get("ModelApprovalStatus", "")),
            image=str(containers[0].get("Image", "")),
            model_data_url=str(containers[0].get("ModelDataUrl", "")),
            environment={str(k): str(v) for k, v in (containers[0].get("Environment") or {}).items()},
            metadata={str(k): str(v) for k, v in (raw.get("CustomerMetadataProperties") or {}).items()},
        )

    def model_exists(self, name: str) -> bool:
        with aws_call(f"describing model {name}", expected=_ABSENT) as call:
            self._sm.describe_model(ModelName=name)
        return call.code is None

    def create_model(self, request: Mapping[str, Any]) -> None:
        with aws_call(f"creating model {request.get('ModelName')}"):
            self._sm.create_model(**request)

    def config_exists(self, name: str) -> bool:
        with aws_call(f"describing endpoint configuration {name}", expected=_ABSENT) as call:
            self._sm.describe_endpoint_config(EndpointConfigName=name)
        return call.code is None

    def create_endpoint_config(self, request: Mapping[str, Any]) -> None:
        with aws_call(f"creating endpoint configuration {request.get('EndpointConfigName')}"):
            self._sm.create_endpoint_config(**request)

    def describe_endpoint(self, name: str) -> EndpointState | None:
        with aws_call(f"describing endpoint {name}", expected=_ABSENT) as call:
            raw = self._sm.describe_endpoint(EndpointName=name)
        if call.code:
            return None
        return endpoint_state(raw)

    def create_endpoint(self, request: Mapping[str, Any]) -> None:
        with aws_call(f"creating endpoint {request.get('EndpointName')}"):
            self._sm.create_endpoint(**request)

    def update_endpoint(self, request: Mapping[str, Any]) -> None:
        with aws_call(f"updating endpoint {request.get('EndpointName')}"):
            self._sm.update_endpoint(**request)

    def endpoint_configs(self, prefix: str) -> Sequence[ConfigSummary]:
        found: list[ConfigSummary] = []
        kwargs: dict[str, Any] = {"NameContains": prefix, "SortBy": "CreationTime", "SortOrder": "Descending"}
        with aws_call(f"listing the endpoint configurations of {prefix}"):
            while True:
                page = self._sm.list_endpoint_configs(**kwargs)
                for c in page.get("EndpointConfigs", []):
                    if str(c["EndpointConfigName"]).startswith(prefix):
                        found.append(
                            ConfigSummary(str(c["EndpointConfigName"]), _aware(c.get("CreationTime")))
                        )
                if not page.get("NextToken"):
                    break
                kwargs["NextToken"] = page["NextToken"]
        return sorted(found, key=lambda c: c.created_at, reverse=True)

    def delete_endpoint_config(self, name: str) -> None:
        with aws_call(f"deleting endpoint configuration {name}", expected=_ABSENT):
            self._sm.delete_endpoint_config(EndpointConfigName=name)
        with aws_call(f"deleting model {name}", expected=_ABSENT):
            self._sm.delete_model(ModelName=name)

    def delete_endpoint(self, name: str) -> None:
        with aws_call(f"deleting endpoint {name}", expected=_ABSENT):
            self._sm.delete_endpoint(EndpointName=name)


class CloudWatchRollbackAlarms:
    """Implements :class:`~amtflow.app.RollbackAlarms` over an injected CloudWatch client."""

    def __init__(self, client: Any) -> None:
        self._cw = client

    def missing(self, names: Sequence[str]) -> Sequence[str]:
        found: set[str] = set()
        with aws_call("describing the rollback alarms"):
            for i in range(0, len(names), 100):
                page = self._cw.describe_alarms(
                    AlarmNames=list(names[i : i + 100]), AlarmTypes=["MetricAlarm", "CompositeAlarm"]
                )
                found |= {a["AlarmName"] for a in page.get("MetricAlarms", [])}
                found |= {a["AlarmName"] for a in page.get("CompositeAlarms", [])}
        return [n for n in names if n not in found]

    def put(self, request: Mapping[str, Any]) -> None:
        with aws_call(f"creating alarm {request.get('AlarmName')}"):
            self._cw.put_metric_alarm(**request)


def _token_key(endpoint: str) -> dict[str, Any]:
    return {"pk": {"S": f"ENDPOINT#{endpoint}"}, "sk": {"S": TOKEN_SK}}


def _index_key(endpoint: str) -> dict[str, Any]:
    return {"pk": {"S": PARKED_ENDPOINTS_PK}, "sk": {"S": endpoint}}


def _parked_from(item: Mapping[str, Any]) -> ParkedDeployment:
    return ParkedDeployment(
        endpoint=item["endpoint"]["S"],
        task_token=item["taskToken"]["S"],
        model=item["model"]["S"],
        execution=item["execution"]["S"],
        config_name=item["configName"]["S"],
        package_arn=item["packageArn"]["S"],
        parked_at=_aware(datetime.fromisoformat(item["parkedAt"]["S"])),
        replaced_failed=item["replacedFailed"]["S"] if "replacedFailed" in item else None,
        awaiting_deletion=bool(item.get("awaitingDeletion", {}).get("BOOL", False)),
    )


class DynamoDeploymentTable:
    """Implements :class:`~amtflow.app.DeploymentTokens`, :class:`~amtflow.app.DeploymentLocks` and
    :class:`~amtflow.app.DeploymentLedger` on the state table."""

    def __init__(self, client: DynamoDBClient, table_name: str) -> None:
        self._db = client
        self._table = table_name

    # --- parked deployments ------------------------------------------------------------------------------

    def park(self, parked: ParkedDeployment) -> None:
        attributes: dict[str, Any] = {
            "endpoint": {"S": parked.endpoint},
            "taskToken": {"S": parked.task_token},
            "model": {"S": parked.model},
            "execution": {"S": parked.execution},
            "configName": {"S": parked.config_name},
            "packageArn": {"S": parked.package_arn},
            "parkedAt": {"S": parked.parked_at.isoformat()},
            "expiresAt": {"N": str(int(parked.parked_at.timestamp()) + TTL_SECONDS)},
        }
        if parked.replaced_failed is not None:
            attributes["replacedFailed"] = {"S": parked.replaced_failed}
        if parked.awaiting_deletion:
            attributes["awaitingDeletion"] = {"BOOL": True}
        with aws_call(f"parking the deployment of {parked.endpoint}"):
            self._db.transact_write_items(
                TransactItems=[
                    {
                        "Put": {
                            "TableName": self._table,
                            "Item": {**_token_key(parked.endpoint), **attributes},
                        }
                    },
                    {
                        "Put": {
                            "TableName": self._table,
                            "Item": {**_index_key(parked.endpoint), **attributes},
                        }
                    },
                ]
            )

    def claim(self, endpoint: str) -> ParkedDeployment | None:
        item = take_item(
            self._db, self._table, _token_key(endpoint), action=f"claiming the deployment of {endpoint}"
        )
        with aws_call(f"removing {endpoint} from the parked deployments"):
            self._db.delete_item(TableName=self._table, Key=_index_key(endpoint))
        return _parked_from(item) if item else None

    def parked(self) -> Sequence[ParkedDeployment]:
        found: list[ParkedDeployment] = []
        kwargs: dict[str, Any] = {
            "TableName": self._table,
            "KeyConditionExpression": "pk = :pk",
            "ExpressionAttributeValues": {":pk": {"S": PARKED_ENDPOINTS_PK}},
        }
        with aws_call("listing parked deployments"):
            while True:
                page = self._db.query(**kwargs)
                found.extend(_parked_from(item) for item in page.get("Items", []))
                if "LastEvaluatedKey" not in page:
                    return found
                kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]

    # --- the model's deployment lock ---------------------------------------------------------------------

    def acquire(self, model: str, owner: str, *, now: datetime, until: datetime) -> LockRef:
        key = {"pk": {"S": f"MODEL#{model}"}, "sk": {"S": LOCK_SK}}
        with aws_call(
            f"locking the deployments of {model}", expected={"ConditionalCheckFailedException"}
        ) as call:
            self._db.put_item(
                TableName=self._table,
                Item={
                    **key,
                    "owner": {"S": owner},
                    "lockedAt": {"S": now.isoformat()},
                    "lockedUntil": {"N": str(int(until.timestamp()))},
                    "expiresAt": {"N": str(int(until.timestamp()) + TTL_SECONDS)},
                },
                ConditionExpression="attribute_not_exists(pk) OR #owner = :owner OR #until < :now",
                ExpressionAttributeNames={"#owner": "owner", "#until": "lockedUntil"},
                ExpressionAttributeValues={":owner": {"S": owner}, ":now": {"N": str(int(now.timestamp()))}},
            )
        if call.code:
            raise DeploymentBusyError(
                f"another deployment of {model} is in progress: one deployment per model at a time; this one "
                "waits and starts when that one has ended"
            )
        return LockRef(pk=key["pk"]["S"], sk=LOCK_SK, owner=owner)

    # --- the lineage's deployment records ----------------------------------------------------------------

    def record(self, record: DeploymentRecord) -> None:
        item: dict[str, Any] = {
            "pk": {"S": f"MODEL#{record.model}"},
            "sk": {"S": f"{RECORD_PREFIX}{record.started_at.isoformat()}#{record.execution}"},
            "kind": {"S": "deployment"},
            "model": {"S": record.model},
            "execution": {"S": record.execution},
            "packageArn": {"S": record.package_arn},
            "endpoint": {"S": record.endpoint},
            "configName": {"S": record.config_name},
            "outcome": {"S": record.outcome.value},
            "reason": {"S": record.reason or "-"},
            "startedAt": {"S": record.started_at.isoformat()},
            "endedAt": {"S": record.ended_at.isoformat()},
            "instanceType": {"S": record.instance_type or "-"},
            "instanceCount": {"N": str(record.instance_count)},
        }
        if record.serving_config:
            item["servingConfig"] = {"S": record.serving_config}
        if record.usd_per_hour is not None:
            item["usdPerHour"] = {"N": repr(record.usd_per_hour)}
        with aws_call(f"recording the deployment of {record.endpoint}"):
            self._db.put_item(TableName=self._table, Item=item)

    def deployments(self, model: str) -> Sequence[DeploymentRecord]:
        kwargs: dict[str, Any] = {
            "TableName": self._table,
            "KeyConditionExpression": "pk = :pk AND begins_with(sk, :sk)",
            "ExpressionAttributeValues": {":pk": {"S": f"MODEL#{model}"}, ":sk": {"S": RECORD_PREFIX}},
            "ScanIndexForward": False,
        }
        found: list[DeploymentRecord] = []
        with aws_call(f"listing the deployments of {model}"):
            while True:
                page = self._db.query(**kwargs)
                found.extend(_record_from(item) for item in page.get("Items", []))
                if "LastEvaluatedKey" not in page:
                    return found
                kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]


def _record_from(item: Mapping[str, Any]) -> DeploymentRecord:
    def text(name: str) -> str:
        value = str(item.get(name, {}).get("S", ""))
        return "" if value == "-" else value

    price = item.get("usdPerHour", {}).get("N")
    return DeploymentRecord(
        model=text("model"),
        execution=text("execution"),
        package_arn=text("packageArn"),
        endpoint=text("endpoint"),
        config_name=text("configName"),
        outcome=DeploymentOutcome(text("outcome")),
        reason=text("reason"),
        started_at=_aware(datetime.fromisoformat(text("startedAt"))),
        ended_at=_aware(datetime.fromisoformat(text("endedAt"))),
        serving_config=text("servingConfig") or None,
        instance_type=text("instanceType"),
        instance_count=int(item.get("instanceCount", {}).get("N", "0")),
        usd_per_hour=float(price) if price is not None else None,
    )
