"""The service surface: the operations served, and the Describe and List answers with their paging.

Answers are the JSON the service would send (timestamps as epoch seconds), built from the job records
(:mod:`._records`) under the job book's lock. Request checks are in :mod:`._validation`; refusals are
:class:`~amtflow.local.engine._model.ServiceError` with the service's error code.
"""

from __future__ import annotations

import base64
from collections.abc import Callable, Mapping
from typing import Any

from amtflow.local.engine._jobs import JobBook
from amtflow.local.engine._model import validation
from amtflow.local.engine._records import TrainingJob, counters

#: The SageMaker operations the engine serves (the hook routes only these to it).
OPERATIONS = frozenset(
    {
        "CreateHyperParameterTuningJob",
        "DescribeHyperParameterTuningJob",
        "ListHyperParameterTuningJobs",
        "StopHyperParameterTuningJob",
        "ListTrainingJobsForHyperParameterTuningJob",
        "CreateTrainingJob",
        "DescribeTrainingJob",
        "StopTrainingJob",
    }
)


def page(items: list[dict[str, Any]], params: Mapping[str, Any], key: str) -> dict[str, Any]:
    """One page of ``items`` under ``key``, with a NextToken when more follow (MaxResults, default 10)."""
    max_results = int(params.get("MaxResults") or 10)
    start = 0
    token = params.get("NextToken")
    if token:
        try:
            start = int(base64.urlsafe_b64decode(token.encode()).decode())
        except (ValueError, UnicodeDecodeError):
            raise validation(f"NextToken {token!r} is not a token this service returned.") from None
    out: dict[str, Any] = {key: items[start : start + max_results]}
    if start + max_results < len(items):
        out["NextToken"] = base64.urlsafe_b64encode(str(start + max_results).encode()).decode()
    return out


def describe_tuning_job(jobs: JobBook, params: Mapping[str, Any], now: float) -> dict[str, Any]:
    """DescribeHyperParameterTuningJob."""
    with jobs.lock:
        job = jobs.tuning(params["HyperParameterTuningJobName"])
        parent_trials: list[TrainingJob] = []
        for p in job.warm_start.get("ParentHyperParameterTuningJobs", []):
            parent = jobs.find_tuning(p["HyperParameterTuningJobName"])
            if parent is not None:
                parent_trials.extend(jobs.trials_of(parent))
        return job.to_api(jobs.trials_of(job), parent_trials, now)


def list_tuning_jobs(jobs: JobBook, params: Mapping[str, Any]) -> dict[str, Any]:
    """ListHyperParameterTuningJobs: filters, sorting, paging."""
    with jobs.lock:
        contains = (params.get("NameContains") or "").lower()
        status = params.get("StatusEquals")
        bounds = [
            ("CreationTimeAfter", "CreationTime", 1),
            ("CreationTimeBefore", "CreationTime", -1),
            ("LastModifiedTimeAfter", "LastModifiedTime", 1),
            ("LastModifiedTimeBefore", "LastModifiedTime", -1),
        ]
        rows = []
        for job in jobs.tuning_jobs():
            if contains and contains not in job.name.lower():
                continue
            if status and job.status.value != status:
                continue
            times = {"CreationTime": job.creation_time, "LastModifiedTime": job.last_modified_time}
            ok = True
            for param, key, sign in bounds:
                if params.get(param) is not None:
                    edge, value = float(params[param]), float(times[key] or job.creation_time)
                    ok = ok and (value > edge if sign > 0 else value < edge)
            if not ok:
                continue
            training, objective = counters(jobs.trials_of(job))
            config = job.config
            row = {
                "HyperParameterTuningJobName": job.name,
                "HyperParameterTuningJobArn": job.arn,
                "HyperParameterTuningJobStatus": job.status.value,
                "Strategy": config["Strategy"],
                "CreationTime": job.creation_time,
                "LastModifiedTime": job.last_modified_time,
                "TrainingJobStatusCounters": training,
                "ObjectiveStatusCounters": objective,
                "ResourceLimits": config["ResourceLimits"],
            }
            if job.end_time:
                row["HyperParameterTuningEndTime"] = job.end_time
            rows.append(row)
        sort_by = params.get("SortBy") or "Name"
        key_of: dict[str, Callable[[dict[str, Any]], Any]] = {
            "Name": lambda r: r["HyperParameterTuningJobName"].lower(),
            "Status": lambda r: r["HyperParameterTuningJobStatus"],
            "CreationTime": lambda r: r["CreationTime"],
        }
        rows.sort(key=key_of.get(sort_by, key_of["Name"]), reverse=params.get("SortOrder") == "Descending")
        return page(rows, params, "HyperParameterTuningJobSummaries")


def list_training_jobs_for_tuning_job(jobs: JobBook, params: Mapping[str, Any]) -> dict[str, Any]:
    """ListTrainingJobsForHyperParameterTuningJob: filters, sorting, paging."""
    with jobs.lock:
        job = jobs.tuning(params["HyperParameterTuningJobName"])
        rows = [t.summary() for t in jobs.trials_of(job)]
        if params.get("StatusEquals"):
            rows = [r for r in rows if r["TrainingJobStatus"] == params["StatusEquals"]]
        sort_by = params.get("SortBy") or "Name"
        if sort_by == "FinalObjectiveMetricValue":
            rows = [r for r in rows if "FinalHyperParameterTuningJobObjectiveMetric" in r]
            rows.sort(key=lambda r: r["FinalHyperParameterTuningJobObjectiveMetric"]["Value"])
        else:
            key_of: dict[str, Callable[[dict[str, Any]], Any]] = {
                "Name": lambda r: r["TrainingJobName"],
                "CreationTime": lambda r: r["CreationTime"],
                "Status": lambda r: r["TrainingJobStatus"],
            }
            rows.sort(key=key_of.get(sort_by, key_of["Name"]))
        if params.get("SortOrder") == "Descending":
            rows.reverse()
        return page(rows, params, "TrainingJobSummaries")


def describe_training_job(jobs: JobBook, params: Mapping[str, Any]) -> dict[str, Any]:
    """DescribeTrainingJob."""
    with jobs.lock:
        return jobs.training(params["TrainingJobName"]).to_api()
