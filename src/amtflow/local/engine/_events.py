"""State-change events: what SageMaker sends to EventBridge when a job changes state.

Each event is an EventBridge event as rule targets receive it (``version``, ``id``, ``detail-type``,
``source``, ``account``, ``time``, ``region``, ``resources``, ``detail``), given to the engine's event sink,
or put (as a PutEvents entry) on the process's EventBridge client when there is none; that ``PutEvents``
must be served in process (moto's EventBridge) and is refused, never sent to a real bus, otherwise
(:data:`EVENTS_GUARD`). Timestamps in the details are epoch milliseconds as strings, as SageMaker sends
them.

Delivery is asynchronous, as SageMaker's is: events wait in a bounded queue that one worker thread empties
in order, so a slow or unreachable sink never holds up a job; :meth:`EventPublisher.flush` waits for the
queue (the engine flushes on shutdown). Delivery is best effort, as SageMaker's is: a failure is logged,
never raised, and an event that finds the queue full for :data:`QUEUE_WAIT_SECONDS` is logged and dropped.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import queue
import threading
import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from amtflow.local import _guard
from amtflow.local.engine._model import ACCOUNT_ID, Clock
from amtflow.local.engine._records import TrainingJob, TuningJob, counters

logger = logging.getLogger(__name__)

EventSink = Callable[[dict[str, Any]], None]

#: The publisher's own PutEvents (no event sink) reaches a bus only when one is served in process.
EVENTS_GUARD = _guard.Scope(
    owner="the local AMT engine's event publisher",
    covers=_guard.every_service,
    advice="Pass event_sink=... to amtflow.local.sagemaker(...) to receive the state-change events, or run "
    "the engine under moto's mock_aws (as the twin does) to put them on its EventBridge.",
)
QUEUE_SIZE = 1000  # events waiting for the sink; a job emits a few per trial
QUEUE_WAIT_SECONDS = 5.0  # how long a job waits for room in a full queue before the event is dropped

TUNING_JOB_STATE_CHANGE = "SageMaker HyperParameter Tuning Job State Change"
TRAINING_JOB_STATE_CHANGE = "SageMaker Training Job State Change"
ENDPOINT_STATE_CHANGE = "SageMaker Endpoint State Change"

#: The training job fields a Training Job State Change event carries.
TRAINING_DETAIL_KEYS = (
    "TrainingJobName",
    "TrainingJobArn",
    "TrainingJobStatus",
    "SecondaryStatus",
    "HyperParameters",
    "AlgorithmSpecification",
    "RoleArn",
    "InputDataConfig",
    "OutputDataConfig",
    "ResourceConfig",
    "StoppingCondition",
    "ModelArtifacts",
    "FailureReason",
    "TuningJobArn",
)


def _ms(ts: Any) -> str:
    return str(int(float(ts) * 1000)) if ts is not None else ""


def _tags(tags: Sequence[dict[str, Any]]) -> dict[str, Any]:
    return {t["Key"]: t.get("Value", "") for t in tags}


def to_put_events_entry(event: Mapping[str, Any]) -> dict[str, Any]:
    """The PutEvents entry that makes EventBridge deliver ``event`` (an envelope) to rule targets."""
    return {
        "Source": event["source"],
        "DetailType": event["detail-type"],
        "Detail": json.dumps(event["detail"], default=str),
        "Resources": list(event.get("resources") or []),
        "Time": dt.datetime.fromisoformat(str(event["time"]).replace("Z", "+00:00")),
    }


class EventPublisher:
    """Sends the state-change events of tuning and training jobs, asynchronously and in order."""

    def __init__(self, sink: EventSink | None, clock: Clock) -> None:
        self._sink = sink
        self._clock = clock
        self._queue: queue.Queue[dict[str, Any] | None] = queue.Queue(QUEUE_SIZE)
        self._worker: threading.Thread | None = None
        self._worker_lock = threading.Lock()

    def tuning_job_changed(self, job: TuningJob, trials: Sequence[TrainingJob]) -> None:
        training, objective = counters(trials)
        # as DescribeHyperParameterTuningJob: a multi-algorithm job carries its TrainingJobDefinitions (a
        # list) and no TrainingJobDefinition
        definitions = job.request.get("TrainingJobDefinitions")
        detail = {
            "HyperParameterTuningJobName": job.name,
            "HyperParameterTuningJobArn": job.arn,
            **(
                {"TrainingJobDefinitions": list(definitions)}
                if definitions
                else {"TrainingJobDefinition": job.request.get("TrainingJobDefinition", {})}
            ),
            "HyperParameterTuningJobStatus": job.status.value,
            "CreationTime": _ms(job.creation_time),
            "LastModifiedTime": _ms(job.last_modified_time),
            "TrainingJobStatusCounters": training,
            "ObjectiveStatusCounters": objective,
            "Tags": _tags(job.tags),
        }
        if job.failure_reason:
            detail["FailureReason"] = job.failure_reason
        self._put(TUNING_JOB_STATE_CHANGE, job.arn, job.region, detail)

    def training_job_changed(self, job: TrainingJob) -> None:
        doc = job.to_doc()
        detail: dict[str, Any] = {k: doc[k] for k in TRAINING_DETAIL_KEYS if k in doc}
        for k in ("CreationTime", "TrainingStartTime", "TrainingEndTime", "LastModifiedTime"):
            if doc.get(k) is not None:
                detail[k] = _ms(doc[k])
        detail["SecondaryStatusTransitions"] = []
        detail["Tags"] = _tags(job.tags)
        self._put(TRAINING_JOB_STATE_CHANGE, job.arn, job.region, detail)

    def endpoint_changed(self, arn: str, region: str, detail: Mapping[str, Any]) -> None:
        """An endpoint's status changed (``detail``: ``Endpoint.event_detail()``)."""
        self._put(ENDPOINT_STATE_CHANGE, arn, region, dict(detail))

    def flush(self, timeout: float = 30.0) -> bool:
        """Wait until every queued event has been delivered (or given up on); False on timeout."""
        deadline = time.monotonic() + timeout
        while self._queue.unfinished_tasks:
            if time.monotonic() > deadline:
                return False
            time.sleep(0.005)
        return True

    def close(self, timeout: float = 30.0) -> bool:
        """Deliver what is queued (:meth:`flush`), then let the worker thread end; False on timeout."""
        delivered = self.flush(timeout)
        with self._worker_lock:
            worker, self._worker = self._worker, None
        if worker is not None and worker.is_alive():
            try:
                self._queue.put_nowait(None)
            except queue.Full:  # still busy with a slow sink: the daemon worker goes on, with the process
                return delivered
            worker.join(timeout if delivered else 0.1)
        return delivered

    def _put(self, detail_type: str, resource: str, region: str, detail: dict[str, Any]) -> None:
        event = {
            "version": "0",
            "id": str(uuid.uuid4()),
            "detail-type": detail_type,
            "source": "aws.sagemaker",
            "account": ACCOUNT_ID,
            "time": self._clock.now().astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "region": region or "us-east-1",
            "resources": [resource],
            "detail": json.loads(json.dumps(detail, default=str)),
        }
        self._ensure_worker()
        try:
            self._queue.put(event, timeout=QUEUE_WAIT_SECONDS)
        except queue.Full:  # events are best effort, as SageMaker's are; the job goes on
            logger.warning("event queue full: dropped %s for %s", detail_type, resource)

    def _ensure_worker(self) -> None:
        with self._worker_lock:
            if self._worker is None or not self._worker.is_alive():
                self._worker = threading.Thread(target=self._deliver_all, daemon=True, name="engine-events")
                self._worker.start()

    def _deliver_all(self) -> None:
        while True:
            event = self._queue.get()
            try:
                if event is None:  # closed: a later event starts a new worker
                    return
                self._deliver(event)
            finally:
                self._queue.task_done()

    def _deliver(self, event: dict[str, Any]) -> None:
        try:
            if self._sink is not None:
                self._sink(event)
            else:
                from amtflow import clients

                entry = to_put_events_entry(event)
                with _guard.local_only(EVENTS_GUARD, this_context=True):
                    clients.events().put_events(Entries=[entry])  # type: ignore[list-item]
        except Exception:  # events are best effort, as SageMaker's are
            logger.warning(
                "could not deliver %s for %s", event["detail-type"], event["resources"], exc_info=True
            )
