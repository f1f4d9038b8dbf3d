"""The profile's ``deployment`` section: how an approved champion is served.

A model package approved in the stack's group (or registered as approved, with ``auto_approve``) is deployed
to one real-time endpoint: a model from the package, a new endpoint configuration per deployment, then the
endpoint created, or updated blue/green with canary traffic shifting and auto-rollback on CloudWatch alarms.
"""

from __future__ import annotations

from pydantic import Field, model_validator

from amtflow.profile._fields import _INSTANCE_TYPE, Float, Int, _fail, _Section
from amtflow.vocabulary import ENDPOINT_NAME_PATTERN

"""SageMaker's pattern for endpoint and endpoint-configuration names (at most 63 characters)."""
ALARM_NAME_MAX = 255
MAX_ROLLBACK_ALARMS = 10
"""``AutoRollbackConfiguration.Alarms`` takes 1 to 10 alarms."""


class ServerlessSpec(_Section):
    """A serverless endpoint instead of instances: memory in MB (1024-6144, a multiple of 1024) and the
    maximum number of concurrent invocations."""

    memory_mb: Int = Field(default=2048, ge=1024, le=6144)
    max_concurrency: Int = Field(default=5, ge=1, le=200)

    @model_validator(mode="after")
    def _check(self) -> ServerlessSpec:
        if self.memory_mb % 1024:
            _fail([("memory_mb", f"{self.memory_mb} is not a multiple of 1024; use 1024, 2048, ... 6144")])
        return self


class CanarySpec(_Section):
    """Blue/green canary traffic shifting: ``size_percent`` of the capacity first, for ``wait_s`` seconds
    (the alarms watch it), then the rest."""

    size_percent: Int = Field(default=10, ge=1, le=50)
    wait_s: Int = Field(default=300, ge=0, le=3600)


class AlarmSpec(_Section):
    """The CloudWatch alarms that roll a deployment back: created per endpoint (``create``: invocation
    5XX errors and model latency of the new fleet) and/or existing ones by ``names``."""

    create: bool = True
    names: list[str] = Field(default_factory=list, max_length=MAX_ROLLBACK_ALARMS)
    max_errors: Int = Field(default=1, ge=1)
    """Invocation 5XX errors in one minute that trip the created error alarm."""
    max_latency_ms: Float = Field(default=1000.0, gt=0)
    """Average model latency (milliseconds) over one minute that trips the created latency alarm."""

    @model_validator(mode="after")
    def _check(self) -> AlarmSpec:
        issues: list[tuple[str, str]] = []
        for i, name in enumerate(self.names):
            if not name or len(name) > ALARM_NAME_MAX:
                issues.append((f"names.{i}", f"an alarm name is 1 to {ALARM_NAME_MAX} characters"))
        if len(set(self.names)) != len(self.names):
            issues.append(("names", "lists an alarm twice; name each alarm once"))
        if len(self.names) + (2 if self.create else 0) > MAX_ROLLBACK_ALARMS:
            issues.append(
                ("names", f"at most {MAX_ROLLBACK_ALARMS} alarms in all (created ones count 2); drop some")
            )
        _fail(issues)
        return self


class DeploymentSpec(_Section):
    """Where and how the approved champion is served. ``endpoint`` defaults to ``<job prefix>-<model>``;
    IAM lets the stack touch only endpoints, configurations and models named with its job prefix."""

    endpoint: str | None = Field(default=None, pattern=ENDPOINT_NAME_PATTERN)
    instance_type: str = "ml.m5.large"
    instance_count: Int = Field(default=1, ge=1, le=100)
    serverless: ServerlessSpec | None = None
    canary: CanarySpec | None = CanarySpec()
    """``null``: all traffic at once (still blue/green, still rolled back by the alarms while baking)."""
    termination_wait_s: Int = Field(default=0, ge=0, le=3600)
    """How long the old fleet stays up after all traffic moved (a late alarm still rolls back)."""
    alarms: AlarmSpec = AlarmSpec()
    auto_approve: bool = False
    """Register promoted champions as ``Approved``, so they deploy without a person's approval."""
    keep_configs: Int = Field(default=2, ge=0, le=20)
    """Old endpoint configurations (and their models) kept for a manual rollback; older ones are deleted."""

    @model_validator(mode="after")
    def _check(self) -> DeploymentSpec:
        issues: list[tuple[str, str]] = []
        if not _INSTANCE_TYPE.fullmatch(self.instance_type):
            issues.append(
                ("instance_type", f"{self.instance_type!r} is not an ML instance type, e.g. ml.m5.large")
            )
        if self.serverless is not None and self.canary is not None and "canary" in self.model_fields_set:
            issues.append(
                ("canary", "serverless endpoints take no canary (traffic shifts all at once); remove canary")
            )
        if (
            self.serverless is not None
            and self.instance_count != 1
            and "instance_count" in self.model_fields_set
        ):
            issues.append(("instance_count", "serverless endpoints have no instances; remove instance_count"))
        if not self.alarms.create and not self.alarms.names and self.serverless is None:
            issues.append(
                (
                    "alarms",
                    "no alarm would watch the deployment: set alarms.create: true or list alarms.names",
                )
            )
        _fail(issues)
        return self

    def endpoint_name(self, job_prefix: str, model: str) -> str:
        """The endpoint: ``endpoint`` if set, else ``<job prefix>-<model>``."""
        return self.endpoint or f"{job_prefix}-{model}"[:63].rstrip("-")

    @property
    def uses_canary(self) -> bool:
        return self.canary is not None and self.serverless is None
