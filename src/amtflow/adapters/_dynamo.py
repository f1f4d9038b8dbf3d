"""What the DynamoDB adapters share: the atomic claim of an item (a parked task token, a deployment)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from amtflow.adapters._errors import aws_call

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient


def take_item(
    db: DynamoDBClient, table: str, key: Mapping[str, Any], *, action: str
) -> dict[str, Any] | None:
    """Delete the item at ``key`` and return what it held, or ``None`` when there is none: of two callers
    taking the same item at once, exactly one gets it (``action`` names the call in an error)."""
    with aws_call(action, expected={"ConditionalCheckFailedException"}) as call:
        response = db.delete_item(
            TableName=table,
            Key=dict(key),
            ConditionExpression="attribute_exists(pk)",
            ReturnValues="ALL_OLD",
        )
    if call.code:
        return None
    item: dict[str, Any] | None = response.get("Attributes")
    return item or None
