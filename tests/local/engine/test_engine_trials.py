"""Trials as real processes: failures, missing metrics, runtime limits, stopping, the parallel cap,
retries, early stopping, Hyperband, completion criteria and warm start through the engine."""

from __future__ import annotations

import errno
import json
import os
import time
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from conftest import IMAGE_MAP, Harness, tuning_request

from amtflow.local import sagemaker
from amtflow.local.engine import ManualClock, live_process_groups
from amtflow.local.engine._runner import TrialProcess

ONE_AT_A_TIME = {"MaxNumberOfTrainingJobs": 1, "MaxParallelTrainingJobs": 1}


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def wait_for(predicate: Any, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError("condition not reached in time")
        time.sleep(0.05)


def test_trial_sees_the_training_container_contract(harness: Harness, tmp_path: Path) -> None:
    data = tmp_path / "data" / "train"
    data.mkdir(parents=True)
    (data / "part.csv").write_text("1,2,3\n4,5,6\n")
    req = harness.request(
        HyperParameterTuningJobConfig__ResourceLimits=ONE_AT_A_TIME,
        TrainingJobDefinition__StaticHyperParameters={"epochs": "2", "data": "1"},
        TrainingJobDefinition__InputDataConfig=[
            {
                "ChannelName": "train",
                "DataSource": {"S3DataSource": {"S3DataType": "S3Prefix", "S3Uri": data.as_uri()}},
            }
        ],
    )
    harness.run(req)
    (trial,) = harness.trials("tune-1")
    log = harness.engine.trial_log(trial["TrainingJobName"])
    assert "hyperparameters ['_tuning_objective_metric', 'data', 'epochs', 'kind', 'x']" in log
    assert "data: 1,2,3" in log
    root = harness.engine.store.trial_root(trial["TrainingJobName"]) / "opt-ml"
    hps = json.loads((root / "input" / "config" / "hyperparameters.json").read_text())
    assert hps["epochs"] == "2"
    assert hps["kind"] in ("a", "b")
    assert (
        json.loads((root / "input" / "config" / "resourceconfig.json").read_text())["current_host"]
        == "algo-1"
    )
    assert (root / "input" / "data" / "train" / "part.csv").exists()
    assert (root / "model" / "model.json").exists()


def test_a_script_with_a_failure_file_fails_with_its_reason(harness: Harness) -> None:
    req = harness.request(
        HyperParameterTuningJobConfig__ResourceLimits=ONE_AT_A_TIME,
        TrainingJobDefinition__StaticHyperParameters={"epochs": "3", "fail": "file"},
    )
    d = harness.run(req)
    (trial,) = harness.trials("tune-1")
    assert trial["TrainingJobStatus"] == "Failed"
    assert "ValueError: x is not allowed to be that" in trial["FailureReason"]
    assert "exit code 3" in trial["FailureReason"]
    job = harness.sm.describe_training_job(TrainingJobName=trial["TrainingJobName"])
    assert job["SecondaryStatus"] == "Failed"
    assert d["HyperParameterTuningJobStatus"] == "Failed"
    assert "All training jobs failed" in d["FailureReason"]
    assert d["TrainingJobStatusCounters"]["NonRetryableError"] == 1


def test_a_crashing_script_fails_with_the_tail_of_stderr(harness: Harness) -> None:
    req = harness.request(
        HyperParameterTuningJobConfig__ResourceLimits=ONE_AT_A_TIME,
        TrainingJobDefinition__StaticHyperParameters={"epochs": "3", "fail": "crash"},
    )
    harness.run(req)
    (trial,) = harness.trials("tune-1")
    assert trial["TrainingJobStatus"] == "Failed"
    assert "RuntimeError: the model diverged" in trial["FailureReason"]
    # the metrics printed before the crash are kept
    job = harness.sm.describe_training_job(TrainingJobName=trial["TrainingJobName"])
    assert job["FinalMetricDataList"][0]["MetricName"] == "loss"


def test_a_regex_that_never_matches_gives_objective_failed(harness: Harness) -> None:
    req = harness.request(
        HyperParameterTuningJobConfig__ResourceLimits={
            "MaxNumberOfTrainingJobs": 2,
            "MaxParallelTrainingJobs": 2,
        },
        TrainingJobDefinition__AlgorithmSpecification__MetricDefinitions=[
            {"Name": "loss", "Regex": "validation-loss: ([0-9.]+)"}
        ],
    )
    d = harness.run(req)
    assert d["HyperParameterTuningJobStatus"] == "Completed"
    assert d["ObjectiveStatusCounters"] == {"Succeeded": 0, "Pending": 0, "Failed": 2}
    assert d["TrainingJobStatusCounters"]["Completed"] == 2
    assert "BestTrainingJob" not in d
    summaries = harness.trials("tune-1")
    assert all(s["ObjectiveStatus"] == "Failed" for s in summaries)
    assert (
        harness.sm.list_training_jobs_for_hyper_parameter_tuning_job(
            HyperParameterTuningJobName="tune-1", SortBy="FinalObjectiveMetricValue"
        )["TrainingJobSummaries"]
        == []
    )


def test_max_runtime_kills_the_trial(harness: Harness) -> None:
    req = harness.request(
        HyperParameterTuningJobConfig__ResourceLimits=ONE_AT_A_TIME,
        TrainingJobDefinition__StaticHyperParameters={"epochs": "100", "sleep": "0.1"},
        TrainingJobDefinition__StoppingCondition={"MaxRuntimeInSeconds": 1},
    )
    harness.run(req)
    (trial,) = harness.trials("tune-1")
    job = harness.sm.describe_training_job(TrainingJobName=trial["TrainingJobName"])
    assert job["TrainingJobStatus"] == "Stopped"
    assert job["SecondaryStatus"] == "MaxRuntimeExceeded"
    assert "MaxRuntimeInSeconds=1" in job["FailureReason"]
    assert "epoch=100" not in harness.engine.trial_log(trial["TrainingJobName"])
    assert not live_process_groups()


def test_stop_leaves_no_process(harness: Harness) -> None:
    req = harness.request(
        HyperParameterTuningJobConfig__ResourceLimits={
            "MaxNumberOfTrainingJobs": 6,
            "MaxParallelTrainingJobs": 2,
        },
        TrainingJobDefinition__StaticHyperParameters={"epochs": "200", "sleep": "0.1"},
    )
    harness.sm.create_hyper_parameter_tuning_job(**req)
    wait_for(lambda: len(live_process_groups()) == 2)
    pids = set(live_process_groups())
    harness.sm.stop_hyper_parameter_tuning_job(HyperParameterTuningJobName="tune-1")
    assert harness.describe("tune-1")["HyperParameterTuningJobStatus"] in ("Stopping", "Stopped")
    assert harness.engine.wait("tune-1", 30) == "Stopped"
    assert not live_process_groups()
    assert not any(pid_alive(p) for p in pids)
    d = harness.describe("tune-1")
    assert d["TrainingJobStatusCounters"]["Stopped"] == 2
    assert all(s["TrainingJobStatus"] == "Stopped" for s in harness.trials("tune-1"))
    statuses = [
        e["detail"]["HyperParameterTuningJobStatus"]
        for e in harness.events
        if e["detail-type"].startswith("SageMaker HyperParameter")
    ]
    assert statuses == ["InProgress", "Stopping", "Stopped"]
    with pytest.raises(ClientError) as err:
        harness.sm.stop_hyper_parameter_tuning_job(HyperParameterTuningJobName="tune-1")
    assert err.value.response["Error"]["Code"] == "ValidationException"


def max_overlap(summaries: list[dict[str, Any]]) -> int:
    edges = []
    for s in summaries:
        edges.append((s["TrainingStartTime"].timestamp(), 1))
        edges.append((s["TrainingEndTime"].timestamp(), -1))
    running = peak = 0
    for _, delta in sorted(edges, key=lambda e: (e[0], e[1])):
        running += delta
        peak = max(peak, running)
    return peak


@pytest.mark.slow
def test_the_parallel_cap_holds(harness: Harness) -> None:
    req = harness.request(
        HyperParameterTuningJobConfig__ResourceLimits={
            "MaxNumberOfTrainingJobs": 6,
            "MaxParallelTrainingJobs": 2,
        },
        TrainingJobDefinition__StaticHyperParameters={"epochs": "3", "sleep": "0.1"},
    )
    harness.run(req)
    summaries = harness.trials("tune-1")
    assert len(summaries) == 6
    assert max_overlap(summaries) == 2


@pytest.mark.slow
def test_the_machine_wide_worker_cap_holds(tmp_path: Path) -> None:
    req = tuning_request(
        **{
            "HyperParameterTuningJobConfig__ResourceLimits": {
                "MaxNumberOfTrainingJobs": 3,
                "MaxParallelTrainingJobs": 3,
            },
            "TrainingJobDefinition__StaticHyperParameters": {"epochs": "2", "sleep": "0.1"},
            "TrainingJobDefinition__OutputDataConfig__S3OutputPath": (tmp_path / "o").as_uri(),
        }
    )
    with sagemaker(
        state_dir=tmp_path / "s", image_map=IMAGE_MAP, event_sink=lambda e: None, max_workers=1
    ) as engine:
        sm = boto3.client("sagemaker")
        sm.create_hyper_parameter_tuning_job(**req)
        engine.wait("tune-1", 60)
        summaries = sm.list_training_jobs_for_hyper_parameter_tuning_job(
            HyperParameterTuningJobName="tune-1"
        )["TrainingJobSummaries"]
    assert len(summaries) == 3
    assert max_overlap(summaries) == 1


def test_retry_strategy_never_retries_a_script_error(harness: Harness) -> None:
    req = harness.request(
        HyperParameterTuningJobConfig__ResourceLimits={
            "MaxNumberOfTrainingJobs": 2,
            "MaxParallelTrainingJobs": 1,
        },
        TrainingJobDefinition__StaticHyperParameters={"epochs": "3", "fail": "file"},
        TrainingJobDefinition__RetryStrategy={"MaximumRetryAttempts": 1},
    )
    d = harness.run(req)
    summaries = harness.trials("tune-1")
    assert len(summaries) == 2  # one training job per configuration, as on SageMaker
    assert all(s["FailureReason"].startswith("AlgorithmError:") for s in summaries)
    assert d["TrainingJobStatusCounters"]["RetryableError"] == 0
    assert d["TrainingJobStatusCounters"]["NonRetryableError"] == 2


def flaky_start(monkeypatch: pytest.MonkeyPatch, failures: int) -> list[str]:
    """The first ``failures`` trial processes cannot be started (the machine is out of processes)."""
    original = TrialProcess.start
    calls: list[str] = []

    def start(self: TrialProcess) -> None:
        calls.append(self.spec.name)
        if len(calls) <= failures:
            raise OSError(errno.EAGAIN, "Resource temporarily unavailable")
        original(self)

    monkeypatch.setattr(TrialProcess, "start", start)
    return calls


def test_retry_strategy_retries_an_internal_failure_within_the_same_job(
    harness: Harness, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls = flaky_start(monkeypatch, failures=1)
    req = harness.request(
        HyperParameterTuningJobConfig__ResourceLimits={
            "MaxNumberOfTrainingJobs": 2,
            "MaxParallelTrainingJobs": 1,
        },
        TrainingJobDefinition__RetryStrategy={"MaximumRetryAttempts": 1},
    )
    d = harness.run(req)
    assert d["HyperParameterTuningJobStatus"] == "Completed"
    summaries = harness.trials("tune-1")
    assert len(summaries) == 2
    assert all(s["TrainingJobStatus"] == "Completed" for s in summaries)
    first = calls[0]
    assert calls[:2] == [first, first]  # the retry ran under the same training job name
    job = harness.sm.describe_training_job(TrainingJobName=first)
    assert "Restarting" in [t["Status"] for t in job["SecondaryStatusTransitions"]]


def test_an_internal_failure_without_retries_fails_as_retryable(
    harness: Harness, monkeypatch: pytest.MonkeyPatch
) -> None:
    flaky_start(monkeypatch, failures=1)
    req = harness.request(
        HyperParameterTuningJobConfig__ResourceLimits={
            "MaxNumberOfTrainingJobs": 2,
            "MaxParallelTrainingJobs": 1,
        },
    )
    d = harness.run(req)
    failed = [s for s in harness.trials("tune-1") if s["TrainingJobStatus"] == "Failed"]
    assert len(failed) == 1
    assert failed[0]["FailureReason"].startswith("InternalServerError: cannot start the training command")
    assert d["TrainingJobStatusCounters"]["RetryableError"] == 1
    assert d["TrainingJobStatusCounters"]["NonRetryableError"] == 0


def test_target_objective_value_completes_the_job_early(harness: Harness) -> None:
    req = harness.request(
        HyperParameterTuningJobConfig__ResourceLimits={
            "MaxNumberOfTrainingJobs": 5,
            "MaxParallelTrainingJobs": 1,
        },
        HyperParameterTuningJobConfig__TuningJobCompletionCriteria={"TargetObjectiveMetricValue": 100.0},
    )
    d = harness.run(req)
    assert d["HyperParameterTuningJobStatus"] == "Completed"
    assert len(harness.trials("tune-1")) == 1


def test_best_objective_not_improving_completes_the_job(harness: Harness) -> None:
    # x is fixed and the script ignores z, so trials give one of 3 losses: soon none improves by 1%
    req = harness.request(
        HyperParameterTuningJobConfig__ResourceLimits={
            "MaxNumberOfTrainingJobs": 10,
            "MaxParallelTrainingJobs": 1,
        },
        HyperParameterTuningJobConfig__ParameterRanges={
            "CategoricalParameterRanges": [{"Name": "kind", "Values": ["a", "d", "e"]}],
            "ContinuousParameterRanges": [{"Name": "z", "MinValue": "0", "MaxValue": "1"}],
        },
        HyperParameterTuningJobConfig__TuningJobCompletionCriteria={
            "BestObjectiveNotImproving": {"MaxNumberOfTrainingJobsNotImproving": 3}
        },
        TrainingJobDefinition__StaticHyperParameters={"epochs": "1", "x": "0.3", "y": "0.7"},
    )
    d = harness.run(req)
    assert d["HyperParameterTuningJobStatus"] == "Completed"
    trials = harness.trials("tune-1")
    assert len(trials) < 10
    assert d["TuningJobCompletionDetails"]["NumberOfTrainingJobsObjectiveNotImproving"] == 3


def test_tuning_max_runtime_follows_the_injected_clock(tmp_path: Path) -> None:
    clock = ManualClock()
    req = tuning_request(
        **{
            "HyperParameterTuningJobConfig__ResourceLimits": {
                "MaxNumberOfTrainingJobs": 4,
                "MaxParallelTrainingJobs": 1,
                "MaxRuntimeInSeconds": 120,
            },
            "TrainingJobDefinition__StaticHyperParameters": {"epochs": "300", "sleep": "0.1"},
            "TrainingJobDefinition__OutputDataConfig__S3OutputPath": (tmp_path / "o").as_uri(),
        }
    )
    with sagemaker(
        state_dir=tmp_path / "s", image_map=IMAGE_MAP, event_sink=lambda e: None, clock=clock
    ) as engine:
        sm = boto3.client("sagemaker")
        sm.create_hyper_parameter_tuning_job(**req)
        wait_for(lambda: len(live_process_groups()) == 1)
        clock.advance(121)
        assert engine.wait("tune-1", 60) == "Completed"
        d = sm.describe_hyper_parameter_tuning_job(HyperParameterTuningJobName="tune-1")
    assert d["TrainingJobStatusCounters"]["Stopped"] == 1
    assert d["ConsumedResources"]["RuntimeInSeconds"] == 121
    assert not live_process_groups()


@pytest.mark.slow
def test_early_stopping_auto_stops_trials_worse_than_the_median(harness: Harness) -> None:
    req = harness.request(
        HyperParameterTuningJobConfig__ResourceLimits={
            "MaxNumberOfTrainingJobs": 6,
            "MaxParallelTrainingJobs": 1,
        },
        HyperParameterTuningJobConfig__ParameterRanges={
            "CategoricalParameterRanges": [
                {"Name": "kind", "Values": ["a", "b", "c"]},
                {"Name": "x", "Values": ["0.3", "0.8"]},
            ]
        },
        HyperParameterTuningJobConfig__Strategy="Grid",
        HyperParameterTuningJobConfig__TrainingJobEarlyStoppingType="Auto",
        TrainingJobDefinition__StaticHyperParameters={"epochs": "6", "sleep": "0.05"},
    )
    d = harness.run(req)
    summaries = harness.trials("tune-1")
    stopped = [s for s in summaries if s["TrainingJobStatus"] == "Stopped"]
    assert stopped, "some trial should have been stopped early"
    finished_first = sorted(summaries, key=lambda s: s["CreationTime"])[:3]
    assert all(s["TrainingJobStatus"] == "Completed" for s in finished_first)  # the rule waits for 3
    for s in stopped:
        assert s["ObjectiveStatus"] == "Succeeded"  # an early-stopped trial keeps its last objective value
        log = harness.engine.trial_log(s["TrainingJobName"])
        assert "epoch=6" not in log
    assert d["HyperParameterTuningJobStatus"] == "Completed"


@pytest.mark.slow
def test_hyperband_stops_weak_trials_at_rungs(harness: Harness) -> None:
    req = harness.request(
        HyperParameterTuningJobConfig__ResourceLimits={
            "MaxNumberOfTrainingJobs": 9,
            "MaxParallelTrainingJobs": 3,
        },
        HyperParameterTuningJobConfig__Strategy="Hyperband",
        HyperParameterTuningJobConfig__StrategyConfig={
            "HyperbandStrategyConfig": {"MinResource": 1, "MaxResource": 9}
        },
        TrainingJobDefinition__StaticHyperParameters={"epochs": "9", "sleep": "0.05"},
    )
    d = harness.run(req)
    summaries = harness.trials("tune-1")
    assert len(summaries) == 9
    stopped = [s for s in summaries if s["TrainingJobStatus"] == "Stopped"]
    assert stopped
    assert d["HyperParameterTuningJobStatus"] == "Completed"
    assert "BestTrainingJob" in d


def test_warm_start_validation_errors(harness: Harness) -> None:
    missing = harness.request(
        "child-1",
        WarmStartConfig={
            "ParentHyperParameterTuningJobs": [{"HyperParameterTuningJobName": "no-such-parent"}],
            "WarmStartType": "TransferLearning",
        },
    )
    with pytest.raises(ClientError) as err:
        harness.sm.create_hyper_parameter_tuning_job(**missing)
    assert err.value.response["Error"]["Code"] == "ValidationException"
    assert "no-such-parent" in err.value.response["Error"]["Message"]

    slow = harness.request(
        "parent-1", TrainingJobDefinition__StaticHyperParameters={"epochs": "200", "sleep": "0.1"}
    )
    harness.sm.create_hyper_parameter_tuning_job(**slow)
    running = harness.request(
        "child-2",
        WarmStartConfig={
            "ParentHyperParameterTuningJobs": [{"HyperParameterTuningJobName": "parent-1"}],
            "WarmStartType": "IdenticalDataAndAlgorithm",
        },
    )
    with pytest.raises(ClientError) as err:
        harness.sm.create_hyper_parameter_tuning_job(**running)
    assert err.value.response["Error"]["Code"] == "ValidationException"
    assert "InProgress" in err.value.response["Error"]["Message"]
    harness.sm.stop_hyper_parameter_tuning_job(HyperParameterTuningJobName="parent-1")
    harness.engine.wait("parent-1", 30)

    other_metric = harness.request(
        "child-3",
        WarmStartConfig={
            "ParentHyperParameterTuningJobs": [{"HyperParameterTuningJobName": "parent-1"}],
            "WarmStartType": "IdenticalDataAndAlgorithm",
        },
        HyperParameterTuningJobConfig__HyperParameterTuningJobObjective={
            "Type": "Minimize",
            "MetricName": "acc",
        },
        TrainingJobDefinition__AlgorithmSpecification__MetricDefinitions=[
            {"Name": "acc", "Regex": "acc=([0-9.]+)"}
        ],
    )
    with pytest.raises(ClientError) as err:
        harness.sm.create_hyper_parameter_tuning_job(**other_metric)
    assert "the objective 'acc' differs from parent 'parent-1'" in err.value.response["Error"]["Message"]


def test_identical_data_warm_start_reports_the_overall_best(harness: Harness) -> None:
    parent = harness.run(harness.request("parent-1"))
    child_req = harness.request(
        "child-1",
        HyperParameterTuningJobConfig__ResourceLimits={
            "MaxNumberOfTrainingJobs": 2,
            "MaxParallelTrainingJobs": 2,
        },
        WarmStartConfig={
            "ParentHyperParameterTuningJobs": [{"HyperParameterTuningJobName": "parent-1"}],
            "WarmStartType": "IdenticalDataAndAlgorithm",
        },
    )
    child = harness.run(child_req)
    overall = child["OverallBestTrainingJob"]
    values = [
        parent["BestTrainingJob"]["FinalHyperParameterTuningJobObjectiveMetric"]["Value"],
        child["BestTrainingJob"]["FinalHyperParameterTuningJobObjectiveMetric"]["Value"],
    ]
    assert overall["FinalHyperParameterTuningJobObjectiveMetric"]["Value"] == min(values)
    assert len(harness.trials("child-1")) == 2  # parents' trials are history, not this job's trials


def test_transfer_learning_tries_the_parents_best_configuration_first(harness: Harness) -> None:
    parent = harness.run(harness.request("parent-1"))
    best_hps = parent["BestTrainingJob"]["TunedHyperParameters"]
    child_req = harness.request(
        "child-1",
        HyperParameterTuningJobConfig__ResourceLimits={
            "MaxNumberOfTrainingJobs": 1,
            "MaxParallelTrainingJobs": 1,
        },
        HyperParameterTuningJobConfig__RandomSeed=99,
        WarmStartConfig={
            "ParentHyperParameterTuningJobs": [{"HyperParameterTuningJobName": "parent-1"}],
            "WarmStartType": "TransferLearning",
        },
    )
    child = harness.run(child_req)
    assert child["BestTrainingJob"]["TunedHyperParameters"] == best_hps
    assert "OverallBestTrainingJob" not in child


_ENGINE_CHILD = """
import sys, time, boto3
sys.path.insert(0, sys.argv[1])
from conftest import IMAGE_MAP, tuning_request
from amtflow.local import sagemaker
from amtflow.local.engine import live_process_groups
req = tuning_request(**{
    "TrainingJobDefinition__StaticHyperParameters": {"epochs": "600", "sleep": "0.1"},
    "TrainingJobDefinition__OutputDataConfig__S3OutputPath": "file://" + sys.argv[2] + "/o",
})
with sagemaker(state_dir=sys.argv[2], image_map=IMAGE_MAP, event_sink=lambda e: None):
    boto3.client("sagemaker", region_name="us-east-1").create_hyper_parameter_tuning_job(**req)
    while len(live_process_groups()) < 2:
        time.sleep(0.05)
    print(" ".join(str(p) for p in live_process_groups()), flush=True)
    time.sleep(600)
"""


def gone(pid: int) -> bool:
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except FileNotFoundError:
        return True
    return "State:\tZ" in status  # a zombie has exited; only its parent's bookkeeping remains


@pytest.mark.slow
@pytest.mark.skipif(not Path("/proc").exists(), reason="needs Linux /proc")
def test_no_trial_outlives_a_crash_of_the_engine(tmp_path: Path) -> None:
    import signal
    import subprocess
    import sys

    env = {**os.environ, "AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing"}
    child = subprocess.Popen(
        [sys.executable, "-c", _ENGINE_CHILD, str(Path(__file__).parent), str(tmp_path)],
        stdout=subprocess.PIPE,
        text=True,
        env=env,
    )
    try:
        assert child.stdout is not None
        pids = [int(p) for p in child.stdout.readline().split()]
        assert len(pids) == 2
        assert not any(gone(p) for p in pids)
        child.send_signal(signal.SIGKILL)
        child.wait(10)
        wait_for(lambda: all(gone(p) for p in pids), timeout=10)
    finally:
        child.kill()
        child.wait()
    # the next engine on this state directory fails the job that was running
    from amtflow.local.engine import Engine

    engine = Engine(tmp_path, IMAGE_MAP, event_sink=lambda e: None)
    d = engine.handle("DescribeHyperParameterTuningJob", {"HyperParameterTuningJobName": "tune-1"})
    assert d["HyperParameterTuningJobStatus"] == "Failed"
    assert d["TrainingJobStatusCounters"]["NonRetryableError"] == 2


def test_more_parallel_trials_than_the_engine_runs_is_a_visible_warning(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    req = tuning_request(
        HyperParameterTuningJobConfig__ResourceLimits={
            "MaxNumberOfTrainingJobs": 2,
            "MaxParallelTrainingJobs": 2,
        },
        TrainingJobDefinition__OutputDataConfig__S3OutputPath=(tmp_path / "o").as_uri(),
    )
    with sagemaker(
        state_dir=tmp_path / "s", image_map=IMAGE_MAP, event_sink=lambda e: None, max_workers=1
    ) as engine:
        with caplog.at_level("WARNING", logger="amtflow.local.engine._engine"):
            boto3.client("sagemaker", region_name="us-east-1").create_hyper_parameter_tuning_job(**req)
        assert engine.wait("tune-1", 60) == "Completed"
    assert "MaxParallelTrainingJobs is 2 but this engine runs at most 1 training processes" in caplog.text
    assert "max_workers=2" in caplog.text
