"""Plan: resolve the profile, decide the action, take the per-model lock."""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from amtflow.app._ports import Clock, DatasetCatalog, LockStore, ModelSpec, ProfileCatalog
from amtflow.errors import InvalidInputError
from amtflow.messages import (
    Action,
    ExecutionRef,
    LockRef,
    Plan,
    RequestedAction,
    RunRequest,
    parse_run_request,
)

JobNamer = Callable[[str, str, str], str]
"""``(model, dataset_version, attempt) -> tuning job name`` (see :mod:`amtflow.naming`)."""

# A tuning job may run for 30 days; the callback waits a little longer so a late event still lands.
MAX_TUNING_SECONDS = 30 * 24 * 3600
CALLBACK_MARGIN_SECONDS = 3600
# The reconciler sends heartbeats while a job runs; a task that hears nothing for this long fails.
MAX_HEARTBEAT_SECONDS = 6 * 3600
DEFAULT_TRIAL_SECONDS = 24 * 3600


def decide_action(request: RunRequest, spec: ModelSpec) -> tuple[Action, str]:
    """The planner's decision and its reason.

    The one place the decision is made: for ``auto`` every run is a cold-start tuning job for now; the
    drift-aware decision (skip / retrain / warm start) replaces the body of this function.
    """
    if request.action is RequestedAction.SKIP:
        return Action.SKIP, "the run request asked to skip"
    if request.action is RequestedAction.TUNE:
        return Action.TUNE, "the run request asked to tune (cold start)"
    if request.action is RequestedAction.RETRAIN:
        raise InvalidInputError(
            "action 'retrain' is not available yet: use 'tune' (or 'auto') to start a tuning job",
            field="action",
        )
    if request.drift is not None:
        return Action.TUNE, f"drift of severity '{request.drift.severity}' reported: cold-start tuning"
    return Action.TUNE, f"new data for {spec.model}: cold-start tuning"


def callback_timeouts(request: Mapping[str, Any]) -> tuple[int, int]:
    """``(TimeoutSeconds, HeartbeatSeconds)`` for the task that waits for a tuning job.

    The job's own limits bound it: the tuning job's ``MaxRuntimeInSeconds`` when set, otherwise waves of
    parallel trials times the longest a trial may take (``MaxWaitTimeInSeconds`` for spot).
    """
    config = request.get("HyperParameterTuningJobConfig") or {}
    limits = config.get("ResourceLimits") or {}
    tuning_seconds = limits.get("MaxRuntimeInSeconds")
    if not tuning_seconds:
        definitions = list(request.get("TrainingJobDefinitions") or [])
        if request.get("TrainingJobDefinition"):
            definitions.append(request["TrainingJobDefinition"])
        per_trial = 0
        for definition in definitions:
            stopping = definition.get("StoppingCondition") or {}
            per_trial = max(
                per_trial,
                int(stopping.get("MaxWaitTimeInSeconds") or stopping.get("MaxRuntimeInSeconds") or 0),
            )
        per_trial = per_trial or DEFAULT_TRIAL_SECONDS
        max_jobs = int(limits.get("MaxNumberOfTrainingJobs") or 1)
        parallel = max(1, int(limits.get("MaxParallelTrainingJobs") or 1))
        tuning_seconds = math.ceil(max_jobs / parallel) * per_trial
    tuning_seconds = min(int(tuning_seconds), MAX_TUNING_SECONDS)
    timeout = tuning_seconds + CALLBACK_MARGIN_SECONDS
    heartbeat = min(MAX_HEARTBEAT_SECONDS, timeout - 1)
    return timeout, heartbeat


@dataclass(frozen=True)
class PlanSettings:
    data_bucket: str
    role_arn: str
    datasets_prefix: str = "datasets/"
    output_prefix: str = "runs/"

    def datasets_uri(self, model: str) -> str:
        return f"s3://{self.data_bucket}/{self.datasets_prefix}{model}/"


class PlanRun:
    """Turns a run request into a :class:`Plan`.

    Call order: :meth:`plan` once per execution (a retried invocation with the same execution name is
    harmless: the lock is re-entrant for its owner and every name is deterministic).
    """

    def __init__(
        self,
        *,
        profiles: ProfileCatalog,
        datasets: DatasetCatalog,
        locks: LockStore,
        job_namer: JobNamer,
        clock: Clock,
        settings: PlanSettings,
    ) -> None:
        self._profiles = profiles
        self._datasets = datasets
        self._locks = locks
        self._job_namer = job_namer
        self._clock = clock
        self._settings = settings

    def plan(self, raw_request: object, execution: ExecutionRef) -> Plan:
        request = parse_run_request(raw_request)
        spec = self._profiles.get(request.model, request.overrides)
        action, reason = decide_action(request, spec)
        now = self._clock()
        version = request.dataset_version
        if version is None and action is not Action.SKIP:
            version = self._datasets.latest_version(request.model, spec.marker)
            if version is None:
                raise InvalidInputError(
                    f"no datasetVersion given and no complete dataset version of '{request.model}' found "
                    f"under {self._settings.datasets_uri(request.model)}: "
                    f"upload one (with its marker object '{spec.marker}') or pass datasetVersion",
                    field="datasetVersion",
                )
        base = {
            "model": request.model,
            "action": action,
            "reason": reason,
            "trigger": request.trigger,
            "dataset_version": version,
            "overrides": request.overrides,
            "execution": execution,
            "planned_at": now,
        }
        if action is Action.SKIP:
            return Plan.model_validate(base)
        assert version is not None
        job_name = self._job_namer(request.model, version, execution.name)
        s = self._settings
        data_uri = f"s3://{s.data_bucket}/{s.datasets_prefix}{request.model}/{version}/"
        output_uri = f"s3://{s.data_bucket}/{s.output_prefix}{request.model}/{job_name}/"
        compiled = spec.compile(
            job_name=job_name, data_uri=data_uri, output_uri=output_uri, role_arn=s.role_arn, tags={}
        )
        timeout, heartbeat = callback_timeouts(compiled)
        pk, sk = self._locks.acquire(
            request.model, execution.name, now=now, ttl_seconds=timeout + CALLBACK_MARGIN_SECONDS
        )
        return Plan.model_validate(
            {
                **base,
                "job_name": job_name,
                "data_uri": data_uri,
                "output_uri": output_uri,
                "timeout_seconds": timeout,
                "heartbeat_seconds": heartbeat,
                "lock": LockRef(pk=pk, sk=sk, owner=execution.name),
            }
        )
