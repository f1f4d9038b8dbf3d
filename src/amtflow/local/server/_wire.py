"""SageMaker's wire protocol (awsJson 1.1), without the HTTP: requests checked, answers and errors encoded.

A request is ``POST /`` with ``X-Amz-Target: SageMaker.<Operation>`` and a JSON body; the answer is JSON
with timestamps as epoch seconds; an error is ``{"__type": "<Code>", "message": "..."}`` (botocore reads
only ``__type``), also named in the ``x-amzn-ErrorType`` header. Requests are checked against botocore's own
model of the operation, so a raw HTTP client gets the message an SDK would have given it locally.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from collections.abc import Iterator, Mapping
from functools import cache
from typing import Any

import botocore.session
from botocore.model import ServiceModel
from botocore.utils import parse_timestamp
from botocore.validate import ParamValidator

from amtflow.errors import AmtflowError
from amtflow.local.engine import OPERATIONS, ServiceError

TARGET_PREFIX = "SageMaker."
CONTENT_TYPE = "application/x-amz-json-1.1"
DEFAULT_REGION = "us-east-1"
#: The request bodies the service reads (a tuning request is a few kilobytes).
MAX_BODY_BYTES = 4 * 1024 * 1024
#: InvokeEndpoint's payload limit (sagemaker-runtime's ``BodyBlob``).
MAX_INVOCATION_BYTES = 6_291_456

_CREDENTIAL = re.compile(r"Credential=[^/,\s]+/\d{8}/([a-z0-9-]+)/sagemaker/aws4_request")
#: Request fields that name where data is read or written: the service only serves file:// there.
_LOCATION_KEYS = frozenset({"S3Uri", "S3OutputPath", "ModelDataUrl"})


class WireError(AmtflowError):
    """A request the service answers with an error: the code botocore will raise, the message, the status."""

    error_type = "WireError"

    def __init__(self, code: str, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.code = code
        self.status = status

    def body(self) -> bytes:
        return json.dumps({"__type": self.code, "message": self.message}).encode()


@cache
def _model() -> ServiceModel:
    return botocore.session.get_session().get_service_model("sagemaker")


def operation_of(target: str | None) -> str:
    """The operation an ``X-Amz-Target`` header names; an error when it is missing or not served here."""
    if not target:
        raise WireError(
            "MissingAction", f"the request has no X-Amz-Target header; send '{TARGET_PREFIX}<Operation>'."
        )
    operation = target[len(TARGET_PREFIX) :] if target.startswith(TARGET_PREFIX) else ""
    if operation not in OPERATIONS:
        served = ", ".join(sorted(OPERATIONS))
        raise WireError(
            "UnknownOperationException",
            f"{target} is not served by amtflow local serve (it serves only the local AMT engine's "
            f"operations: {served}); nothing is forwarded to AWS.",
        )
    return operation


def parse_body(raw: bytes) -> dict[str, Any]:
    """The request's JSON object (an empty body is ``{}``)."""
    if not raw.strip():
        return {}
    try:
        body = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise WireError("SerializationException", f"the request body is not JSON: {e}") from None
    if not isinstance(body, dict):
        raise WireError("SerializationException", "the request body must be a JSON object.")
    return body


def check_request(operation: str, params: Mapping[str, Any]) -> None:
    """Refuse what the SDK would have refused (missing, unknown or mistyped parameters) and S3 locations."""
    shape = _model().operation_model(operation).input_shape
    report = ParamValidator().validate(dict(params), shape) if shape is not None else None
    if report is not None and report.has_errors():
        raise WireError("ValidationException", report.generate_report())
    for field, value in _locations(params, ""):
        if isinstance(value, str) and value.lower().startswith("s3://"):
            raise WireError(
                "ValidationException",
                f"{field}: {value} is in S3, and amtflow local serve reads and writes only this machine's "
                "disk; give a file:// URI (e.g. file:///path/to/data/).",
            )


def epoch_timestamps(operation: str, params: Mapping[str, Any]) -> dict[str, Any]:
    """``params`` with its timestamp parameters as epoch seconds (SDKs send numbers; raw clients may send
    ISO 8601 text, which botocore's model also accepts)."""
    shape = _model().operation_model(operation).input_shape
    out = dict(params)
    for name, member in (shape.members if shape is not None else {}).items():
        if member.type_name == "timestamp" and isinstance(out.get(name), str):
            out[name] = parse_timestamp(out[name]).timestamp()
    return out


def _locations(value: Any, path: str) -> Iterator[tuple[str, Any]]:
    if isinstance(value, Mapping):
        for key, item in value.items():
            here = f"{path}.{key}" if path else str(key)
            if key in _LOCATION_KEYS:
                yield here, item
            else:
                yield from _locations(item, here)
    elif isinstance(value, list):
        for i, item in enumerate(value):
            yield from _locations(item, f"{path}[{i}]")


def region_of(authorization: str | None) -> str:
    """The region a SigV4 ``Authorization`` header signs for (``us-east-1`` for unsigned requests)."""
    match = _CREDENTIAL.search(authorization or "")
    return match.group(1) if match else DEFAULT_REGION


def _json_default(value: Any) -> Any:
    if isinstance(value, dt.datetime):
        return value.timestamp()
    return str(value)


def encode_answer(answer: Mapping[str, Any]) -> bytes:
    """The answer's JSON (timestamps as epoch seconds, as botocore's JSON parser expects)."""
    return json.dumps(answer, default=_json_default).encode()


def service_error(error: ServiceError) -> WireError:
    """The wire form of an engine refusal."""
    return WireError(error.code.value, error.message, error.status)
