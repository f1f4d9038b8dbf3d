"""The end of a run in the lineage: the callback that closes a run's job records how it ended.

Plan records a run as ``pending`` with its decision; when the run's tuning or retraining job ends (the job's
state-change event, or the reconciler's sweep) :class:`RunLedger` records the consumed runtime, the training
jobs, the best training job and objective, the job's status (which makes it a warm-start candidate for later
runs) and the outcome. Only the job the run launched updates it (a champion's evaluation job does not), and
recording again changes nothing but the same fields.
"""

from __future__ import annotations

import logging
from dataclasses import replace
from datetime import datetime

from amtflow.app._ports import Clock, ParkedJob
from amtflow.drift import TuningJobStatus
from amtflow.errors import AmtflowError
from amtflow.lineage import LineageStore, RunOutcome

logger = logging.getLogger(__name__)

_OUTCOMES = {
    "Completed": RunOutcome.COMPLETED,
    "Failed": RunOutcome.FAILED,
    "Stopped": RunOutcome.STOPPED,
}


class RunLedger:
    """Records the end of the run that launched a parked job (``parked.execution`` is the run's id)."""

    def __init__(self, *, lineage: LineageStore, clock: Clock) -> None:
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
    ) -> bool:
        """``True`` if the run was updated. A lineage that cannot be read or written is logged, not raised:
        the task's completion matters more than its record."""
        try:
            run = self._lineage.get_run(parked.model, parked.execution)
            if run is None or run.tuning_job != parked.job_name:
                return False
            try:
                job_status = TuningJobStatus(status)
            except ValueError:
                job_status = None
            self._lineage.update_run(
                replace(
                    run,
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

    def record_failure(self, model: str, run_id: str, job_name: str | None) -> bool:
        """A run that ended before its job ran (e.g. preflight rejected it): outcome ``failed``."""
        try:
            run = self._lineage.get_run(model, run_id)
            if run is None or (job_name is not None and run.tuning_job != job_name):
                return False
            self._lineage.update_run(replace(run, outcome=RunOutcome.FAILED, finished_at=self._clock()))
        except AmtflowError as e:
            logger.warning("the failure of run %s was not recorded in the lineage: %s", run_id, e)
            return False
        return True
