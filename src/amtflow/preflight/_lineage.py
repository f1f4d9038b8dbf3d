"""Evidence from the model's lineage: earlier runs turned into what the warm-start and cost rules read.

The lineage (``amtflow.lineage``) records every run of a model: its tuning job, that job's status and
warm-start signature, its parents, its consumed runtime and how many training jobs it ran. From those
:func:`lineage_evidence` derives, for a request about to be launched:

- ``compatible_parents`` (AMT111): earlier tuning jobs of the model that this job could warm-start from —
  terminal, not failed without a best training job, same objective, same hyperparameter names and kinds
  (at most 10 static/tunable switches), most recent first;
- ``parent_warm_starts`` (AMT112): for each earlier job, the parents it was itself warm-started from;
- ``month_to_date_usd`` (AMT204/AMT205, when ``now`` is given): what the model's runs started in ``now``'s
  UTC month have cost (the actual cost when known, else the estimate), like
  ``LineageStore.month_to_date_spend``;
- ``earlier_runtimes_s`` (budget): the per-training-job runtime of earlier tuning runs. The lineage keeps a
  tuning job's consumed runtime, which is wall-clock time; with ``P`` training jobs at once, ``n`` jobs
  of runtime ``t`` take about ``n * t / P``, so ``t ≈ consumed * P / n``. ``P`` is taken to be this
  request's ``MaxParallelTrainingJobs`` (capped at ``n``): the assumption is that the model is tuned the same
  way run after run.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from amtflow.drift import TuningJobSignature, TuningJobStatus
from amtflow.errors import AmtflowError
from amtflow.preflight._request import max_parallel

if TYPE_CHECKING:
    from amtflow.lineage import RunRecord

#: ``LintContext.extra`` key: ``{tuning job: [its own warm-start parents]}`` from the lineage (AMT112).
PARENT_WARM_STARTS_KEY = "parent_warm_starts"
#: Earlier runs whose runtime informs the expected cost (the most recent ones).
RUNTIME_RUNS = 10


@dataclass(frozen=True)
class LineageEvidence:
    """What the lineage says about a request; see the module documentation for each member."""

    compatible_parents: tuple[str, ...] = ()
    earlier_runtimes_s: tuple[float, ...] = ()
    parent_warm_starts: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    month_to_date_usd: float | None = None


def _signature(request: Mapping[str, Any]) -> TuningJobSignature | None:
    try:
        return TuningJobSignature.from_request(request)
    except (AmtflowError, KeyError, TypeError, AttributeError):
        return None  # a malformed request is reported by AMT002; it has no compatible parents


def lineage_evidence(
    request: Mapping[str, Any], runs: Sequence[RunRecord], *, now: datetime | None = None
) -> LineageEvidence:
    """The evidence ``runs`` (the model's lineage, any order) give about ``request``; ``now`` (aware)
    dates the month whose spend is summed."""
    own_name = str(request.get("HyperParameterTuningJobName") or "").lower()
    child = _signature(request)
    tuning_runs = sorted(
        (r for r in runs if r.tuning_job and r.tuning_job.lower() != own_name),
        key=lambda r: (r.started_at, r.run_id),
        reverse=True,
    )
    compatible: list[str] = []
    warm_starts: dict[str, tuple[str, ...]] = {}
    runtimes: list[float] = []
    parallel = max_parallel(request) or 1
    for run in tuning_runs:
        job = str(run.tuning_job)
        if run.parents:
            warm_starts.setdefault(job, tuple(run.parents))
        if _usable_parent(run, child) and job not in compatible:
            compatible.append(job)
        consumed, jobs = run.consumed_runtime_s, run.training_jobs
        if consumed and consumed > 0 and jobs > 0 and len(runtimes) < RUNTIME_RUNS:
            runtimes.append(consumed * min(parallel, jobs) / jobs)
    spent = _month_to_date(runs, now) if now is not None else None
    return LineageEvidence(tuple(compatible), tuple(runtimes), warm_starts, spent)


def _month_to_date(runs: Sequence[RunRecord], now: datetime) -> float:
    now = now.astimezone(UTC)
    start = now.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    return sum(run.spend_usd for run in runs if start <= run.started_at <= now)


def _usable_parent(run: RunRecord, child: TuningJobSignature | None) -> bool:
    if child is None or run.signature is None or run.job_status is None:
        return False
    if not run.job_status.is_terminal():
        return False
    if run.job_status is TuningJobStatus.FAILED and run.best_training_job is None:
        return False
    return child.incompatibility(run.signature, identical=False) is None
