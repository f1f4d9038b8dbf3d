"""The deployment's events: an approved model package starts a deployment; an endpoint's state change (or
the reconciler's sweep, when that event was lost) completes the Deploy task waiting for it.

The approval event starts one execution per package: its name derives from the package ARN, so a second
event for the same package (SageMaker emits one for every later edit of an approved package, EventBridge
delivers at least once) meets ``ExecutionAlreadyExists`` and deploys nothing twice. A rejected package
starts nothing.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field

from amtflow.app._deployment_ports import (
    ENDPOINT_STATE_CHANGE,
    MODEL_PACKAGE_STATE_CHANGE,
    DeploymentOutcome,
    DeploymentResult,
    DeploymentService,
    DeploymentTokens,
    EndpointState,
    EndpointStatus,
    ParkedDeployment,
)
from amtflow.app._events import read_event
from amtflow.app._ports import CallbackOutcome, ExecutionStarter, StartOutcome, TaskCallbacks
from amtflow.errors import AmtflowError
from amtflow.naming import short_hash, slug

ERROR_ENDPOINT_GONE = "EndpointNotFound"


class ModelPackageStateChange(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)

    package_arn: str = Field(alias="ModelPackageArn", min_length=1, max_length=2048)
    group: str = Field(alias="ModelPackageGroupName", min_length=1, max_length=63)
    approval: str = Field(default="", alias="ModelApprovalStatus")
    version: int | None = Field(default=None, alias="ModelPackageVersion")


class EndpointStateChange(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)

    endpoint: str = Field(alias="EndpointName", min_length=1, max_length=63)
    status: str | None = Field(default=None, alias="EndpointStatus")


class DeploymentEventOutcome(StrEnum):
    STARTED = "started"
    DUPLICATE = "duplicate"
    NOT_APPROVED = "not_approved"
    SUCCEEDED = "succeeded"
    NOT_OURS = "not_ours"
    NOT_SETTLED = "not_settled"
    NOT_PARKED = "not_parked"
    TASK_GONE = "task_gone"
    IGNORED = "ignored"


@dataclass(frozen=True)
class DeploymentEventResult:
    subject: str
    """The package ARN or the endpoint name."""
    outcome: DeploymentEventOutcome
    reason: str


def deployment_execution_name(package_arn: str) -> str:
    """``deploy-<group>-v<version>-<hash8>`` (at most 80 characters): one execution per package."""
    tail = package_arn.rsplit("/", 2)[-2:]
    readable = slug("-v".join(tail), max_length=60)
    return f"deploy-{readable}-{short_hash('deploy', package_arn)}"


def settled_result(parked: ParkedDeployment, state: EndpointState) -> DeploymentResult:
    """What a settled endpoint means for the deployment that waits for it."""
    reason = state.failure_reason or ""
    if state.status is EndpointStatus.IN_SERVICE and state.config_name == parked.config_name:
        return DeploymentResult(
            endpoint=state.name,
            status=state.status.value,
            outcome=DeploymentOutcome.DEPLOYED,
            serving_config=state.config_name,
            replaced_failed=parked.replaced_failed,
        )
    if state.status is EndpointStatus.IN_SERVICE:
        return DeploymentResult(
            endpoint=state.name,
            status=state.status.value,
            outcome=DeploymentOutcome.ROLLED_BACK,
            serving_config=state.config_name,
            reason=reason or f"the endpoint went back to {state.config_name}",
        )
    return DeploymentResult(
        endpoint=state.name,
        status=state.status.value,
        outcome=DeploymentOutcome.FAILED,
        serving_config=state.config_name if state.status is EndpointStatus.UPDATE_ROLLBACK_FAILED else None,
        reason=reason or f"the endpoint is {state.status.value}",
        replaced_failed=parked.replaced_failed,
    )


class CloseDeployments:
    """Completes a Deploy task when its endpoint has settled: the event is a hint, the endpoint is described
    for the truth, and the token claimed atomically (a duplicated event, or the reconciler after the event,
    finds nothing). Only endpoints named with the stack's prefix are looked at."""

    def __init__(
        self,
        *,
        sagemaker: DeploymentService,
        tokens: DeploymentTokens,
        callbacks: TaskCallbacks,
        job_prefix: str,
    ) -> None:
        self._sm = sagemaker
        self._tokens = tokens
        self._callbacks = callbacks
        self._prefix = job_prefix

    def on_state_change(self, endpoint: str, status: str | None = None) -> DeploymentEventResult:
        if not endpoint.startswith(f"{self._prefix}-"):
            return DeploymentEventResult(
                endpoint, DeploymentEventOutcome.NOT_OURS, "not this stack's endpoint"
            )
        hinted = EndpointStatus.read(status) if status else None
        if hinted is not None and not hinted.settled() and hinted is not EndpointStatus.DELETING:
            return DeploymentEventResult(endpoint, DeploymentEventOutcome.NOT_SETTLED, f"status {status}")
        return self.settle(endpoint)

    def settle(self, endpoint: str) -> DeploymentEventResult:
        """Complete the task waiting for ``endpoint`` if it has settled (the sweep calls this directly)."""
        state = self._sm.describe_endpoint(endpoint)
        if state is not None and not state.status.settled():
            return DeploymentEventResult(
                endpoint, DeploymentEventOutcome.NOT_SETTLED, f"the endpoint is {state.status.value}"
            )
        parked = self._tokens.claim(endpoint)
        if parked is None:
            return DeploymentEventResult(endpoint, DeploymentEventOutcome.NOT_PARKED, "no deployment waits")
        if parked.awaiting_deletion:  # a Failed endpoint being replaced: the Deploy task's retry creates it
            self._tokens.park(parked)
            return DeploymentEventResult(
                endpoint, DeploymentEventOutcome.NOT_SETTLED, "a Failed endpoint is being replaced"
            )
        try:
            if state is None:
                cause = f"endpoint {endpoint} no longer exists (deleted during the deployment)"
                sent = self._callbacks.fail(parked.task_token, error=ERROR_ENDPOINT_GONE, cause=cause)
                reason = cause
            else:
                result = settled_result(parked, state)
                sent = self._callbacks.succeed(parked.task_token, result.to_json())
                reason = f"{result.outcome.value}: {result.reason}" if result.reason else result.outcome.value
        except AmtflowError:
            self._tokens.park(parked)
            raise
        if sent is CallbackOutcome.GONE:
            return DeploymentEventResult(
                endpoint, DeploymentEventOutcome.TASK_GONE, "the task no longer waits"
            )
        return DeploymentEventResult(endpoint, DeploymentEventOutcome.SUCCEEDED, reason)

    def sweep(self) -> Sequence[DeploymentEventResult]:
        """The reconciler: every waiting deployment whose endpoint settled while its event was lost (a Failed
        endpoint being replaced is left to the Deploy task's retry)."""
        return [
            DeploymentEventResult(
                parked.endpoint, DeploymentEventOutcome.NOT_SETTLED, "a Failed endpoint is being replaced"
            )
            if parked.awaiting_deletion
            else self.settle(parked.endpoint)
            for parked in self._tokens.parked()
        ]


class DeploymentEvents:
    """The deployment function of the events: approvals start deployments, endpoint changes close them."""

    def __init__(self, *, executions: ExecutionStarter, closer: CloseDeployments, job_prefix: str) -> None:
        self._executions = executions
        self._closer = closer
        self._prefix = job_prefix

    def on_event(self, event: object, *, account: str | None = None) -> DeploymentEventResult:
        """A malformed event raises :class:`~amtflow.errors.InvalidInputError` naming the field; one from
        another account or of another detail-type is ignored, with the reason."""
        incoming = read_event(
            event,
            account=account,
            details={
                MODEL_PACKAGE_STATE_CHANGE: ModelPackageStateChange,
                ENDPOINT_STATE_CHANGE: EndpointStateChange,
            },
        )
        if isinstance(incoming.detail, EndpointStateChange):
            return self._closer.on_state_change(incoming.detail.endpoint, incoming.detail.status)
        if isinstance(incoming.detail, ModelPackageStateChange):
            return self.on_approval(incoming.detail, event_id=incoming.event_id[:256] or None)
        return DeploymentEventResult("", DeploymentEventOutcome.IGNORED, incoming.ignored)

    def on_approval(self, change: ModelPackageStateChange, *, event_id: str | None) -> DeploymentEventResult:
        arn = change.package_arn
        if change.approval != "Approved":
            return DeploymentEventResult(
                arn, DeploymentEventOutcome.NOT_APPROVED, f"the package is {change.approval or 'unknown'}"
            )
        if not change.group.startswith(f"{self._prefix}-"):
            return DeploymentEventResult(arn, DeploymentEventOutcome.NOT_OURS, f"group {change.group}")
        request = {"packageArn": arn, "trigger": "approval", **({"eventId": event_id} if event_id else {})}
        started = self._executions.start(deployment_execution_name(arn), request)
        if started.outcome is StartOutcome.DUPLICATE:
            return DeploymentEventResult(
                arn, DeploymentEventOutcome.DUPLICATE, f"{started.name} already started"
            )
        return DeploymentEventResult(arn, DeploymentEventOutcome.STARTED, started.name)
