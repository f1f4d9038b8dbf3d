"""The champion's evaluation job: started once per run with its token parked, closed once when it ends."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import pytest
from app_fakes import MODEL, ROLE, Callbacks, Clock, profiles

from amtflow.app import (
    CloseChampionEvaluation,
    ParkedJob,
    StartChampionEvaluation,
    TrainingJobOutcome,
    evaluation_job,
    evaluation_job_name,
    evaluation_request,
    is_evaluation_job,
)
from amtflow.app._champion_evaluation import CloseOutcome
from amtflow.errors import ConflictError, NotFoundError, TransientError
from amtflow.lineage import Champion, ObjectiveType
from amtflow.messages import Action, ExecutionRef, Plan, Trigger
from amtflow.profile import ModelProfile, TrainingNetwork

JOB = "amtf-cancer-xgb-0badc0de"
CHAMPION = Champion(
    model=MODEL,
    tuning_job="amtf-cancer-xgb-01d01d01",
    training_job="amtf-cancer-xgb-01d01d01-007-00000007",
    hyperparameters={"eta": "0.1"},
    objective_metric="validation:auc",
    objective_type=ObjectiveType.MAXIMIZE,
    objective_value=0.97,
    dataset_version="v1",
    data_fingerprint="sha256:v1",
    model_artifact="s3://bucket/runs/cancer-xgb/old/model.tar.gz",
    training_image="xgboost:1",
    promoted_at=datetime(2026, 11, 1, tzinfo=UTC),
)
PLAN = Plan(
    model=MODEL,
    action=Action.TUNE,
    reason="test",
    trigger=Trigger.S3,
    dataset_version="v2",
    job_name=JOB,
    data_uri=f"s3://bucket/datasets/{MODEL}/v2/",
    execution=ExecutionRef(name="exec-2"),
    planned_at=datetime(2026, 11, 3, tzinfo=UTC),
)


def load(model: str, overrides: Mapping[str, Any]) -> ModelProfile:
    return profiles().get(model, overrides).profile


@dataclass
class Tokens:
    parked: dict[str, tuple[ParkedJob, int]] = field(default_factory=dict)

    def park(self, job: ParkedJob, *, expires_at: int) -> None:
        self.parked[job.job_name] = (job, expires_at)

    def claim(self, job_name: str) -> ParkedJob | None:
        entry = self.parked.pop(job_name, None)
        return entry[0] if entry else None


@dataclass
class Jobs:
    created: list[Mapping[str, Any]] = field(default_factory=list)
    outcomes: dict[str, TrainingJobOutcome] = field(default_factory=dict)
    fail_create: Exception | None = None

    def create_training_job(self, request: Mapping[str, Any]) -> str:
        if self.fail_create is not None:
            raise self.fail_create
        name = request["TrainingJobName"]
        if any(r["TrainingJobName"] == name for r in self.created):
            raise ConflictError("exists")
        self.created.append(request)
        self.outcomes.setdefault(name, TrainingJobOutcome(name, "InProgress"))
        return f"arn:aws:sagemaker:us-east-1:123456789012:training-job/{name.lower()}"

    def describe_outcome(self, name: str) -> TrainingJobOutcome:
        if name not in self.outcomes:
            raise NotFoundError(name)
        return self.outcomes[name]


def starter(jobs: Jobs, tokens: Tokens, champion: Champion | None = CHAMPION) -> StartChampionEvaluation:
    return StartChampionEvaluation(
        profiles=load,
        champions=lambda model: champion,
        sagemaker=jobs,
        tokens=tokens,
        clock=Clock(),
        role_arn=ROLE,
        output_prefix="runs/",
        data_bucket="bucket",
    )


def test_the_evaluation_job_is_named_per_run_and_champion_and_recognised() -> None:
    name = evaluation_job_name(PLAN, CHAMPION.training_job)
    assert name == evaluation_job_name(PLAN, CHAMPION.training_job)
    assert name.startswith(f"{JOB}-ev-")
    assert is_evaluation_job(name)
    assert not is_evaluation_job(f"{JOB}-001-0000abcd")
    assert evaluation_job_name(PLAN, "another") != name


def test_starting_parks_the_token_first_and_a_retried_task_adopts_the_job() -> None:
    jobs, tokens = Jobs(), Tokens()
    job = evaluation_job(PLAN, CHAMPION, load(MODEL, {}))
    started = starter(jobs, tokens).start(PLAN, job, "token-1")
    assert started.created
    (request,) = jobs.created
    assert request["OutputDataConfig"]["S3OutputPath"] == f"s3://bucket/runs/{MODEL}/{job.job_name}/"
    tags = {t["Key"]: t["Value"] for t in request["Tags"]}
    assert tags["amtflow:purpose"] == "champion-evaluation"
    parked, expires = tokens.parked[job.job_name]
    assert parked.task_token == "token-1"
    assert expires > int(Clock()().timestamp())

    again = starter(jobs, tokens).start(PLAN, job, "token-2")
    assert not again.created
    assert len(jobs.created) == 1
    assert tokens.parked[job.job_name][0].task_token == "token-2"


def test_the_evaluation_job_runs_with_the_deployments_network() -> None:
    jobs, tokens = Jobs(), Tokens()
    network = TrainingNetwork(isolation=True, subnets=("subnet-0a1b",), security_groups=("sg-0e3f",))
    job = evaluation_job(PLAN, CHAMPION, load(MODEL, {}))
    StartChampionEvaluation(
        profiles=load,
        champions=lambda model: CHAMPION,
        sagemaker=jobs,
        tokens=tokens,
        clock=Clock(),
        role_arn=ROLE,
        output_prefix="runs/",
        data_bucket="bucket",
        network=network,
    ).start(PLAN, job, "token-1")
    (request,) = jobs.created
    assert request["EnableNetworkIsolation"] is True
    assert request["VpcConfig"] == {"SecurityGroupIds": ["sg-0e3f"], "Subnets": ["subnet-0a1b"]}
    default = evaluation_request(
        load(MODEL, {}), job, hyperparameters={}, output_uri="s3://bucket/runs/x/", role_arn=ROLE, tags={}
    )
    assert "VpcConfig" not in default
    assert "EnableNetworkIsolation" not in default


def test_a_failed_creation_takes_the_token_back_and_a_changed_champion_is_a_conflict() -> None:
    jobs, tokens = Jobs(fail_create=TransientError("throttled")), Tokens()
    job = evaluation_job(PLAN, CHAMPION, load(MODEL, {}))
    with pytest.raises(TransientError):
        starter(jobs, tokens).start(PLAN, job, "token-1")
    assert tokens.parked == {}
    with pytest.raises(ConflictError, match="another run promoted a model meanwhile"):
        starter(Jobs(), Tokens(), champion=None).start(PLAN, job, "token-1")


def closer(jobs: Jobs, tokens: Tokens, callbacks: Callbacks) -> CloseChampionEvaluation:
    return CloseChampionEvaluation(sagemaker=jobs, tokens=tokens, callbacks=callbacks, job_prefix="amtf")


def parked(tokens: Tokens, name: str) -> None:
    tokens.park(ParkedJob(name, "token", MODEL, "exec-2", datetime(2026, 11, 3, tzinfo=UTC)), expires_at=1)


def test_a_completed_evaluation_job_sends_its_final_metrics_once() -> None:
    name = evaluation_job_name(PLAN, CHAMPION.training_job)
    jobs, tokens, callbacks = Jobs(), Tokens(), Callbacks()
    jobs.outcomes[name] = TrainingJobOutcome(name, "Completed", final_metrics={"validation:auc": 0.91})
    parked(tokens, name)
    first = closer(jobs, tokens, callbacks).on_state_change(name, "Completed")
    duplicate = closer(jobs, tokens, callbacks).on_state_change(name, "Completed")
    assert first.outcome is CloseOutcome.SUCCEEDED
    assert duplicate.outcome is CloseOutcome.NOT_PARKED
    (sent,) = callbacks.sent
    assert sent == (
        "success",
        "token",
        {"jobName": name, "status": "Completed", "finalMetrics": {"validation:auc": 0.91}},
    )


def test_a_failed_evaluation_job_fails_the_task_with_its_reason() -> None:
    name = evaluation_job_name(PLAN, CHAMPION.training_job)
    jobs, tokens, callbacks = Jobs(), Tokens(), Callbacks()
    jobs.outcomes[name] = TrainingJobOutcome(name, "Failed", failure_reason="AlgorithmError: no model")
    parked(tokens, name)
    result = closer(jobs, tokens, callbacks).on_state_change(name, "Failed")
    assert result.outcome is CloseOutcome.FAILED
    ((kind, token, (error, cause)),) = callbacks.sent
    assert (kind, token, error) == ("failure", "token", "EvaluationJobFailed")
    assert "AlgorithmError: no model" in json.loads(cause)["errorMessage"]


def test_trials_of_tuning_jobs_other_stacks_and_running_jobs_are_left_alone() -> None:
    name = evaluation_job_name(PLAN, CHAMPION.training_job)
    jobs, tokens, callbacks = Jobs(), Tokens(), Callbacks()
    parked(tokens, name)
    close = closer(jobs, tokens, callbacks)
    assert close.on_state_change(f"{JOB}-001-0000abcd", "Completed").outcome is CloseOutcome.NOT_OURS
    assert (
        close.on_state_change(name.replace("amtf", "othr", 1), "Completed").outcome is CloseOutcome.NOT_OURS
    )
    assert close.on_state_change(name, "InProgress").outcome is CloseOutcome.NOT_TERMINAL
    jobs.outcomes[name] = TrainingJobOutcome(name, "InProgress")
    assert close.on_state_change(name, "Completed").outcome is CloseOutcome.NOT_TERMINAL
    assert callbacks.sent == []
    assert name in tokens.parked


def test_a_callback_that_cannot_be_sent_leaves_the_token_parked_for_the_retry() -> None:
    name = evaluation_job_name(PLAN, CHAMPION.training_job)
    jobs, tokens, callbacks = Jobs(), Tokens(), Callbacks(transient=True)
    jobs.outcomes[name] = TrainingJobOutcome(name, "Completed")
    parked(tokens, name)
    with pytest.raises(TransientError):
        closer(jobs, tokens, callbacks).on_state_change(name, "Completed")
    assert name in tokens.parked
