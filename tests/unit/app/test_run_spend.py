"""Spend is what was spent: a run without a job adds $0 to the month, a finished one its billable time at
the prices its estimate used, a running one its estimate (in-memory ports throughout)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pytest
from app_fakes import (
    MODEL,
    ROLE,
    T0,
    Callbacks,
    Clock,
    DatasetFiles,
    Datasets,
    SageMaker,
    StateTable,
    profile_text,
    profiles,
    trial,
)
from test_training_jobs import JOB as RETRAIN_JOB
from test_training_jobs import Trainer, retrain_plan

from amtflow.app import (
    CloseTrainingJobs,
    CloseTuningJobs,
    ParkedJob,
    PlanRun,
    PlanSettings,
    RunLedger,
    StartTraining,
    StartTuning,
    TrainingJobDetails,
    TuningJobDescription,
    TuningJobStatus,
)
from amtflow.app._spend import MAX_DESCRIBED, Usage, price
from amtflow.drift import Action as DriftAction
from amtflow.drift import Decision, Rule
from amtflow.errors import InvalidInputError, PreflightRejectedError, QuotaExceededError, TransientError
from amtflow.lineage import InMemoryLineageStore, RunOutcome, RunRecord, SpendBasis, Trigger
from amtflow.messages import ExecutionRef, Plan
from amtflow.preflight import default_prices
from amtflow.wiring import job_namer

TOKEN = "token-" + "s" * 300
M5 = default_prices().price("ml.m5.xlarge") or 0.0
# The example profile caps a run at $10 and a month at $100; these instances cost ~$169 for the plan. The
# owner allows them, so a console run may pick them, and preflight's caps then refuse the run.
BIG = {"training": {"instance_type": "ml.p3.16xlarge"}}
ALLOWS_BIG = profile_text(training={"allowed_instance_types": ["ml.m5.xlarge", "ml.p3.16xlarge"]})


class Flow:
    """Plan and StartTuning over one lineage, as the state machine chains them."""

    def __init__(self, profile: str = ALLOWS_BIG) -> None:
        self.lineage = InMemoryLineageStore()
        self.table = StateTable()
        self.sm = SageMaker()
        self.planner = PlanRun(
            profiles=profiles(profile),
            datasets=Datasets({MODEL: "v1"}),
            locks=self.table,
            job_namer=job_namer("amtf"),
            clock=Clock(),
            settings=PlanSettings(data_bucket="data", role_arn=ROLE),
            lineage=self.lineage,
            dataset_reader=DatasetFiles(),
        )
        self.starter = StartTuning(
            profiles=profiles(profile),
            sagemaker=self.sm,
            tokens=self.table,
            clock=Clock(),
            role_arn=ROLE,
            lineage=self.lineage,
        )

    def plan(self, execution: str, overrides: Mapping[str, Any] | None = None) -> Plan:
        request = {"model": MODEL, "datasetVersion": "v1", "overrides": dict(overrides or {})}
        return self.planner.plan(request, ExecutionRef(name=execution))

    def run(self, plan: Plan) -> RunRecord:
        found = self.lineage.get_run(MODEL, plan.execution.name)
        assert found is not None
        return found

    def done(self, plan: Plan) -> None:
        """The execution ends: the state machine releases the model's lock."""
        self.table.release(MODEL, plan.execution.name)


def test_a_run_preflight_rejected_adds_nothing_so_the_next_plain_run_is_not_refused_by_the_monthly_cap() -> (
    None
):
    flow = Flow()
    big = flow.plan("exec-big", BIG)
    assert flow.run(big).cost_estimate_usd > 100  # more than the month's cap on its own
    with pytest.raises(PreflightRejectedError):
        flow.starter.start(big, TOKEN)
    flow.done(big)
    rejected = flow.run(big)
    assert rejected.outcome is RunOutcome.FAILED
    assert rejected.launched is False
    assert rejected.spend_basis is SpendBasis.NONE
    assert flow.lineage.month_to_date_spend(MODEL, T0) == 0.0

    plain = flow.plan("exec-plain")
    started = flow.starter.start(plain, TOKEN)
    assert started.created
    assert [r["HyperParameterTuningJobName"] for r in flow.sm.created] == [plain.job_name]
    # Launched and running: its estimate counts until its job ends.
    running = flow.run(plain)
    assert running.launched is True
    assert running.spend_basis is SpendBasis.ESTIMATE
    assert flow.lineage.month_to_date_spend(MODEL, T0) == pytest.approx(running.cost_estimate_usd)


def test_a_create_sagemaker_refuses_ends_the_run_with_nothing_spent() -> None:
    flow = Flow()
    plan = flow.plan("exec-1")
    flow.sm.fail_create = InvalidInputError("ValidationException: bad instance")
    with pytest.raises(InvalidInputError):
        flow.starter.start(plan, TOKEN)
    run = flow.run(plan)
    assert (run.outcome, run.launched, run.spend_usd) == (RunOutcome.FAILED, False, 0.0)
    assert run.finished_at == T0


def test_a_bad_profile_before_the_create_call_ends_the_run_with_nothing_spent() -> None:
    flow = Flow()
    plan = flow.plan("exec-1").model_copy(update={"overrides": {"tuning": {"limits": {"max_jobs": "many"}}}})
    with pytest.raises(InvalidInputError):
        flow.starter.start(plan, TOKEN)
    assert flow.sm.created == []
    assert flow.run(plan).spend_usd == 0.0
    assert flow.run(plan).outcome is RunOutcome.FAILED


@pytest.mark.parametrize(
    "error", [QuotaExceededError("ResourceLimitExceeded"), TransientError("ThrottlingException")]
)
def test_a_run_queued_for_quota_spends_nothing_until_a_retry_launches_it(error: Exception) -> None:
    flow = Flow()
    plan = flow.plan("exec-1")
    flow.sm.fail_create = error
    with pytest.raises(type(error)):
        flow.starter.start(plan, TOKEN)
    waiting = flow.run(plan)
    # Still pending (the state machine retries), but no job runs: nothing counts.
    assert (waiting.outcome, waiting.launched, waiting.spend_usd) == (RunOutcome.PENDING, False, 0.0)
    assert flow.starter.start(plan, TOKEN).created
    launched = flow.run(plan)
    assert launched.launched is True
    assert launched.spend_usd == launched.cost_estimate_usd > 0


def _finish_tuning(flow: Flow, plan: Plan, trials: int) -> None:
    assert plan.job_name is not None
    names = [f"{plan.job_name}-{i:03d}-0000000{i % 10}" for i in range(1, trials + 1)]
    flow.sm.trials[plan.job_name] = [trial(n, 0.9 + i / 10_000, eta="0.1") for i, n in enumerate(names)]
    flow.sm.finish(
        plan.job_name,
        TuningJobStatus.COMPLETED,
        best=flow.sm.trials[plan.job_name][-1],
        training_jobs={"Completed": trials},
        runtime_seconds=5000,
    )


def _closer(flow: Flow, *, trials: bool = True) -> CloseTuningJobs:
    return CloseTuningJobs(
        sagemaker=flow.sm,
        tokens=flow.table,
        callbacks=Callbacks(),
        clock=Clock(),
        job_prefix="amtf",
        ledger=RunLedger(lineage=flow.lineage, clock=Clock()),
        trials=flow.sm if trials else None,
    )


def test_a_finished_tuning_job_counts_its_billable_time_not_its_estimate() -> None:
    flow = Flow()
    plan = flow.plan("exec-1")
    flow.starter.start(plan, TOKEN)
    assert plan.job_name is not None
    _finish_tuning(flow, plan, 3)
    names = [t.name for t in flow.sm.trials[plan.job_name]]
    # Two trials on one instance, one (spot: already the reduced time) on two instances.
    flow.sm.billing = {names[0]: (600, "ml.m5.xlarge", 1), names[1]: (1200, "ml.m5.xlarge", 1)}
    flow.sm.billing[names[2]] = (300, "ml.m5.xlarge", 2)
    assert _closer(flow).on_state_change(plan.job_name, "Completed").outcome.value == "succeeded"

    run = flow.run(plan)
    expected = (600 + 1200 + 300 * 2) * M5 / 3600
    assert run.billable_s == 600 + 1200 + 300
    assert run.cost_usd == pytest.approx(expected, abs=1e-4)
    assert run.spend_basis is SpendBasis.ACTUAL
    assert run.cost_usd != pytest.approx(run.cost_estimate_usd)
    assert flow.lineage.month_to_date_spend(MODEL, T0) == pytest.approx(expected, abs=1e-4)


def test_a_large_tuning_job_is_priced_from_a_bounded_number_of_calls() -> None:
    flow = Flow()
    plan = flow.plan("exec-1")
    flow.starter.start(plan, TOKEN)
    assert plan.job_name is not None
    _finish_tuning(flow, plan, MAX_DESCRIBED + 50)
    _closer(flow).on_state_change(plan.job_name, "Completed")
    assert len(flow.sm.described) == MAX_DESCRIBED
    run = flow.run(plan)
    # The undescribed trials are counted at the described ones' mean (61 s each here).
    assert run.billable_s == 61 * (MAX_DESCRIBED + 50)
    assert run.cost_usd == pytest.approx(61 * (MAX_DESCRIBED + 50) * M5 / 3600, abs=1e-3)


def test_a_throttled_describe_records_the_end_and_keeps_the_estimate() -> None:
    flow = Flow()
    plan = flow.plan("exec-1")
    flow.starter.start(plan, TOKEN)
    assert plan.job_name is not None
    _finish_tuning(flow, plan, 2)
    flow.sm.describe_error = TransientError("DescribeTrainingJob was throttled")
    assert _closer(flow).on_state_change(plan.job_name, "Completed").outcome.value == "succeeded"
    run = flow.run(plan)
    assert run.outcome is RunOutcome.COMPLETED
    assert run.cost_usd is None
    assert run.spend_basis is SpendBasis.ESTIMATE
    assert run.spend_usd == run.cost_estimate_usd


def test_an_instance_type_without_a_price_keeps_the_estimate() -> None:
    flow = Flow()
    plan = flow.plan("exec-1")
    flow.starter.start(plan, TOKEN)
    assert plan.job_name is not None
    _finish_tuning(flow, plan, 1)
    (only,) = flow.sm.trials[plan.job_name]
    flow.sm.billing = {only.name: (600, "ml.unknown.xlarge", 1)}
    _closer(flow).on_state_change(plan.job_name, "Completed")
    run = flow.run(plan)
    assert (run.billable_s, run.cost_usd, run.spend_usd) == (600, None, run.cost_estimate_usd)


def test_a_running_tuning_job_counts_its_estimate() -> None:
    flow = Flow()
    plan = flow.plan("exec-1")
    flow.starter.start(plan, TOKEN)
    assert plan.job_name is not None
    assert _closer(flow).on_state_change(plan.job_name, "InProgress").outcome.value == "not_terminal"
    run = flow.run(plan)
    assert run.spend_basis is SpendBasis.ESTIMATE
    assert flow.lineage.month_to_date_spend(MODEL, T0) == pytest.approx(run.cost_estimate_usd)


def _retrain_lineage() -> InMemoryLineageStore:
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
            tuning_job=RETRAIN_JOB,
            cost_estimate_usd=0.5,
            hourly_usd={"ml.m5.xlarge": 0.25},
        )
    )
    return store


def test_a_retrain_counts_its_training_jobs_billable_time() -> None:
    trainer, table, store = Trainer(), StateTable(), _retrain_lineage()
    starter = StartTraining(
        profiles=profiles(), sagemaker=trainer, tokens=table, clock=Clock(), role_arn=ROLE, lineage=store
    )
    starter.start(retrain_plan(), TOKEN)
    assert store.get_run(MODEL, "run-2").launched is True  # type: ignore[union-attr]
    trainer.finish(
        RETRAIN_JOB,
        "Completed",
        final_metrics={"validation:auc": 0.97},
        training_seconds=900,
        billable_seconds=720,
        instance_type="ml.m5.xlarge",
        instance_count=2,
    )
    closer = CloseTrainingJobs(
        sagemaker=trainer,
        tokens=table,
        callbacks=Callbacks(),
        job_prefix="amtf",
        ledger=RunLedger(lineage=store, clock=Clock()),
    )
    closer.on_state_change(RETRAIN_JOB, "Completed")
    run = store.get_run(MODEL, "run-2")
    assert run is not None
    assert run.billable_s == 720
    assert run.cost_usd == pytest.approx(720 * 2 * 0.25 / 3600)
    assert store.month_to_date_spend(MODEL, T0) == pytest.approx(0.1)


def test_a_retrain_sagemaker_refuses_spends_nothing() -> None:
    trainer, table, store = Trainer(), StateTable(), _retrain_lineage()
    trainer.fail_create = InvalidInputError("ValidationException")
    starter = StartTraining(
        profiles=profiles(), sagemaker=trainer, tokens=table, clock=Clock(), role_arn=ROLE, lineage=store
    )
    with pytest.raises(InvalidInputError):
        starter.start(retrain_plan(), TOKEN)
    assert store.month_to_date_spend(MODEL, T0) == 0.0
    assert store.get_run(MODEL, "run-2").outcome is RunOutcome.FAILED  # type: ignore[union-attr]


def test_the_end_of_a_launched_run_is_never_undone_by_a_late_start_failure() -> None:
    store = _retrain_lineage()
    ledger = RunLedger(lineage=store, clock=Clock())
    assert ledger.record_start(MODEL, "run-2", RETRAIN_JOB, None)
    # A retried start task that is throttled after an earlier attempt created the job: still launched.
    assert not ledger.record_start(MODEL, "run-2", RETRAIN_JOB, TransientError("throttled"))
    assert store.get_run(MODEL, "run-2").launched is True  # type: ignore[union-attr]
    parked = ParkedJob(RETRAIN_JOB, TOKEN, MODEL, "run-2", T0)
    assert ledger.record_end(parked, status="Failed", training_jobs=1)
    assert not ledger.record_failure(MODEL, "run-2", RETRAIN_JOB)
    run = store.get_run(MODEL, "run-2")
    assert run is not None
    assert (run.outcome, run.launched, run.spend_usd) == (RunOutcome.FAILED, True, 0.5)


def test_a_description_of_a_tuning_job_is_enough_without_a_trial_source() -> None:
    flow = Flow()
    plan = flow.plan("exec-1")
    flow.starter.start(plan, TOKEN)
    assert plan.job_name is not None
    flow.sm.add(TuningJobDescription(name=plan.job_name, status=TuningJobStatus.STOPPED, training_jobs={}))
    _closer(flow, trials=False).on_state_change(plan.job_name, "Stopped")
    run = flow.run(plan)
    assert (run.outcome, run.cost_usd, run.spend_usd) == (RunOutcome.STOPPED, None, run.cost_estimate_usd)


class _SeenMonth:
    """The profile catalog, noting the month-to-date spend preflight is given."""

    def __init__(self) -> None:
        self.inner = profiles()
        self.seen: list[float | None] = []

    def get(self, model: str, overrides: Mapping[str, Any] | None = None) -> Any:
        spec, seen = self.inner.get(model, overrides), self.seen

        class Spy:
            def __getattr__(self, name: str) -> Any:
                return getattr(spec, name)

            def preflight(self, request: Mapping[str, Any], **kw: Any) -> Any:
                seen.append(kw.get("month_to_date_usd"))
                return spec.preflight(request, **kw)

        return Spy()

    def models(self) -> Any:
        return self.inner.models()


def test_preflight_counts_the_month_the_lineage_shows() -> None:
    flow = Flow()
    big = flow.plan("exec-big", BIG)
    with pytest.raises(PreflightRejectedError):
        flow.starter.start(big, TOKEN)
    flow.done(big)
    first = flow.plan("exec-1")
    flow.starter.start(first, TOKEN)
    assert first.job_name is not None
    _finish_tuning(flow, first, 2)
    _closer(flow).on_state_change(first.job_name, "Completed")
    flow.done(first)

    catalog = _SeenMonth()
    starter = StartTuning(
        profiles=catalog,
        sagemaker=flow.sm,
        tokens=flow.table,
        clock=Clock(),
        role_arn=ROLE,
        lineage=flow.lineage,
    )
    second = flow.plan("exec-2")
    starter.start(second, TOKEN)
    (given,) = catalog.seen
    # Preflight is given the month without this run, and its cap rule adds this run's estimate.
    assert given is not None
    shown = flow.lineage.month_to_date_spend(MODEL, T0)
    assert given + flow.run(second).cost_estimate_usd == pytest.approx(shown)
    assert shown == pytest.approx(flow.run(first).spend_usd + flow.run(second).cost_estimate_usd)
    assert flow.run(first).spend_basis is SpendBasis.ACTUAL


def test_plan_records_the_hourly_prices_its_estimate_used() -> None:
    flow = Flow(profile_text(budget={"prices": {"ml.m5.xlarge": 1.5}}))
    assert flow.run(flow.plan("exec-1")).hourly_usd == {"ml.m5.xlarge": 1.5}
    shipped = Flow()
    assert shipped.run(shipped.plan("exec-2")).hourly_usd == {"ml.m5.xlarge": M5}


def test_a_job_without_billable_time_is_billed_its_training_time_and_one_that_never_ran_nothing() -> None:
    ran = TrainingJobDetails("a", "Completed", None, None, 100, {}, instance_type="ml.m5.xlarge")
    never = TrainingJobDetails("b", "Failed", None, None, None, {}, instance_type="ml.unknown")
    cost = price(Usage(described=[ran, never], jobs=2), {"ml.m5.xlarge": 3.6})
    assert (cost.billable_s, cost.usd) == (100, pytest.approx(0.1))
