"""What a client sees once DescribeTrainingJob or DescribeHyperParameterTuningJob shows a status: that
status's state-change event already queued (``flush()`` delivers it) and, for an ended training job, its log
in CloudWatch Logs. Each test widens the window between the change and its side effect, so the order is what
is tested, not the timing."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import boto3
import pytest
from conftest import IMAGE_MAP, tuning_request

from amtflow.local import sagemaker
from amtflow.local.engine import _process_backend
from amtflow.local.engine._events import EventPublisher

WINDOW = 0.3  # seconds between a change and its side effect, as a preempted thread would leave


def _one_trial(tmp_path: Path) -> dict[str, Any]:
    req = tuning_request(
        **{
            "HyperParameterTuningJobConfig__ResourceLimits": {
                "MaxNumberOfTrainingJobs": 1,
                "MaxParallelTrainingJobs": 1,
            }
        }
    )
    req["TrainingJobDefinition"]["OutputDataConfig"]["S3OutputPath"] = (tmp_path / "out").as_uri()
    return req


def _poll(describe: Any, key: str, until: set[str], timeout: float = 60) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            status = str(describe()[key])
        except Exception:  # not created yet
            status = ""
        if status in until:
            return status
        time.sleep(0.01)
    raise AssertionError(f"{key} never reached {until}")


def test_a_status_describe_shows_has_its_event_queued(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in ("tuning_job_changed", "training_job_changed"):
        original = getattr(EventPublisher, name)

        def late(self: EventPublisher, *args: Any, _original: Any = original) -> None:
            time.sleep(WINDOW)
            _original(self, *args)

        monkeypatch.setattr(EventPublisher, name, late)
    events: list[dict[str, Any]] = []
    sm = boto3.client("sagemaker", region_name="us-east-1")
    with sagemaker(state_dir=tmp_path / "s", image_map=IMAGE_MAP, event_sink=events.append) as engine:
        sm.create_hyper_parameter_tuning_job(**_one_trial(tmp_path))
        seen = _poll(
            lambda: sm.describe_hyper_parameter_tuning_job(HyperParameterTuningJobName="tune-1"),
            "HyperParameterTuningJobStatus",
            {"Completed", "Failed"},
        )
        assert engine.jobs.events.flush(10)
        tuning = [
            e["detail"]["HyperParameterTuningJobStatus"]
            for e in events
            if "HyperParameterTuningJobName" in e["detail"]
        ]
        assert tuning[-1] == seen == "Completed"
        (trial,) = {e["detail"]["TrainingJobName"] for e in events if "TrainingJobName" in e["detail"]}
        training = [e["detail"]["TrainingJobStatus"] for e in events if "TrainingJobName" in e["detail"]]
        assert training[-1] == sm.describe_training_job(TrainingJobName=trial)["TrainingJobStatus"]


def test_an_ended_training_job_has_its_log_in_cloudwatch(
    aws: None, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    original = _process_backend.copy_log

    def late(*args: Any) -> None:
        time.sleep(WINDOW)
        original(*args)

    monkeypatch.setattr(_process_backend, "copy_log", late)
    sm = boto3.client("sagemaker", region_name="us-east-1")
    logs = boto3.client("logs", region_name="us-east-1")
    with sagemaker(
        state_dir=tmp_path / "s", image_map=IMAGE_MAP, event_sink=lambda e: None, logs_client=logs
    ):
        sm.create_hyper_parameter_tuning_job(**_one_trial(tmp_path))

        def trial() -> dict[str, Any]:
            (summary,) = sm.list_training_jobs_for_hyper_parameter_tuning_job(
                HyperParameterTuningJobName="tune-1"
            )["TrainingJobSummaries"]
            return dict(sm.describe_training_job(TrainingJobName=summary["TrainingJobName"]))

        _poll(trial, "TrainingJobStatus", {"Completed", "Failed", "Stopped"})
        (stream,) = logs.describe_log_streams(logGroupName="/aws/sagemaker/TrainingJobs")["logStreams"]
        lines = logs.get_log_events(
            logGroupName="/aws/sagemaker/TrainingJobs", logStreamName=stream["logStreamName"]
        )["events"]
        assert "epoch=3 loss=" in " ".join(e["message"] for e in lines)
