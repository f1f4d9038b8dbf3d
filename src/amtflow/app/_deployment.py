"""Deploying an approved champion: plan, deploy (the task parks its token), finish (lineage, notification).

- :class:`PlanDeployment` reads the approved package and the model's ``deployment`` profile section, checks
  it (the deployment preflight rules ``profiles validate`` runs: the endpoint within the stack's prefix, a
  known instance price...; and that the named alarms exist), takes the
  model's deployment lock and names the model and endpoint configuration after the package, so a retried
  task adopts what an earlier attempt created.
- :class:`DeployModel` creates the model and a new endpoint configuration, the rollback alarms, parks the
  task token under the endpoint, then creates the endpoint or updates it blue/green (canary traffic
  shifting, auto-rollback on the alarms). The endpoint's state-change event completes the task
  (:class:`~amtflow.app.CloseDeployments`). A Failed endpoint (it accepts only DeleteEndpoint) is deleted
  and, on the state machine's retry of the task once it is gone, created again with the new configuration.
- :class:`FinishDeployment` records the deployment in the lineage, deletes endpoint configurations beyond
  the ``keep_configs`` newest, and sends one notification saying what now serves, or why the previous model
  still does.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, NoReturn

from amtflow.app._deployment_ports import (
    VARIANT_NAME,
    AlarmPlan,
    CanaryPlan,
    DeploymentLedger,
    DeploymentLocks,
    DeploymentOutcome,
    DeploymentPlan,
    DeploymentRecord,
    DeploymentRequest,
    DeploymentResult,
    DeploymentService,
    DeploymentTokens,
    EndpointState,
    EndpointStatus,
    ParkedDeployment,
    RollbackAlarms,
    ServerlessPlan,
)
from amtflow.app._notify import outgoing
from amtflow.app._ports import Notification, Notifier
from amtflow.errors import (
    AmtflowError,
    EndpointReplacingError,
    InvalidInputError,
    NotFoundError,
    PreflightRejectedError,
)
from amtflow.messages import ExecutionRef, parse_document
from amtflow.naming import short_hash
from amtflow.preflight import (
    ALARM_PERIOD_S,
    PriceTable,
    default_prices,
    deployment_findings,
    endpoint_usd_per_hour,
)
from amtflow.profile import DeploymentSpec, ModelProfile
from amtflow.redaction import secrets_in
from amtflow.vocabulary import Now

logger = logging.getLogger(__name__)

APPROVED = "Approved"
MAX_EXECUTION_S = 28_800
"""``BlueGreenUpdatePolicy.MaximumExecutionTimeoutInSeconds`` at most."""
LAUNCH_MARGIN_S = 3600
"""Time for the new fleet to launch, on top of the traffic-shifting waits."""
TAG_MODEL = "amtflow:model"
TAG_PACKAGE = "amtflow:model-package"

ProfileLoader = Callable[[str], ModelProfile]

SUBJECTS = {
    DeploymentOutcome.DEPLOYED: "deployed",
    DeploymentOutcome.ROLLED_BACK: "deployment rolled back",
    DeploymentOutcome.FAILED: "deployment failed",
    DeploymentOutcome.SKIPPED: "not deployed",
}


def deployment_names(endpoint: str, package_arn: str) -> str:
    """The model and the endpoint configuration of one deployment: ``<endpoint>-<hash8>`` (at most 63),
    deterministic per endpoint and package, starting with the endpoint's (and so the stack's) prefix."""
    return f"{endpoint[:54].rstrip('-')}-{short_hash('deployment', endpoint, package_arn)}"


def deployment_timeout(spec: DeploymentSpec) -> int:
    """How long the Deploy task waits for the endpoint to come to rest: launch, the canary's bake, the
    termination wait, then a margin; never past the blue/green maximum plus the margin."""
    waits = (spec.canary.wait_s if spec.uses_canary and spec.canary else 0) + spec.termination_wait_s
    return min(MAX_EXECUTION_S, waits + LAUNCH_MARGIN_S) + LAUNCH_MARGIN_S


def alarm_names(endpoint: str) -> tuple[str, str]:
    """The rollback alarms a deployment creates for ``endpoint``: invocation errors, model latency."""
    return f"{endpoint}-invocation-5xx", f"{endpoint}-model-latency"


class PlanDeployment:
    """Decides what one approved package's deployment does (the deployment's first state)."""

    def __init__(
        self,
        *,
        sagemaker: DeploymentService,
        profiles: ProfileLoader,
        locks: DeploymentLocks,
        alarms: RollbackAlarms,
        clock: Now,
        job_prefix: str,
        prices: PriceTable | None = None,
    ) -> None:
        self._sm = sagemaker
        self._profiles = profiles
        self._locks = locks
        self._alarms = alarms
        self._clock = clock
        self._prefix = job_prefix
        self._prices = prices or default_prices()

    def plan(self, request: object, execution: ExecutionRef) -> DeploymentPlan:
        req = parse_document(DeploymentRequest, request, what="deployment request")
        try:
            package = self._sm.describe_model_package(req.package_arn)
        except NotFoundError as e:
            raise InvalidInputError(
                f"model package {req.package_arn} does not exist: approve an existing package",
                field="packageArn",
            ) from e

        def skip(reason: str, model: str = "") -> DeploymentPlan:
            return DeploymentPlan(
                action="skip", reason=reason, package_arn=req.package_arn, model=model, execution=execution
            )

        if package.approval != APPROVED:
            return skip(f"the package is {package.approval}, not Approved: nothing is deployed")
        if not package.group.startswith(f"{self._prefix}-"):
            return skip(f"the package's group {package.group} is not this stack's ({self._prefix}-*)")
        model = package.model
        if not model:
            return skip("the package names no amtflow model (no amtflow:model metadata)")
        profile = self._profiles(model)
        spec = profile.deployment
        if spec is None:
            return skip(f"the profile of {model} has no deployment section", model)
        refused = [
            f
            for f in deployment_findings(
                spec, model=model, job_prefix=self._prefix, budget=profile.budget, prices=self._prices
            )
            if f.is_error
        ]
        if refused:
            raise PreflightRejectedError("; ".join(f"{f.rule} {f.message}: {f.fix}" for f in refused))
        endpoint = spec.endpoint_name(self._prefix, model)
        cost = endpoint_usd_per_hour(spec, self._prices.with_overrides(profile.budget.prices))
        missing = self._alarms.missing(spec.alarms.names) if spec.alarms.names else ()
        if missing:
            raise PreflightRejectedError(
                f"deployment.alarms.names: no CloudWatch alarm named {', '.join(missing)}; create it first "
                "or remove it from the list (alarms.create: true makes the error and latency alarms)"
            )
        names = list(alarm_names(endpoint)) if spec.alarms.create else []
        now = self._clock()
        timeout = deployment_timeout(spec)
        lock = self._locks.acquire(
            model, execution.name, now=now, until=now + timedelta(seconds=timeout + LAUNCH_MARGIN_S)
        )
        name = deployment_names(endpoint, package.arn)
        return DeploymentPlan(
            action="deploy",
            reason=f"{package.arn} was approved",
            package_arn=package.arn,
            model=model,
            package_version=package.version,
            endpoint=endpoint,
            model_name=name,
            config_name=name,
            image=package.image,
            model_data_url=package.model_data_url,
            instance_type=spec.instance_type if spec.serverless is None else "",
            instance_count=spec.instance_count if spec.serverless is None else 0,
            serverless=(
                ServerlessPlan(
                    memory_mb=spec.serverless.memory_mb, max_concurrency=spec.serverless.max_concurrency
                )
                if spec.serverless is not None
                else None
            ),
            canary=(
                CanaryPlan(size_percent=spec.canary.size_percent, wait_s=spec.canary.wait_s)
                if spec.uses_canary and spec.canary is not None
                else None
            ),
            termination_wait_s=spec.termination_wait_s,
            alarms=AlarmPlan(
                names=[*names, *spec.alarms.names],
                create=spec.alarms.create,
                max_errors=spec.alarms.max_errors,
                max_latency_ms=spec.alarms.max_latency_ms,
            ),
            keep_configs=spec.keep_configs,
            usd_per_hour=cost,
            timeout_seconds=timeout,
            execution=execution,
            lock=lock,
            planned_at=now,
        )


def endpoint_config_request(plan: DeploymentPlan, tags: Mapping[str, str]) -> dict[str, Any]:
    variant: dict[str, Any] = {
        "VariantName": VARIANT_NAME,
        "ModelName": plan.model_name,
        "InitialVariantWeight": 1.0,
    }
    if plan.serverless is not None:
        variant["ServerlessConfig"] = {
            "MemorySizeInMB": plan.serverless.memory_mb,
            "MaxConcurrency": plan.serverless.max_concurrency,
        }
    else:
        variant["InstanceType"] = plan.instance_type
        variant["InitialInstanceCount"] = plan.instance_count
    return {
        "EndpointConfigName": plan.config_name,
        "ProductionVariants": [variant],
        "Tags": [{"Key": k, "Value": v} for k, v in tags.items()],
    }


def deployment_config(plan: DeploymentPlan) -> dict[str, Any]:
    """Blue/green: canary traffic shifting (or all at once), rolled back when an alarm trips."""
    if plan.canary is not None:
        routing: dict[str, Any] = {
            "Type": "CANARY",
            "CanarySize": {"Type": "CAPACITY_PERCENT", "Value": plan.canary.size_percent},
            "WaitIntervalInSeconds": plan.canary.wait_s,
        }
    else:
        routing = {"Type": "ALL_AT_ONCE", "WaitIntervalInSeconds": 0}
    waits = routing["WaitIntervalInSeconds"] + plan.termination_wait_s
    config: dict[str, Any] = {
        "BlueGreenUpdatePolicy": {
            "TrafficRoutingConfiguration": routing,
            "TerminationWaitInSeconds": plan.termination_wait_s,
            "MaximumExecutionTimeoutInSeconds": max(600, min(MAX_EXECUTION_S, waits + LAUNCH_MARGIN_S)),
        }
    }
    if plan.alarms.names:
        config["AutoRollbackConfiguration"] = {"Alarms": [{"AlarmName": n} for n in plan.alarms.names]}
    return config


def alarm_requests(plan: DeploymentPlan) -> list[dict[str, Any]]:
    """``PutMetricAlarm`` of the created rollback alarms: any invocation 5XX error, and model latency
    (reported in microseconds) over the limit, on the endpoint's variant, per minute."""
    if not plan.alarms.create:
        return []
    errors, latency = alarm_names(plan.endpoint)
    dimensions = [
        {"Name": "EndpointName", "Value": plan.endpoint},
        {"Name": "VariantName", "Value": VARIANT_NAME},
    ]
    common: dict[str, Any] = {
        "Namespace": "AWS/SageMaker",
        "Dimensions": dimensions,
        "Period": ALARM_PERIOD_S,
        "EvaluationPeriods": 1,
        "ComparisonOperator": "GreaterThanOrEqualToThreshold",
        "TreatMissingData": "notBreaching",
    }
    return [
        {
            **common,
            "AlarmName": errors,
            "AlarmDescription": f"amtflow rolls a deployment of {plan.endpoint} back on invocation errors",
            "MetricName": "Invocation5XXErrors",
            "Statistic": "Sum",
            "Threshold": float(plan.alarms.max_errors),
        },
        {
            **common,
            "AlarmName": latency,
            "AlarmDescription": f"amtflow rolls a deployment of {plan.endpoint} back on slow answers",
            "MetricName": "ModelLatency",
            "Statistic": "Average",
            "Threshold": plan.alarms.max_latency_ms * 1000.0,
        },
    ]


class DeployModel:
    """Creates what the plan names and starts moving the endpoint to it; the task token is parked first
    (an endpoint that settles at once still finds it). A retried task adopts the model and configuration of
    an earlier attempt and does not update an endpoint already moving to (or serving) its configuration."""

    def __init__(
        self,
        *,
        sagemaker: DeploymentService,
        alarms: RollbackAlarms,
        tokens: DeploymentTokens,
        clock: Now,
        role_arn: str,
        settle: Callable[[str], object] | None = None,
    ) -> None:
        self._sm = sagemaker
        self._alarms = alarms
        self._tokens = tokens
        self._clock = clock
        self._role_arn = role_arn
        self._settle = settle

    def deploy(self, plan: DeploymentPlan, task_token: str) -> str:
        """Returns what was done: ``created``, ``updated``, ``adopted`` or ``replaced`` (a Failed endpoint
        deleted by an earlier attempt, created again); :class:`EndpointReplacingError` while a Failed
        endpoint is being deleted (the state machine retries the task)."""
        if plan.action != "deploy" or plan.execution is None:
            raise InvalidInputError(
                "the plan does not deploy: route only action 'deploy' here", field="plan.action"
            )
        tags = {TAG_MODEL: plan.model, TAG_PACKAGE: plan.package_arn[-256:]}
        if not self._sm.model_exists(plan.model_name):
            self._sm.create_model(
                {
                    "ModelName": plan.model_name,
                    "ExecutionRoleArn": self._role_arn,
                    "PrimaryContainer": {"Image": plan.image, "ModelDataUrl": plan.model_data_url},
                    "Tags": [{"Key": k, "Value": v} for k, v in tags.items()],
                }
            )
        if not self._sm.config_exists(plan.config_name):
            self._sm.create_endpoint_config(endpoint_config_request(plan, tags))
        for request in alarm_requests(plan):
            self._alarms.put(request)
        current = self._sm.describe_endpoint(plan.endpoint)
        if current is not None and plan.config_name in (current.config_name, current.pending_config):
            self._park(plan, task_token)
            if self._settle is not None and current.status.settled():
                self._settle(plan.endpoint)
            return "adopted"
        if current is not None and current.status is EndpointStatus.FAILED:
            self._delete_failed(plan, task_token, current)
        replaced = self._replacement(plan, current)
        self._park(plan, task_token, replaced_failed=replaced)
        try:
            if current is None:
                self._sm.create_endpoint(
                    {
                        "EndpointName": plan.endpoint,
                        "EndpointConfigName": plan.config_name,
                        "Tags": [{"Key": k, "Value": v} for k, v in tags.items()],
                    }
                )
                return "created" if replaced is None else "replaced"
            if current.status is not EndpointStatus.IN_SERVICE:
                raise AmtflowError(
                    f"endpoint {plan.endpoint} is {current.status.value}: only an InService endpoint can be "
                    "updated (a Failed one is replaced); wait until it is InService and approve the package "
                    "again"
                )
            self._sm.update_endpoint(
                {
                    "EndpointName": plan.endpoint,
                    "EndpointConfigName": plan.config_name,
                    "DeploymentConfig": deployment_config(plan),
                }
            )
        except AmtflowError:
            self._tokens.claim(plan.endpoint)
            raise
        return "updated"

    def _park(self, plan: DeploymentPlan, task_token: str, **marks: Any) -> None:
        self._tokens.park(
            ParkedDeployment(
                endpoint=plan.endpoint,
                task_token=task_token,
                model=plan.model,
                execution=plan.execution.name if plan.execution is not None else "",
                config_name=plan.config_name,
                package_arn=plan.package_arn,
                parked_at=self._clock(),
                **marks,
            )
        )

    def _delete_failed(self, plan: DeploymentPlan, task_token: str, current: EndpointState) -> NoReturn:
        """A Failed endpoint accepts only DeleteEndpoint: delete it, leave a mark saying so (no task waits),
        and have the Deploy task retried (:class:`EndpointReplacingError`) until it is gone."""
        reason = current.failure_reason or "no failure reason given"
        self._park(plan, task_token, replaced_failed=reason, awaiting_deletion=True)
        try:
            self._sm.delete_endpoint(plan.endpoint)
        except AmtflowError:
            self._tokens.claim(plan.endpoint)
            raise
        raise EndpointReplacingError(
            f"endpoint {plan.endpoint} was Failed ({reason[:300]}): it is being deleted, and this deployment "
            "creates it again with the new configuration once it is gone"
        )

    def _replacement(self, plan: DeploymentPlan, current: EndpointState | None) -> str | None:
        """The failure reason of the Failed endpoint this deployment deleted, once it is gone; raises while
        it is still being deleted, and refuses an endpoint someone else is deleting."""
        if current is not None and current.status is not EndpointStatus.DELETING:
            return None
        mark = self._tokens.claim(plan.endpoint)
        execution = plan.execution.name if plan.execution is not None else ""
        if mark is None or not (
            mark.awaiting_deletion and mark.config_name == plan.config_name and mark.execution == execution
        ):
            mark = None
        if current is None:
            return mark.replaced_failed if mark is not None else None
        if mark is None:
            raise AmtflowError(
                f"endpoint {plan.endpoint} is Deleting (not by this deployment): wait until it is gone and "
                "approve the package again"
            )
        self._tokens.park(mark)
        raise EndpointReplacingError(
            f"endpoint {plan.endpoint} is still being deleted: this deployment creates it again once it is "
            "gone"
        )


def _error_reason(error: Mapping[str, Any]) -> str:
    cause = str(error.get("Cause") or "")
    return f"{error.get('Error', 'error')}: {cause}"[:1000]


@dataclass(frozen=True)
class FinishedDeployment:
    outcome: DeploymentOutcome
    record: DeploymentRecord | None = None


class FinishDeployment:
    """Records the deployment, prunes old endpoint configurations, and notifies once (redacted)."""

    def __init__(
        self,
        *,
        sagemaker: DeploymentService,
        ledger: DeploymentLedger,
        notifier: Notifier,
        clock: Now,
        profiles: ProfileLoader | None = None,
    ) -> None:
        self._sm = sagemaker
        self._ledger = ledger
        self._notifier = notifier
        self._clock = clock
        self._profiles = profiles

    def finish(self, state: Mapping[str, Any], execution: ExecutionRef) -> FinishedDeployment:
        """The outcome, and the lineage's record when a deployment was planned (none for a skipped one or
        a plan that failed)."""
        plan = parse_document(DeploymentPlan, state["plan"], what="plan") if "plan" in state else None
        error = state.get("error") if isinstance(state.get("error"), Mapping) else None
        result = (
            parse_document(DeploymentResult, state["deployment"], what="deployment")
            if isinstance(state.get("deployment"), Mapping)
            else None
        )
        now = self._clock()
        if plan is None or plan.action == "skip":
            reason = _error_reason(error) if error is not None else (plan.reason if plan else "no plan")
            package = plan.package_arn if plan else str((state.get("request") or {}).get("packageArn", "?"))
            model = plan.model if plan and plan.model else "unknown"
            outcome = DeploymentOutcome.FAILED if error is not None else DeploymentOutcome.SKIPPED
            self._notify(model, outcome, f"{package} is not deployed: {reason}", {"package": package}, reason)
            return FinishedDeployment(outcome)
        replaced = result.replaced_failed if result is not None else None
        if result is not None:
            outcome, reason, serving = result.outcome, result.reason, result.serving_config
        else:
            outcome = DeploymentOutcome.FAILED
            reason = _error_reason(error) if error is not None else "the deployment ended without a result"
            serving = None
        record = DeploymentRecord(
            model=plan.model,
            execution=execution.name,
            package_arn=plan.package_arn,
            endpoint=plan.endpoint,
            config_name=plan.config_name,
            outcome=outcome,
            reason=reason,
            started_at=plan.planned_at or now,
            ended_at=now,
            serving_config=serving,
            instance_type=plan.instance_type,
            instance_count=plan.instance_count,
            usd_per_hour=plan.usd_per_hour,
        )
        self._ledger.record(record)
        self._prune(plan, serving)
        text = self._text(plan, record)
        document = self._document(plan, record)
        if replaced is not None:
            text += f" It replaced the Failed endpoint of the same name (it had failed: {replaced[:300]})."
            document["replacedFailedEndpoint"] = replaced
        self._notify(plan.model, outcome, text, document, reason)
        return FinishedDeployment(outcome, record)

    def _prune(self, plan: DeploymentPlan, serving: str | None) -> None:
        """Keep the serving configuration, this deployment's and the ``keep_configs`` newest others."""
        try:
            configs = self._sm.endpoint_configs(f"{plan.endpoint}-")
            keep = {plan.config_name, *([serving] if serving else [])}
            others = [c for c in configs if c.name not in keep]
            for old in others[plan.keep_configs :]:
                self._sm.delete_endpoint_config(old.name)
        except AmtflowError as e:  # the deployment is done and recorded: pruning waits for the next one
            logger.warning(
                "old endpoint configurations of %s not pruned: %s", plan.endpoint, type(e).__name__
            )

    @staticmethod
    def _text(plan: DeploymentPlan, record: DeploymentRecord) -> str:
        version = f" v{plan.package_version}" if plan.package_version is not None else ""
        cost = f" at ${plan.usd_per_hour:.3f}/hour" if plan.usd_per_hour is not None else ""
        if record.outcome is DeploymentOutcome.DEPLOYED:
            where = (
                f"{plan.instance_count} x {plan.instance_type}" if plan.serverless is None else "serverless"
            )
            return (
                f"{plan.model}{version} now serves on {plan.endpoint} ({where}{cost}), "
                f"config {plan.config_name}."
            )
        if record.outcome is DeploymentOutcome.ROLLED_BACK:
            return (
                f"{plan.model}{version} was rolled back on {plan.endpoint}: {record.reason}. "
                f"The previous model still serves (config {record.serving_config or 'unknown'})."
            )
        return f"{plan.model}{version} was not deployed on {plan.endpoint}: {record.reason}"

    @staticmethod
    def _document(plan: DeploymentPlan, record: DeploymentRecord) -> dict[str, Any]:
        return {
            "package": plan.package_arn,
            "endpoint": plan.endpoint,
            "endpointConfig": plan.config_name,
            "servingConfig": record.serving_config,
            "usdPerHour": plan.usd_per_hour,
            "startedAt": record.started_at.isoformat(),
            "endedAt": record.ended_at.isoformat(),
        }

    def _notify(
        self, model: str, outcome: DeploymentOutcome, text: str, document: Mapping[str, Any], reason: str
    ) -> None:
        notification = Notification(
            subject=f"amtflow: {model} - {SUBJECTS[outcome]}",
            text=text,
            document={"model": model, "outcome": outcome.value, "reason": reason, **document},
            attributes={"model": model, "outcome": f"deployment_{outcome.value}"},
        )
        self._notifier.publish(outgoing(notification, self._secrets(model)))

    def _secrets(self, model: str) -> frozenset[str]:
        if self._profiles is None or model == "unknown":
            return frozenset()
        try:
            return secrets_in(self._profiles(model).to_document())
        except AmtflowError:
            return frozenset()
