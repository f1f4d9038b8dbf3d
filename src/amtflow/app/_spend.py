"""What a finished run cost: the billable time of its training jobs at the prices its estimate used.

SageMaker bills a training job for its ``BillableTimeInSeconds`` (``DescribeTrainingJob``; for managed spot
already the reduced figure) on ``ResourceConfig.InstanceCount`` instances of ``InstanceType``. A tuning job
costs the sum over its training jobs (``ListTrainingJobsForHyperParameterTuningJob`` names them; its own
``ConsumedResources.RuntimeInSeconds`` is wall-clock time, not billed time). The calls are bounded: one list
page and at most :data:`MAX_DESCRIBED` descriptions; a larger tuning job is extrapolated from those, at their
mean cost per training job.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from amtflow.app._ports import TrainingJobDetails
from amtflow.preflight import default_prices

MAX_DESCRIBED = 100
"""Training jobs described per tuning job (one ``ListTrainingJobsForHyperParameterTuningJob`` page)."""


class TrialSource(Protocol):
    """The training jobs of a tuning job (implemented by :class:`amtflow.adapters.SageMakerTuning`)."""

    def training_job_names(self, tuning_job: str, *, limit: int) -> Sequence[str]:
        """At most ``limit`` names of the tuning job's training jobs."""
        ...

    def describe_training_job(self, name: str) -> TrainingJobDetails: ...


@dataclass(frozen=True)
class Usage:
    """The billed training jobs of a run's job; ``jobs`` counts them all when only some were described."""

    described: Sequence[TrainingJobDetails]
    jobs: int

    @property
    def scale(self) -> float:
        return self.jobs / len(self.described) if self.described and self.jobs > len(self.described) else 1.0


@dataclass(frozen=True)
class Cost:
    billable_s: int
    usd: float | None
    """``None`` when a billed instance type has no price (the estimate then stays what the run counts)."""


def tuning_job_usage(source: TrialSource, tuning_job: str, *, jobs: int) -> Usage:
    """The training jobs of a tuning job that ``jobs`` (its ``TrainingJobStatusCounters`` total) counts."""
    names = list(source.training_job_names(tuning_job, limit=MAX_DESCRIBED))[:MAX_DESCRIBED]
    described = [source.describe_training_job(name) for name in names]
    return Usage(described=described, jobs=max(jobs, len(described)))


def price(usage: Usage, hourly_usd: Mapping[str, float]) -> Cost:
    """Billable seconds x instance count x the hourly price of the instance type, summed, / 3600."""
    seconds = 0
    usd: float | None = 0.0
    for job in usage.described:
        billed = _billed_seconds(job)
        seconds += billed
        if billed == 0 or usd is None:
            continue
        hourly = hourly_usd.get(job.instance_type or "")
        if hourly is None:
            usd = None
            continue
        usd += billed * hourly * max(job.instance_count, 1) / 3600.0
    scale = usage.scale
    total_s = round(seconds * scale)
    if usd is None or not math.isfinite(usd):
        return Cost(billable_s=total_s, usd=None)
    return Cost(billable_s=total_s, usd=round(usd * scale, 4))


def _billed_seconds(job: TrainingJobDetails) -> int:
    """``BillableTimeInSeconds``; a job that reports only ``TrainingTimeInSeconds`` is billed for that (the
    on-demand figure: never less than what spot would bill), a job that reports neither never ran."""
    if job.billable_seconds is not None:
        return max(0, int(job.billable_seconds))
    return max(0, int(job.training_seconds or 0))


def hourly_prices(request: Mapping[str, Any], overrides: Mapping[str, Any] | None) -> dict[str, float]:
    """The USD/hour of every instance type a compiled request may bill (the profile's ``budget.prices``
    over the shipped table, as the estimate takes them); types without a price are left out."""
    table = default_prices().with_overrides(overrides)
    out: dict[str, float] = {}
    for itype in sorted(_instance_types(request)):
        value = table.price(itype)
        if value is not None:
            out[itype] = float(value)
    return out


def _instance_types(node: Any) -> set[str]:
    found: set[str] = set()
    if isinstance(node, Mapping):
        for key, value in node.items():
            if key == "InstanceType" and isinstance(value, str):
                found.add(value)
            else:
                found |= _instance_types(value)
    elif isinstance(node, list):
        for item in node:
            found |= _instance_types(item)
    return found
