"""CloseTuningJobs: a terminal job completes its task exactly once; a stale event is a no-op with a reason."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from app_fakes import MODEL, T0, Callbacks, Clock, SageMaker, StateTable, trial

from amtflow.app import CloseOutcome, CloseTuningJobs, ParkedJob, TuningJobDescription, TuningJobStatus
from amtflow.errors import TransientError
from amtflow.messages import TuningResult

JOB = "amtf-cancer-xgb-0badc0de"


def setup(
    status: TuningJobStatus = TuningJobStatus.COMPLETED, **changes: object
) -> tuple[CloseTuningJobs, SageMaker, StateTable, Callbacks, Clock]:
    sm, table, callbacks, clock = SageMaker(), StateTable(), Callbacks(), Clock()
    best = trial(f"{JOB}-002-00000002", 0.95, eta="0.2")
    sm.add(
        TuningJobDescription(
            name=JOB,
            status=status,
            objective_metric="validation:auc",
            objective_type="Maximize",
            best=best if status is TuningJobStatus.COMPLETED else None,
            training_jobs={"Completed": 3},
            runtime_seconds=754,
            **changes,  # type: ignore[arg-type]
        )
    )
    table.park(ParkedJob(JOB, "token-1", MODEL, "exec-1", T0))
    closer = CloseTuningJobs(sagemaker=sm, tokens=table, callbacks=callbacks, clock=clock, job_prefix="amtf")
    return closer, sm, table, callbacks, clock


def test_a_completed_job_succeeds_the_task_with_the_best_job_and_counters() -> None:
    closer, _, table, callbacks, _ = setup()
    result = closer.on_state_change(JOB, "Completed")
    assert result.outcome is CloseOutcome.SUCCEEDED
    ((kind, token, output),) = callbacks.sent
    assert (kind, token) == ("success", "token-1")
    tuning = TuningResult.model_validate(output)
    assert tuning.best is not None
    assert tuning.best.objective_value == 0.95
    assert tuning.runtime_seconds == 754
    assert tuning.training_jobs == {"Completed": 3}
    assert table.tokens == {}


@pytest.mark.parametrize(
    ("status", "error"),
    [(TuningJobStatus.FAILED, "TuningJobFailed"), (TuningJobStatus.STOPPED, "TuningJobStopped")],
)
def test_a_failed_or_stopped_job_fails_the_task_with_its_reason(status: TuningJobStatus, error: str) -> None:
    closer, _, _, callbacks, _ = setup(status, failure_reason="AlgorithmError: exit code 1")
    assert closer.on_state_change(JOB, status.value).outcome is CloseOutcome.FAILED
    ((kind, _, (sent_error, cause)),) = callbacks.sent
    assert kind == "failure"
    assert sent_error == error
    parsed = json.loads(cause)
    assert parsed["errorType"] == error
    assert "AlgorithmError: exit code 1" in parsed["errorMessage"]


def test_the_failure_reason_copied_into_the_cause_is_redacted_and_bounded() -> None:
    reason = "AlgorithmError: S3 denied AKIAIOSFODNN7EXAMPLE; password=hunter2-Sup3r " + "x" * 50_000
    closer, _, _, callbacks, _ = setup(TuningJobStatus.FAILED, failure_reason=reason)
    closer.on_state_change(JOB, "Failed")
    ((_, _, (_, cause)),) = callbacks.sent
    message = json.loads(cause)["errorMessage"]
    assert "AlgorithmError: S3 denied ***; password=***" in message
    assert "AKIAIOSFODNN7EXAMPLE" not in cause
    assert "hunter2-Sup3r" not in cause
    assert len(message) <= 4000


def test_a_duplicated_event_completes_the_task_once() -> None:
    closer, _, _, callbacks, _ = setup()
    closer.on_state_change(JOB, "Completed")
    second = closer.on_state_change(JOB, "Completed")
    assert second.outcome is CloseOutcome.NOT_PARKED
    assert len(callbacks.sent) == 1


def test_a_job_of_someone_else_is_ignored_without_a_call() -> None:
    closer, _sm, _, callbacks, _ = setup()
    assert closer.on_state_change("other-team-job", "Completed").outcome is CloseOutcome.NOT_OURS
    assert callbacks.sent == []


def test_a_non_terminal_status_is_ignored() -> None:
    closer, _, table, callbacks, _ = setup()
    assert closer.on_state_change(JOB, "InProgress").outcome is CloseOutcome.NOT_TERMINAL
    assert callbacks.sent == []
    assert JOB in table.tokens


def test_an_out_of_order_event_trusts_the_jobs_description() -> None:
    closer, _, table, callbacks, _ = setup(TuningJobStatus.IN_PROGRESS)
    assert closer.on_state_change(JOB, "Completed").outcome is CloseOutcome.STILL_RUNNING
    assert callbacks.sent == []
    assert JOB in table.tokens


def test_a_task_that_no_longer_waits_is_a_no_op() -> None:
    closer, _, table, callbacks, _ = setup()
    callbacks.gone.add("token-1")
    assert closer.on_state_change(JOB, "Completed").outcome is CloseOutcome.TASK_GONE
    assert table.tokens == {}


def test_a_throttled_callback_re_parks_the_token_so_a_retry_can_close_it() -> None:
    closer, _, table, callbacks, _ = setup()
    callbacks.transient = True
    with pytest.raises(TransientError):
        closer.on_state_change(JOB, "Completed")
    assert table.tokens[JOB].task_token == "token-1"
    callbacks.transient = False
    assert closer.on_state_change(JOB, "Completed").outcome is CloseOutcome.SUCCEEDED


def test_reconcile_heartbeats_running_jobs_and_closes_ended_ones() -> None:
    closer, sm, table, callbacks, _ = setup(TuningJobStatus.IN_PROGRESS)
    (result,) = closer.reconcile()
    assert result.outcome is CloseOutcome.HEARTBEAT
    assert callbacks.sent == [("heartbeat", "token-1", None)]

    sm.finish(JOB, TuningJobStatus.COMPLETED, best=trial("best", 0.9))
    (result,) = closer.reconcile()
    assert result.outcome is CloseOutcome.SUCCEEDED
    assert table.tokens == {}
    assert closer.reconcile() == []


def test_reconcile_cleans_up_a_token_whose_task_is_gone() -> None:
    closer, _, table, callbacks, _ = setup(TuningJobStatus.IN_PROGRESS)
    callbacks.gone.add("token-1")
    (result,) = closer.reconcile()
    assert result.outcome is CloseOutcome.TASK_GONE
    assert table.tokens == {}


def test_reconcile_fails_a_job_that_never_appeared_only_after_a_grace_period() -> None:
    closer, sm, table, callbacks, clock = setup()
    del sm.jobs[JOB]
    clock.advance(minutes=5)
    assert closer.reconcile()[0].outcome is CloseOutcome.NOT_FOUND
    assert JOB in table.tokens
    clock.now = T0 + timedelta(minutes=16)
    assert closer.reconcile()[0].outcome is CloseOutcome.FAILED
    ((kind, _, (error, _)),) = callbacks.sent
    assert (kind, error) == ("failure", "TuningJobNotFound")
    assert table.tokens == {}


def test_one_failing_job_does_not_stop_the_sweep() -> None:
    closer, _, table, callbacks, _ = setup()
    table.park(ParkedJob("amtf-other-00000000", "token-2", MODEL, "exec-2", T0 - timedelta(hours=1)))
    callbacks.transient = True
    results = closer.reconcile()
    assert sorted(r.job_name for r in results) == sorted([JOB, "amtf-other-00000000"])
    assert all(r.outcome is CloseOutcome.ERROR and "throttled" in r.reason for r in results)
    assert set(table.tokens) == {JOB, "amtf-other-00000000"}


def test_reconcile_stops_a_job_whose_run_no_longer_waits_and_says_so() -> None:
    """An execution aborted from the console, or timed out past the job's limits plus the margin, leaves its
    job running with nobody waiting: the sweep stops it instead of letting it burn money unattended."""
    _, sm, table, callbacks, clock = setup(TuningJobStatus.IN_PROGRESS)
    stopped: list[str] = []
    closer = CloseTuningJobs(
        sagemaker=sm,
        tokens=table,
        callbacks=callbacks,
        clock=clock,
        job_prefix="amtf",
        stop_job=stopped.append,
    )
    callbacks.gone.add("token-1")
    (result,) = closer.reconcile()
    assert result.outcome is CloseOutcome.STOPPED_ORPHAN
    assert "exec-1" in result.reason
    assert "stopped" in result.reason
    assert stopped == [JOB]
    assert table.tokens == {}
    assert closer.reconcile() == []  # reported once


def test_reconcile_never_stops_a_job_whose_run_still_waits() -> None:
    _, sm, table, callbacks, clock = setup(TuningJobStatus.IN_PROGRESS)
    stopped: list[str] = []
    closer = CloseTuningJobs(
        sagemaker=sm,
        tokens=table,
        callbacks=callbacks,
        clock=clock,
        job_prefix="amtf",
        stop_job=stopped.append,
    )
    (result,) = closer.reconcile()
    assert result.outcome is CloseOutcome.HEARTBEAT
    assert stopped == []
