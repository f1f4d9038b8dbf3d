"""PlanRun: a run request becomes a plan, or a failure that names the field and the fix."""

from __future__ import annotations

from typing import Any

import pytest
from app_fakes import MODEL, ROLE, T0, Clock, DatasetFiles, Datasets, StateTable, csv_rows, profiles

from amtflow.app import PlanRun, PlanSettings, callback_timeouts
from amtflow.errors import ConflictError, InvalidInputError, ProfileError, ProfileNotFoundError
from amtflow.lineage import InMemoryLineageStore
from amtflow.messages import Action, ExecutionRef, Trigger
from amtflow.naming import TUNING_JOB_NAME_PATTERN
from amtflow.profile import OverridesRefusedError
from amtflow.wiring import job_namer


def planner(
    table: StateTable | None = None,
    datasets: Datasets | None = None,
    *,
    lineage: InMemoryLineageStore | None = None,
    files: DatasetFiles | None = None,
    clock: Clock | None = None,
) -> PlanRun:
    return PlanRun(
        profiles=profiles(),
        datasets=datasets or Datasets(),
        locks=table or StateTable(),
        job_namer=job_namer("amtf"),
        clock=clock or Clock(),
        settings=PlanSettings(data_bucket="data", role_arn=ROLE),
        lineage=lineage if lineage is not None else InMemoryLineageStore(),
        dataset_reader=files or DatasetFiles(),
    )


EXEC = ExecutionRef(name="cancer-xgb-v1-0123abcd", id="arn:aws:states:::execution:sm:cancer-xgb-v1-0123abcd")


def test_auto_request_becomes_a_cold_start_tuning_plan_holding_the_lock() -> None:
    table = StateTable()
    plan = planner(table).plan({"model": MODEL, "datasetVersion": "v1", "trigger": "s3"}, EXEC)

    assert plan.action is Action.TUNE
    assert plan.trigger is Trigger.S3
    assert "cold-start" in plan.reason
    assert plan.job_name is not None
    assert TUNING_JOB_NAME_PATTERN.match(plan.job_name)
    assert plan.job_name.startswith("amtf-cancer-xgb-")
    assert len(plan.job_name) <= 32
    assert plan.data_uri == "s3://data/datasets/cancer-xgb/v1/"
    assert plan.output_uri == f"s3://data/runs/cancer-xgb/{plan.job_name}/"
    # the example profile caps the tuning job at 7200 s; the callback waits an hour longer
    assert plan.timeout_seconds == 7200 + 3600
    assert plan.heartbeat_seconds is not None
    assert plan.heartbeat_seconds < plan.timeout_seconds
    assert plan.lock is not None
    assert plan.lock.owner == EXEC.name
    assert table.locks[MODEL].owner == EXEC.name
    assert table.locks[MODEL].holder == EXEC.id
    assert plan.planned_at == T0


def test_the_job_name_is_deterministic_per_execution_and_differs_between_executions() -> None:
    request = {"model": MODEL, "datasetVersion": "v1"}
    first = planner().plan(request, EXEC).job_name
    again = planner().plan(request, EXEC).job_name
    other = planner().plan(request, ExecutionRef(name="manual-rerun")).job_name
    assert first == again
    assert first != other


def test_the_wire_form_is_camel_case_and_round_trips() -> None:
    plan = planner().plan({"model": MODEL, "datasetVersion": "v1"}, EXEC)
    wire = plan.to_json()
    assert wire["timeoutSeconds"] == plan.timeout_seconds
    assert wire["lock"] == {"pk": "MODEL#cancer-xgb", "sk": "LOCK", "owner": EXEC.name}
    assert type(plan).model_validate(wire) == plan


def test_a_second_run_of_the_same_model_meets_the_lock_and_is_told_who_holds_it() -> None:
    table = StateTable()
    planner(table).plan({"model": MODEL, "datasetVersion": "v1"}, EXEC)
    with pytest.raises(ConflictError, match=EXEC.name):
        planner(table).plan({"model": MODEL, "datasetVersion": "v2"}, ExecutionRef(name="other-run"))


def test_a_retried_plan_of_the_same_execution_takes_its_own_lock_again() -> None:
    table = StateTable()
    planner(table).plan({"model": MODEL, "datasetVersion": "v1"}, EXEC)
    plan = planner(table).plan({"model": MODEL, "datasetVersion": "v1"}, EXEC)
    assert plan.lock is not None


def test_skip_takes_no_lock_and_names_no_job() -> None:
    table = StateTable()
    plan = planner(table).plan({"model": MODEL, "action": "skip"}, EXEC)
    assert plan.action is Action.SKIP
    assert plan.lock is None
    assert plan.job_name is None
    assert table.locks == {}


def test_without_a_version_the_newest_complete_dataset_version_is_used() -> None:
    plan = planner(datasets=Datasets({MODEL: "2026-11-01"})).plan({"model": MODEL}, EXEC)
    assert plan.dataset_version == "2026-11-01"


def test_without_a_version_and_without_data_the_failure_says_where_it_looked() -> None:
    with pytest.raises(InvalidInputError, match=r"s3://data/datasets/cancer-xgb/.*_READY") as e:
        planner().plan({"model": MODEL}, EXEC)
    assert e.value.field == "datasetVersion"


def test_overrides_reach_the_plan_within_the_stored_limits() -> None:
    request = {
        "model": MODEL,
        "datasetVersion": "v1",
        "overrides": {"tuning": {"limits": {"max_jobs": 12, "max_parallel": 2}}},
    }
    plan = planner().plan(request, EXEC)
    assert plan.max_jobs == 12
    assert plan.overrides == request["overrides"]


def test_a_misspelt_override_is_refused_naming_the_key() -> None:
    request = {"model": MODEL, "datasetVersion": "v1", "overrides": {"tuning": {"stratgy": "Random"}}}
    with pytest.raises(InvalidInputError, match=r"stratgy.*did you mean 'strategy'"):
        planner().plan(request, EXEC)


def test_an_invalid_allowed_override_is_a_profile_error_naming_the_key() -> None:
    request = {"model": MODEL, "datasetVersion": "v1", "overrides": {"tuning": {"strategy": "Annealing"}}}
    with pytest.raises(ProfileError) as e:
        planner().plan(request, EXEC)
    assert e.value.field == "overrides.tuning.strategy"


ATTACK = {
    "budget": {"max_usd_per_run": None, "max_usd_per_month": None, "prices": {"ml.p4d.24xlarge": 0.0001}},
    "training": {"instance_type": "ml.p4d.24xlarge"},
    "tuning": {"limits": {"max_jobs": 500, "max_parallel": 20}},
}


def test_lifting_the_budget_with_overrides_is_refused_before_anything_is_locked_or_recorded() -> None:
    table, lineage, files = StateTable(), InMemoryLineageStore(), DatasetFiles()
    files.put("v1", csv_rows())
    request = {"model": MODEL, "action": "tune", "datasetVersion": "v1", "overrides": ATTACK}
    with pytest.raises(OverridesRefusedError) as e:
        planner(table, lineage=lineage, files=files).plan(request, EXEC)
    assert isinstance(e.value, InvalidInputError)
    assert e.value.field == "overrides.budget.max_usd_per_run"
    message = str(e.value)
    assert (
        "overrides.budget.max_usd_per_run: not overridable — budget caps and prices come from the stored "
        "profile; change the profile and push it"
    ) in message
    assert "overrides.budget.prices" in message
    assert "overrides.training.instance_type: 'ml.p4d.24xlarge' is not an instance type" in message
    assert table.locks == {}
    assert lineage.list_runs(MODEL) == []
    assert lineage.get_dataset_version(MODEL, "v1") is None


@pytest.mark.parametrize(
    ("levels", "error", "message"),
    [
        # Within the edge's depth limit: the allow-list walk refuses the first key it does not know.
        (20, OverridesRefusedError, r"overrides\.training\.x: unknown key"),
        # Hundreds of levels: the edge refuses the document before anything walks it.
        (500, InvalidInputError, r"'overrides\.training\.x\.x.*' nests deeper than 32 levels"),
    ],
)
def test_a_deeply_nested_override_is_refused_not_a_recursion_error(
    levels: int, error: type[Exception], message: str
) -> None:
    deep: dict[str, Any] = {}
    node = deep
    for _ in range(levels):
        node["x"] = {}
        node = node["x"]
    request = {"model": MODEL, "datasetVersion": "v1", "overrides": {"training": deep}}
    with pytest.raises(error, match=message):
        planner().plan(request, EXEC)


@pytest.mark.parametrize(
    ("raw", "fragment", "field"),
    [
        ({"model": MODEL, "acton": "tune"}, "unknown key 'acton'", "acton"),
        ({"action": "tune"}, "'model' is required", "model"),
        ({"model": MODEL, "action": "train"}, "'action' = 'train' is not allowed: use one of", "action"),
        ({"model": "Cancer XGB"}, "'model' = 'Cancer XGB' does not match", "model"),
        ({"model": MODEL, "trigger": "cron"}, "'trigger'", "trigger"),
        ([1, 2], "must be a JSON object", "(input)"),
        ("cancer-xgb", "must be a JSON object", "(input)"),
    ],
)
def test_a_malformed_request_names_the_field_and_the_fix(raw: Any, fragment: str, field: str) -> None:
    table = StateTable()
    with pytest.raises(InvalidInputError, match="invalid run request") as e:
        planner(table).plan(raw, EXEC)
    assert fragment in str(e.value)
    assert e.value.field == field
    assert table.locks == {}


def test_retrain_without_a_champion_tunes_from_scratch_and_says_why() -> None:
    plan = planner().plan({"model": MODEL, "action": "retrain", "datasetVersion": "v1"}, EXEC)
    assert plan.action is Action.TUNE
    assert plan.rule == "no-champion"
    assert "no hyperparameters to retrain with" in plan.reason


def test_an_unknown_model_is_profile_not_found() -> None:
    with pytest.raises(ProfileNotFoundError, match="no-such-model"):
        planner().plan({"model": "no-such-model", "datasetVersion": "v1"}, EXEC)


def test_a_first_run_is_a_cold_start_even_when_a_drift_event_says_severe() -> None:
    request = {"model": MODEL, "datasetVersion": "v1", "trigger": "drift", "drift": {"severity": "severe"}}
    plan = planner().plan(request, EXEC)
    assert plan.rule == "no-champion"
    assert plan.drift is not None
    assert plan.drift.external_severity == "severe"


@pytest.mark.parametrize(
    ("limits", "stopping", "expected"),
    [
        ({"MaxRuntimeInSeconds": 7200, "MaxNumberOfTrainingJobs": 30}, {"MaxRuntimeInSeconds": 60}, 7200),
        (
            {"MaxNumberOfTrainingJobs": 30, "MaxParallelTrainingJobs": 3},
            {"MaxRuntimeInSeconds": 1800},
            10 * 1800,
        ),
        ({"MaxNumberOfTrainingJobs": 7, "MaxParallelTrainingJobs": 3}, {"MaxRuntimeInSeconds": 100}, 3 * 100),
        (
            {"MaxNumberOfTrainingJobs": 2, "MaxParallelTrainingJobs": 1},
            {"MaxRuntimeInSeconds": 100, "MaxWaitTimeInSeconds": 400},
            2 * 400,
        ),
        (
            {"MaxNumberOfTrainingJobs": 500, "MaxParallelTrainingJobs": 1},
            {"MaxRuntimeInSeconds": 432000},
            2592000,
        ),
    ],
)
def test_callback_timeout_follows_the_jobs_limits(
    limits: dict[str, int], stopping: dict[str, int], expected: int
) -> None:
    request = {
        "HyperParameterTuningJobConfig": {"ResourceLimits": limits},
        "TrainingJobDefinition": {"StoppingCondition": stopping},
    }
    timeout, heartbeat = callback_timeouts(request)
    assert timeout == expected + 3600
    assert 0 < heartbeat < timeout
