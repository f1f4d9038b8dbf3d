"""Register a promoted model in the SageMaker Model Registry, with an injected SageMaker client.

The request itself is built, purely, by :func:`amtflow.lineage.build_model_package_request`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

from amtflow.errors import (
    AmtflowError,
    ConflictError,
    InvalidInputError,
    QuotaExceededError,
    TransientError,
)

if TYPE_CHECKING:
    from mypy_boto3_sagemaker import SageMakerClient


def _map_error(e: ClientError, what: str) -> AmtflowError:
    code = e.response.get("Error", {}).get("Code", "")
    message = e.response.get("Error", {}).get("Message", "")
    if code == "ConflictException":
        return ConflictError(f"{what}: {message or code}")
    if code == "ResourceLimitExceeded":
        return QuotaExceededError(f"{what}: model registry limit reached ({message}); retry later.")
    if code in ("ThrottlingException", "InternalFailure", "ServiceUnavailable"):
        return TransientError(f"{what}: {code}; retry.")
    if code == "ValidationException":
        return InvalidInputError(f"{what} was rejected: {message}", field="model_package")
    return AmtflowError(f"{what} failed: {code} {message}".strip())


def ensure_model_package_group(client: SageMakerClient, group: str, description: str = "") -> None:
    """Create the model package group unless it exists."""
    try:
        client.describe_model_package_group(ModelPackageGroupName=group)
        return
    except ClientError as e:
        code = e.response.get("Error", {}).get("Code", "")
        if code not in ("ValidationException", "ResourceNotFound"):
            raise _map_error(e, f"describing model package group {group}") from e
    try:
        client.create_model_package_group(
            ModelPackageGroupName=group,
            ModelPackageGroupDescription=description or f"models promoted by amtflow for {group}",
        )
    except ClientError as e:
        raise _map_error(e, f"creating model package group {group}") from e


def register_model_package(client: SageMakerClient, request: Mapping[str, Any]) -> str:
    """Create the model package (idempotent through ``ClientToken``); returns its ARN."""
    try:
        resp = client.create_model_package(**request)
    except ClientError as e:
        raise _map_error(e, f"registering a model package in {request.get('ModelPackageGroupName')}") from e
    return str(resp["ModelPackageArn"])
