"""The drift-aware decision through the real ASL: retrain, warm start, cold start, skip, bad data."""

from __future__ import annotations

import json
import random
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from sm_stand_in import T0, SageMakerStandIn, _error
from sm_support import MODEL, PROFILE, ROOT
from sm_support import T0 as CLOCK_T0

from amtflow.adapters import DynamoDBLineageStore
from amtflow.lineage import RunOutcome
from amtflow.local.twin import ExecutionStatus, ManualClock, Twin

CREATE_TUNING = "CreateHyperParameterTuningJob"
CREATE_TRAINING = "CreateTrainingJob"
# New data is judged against the promotion threshold (no champion's evaluation job in these runs).
DECIDING_PROFILE = PROFILE.replace(
    "promotion:\n", "promotion:\n  cross_dataset: threshold\n  threshold: 0.5\n", 1
)


@dataclass
class RetrainStandIn(SageMakerStandIn):
    """The stand-in, plus standalone training jobs (a retrain) that end at once with ``retrain_status``."""

    retrain_status: str = "Completed"
    retrains: dict[str, dict[str, Any]] = field(default_factory=dict)

    def _CreateTrainingJob(self, params: dict[str, Any]) -> dict[str, Any]:
        name = params["TrainingJobName"]
        if name in self.retrains:
            raise _error("ResourceInUse", f"training job {name} already exists", CREATE_TRAINING)
        arn = f"arn:aws:sagemaker:us-east-1:123456789012:training-job/{name}"
        self.retrains[name] = {"request": params, "arn": arn, "status": self.retrain_status}
        if self.emit_events and self.sink is not None:
            detail = {
                "TrainingJobName": name,
                "TrainingJobArn": arn,
                "TrainingJobStatus": self.retrain_status,
                "Tags": {t["Key"]: t["Value"] for t in params.get("Tags", [])},
            }
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
        if name not in self.retrains:
            return super()._DescribeTrainingJob(params)
        job = self.retrains[name]
        request = job["request"]
        out: dict[str, Any] = {
            "TrainingJobName": name,
            "TrainingJobArn": job["arn"],
            "TrainingJobStatus": job["status"],
            "AlgorithmSpecification": request["AlgorithmSpecification"],
            "HyperParameters": request.get("HyperParameters", {}),
            "ModelArtifacts": {
                "S3ModelArtifacts": request["OutputDataConfig"]["S3OutputPath"]
                + f"{name}/output/model.tar.gz"
            },
            "CreationTime": T0,
            "TrainingEndTime": T0,
            "TrainingTimeInSeconds": 42,
            "FinalMetricDataList": [{"MetricName": "validation:auc", "Value": 0.96, "Timestamp": T0}]
            if job["status"] == "Completed"
            else [],
        }
        if job["status"] == "Failed":
            out["FailureReason"] = "AlgorithmError: the training script exited with 1"
        return out


def csv_rows(shift: float = 0.0, seed: int = 1, n: int = 2000) -> bytes:
    rng = random.Random(seed)
    lines = []
    for _ in range(n):
        x1, x2 = rng.gauss(shift, 1.0), rng.gauss(shift, 1.0)
        lines.append(f"{int(x1 + x2 > 0)},{x1:.5f},{x2:.5f}")
    return ("\n".join(lines) + "\n").encode()


@pytest.fixture
def sagemaker() -> RetrainStandIn:
    return RetrainStandIn()


@pytest.fixture
def app(sagemaker: RetrainStandIn) -> Iterator[Twin]:
    with Twin.start(ROOT, sagemaker=sagemaker.factory, clock=ManualClock(CLOCK_T0)) as twin:
        twin.put_object(f"profiles/{MODEL}.yaml", DECIDING_PROFILE)
        twin.wait_idle()
        yield twin


def land(twin: Twin, version: str, data: bytes) -> Any:
    """A dataset version lands (data, then its marker); returns its finished execution."""
    before = {e.name for e in twin.executions()}
    twin.put_object(f"datasets/{MODEL}/{version}/train/part-0.csv", data)
    twin.put_object(f"datasets/{MODEL}/{version}/validation/part-0.csv", data[:2000])
    twin.put_object(f"datasets/{MODEL}/{version}/_READY", "")
    executions = twin.wait_for_executions()
    (new,) = [e for e in executions if e.name not in before]
    return new


def lineage(twin: Twin) -> DynamoDBLineageStore:
    return DynamoDBLineageStore(twin.client("dynamodb"), twin.physical_id("StateTable"))


def notification(twin: Twin, execution: str) -> dict[str, Any]:
    (note,) = [n.json() for n in twin.notifications() if execution in json.dumps(n.json())]
    return note  # type: ignore[no-any-return]


def released(twin: Twin) -> bool:
    items = twin.client("dynamodb").scan(TableName=twin.physical_id("StateTable"))["Items"]
    return not [i for i in items if i["sk"]["S"] in ("LOCK", "TOKEN") or i["pk"]["S"] == "PARKED"]


def first_run(twin: Twin) -> Any:
    first = land(twin, "v1", csv_rows())
    assert first.status is ExecutionStatus.SUCCEEDED, first.cause
    champion = lineage(twin).get_champion(MODEL)
    assert champion is not None
    return first


def test_new_data_without_drift_retrains_once_with_the_champions_hyperparameters(
    app: Twin, sagemaker: RetrainStandIn
) -> None:
    first_run(app)
    champion = lineage(app).get_champion(MODEL)
    assert champion is not None
    second = land(app, "v2", csv_rows(seed=7))

    assert second.status is ExecutionStatus.SUCCEEDED, second.cause
    assert "StartTraining" in second.states
    assert "StartTuning" not in second.states
    assert second.state_transitions <= 25
    assert second.lambda_invocations <= 8
    assert sagemaker.calls.count(CREATE_TUNING) == 1
    (job,) = sagemaker.retrains.values()
    hyperparameters = job["request"]["HyperParameters"]
    for name, value in champion.hyperparameters.items():
        assert hyperparameters[name] == value
    tags = {t["Key"]: t["Value"] for t in job["request"]["Tags"]}
    assert tags["amtflow:purpose"] == "retrain"
    assert tags["amtflow:dataset-version"] == "v2"

    note = notification(app, second.name)
    assert note["outcome"] == "succeeded"
    assert note["plan"]["action"] == "retrain"
    assert note["plan"]["rule"] == "no-drift"
    assert note["evaluation"]["best"]["trainingJobName"] == note["plan"]["jobName"]
    assert [t["trainingJobName"] for t in note["evaluation"]["leaderboard"]] == [note["plan"]["jobName"]]

    run = lineage(app).get_run(MODEL, second.name)
    assert run is not None
    # the job completed; promotion (Evaluate) may then mark the run promoted or not
    assert run.outcome in (RunOutcome.COMPLETED, RunOutcome.PROMOTED, RunOutcome.NOT_PROMOTED)
    assert run.best_objective == 0.96
    assert run.consumed_runtime_s == 42
    assert released(app)


def test_a_failed_retraining_job_ends_in_a_failure_notification(app: Twin, sagemaker: RetrainStandIn) -> None:
    first_run(app)
    sagemaker.retrain_status = "Failed"
    second = land(app, "v2", csv_rows(seed=7))

    assert second.status is ExecutionStatus.FAILED
    assert second.error == "TrainingJobFailed"
    note = notification(app, second.name)
    assert note["outcome"] == "failed"
    assert "exited with 1" in json.dumps(note["error"])
    run = lineage(app).get_run(MODEL, second.name)
    assert run is not None
    assert run.outcome is RunOutcome.FAILED
    assert released(app)


def test_moderate_drift_warm_starts_from_the_first_runs_job(app: Twin, sagemaker: RetrainStandIn) -> None:
    first_run(app)
    (parent,) = lineage(app).list_runs(MODEL)
    second = land(app, "v2", csv_rows(shift=0.4, seed=2))

    assert second.status is ExecutionStatus.SUCCEEDED, second.cause
    requests = [j["request"] for j in sagemaker.jobs.values()]
    assert len(requests) == 2
    warm = requests[1]
    assert warm["WarmStartConfig"] == {
        "ParentHyperParameterTuningJobs": [{"HyperParameterTuningJobName": parent.tuning_job}],
        "WarmStartType": "TransferLearning",
    }
    assert warm["HyperParameterTuningJobConfig"]["ResourceLimits"]["MaxNumberOfTrainingJobs"] == 15
    plan = notification(app, second.name)["plan"]
    assert plan["rule"] == "moderate-drift"
    assert plan["drift"]["severity"] == "moderate"
    assert "PSI" in plan["reason"]


def test_severe_drift_is_a_cold_start_with_the_full_budget(app: Twin, sagemaker: RetrainStandIn) -> None:
    first_run(app)
    second = land(app, "v2", csv_rows(shift=1.5, seed=2))
    assert second.status is ExecutionStatus.SUCCEEDED, second.cause
    cold = [j["request"] for j in sagemaker.jobs.values()][1]
    assert "WarmStartConfig" not in cold
    assert cold["HyperParameterTuningJobConfig"]["ResourceLimits"]["MaxNumberOfTrainingJobs"] == 30
    assert notification(app, second.name)["plan"]["rule"] == "severe-drift"


def test_a_drift_event_follows_the_same_table(app: Twin, sagemaker: RetrainStandIn) -> None:
    first_run(app)
    app.put_object(f"datasets/{MODEL}/v2/train/part-0.csv", csv_rows(seed=7))
    app.put_events(
        [
            {
                "Source": "amtflow.drift",
                "DetailType": "Data Drift Detected",
                "Detail": json.dumps({"model": MODEL, "datasetVersion": "v2", "severity": "moderate"}),
            }
        ]
    )
    executions = app.wait_for_executions()
    drift_run = executions[-1]
    assert drift_run.status is ExecutionStatus.SUCCEEDED, drift_run.cause
    plan = notification(app, drift_run.name)["plan"]
    assert plan["trigger"] == "drift"
    assert plan["rule"] == "moderate-drift"
    assert plan["warmStart"] == "TransferLearning"


def test_a_ragged_dataset_fails_clearly_and_launches_nothing(app: Twin, sagemaker: RetrainStandIn) -> None:
    bad = land(app, "v1", b"1,0.5,0.2\n0,0.1\n1,0.3,0.9\n")
    assert bad.status is ExecutionStatus.FAILED
    assert bad.error == "InvalidInputError"
    note = notification(app, bad.name)
    assert note["outcome"] == "failed"
    assert "do not have the 3 columns" in json.dumps(note["error"])
    assert "nothing was launched" in json.dumps(note["error"])
    assert sagemaker.calls == []
    assert released(app)
