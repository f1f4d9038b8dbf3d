"""State-change events: what SageMaker sends to EventBridge when a job changes state.

Each event is a PutEvents entry (``Source``, ``DetailType``, ``Detail`` as JSON, ``Resources``, ``Time``)
given to the engine's event sink, or put on the process's EventBridge client when there is none; that
``PutEvents`` must be served in process (moto's EventBridge) and is refused, never sent to a real bus,
otherwise (:data:`EVENTS_GUARD`). Timestamps in the details are epoch milliseconds as strings, as SageMaker
sends them. Delivery is best effort, as
SageMaker's is: a failure is logged, never raised.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Sequence
from typing import Any

from amtflow.local import _guard
from amtflow.local.engine._model import Clock
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

TUNING_JOB_STATE_CHANGE = "SageMaker HyperParameter Tuning Job State Change"
TRAINING_JOB_STATE_CHANGE = "SageMaker Training Job State Change"

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


class EventPublisher:
    """Sends the state-change events of tuning and training jobs."""

    def __init__(self, sink: EventSink | None, clock: Clock) -> None:
        self._sink = sink
        self._clock = clock

    def tuning_job_changed(self, job: TuningJob, trials: Sequence[TrainingJob]) -> None:
        training, objective = counters(trials)
        detail = {
            "HyperParameterTuningJobName": job.name,
            "HyperParameterTuningJobArn": job.arn,
            "TrainingJobDefinition": job.request.get("TrainingJobDefinition", {}),
            "HyperParameterTuningJobStatus": job.status.value,
            "CreationTime": _ms(job.creation_time),
            "LastModifiedTime": _ms(job.last_modified_time),
            "TrainingJobStatusCounters": training,
            "ObjectiveStatusCounters": objective,
            "Tags": _tags(job.tags),
        }
        if job.failure_reason:
            detail["FailureReason"] = job.failure_reason
        self._put(TUNING_JOB_STATE_CHANGE, job.arn, detail)

    def training_job_changed(self, job: TrainingJob) -> None:
        doc = job.to_doc()
        detail: dict[str, Any] = {k: doc[k] for k in TRAINING_DETAIL_KEYS if k in doc}
        for k in ("CreationTime", "TrainingStartTime", "TrainingEndTime", "LastModifiedTime"):
            if doc.get(k) is not None:
                detail[k] = _ms(doc[k])
        detail["SecondaryStatusTransitions"] = []
        detail["Tags"] = _tags(job.tags)
        self._put(TRAINING_JOB_STATE_CHANGE, job.arn, detail)

    def _put(self, detail_type: str, resource: str, detail: dict[str, Any]) -> None:
        entry = {
            "Source": "aws.sagemaker",
            "DetailType": detail_type,
            "Detail": json.dumps(detail, default=str),
            "Resources": [resource],
            "Time": self._clock.now(),
        }
        try:
            if self._sink is not None:
                self._sink(entry)
            else:
                from amtflow import clients

                with _guard.local_only(EVENTS_GUARD, this_context=True):
                    clients.events().put_events(Entries=[entry])  # type: ignore[list-item]
        except Exception:  # events are best effort, as SageMaker's are
            logger.warning("could not deliver %s for %s", detail_type, resource, exc_info=True)
