"""The service surface: the operations served, and the Describe and List answers with their paging.

Answers are the JSON the service would send (timestamps as epoch seconds), built from the job records
(:mod:`._records`) under the job book's lock. Request checks are in :mod:`._validation`; refusals are
:class:`~amtflow.local.engine._model.ServiceError` with the service's error code.
"""

from __future__ import annotations

import base64
import datetime as dt
from collections.abc import Callable, Mapping
from typing import Any

from amtflow.local.engine._endpoints import HOSTING_OPERATIONS
from amtflow.local.engine._jobs import JobBook
from amtflow.local.engine._model import ErrorCode, ServiceError, validation
from amtflow.local.engine._records import TrainingJob, TuningJob, counters

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
        "UpdateTrainingJob",
        "ListTrainingJobs",
        "DeleteHyperParameterTuningJob",
        "AddTags",
        "ListTags",
        "DeleteTags",
        "Search",
    }
    | HOSTING_OPERATIONS
)
#: The ``sagemaker-runtime`` operations the engine serves.
RUNTIME_OPERATIONS = frozenset({"InvokeEndpoint"})

#: Operations the engine answers only for its own jobs: for any other resource (a model package, an
#: experiment...) the engine answers None and the call goes on to whatever serves SageMaker otherwise.
PASS_THROUGH = frozenset({"AddTags", "ListTags", "DeleteTags", "Search"})
MAX_TAGS = 50


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


_TIME_FILTERS = (
    ("CreationTimeAfter", "CreationTime", 1),
    ("CreationTimeBefore", "CreationTime", -1),
    ("LastModifiedTimeAfter", "LastModifiedTime", 1),
    ("LastModifiedTimeBefore", "LastModifiedTime", -1),
)


def listed(params: Mapping[str, Any], name: str, status: str, created: Any, modified: Any) -> bool:
    """Whether a job passes a List call's ``NameContains``, ``StatusEquals`` and time filters (exclusive
    bounds; a job not yet modified counts its creation time)."""
    contains = (params.get("NameContains") or "").lower()
    if contains and contains not in name.lower():
        return False
    wanted = params.get("StatusEquals")
    if wanted and status != wanted:
        return False
    times = {"CreationTime": float(created), "LastModifiedTime": float(modified or created)}
    return all(
        params.get(param) is None
        or (times[key] > float(params[param]) if sign > 0 else times[key] < float(params[param]))
        for param, key, sign in _TIME_FILTERS
    )


def list_tuning_jobs(jobs: JobBook, params: Mapping[str, Any]) -> dict[str, Any]:
    """ListHyperParameterTuningJobs: filters, sorting, paging."""
    with jobs.lock:
        rows = []
        for job in jobs.tuning_jobs():
            if not listed(params, job.name, job.status.value, job.creation_time, job.last_modified_time):
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


def list_training_jobs(jobs: JobBook, params: Mapping[str, Any]) -> dict[str, Any]:
    """ListTrainingJobs: filters, sorting (default CreationTime, Ascending), paging."""
    with jobs.lock:
        rows = []
        for job in jobs.training_jobs():
            if not listed(params, job.name, job.status.value, job.creation_time, job.last_modified_time):
                continue
            row: dict[str, Any] = {
                "TrainingJobName": job.name,
                "TrainingJobArn": job.arn,
                "CreationTime": job.creation_time,
                "LastModifiedTime": job.last_modified_time,
                "TrainingJobStatus": job.status.value,
            }
            if job.end_time is not None:
                row["TrainingEndTime"] = job.end_time
            rows.append(row)
        key_of: dict[str, Callable[[dict[str, Any]], Any]] = {
            "Name": lambda r: r["TrainingJobName"],
            "CreationTime": lambda r: r["CreationTime"],
            "Status": lambda r: r["TrainingJobStatus"],
        }
        sort_by = params.get("SortBy") or "CreationTime"
        rows.sort(
            key=key_of.get(sort_by, key_of["CreationTime"]), reverse=params.get("SortOrder") == "Descending"
        )
        return page(rows, params, "TrainingJobSummaries")


# ---------------------------------------------------------------- tags
def job_of_arn(jobs: JobBook, arn: str) -> TuningJob | TrainingJob | None:
    """The engine's job with this ARN; None for a resource that is not a tuning or training job.

    A tuning or training job ARN the engine does not know is ResourceNotFound (no one else has it).
    """
    resource = str(arn).split(":", 5)[-1]
    kind, _, name = resource.partition("/")
    if kind == "hyper-parameter-tuning-job":
        job: TuningJob | TrainingJob | None = jobs.find_tuning(name)
    elif kind == "training-job":
        job = jobs.training(name) if jobs.has_training(name) else None
    else:
        return None
    if job is None or job.arn != arn:
        raise ServiceError(ErrorCode.RESOURCE_NOT_FOUND, f"ResourceArn {arn} does not exist; check the ARN.")
    return job


def _tags_of(job: TuningJob | TrainingJob) -> list[dict[str, Any]]:
    return job.tags


def _set_tags(jobs: JobBook, job: TuningJob | TrainingJob, tags: list[dict[str, Any]]) -> None:
    if isinstance(job, TuningJob):
        job.request["Tags"] = tags
        if not tags:
            job.request.pop("Tags")
        jobs.save_tuning(job)
    else:
        job.definition["Tags"] = tags
        if not tags:
            job.definition.pop("Tags")
        jobs.save_training(job)


def list_tags(jobs: JobBook, params: Mapping[str, Any]) -> dict[str, Any] | None:
    """ListTags for a tuning or training job (None for another resource)."""
    with jobs.lock:
        job = job_of_arn(jobs, params["ResourceArn"])
        if job is None:
            return None
        return page(_tags_of(job), {"MaxResults": 50, **params}, "Tags")


def add_tags(jobs: JobBook, params: Mapping[str, Any]) -> dict[str, Any] | None:
    """AddTags: a tag with an existing key replaces it; at most 50 tags per resource."""
    with jobs.lock:
        job = job_of_arn(jobs, params["ResourceArn"])
        if job is None:
            return None
        merged = {t["Key"]: t for t in _tags_of(job)}
        for tag in params.get("Tags") or []:
            merged[tag["Key"]] = {"Key": tag["Key"], "Value": tag.get("Value", "")}
        if len(merged) > MAX_TAGS:
            raise validation(
                f"Tags: {params['ResourceArn']} would have {len(merged)} tags; a resource may have at "
                f"most {MAX_TAGS}. Delete some with DeleteTags first."
            )
        _set_tags(jobs, job, list(merged.values()))
        return {"Tags": list(params.get("Tags") or [])}


def delete_tags(jobs: JobBook, params: Mapping[str, Any]) -> dict[str, Any] | None:
    """DeleteTags: removes the tags with these keys (keys it does not have are ignored)."""
    with jobs.lock:
        job = job_of_arn(jobs, params["ResourceArn"])
        if job is None:
            return None
        keys = set(params.get("TagKeys") or [])
        _set_tags(jobs, job, [t for t in _tags_of(job) if t["Key"] not in keys])
        return {}


# ---------------------------------------------------------------- Search
_OPERATORS = (
    "Equals",
    "NotEquals",
    "GreaterThan",
    "GreaterThanOrEqualTo",
    "LessThan",
    "LessThanOrEqualTo",
    "Contains",
    "Exists",
    "NotExists",
    "In",
)


def _lookup(doc: Any, path: str) -> tuple[bool, Any]:
    """The value at a dotted property path (``Tags.<key>`` reads the tag; list members are searched)."""
    if not path:
        return True, doc
    if isinstance(doc, list):
        found = [v for item in doc for ok, v in [_lookup(item, path)] if ok]
        return (True, found[0]) if found else (False, None)
    if not isinstance(doc, Mapping):
        return False, None
    head, _, rest = path.partition(".")
    if head == "Tags" and isinstance(doc.get("Tags"), list):
        tags = {t["Key"]: t.get("Value", "") for t in doc["Tags"]}
        return (rest in tags, tags.get(rest)) if rest else (True, doc["Tags"])
    if head in doc:
        return _lookup(doc[head], rest)
    if not rest:
        return False, None
    # property names may themselves hold dots (hyperparameter names): try the longest key that fits
    for key in sorted((k for k in doc if path.startswith(f"{k}.")), key=len, reverse=True):
        ok, value = _lookup(doc[key], path[len(key) + 1 :])
        if ok:
            return ok, value
    return False, None


def _comparable(value: Any) -> float | str:
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, int | float):
        return float(value)
    text = str(value)
    try:
        return float(text)
    except ValueError:
        pass
    try:
        stamp = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return text
    if stamp.tzinfo is None:
        stamp = stamp.replace(tzinfo=dt.UTC)
    return stamp.timestamp()


def _compare(actual: Any, wanted: Any, op: Callable[[Any, Any], bool]) -> bool:
    a, w = _comparable(actual), _comparable(wanted)
    if type(a) is not type(w):
        a, w = str(actual), str(wanted)
    return op(a, w)


def _matches(doc: Mapping[str, Any], f: Mapping[str, Any]) -> bool:
    name, operator, wanted = f.get("Name", ""), f.get("Operator") or "Equals", f.get("Value")
    if operator not in _OPERATORS:
        raise validation(f"Filter {name}: Operator {operator!r} is not one of {', '.join(_OPERATORS)}.")
    found, actual = _lookup(doc, name)
    if operator in ("Exists", "NotExists"):
        return found == (operator == "Exists")
    if not found or actual is None:
        return operator == "NotEquals"
    if operator == "Contains":
        if isinstance(actual, list):
            return any(str(wanted) == str(a) or str(wanted) in str(a) for a in actual)
        return str(wanted) in str(actual)
    if operator == "In":
        return str(actual) in [v.strip() for v in str(wanted).split(",")]
    compare: dict[str, Callable[[Any, Any], bool]] = {
        "Equals": lambda a, w: a == w,
        "NotEquals": lambda a, w: a != w,
        "GreaterThan": lambda a, w: a > w,
        "GreaterThanOrEqualTo": lambda a, w: a >= w,
        "LessThan": lambda a, w: a < w,
        "LessThanOrEqualTo": lambda a, w: a <= w,
    }
    return _compare(actual, wanted, compare[operator])


def _under(path: str, value: Any) -> dict[str, Any]:
    """``value`` placed at the dotted ``path`` of an otherwise empty document."""
    head, _, rest = path.partition(".")
    return {head: _under(rest, value) if rest else value}


def _satisfies(doc: Mapping[str, Any], expression: Mapping[str, Any]) -> bool:
    checks: list[bool] = [_matches(doc, f) for f in expression.get("Filters") or []]
    for nested in expression.get("NestedFilters") or []:
        # the filters name full paths (``InputDataConfig.ChannelName``), all met by one list member
        prop = str(nested.get("NestedPropertyName", ""))
        found, items = _lookup(doc, prop)
        members = items if isinstance(items, list) else []
        checks.append(
            found
            and any(all(_matches(_under(prop, m), f) for f in nested.get("Filters") or []) for m in members)
        )
    checks.extend(_satisfies(doc, sub) for sub in expression.get("SubExpressions") or [])
    if not checks:
        return True
    return any(checks) if expression.get("Operator") == "Or" else all(checks)


def search(jobs: JobBook, params: Mapping[str, Any]) -> dict[str, Any] | None:
    """Search over ``TrainingJob`` resources (None for another resource): the SearchExpression's filters,
    nested filters and sub-expressions on the DescribeTrainingJob fields and ``Tags.<key>``; SortBy any
    property (default LastModifiedTime), SortOrder (default Descending), paging."""
    if params.get("Resource") != "TrainingJob":
        return None
    expression = params.get("SearchExpression") or {}
    if "SearchExpression" in params and not any(
        expression.get(k) for k in ("Filters", "NestedFilters", "SubExpressions")
    ):
        raise validation(
            "SearchExpression: give at least one of Filters, NestedFilters or SubExpressions (or leave "
            "SearchExpression out to list every training job)."
        )
    with jobs.lock:
        docs = []
        for job in jobs.training_jobs():
            doc = job.to_api()
            if job.tags:
                doc["Tags"] = job.tags
            if _satisfies(doc, expression):
                docs.append(doc)
    sort_by = params.get("SortBy") or "LastModifiedTime"

    def sort_key(doc: Mapping[str, Any]) -> tuple[int, float | str]:
        found, value = _lookup(doc, sort_by)
        return (0, "") if not found else (1, _comparable(value))

    try:
        docs.sort(key=sort_key, reverse=params.get("SortOrder") != "Ascending")
    except TypeError:  # mixed numbers and text under SortBy: order them as text
        docs.sort(key=lambda d: str(_lookup(d, sort_by)[1]), reverse=params.get("SortOrder") != "Ascending")
    return page([{"TrainingJob": d} for d in docs], params, "Results")
