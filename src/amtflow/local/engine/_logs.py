"""Trial logs in CloudWatch Logs, as SageMaker writes them.

A trial's stdout and stderr are captured on disk (``<state_dir>/training-jobs/<job>/trial.log``, the
reference copy). When the engine was given a CloudWatch Logs client, the log is also copied, once the job
has ended, to group ``/aws/sagemaker/TrainingJobs``, stream ``<job>/algo-1-<creation epoch seconds>``.
"""

from __future__ import annotations

import contextlib
import logging
from typing import Any

from amtflow.local.engine._model import ServiceError
from amtflow.local.engine._records import TrainingJob
from amtflow.local.engine._store import Store

logger = logging.getLogger(__name__)

LOG_GROUP = "/aws/sagemaker/TrainingJobs"
BATCH = 1000  # events per PutLogEvents call


def copy_log(logs: Any, store: Store, job: TrainingJob) -> None:
    """Copy the training job's log on disk to CloudWatch Logs (best effort: a failure is only logged)."""
    name = job.name
    try:
        path = store.log_path(name)
    except ServiceError:  # the trial's folder is a link elsewhere: there is no log of ours to copy
        return
    lines = path.read_text(encoding="utf-8", errors="replace").splitlines() if path.exists() else []
    stream = f"{name}/algo-1-{int(job.creation_time)}"
    start = job.start_time if job.start_time is not None else job.creation_time
    millis = int(start * 1000)
    try:
        with contextlib.suppress(logs.exceptions.ResourceAlreadyExistsException):
            logs.create_log_group(logGroupName=LOG_GROUP)
        with contextlib.suppress(logs.exceptions.ResourceAlreadyExistsException):
            logs.create_log_stream(logGroupName=LOG_GROUP, logStreamName=stream)
        for first in range(0, len(lines), BATCH):
            events = [{"timestamp": millis, "message": line or " "} for line in lines[first : first + BATCH]]
            logs.put_log_events(logGroupName=LOG_GROUP, logStreamName=stream, logEvents=events)
    except Exception:  # the log on disk stays the reference
        logger.warning("could not copy the log of %s to CloudWatch Logs", name, exc_info=True)
