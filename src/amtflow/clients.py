"""The one place that builds AWS clients.

Clients are built lazily, once per execution environment (a warm Lambda reuses them), and never at import
time. Tests and the local twin pass their own clients to the core instead of calling this module.
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING, Any

import boto3
from botocore.config import Config

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient
    from mypy_boto3_events import EventBridgeClient
    from mypy_boto3_logs import CloudWatchLogsClient
    from mypy_boto3_s3 import S3Client
    from mypy_boto3_sagemaker import SageMakerClient
    from mypy_boto3_sns import SNSClient
    from mypy_boto3_stepfunctions import SFNClient

_RETRY_CONFIG = Config(retries={"mode": "adaptive", "max_attempts": 8}, user_agent_extra="amtflow")

_lock = threading.Lock()
_cache: dict[str, Any] = {}


def _client(service: str) -> Any:
    with _lock:
        if service not in _cache:
            _cache[service] = boto3.session.Session().client(service, config=_RETRY_CONFIG)  # type: ignore[call-overload]
        return _cache[service]


def reset() -> None:
    """Forget cached clients (tests that switch credentials or endpoints call this)."""
    with _lock:
        _cache.clear()


def sagemaker() -> SageMakerClient:
    return _client("sagemaker")  # type: ignore[no-any-return]


def s3() -> S3Client:
    return _client("s3")  # type: ignore[no-any-return]


def dynamodb() -> DynamoDBClient:
    return _client("dynamodb")  # type: ignore[no-any-return]


def sns() -> SNSClient:
    return _client("sns")  # type: ignore[no-any-return]


def stepfunctions() -> SFNClient:
    return _client("stepfunctions")  # type: ignore[no-any-return]


def events() -> EventBridgeClient:
    return _client("events")  # type: ignore[no-any-return]


def logs() -> CloudWatchLogsClient:
    return _client("logs")  # type: ignore[no-any-return]


def cloudformation() -> Any:
    """CloudFormation (``amtflow lineage --stack`` reads a stack's outputs)."""
    return _client("cloudformation")


def cloudwatch() -> Any:
    """CloudWatch (the deployments' rollback alarms; ``amtflow status`` lists the stack's alarms in ALARM)."""
    return _client("cloudwatch")
