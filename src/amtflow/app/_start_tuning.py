"""StartTuning: lint the compiled request, park the task token, create the tuning job."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from amtflow.app._ports import Clock, ParkedJob, ProfileCatalog, TokenStore, TuningService
from amtflow.errors import AmtflowError, ConflictError, InvalidInputError, PreflightRejectedError
from amtflow.messages import Action, Plan
from amtflow.preflight import Finding

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
        clock: Clock,
        role_arn: str,
        lint: Linter | None = None,
    ) -> None:
        self._profiles = profiles
        self._sagemaker = sagemaker
        self._tokens = tokens
        self._clock = clock
        self._role_arn = role_arn
        self._lint = lint

    def start(self, plan: Plan, task_token: str) -> StartedJob:
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
        )
        findings = list(self._lint(request) if self._lint is not None else spec.preflight(request))
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
