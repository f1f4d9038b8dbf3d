"""PlanRun applies the drift-aware decision table: each row, the lineage it records, malformed data."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest
from app_fakes import (
    MODEL,
    ROLE,
    XGB_PROFILE,
    Clock,
    DatasetFiles,
    Datasets,
    StateTable,
    csv_rows,
    profile_text,
    profiles,
)

from amtflow.app import PlanRun, PlanSettings
from amtflow.drift import TuningJobStatus
from amtflow.errors import ConflictError, InvalidInputError
from amtflow.lineage import Champion, InMemoryLineageStore, ObjectiveType, RunOutcome
from amtflow.messages import Action, ExecutionRef, Plan, WarmStartMode
from amtflow.wiring import job_namer

IMAGE = "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-xgboost:1.7-1"
CHAMPION_HPS = {"eta": "0.1", "max_depth": "4"}


class World:
    """One model's lineage, data and lock, planned run after run."""

    def __init__(self) -> None:
        self.lineage = InMemoryLineageStore()
        self.files = DatasetFiles()
        self.table = StateTable()
        self.clock = Clock()
        self.runs = 0
        self.profile = XGB_PROFILE

    def plan(self, version: str, execution: str | None = None, **request: Any) -> Plan:
        self.clock.advance(hours=1)
        self.runs += 1
        planner = PlanRun(
            profiles=profiles(self.profile),
            datasets=Datasets(),
            locks=self.table,
            job_namer=job_namer("amtf"),
            clock=self.clock,
            settings=PlanSettings(data_bucket="data", role_arn=ROLE),
            lineage=self.lineage,
            dataset_reader=self.files,
        )
        name = execution or f"{MODEL}-{version}-{self.runs:08x}"
        return planner.plan({"model": MODEL, "datasetVersion": version, **request}, ExecutionRef(name=name))

    def finish(self, plan: Plan, *, promote: bool = True) -> None:
        """What the end of the run records: the job completed (a parent candidate) and, here, promoted."""
        run = self.lineage.get_run(MODEL, plan.execution.name)
        assert run is not None
        self.lineage.update_run(
            replace(
                run,
                job_status=TuningJobStatus.COMPLETED,
                best_training_job=f"{plan.job_name}-001-aaaaaaaa",
                best_objective=0.95,
                training_jobs=30,
                outcome=RunOutcome.COMPLETED,
            )
        )
        self.table.release(MODEL, plan.execution.name)
        if promote:
            current = self.lineage.get_champion(MODEL)
            assert plan.job_name
            assert plan.dataset_version
            assert plan.data_fingerprint
            self.lineage.set_champion(
                Champion(
                    model=MODEL,
                    tuning_job=plan.job_name,
                    training_job=f"{plan.job_name}-001-aaaaaaaa",
                    hyperparameters=CHAMPION_HPS,
                    objective_metric="validation:auc",
                    objective_type=ObjectiveType.MAXIMIZE,
                    objective_value=0.95,
                    dataset_version=plan.dataset_version,
                    data_fingerprint=plan.data_fingerprint,
                    model_artifact="s3://data/runs/model.tar.gz",
                    training_image=IMAGE,
                    promoted_at=self.clock(),
                ),
                expected_tuning_job=current.tuning_job if current else None,
            )


@pytest.fixture
def world() -> World:
    w = World()
    first = w.plan("v1")
    assert first.action is Action.TUNE
    assert first.warm_start is WarmStartMode.COLD
    w.finish(first)
    return w


def test_the_first_run_profiles_the_data_and_records_the_version_and_the_run_once() -> None:
    w = World()
    plan = w.plan("v1", execution="exec-a")
    assert plan.rule == "no-champion"
    assert plan.data_fingerprint
    assert plan.data_fingerprint.startswith("sha256:")
    recorded = w.lineage.get_dataset_version(MODEL, "v1")
    assert recorded is not None
    assert recorded.profile is not None
    assert recorded.profile.rows == 2000
    assert recorded.uri == "s3://data/datasets/cancer-xgb/v1/"
    (run,) = w.lineage.list_runs(MODEL)
    assert run.run_id == "exec-a"
    assert run.tuning_job == plan.job_name
    assert run.decision.rule.value == "no-champion"
    assert run.signature is not None
    assert run.signature.objective_metric == "validation:auc"
    assert run.cost_estimate_usd > 0


def test_a_retried_plan_decides_the_same_without_reading_the_data_again_or_recording_twice(
    world: World,
) -> None:
    world.files.put("v2", csv_rows(shift=0.4, seed=2))
    first = world.plan("v2", execution="exec-retry")
    reads = len(world.files.opened)
    again = world.plan("v2", execution="exec-retry")
    assert len(world.files.opened) == reads
    assert [r.run_id for r in world.lineage.list_runs(MODEL)].count("exec-retry") == 1
    assert (again.action, again.rule, again.parents, again.max_jobs, again.job_name) == (
        first.action,
        first.rule,
        first.parents,
        first.max_jobs,
        first.job_name,
    )


def test_same_data_as_the_champion_is_skipped_and_the_lock_released(world: World) -> None:
    plan = world.plan("v1-copy")  # the same bytes under another version
    assert plan.action is Action.SKIP
    assert plan.rule == "same-data"
    assert "unchanged" in plan.reason
    assert plan.lock is None
    assert MODEL not in world.table.locks
    run = world.lineage.get_run(MODEL, plan.execution.name)
    assert run is not None
    assert run.outcome is RunOutcome.SKIPPED
    assert run.tuning_job is None


def test_same_data_with_tune_requested_is_an_identical_data_warm_start(world: World) -> None:
    (champion_run,) = world.lineage.list_runs(MODEL)
    plan = world.plan("v1-copy", action="tune")
    assert plan.action is Action.TUNE
    assert plan.warm_start is WarmStartMode.IDENTICAL_DATA_AND_ALGORITHM
    assert plan.parents == [champion_run.tuning_job]
    assert plan.max_jobs == 20


def test_new_data_without_drift_retrains_once_with_the_champions_hyperparameters(world: World) -> None:
    world.files.put("v2", csv_rows(seed=7))
    plan = world.plan("v2")
    assert plan.action is Action.RETRAIN
    assert plan.rule == "no-drift"
    assert plan.hyperparameters == CHAMPION_HPS
    assert plan.max_jobs == 1
    # one training job: the wait is its StoppingCondition (1800 s in the example profile) plus an hour
    assert plan.timeout_seconds == 1800 + 3600
    assert plan.lock is not None
    assert plan.drift is not None
    assert plan.drift.severity == "none"


def test_moderate_drift_is_a_transfer_learning_warm_start_from_the_lineage(world: World) -> None:
    (parent,) = world.lineage.list_runs(MODEL)
    world.files.put("v2", csv_rows(shift=0.4, seed=2))
    plan = world.plan("v2")
    assert plan.action is Action.TUNE
    assert plan.rule == "moderate-drift"
    assert plan.warm_start is WarmStartMode.TRANSFER_LEARNING
    assert plan.parents == [parent.tuning_job]
    assert plan.max_jobs == 15  # half of the profile's 30
    assert plan.drift is not None
    assert plan.drift.severity == "moderate"
    assert plan.drift.baseline_dataset_version == "v1"
    assert {d.column for d in plan.drift.drivers} >= {"c0"}
    assert "moderate drift" in plan.reason
    assert "PSI" in plan.reason
    assert "c0" in plan.reason
    run = world.lineage.get_run(MODEL, plan.execution.name)
    assert run is not None
    assert run.parents == (parent.tuning_job,)
    assert run.drift_scores["c0"] > 0.1


def test_severe_drift_is_a_cold_start_with_the_full_budget(world: World) -> None:
    world.files.put("v2", csv_rows(shift=1.5, seed=2))
    plan = world.plan("v2")
    assert (plan.action, plan.rule, plan.warm_start, plan.parents) == (
        Action.TUNE,
        "severe-drift",
        WarmStartMode.COLD,
        [],
    )
    assert plan.max_jobs == 30
    assert "severe drift" in plan.reason


def test_a_schema_change_is_a_cold_start_naming_the_column(world: World) -> None:
    world.files.put("v2", b"".join(line + b",1\n" for line in csv_rows(seed=3).splitlines()))
    plan = world.plan("v2")
    assert plan.rule == "schema-change"
    assert plan.warm_start is WarmStartMode.COLD
    assert "c3" in plan.reason


def test_a_new_training_algorithm_is_a_cold_start(world: World) -> None:
    world.files.put("v2", csv_rows(seed=7))
    other = "123456789012.dkr.ecr.us-east-1.amazonaws.com/my-lightgbm:1"
    world.profile = profile_text(training={"image": other})  # the owner pushed a new algorithm
    plan = world.plan("v2")
    assert plan.rule == "new-algorithm"
    assert plan.warm_start is WarmStartMode.COLD


def test_a_severe_drift_event_wins_over_a_calm_measurement(world: World) -> None:
    world.files.put("v2", csv_rows(seed=7))
    plan = world.plan("v2", trigger="drift", drift={"severity": "high"})
    assert plan.rule == "severe-drift"
    assert "drift event says severe" in plan.reason
    assert plan.drift is not None
    assert plan.drift.external_severity == "severe"


def test_a_moderate_drift_event_warm_starts(world: World) -> None:
    world.files.put("v2", csv_rows(seed=7))
    plan = world.plan("v2", trigger="drift", drift={"severity": "moderate"})
    assert plan.rule == "moderate-drift"
    assert plan.warm_start is WarmStartMode.TRANSFER_LEARNING


def test_a_manual_action_wins_over_the_table(world: World) -> None:
    world.files.put("v2", csv_rows(shift=1.5, seed=2))
    plan = world.plan("v2", action="retrain")
    assert plan.action is Action.RETRAIN
    assert plan.rule == "requested-retrain"
    assert plan.hyperparameters == CHAMPION_HPS


def test_an_unknown_drift_severity_names_the_field(world: World) -> None:
    with pytest.raises(InvalidInputError, match="none, moderate, severe") as e:
        world.plan("v2", trigger="drift", drift={"severity": "purple"})
    assert e.value.field == "drift.severity"
    assert MODEL not in world.table.locks


@pytest.mark.parametrize(
    ("parts", "fragment"),
    [
        ((), "has no data in s3://data/datasets/cancer-xgb/v9/train/"),
        ((b"1,2,3\n4,5\n6,7,8\n",), "do not have the 3 columns"),
        ((b"\n\n",), "no data rows"),
        ((b"\xff\xfe\x00bad",), "not valid utf-8-sig"),
    ],
)
def test_malformed_data_fails_with_a_clear_message_records_nothing_and_frees_the_lock(
    parts: tuple[bytes, ...], fragment: str
) -> None:
    w = World()
    w.files.put("v9", *parts)
    with pytest.raises(InvalidInputError, match="nothing was launched") as e:
        w.plan("v9")
    assert fragment in str(e.value)
    assert w.lineage.list_runs(MODEL) == []
    assert w.lineage.get_dataset_version(MODEL, "v9") is None
    assert MODEL not in w.table.locks


def test_changed_bytes_under_a_recorded_version_are_a_conflict(world: World) -> None:
    world.files.put("v1", csv_rows(seed=99))
    with pytest.raises(ConflictError, match="Publish the new data as a new version"):
        world.plan("v1")
    assert MODEL not in world.table.locks


def test_several_files_of_a_version_are_profiled_in_order_as_one_dataset(world: World) -> None:
    rows = csv_rows(seed=7).splitlines(keepends=True)
    world.files.put("v2", b"".join(rows[:1000]), b"".join(rows[1000:]))
    plan = world.plan("v2")
    recorded = world.lineage.get_dataset_version(MODEL, "v2")
    assert recorded is not None
    assert recorded.profile is not None
    assert recorded.profile.rows == 2000
    assert plan.action is Action.RETRAIN


def test_a_header_row_is_recognised_and_named_columns_are_compared() -> None:
    w = World()
    w.files.put(
        "v1", b"label,age,city\n" + b"".join(f"{i % 2},{20 + i % 50},c{i % 4}\n".encode() for i in range(500))
    )
    plan = w.plan("v1")
    recorded = w.lineage.get_dataset_version(MODEL, "v1")
    assert recorded is not None
    assert recorded.profile is not None
    assert [c.name for c in recorded.profile.columns] == ["label", "age", "city"]
    assert plan.action is Action.TUNE


@pytest.mark.parametrize(
    ("parts", "fragment"),
    [
        ((b"\xff\xfe\x00bad",), "s3://data/datasets/cancer-xgb/v9/train/"),  # a file the profiler refuses
        ((b"\n\n",), "no data rows"),  # the dataset as a whole refused
    ],
)
def test_a_refused_dataset_says_once_that_nothing_was_launched(
    parts: tuple[bytes, ...], fragment: str
) -> None:
    w = World()
    w.files.put("v9", *parts)
    with pytest.raises(InvalidInputError) as e:
        w.plan("v9")
    assert type(e.value) is InvalidInputError  # what the state machine sees as the error name
    assert fragment in str(e.value)
    assert str(e.value).count("nothing was launched") == 1


def _champion_with(world: World, hyperparameters: dict[str, str]) -> None:
    champion = world.lineage.get_champion(MODEL)
    assert champion is not None
    world.lineage.set_champion(
        replace(champion, hyperparameters=hyperparameters), expected_tuning_job=champion.tuning_job
    )


@pytest.mark.parametrize(
    ("hyperparameters", "field", "fragment"),
    [
        (
            {f"p{i}": "1" for i in range(101)},
            "plan.hyperparameters",
            "101 hyperparameters, over SageMaker's 100",
        ),
        ({"k" * 257: "1"}, f"plan.hyperparameters.{'k' * 40}", "257 characters"),
        (
            {"eta": "0.1", "blob": "v" * 2501},
            "plan.hyperparameters.blob",
            "2501 characters, over SageMaker's 2500",
        ),
        # each within SageMaker's limits, but three copies would not fit in Step Functions' 256 KiB
        ({f"p{i}": "v" * 2500 for i in range(99)}, "plan.hyperparameters", "three times"),
    ],
    ids=["count", "key", "value", "state-size"],
)
def test_a_retrain_refuses_hyperparameters_sagemaker_or_the_state_could_not_carry(
    world: World, hyperparameters: dict[str, str], field: str, fragment: str
) -> None:
    _champion_with(world, hyperparameters)
    world.files.put("v2", csv_rows(seed=7))
    with pytest.raises(InvalidInputError, match=f"retraining '{MODEL}'") as e:
        world.plan("v2", execution="refused-retrain")
    assert e.value.field == field
    assert fragment in str(e.value)
    assert "static hyperparameters" in str(e.value)  # and the fix
    assert world.lineage.get_run(MODEL, "refused-retrain") is None  # nothing recorded
    assert MODEL not in world.table.locks  # nor left locked


def test_a_retrain_at_sagemakers_limits_is_planned(world: World) -> None:
    hyperparameters = {f"p{i}": "1" for i in range(99)} | {"k" * 256: "v" * 2500}
    _champion_with(world, hyperparameters)
    world.files.put("v2", csv_rows(seed=7))
    plan = world.plan("v2")
    assert plan.action is Action.RETRAIN
    assert plan.hyperparameters == hyperparameters
