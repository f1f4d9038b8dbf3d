"""Deploying an approved champion: the documents handed between the deployment's states, and its ports.

The deployment state machine (``statemachine/deployment.asl.json``) runs PlanDeployment → Deploy (a task
token parked until the endpoint's "SageMaker Endpoint State Change" event) → FinishDeployment → release.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any, Literal, Protocol

from pydantic import BaseModel, ConfigDict, Field
from pydantic.alias_generators import to_camel

from amtflow.messages import ExecutionRef, LockRef

MODEL_PACKAGE_STATE_CHANGE = "SageMaker Model Package State Change"
ENDPOINT_STATE_CHANGE = "SageMaker Endpoint State Change"
VARIANT_NAME = "AllTraffic"
"""The one production variant; blue/green keeps its name (required for auto-rollback)."""


class EndpointStatus(StrEnum):
    """``DescribeEndpoint``'s ``EndpointStatus`` (events spell them ``IN_SERVICE``, ``UPDATING``...)."""

    OUT_OF_SERVICE = "OutOfService"
    CREATING = "Creating"
    UPDATING = "Updating"
    SYSTEM_UPDATING = "SystemUpdating"
    ROLLING_BACK = "RollingBack"
    IN_SERVICE = "InService"
    DELETING = "Deleting"
    FAILED = "Failed"
    UPDATE_ROLLBACK_FAILED = "UpdateRollbackFailed"

    @classmethod
    def read(cls, text: str) -> EndpointStatus | None:
        """An API or event spelling (``InService``, ``IN_SERVICE``); ``None`` for an unknown one."""
        squashed = text.replace("_", "").lower()
        for status in cls:
            if status.value.lower() == squashed:
                return status
        return None

    def settled(self) -> bool:
        """Whether a deployment that moved the endpoint has come to rest (served, rolled back or failed)."""
        return self in {
            EndpointStatus.IN_SERVICE,
            EndpointStatus.FAILED,
            EndpointStatus.UPDATE_ROLLBACK_FAILED,
        }


class DeploymentOutcome(StrEnum):
    DEPLOYED = "deployed"
    """The new model serves all traffic."""
    ROLLED_BACK = "rolled_back"
    """An alarm (or a failed launch of the new fleet) rolled the endpoint back: the previous model serves."""
    FAILED = "failed"
    """Nothing serves: the endpoint failed, or the deployment stopped with an error."""
    SKIPPED = "skipped"
    """Nothing to deploy (no deployment section, a package not approved, already serving)."""


class _Doc(BaseModel):
    model_config = ConfigDict(
        alias_generator=to_camel, populate_by_name=True, extra="forbid", frozen=True, use_enum_values=False
    )

    def to_json(self) -> dict[str, Any]:
        return self.model_dump(mode="json", by_alias=True, exclude_none=True)


class DeploymentRequest(_Doc):
    """The deployment execution's input: the approved package (from the approval event, or a person)."""

    package_arn: str = Field(min_length=1, max_length=2048, pattern=r"^arn:[^:]+:sagemaker:")
    trigger: Literal["approval", "manual"] = "manual"
    event_id: str | None = None


class ServerlessPlan(_Doc):
    memory_mb: int
    max_concurrency: int


class CanaryPlan(_Doc):
    size_percent: int
    wait_s: int


class AlarmPlan(_Doc):
    names: list[str] = Field(default_factory=list)
    """Every alarm that rolls the deployment back (the created ones first)."""
    create: bool = False
    max_errors: int = 1
    max_latency_ms: float = 1000.0


class DeploymentPlan(_Doc):
    """What PlanDeployment decided: ``action`` ``deploy`` (every field below set) or ``skip`` (``reason``)."""

    action: Literal["deploy", "skip"]
    reason: str
    package_arn: str
    model: str = ""
    package_version: int | None = None
    endpoint: str = ""
    model_name: str = ""
    config_name: str = ""
    image: str = ""
    model_data_url: str = ""
    instance_type: str = ""
    instance_count: int = 1
    serverless: ServerlessPlan | None = None
    canary: CanaryPlan | None = None
    termination_wait_s: int = 0
    alarms: AlarmPlan = AlarmPlan()
    keep_configs: int = 2
    usd_per_hour: float | None = None
    timeout_seconds: int = 3600
    execution: ExecutionRef | None = None
    lock: LockRef | None = None
    planned_at: datetime | None = None


class DeploymentResult(_Doc):
    """The Deploy task's output (``SendTaskSuccess``): how the endpoint came to rest."""

    endpoint: str
    status: str
    outcome: DeploymentOutcome
    serving_config: str | None = None
    reason: str = ""
    replaced_failed: str | None = None
    """The failure reason of the Failed endpoint this deployment deleted and created again, if it did."""


class PlanDeploymentInput(_Doc):
    request: Any = None
    execution: ExecutionRef


class DeployInput(_Doc):
    plan: DeploymentPlan
    task_token: str = Field(min_length=1)


class FinishDeploymentInput(_Doc):
    state: dict[str, Any]
    execution: ExecutionRef


# --- ports -----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ModelPackage:
    arn: str
    group: str
    version: int | None
    approval: str
    image: str
    model_data_url: str
    environment: Mapping[str, str] = field(default_factory=dict)
    metadata: Mapping[str, str] = field(default_factory=dict)

    @property
    def model(self) -> str | None:
        return self.metadata.get("amtflow:model")


@dataclass(frozen=True)
class EndpointState:
    name: str
    status: EndpointStatus
    config_name: str | None
    failure_reason: str | None = None
    pending_config: str | None = None
    """The configuration a deployment in progress moves to (``PendingDeploymentSummary``)."""


@dataclass(frozen=True)
class ConfigSummary:
    name: str
    created_at: datetime


class DeploymentService(Protocol):
    """SageMaker hosting: models, endpoint configurations, endpoints."""

    def describe_model_package(self, arn: str) -> ModelPackage:
        """:class:`NotFoundError` if there is no such package."""
        ...

    def model_exists(self, name: str) -> bool: ...

    def create_model(self, request: Mapping[str, Any]) -> None: ...

    def config_exists(self, name: str) -> bool: ...

    def create_endpoint_config(self, request: Mapping[str, Any]) -> None: ...

    def describe_endpoint(self, name: str) -> EndpointState | None:
        """``None`` if there is no such endpoint."""
        ...

    def create_endpoint(self, request: Mapping[str, Any]) -> None: ...

    def update_endpoint(self, request: Mapping[str, Any]) -> None: ...

    def endpoint_configs(self, prefix: str) -> Sequence[ConfigSummary]:
        """The endpoint configurations whose name starts with ``prefix``, newest first."""
        ...

    def delete_endpoint_config(self, name: str) -> None:
        """Delete the configuration and the model of the same name; one already gone is no error."""
        ...

    def delete_endpoint(self, name: str) -> None:
        """Start deleting the endpoint (it is ``Deleting``, then gone); one already gone is no error."""
        ...


class RollbackAlarms(Protocol):
    """CloudWatch alarms that roll a deployment back."""

    def missing(self, names: Sequence[str]) -> Sequence[str]:
        """The names among ``names`` that no alarm has."""
        ...

    def put(self, request: Mapping[str, Any]) -> None:
        """Create or replace one alarm (``PutMetricAlarm``)."""
        ...


@dataclass(frozen=True)
class ParkedDeployment:
    """A Deploy task waiting for its endpoint to come to rest."""

    endpoint: str
    task_token: str
    model: str
    execution: str
    config_name: str
    package_arn: str
    parked_at: datetime
    replaced_failed: str | None = None
    """The failure reason of the Failed endpoint this deployment deletes (or deleted) to create it again."""
    awaiting_deletion: bool = False
    """No task waits yet: the Failed endpoint is being deleted, and the Deploy task's retry creates it
    again once it is gone (this item carries :attr:`replaced_failed` to it)."""


class DeploymentTokens(Protocol):
    def park(self, parked: ParkedDeployment) -> None:
        """Record (or replace) the task token waiting for ``parked.endpoint``."""
        ...

    def claim(self, endpoint: str) -> ParkedDeployment | None:
        """Atomically remove and return it; ``None`` if none is parked (a duplicate or late event)."""
        ...

    def parked(self) -> Sequence[ParkedDeployment]:
        """Every waiting deployment (the reconciler's sweep)."""
        ...


class DeploymentLocks(Protocol):
    """One deployment per model at a time."""

    def acquire(self, model: str, owner: str, *, now: datetime, until: datetime) -> LockRef:
        """Take the model's deployment lock for execution ``owner`` (re-entrant; a lock held past its
        ``until`` is taken over); :class:`DeploymentBusyError` while another deployment holds it."""
        ...


@dataclass(frozen=True)
class DeploymentRecord:
    """One deployment in the model's lineage."""

    model: str
    execution: str
    package_arn: str
    endpoint: str
    config_name: str
    outcome: DeploymentOutcome
    reason: str
    started_at: datetime
    ended_at: datetime
    serving_config: str | None = None
    instance_type: str = ""
    instance_count: int = 0
    usd_per_hour: float | None = None


class DeploymentLedger(Protocol):
    def record(self, record: DeploymentRecord) -> None:
        """Write the record (a retried write replaces it: one record per execution)."""
        ...

    def deployments(self, model: str) -> Sequence[DeploymentRecord]:
        """The model's deployments, newest first."""
        ...
