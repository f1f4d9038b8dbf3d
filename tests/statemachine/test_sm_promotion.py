"""Diagnosis, promotion and registration through the real ASL (run by the twin), SageMaker stood in and the
Model Registry served by moto."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from sm_stand_in import SageMakerStandIn
from sm_support import MODEL, PROFILE

from amtflow.local.twin import ExecutionStatus, Twin

GROUP = f"amtf-{MODEL}"


def wait_until(condition: Callable[[], bool], what: str, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"still waiting for {what} after {timeout}s")
        time.sleep(0.05)


def upload_version(twin: Twin, version: str, *, rows: str = "1,0.5\n0,0.1\n") -> None:
    before = len(twin.executions())
    twin.put_object(f"datasets/{MODEL}/{version}/train/part-0.csv", rows)
    twin.put_object(f"datasets/{MODEL}/{version}/validation/part-0.csv", "1,0.4\n0,0.2\n")
    twin.put_object(f"datasets/{MODEL}/{version}/_READY", "")
    wait_until(lambda: len(twin.executions()) > before, f"the execution of dataset version {version}")


def packages(twin: Twin) -> list[dict[str, Any]]:
    sm = twin.client("sagemaker")
    try:
        return list(sm.list_model_packages(ModelPackageGroupName=GROUP)["ModelPackageSummaryList"])
    except sm.exceptions.ClientError:
        return []


def test_a_regex_that_never_matches_ends_in_a_no_result_notification_naming_the_nearest_log_line(
    app: Twin, sagemaker: SageMakerStandIn
) -> None:
    sagemaker.report_objective = False
    # the script prints '=' where the profile's regex expects ':' (validation-auc:([0-9\.]+))
    sagemaker.trial_log = ["train: 455 rows x 30 features", "[0]\ttrain-auc=0.98\tvalidation-auc=0.95"]
    upload_version(app, "v1")
    (execution,) = app.wait_for_executions()

    assert execution.status is ExecutionStatus.SUCCEEDED, execution.cause
    assert execution.state_transitions <= 25
    assert execution.lambda_invocations <= 8
    (note,) = app.notifications()
    assert note.attributes == {"model": MODEL, "outcome": "no_result"}
    evaluation = note.json()["evaluation"]
    objective = [f for f in evaluation["diagnosis"] if f["rule"] == "AMT401" and f["severity"] == "error"]
    assert objective, evaluation["diagnosis"]
    assert "validation-auc=0.95" in objective[0]["message"]  # the nearest line
    assert "validation-auc:" in objective[0]["message"]  # the regex that missed it
    assert "validation-auc=0.95" in evaluation["reason"]
    assert packages(app) == []


def test_the_first_run_promotes_and_registers_the_winner_once(app: Twin, sagemaker: SageMakerStandIn) -> None:
    upload_version(app, "v1")
    (execution,) = app.wait_for_executions()

    assert execution.status is ExecutionStatus.SUCCEEDED, execution.cause
    assert "EvaluateChampion" not in execution.states  # no champion to compare with
    (note,) = app.notifications()
    assert note.attributes["promotion"] == "promoted"
    promotion = note.json()["evaluation"]["promotion"]
    assert promotion["outcome"] == "promoted"
    assert promotion["challengerValue"] == 0.95
    assert promotion["modelPackageGroup"] == GROUP
    (package,) = packages(app)
    assert package["ModelPackageArn"] == promotion["modelPackageArn"]
    assert package["ModelApprovalStatus"] == "PendingManualApproval"
    described = app.client("sagemaker").describe_model_package(ModelPackageName=package["ModelPackageArn"])
    metadata = described["CustomerMetadataProperties"]
    assert metadata["amtflow:objective-value"] == "0.95"
    assert metadata["amtflow:dataset-version"] == "v1"
    assert metadata["amtflow:tuning-job"] == execution.output["tuning"]["jobName"]

    # Evaluate retried with the same input (e.g. after a timeout): the champion is already this run's
    again = app.invoke(
        "EvaluateFunction", {"plan": execution.output["plan"], "tuning": execution.output["tuning"]}
    )
    assert again["promotion"]["outcome"] == "promoted"
    assert len(packages(app)) == 1


def test_with_the_threshold_fallback_new_data_is_promoted_across_datasets_and_the_notification_says_so(
    app: Twin, sagemaker: SageMakerStandIn
) -> None:
    upload_version(app, "v1")
    app.wait_for_executions()
    upload_data_only(app, "v2")
    # The owner switches the model to the threshold fallback and pushes the profile.
    app.put_object(
        f"profiles/{MODEL}.yaml",
        PROFILE.replace("promotion:\n", "promotion:\n  cross_dataset: threshold\n  threshold: 0.9\n"),
    )
    app.start_execution({"model": MODEL, "action": "tune", "datasetVersion": "v2"})
    executions = app.wait_for_executions()
    assert [e.status for e in executions] == [ExecutionStatus.SUCCEEDED, ExecutionStatus.SUCCEEDED]
    second = next(n for n in app.notifications() if n.json()["plan"]["datasetVersion"] == "v2")
    promotion = second.json()["evaluation"]["promotion"]
    assert promotion["outcome"] == "promoted"
    assert promotion["crossedDatasets"] is True
    assert promotion["championValueDatasetVersion"] == "v1"
    assert promotion["championValue"] == 0.95  # measured on v1, the champion's own data
    assert promotion["challengerDatasetVersion"] == "v2"
    assert "the comparison crosses datasets" in promotion["reason"]
    assert len(packages(app)) == 2


def upload_data_only(twin: Twin, version: str) -> None:
    twin.put_object(f"datasets/{MODEL}/{version}/train/part-0.csv", "1,0.9\n0,0.3\n")
    twin.put_object(f"datasets/{MODEL}/{version}/validation/part-0.csv", "1,0.8\n0,0.1\n")


def run_v1_then_v2(app: Twin) -> tuple[Any, Any]:
    upload_version(app, "v1")
    app.wait_for_executions()
    upload_version(app, "v2", rows="1,0.9\n0,0.3\n")
    first, second = app.wait_for_executions()
    return first, second


def test_on_new_data_the_champion_is_scored_by_an_evaluation_job_and_a_better_challenger_wins(
    app: Twin, sagemaker: SageMakerStandIn
) -> None:
    sagemaker.evaluation_value = 0.9  # the champion (0.95 on v1) scores 0.9 on v2's validation data
    _, second = run_v1_then_v2(app)

    assert second.status is ExecutionStatus.SUCCEEDED, second.cause
    assert second.states[second.states.index("EvaluateChampion") :][:2] == ("EvaluateChampion", "Promote")
    assert second.state_transitions <= 25
    assert second.lambda_invocations <= 8
    (job_name,) = sagemaker.training_jobs
    request = sagemaker.training_jobs[job_name]["request"]
    assert request["HyperParameters"]["amtflow_evaluate_only"] == "true"
    channels = {
        c["ChannelName"]: c["DataSource"]["S3DataSource"]["S3Uri"] for c in request["InputDataConfig"]
    }
    assert channels["model"].endswith("model.tar.gz")
    assert channels["validation"].endswith(f"/datasets/{MODEL}/v2/validation/")
    assert set(channels) == {"model", "validation"}
    note = next(n for n in app.notifications() if n.json()["plan"]["datasetVersion"] == "v2")
    assert note.attributes["promotion"] == "promoted"
    promotion = note.json()["evaluation"]["promotion"]
    assert promotion["championValue"] == 0.9
    assert promotion["championValueDatasetVersion"] == "v2"
    assert promotion["crossedDatasets"] is False
    assert "evaluated on the challenger's validation data" in promotion["reason"]
    assert len(packages(app)) == 2


def test_a_champion_still_better_on_the_new_data_is_kept(app: Twin, sagemaker: SageMakerStandIn) -> None:
    sagemaker.evaluation_value = 0.99
    _, second = run_v1_then_v2(app)
    assert second.status is ExecutionStatus.SUCCEEDED, second.cause
    note = next(n for n in app.notifications() if n.json()["plan"]["datasetVersion"] == "v2")
    assert note.attributes["promotion"] == "kept_champion"
    promotion = note.json()["evaluation"]["promotion"]
    assert promotion["championValue"] == 0.99
    assert promotion["challengerValue"] == 0.95
    assert len(packages(app)) == 1


def test_a_failed_evaluation_job_keeps_the_champion_and_the_run_still_succeeds(
    app: Twin, sagemaker: SageMakerStandIn
) -> None:
    sagemaker.evaluation_value = None
    _, second = run_v1_then_v2(app)
    assert second.status is ExecutionStatus.SUCCEEDED, second.cause
    note = next(n for n in app.notifications() if n.json()["plan"]["datasetVersion"] == "v2")
    promotion = note.json()["evaluation"]["promotion"]
    assert promotion["outcome"] == "kept_champion"
    assert "EvaluationJobFailed" in promotion["reason"]
    assert "no model.tar.gz" in promotion["reason"]
    assert len(packages(app)) == 1
