"""EventBridge details the twin needs: event shapes, target input (Input, InputPath, InputTransformer)."""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any

from amtflow.errors import InvalidInputError

_PLACEHOLDER = re.compile(r"<([A-Za-z0-9_.\-]+)>")
_PATH_TOKEN = re.compile(r"\.([^.\[\]]+)|\[(\d+)\]|\['([^']+)'\]")


def iso_time(when: datetime) -> str:
    """EventBridge's ``time`` format: ``2026-11-01T03:00:00Z``."""
    return when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def envelope(
    *,
    event_id: str,
    source: str,
    detail_type: str,
    detail: Mapping[str, Any],
    when: datetime,
    account: str,
    region: str,
    resources: list[str] | None = None,
) -> dict[str, Any]:
    """An EventBridge event as targets receive it."""
    return {
        "version": "0",
        "id": event_id,
        "detail-type": detail_type,
        "source": source,
        "account": account,
        "time": iso_time(when),
        "region": region,
        "resources": list(resources or []),
        "detail": dict(detail),
    }


def normalise_event(
    raw: Mapping[str, Any], *, new_id: Callable[[], str], now: datetime, sequencer: Callable[[], str]
) -> dict[str, Any]:
    """Bring an event from moto's EventBridge into AWS's shape.

    ``time`` becomes ISO-8601 (moto keeps epoch seconds), moto-only keys go, and S3 events take the twin's
    clock time and the S3 user guide's shape (``etag``, ``sequencer``, ``reason: PutObject``, no
    ``version-id`` for unversioned buckets, a fresh ``id``). Object keys are passed as stored (not
    URL-encoded).
    """
    event: dict[str, Any] = json.loads(json.dumps(dict(raw), default=str))
    event.pop("ingestion-time", None)
    event["time"] = _iso(event.get("time"), now)
    detail = event.get("detail")
    if (
        event.get("source") == "aws.s3"
        and isinstance(detail, dict)
        and isinstance(detail.get("object"), dict)
    ):
        obj = detail["object"]
        shaped: dict[str, Any] = {"key": obj.get("key"), "size": obj.get("size")}
        shaped["etag"] = str(obj.get("etag", obj.get("eTag", ""))).strip('"')
        if obj.get("version-id") not in (None, "", "null"):
            shaped["version-id"] = obj["version-id"]
        shaped["sequencer"] = sequencer()
        detail["object"] = shaped
        event["time"] = iso_time(now)  # S3 stamps its events when they happen: on the twin's clock
        detail["request-id"] = new_id().replace("-", "")[:16].upper()
        detail["requester"] = event.get("account", "")
        detail["source-ip-address"] = "127.0.0.1"
        if event.get("detail-type") == "Object Created":
            detail["reason"] = "PutObject"
        event["id"] = new_id()
    return event


def _iso(value: Any, now: datetime) -> str:
    if isinstance(value, int | float) and not isinstance(value, bool):
        return iso_time(datetime.fromtimestamp(float(value), UTC))
    if isinstance(value, str) and value:
        try:
            return iso_time(datetime.fromtimestamp(float(value), UTC))
        except ValueError:
            return value
    return iso_time(now)


def json_path(document: Any, path: str) -> Any:
    """Resolve a simple JSONPath (``$``, ``$.a.b``, ``$.a[0]``, ``$['a-b']``); LookupError if absent."""
    if not path.startswith("$"):
        raise InvalidInputError(f"input path {path!r} must start with '$'", field="InputPath")
    rest = path[1:]
    node = document
    pos = 0
    while pos < len(rest):
        match = _PATH_TOKEN.match(rest, pos)
        if not match:
            raise InvalidInputError(f"input path {path!r} is not a simple JSONPath", field="InputPath")
        key, index, quoted = match.groups()
        try:
            node = node[int(index)] if index is not None else node[key if key is not None else quoted]
        except (KeyError, IndexError, TypeError):
            raise LookupError(path) from None
        pos = match.end()
    return node


def target_input(target: Mapping[str, Any], event: Mapping[str, Any], *, rule_name: str) -> Any:
    """What a rule target receives: its ``Input``, ``InputPath``, ``InputTransformer`` or the event."""
    if target.get("Input") is not None:
        return json.loads(target["Input"])
    if target.get("InputPath"):
        return json_path(event, target["InputPath"])
    transformer = target.get("InputTransformer")
    if transformer:
        return transform_input(
            transformer.get("InputTemplate", ""),
            transformer.get("InputPathsMap", {}),
            event,
            rule_name=rule_name,
        )
    return dict(event)


def transform_input(
    template: str, paths: Mapping[str, str], event: Mapping[str, Any], *, rule_name: str
) -> Any:
    """Apply an InputTransformer: values go in as JSON, inside quotes or plain-text templates as text."""
    values: dict[str, Any] = {"aws.events.rule-name": rule_name, "aws.events.event": dict(event)}
    for name, path in paths.items():
        try:
            values[name] = json_path(event, path)
        except LookupError:
            values[name] = None
    json_template = template.lstrip().startswith(("{", "["))
    out: list[str] = []
    pos = 0
    for match in _PLACEHOLDER.finditer(template):
        name = match.group(1)
        if name not in values:
            continue
        out.append(template[pos : match.start()])
        value = values[name]
        if not json_template:
            out.append(value if isinstance(value, str) else json.dumps(value))
        elif _inside_string(template, match.start()):
            text = value if isinstance(value, str) else json.dumps(value)
            out.append(json.dumps(text)[1:-1])
        else:
            out.append(json.dumps(value))
        pos = match.end()
    out.append(template[pos:])
    text = "".join(out)
    try:
        return json.loads(text)
    except ValueError:
        return text


def _inside_string(text: str, index: int) -> bool:
    inside = False
    escaped = False
    for ch in text[:index]:
        if escaped:
            escaped = False
        elif ch == "\\":
            escaped = True
        elif ch == '"':
            inside = not inside
    return inside
