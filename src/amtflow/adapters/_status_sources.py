"""What ``amtflow status`` reads besides the lineage: the stack's alarms in ALARM (CloudWatch) and the models
the state table knows."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from amtflow.adapters._errors import aws_call
from amtflow.app import AlarmState

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient


class CloudWatchAlarms:
    """The alarms named ``<stack>-...`` (every alarm of the template, docs/operations.md) that are in ALARM,
    metric and composite alike (``DescribeAlarms``, every page)."""

    def __init__(self, client: Any, stack: str) -> None:
        self._cw = client
        self._prefix = f"{stack}-"

    def firing(self) -> Sequence[AlarmState]:
        found: list[AlarmState] = []
        kwargs: dict[str, Any] = {
            "AlarmNamePrefix": self._prefix,
            "StateValue": "ALARM",
            "AlarmTypes": ["MetricAlarm", "CompositeAlarm"],
        }
        with aws_call(f"listing the alarms {self._prefix}* in ALARM"):
            while True:
                page = self._cw.describe_alarms(**kwargs)
                for alarm in [*page.get("MetricAlarms", []), *page.get("CompositeAlarms", [])]:
                    if alarm.get("StateValue") != "ALARM":  # the filter, checked again
                        continue
                    since = alarm.get("StateUpdatedTimestamp")
                    if isinstance(since, datetime) and since.tzinfo is None:
                        since = since.replace(tzinfo=UTC)
                    found.append(
                        AlarmState(
                            name=str(alarm["AlarmName"]),
                            reason=str(alarm.get("StateReason", "")),
                            since=since if isinstance(since, datetime) else None,
                        )
                    )
                token = page.get("NextToken")
                if not token:
                    break
                kwargs["NextToken"] = token
        return sorted(found, key=lambda a: a.name)


def models_in_table(client: DynamoDBClient, table: str) -> list[str]:
    """The models the state table has a lineage for (a scan of the ``MODEL#<model>`` keys, keys only)."""
    models: set[str] = set()
    kwargs: dict[str, Any] = {
        "TableName": table,
        "ProjectionExpression": "pk",
        "FilterExpression": "begins_with(pk, :model)",
        "ExpressionAttributeValues": {":model": {"S": "MODEL#"}},
    }
    with aws_call(f"listing the models in table {table}"):
        while True:
            page = client.scan(**kwargs)
            models.update(item["pk"]["S"].removeprefix("MODEL#") for item in page.get("Items", []))
            if "LastEvaluatedKey" not in page:
                break
            kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]
    return sorted(models)
