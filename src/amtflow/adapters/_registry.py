"""Register a promoted model in the SageMaker Model Registry, with an injected SageMaker client.

The request itself is built, purely, by :func:`amtflow.lineage.build_model_package_request`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from amtflow.adapters._errors import aws_call

if TYPE_CHECKING:
    from mypy_boto3_sagemaker import SageMakerClient

# The codes DescribeModelPackageGroup answers for a group that does not exist.
_NO_GROUP = frozenset({"ValidationException", "ResourceNotFound"})


def ensure_model_package_group(client: SageMakerClient, group: str, description: str = "") -> None:
    """Create the model package group unless it exists."""
    with aws_call(f"describing model package group {group}", expected=_NO_GROUP) as call:
        client.describe_model_package_group(ModelPackageGroupName=group)
    if call.code is None:
        return
    with aws_call(f"creating model package group {group}", field="model_package"):
        client.create_model_package_group(
            ModelPackageGroupName=group,
            ModelPackageGroupDescription=description or f"models promoted by amtflow for {group}",
        )


def register_model_package(client: SageMakerClient, request: Mapping[str, Any]) -> str:
    """Create the model package (idempotent through ``ClientToken``); returns its ARN."""
    group = request.get("ModelPackageGroupName")
    with aws_call(f"registering a model package in {group}", field="model_package"):
        resp = client.create_model_package(**request)
    return str(resp["ModelPackageArn"])
