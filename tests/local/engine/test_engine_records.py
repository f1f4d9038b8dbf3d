"""Job records: state folders written before load unchanged, and answer with the same responses."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest

from amtflow.local.engine import Engine
from amtflow.local.engine._records import TrainingJob, TuningJob

DATA = Path(__file__).parent / "data"
STATE = DATA / "state-v1"  # written by the engine before jobs became records (JSON documents)
DOCS = sorted(STATE.glob("*/*.json"))


def _doc(path: Path) -> dict[str, Any]:
    return dict(json.loads(path.read_text(encoding="utf-8")))


@pytest.mark.parametrize("path", DOCS, ids=lambda p: f"{p.parent.name}/{p.stem}")
def test_every_stored_document_round_trips_through_its_record(path: Path) -> None:
    doc = _doc(path)
    record_type = TuningJob if path.parent.name == "tuning-jobs" else TrainingJob
    assert record_type.from_doc(doc).to_doc() == doc


def _with_fields_sagemaker_adds(expected: dict[str, Any]) -> dict[str, Any]:
    """The answers recorded before, with the fields SageMaker shows that the engine added since: the
    objective's ``_tuning_objective_metric`` among a tuning job's static hyperparameters, and a training
    job's ``OutputDataConfig.KmsKeyId`` and ``Enable*`` flags."""
    for response in expected["describe_tuning"].values():
        definition = response["TrainingJobDefinition"]
        metric = response["HyperParameterTuningJobConfig"]["HyperParameterTuningJobObjective"]["MetricName"]
        definition["StaticHyperParameters"] = {
            **definition.get("StaticHyperParameters", {}),
            "_tuning_objective_metric": metric,
        }
    for response in expected["describe_training"].values():
        response["OutputDataConfig"] = {"KmsKeyId": "", **response["OutputDataConfig"]}
        for flag in ("EnableNetworkIsolation", "EnableInterContainerTrafficEncryption"):
            response.setdefault(flag, False)
        response.setdefault("EnableManagedSpotTraining", False)
    return expected


def test_a_state_folder_written_before_answers_with_the_same_responses(tmp_path: Path) -> None:
    shutil.copytree(STATE, tmp_path / "state")
    expected = json.loads((DATA / "responses-v1.json").read_text(encoding="utf-8"))
    expected = _with_fields_sagemaker_adds(expected)
    engine = Engine(tmp_path / "state", read_only=True, event_sink=lambda entry: None)
    for name, response in expected["describe_tuning"].items():
        got = engine.handle("DescribeHyperParameterTuningJob", {"HyperParameterTuningJobName": name})
        assert json.loads(json.dumps(got)) == response
    for name, response in expected["list_trials"].items():
        params = {"HyperParameterTuningJobName": name, "MaxResults": 100}
        got = engine.handle("ListTrainingJobsForHyperParameterTuningJob", params)
        assert json.loads(json.dumps(got)) == response
    for name, response in expected["describe_training"].items():
        got = engine.handle("DescribeTrainingJob", {"TrainingJobName": name})
        assert json.loads(json.dumps(got)) == response
    got = engine.handle("ListHyperParameterTuningJobs", {"MaxResults": 100})
    assert json.loads(json.dumps(got)) == expected["list_tuning"]


def test_a_restarted_engine_saves_stored_jobs_in_the_same_format(tmp_path: Path) -> None:
    shutil.copytree(STATE, tmp_path / "state")
    doc = _doc(STATE / "training-jobs" / "job-1.json")
    doc.update(TrainingJobStatus="InProgress", SecondaryStatus="Training")
    (tmp_path / "state" / "training-jobs" / "job-1.json").write_text(json.dumps(doc))
    Engine(tmp_path / "state", event_sink=lambda entry: None)
    saved = _doc(tmp_path / "state" / "training-jobs" / "job-1.json")
    assert saved["TrainingJobStatus"] == "Failed"
    assert saved["SecondaryStatus"] == "Failed"
    assert saved["FailureReason"].startswith("engine restarted")
    changed = {"TrainingJobStatus", "SecondaryStatus", "FailureReason", "TrainingEndTime", "LastModifiedTime"}
    assert {k: v for k, v in saved.items() if k not in changed} == {
        k: v for k, v in doc.items() if k not in changed
    }
