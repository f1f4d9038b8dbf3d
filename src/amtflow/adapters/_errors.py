"""Mapping AWS ``ClientError`` codes to amtflow errors (never matching on message text)."""

from __future__ import annotations

from botocore.exceptions import BotoCoreError, ClientError

from amtflow.errors import (
    AmtflowError,
    ConfigurationError,
    ConflictError,
    InvalidInputError,
    NotFoundError,
    QuotaExceededError,
    TransientError,
)

TRANSIENT_CODES = frozenset(
    {
        "ThrottlingException",
        "Throttling",
        "ThrottledException",
        "TooManyRequestsException",
        "RequestLimitExceeded",
        "ProvisionedThroughputExceededException",
        "RequestThrottled",
        "SlowDown",
        "ServiceUnavailable",
        "ServiceUnavailableException",
        "InternalServerError",
        "InternalFailure",
        "InternalError",
        "ServiceException",
        "LimitExceededException",
        "TransactionConflictException",
        "KMSThrottling",
        "KmsThrottlingException",
    }
)
QUOTA_CODES = frozenset({"ResourceLimitExceeded", "ExecutionLimitExceeded"})
CONFLICT_CODES = frozenset(
    {"ResourceInUse", "ResourceInUseException", "ConflictException", "ConditionalCheckFailedException"}
)
NOT_FOUND_CODES = frozenset(
    {"ResourceNotFound", "ResourceNotFoundException", "NoSuchKey", "NotFound", "404", "NoSuchBucket"}
)
INVALID_CODES = frozenset({"ValidationException", "ValidationError", "InvalidParameterException"})
ACCESS_CODES = frozenset(
    {"AccessDenied", "AccessDeniedException", "UnauthorizedOperation", "AuthorizationError"}
)


def error_code(error: ClientError) -> str:
    return str(error.response.get("Error", {}).get("Code", ""))


def translate(error: ClientError | BotoCoreError, action: str) -> AmtflowError:
    """The amtflow error for a failed AWS call; ``action`` says what was attempted, in plain words."""
    if isinstance(error, BotoCoreError):
        return TransientError(f"{action} failed before AWS answered ({error}); it will be retried")
    code = error_code(error)
    detail = error.response.get("Error", {}).get("Message", "") or code
    if code in QUOTA_CODES:
        return QuotaExceededError(
            f"{action}: a service quota is exhausted ({detail}); the run retries later, "
            "or raise the quota in Service Quotas"
        )
    if code in TRANSIENT_CODES:
        return TransientError(f"{action}: AWS throttled or failed transiently ({code}); it will be retried")
    if code in CONFLICT_CODES:
        return ConflictError(f"{action}: already exists or is held ({code}: {detail})")
    if code in NOT_FOUND_CODES:
        return NotFoundError(f"{action}: not found ({code}: {detail})")
    if code in INVALID_CODES:
        return InvalidInputError(
            f"{action}: AWS rejected the request ({code}: {detail}); fix the value it names"
        )
    if code in ACCESS_CODES:
        return ConfigurationError(
            f"{action}: access denied ({detail}); check the function's IAM policy in template.yaml"
        )
    return AmtflowError(f"{action}: AWS error {code or 'unknown'} ({detail})")
