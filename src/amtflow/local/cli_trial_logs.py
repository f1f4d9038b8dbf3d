"""Reading one trial's log for the lint command: from the local engine's state folder or from AWS.

``amtflow lint --from-job NAME`` tries the metric regexes on a previous trial's log: NAME is a training job,
or a tuning job of which one finished trial is read (a completed one first).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from botocore.exceptions import ClientError

from amtflow.adapters import TRAINING_LOG_GROUP, CloudWatchTrialLogs, aws_call
from amtflow.errors import AmtflowError, InvalidInputError, NotFoundError
from amtflow.vocabulary import (
    TRAINING_JOB_NAME_MAX,
    TRAINING_JOB_NAME_PATTERN,
    TUNING_JOB_NAME_MAX,
    TUNING_JOB_NAME_PATTERN,
)

if TYPE_CHECKING:
    from mypy_boto3_logs import CloudWatchLogsClient
    from mypy_boto3_sagemaker import SageMakerClient

#: Trials are read in this order of preference: one that ran to the end first.
_STATUS_PREFERENCE = ("Completed", "Stopped", "Failed")
#: At most this many lines of a CloudWatch log are read.
MAX_LOG_LINES = 20_000


class Unreadable(AmtflowError):
    """FILE (or a log it names) could not be read or parsed; the message says why."""

    error_type = "LintInputUnreadable"


@dataclass(frozen=True)
class TrialLog:
    """One trial's log and how the trial ended."""

    source: str
    job: str
    status: str
    lines: tuple[str, ...]
    failure_reason: str = ""

    def summary(self, tail: int = 5) -> str:
        """A few lines for people: which trial, how it ended, the end of its log."""
        head = f"{self.source}: {self.status}, {len(self.lines)} log line(s)"
        if self.failure_reason:
            head += f"; {self.failure_reason.strip().splitlines()[0][:200]}"
        shown = [f"    {line[:160]}" for line in self.lines[-tail:]]
        return "\n".join([head, *(["  last lines:", *shown] if shown else [])])


class TrialLogSource(Protocol):
    """Where trials and their logs are read from (the local engine's state, or AWS)."""

    def trials_of(self, tuning_job: str) -> list[Mapping[str, Any]] | None:
        """The trials (ListTrainingJobsForHyperParameterTuningJob summaries), None if no such tuning job."""
        ...

    def status_of(self, training_job: str) -> tuple[str, str] | None:
        """``(status, failure reason)`` of a training job, None if there is no such job."""
        ...

    def log(self, training_job: str) -> list[str]:
        """The training job's log lines."""
        ...


def read_trial_log(source: TrialLogSource, name: str, *, where: str) -> TrialLog:
    """The log of training job ``name``, or of one finished trial of tuning job ``name``."""
    trials = source.trials_of(name)
    if trials is not None:
        ranked = sorted(
            (t for t in trials if t.get("TrainingJobStatus") in _STATUS_PREFERENCE),
            key=lambda t: _STATUS_PREFERENCE.index(str(t["TrainingJobStatus"])),
        )
        if not ranked:
            raise Unreadable(f"tuning job {name} has no finished trial in {where} yet; wait for one to end")
        training_job = str(ranked[0]["TrainingJobName"])
    else:
        training_job = name
    status = source.status_of(training_job)
    if status is None:
        raise Unreadable(
            f"no training or tuning job named {name} in {where}; check the name"
            + ("" if where.startswith("AWS") else ", pass --state-dir DIR, or --aws to read AWS")
        )
    lines = source.log(training_job)
    return TrialLog(
        f"trial log of {training_job} ({where})", training_job, status[0], tuple(lines), status[1]
    )


class EngineTrialLogs:
    """Trials and logs kept by the local engine in its state folder (read-only)."""

    def __init__(self, state_dir: Path) -> None:
        from amtflow.local.engine import Engine, ServiceError

        self._missing = ServiceError
        self._engine = Engine(state_dir, read_only=True)

    def trials_of(self, tuning_job: str) -> list[Mapping[str, Any]] | None:
        rows: list[Mapping[str, Any]] = []
        token: str | None = None
        try:
            while True:
                params: dict[str, Any] = {"HyperParameterTuningJobName": tuning_job, "MaxResults": 100}
                if token:
                    params["NextToken"] = token
                page = self._engine.handle("ListTrainingJobsForHyperParameterTuningJob", params)
                rows.extend(page.get("TrainingJobSummaries", []))
                token = page.get("NextToken")
                if not token:
                    return rows
        except self._missing:
            return None

    def status_of(self, training_job: str) -> tuple[str, str] | None:
        try:
            doc = self._engine.handle("DescribeTrainingJob", {"TrainingJobName": training_job})
        except self._missing:
            return None
        return str(doc.get("TrainingJobStatus", "")), str(doc.get("FailureReason", ""))

    def log(self, training_job: str) -> list[str]:
        return self._engine.trial_log(training_job).splitlines()


class AwsTrialLogs:
    """Trials from SageMaker, logs from CloudWatch Logs (the adapters' reader of group
    ``/aws/sagemaker/TrainingJobs``); AWS's refusals are told apart by the adapters' error types."""

    def __init__(self, sagemaker: SageMakerClient, logs: CloudWatchLogsClient) -> None:
        self._sm = sagemaker
        self._logs = CloudWatchTrialLogs(logs, max_lines=MAX_LOG_LINES)

    def trials_of(self, tuning_job: str) -> list[Mapping[str, Any]] | None:
        try:
            with aws_call(f"listing the trials of tuning job {tuning_job}"):
                pages = self._sm.get_paginator("list_training_jobs_for_hyper_parameter_tuning_job").paginate(
                    HyperParameterTuningJobName=tuning_job
                )
                return [dict(row) for page in pages for row in page["TrainingJobSummaries"]]
        except AmtflowError as e:
            if _not_found(e, tuning_job, TUNING_JOB_NAME_PATTERN, TUNING_JOB_NAME_MAX):
                return None
            raise Unreadable(f"cannot list the trials of {tuning_job}: {e}") from e

    def status_of(self, training_job: str) -> tuple[str, str] | None:
        try:
            with aws_call(f"describing training job {training_job}"):
                doc = self._sm.describe_training_job(TrainingJobName=training_job)
        except AmtflowError as e:
            if _not_found(e, training_job, TRAINING_JOB_NAME_PATTERN, TRAINING_JOB_NAME_MAX):
                return None
            raise Unreadable(f"cannot describe {training_job}: {e}") from e
        return str(doc.get("TrainingJobStatus", "")), str(doc.get("FailureReason", ""))

    def log(self, training_job: str) -> list[str]:
        """The job's log lines; none when the job has no log stream (a trial that wrote nothing yet)."""
        try:
            return list(self._logs(training_job))
        except NotFoundError as e:
            if not _answered_by_aws(e):
                return []
            raise Unreadable(_log_unreadable(training_job, e)) from e
        except AmtflowError as e:
            raise Unreadable(_log_unreadable(training_job, e)) from e


def _not_found(error: AmtflowError, name: str, pattern: re.Pattern[str], max_length: int) -> bool:
    """Whether SageMaker answered that ``name`` does not exist.

    Its API documents ``ResourceNotFound`` (a :class:`NotFoundError`); it also answers
    ``ValidationException`` (an :class:`InvalidInputError`) for an unknown job. The name is the request's
    only parameter, so for a well-formed name that answer can only mean the same.
    """
    if isinstance(error, NotFoundError):
        return True
    return (
        isinstance(error, InvalidInputError)
        and len(name) <= max_length
        and pattern.fullmatch(name) is not None
    )


def _answered_by_aws(error: AmtflowError) -> bool:
    """Whether ``error`` translates an AWS answer (a ``ClientError``, e.g. a missing log group) rather than
    the reader's own finding (a job without a log stream)."""
    return isinstance(error.__cause__, ClientError)


def _log_unreadable(training_job: str, error: AmtflowError) -> str:
    return f"cannot read the log of {training_job} from CloudWatch Logs {TRAINING_LOG_GROUP}: {error}"
