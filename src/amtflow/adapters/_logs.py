"""Training jobs' log lines from CloudWatch Logs: the one reader of SageMaker's training logs."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from amtflow.adapters._errors import aws_call
from amtflow.errors import NotFoundError

if TYPE_CHECKING:
    from mypy_boto3_logs import CloudWatchLogsClient

TRAINING_LOG_GROUP = "/aws/sagemaker/TrainingJobs"
MAX_LOG_LINES = 5000
_PAGE = 10_000  # GetLogEvents' largest page


class CloudWatchTrialLogs:
    """A training job's log lines from CloudWatch Logs (group :data:`TRAINING_LOG_GROUP`, streams
    ``<job>/algo-<n>-<epoch>``, one per instance): every stream of the job in name order (``algo-1``
    first), each from its head, at most ``max_lines`` lines in all. Callable as a
    :data:`~amtflow.app.LogReader`; a job without a log stream raises :class:`NotFoundError`."""

    def __init__(self, client: CloudWatchLogsClient, *, max_lines: int = MAX_LOG_LINES) -> None:
        self._logs = client
        self._max = max_lines

    def __call__(self, training_job: str) -> Sequence[str]:
        what = f"reading the log of training job {training_job}"
        with aws_call(what):
            streams = self._logs.describe_log_streams(
                logGroupName=TRAINING_LOG_GROUP, logStreamNamePrefix=f"{training_job}/"
            ).get("logStreams", [])
        if not streams:
            raise NotFoundError(f"no log stream {TRAINING_LOG_GROUP}/{training_job}/* in CloudWatch Logs")
        lines: list[str] = []
        with aws_call(what):
            for stream in sorted(s["logStreamName"] for s in streams):
                if len(lines) >= self._max:
                    break
                lines.extend(self._stream(stream, self._max - len(lines)))
        return lines[: self._max]

    def _stream(self, stream: str, budget: int) -> list[str]:
        """Up to ``budget`` lines of one stream, from its head."""
        lines: list[str] = []
        token: str | None = None
        while len(lines) < budget:
            kwargs: dict[str, Any] = {
                "logGroupName": TRAINING_LOG_GROUP,
                "logStreamName": stream,
                "startFromHead": True,
                "limit": min(_PAGE, budget - len(lines)),
            }
            if token:
                kwargs["nextToken"] = token
            page = self._logs.get_log_events(**kwargs)
            events = page.get("events", [])
            lines.extend(str(e.get("message", "")) for e in events)
            next_token = page.get("nextForwardToken")
            if not events or next_token in (None, token):
                break
            token = next_token
        return lines[:budget]
