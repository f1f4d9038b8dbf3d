"""Deploying an approved champion, through the use cases on in-memory ports: approval starts one
deployment, the endpoint comes up or is updated by canary, an alarm rolls it back, a lost event is closed by
the sweep, a rejected package deploys nothing, and one notification tells what serves."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

import pytest
from app_fakes import ROLE, Callbacks, Clock, Executions, Notifier, profile_text, profiles
from deploy_fakes import GROUP, PREFIX, Alarms, Hosting, Ledger, Locks, Tokens, package_arn

from amtflow.app import (
    CloseDeployments,
    DeploymentEventOutcome,
    DeploymentEvents,
    DeploymentOutcome,
    DeploymentPlan,
    DeployModel,
    EndpointStatus,
    FinishDeployment,
    PlanDeployment,
    deployment_execution_name,
)
from amtflow.errors import (
    AmtflowError,
    DeploymentBusyError,
    EndpointReplacingError,
    InvalidInputError,
    PreflightRejectedError,
    TransientError,
)
from amtflow.messages import ExecutionRef
from amtflow.profile import ModelProfile

ENDPOINT = f"{PREFIX}-cancer-xgb"
ACCOUNT = "123456789012"


def approval_event(version: int, status: str = "Approved", *, event_id: str = "e-1") -> dict[str, Any]:
    return {
        "version": "0",
        "id": event_id,
        "detail-type": "SageMaker Model Package State Change",
        "source": "aws.sagemaker",
        "account": ACCOUNT,
        "time": "2026-11-01T12:00:00Z",
        "region": "us-east-1",
        "resources": [package_arn(version)],
        "detail": {
            "ModelPackageGroupName": GROUP,
            "ModelPackageVersion": version,
            "ModelPackageArn": package_arn(version),
            "ModelPackageStatus": "Completed",
            "ModelApprovalStatus": status,
        },
    }


def endpoint_event(status: str, endpoint: str = ENDPOINT) -> dict[str, Any]:
    return {
        "version": "0",
        "id": "e-endpoint",
        "detail-type": "SageMaker Endpoint State Change",
        "source": "aws.sagemaker",
        "account": ACCOUNT,
        "time": "2026-11-01T12:05:00Z",
        "region": "us-east-1",
        "resources": [],
        "detail": {"EndpointName": endpoint, "EndpointStatus": status},
    }


@dataclass
class World:
    deployment: dict[str, Any] = field(default_factory=dict)
    environment: dict[str, str] = field(default_factory=dict)
    hosting: Hosting = field(default_factory=Hosting)
    alarms: Alarms = field(default_factory=Alarms)
    tokens: Tokens = field(default_factory=Tokens)
    locks: Locks = field(default_factory=Locks)
    ledger: Ledger = field(default_factory=Ledger)
    callbacks: Callbacks = field(default_factory=Callbacks)
    notifier: Notifier = field(default_factory=Notifier)
    executions: Executions = field(default_factory=Executions)
    clock: Clock = field(default_factory=Clock)

    def profile(self, model: str) -> ModelProfile:
        sections: dict[str, Any] = {"training": {"environment": self.environment}} if self.environment else {}
        if self.deployment is not None:
            sections["deployment"] = self.deployment
        return profiles(profile_text(**sections)).get(model).profile

    @property
    def closer(self) -> CloseDeployments:
        return CloseDeployments(
            sagemaker=self.hosting, tokens=self.tokens, callbacks=self.callbacks, job_prefix=PREFIX
        )

    @property
    def events(self) -> DeploymentEvents:
        return DeploymentEvents(executions=self.executions, closer=self.closer, job_prefix=PREFIX)

    @property
    def planner(self) -> PlanDeployment:
        return PlanDeployment(
            sagemaker=self.hosting,
            profiles=self.profile,
            locks=self.locks,
            alarms=self.alarms,
            clock=self.clock,
            job_prefix=PREFIX,
        )

    @property
    def deployer(self) -> DeployModel:
        return DeployModel(
            sagemaker=self.hosting,
            alarms=self.alarms,
            tokens=self.tokens,
            clock=self.clock,
            role_arn=ROLE,
            settle=self.closer.settle,
        )

    @property
    def finisher(self) -> FinishDeployment:
        return FinishDeployment(
            sagemaker=self.hosting,
            ledger=self.ledger,
            notifier=self.notifier,
            clock=self.clock,
            profiles=self.profile,
        )

    def approve(self, version: int) -> tuple[str, DeploymentPlan]:
        self.hosting.add_package(version)
        result = self.events.on_event(approval_event(version), account=ACCOUNT)
        assert result.outcome is DeploymentEventOutcome.STARTED
        name = result.reason
        plan = self.planner.plan(self.executions.started[name], ExecutionRef(name=name, id=f"arn:{name}"))
        return name, plan

    def finish(self, name: str, plan: DeploymentPlan, **extra: Any) -> Any:
        state: dict[str, Any] = {"plan": plan.to_json(), **extra}
        if self.callbacks.sent and self.callbacks.sent[-1][0] == "success" and "deployment" not in extra:
            state["deployment"] = self.callbacks.sent[-1][2]
        record = self.finisher.finish(state, ExecutionRef(name=name)).record
        self.locks.release(plan.model, name)
        return record

    def deploy(self, version: int, **settle: Any) -> tuple[str, DeploymentPlan, Any]:
        name, plan = self.approve(version)
        self.deployer.deploy(plan, f"token-{version}")
        self.hosting.settle(ENDPOINT, **settle)
        closed = self.events.on_event(endpoint_event("IN_SERVICE"), account=ACCOUNT)
        assert closed.outcome is DeploymentEventOutcome.SUCCEEDED, closed
        return name, plan, self.finish(name, plan)


@pytest.fixture
def world() -> World:
    return World()


def test_an_approved_package_creates_the_endpoint_and_says_what_serves(world: World) -> None:
    name, plan, record = world.deploy(1)
    assert world.hosting.calls == ["CreateModel", "CreateEndpointConfig", "CreateEndpoint"]
    model = world.hosting.models[plan.model_name]
    assert model["PrimaryContainer"]["ModelDataUrl"].endswith("/v1/model.tar.gz")
    assert model["ExecutionRoleArn"] == ROLE
    assert plan.model_name.startswith(f"{ENDPOINT}-")
    assert record.outcome is DeploymentOutcome.DEPLOYED
    assert record.serving_config == plan.config_name
    assert world.ledger.deployments("cancer-xgb")[0].package_arn == package_arn(1)
    (message,) = world.notifier.published
    assert message.subject == "amtflow: cancer-xgb - deployed"
    assert message.attributes == {"model": "cancer-xgb", "outcome": "deployment_deployed"}
    assert f"now serves on {ENDPOINT} (1 x ml.m5.large at $0.115/hour)" in message.text
    assert name == deployment_execution_name(package_arn(1))


def test_a_later_champion_rolls_out_by_canary_with_rollback_alarms(world: World) -> None:
    world.deploy(1)
    _, plan, record = world.deploy(2)
    (update,) = world.hosting.updates
    policy = update["DeploymentConfig"]["BlueGreenUpdatePolicy"]
    assert policy["TrafficRoutingConfiguration"] == {
        "Type": "CANARY",
        "CanarySize": {"Type": "CAPACITY_PERCENT", "Value": 10},
        "WaitIntervalInSeconds": 300,
    }
    alarms = [a["AlarmName"] for a in update["DeploymentConfig"]["AutoRollbackConfiguration"]["Alarms"]]
    assert alarms == [f"{ENDPOINT}-invocation-5xx", f"{ENDPOINT}-model-latency"]
    assert {r["MetricName"] for r in world.alarms.put_requests} == {"Invocation5XXErrors", "ModelLatency"}
    assert record.outcome is DeploymentOutcome.DEPLOYED
    assert world.hosting.endpoints[ENDPOINT].config_name == plan.config_name


def test_a_tripped_alarm_rolls_back_and_the_notification_says_why_the_old_model_serves(world: World) -> None:
    _, first, _ = world.deploy(1)
    reason = f"Alarm {ENDPOINT}-invocation-5xx went into ALARM during baking"
    _, _, record = world.deploy(2, rollback=reason)
    assert record.outcome is DeploymentOutcome.ROLLED_BACK
    assert record.serving_config == first.config_name
    message = world.notifier.published[-1]
    assert message.subject == "amtflow: cancer-xgb - deployment rolled back"
    assert message.attributes["outcome"] == "deployment_rolled_back"
    assert reason in message.text
    assert f"previous model still serves (config {first.config_name})" in message.text


def test_a_failed_launch_is_recorded_as_failed(world: World) -> None:
    _, _, record = world.deploy(1, fail="The primary container did not pass the ping health check")
    assert record.outcome is DeploymentOutcome.FAILED
    assert "ping health check" in world.notifier.published[-1].text


def test_a_rejected_package_deploys_nothing(world: World) -> None:
    world.hosting.add_package(1, approval="Rejected")
    result = world.events.on_event(approval_event(1, "Rejected"), account=ACCOUNT)
    assert result.outcome is DeploymentEventOutcome.NOT_APPROVED
    assert world.executions.started == {}
    assert world.hosting.calls == []


def test_a_package_rejected_after_its_approval_event_is_skipped_at_plan(world: World) -> None:
    arn = world.hosting.add_package(1, approval="Rejected")
    plan = world.planner.plan({"packageArn": arn}, ExecutionRef(name="deploy-x"))
    assert plan.action == "skip"
    assert "Rejected" in plan.reason
    assert world.locks.held == {}


def test_the_same_approval_delivered_twice_starts_one_deployment(world: World) -> None:
    world.hosting.add_package(1)
    first = world.events.on_event(approval_event(1, event_id="a"), account=ACCOUNT)
    again = world.events.on_event(approval_event(1, event_id="b"), account=ACCOUNT)
    assert first.outcome is DeploymentEventOutcome.STARTED
    assert again.outcome is DeploymentEventOutcome.DUPLICATE
    assert len(world.executions.started) == 1


def test_an_approval_starts_its_deployment_with_the_package_and_the_events_id(world: World) -> None:
    arn = world.hosting.add_package(1)
    world.events.on_event(approval_event(1, event_id="e-42"), account=ACCOUNT)
    assert list(world.executions.started.values()) == [
        {"packageArn": arn, "trigger": "approval", "eventId": "e-42"}
    ]


def test_another_groups_package_and_another_accounts_event_start_nothing(world: World) -> None:
    event = approval_event(1)
    event["detail"]["ModelPackageGroupName"] = "someone-elses-models"
    assert world.events.on_event(event, account=ACCOUNT).outcome is DeploymentEventOutcome.NOT_OURS
    assert world.events.on_event(approval_event(1), account="999999999999").outcome is (
        DeploymentEventOutcome.IGNORED
    )
    assert world.executions.started == {}


def test_a_lost_endpoint_event_is_closed_by_the_sweep(world: World) -> None:
    _name, plan = world.approve(1)
    world.deployer.deploy(plan, "token-1")
    (pending,) = world.closer.sweep()
    assert pending.outcome is DeploymentEventOutcome.NOT_SETTLED
    world.hosting.settle(ENDPOINT)  # its event is lost
    (closed,) = world.closer.sweep()
    assert closed.outcome is DeploymentEventOutcome.SUCCEEDED
    assert world.callbacks.sent[-1][2]["outcome"] == "deployed"
    assert world.closer.sweep() == []
    late = world.events.on_event(endpoint_event("IN_SERVICE"), account=ACCOUNT)
    assert late.outcome is DeploymentEventOutcome.NOT_PARKED


def test_an_event_of_an_endpoint_still_updating_or_of_another_stack_is_a_no_op(world: World) -> None:
    _, plan = world.approve(1)
    world.deployer.deploy(plan, "token-1")
    assert world.events.on_event(endpoint_event("CREATING"), account=ACCOUNT).outcome is (
        DeploymentEventOutcome.NOT_SETTLED
    )
    assert world.events.on_event(endpoint_event("IN_SERVICE"), account=ACCOUNT).outcome is (
        DeploymentEventOutcome.NOT_SETTLED  # the event says so, the endpoint does not yet
    )
    other = world.events.on_event(endpoint_event("IN_SERVICE", "other-endpoint"), account=ACCOUNT)
    assert other.outcome is DeploymentEventOutcome.NOT_OURS
    assert world.callbacks.sent == []


def test_a_deleted_endpoint_fails_the_waiting_task(world: World) -> None:
    _, plan = world.approve(1)
    world.deployer.deploy(plan, "token-1")
    del world.hosting.endpoints[ENDPOINT]
    closed = world.events.on_event(endpoint_event("DELETING"), account=ACCOUNT)
    assert closed.outcome is DeploymentEventOutcome.SUCCEEDED
    assert world.callbacks.sent[-1][0] == "failure"
    assert world.callbacks.sent[-1][2][0] == "EndpointNotFound"


def test_one_deployment_per_model_at_a_time(world: World) -> None:
    world.approve(1)
    world.hosting.add_package(2)
    world.events.on_event(approval_event(2), account=ACCOUNT)
    second = deployment_execution_name(package_arn(2))
    with pytest.raises(DeploymentBusyError):
        world.planner.plan(world.executions.started[second], ExecutionRef(name=second))


def test_a_retried_deploy_task_adopts_what_the_first_attempt_created(world: World) -> None:
    world.deploy(1)
    _, plan = world.approve(2)
    world.deployer.deploy(plan, "token-2")
    assert world.deployer.deploy(plan, "token-2b") == "adopted"
    assert world.hosting.calls.count("UpdateEndpoint") == 1
    assert world.hosting.calls.count("CreateModel") == 2
    assert world.tokens.items[ENDPOINT].task_token == "token-2b"


def test_a_retry_after_the_endpoint_settled_completes_the_task_at_once(world: World) -> None:
    _, plan = world.approve(1)
    world.deployer.deploy(plan, "token-1")
    world.hosting.settle(ENDPOINT)
    assert world.deployer.deploy(plan, "token-1b") == "adopted"
    assert world.callbacks.sent[-1][:2] == ("success", "token-1b")
    assert world.tokens.items == {}


def test_old_endpoint_configurations_beyond_keep_configs_are_deleted(world: World) -> None:
    world.deployment = {"keep_configs": 1}
    plans = [world.deploy(v)[1] for v in (1, 2, 3, 4)]
    assert set(world.hosting.configs) == {plans[3].config_name, plans[2].config_name}
    assert world.hosting.deleted == [plans[0].config_name, plans[1].config_name]


def test_no_deployment_section_skips_and_says_so(world: World) -> None:
    world.deployment = None  # type: ignore[assignment]
    name, plan = world.approve(1)
    assert plan.action == "skip"
    assert world.finish(name, plan) is None
    assert "has no deployment section" in world.notifier.published[-1].text
    assert world.notifier.published[-1].attributes["outcome"] == "deployment_skipped"


@pytest.mark.parametrize(
    ("deployment", "existing", "words"),
    [
        (
            {"instance_type": "ml.zz9.huge"},
            set(),
            "deployment.instance_type 'ml.zz9.huge' has no known price",
        ),
        ({"alarms": {"names": ["churn-p99"]}}, set(), "no CloudWatch alarm named churn-p99"),
    ],
)
def test_preflight_refuses_an_unpriced_instance_or_a_missing_alarm(
    world: World, deployment: dict[str, Any], existing: set[str], words: str
) -> None:
    world.deployment = deployment
    world.alarms.existing = existing
    world.hosting.add_package(1)
    with pytest.raises(PreflightRejectedError) as info:
        world.planner.plan({"packageArn": package_arn(1)}, ExecutionRef(name="deploy-x"))
    assert words in str(info.value)
    assert world.locks.held == {}


def test_a_named_alarm_that_exists_joins_the_rollback_alarms(world: World) -> None:
    world.deployment = {"alarms": {"names": ["churn-p99"]}}
    world.alarms.existing = {"churn-p99"}
    _, plan = world.approve(1)
    assert plan.alarms.names == [f"{ENDPOINT}-invocation-5xx", f"{ENDPOINT}-model-latency", "churn-p99"]


def test_an_endpoint_outside_the_stacks_prefix_is_refused_naming_the_key(world: World) -> None:
    world.deployment = {"endpoint": "production-churn"}
    world.hosting.add_package(1)
    with pytest.raises(PreflightRejectedError) as info:
        world.planner.plan({"packageArn": package_arn(1)}, ExecutionRef(name="deploy-x"))
    assert "AMT502 deployment.endpoint 'production-churn'" in str(info.value)
    assert f"rename it '{PREFIX}-...'" in str(info.value)
    assert world.locks.held == {}


def test_a_malformed_request_names_the_field(world: World) -> None:
    with pytest.raises(InvalidInputError) as info:
        world.planner.plan({"packageArn": "not-an-arn"}, ExecutionRef(name="deploy-x"))
    assert "packageArn" in str(info.value)


def test_a_failed_update_call_leaves_no_token_parked(world: World) -> None:
    world.deploy(1)
    _, plan = world.approve(2)

    def refuse(request: Mapping[str, Any]) -> None:
        raise TransientError("throttled")

    world.hosting.update_endpoint = refuse  # type: ignore[method-assign]
    with pytest.raises(TransientError):
        world.deployer.deploy(plan, "token-2")
    assert world.tokens.items == {}


def test_the_notification_is_redacted_of_the_profiles_secrets(world: World) -> None:
    world.environment = {"API_TOKEN": "s3cr3t-value-1234"}
    _, _, record = world.deploy(1, fail="container said s3cr3t-value-1234 is wrong")
    assert record.outcome is DeploymentOutcome.FAILED
    message = world.notifier.published[-1]
    assert "s3cr3t-value-1234" not in message.text
    assert "s3cr3t-value-1234" not in str(message.document)


def test_a_deploy_task_that_failed_is_recorded_and_told(world: World) -> None:
    name, plan = world.approve(1)
    error = {"Error": "States.Timeout", "Cause": "the endpoint did not settle in time"}
    record = world.finish(name, plan, error=error)
    assert record.outcome is DeploymentOutcome.FAILED
    assert "States.Timeout" in record.reason
    assert world.notifier.published[-1].attributes["outcome"] == "deployment_failed"


def test_a_failed_endpoint_is_deleted_then_created_again_and_the_notification_says_so(world: World) -> None:
    world.deploy(1, fail="The primary container did not pass the ping health check")
    name, plan = world.approve(2)
    with pytest.raises(EndpointReplacingError) as info:
        world.deployer.deploy(plan, "token-2")
    assert ENDPOINT in str(info.value)
    assert world.hosting.calls[-1] == "DeleteEndpoint"
    assert world.hosting.endpoints[ENDPOINT].status is EndpointStatus.DELETING
    # while it is being deleted, neither its event nor the sweep fails the deployment
    assert world.events.on_event(endpoint_event("DELETING"), account=ACCOUNT).outcome is (
        DeploymentEventOutcome.NOT_SETTLED
    )
    with pytest.raises(EndpointReplacingError):
        world.deployer.deploy(plan, "token-2b")  # the state machine's retry: still Deleting
    world.hosting.gone(ENDPOINT)
    assert [r.outcome for r in world.closer.sweep()] == [DeploymentEventOutcome.NOT_SETTLED]
    late = world.events.on_event(endpoint_event("DELETING"), account=ACCOUNT)  # gone: no task to fail
    assert late.outcome is DeploymentEventOutcome.NOT_SETTLED
    assert world.tokens.items[ENDPOINT].awaiting_deletion
    assert world.callbacks.sent == [world.callbacks.sent[0]]  # only the first deployment's
    assert world.deployer.deploy(plan, "token-2c") == "replaced"
    assert world.hosting.endpoints[ENDPOINT].config_name == plan.config_name
    world.hosting.settle(ENDPOINT)
    closed = world.events.on_event(endpoint_event("IN_SERVICE"), account=ACCOUNT)
    assert closed.outcome is DeploymentEventOutcome.SUCCEEDED
    assert world.callbacks.sent[-1][:2] == ("success", "token-2c")
    record = world.finish(name, plan)
    assert record.outcome is DeploymentOutcome.DEPLOYED
    message = world.notifier.published[-1]
    assert message.attributes["outcome"] == "deployment_deployed"
    assert "replaced the Failed endpoint" in message.text
    assert "ping health check" in message.text
    assert message.document["replacedFailedEndpoint"].startswith("The primary container")
    assert world.tokens.items == {}


def test_an_endpoint_deleted_by_someone_else_is_refused_and_no_token_is_left(world: World) -> None:
    world.deploy(1)
    _, plan = world.approve(2)
    world.hosting.delete_endpoint(ENDPOINT)
    with pytest.raises(AmtflowError) as info:
        world.deployer.deploy(plan, "token-2")
    assert not isinstance(info.value, EndpointReplacingError)
    assert "Deleting" in str(info.value)
    assert world.tokens.items == {}


@pytest.mark.parametrize(
    "status", [EndpointStatus.CREATING, EndpointStatus.UPDATING, EndpointStatus.ROLLING_BACK]
)
def test_an_endpoint_still_moving_is_refused_clearly_and_no_token_is_left(
    world: World, status: EndpointStatus
) -> None:
    world.deploy(1)
    _, plan = world.approve(2)
    world.hosting.endpoints[ENDPOINT] = replace(world.hosting.endpoints[ENDPOINT], status=status)
    with pytest.raises(AmtflowError) as info:
        world.deployer.deploy(plan, "token-2")
    assert not isinstance(info.value, EndpointReplacingError)
    assert f"is {status.value}" in str(info.value)
    assert "DeleteEndpoint" not in world.hosting.calls
    assert world.tokens.items == {}


def test_an_abandoned_replacement_mark_is_not_taken_for_a_later_deployments(world: World) -> None:
    world.deploy(1, fail="boom")
    name, plan = world.approve(2)
    with pytest.raises(EndpointReplacingError):
        world.deployer.deploy(plan, "token-2")
    world.hosting.gone(ENDPOINT)
    world.finish(name, plan, error={"Error": "EndpointReplacingError", "Cause": "still deleting"})
    _, third = world.approve(3)
    assert world.deployer.deploy(third, "token-3") == "created"
    assert world.tokens.items[ENDPOINT].replaced_failed is None
