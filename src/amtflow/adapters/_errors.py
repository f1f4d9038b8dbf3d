"""Mapping AWS ``ClientError`` codes to amtflow errors (never matching on message text).

Every boto3 call of the adapters runs inside :func:`aws_call`::

    with aws_call(f"locking model {model}", expected={"ConditionalCheckFailedException"}) as call:
        db.put_item(...)
    if call.code:  # the lock is held: an answer, not an error
        return False
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping
from types import TracebackType
from typing import overload

from botocore.exceptions import BotoCoreError, ClientError, NoCredentialsError, NoRegionError

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
        "RequestTimeout",
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
    {
        "AccessDenied",
        "AccessDeniedException",
        "UnauthorizedOperation",
        "AuthorizationError",
        "403",
        "Forbidden",
    }
)


def error_code(error: ClientError) -> str:
    return str(error.response.get("Error", {}).get("Code", ""))


def translate(error: ClientError | BotoCoreError, action: str, *, field: str | None = None) -> AmtflowError:
    """The amtflow error for a failed AWS call; ``action`` says what was attempted, in plain words, and
    ``field`` names the input a rejected request came from (on :class:`InvalidInputError`)."""
    if isinstance(error, NoCredentialsError | NoRegionError):
        return ConfigurationError(
            f"{action}: {error}; configure AWS credentials and a region (aws configure, AWS_PROFILE, "
            "AWS_REGION)"
        )
    if isinstance(error, BotoCoreError):
        return TransientError(f"{action} failed before AWS answered ({error}); it will be retried")
    code = error_code(error)
    detail = error.response.get("Error", {}).get("Message", "") or code
    if code in QUOTA_CODES:
        return QuotaExceededError(
            f"{action}: a service quota is exhausted ({detail}); the run retries later, "
            "or raise the quota in Service Quotas"
        )
    if code in TRANSIENT_CODES or (code[:1] == "5" and code.isdigit()):
        return TransientError(f"{action}: AWS throttled or failed transiently ({code}); it will be retried")
    if code in CONFLICT_CODES:
        return ConflictError(f"{action}: already exists or is held ({code}: {detail})")
    if code in NOT_FOUND_CODES:
        return NotFoundError(f"{action}: not found ({code}: {detail})")
    if code in INVALID_CODES:
        return InvalidInputError(
            f"{action}: AWS rejected the request ({code}: {detail}); fix the value it names", field=field
        )
    if code in ACCESS_CODES:
        return ConfigurationError(
            f"{action}: access denied ({detail}); check the function's IAM policy in template.yaml"
        )
    return AmtflowError(f"{action}: AWS error {code or 'unknown'} ({detail})")


ErrorFor = Callable[[ClientError], Exception]
"""Builds the error to raise for one ``ClientError`` code, where :func:`translate`'s would not do."""


class _Mapping:
    def __init__(
        self,
        action: str,
        *,
        expected: Collection[str] = (),
        errors: Mapping[str, ErrorFor] | None = None,
        field: str | None = None,
    ) -> None:
        self.action = action
        self.code: str | None = None
        self._expected = frozenset(expected)
        self._errors = dict(errors or {})
        self._field = field

    def _absorbs(self, error: BaseException | None) -> bool:
        """``True`` when ``error`` is an expected answer (kept in ``code``); raises the amtflow error of any
        other AWS failure; ``False`` for no error or one that is not AWS's."""
        if isinstance(error, ClientError):
            code = error_code(error)
            if code in self._expected:
                self.code = code
                return True
            special = self._errors.get(code)
            raise (special(error) if special else translate(error, self.action, field=self._field)) from error
        if isinstance(error, BotoCoreError):
            raise translate(error, self.action) from error
        return False


class AwsCall(_Mapping):
    """The context of AWS calls whose every failure is an error (see :func:`aws_call`)."""

    def __enter__(self) -> AwsCall:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._absorbs(error)


class ExpectingAwsCall(_Mapping):
    """The context of an AWS call with expected answers (see :func:`aws_call`). After the block, ``code`` is
    the expected error code the call met, or ``None`` when it succeeded."""

    def __enter__(self) -> ExpectingAwsCall:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, tb: TracebackType | None
    ) -> bool:
        return self._absorbs(error)


@overload
def aws_call(
    action: str, *, errors: Mapping[str, ErrorFor] | None = None, field: str | None = None
) -> AwsCall: ...


@overload
def aws_call(
    action: str,
    *,
    expected: Collection[str],
    errors: Mapping[str, ErrorFor] | None = None,
    field: str | None = None,
) -> ExpectingAwsCall: ...


def aws_call(
    action: str,
    *,
    expected: Collection[str] | None = None,
    errors: Mapping[str, ErrorFor] | None = None,
    field: str | None = None,
) -> AwsCall | ExpectingAwsCall:
    """Run the AWS call(s) of a ``with`` block, turning a failure into an amtflow error (``raise ... from``).

    ``action`` says what was attempted, in plain words (it starts the error's message). A ``ClientError``
    whose code is in ``expected`` is an answer, not a failure: it is swallowed and left in the context's
    ``code``. A code in ``errors`` raises what its function builds; any other code, and a ``BotoCoreError``
    (no answer from AWS), raises :func:`translate`'s error. Errors are told apart by code, never by message.
    """
    if expected is None:
        return AwsCall(action, errors=errors, field=field)
    return ExpectingAwsCall(action, expected=expected, errors=errors, field=field)
