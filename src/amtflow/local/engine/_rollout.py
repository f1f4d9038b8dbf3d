"""Bringing endpoints into service and moving them to a new configuration, as SageMaker deploys.

CreateEndpoint starts a fleet (one serving process per variant) and waits for every ``/ping`` to answer
200: the endpoint is then ``InService``, or ``Failed`` with the reason when a process cannot start, dies or
never answers in time.

UpdateEndpoint is a blue/green deployment (``DeploymentConfig.BlueGreenUpdatePolicy``; none given: all at
once). The new (green) fleet is started beside the one in service (blue) and must pass its pings; traffic
then moves to it in steps (``ALL_AT_ONCE``: all; ``CANARY``: ``CanarySize``, then all; ``LINEAR``:
``LinearStepSize`` at a time), each followed by a baking period of ``WaitIntervalInSeconds`` during which
the alarms of ``AutoRollbackConfiguration`` are read and the green processes watched. An alarm in
``ALARM``, a green process that dies, or ``MaximumExecutionTimeoutInSeconds`` running out rolls the update
back: all traffic returns to the blue fleet, the green one stops, and the endpoint is ``InService`` on its
old configuration with a ``FailureReason``, as SageMaker reports an auto-rollback. Once all traffic is on
green, the endpoint is ``InService`` on the new configuration and the blue fleet stops after
``TerminationWaitInSeconds``. Waits follow the engine's clock; a process's start-up (its first ``/ping``)
runs in real time, since the process does.
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from amtflow.local import _guard
from amtflow.local.engine._endpoints import Endpoint, EndpointConfig, EndpointStatus, Fleet, Model
from amtflow.local.engine._images import ImageMap
from amtflow.local.engine._model import Clock
from amtflow.local.engine._paths import inside
from amtflow.local.engine._serving import STARTUP_SECONDS, ServingFailure, ServingProcess, unpack_model

logger = logging.getLogger(__name__)

#: Reading the alarms reaches CloudWatch only when it is served in process (moto, the twin).
ALARMS_GUARD = _guard.Scope(
    owner="the local AMT engine's deployment guardrails",
    covers=_guard.every_service,
    advice="Pass cloudwatch_client=... to amtflow.local.sagemaker(...) (a client of moto's CloudWatch, as "
    "the twin does) to have AutoRollbackConfiguration alarms read.",
)


RESTART_FAILED = (
    "The endpoint could not be served again after the local engine restarted (delete it and create it again)"
)
WATCH_SECONDS = 0.05  # how often (real time) a baking fleet's processes are looked at
ALARM_READ_SECONDS = 0.5  # how often (real time) the rollback alarms are read while baking


def traffic_steps(routing: Mapping[str, Any], green_instances: int) -> list[float]:
    """The green fleet's share of the traffic after each step of a blue/green deployment."""
    kind = routing.get("Type", "ALL_AT_ONCE")
    if kind == "ALL_AT_ONCE":
        return [1.0]
    size = routing.get("CanarySize" if kind == "CANARY" else "LinearStepSize") or {}
    value = float(size.get("Value", 0))
    step = value / 100.0 if size.get("Type") == "CAPACITY_PERCENT" else value / max(1, green_instances)
    step = min(1.0, max(step, 0.0))
    if kind == "CANARY":
        return [step, 1.0] if step < 1.0 else [1.0]
    shares, share = [], 0.0
    while share + step < 1.0 - 1e-9 and step > 0:
        share += step
        shares.append(round(share, 6))
    return [*shares, 1.0]


class Rollout:
    """Runs deployments in background threads and keeps the endpoints' records up to date."""

    def __init__(
        self,
        *,
        lock: threading.RLock,
        clock: Clock,
        image_map: ImageMap,
        root: Path,
        s3: Callable[[], Any],
        cloudwatch: Any,
        changed: Callable[[Endpoint], None],
        stop_grace_seconds: float,
        startup_seconds: float = STARTUP_SECONDS,
    ) -> None:
        self.lock = lock
        self.clock = clock
        self.image_map = image_map
        self.root = root
        self.s3 = s3
        self.cloudwatch = cloudwatch
        self.changed = changed
        self.grace = stop_grace_seconds
        self.startup_seconds = startup_seconds
        self.threads: list[threading.Thread] = []

    def start(self, target: Callable[..., None], *args: Any) -> None:
        thread = threading.Thread(target=target, args=args, daemon=True, name=f"endpoint-{args[0].name}")
        self.threads.append(thread)
        thread.start()

    # ---------------------------------------------------------------- fleets
    def start_fleet(self, endpoint: Endpoint, config: EndpointConfig, models: Mapping[str, Model]) -> Fleet:
        """Start every variant of ``config``; return once all answer ``/ping`` (:class:`ServingFailure`)."""
        images = {
            v["VariantName"]: str(models[v["ModelName"].lower()].container.get("Image", ""))
            for v in config.variants
        }
        fleet = Fleet(config, images, started=self.clock.now().timestamp())
        # a folder per deployment: an update to the configuration in service must not touch its model
        deployment = f"{config.name.lower()}-{uuid.uuid4().hex[:8]}"
        try:
            for variant in config.variants:
                name = variant["VariantName"]
                model = models[variant["ModelName"].lower()]
                container = model.container
                folder = inside(self.root.parent, self.root.name, endpoint.name.lower(), deployment, name)
                process = ServingProcess(
                    f"{name} of endpoint {endpoint.name}",
                    self.image_map.command(str(container.get("Image", "")), field="PrimaryContainer.Image"),
                    folder,
                    {str(k): str(v) for k, v in (container.get("Environment") or {}).items()},
                )
                unpack_model(container.get("ModelDataUrl"), process.model_dir, self.s3)
                fleet.processes[name] = process
                process.start()
            for variant in config.variants:
                timeout = float(variant.get("ContainerStartupHealthCheckTimeoutInSeconds") or 0)
                fleet.processes[variant["VariantName"]].wait_ready(
                    min(timeout, self.startup_seconds) if timeout else self.startup_seconds,
                    _real_monotonic,
                    _real_sleep,
                    endpoint.cancel.is_set,
                )
        except Exception:
            fleet.stop(self.grace)
            raise
        return fleet

    # ---------------------------------------------------------------- CreateEndpoint
    def create(self, endpoint: Endpoint, config: EndpointConfig, models: Mapping[str, Model]) -> None:
        self._serve(endpoint, config, models, restart=False)

    def _serve(
        self, endpoint: Endpoint, config: EndpointConfig, models: Mapping[str, Model], *, restart: bool
    ) -> None:
        """Start the endpoint's fleet and end ``InService``, or ``Failed`` with the reason it cannot start.

        On a ``restart`` the reason is prefixed to say so, and a note left on the endpoint (an update the
        restart interrupted) becomes the ``InService`` endpoint's failure reason.
        """
        try:
            fleet = self.start_fleet(endpoint, config, models)
        except Exception as e:
            reason = str(e) if isinstance(e, ServingFailure) else f"{type(e).__name__}: {e}"
            self._end(
                endpoint, EndpointStatus.FAILED, f"{RESTART_FAILED}: {reason}"[:1024] if restart else reason
            )
            return
        note = None
        with self.lock:
            if endpoint.cancel.is_set():
                fleet.stop(self.grace)
                return
            endpoint.fleet = fleet
            if restart:
                note, endpoint.failure_reason = endpoint.failure_reason, None
        self._end(endpoint, EndpointStatus.IN_SERVICE, note)

    # ---------------------------------------------------------------- a restart of the engine
    def restore(self, endpoint: Endpoint, config: EndpointConfig, models: Mapping[str, Model]) -> None:
        """Serve an endpoint kept in the state folder again: its fleet restarted from the model data, or
        the endpoint ``Failed`` with the reason it cannot be (its model data gone, say)."""
        self._serve(endpoint, config, models, restart=True)

    # ---------------------------------------------------------------- UpdateEndpoint
    def update(
        self,
        endpoint: Endpoint,
        config: EndpointConfig,
        models: Mapping[str, Model],
        deployment: Mapping[str, Any],
    ) -> None:
        policy = deployment.get("BlueGreenUpdatePolicy") or {}
        routing = policy.get("TrafficRoutingConfiguration") or {
            "Type": "ALL_AT_ONCE",
            "WaitIntervalInSeconds": 0,
        }
        alarms = [
            a["AlarmName"] for a in (deployment.get("AutoRollbackConfiguration") or {}).get("Alarms", [])
        ]
        limit = policy.get("MaximumExecutionTimeoutInSeconds")
        began = self.clock.monotonic()
        try:
            green = self.start_fleet(endpoint, config, models)
        except Exception as e:
            reason = str(e) if isinstance(e, ServingFailure) else f"{type(e).__name__}: {e}"
            self._roll_back(endpoint, None, f"The new endpoint configuration {config.name} failed: {reason}")
            return
        instances = sum(int(v.get("InitialInstanceCount", 1)) for v in config.variants)
        with self.lock:
            endpoint.pending = green
        for share in traffic_steps(routing, instances):
            with self.lock:
                endpoint.pending_share = share
                endpoint.pending_status = "Baking"
            problem = self._bake(
                endpoint, green, float(routing.get("WaitIntervalInSeconds", 0)), alarms, began, limit
            )
            if problem is not None:
                if problem:  # an empty reason: the engine is shutting down
                    logger.warning("endpoint %s: update rolled back: %s", endpoint.name, problem)
                self._roll_back(endpoint, green, problem)
                return
        with self.lock:
            blue, endpoint.fleet = endpoint.fleet, green
            endpoint.config_name = config.name
            endpoint.variants = config.variants
            endpoint.deploy(config, models)
            endpoint.deployment_config = dict(deployment) or None
            endpoint.pending, endpoint.pending_config, endpoint.pending_share = None, None, 0.0
        self._end(endpoint, EndpointStatus.IN_SERVICE, None)
        self._retire(blue, float(policy.get("TerminationWaitInSeconds", 0)), endpoint)

    def _bake(
        self,
        endpoint: Endpoint,
        green: Fleet,
        seconds: float,
        alarms: Sequence[str],
        began: float,
        limit: Any,
    ) -> str | None:
        """Watch the green fleet and the alarms for ``seconds``: a reason to roll back, or None."""
        end = self.clock.monotonic() + seconds
        next_read = 0.0
        while True:
            if endpoint.cancel.is_set():
                return ""
            died = green.died()
            if died is not None:
                return f"Rolled back: {died}."
            firing: list[str] = []
            if _real_monotonic() >= next_read or self.clock.monotonic() >= end:
                firing = self._in_alarm(alarms)
                next_read = _real_monotonic() + ALARM_READ_SECONDS
            if firing:
                return (
                    f"Rolled back: CloudWatch alarm(s) {', '.join(firing)} in ALARM state while the new "
                    f"endpoint configuration {green.config.name} was baking; all traffic is back on "
                    f"{endpoint.config_name}."
                )
            if limit is not None and self.clock.monotonic() - began > float(limit):
                return (
                    f"Rolled back: the deployment took longer than MaximumExecutionTimeoutInSeconds "
                    f"({limit}); all traffic is back on {endpoint.config_name}."
                )
            if self.clock.monotonic() >= end:
                return None
            _real_sleep(WATCH_SECONDS)

    def _in_alarm(self, alarms: Sequence[str]) -> list[str]:
        if not alarms:
            return []
        if self.cloudwatch is None:
            logger.warning("no CloudWatch client: alarms %s are not watched", ", ".join(alarms))
            return []
        try:
            with _guard.local_only(ALARMS_GUARD, this_context=True):
                found = self.cloudwatch.describe_alarms(AlarmNames=list(alarms))
        except Exception as e:  # a guardrail that cannot be read does not let the deployment through
            return [f"(cannot read the alarms: {type(e).__name__}: {e})"]
        return sorted(
            a["AlarmName"]
            for kind in ("MetricAlarms", "CompositeAlarms")
            for a in found.get(kind, [])
            if a.get("StateValue") == "ALARM"
        )

    def _roll_back(self, endpoint: Endpoint, green: Fleet | None, reason: str) -> None:
        with self.lock:
            endpoint.pending_share = 0.0
            endpoint.pending, endpoint.pending_config = None, None
        if green is not None:
            green.stop(self.grace)
        if endpoint.cancel.is_set():
            return
        self._end(endpoint, EndpointStatus.IN_SERVICE, reason)

    def _retire(self, blue: Fleet | None, wait: float, endpoint: Endpoint) -> None:
        end = self.clock.monotonic() + wait
        while self.clock.monotonic() < end and not endpoint.cancel.is_set():
            _real_sleep(WATCH_SECONDS)
        if blue is not None:
            blue.stop(self.grace)

    def _end(self, endpoint: Endpoint, status: EndpointStatus, reason: str | None) -> None:
        with self.lock:
            if endpoint.cancel.is_set():
                return
            endpoint.status = status
            endpoint.failure_reason = reason
            endpoint.last_modified_time = self.clock.now().timestamp()
            self.changed(endpoint)  # under the lock: no one sees the status before its event is queued


def _real_monotonic() -> float:
    return time.monotonic()


def _real_sleep(seconds: float) -> None:
    time.sleep(seconds)
