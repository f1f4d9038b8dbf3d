"""The retrain path: StartTraining creates one training job; its callback closes once; the run's end is
recorded in the lineage; the reconciler sweeps parked training jobs too."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from typing import Any

import pytest
from app_fakes import MODEL, ROLE, T0, Callbacks, Clock, SageMaker, StateTable, profiles
from botocore.session import get_session
from botocore.validate import ParamValidator

from amtflow.app import (
    CloseTrainingJobs,
    CloseTuningJobs,
    JobKind,
    ParkedJob,
    RunLedger,
    StartTraining,
    TrainingJobDetails,
)
from amtflow.drift import Action as DriftAction
from amtflow.drift import Decision, Rule
from amtflow.errors import ConflictError, InvalidInputError, NotFoundError, QuotaExceededError
from amtflow.lineage import InMemoryLineageStore, RunOutcome, RunRecord, Trigger
from amtflow.messages import Action, ExecutionRef, Plan
from amtflow.profile import TrainingNetwork

JOB = "amtf-cancer-xgb-0badc0de"
TOKEN = "token-" + "t" * 300


class Trainer:
    """Training jobs in a dict: ``finish`` ends one with final metrics."""

    def __init__(self) -> None:
        self.created: list[Mapping[str, Any]] = []
        self.jobs: dict[str, TrainingJobDetails] = {}
        self.fail_create: Exception | None = None

    def create_training_job(self, request: Mapping[str, Any]) -> str:
        if self.fail_create is not None:
            raise self.fail_create
        name = request["TrainingJobName"]
        if name in self.jobs:
            raise ConflictError(f"training job {name} exists")
        self.created.append(request)
        self.jobs[name] = TrainingJobDetails(name, "InProgress", None, None, None, request["HyperParameters"])
        return f"arn:aws:sagemaker:us-east-1:123456789012:training-job/{name.lower()}"

    def finish(self, name: str, status: str, **changes: Any) -> None:
        self.jobs[name] = replace(self.jobs[name], status=status, **changes)

    def describe_training_job(self, name: str) -> TrainingJobDetails:
        if name not in self.jobs:
            raise NotFoundError(f"training job {name} does not exist")
        return self.jobs[name]


def retrain_plan(**changes: Any) -> Plan:
    plan = Plan(
        model=MODEL,
        action=Action.RETRAIN,
        reason="new data without drift",
        trigger="s3",  # type: ignore[arg-type]
        dataset_version="v2",
        job_name=JOB,
        data_uri="s3://data/datasets/cancer-xgb/v2/",
        output_uri=f"s3://data/runs/cancer-xgb/{JOB}/",
        timeout_seconds=5400,
        heartbeat_seconds=5399,
        hyperparameters={"eta": "0.12", "max_depth": "5"},
        max_jobs=1,
        execution=ExecutionRef(name="run-2"),
        planned_at=T0,
    )
    return plan.model_copy(update=changes)


def starter(trainer: Trainer, table: StateTable) -> StartTraining:
    return StartTraining(profiles=profiles(), sagemaker=trainer, tokens=table, clock=Clock(), role_arn=ROLE)


def lineage_with_run() -> InMemoryLineageStore:
    store = InMemoryLineageStore()
    store.add_run(
        RunRecord(
            model=MODEL,
            run_id="run-2",
            started_at=T0,
            trigger=Trigger.S3,
            dataset_version="v2",
            data_fingerprint="sha256:22",
            decision=Decision(DriftAction.RETRAIN, Rule.NO_DRIFT, "no drift", max_jobs=1),
            tuning_job=JOB,
        )
    )
    return store


def closer(trainer: Trainer, table: StateTable, calls: Callbacks, store: Any = None) -> CloseTrainingJobs:
    ledger = RunLedger(lineage=store, clock=Clock()) if store is not None else None
    return CloseTrainingJobs(
        sagemaker=trainer, tokens=table, callbacks=calls, job_prefix="amtf", ledger=ledger
    )


def test_creates_one_training_job_with_the_champions_hyperparameters_and_parks_a_training_token() -> None:
    trainer, table = Trainer(), StateTable()
    started = starter(trainer, table).start(retrain_plan(), TOKEN)
    assert started.created
    (request,) = trainer.created
    assert request["TrainingJobName"] == JOB
    assert request["HyperParameters"]["eta"] == "0.12"
    assert request["HyperParameters"]["objective"] == "binary:logistic"  # the profile's static ones stay
    tags = {t["Key"]: t["Value"] for t in request["Tags"]}
    assert tags["amtflow:purpose"] == "retrain"
    model = get_session().get_service_model("sagemaker").operation_model("CreateTrainingJob")
    assert not ParamValidator().validate(request, model.input_shape).has_errors()
    parked = table.tokens[JOB]
    assert parked.kind is JobKind.TRAINING
    assert (parked.objective_metric, parked.objective_type) == ("validation:auc", "Maximize")


def test_the_retraining_job_runs_with_the_deployments_network() -> None:
    trainer, table = Trainer(), StateTable()
    network = TrainingNetwork(isolation=True, subnets=("subnet-0a1b",), security_groups=("sg-0e3f",))
    StartTraining(
        profiles=profiles(), sagemaker=trainer, tokens=table, clock=Clock(), role_arn=ROLE, network=network
    ).start(retrain_plan(), TOKEN)
    (request,) = trainer.created
    assert request["EnableNetworkIsolation"] is True
    assert request["VpcConfig"] == {"SecurityGroupIds": ["sg-0e3f"], "Subnets": ["subnet-0a1b"]}
    model = get_session().get_service_model("sagemaker").operation_model("CreateTrainingJob")
    assert not ParamValidator().validate(request, model.input_shape).has_errors()


def test_a_retried_task_adopts_the_job_and_a_failed_create_takes_the_token_back() -> None:
    trainer, table = Trainer(), StateTable()
    starter(trainer, table).start(retrain_plan(), TOKEN)
    assert not starter(trainer, table).start(retrain_plan(), "second").created
    assert len(trainer.created) == 1
    other = Trainer()
    other.fail_create = QuotaExceededError("ResourceLimitExceeded")
    fresh = StateTable()
    with pytest.raises(QuotaExceededError):
        starter(other, fresh).start(retrain_plan(), TOKEN)
    assert fresh.tokens == {}


@pytest.mark.parametrize(
    ("changes", "field"),
    [({"action": Action.TUNE}, "plan.action"), ({"hyperparameters": {}}, "plan.hyperparameters")],
)
def test_only_a_retrain_plan_with_hyperparameters_starts_training(
    changes: dict[str, Any], field: str
) -> None:
    with pytest.raises(InvalidInputError) as e:
        starter(Trainer(), StateTable()).start(retrain_plan(**changes), TOKEN)
    assert e.value.field == field


def test_the_completed_job_succeeds_the_task_with_a_leaderboard_of_one_and_records_the_run() -> None:
    trainer, table, calls, store = Trainer(), StateTable(), Callbacks(), lineage_with_run()
    starter(trainer, table).start(retrain_plan(), TOKEN)
    trainer.finish(
        JOB, "Completed", final_metrics={"validation:auc": 0.97, "train:auc": 0.99}, training_seconds=88
    )
    result = closer(trainer, table, calls, store).on_state_change(JOB, "Completed")
    assert result.outcome.value == "succeeded"
    ((kind, token, output),) = calls.sent
    assert (kind, token) == ("success", TOKEN)
    assert output["jobName"] == JOB
    assert output["best"]["trainingJobName"] == JOB
    assert output["best"]["objectiveValue"] == 0.97
    assert output["objectiveMetric"] == "validation:auc"
    assert output["runtimeSeconds"] == 88
    run = store.get_run(MODEL, "run-2")
    assert run is not None
    assert run.outcome is RunOutcome.COMPLETED
    assert run.best_objective == 0.97
    assert run.consumed_runtime_s == 88
    # the duplicate event finds nothing to close
    assert (
        closer(trainer, table, calls, store).on_state_change(JOB, "Completed").outcome.value == "not_parked"
    )
    assert len(calls.sent) == 1


def test_a_failed_job_fails_the_task_with_its_reason_and_records_a_failed_run() -> None:
    trainer, table, calls, store = Trainer(), StateTable(), Callbacks(), lineage_with_run()
    starter(trainer, table).start(retrain_plan(), TOKEN)
    trainer.finish(JOB, "Failed", failure_reason="AlgorithmError: out of memory")
    closer(trainer, table, calls, store).on_state_change(JOB, "Failed")
    ((kind, _, (error, cause)),) = calls.sent
    assert (kind, error) == ("failure", "TrainingJobFailed")
    assert "out of memory" in cause
    run = store.get_run(MODEL, "run-2")
    assert run is not None
    assert run.outcome is RunOutcome.FAILED


@pytest.mark.parametrize(
    ("name", "status", "tuning_arn", "outcome"),
    [
        ("other-stack-job", "Completed", None, "not_ours"),
        (
            f"{JOB}-001-aaaaaaaa",
            "Completed",
            "arn:aws:sagemaker:us-east-1:1:hyper-parameter-tuning-job/x",
            "not_ours",
        ),
        (JOB, "InProgress", None, "not_terminal"),
        ("amtf-unknown-job", "Completed", None, "not_found"),
    ],
)
def test_events_that_are_not_for_a_waiting_task_change_nothing(
    name: str, status: str, tuning_arn: str | None, outcome: str
) -> None:
    trainer, table, calls = Trainer(), StateTable(), Callbacks()
    starter(trainer, table).start(retrain_plan(), TOKEN)
    assert closer(trainer, table, calls).on_state_change(name, status, tuning_arn).outcome.value == outcome
    assert calls.sent == []
    assert JOB in table.tokens


def test_an_out_of_order_event_leaves_the_token_parked() -> None:
    trainer, table, calls = Trainer(), StateTable(), Callbacks()
    starter(trainer, table).start(retrain_plan(), TOKEN)
    assert closer(trainer, table, calls).on_state_change(JOB, "Completed").outcome.value == "still_running"
    assert JOB in table.tokens


def test_a_callback_that_cannot_be_sent_keeps_the_token() -> None:
    trainer, table, calls = Trainer(), StateTable(), Callbacks(transient=True)
    starter(trainer, table).start(retrain_plan(), TOKEN)
    trainer.finish(JOB, "Completed", final_metrics={"validation:auc": 0.9})
    with pytest.raises(Exception, match="throttled"):
        closer(trainer, table, calls).on_state_change(JOB, "Completed")
    assert JOB in table.tokens


def test_the_reconciler_heartbeats_a_running_training_job_and_closes_an_ended_one() -> None:
    trainer, table, calls = Trainer(), StateTable(), Callbacks()
    starter(trainer, table).start(retrain_plan(), TOKEN)
    tuning = CloseTuningJobs(
        sagemaker=SageMaker(),
        tokens=table,
        callbacks=calls,
        clock=Clock(),
        job_prefix="amtf",
        training=closer(trainer, table, calls),
    )
    (first,) = tuning.reconcile()
    assert first.outcome.value == "heartbeat"
    trainer.finish(JOB, "Completed", final_metrics={"validation:auc": 0.9})
    (second,) = tuning.reconcile()
    assert second.outcome.value == "succeeded"
    assert [kind for kind, _, _ in calls.sent] == ["heartbeat", "success"]
    assert table.tokens == {}


def test_without_a_training_closer_the_tuning_sweep_leaves_training_tokens_alone() -> None:
    table, calls = StateTable(), Callbacks()
    table.park(ParkedJob(JOB, TOKEN, MODEL, "run-2", T0, kind=JobKind.TRAINING))
    tuning = CloseTuningJobs(
        sagemaker=SageMaker(), tokens=table, callbacks=calls, clock=Clock(), job_prefix="amtf"
    )
    (result,) = tuning.reconcile()
    assert result.outcome.value == "not_ours"
    assert calls.sent == []
    assert JOB in table.tokens


def test_the_ledger_ignores_jobs_the_run_did_not_launch() -> None:
    store = lineage_with_run()
    ledger = RunLedger(lineage=store, clock=Clock())
    parked = ParkedJob(f"{JOB}-ev-12345678", TOKEN, MODEL, "run-2", T0, kind=JobKind.TRAINING)
    assert ledger.record_end(parked, status="Completed") is False
    run = store.get_run(MODEL, "run-2")
    assert run is not None
    assert run.outcome is RunOutcome.PENDING


class SaysValidationForUnknown(Trainer):
    """SageMaker as it answers in practice: ``ValidationException`` (an ``InvalidInputError``) for a job it
    does not know, in words that say nothing about "not found"."""

    def describe_training_job(self, name: str) -> TrainingJobDetails:
        if name not in self.jobs:
            raise InvalidInputError("describing training job: AWS rejected the request (ValidationException)")
        return self.jobs[name]


def test_an_unknown_job_is_not_found_by_the_answers_type_whatever_its_words() -> None:
    trainer, table, calls = SaysValidationForUnknown(), StateTable(), Callbacks()
    starter(trainer, table).start(retrain_plan(), TOKEN)
    close = closer(trainer, table, calls)
    assert close.on_state_change("amtf-unknown-job", "Completed").outcome.value == "not_found"
    parked = table.tokens[JOB]
    del trainer.jobs[JOB]
    assert close.close_parked(parked).outcome.value == "not_found"
    assert calls.sent == []


def test_a_rejected_describe_of_a_malformed_name_is_raised_not_taken_for_not_found() -> None:
    trainer, table, calls = SaysValidationForUnknown(), StateTable(), Callbacks()
    with pytest.raises(InvalidInputError, match="ValidationException"):
        closer(trainer, table, calls).on_state_change("amtf-" + "x" * 70, "Completed")
