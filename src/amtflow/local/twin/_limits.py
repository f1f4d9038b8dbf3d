"""The AWS service size limits the twin enforces, and how each service measures a request against them.

The numbers are the services' documented quotas (hard limits, not raisable); the twin refuses what the
service would refuse, with the service's error, so an oversized payload shows up locally rather than after
``sam deploy``. :mod:`._moto_seam` applies them where moto serves the API.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any, Final

STATES_PAYLOAD_BYTES: Final = 262_144
"""Step Functions: an execution's input, a state's input or output, ``SendTaskSuccess``'s output (UTF-8)."""
SNS_MESSAGE_BYTES: Final = 262_144
"""SNS ``Publish``: the message body plus every message attribute (name, data type and value)."""
SNS_SUBJECT_CHARS: Final = 100
"""SNS ``Publish``: a subject must be shorter than this, printable ASCII on one line."""
EVENTS_REQUEST_BYTES: Final = 262_144
"""EventBridge ``PutEvents``: the total size of a request's entries (so also of one entry)."""
LAMBDA_SYNC_PAYLOAD_BYTES: Final = 6_291_456
"""Lambda ``Invoke`` (``RequestResponse``): the request payload (moto limits the response itself)."""
LAMBDA_ASYNC_PAYLOAD_BYTES: Final = 262_144
"""Lambda ``Invoke`` (``Event``): the request payload."""
DYNAMODB_ITEM_BYTES: Final = 409_600
"""DynamoDB: one item, attribute names included (moto enforces it itself)."""


def utf8_size(text: str | bytes | None) -> int:
    """The size of ``text`` in bytes as the services count it (UTF-8)."""
    if text is None:
        return 0
    return len(text) if isinstance(text, bytes) else len(text.encode("utf-8"))


def put_events_entry_size(entry: Mapping[str, Any]) -> int:
    """The size of one ``PutEvents`` entry as EventBridge computes it: 14 bytes for a ``Time``, then the
    UTF-8 bytes of ``Source``, ``DetailType``, ``Detail`` and each of ``Resources``."""
    size = 14 if entry.get("Time") is not None else 0
    for key in ("Source", "DetailType", "Detail"):
        value = entry.get(key)
        size += utf8_size(value if isinstance(value, str | bytes) else None)
    resources: Iterable[Any] = entry.get("Resources") or ()
    return size + sum(utf8_size(str(r)) for r in resources)


def sns_message_size(message: str | None, attributes: Mapping[str, Any] | None) -> int:
    """The size SNS checks against :data:`SNS_MESSAGE_BYTES`: the body plus every attribute's name, data
    type and value (moto's parsed form: ``{"Type": ..., "Value": ...}``)."""
    size = utf8_size(message)
    for name, attribute in (attributes or {}).items():
        size += utf8_size(name)
        if isinstance(attribute, Mapping):
            size += utf8_size(str(attribute.get("Type") or attribute.get("DataType") or ""))
            value = attribute.get("Value", attribute.get("StringValue", attribute.get("BinaryValue")))
            size += utf8_size(value if isinstance(value, str | bytes) else str(value or ""))
    return size


def sns_subject_problem(subject: str | None) -> str | None:
    """Why SNS rejects ``subject`` (too long, a line break or a control character); ``None`` if it is fine."""
    if subject is None:
        return None
    if len(subject) >= SNS_SUBJECT_CHARS:
        return f"Subject must be less than {SNS_SUBJECT_CHARS} characters, got {len(subject)}"
    if subject == "" or any(ord(c) < 32 or ord(c) == 127 for c in subject):
        return "Subject must be printable text on one line (no line breaks or control characters)"
    return None
