"""StartTuning: a clean request becomes one tuning job and a parked token; a rejected one launches nothing."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import timedelta
from typing import Any

import pytest
from app_fakes import MODEL, ROLE, T0, Clock, DatasetFiles, SageMaker, StateTable, profiles
from botocore.session import get_session
from botocore.validate import ParamValidator

from amtflow.app import PlanRun, PlanSettings, StartTuning
from amtflow.drift import Action as DriftAction
from amtflow.drift import Decision, Rule
from amtflow.errors import InvalidInputError, PreflightRejectedError, QuotaExceededError
from amtflow.lineage import InMemoryLineageStore, RunRecord
from amtflow.lineage import Trigger as LineageTrigger
from amtflow.messages import ExecutionRef, Plan, WarmStartMode
from amtflow.preflight import Finding, Severity
from amtflow.profile import TrainingNetwork
from amtflow.settings import load_settings
from amtflow.wiring import job_namer, training_network

TOKEN = "token-" + "x" * 600


def a_plan(table: StateTable, **request: Any) -> Plan:
    planner = PlanRun(
        profiles=profiles(),
        datasets=type("D", (), {"latest_version": lambda self, m, k: None})(),
        locks=table,
        job_namer=job_namer("amtf"),
        clock=Clock(),
        settings=PlanSettings(data_bucket="data", role_arn=ROLE),
        lineage=InMemoryLineageStore(),
        dataset_reader=DatasetFiles(),
    )
    return planner.plan({"model": MODEL, "datasetVersion": "v1", **request}, ExecutionRef(name="exec-1"))


def starter(sm: SageMaker, table: StateTable, lint: Any = None) -> StartTuning:
    kwargs: dict[str, Any] = {"lint": lint} if lint else {}
    return StartTuning(
        profiles=profiles(), sagemaker=sm, tokens=table, clock=Clock(), role_arn=ROLE, **kwargs
    )


def test_creates_the_planned_job_with_a_request_botocore_accepts_and_parks_the_token() -> None:
    sm, table = SageMaker(), StateTable()
    plan = a_plan(table)
    started = starter(sm, table).start(plan, TOKEN)

    assert started.created
    assert started.job_name == plan.job_name
    (request,) = sm.created
    assert request["HyperParameterTuningJobName"] == plan.job_name
    assert request["TrainingJobDefinition"]["RoleArn"] == ROLE
    channels = {
        c["ChannelName"]: c["DataSource"]["S3DataSource"]["S3Uri"]
        for c in request["TrainingJobDefinition"]["InputDataConfig"]
    }
    assert channels["train"] == "s3://data/datasets/cancer-xgb/v1/train/"
    tags = {t["Key"]: t["Value"] for t in request["Tags"]}
    assert tags["amtflow:model"] == MODEL
    assert tags["amtflow:dataset-version"] == "v1"
    assert tags["amtflow:execution"] == "exec-1"
    model = get_session().get_service_model("sagemaker").operation_model("CreateHyperParameterTuningJob")
    report = ParamValidator().validate(request, model.input_shape)
    assert not report.has_errors(), report.generate_report()

    parked = table.tokens[plan.job_name or ""]
    assert parked.task_token == TOKEN
    assert parked.model == MODEL
    assert parked.execution == "exec-1"
    assert parked.parked_at == T0


def test_overrides_travel_with_the_plan_into_the_request() -> None:
    sm, table = SageMaker(), StateTable()
    plan = a_plan(table, overrides={"tuning": {"limits": {"max_jobs": 12}}})
    starter(sm, table).start(plan, TOKEN)
    assert sm.created[0]["HyperParameterTuningJobConfig"]["ResourceLimits"]["MaxNumberOfTrainingJobs"] == 12


def test_a_plan_carrying_overrides_that_lift_the_budget_launches_nothing() -> None:
    # A plan recorded before the allow-list, or a hand-written state: StartTuning checks the overrides again.
    attack = {
        "budget": {"max_usd_per_run": None, "max_usd_per_month": None, "prices": {"ml.p4d.24xlarge": 0.0001}},
        "training": {"instance_type": "ml.p4d.24xlarge"},
        "tuning": {"limits": {"max_jobs": 500, "max_parallel": 20}},
    }
    sm, table = SageMaker(), StateTable()
    plan = a_plan(table).model_copy(update={"overrides": attack})
    with pytest.raises(InvalidInputError) as e:
        starter(sm, table).start(plan, TOKEN)
    assert e.value.field == "overrides.budget.max_usd_per_run"
    assert "budget caps and prices come from the stored profile" in str(e.value)
    assert sm.created == []
    assert table.tokens == {}


def test_an_error_finding_rejects_the_job_listing_every_finding_and_launches_nothing() -> None:
    findings = [
        Finding("R001", Severity.ERROR, "ResourceLimits", "too many parallel jobs", fix="lower max_parallel"),
        Finding("R002", Severity.ERROR, "ParameterRanges.eta", "range is empty", fix="widen it"),
        Finding("B010", Severity.WARNING, "Strategy", "Grid with continuous ranges"),
    ]

    def lint(request: Mapping[str, Any]) -> list[Finding]:
        return findings

    sm, table = SageMaker(), StateTable()
    plan = a_plan(table)
    with pytest.raises(PreflightRejectedError) as e:
        starter(sm, table, lint).start(plan, TOKEN)
    message = str(e.value)
    assert "nothing was launched" in message
    assert "2 error(s)" in message
    for f in findings:
        assert f.rule in message
        assert f.message in message
    assert "Fix: lower max_parallel" in message
    assert sm.created == []
    assert table.tokens == {}


def test_warnings_alone_do_not_block_and_are_returned() -> None:
    def lint(request: Mapping[str, Any]) -> list[Finding]:
        return [Finding("B010", Severity.WARNING, "Strategy", "consider Bayesian")]

    sm, table = SageMaker(), StateTable()
    started = starter(sm, table, lint).start(a_plan(table), TOKEN)
    assert started.created
    assert any("consider Bayesian" in w for w in started.warnings)


def test_the_real_catalogue_accepts_the_example_profile() -> None:
    sm, table = SageMaker(), StateTable()
    assert starter(sm, table).start(a_plan(table), TOKEN).created


def test_a_retried_task_adopts_the_existing_job_and_parks_the_new_token() -> None:
    sm, table = SageMaker(), StateTable()
    plan = a_plan(table)
    starter(sm, table).start(plan, "first-token")
    again = starter(sm, table).start(plan, "second-token")
    assert not again.created
    assert len(sm.created) == 1
    assert table.tokens[plan.job_name or ""].task_token == "second-token"


def test_a_failed_create_unparks_the_token_and_raises_the_domain_error() -> None:
    sm, table = SageMaker(), StateTable()
    sm.fail_create = QuotaExceededError("ResourceLimitExceeded: 100 concurrent tuning jobs")
    with pytest.raises(QuotaExceededError):
        starter(sm, table).start(a_plan(table), TOKEN)
    assert table.tokens == {}


def test_a_skip_plan_cannot_start_tuning() -> None:
    table = StateTable()
    plan = a_plan(table, action="skip")
    with pytest.raises(InvalidInputError, match="only a 'tune' plan"):
        starter(SageMaker(), table).start(plan, TOKEN)


def test_an_empty_token_is_refused() -> None:
    table = StateTable()
    with pytest.raises(InvalidInputError, match="taskToken"):
        starter(SageMaker(), table).start(a_plan(table), "")


def test_a_warm_start_plan_becomes_the_requests_warm_start_config_and_budget() -> None:
    sm, table = SageMaker(), StateTable()
    plan = a_plan(table).model_copy(
        update={
            "warm_start": WarmStartMode.TRANSFER_LEARNING,
            "parents": ["amtf-cancer-xgb-0badc0de", "amtf-cancer-xgb-1badc0de"],
            "max_jobs": 15,
        }
    )
    starter(sm, table).start(plan, TOKEN)
    (request,) = sm.created
    assert request["WarmStartConfig"] == {
        "ParentHyperParameterTuningJobs": [
            {"HyperParameterTuningJobName": "amtf-cancer-xgb-0badc0de"},
            {"HyperParameterTuningJobName": "amtf-cancer-xgb-1badc0de"},
        ],
        "WarmStartType": "TransferLearning",
    }
    assert request["HyperParameterTuningJobConfig"]["ResourceLimits"]["MaxNumberOfTrainingJobs"] == 15
    model = get_session().get_service_model("sagemaker").operation_model("CreateHyperParameterTuningJob")
    assert not ParamValidator().validate(request, model.input_shape).has_errors()


def test_a_warm_start_plan_without_parents_is_refused() -> None:
    table = StateTable()
    plan = a_plan(table).model_copy(update={"warm_start": WarmStartMode.TRANSFER_LEARNING, "parents": []})
    with pytest.raises(InvalidInputError, match="without parents") as e:
        starter(SageMaker(), table).start(plan, TOKEN)
    assert e.value.field == "plan.parents"


def _spent(lineage: InMemoryLineageStore, usd: float) -> None:
    decision = Decision(DriftAction.TUNE, Rule.NO_CHAMPION, "earlier run", max_jobs=30)
    lineage.add_run(
        RunRecord(
            model=MODEL,
            run_id="earlier-run",
            started_at=T0 - timedelta(hours=1),
            trigger=LineageTrigger.S3,
            dataset_version="v0",
            data_fingerprint="sha256:00",
            decision=decision,
            cost_usd=usd,
        )
    )


def test_the_monthly_cap_bites_with_the_lineages_month_to_date_spend() -> None:
    sm, table = SageMaker(), StateTable()
    lineage = InMemoryLineageStore()
    _spent(lineage, 99.5)  # the example profile caps a month at $100
    starter_ = StartTuning(
        profiles=profiles(), sagemaker=sm, tokens=table, clock=Clock(), role_arn=ROLE, lineage=lineage
    )
    with pytest.raises(PreflightRejectedError, match="month") as e:
        starter_.start(a_plan(table), TOKEN)
    assert "nothing was launched" in str(e.value)
    assert sm.created == []


def test_last_months_spend_does_not_count() -> None:
    sm, table = SageMaker(), StateTable()
    lineage = InMemoryLineageStore()
    _spent(lineage, 99.5)
    clock = Clock(T0 + timedelta(days=40))
    starter_ = StartTuning(
        profiles=profiles(), sagemaker=sm, tokens=table, clock=clock, role_arn=ROLE, lineage=lineage
    )
    assert starter_.start(a_plan(table), TOKEN).created


NETWORK = TrainingNetwork(isolation=True, subnets=("subnet-0a1b",), security_groups=("sg-0e3f",))


def test_the_deployments_network_isolation_and_vpc_reach_the_tuning_job() -> None:
    sm, table = SageMaker(), StateTable()
    plan = a_plan(table)
    StartTuning(
        profiles=profiles(), sagemaker=sm, tokens=table, clock=Clock(), role_arn=ROLE, network=NETWORK
    ).start(plan, TOKEN)
    (request,) = sm.created
    definition = request["TrainingJobDefinition"]
    assert definition["EnableNetworkIsolation"] is True
    assert definition["VpcConfig"] == {"SecurityGroupIds": ["sg-0e3f"], "Subnets": ["subnet-0a1b"]}


def test_the_network_is_built_from_the_stack_parameters_the_settings_read() -> None:
    env = {
        "AMTFLOW_TRAINING_NETWORK_ISOLATION": "true",
        "AMTFLOW_TRAINING_SUBNET_IDS": "subnet-0a1b",
        "AMTFLOW_TRAINING_SECURITY_GROUP_IDS": "sg-0e3f",
    }
    assert training_network(load_settings(env)) == NETWORK
    assert training_network(load_settings({})) == TrainingNetwork()
