"""A SageMaker stand-in for state-machine tests: tuning jobs that end at once, with a scripted outcome.

It serves the boto3 SageMaker calls the application makes (requests are validated against botocore's
service model, as the real client would) and emits the "Tuning Job State Change" event through the twin's
event sink, so the real ``job_events`` handler completes the waiting task. Training is not run: the local
AMT engine's own tests cover that.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from unittest import mock

from botocore.client import BaseClient
from botocore.exceptions import ClientError
from botocore.validate import validate_parameters

EventSink = Callable[[Mapping[str, Any]], None]
T0 = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)


def _error(code: str, message: str, operation: str) -> ClientError:
    return ClientError({"Error": {"Code": code, "Message": message}}, operation)


@dataclass
class SageMakerStandIn:
    """``outcome`` maps a tuning-job request to its terminal status (``Completed`` or ``Failed``)."""

    outcome: Callable[[Mapping[str, Any]], str] = lambda request: "Completed"
    emit_events: bool = True
    report_objective: bool = True
    """``False``: the trials run but none reports the objective metric (a metric regex that never matches)."""
    trial_log: list[str] = field(default_factory=list)
    """Lines each trial prints, written to CloudWatch Logs (/aws/sagemaker/TrainingJobs) like SageMaker."""
    evaluation_value: float | None = 0.9
    """What a standalone training job (a champion's evaluation job) reports for every metric; ``None``: it
    fails."""
    running_trial: bool = False
    """``True``: a running job (``outcome`` ``InProgress``) has a fourth trial still training, which reports
    no final objective, only the metric values :meth:`report_metric` gives it (``Stopped`` with its job)."""
    metric_times: dict[str, list[datetime]] = field(default_factory=dict)
    """Per training job, when it reported a metric value (the latest is its ``FinalMetricDataList``'s)."""
    jobs: dict[str, dict[str, Any]] = field(default_factory=dict)
    training_jobs: dict[str, dict[str, Any]] = field(default_factory=dict)
    calls: list[str] = field(default_factory=list)
    sink: EventSink | None = None

    def factory(self, sink: EventSink) -> Any:
        self.sink = sink
        return self.serving()

    @contextmanager
    def serving(self) -> Iterator[SageMakerStandIn]:
        original = BaseClient._make_api_call
        stand_in = self

        def make_api_call(client: BaseClient, operation: str, params: dict[str, Any]) -> Any:
            if client.meta.service_model.service_name != "sagemaker" or not hasattr(
                stand_in, f"_{operation}"
            ):
                # as with the local engine, what the stand-in does not serve (the Model Registry) is moto's
                return original(client, operation, params)
            model = client.meta.service_model.operation_model(operation)
            validate_parameters(params, model.input_shape)
            return stand_in.handle(operation, params)

        with mock.patch.object(BaseClient, "_make_api_call", make_api_call):
            yield self

    # --- the API ------------------------------------------------------------------------------------------

    def handle(self, operation: str, params: dict[str, Any]) -> dict[str, Any]:
        self.calls.append(operation)
        handler = getattr(self, f"_{operation}", None)
        if handler is None:
            raise _error("ValidationException", f"{operation} is not served by the stand-in", operation)
        return handler(params)  # type: ignore[no-any-return]

    def _trials(self, name: str, request: Mapping[str, Any]) -> list[dict[str, Any]]:
        objective = request["HyperParameterTuningJobConfig"]["HyperParameterTuningJobObjective"]
        trials = []
        for i, value in enumerate((0.91, 0.95, 0.93), start=1):
            trial: dict[str, Any] = {
                "TrainingJobName": f"{name}-{i:03d}-0000000{i}",
                "TrainingJobArn": f"arn:aws:sagemaker:us-east-1:123456789012:training-job/{name}-{i:03d}",
                "CreationTime": T0,
                "TrainingJobStatus": "Completed",
                "TunedHyperParameters": {"eta": f"0.{i}", "max_depth": str(2 + i)},
                "ObjectiveStatus": "Succeeded" if self.report_objective else "Failed",
            }
            if self.report_objective:
                trial["FinalHyperParameterTuningJobObjectiveMetric"] = {
                    "Type": objective["Type"],
                    "MetricName": objective["MetricName"],
                    "Value": value,
                }
            trials.append(trial)
            self._write_log(trial["TrainingJobName"])
        return trials

    def _running_trial(self, name: str) -> dict[str, Any]:
        return {
            "TrainingJobName": f"{name}-004-00000004",
            "TrainingJobArn": f"arn:aws:sagemaker:us-east-1:123456789012:training-job/{name}-004",
            "CreationTime": T0,
            "TrainingJobStatus": "InProgress",
            "TunedHyperParameters": {"eta": "0.4", "max_depth": "6"},
        }

    def report_metric(self, training_job: str, at: datetime) -> None:
        """A running trial reports a metric value at ``at`` (what ``DescribeTrainingJob`` then lists)."""
        self.metric_times.setdefault(training_job, []).append(at)

    def _write_log(self, training_job: str) -> None:
        if not self.trial_log:
            return
        import boto3

        logs = boto3.client("logs", region_name="us-east-1")
        group = "/aws/sagemaker/TrainingJobs"
        if not logs.describe_log_groups(logGroupNamePrefix=group)["logGroups"]:
            logs.create_log_group(logGroupName=group)
        stream = f"{training_job}/algo-1-1793534400"
        logs.create_log_stream(logGroupName=group, logStreamName=stream)
        now = int(time.time() * 1000)  # CloudWatch Logs drops events older than 14 days
        events = [{"timestamp": now + i, "message": line} for i, line in enumerate(self.trial_log)]
        logs.put_log_events(logGroupName=group, logStreamName=stream, logEvents=events)

    def _CreateHyperParameterTuningJob(self, params: dict[str, Any]) -> dict[str, Any]:
        name = params["HyperParameterTuningJobName"]
        if name in self.jobs:
            raise _error(
                "ResourceInUse", f"tuning job {name} already exists", "CreateHyperParameterTuningJob"
            )
        arn = f"arn:aws:sagemaker:us-east-1:123456789012:hyper-parameter-tuning-job/{name}"
        status = self.outcome(params)
        trials = self._trials(name, params) if status in ("Completed", "InProgress") else []
        if self.running_trial and status == "InProgress":
            trials.append(self._running_trial(name))
        scored = [t for t in trials if "FinalHyperParameterTuningJobObjectiveMetric" in t]
        best = max(
            scored, key=lambda t: t["FinalHyperParameterTuningJobObjectiveMetric"]["Value"], default=None
        )
        self.jobs[name] = {"request": params, "arn": arn, "status": status, "trials": trials, "best": best}
        if status != "InProgress":  # a running job ends later: end() or StopHyperParameterTuningJob
            self._emit(name)
        return {"HyperParameterTuningJobArn": arn}

    def end(self, name: str, status: str) -> None:
        """End a running job (``outcome`` returned ``InProgress``) and send its state-change event."""
        self.jobs[name]["status"] = status
        for trial in self.jobs[name]["trials"]:
            if trial["TrainingJobStatus"] == "InProgress":
                trial["TrainingJobStatus"] = "Stopped"
        self._emit(name)

    def _StopHyperParameterTuningJob(self, params: dict[str, Any]) -> dict[str, Any]:
        name = params["HyperParameterTuningJobName"]
        job = self._job(name, "StopHyperParameterTuningJob")
        if job["status"] != "InProgress":
            raise _error("ValidationException", f"tuning job {name} is {job['status']}", "Stop")
        self.end(name, "Stopped")
        return {}

    def _emit(self, name: str) -> None:
        job = self.jobs[name]
        arn, status, params = job["arn"], job["status"], job["request"]
        if self.emit_events and self.sink is not None:
            self.sink(
                {
                    "Source": "aws.sagemaker",
                    "DetailType": "SageMaker HyperParameter Tuning Job State Change",
                    "Resources": [arn],
                    "Detail": json.dumps(
                        {
                            "HyperParameterTuningJobName": name,
                            "HyperParameterTuningJobArn": arn,
                            "HyperParameterTuningJobStatus": status,
                            "CreationTime": "1793534400000",
                            "LastModifiedTime": 1793538000000.0,
                            "Tags": [{"Key": t["Key"], "Value": t["Value"]} for t in params.get("Tags", [])],
                        }
                    ),
                }
            )

    def _job(self, name: str, operation: str) -> dict[str, Any]:
        if name not in self.jobs:
            raise _error("ResourceNotFound", f"tuning job {name} does not exist", operation)
        return self.jobs[name]

    def _DescribeHyperParameterTuningJob(self, params: dict[str, Any]) -> dict[str, Any]:
        name = params["HyperParameterTuningJobName"]
        job = self._job(name, "DescribeHyperParameterTuningJob")
        request = job["request"]
        completed = sum(1 for t in job["trials"] if t["TrainingJobStatus"] == "Completed")
        running = sum(1 for t in job["trials"] if t["TrainingJobStatus"] == "InProgress")
        stopped = sum(1 for t in job["trials"] if t["TrainingJobStatus"] == "Stopped")
        scored = sum(1 for t in job["trials"] if "FinalHyperParameterTuningJobObjectiveMetric" in t)
        out: dict[str, Any] = {
            "HyperParameterTuningJobName": name,
            "HyperParameterTuningJobArn": job["arn"],
            "HyperParameterTuningJobConfig": request["HyperParameterTuningJobConfig"],
            "HyperParameterTuningJobStatus": job["status"],
            "CreationTime": T0,
            "HyperParameterTuningEndTime": T0,
            "TrainingJobStatusCounters": {
                "Completed": completed,
                "InProgress": running,
                "RetryableError": 0,
                "NonRetryableError": 0 if completed else 2,
                "Stopped": stopped,
            },
            "ObjectiveStatusCounters": {
                "Succeeded": scored,
                "Pending": running,
                "Failed": completed - scored if completed else 2,
            },
            "ConsumedResources": {"RuntimeInSeconds": 754},
        }
        for member in ("TrainingJobDefinition", "TrainingJobDefinitions", "WarmStartConfig"):
            if member in request:
                out[member] = request[member]
        if job["best"] is not None:
            out["BestTrainingJob"] = job["best"]
        if job["status"] == "Failed":
            out["FailureReason"] = (
                "All training jobs failed: AlgorithmError: the training script exited with 1"
            )
        return out

    def _ListTrainingJobsForHyperParameterTuningJob(self, params: dict[str, Any]) -> dict[str, Any]:
        job = self._job(params["HyperParameterTuningJobName"], "ListTrainingJobsForHyperParameterTuningJob")
        trials = sorted(
            job["trials"],
            key=lambda t: t.get("FinalHyperParameterTuningJobObjectiveMetric", {}).get("Value", 0.0),
            reverse=params.get("SortOrder") == "Descending",
        )
        return {"TrainingJobSummaries": trials[: params.get("MaxResults", 10)]}

    def _CreateTrainingJob(self, params: dict[str, Any]) -> dict[str, Any]:
        name = params["TrainingJobName"]
        if name in self.training_jobs:
            raise _error("ResourceInUse", f"training job {name} already exists", "CreateTrainingJob")
        arn = f"arn:aws:sagemaker:us-east-1:123456789012:training-job/{name}"
        status = "Completed" if self.evaluation_value is not None else "Failed"
        definitions = params["AlgorithmSpecification"].get("MetricDefinitions", [])
        metrics = [
            {"MetricName": d["Name"], "Value": self.evaluation_value, "Timestamp": T0}
            for d in definitions
            if self.evaluation_value is not None
        ]
        self.training_jobs[name] = {"request": params, "arn": arn, "status": status, "metrics": metrics}
        if self.emit_events and self.sink is not None:
            detail = {"TrainingJobName": name, "TrainingJobArn": arn, "TrainingJobStatus": status}
            self.sink(
                {
                    "Source": "aws.sagemaker",
                    "DetailType": "SageMaker Training Job State Change",
                    "Resources": [arn],
                    "Detail": json.dumps(detail),
                }
            )
        return {"TrainingJobArn": arn}

    def _DescribeTrainingJob(self, params: dict[str, Any]) -> dict[str, Any]:
        name = params["TrainingJobName"]
        if name in self.training_jobs:
            job = self.training_jobs[name]
            out: dict[str, Any] = {
                "TrainingJobName": name,
                "TrainingJobArn": job["arn"],
                "TrainingJobStatus": job["status"],
                "AlgorithmSpecification": job["request"]["AlgorithmSpecification"],
                "HyperParameters": job["request"].get("HyperParameters", {}),
                "CreationTime": T0,
                "FinalMetricDataList": job["metrics"],
            }
            if job["status"] == "Failed":
                out["FailureReason"] = "AlgorithmError: channel 'model': no model.tar.gz"
            return out
        for job in self.jobs.values():
            for trial in job["trials"]:
                if trial["TrainingJobName"] == name:
                    definition = job["request"]["TrainingJobDefinition"]
                    objective = job["request"]["HyperParameterTuningJobConfig"]
                    metric = objective["HyperParameterTuningJobObjective"]["MetricName"]
                    times = sorted(self.metric_times.get(name, []))  # one entry per metric: its latest
                    reported = [{"MetricName": metric, "Value": 0.9, "Timestamp": t} for t in times[-1:]]
                    return {
                        "TrainingJobName": name,
                        "TrainingJobArn": trial["TrainingJobArn"],
                        "TrainingJobStatus": trial["TrainingJobStatus"],
                        **({"FinalMetricDataList": reported} if reported else {}),
                        "ModelArtifacts": {
                            "S3ModelArtifacts": definition["OutputDataConfig"]["S3OutputPath"]
                            + f"{name}/output/model.tar.gz"
                        },
                        "AlgorithmSpecification": definition["AlgorithmSpecification"],
                        "HyperParameters": {
                            **definition.get("StaticHyperParameters", {}),
                            **trial["TunedHyperParameters"],
                        },
                        "TrainingTimeInSeconds": 61,
                        "CreationTime": T0,
                    }
        raise _error("ValidationException", f"training job {name} does not exist", "DescribeTrainingJob")
