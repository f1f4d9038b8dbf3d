"""StartTuning: compile the plan's tuning job (budget, warm start), lint it with the lineage's evidence,
park the task token, create the job."""

from __future__ import annotations

import copy
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from amtflow.app._ports import ParkedJob, ProfileCatalog, TokenStore, TuningService
from amtflow.app._run_ledger import RunLedger
from amtflow.errors import AmtflowError, ConflictError, InvalidInputError, PreflightRejectedError
from amtflow.lineage import LineageStore, RunRecord
from amtflow.messages import Plan
from amtflow.preflight import Finding
from amtflow.profile import TrainingNetwork
from amtflow.vocabulary import Action, Now, WarmStartMode

Linter = Callable[[Mapping[str, Any]], Sequence[Finding]]
"""Replaces the profile's own preflight (tests); by default :meth:`ModelSpec.preflight` runs."""

TAG_MODEL = "amtflow:model"
TAG_DATASET_VERSION = "amtflow:dataset-version"
TAG_EXECUTION = "amtflow:execution"


def rejection_message(job_name: str, findings: Sequence[Finding]) -> str:
    errors = sum(1 for f in findings if f.is_error)
    lines = [f"preflight rejected tuning job {job_name} ({errors} error(s)); nothing was launched:"]
    lines.extend(f"- {f}" for f in findings)
    return "\n".join(lines)


HISTORY_RUNS = 50


def with_plan(request: Mapping[str, Any], plan: Plan) -> dict[str, Any]:
    """The compiled request with the plan's decision: its budget (``MaxNumberOfTrainingJobs``) and, for a
    warm start, the ``WarmStartConfig`` naming the parents the planner chose from the lineage."""
    out = copy.deepcopy(dict(request))
    if plan.max_jobs is not None:
        out["HyperParameterTuningJobConfig"]["ResourceLimits"]["MaxNumberOfTrainingJobs"] = plan.max_jobs
    if plan.warm_start is not WarmStartMode.COLD:
        if not plan.parents:
            raise InvalidInputError(
                f"plan for '{plan.model}' asks for a {plan.warm_start.value} warm start without parents: "
                "name 1-5 parent tuning jobs or plan a cold start",
                field="plan.parents",
            )
        out["WarmStartConfig"] = {
            "ParentHyperParameterTuningJobs": [{"HyperParameterTuningJobName": p} for p in plan.parents],
            "WarmStartType": plan.warm_start.value,
        }
    return out


def _own_estimate(history: Sequence[RunRecord], run_id: str) -> float:
    """What this run itself counts in the month-to-date spend (the cap rule adds its estimate anew)."""
    return sum(r.spend_usd for r in history if r.run_id == run_id)


@dataclass(frozen=True)
class StartedJob:
    job_name: str
    created: bool
    """``False`` when an earlier attempt of the same task had already created the job."""
    warnings: tuple[str, ...] = ()


class StartTuning:
    """Creates the tuning job a plan names and parks ``{job -> task token}`` for the callback.

    The token is parked before the job is created, so that even a job that ends at once finds it. A
    job that already exists under the planned name (a retried task) is adopted, not created twice.
    """

    def __init__(
        self,
        *,
        profiles: ProfileCatalog,
        sagemaker: TuningService,
        tokens: TokenStore,
        clock: Now,
        role_arn: str,
        lint: Linter | None = None,
        lineage: LineageStore | None = None,
        network: TrainingNetwork | None = None,
    ) -> None:
        self._network = network
        self._lineage = lineage
        self._profiles = profiles
        self._sagemaker = sagemaker
        self._tokens = tokens
        self._clock = clock
        self._role_arn = role_arn
        self._lint = lint

    def start(self, plan: Plan, task_token: str) -> StartedJob:
        if self._lineage is None:
            return self._start(plan, task_token)
        ledger = RunLedger(lineage=self._lineage, clock=self._clock)
        return ledger.recording_start(plan, lambda: self._start(plan, task_token))

    def _start(self, plan: Plan, task_token: str) -> StartedJob:
        if not task_token:
            raise InvalidInputError("taskToken is empty: StartTuning must be invoked with $$.Task.Token")
        if plan.action is not Action.TUNE or not plan.job_name or not plan.data_uri or not plan.output_uri:
            raise InvalidInputError(
                f"plan for '{plan.model}' has action '{plan.action.value}' and no tuning job: "
                "only a 'tune' plan with jobName, dataUri and outputUri can start tuning",
                field="plan.action",
            )
        spec = self._profiles.get(plan.model, plan.overrides)
        tags = {TAG_MODEL: plan.model, TAG_EXECUTION: plan.execution.name[:256]}
        if plan.dataset_version:
            tags[TAG_DATASET_VERSION] = plan.dataset_version
        request = spec.compile(
            job_name=plan.job_name,
            data_uri=plan.data_uri,
            output_uri=plan.output_uri,
            role_arn=self._role_arn,
            tags=tags,
            network=self._network,
        )
        request = with_plan(request, plan)
        if self._lint is not None:
            findings = list(self._lint(request))
        else:
            now = self._clock()
            runs = self._lineage.list_runs(plan.model, limit=HISTORY_RUNS) if self._lineage else []
            history = [r for r in runs if r.run_id != plan.execution.name]
            spend = self._lineage.month_to_date_spend(plan.model, now) if self._lineage else None
            if spend is not None:
                # Plan recorded this run with its estimate; the cap rule adds the estimate itself.
                spend = max(0.0, spend - _own_estimate(runs, plan.execution.name))
            findings = list(spec.preflight(request, month_to_date_usd=spend, history=history, now=now))
        if any(f.is_error for f in findings):
            raise PreflightRejectedError(rejection_message(plan.job_name, findings))
        warnings = tuple(str(f) for f in findings)

        self._tokens.park(
            ParkedJob(
                job_name=plan.job_name,
                task_token=task_token,
                model=plan.model,
                execution=plan.execution.name,
                parked_at=self._clock(),
            )
        )
        try:
            self._sagemaker.create_tuning_job(request)
        except ConflictError:
            # A retried task: the job exists already under the planned (deterministic) name; adopt it.
            # Should it have ended meanwhile, the reconciler closes the newly parked token.
            self._sagemaker.describe_tuning_job(plan.job_name)
            return StartedJob(plan.job_name, created=False, warnings=warnings)
        except AmtflowError:
            self._tokens.claim(plan.job_name)
            raise
        return StartedJob(plan.job_name, created=True, warnings=warnings)
