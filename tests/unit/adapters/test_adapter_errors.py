"""translate: every AWS error code family maps to one amtflow error type, with what was attempted."""

from __future__ import annotations

import pytest
from botocore.exceptions import ClientError, EndpointConnectionError

from amtflow.adapters import translate
from amtflow.errors import (
    AmtflowError,
    ConfigurationError,
    ConflictError,
    InvalidInputError,
    NotFoundError,
    QuotaExceededError,
    TransientError,
)


def client_error(code: str) -> ClientError:
    return ClientError({"Error": {"Code": code, "Message": "details"}}, "Operation")


@pytest.mark.parametrize(
    ("code", "kind"),
    [
        ("ThrottlingException", TransientError),
        ("TooManyRequestsException", TransientError),
        ("ProvisionedThroughputExceededException", TransientError),
        ("ServiceUnavailable", TransientError),
        ("ResourceLimitExceeded", QuotaExceededError),
        ("ConditionalCheckFailedException", ConflictError),
        ("ResourceInUse", ConflictError),
        ("ResourceNotFoundException", NotFoundError),
        ("NoSuchKey", NotFoundError),
        ("ValidationException", InvalidInputError),
        ("AccessDenied", ConfigurationError),
        ("Unheard", AmtflowError),
    ],
)
def test_codes_map_to_types(code: str, kind: type[AmtflowError]) -> None:
    error = translate(client_error(code), "doing the thing")
    assert type(error) is kind
    assert "doing the thing" in str(error)


def test_a_network_failure_is_transient() -> None:
    error = translate(EndpointConnectionError(endpoint_url="https://x"), "calling x")
    assert isinstance(error, TransientError)
    assert "retried" in str(error)
