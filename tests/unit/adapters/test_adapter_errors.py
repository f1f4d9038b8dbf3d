"""translate: every AWS error code family maps to one amtflow error type, with what was attempted."""

from __future__ import annotations

import pytest
from botocore.exceptions import ClientError, EndpointConnectionError

from amtflow.adapters import aws_call, translate
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
        ("403", ConfigurationError),
        ("RequestTimeout", TransientError),
        ("503", TransientError),
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


# --- aws_call: the one place a boto3 call's failure becomes an amtflow error ----------------------------


def test_a_failed_call_raises_the_translated_error_chained_to_the_aws_one() -> None:
    original = client_error("ThrottlingException")
    with pytest.raises(TransientError, match=r"^locking model m: ") as info, aws_call("locking model m"):
        raise original
    assert info.value.__cause__ is original


def test_no_answer_from_aws_is_transient() -> None:
    with pytest.raises(TransientError, match=r"^reading x failed before AWS answered"), aws_call("reading x"):
        raise EndpointConnectionError(endpoint_url="https://example.invalid")


def test_an_expected_code_is_an_answer_kept_in_the_context() -> None:
    with aws_call("locking model m", expected={"ConditionalCheckFailedException"}) as call:
        raise client_error("ConditionalCheckFailedException")
    assert call.code == "ConditionalCheckFailedException"
    with aws_call("locking model m", expected={"ConditionalCheckFailedException"}) as call:
        pass
    assert call.code is None
    with (
        pytest.raises(TransientError),
        aws_call("locking model m", expected={"ConditionalCheckFailedException"}),
    ):
        raise client_error("ThrottlingException")


def test_a_code_can_raise_its_own_error_and_a_rejection_can_name_the_field() -> None:
    gone = ConfigurationError("the table is gone; check the stack")
    with (
        pytest.raises(ConfigurationError) as info,
        aws_call("reading the table", errors={"ResourceNotFoundException": lambda e: gone}),
    ):
        raise client_error("ResourceNotFoundException")
    assert info.value is gone
    with pytest.raises(InvalidInputError) as rejected, aws_call("registering", field="model_package"):
        raise client_error("ValidationException")
    assert rejected.value.field == "model_package"


def test_other_exceptions_pass_through_untouched() -> None:
    with pytest.raises(KeyError), aws_call("reading x"):
        raise KeyError("Body")
