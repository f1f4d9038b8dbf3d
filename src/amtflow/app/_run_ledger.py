"""The end of a run in the lineage: the callback that closes a run's job records how it ended.

Plan records a run as ``pending`` with its decision and estimate; the start task records whether SageMaker
accepted its job (:meth:`RunLedger.record_launch`, :meth:`RunLedger.record_not_launched`); when the run's
tuning or retraining job ends (the job's state-change event, or the reconciler's sweep) :class:`RunLedger`
records the consumed runtime, the training jobs, the best training job and objective, the job's status (which
makes it a warm-start candidate for later runs), the outcome and the actual cost (the billable time of its
training jobs at the prices its estimate used, :mod:`amtflow.app._spend`). Only the job the run launched
updates it (a champion's evaluation job does not), and recording again changes nothing but the same fields.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import replace
from datetime import datetime
from typing import TypeVar

from amtflow.app._ports import ParkedJob
from amtflow.app._spend import Usage, price
from amtflow.drift import TuningJobStatus
from amtflow.errors import AmtflowError, TransientError
from amtflow.lineage import LineageStore, RunOutcome, RunRecord
from amtflow.messages import Plan
from amtflow.vocabulary import Now

logger = logging.getLogger(__name__)
_T = TypeVar("_T")

_OUTCOMES = {
    "Completed": RunOutcome.COMPLETED,
    "Failed": RunOutcome.FAILED,
    "Stopped": RunOutcome.STOPPED,
}


class RunLedger:
    """Records whether a run's job launched and how it ended (``parked.execution`` is the run's id)."""

    def __init__(self, *, lineage: LineageStore, clock: Now) -> None:
        self._lineage = lineage
        self._clock = clock

    def record_end(
        self,
        parked: ParkedJob,
        *,
        status: str,
        runtime_s: int | None = None,
        training_jobs: int | None = None,
        best_training_job: str | None = None,
        best_objective: float | None = None,
        ended_at: datetime | None = None,
        usage: Callable[[], Usage] | None = None,
    ) -> bool:
        """``True`` if the run was updated. ``usage`` fetches the billed training jobs (called only for the
        run's own job). A lineage that cannot be read or written, or a usage that cannot be fetched, is
        logged, not raised: the task's completion matters more than its record (an unpriced run keeps
        counting its estimate)."""
        try:
            run = self._lineage.get_run(parked.model, parked.execution)
            if run is None or run.tuning_job != parked.job_name:
                return False
            try:
                job_status = TuningJobStatus(status)
            except ValueError:
                job_status = None
            billable_s, cost_usd = self._cost(run, usage)
            self._lineage.update_run(
                replace(
                    run,
                    launched=True,
                    billable_s=billable_s if billable_s is not None else run.billable_s,
                    cost_usd=cost_usd if cost_usd is not None else run.cost_usd,
                    job_status=job_status if run.signature is not None else run.job_status,
                    consumed_runtime_s=runtime_s if runtime_s is not None else run.consumed_runtime_s,
                    training_jobs=training_jobs if training_jobs is not None else run.training_jobs,
                    best_training_job=best_training_job or run.best_training_job,
                    best_objective=best_objective if best_objective is not None else run.best_objective,
                    outcome=_OUTCOMES.get(status, RunOutcome.FAILED),
                    finished_at=ended_at or self._clock(),
                )
            )
        except AmtflowError as e:
            logger.warning("the end of run %s was not recorded in the lineage: %s", parked.execution, e)
            return False
        return True

    def _cost(self, run: RunRecord, usage: Callable[[], Usage] | None) -> tuple[int | None, float | None]:
        if usage is None:
            return None, None
        try:
            cost = price(usage(), run.hourly_usd)
        except AmtflowError as e:
            logger.warning("the cost of run %s is unknown; its estimate stays: %s", run.run_id, e)
            return None, None
        if cost.usd is None:
            logger.warning(
                "run %s billed %ss on an instance type without a price (%s); its estimate stays",
                run.run_id,
                cost.billable_s,
                ", ".join(sorted(run.hourly_usd)) or "no prices recorded",
            )
        return cost.billable_s, cost.usd

    def record_start(self, model: str, run_id: str, job_name: str | None, error: AmtflowError | None) -> bool:
        """What the start task of a run ended with, so the run counts its estimate only while its job may
        run: no ``error`` → launched; a transient error (throttled, queued for quota: the task is retried) →
        not launched, still pending; any other error → not launched, failed."""
        if error is None:
            return job_name is not None and self.record_launch(model, run_id, job_name)
        return self.record_not_launched(model, run_id, job_name, ended=not isinstance(error, TransientError))

    def recording_start(self, plan: Plan, start: Callable[[], _T]) -> _T:
        """Run ``plan``'s start task (``start``) and record what it ended with (:meth:`record_start`): the
        error it raised, re-raised, or its launch."""
        try:
            started = start()
        except AmtflowError as e:
            self.record_start(plan.model, plan.execution.name, plan.job_name, e)
            raise
        self.record_start(plan.model, plan.execution.name, plan.job_name, None)
        return started

    def record_launch(self, model: str, run_id: str, job_name: str) -> bool:
        """SageMaker accepted (or already had) the run's job: from now on its estimate counts until it
        ends. ``True`` if the run was updated."""
        return self._mark(model, run_id, job_name, launched=True, ended=False)

    def record_not_launched(self, model: str, run_id: str, job_name: str | None, *, ended: bool) -> bool:
        """The start task failed before SageMaker accepted the run's job: the run spends nothing. With
        ``ended`` (preflight or SageMaker rejected it, a bad profile) the outcome becomes ``failed``; without
        (throttled, queued for quota: the task is retried) the run stays pending."""
        return self._mark(model, run_id, job_name, launched=False, ended=ended)

    def record_failure(self, model: str, run_id: str, job_name: str | None) -> bool:
        """A run that ended before its job ran (e.g. preflight rejected it): outcome ``failed``, no spend."""
        return self.record_not_launched(model, run_id, job_name, ended=True)

    def _mark(self, model: str, run_id: str, job_name: str | None, *, launched: bool, ended: bool) -> bool:
        try:
            run = self._lineage.get_run(model, run_id)
            if run is None or (job_name is not None and run.tuning_job != job_name):
                return False
            if run.outcome is not RunOutcome.PENDING or (not launched and run.launched is True):
                return False  # its job's end is (or will be) recorded by the callback
            updated = replace(run, launched=launched)
            if ended:
                updated = replace(updated, outcome=RunOutcome.FAILED, finished_at=self._clock())
            if updated == run:
                return False
            self._lineage.update_run(updated)
        except AmtflowError as e:
            logger.warning("the start of run %s was not recorded in the lineage: %s", run_id, e)
            return False
        return True
