"""StartRun: the trigger router. Turns S3, schedule and drift events into executions.

EventBridge cannot name executions, so the router does: the execution name is derived from the model and
the dataset version (or the schedule slot), and a duplicated event meets ``ExecutionAlreadyExists`` — one
execution per dataset version, however often the marker object's event arrives.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import unquote_plus

from amtflow.app._events import DriftDetected, parse_event, parse_timestamp
from amtflow.app._ports import DatasetCatalog, ExecutionStart, ExecutionStarter, ProfileCatalog, StartOutcome
from amtflow.errors import AmtflowError, InvalidInputError, ProfileError, ProfileNotFoundError
from amtflow.messages import (
    EventSource,
    RunRequest,
    parse_document,
    parse_run_request,
)
from amtflow.vocabulary import DATASET_VERSION_PATTERN, RequestedAction, Trigger, is_model_name

ExecutionNamer = Callable[[str, str], str]
"""``(model, version slug) -> execution name`` (see :mod:`amtflow.naming`)."""

DEFAULT_MARKER = "_READY"


@dataclass(frozen=True)
class RouteResult:
    """What the router did with one event: the executions it started, or why it started none."""

    executions: tuple[ExecutionStart, ...] = ()
    ignored: str = ""

    @property
    def started(self) -> int:
        return sum(1 for e in self.executions if e.outcome is StartOutcome.STARTED)


class StartRun:
    """Routes one event to zero or more executions (call :func:`route_event`, or the ``on_*`` methods)."""

    def __init__(
        self,
        *,
        profiles: ProfileCatalog,
        datasets: DatasetCatalog,
        executions: ExecutionStarter,
        execution_namer: ExecutionNamer,
        data_bucket: str,
        datasets_prefix: str = "datasets/",
        schedule_period: timedelta = timedelta(hours=1),
    ) -> None:
        self._profiles = profiles
        self._datasets = datasets
        self._executions = executions
        self._namer = execution_namer
        self._bucket = data_bucket
        self._prefix = datasets_prefix
        self._period = schedule_period

    def _marker_of(self, model: str) -> str:
        try:
            return self._profiles.get(model).marker
        except (ProfileNotFoundError, ProfileError):
            # Start anyway when the default marker lands: Plan then fails the run with a notification
            # that says the profile is missing or broken, instead of the upload being silently ignored.
            return DEFAULT_MARKER

    def on_object_created(self, bucket: str, key: str, event_id: str, time: str | None = None) -> RouteResult:
        """``time`` is the event's (when the marker was written): the run's data time."""
        if bucket != self._bucket:
            return RouteResult(ignored=f"bucket {bucket} is not the data bucket {self._bucket}")
        if not key.startswith(self._prefix):
            return RouteResult(ignored=f"key {key} is not under {self._prefix}")
        parts = key[len(self._prefix) :].split("/")
        if len(parts) != 3 or not all(parts):
            return RouteResult(ignored=f"key {key} is not a marker <model>/<version>/<marker>")
        model, version, name = parts
        if not is_model_name(model) or not re.fullmatch(DATASET_VERSION_PATTERN, version):
            return RouteResult(ignored=f"key {key}: model or version name is not valid")
        marker = self._marker_of(model)
        if name != marker:
            return RouteResult(ignored=f"{name} is not the marker object '{marker}' of {model}")
        request = RunRequest(
            model=model,
            action=RequestedAction.AUTO,
            dataset_version=version,
            trigger=Trigger.S3,
            source=EventSource(bucket=bucket, key=key, event_id=event_id, time=time or None),
        )
        return RouteResult(executions=(self._start(self._namer(model, version), request),))

    def on_schedule(self, now: datetime, rule: str = "") -> RouteResult:
        """One execution per profile whose schedule had an occurrence within the last period, on its newest
        complete dataset version. A broken profile or dataset folder is skipped (and said), not fatal."""
        started = []
        skipped: list[str] = []
        since = now - self._period
        slot = now.strftime("%Y%m%dT%H%M")
        for model in self._profiles.models():
            try:
                spec = self._profiles.get(model)
                if not spec.schedule_due(now, since):
                    continue
                version = self._datasets.latest_version(model, spec.marker)
                if version is None:
                    skipped.append(f"{model}: due but no complete dataset version")
                    continue
                request = parse_run_request(
                    {
                        "model": model,
                        "datasetVersion": version,
                        "trigger": Trigger.SCHEDULE.value,
                        "source": {"rule": rule or None, "time": now.isoformat()},
                    }
                )
            except AmtflowError as e:
                skipped.append(f"{model}: {e}")
                continue
            started.append(self._start(self._namer(model, f"{version}-s{slot}"), request))
        if not started:
            reasons = "; ".join(skipped) or "no profile's schedule is due"
            return RouteResult(ignored=f"nothing due with a complete dataset version ({reasons})")
        return RouteResult(executions=tuple(started), ignored="; ".join(skipped))

    def on_drift(self, model: str, dataset_version: str, severity: str, event_id: str) -> RouteResult:
        request = parse_run_request(
            {
                "model": model,
                "datasetVersion": dataset_version,
                "trigger": Trigger.DRIFT.value,
                "drift": {"severity": severity},
                "source": {"eventId": event_id},
            }
        )
        name = self._namer(model, f"{dataset_version}-drift-{severity}")
        return RouteResult(executions=(self._start(name, request),))

    def _start(self, name: str, request: RunRequest) -> ExecutionStart:
        return self._executions.start(name, request.to_json())


DRIFT_SOURCE = "amtflow.drift"


def _s3_location(detail: Any) -> tuple[str, str]:
    """``(bucket, key)`` of an S3 "Object Created" event's ``detail``; a missing field is named."""
    if not isinstance(detail, Mapping):
        raise InvalidInputError(
            "S3 event without 'detail': expected EventBridge's S3 event shape", field="detail"
        )
    for section, name in (("bucket", "name"), ("object", "key")):
        part = detail.get(section)
        if not isinstance(part, Mapping):
            raise InvalidInputError(f"S3 event without 'detail.{section}'", field=f"detail.{section}")
        if not isinstance(part.get(name), str):
            raise InvalidInputError(
                f"S3 event without 'detail.{section}.{name}'", field=f"detail.{section}.{name}"
            )
    return detail["bucket"]["name"], unquote_plus(detail["object"]["key"])


@dataclass(frozen=True)
class TriggerEvent:
    """An event the router acts on, validated: exactly one of ``s3``, ``schedule``, ``drift`` is set, or
    ``ignored`` says why the event is not for the router."""

    event_id: str = ""
    s3: tuple[str, str] | None = None
    schedule: tuple[datetime, str] | None = None
    drift: DriftDetected | None = None
    ignored: str = ""
    time: str = ""


def read_trigger(event: object, *, account: str | None = None) -> TriggerEvent:
    """Validate one EventBridge event for the router, before anything is started or recorded.

    A malformed event raises :class:`InvalidInputError` naming the field; an event from another account
    (``account`` is the function's own; ``None`` checks none) or of an unsupported source or detail-type
    comes back with ``ignored``. S3 keys are URL-decoded (``+`` and ``%xx``), as the Powertools data class
    does, so a version folder with a space in its name is seen as written.
    """
    envelope = parse_event(event)
    foreign = envelope.not_for(account)
    if foreign:
        return TriggerEvent(envelope.id, ignored=foreign)
    source, detail_type = envelope.source, envelope.detail_type
    if source == "aws.s3" and detail_type == "Object Created":
        return TriggerEvent(envelope.id, s3=_s3_location(envelope.detail), time=envelope.time or "")
    if source == "aws.events" and detail_type == "Scheduled Event":
        try:
            when = parse_timestamp(envelope.time)
        except ValueError as e:
            raise InvalidInputError(f"scheduled event with a bad 'time': {e}", field="time") from e
        if when is None:
            raise InvalidInputError("scheduled event without 'time'", field="time")
        rule = envelope.resources[0] if envelope.resources else ""
        return TriggerEvent(envelope.id, schedule=(when, rule))
    if source == DRIFT_SOURCE:
        drift = parse_document(DriftDetected, envelope.detail, what="detail")
        return TriggerEvent(envelope.id, drift=drift)
    return TriggerEvent(
        envelope.id, ignored=f"unsupported event: source {source!r}, detail-type {detail_type!r}"
    )


def route_trigger(router: StartRun, trigger: TriggerEvent) -> RouteResult:
    """Act on an event :func:`read_trigger` validated."""
    if trigger.s3 is not None:
        return router.on_object_created(*trigger.s3, trigger.event_id, trigger.time or None)
    if trigger.schedule is not None:
        when, rule = trigger.schedule
        return router.on_schedule(when, rule=rule)
    if trigger.drift is not None:
        drift = trigger.drift
        return router.on_drift(drift.model, drift.dataset_version, drift.severity, trigger.event_id)
    return RouteResult(ignored=trigger.ignored)


def route_event(router: StartRun, event: object, *, account: str | None = None) -> RouteResult:
    """Dispatch one EventBridge event to the router by its source and detail type
    (:func:`read_trigger`, then :func:`route_trigger`)."""
    return route_trigger(router, read_trigger(event, account=account))


def route_summary(result: RouteResult) -> dict[str, Any]:
    """What the trigger router returns (and what a redelivered event gets back, unchanged)."""
    return {
        "executions": [{"name": e.name, "outcome": e.outcome.value} for e in result.executions],
        "ignored": result.ignored,
    }
