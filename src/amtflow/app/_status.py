"""The status view: every model's last run and outcome, its champion, its running jobs and its spend this
month against the cap, and the stack's alarms in ALARM. Built from ports (the lineage, the parked jobs, the
profiles, an alarm source); ``amtflow status``, the twin's shell and its report print it."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Protocol

from amtflow.app._ports import ParkedJob
from amtflow.errors import AmtflowError
from amtflow.lineage import LineageStore, RunOutcome, month_start
from amtflow.profile import ModelProfile

_BAD_OUTCOMES = frozenset({RunOutcome.FAILED, RunOutcome.STOPPED})


@dataclass(frozen=True)
class AlarmState:
    """One alarm in ALARM: its name, CloudWatch's reason, and since when."""

    name: str
    reason: str = ""
    since: datetime | None = None


class AlarmSource(Protocol):
    def firing(self) -> Sequence[AlarmState]:
        """The stack's alarms whose state is ALARM (:class:`amtflow.adapters.CloudWatchAlarms`)."""
        ...


@dataclass(frozen=True)
class LastRun:
    run_id: str
    outcome: str
    trigger: str
    dataset_version: str
    started_at: datetime
    finished_at: datetime | None
    tuning_job: str | None
    best_objective: float | None


@dataclass(frozen=True)
class ChampionView:
    training_job: str
    objective_metric: str
    objective_type: str
    objective_value: float
    dataset_version: str
    promoted_at: datetime


@dataclass(frozen=True)
class ModelStatus:
    model: str
    last_run: LastRun | None = None
    champion: ChampionView | None = None
    running_jobs: Sequence[str] = ()
    month_to_date_usd: float | None = None
    month_cap_usd: float | None = None
    problem: str = ""
    """Why part of the model's status could not be read (the rest is shown)."""

    @property
    def over_cap(self) -> bool:
        return (
            self.month_cap_usd is not None
            and self.month_to_date_usd is not None
            and self.month_to_date_usd >= self.month_cap_usd
        )


@dataclass(frozen=True)
class StatusView:
    as_of: datetime
    models: Sequence[ModelStatus]
    alarms: Sequence[AlarmState] | None = None
    """``None``: not checked (no stack to read the alarm names from)."""
    notes: Sequence[str] = field(default_factory=tuple)

    def attention(self) -> list[str]:
        """What needs someone: alarms in ALARM, a last run that failed, a month cap reached, a model whose
        status could not be read. Empty when all is well."""
        found = [f"alarm {a.name} is in ALARM" for a in self.alarms or ()]
        for m in self.models:
            if m.last_run is not None and m.last_run.outcome in _BAD_OUTCOMES:
                found.append(f"{m.model}: last run {m.last_run.run_id} {m.last_run.outcome}")
            if m.over_cap:
                found.append(f"{m.model}: month-to-date spend reached budget.max_usd_per_month")
            if m.problem:
                found.append(f"{m.model}: {m.problem}")
        return found

    def to_document(self) -> dict[str, Any]:
        return {
            "asOf": self.as_of.isoformat(),
            "month": f"{month_start(self.as_of):%Y-%m}",
            "models": [_model_document(m) for m in self.models],
            "alarms": None
            if self.alarms is None
            else [
                {"name": a.name, "reason": a.reason, "since": a.since.isoformat() if a.since else None}
                for a in self.alarms
            ],
            "attention": self.attention(),
            "notes": list(self.notes),
        }


def _model_document(m: ModelStatus) -> dict[str, Any]:
    run = m.last_run
    champion = m.champion
    return {
        "model": m.model,
        "lastRun": None
        if run is None
        else {
            "runId": run.run_id,
            "outcome": run.outcome,
            "trigger": run.trigger,
            "datasetVersion": run.dataset_version,
            "startedAt": run.started_at.isoformat(),
            "finishedAt": run.finished_at.isoformat() if run.finished_at else None,
            "tuningJob": run.tuning_job,
            "bestObjective": run.best_objective,
        },
        "champion": None
        if champion is None
        else {
            "trainingJob": champion.training_job,
            "objectiveMetric": champion.objective_metric,
            "objectiveType": champion.objective_type,
            "objectiveValue": champion.objective_value,
            "datasetVersion": champion.dataset_version,
            "promotedAt": champion.promoted_at.isoformat(),
        },
        "runningJobs": list(m.running_jobs),
        "monthToDateUsd": m.month_to_date_usd,
        "monthCapUsd": m.month_cap_usd,
        "problem": m.problem or None,
    }


def build_status(
    *,
    models: Sequence[str],
    lineage: LineageStore,
    parked: Sequence[ParkedJob] = (),
    profiles: Callable[[str], ModelProfile] | None = None,
    alarms: AlarmSource | None = None,
    now: datetime | None = None,
) -> StatusView:
    """The status of ``models`` (plus any model with a running job). A model whose lineage or profile
    cannot be read keeps what could be read and says why; an alarm source that fails is an error."""
    now = now or datetime.now(UTC)
    running: dict[str, list[str]] = {}
    for job in parked:
        running.setdefault(job.model, []).append(job.job_name)
    names = sorted(set(models) | set(running))
    view = [_model_status(m, lineage, sorted(running.get(m, [])), profiles, now) for m in names]
    notes = [] if alarms is not None else ["alarms not checked: pass --stack NAME to read the stack's alarms"]
    return StatusView(
        as_of=now,
        models=view,
        alarms=list(alarms.firing()) if alarms is not None else None,
        notes=notes,
    )


def _model_status(
    model: str,
    lineage: LineageStore,
    running: list[str],
    profiles: Callable[[str], ModelProfile] | None,
    now: datetime,
) -> ModelStatus:
    problems: list[str] = []
    last = champion = month = cap = None
    try:
        runs = lineage.list_runs(model, limit=1)
        if runs:
            r = runs[0]
            last = LastRun(
                run_id=r.run_id,
                outcome=r.outcome.value,
                trigger=r.trigger.value,
                dataset_version=r.dataset_version,
                started_at=r.started_at,
                finished_at=r.finished_at,
                tuning_job=r.tuning_job,
                best_objective=r.best_objective,
            )
        c = lineage.get_champion(model)
        if c is not None:
            champion = ChampionView(
                training_job=c.training_job,
                objective_metric=c.objective_metric,
                objective_type=c.objective_type.value,
                objective_value=c.objective_value,
                dataset_version=c.dataset_version,
                promoted_at=c.promoted_at,
            )
        month = lineage.month_to_date_spend(model, now)
    except AmtflowError as e:
        problems.append(f"lineage not read ({type(e).__name__}: {e})")
    if profiles is not None:
        try:
            cap = profiles(model).budget.max_usd_per_month
        except AmtflowError as e:
            first = str(e).splitlines()[-1].strip(" -") if str(e) else ""
            problems.append(f"profile not read ({type(e).__name__}: {first})")
    return ModelStatus(
        model=model,
        last_run=last,
        champion=champion,
        running_jobs=tuple(running),
        month_to_date_usd=month,
        month_cap_usd=float(cap) if cap is not None else None,
        problem="; ".join(problems),
    )


def _money(value: float | None) -> str:
    return "-" if value is None else f"${value:.2f}"


def render_status(view: StatusView) -> str:
    """The status as text: one block per model, then the alarms and what needs attention."""
    lines = [f"amtflow status as of {view.as_of.astimezone(UTC):%Y-%m-%d %H:%M}Z"]
    if not view.models:
        lines.append("no models (no profile pushed, no run recorded)")
    for m in view.models:
        lines.append(f"model {m.model}")
        run = m.last_run
        if run is None:
            lines.append("  last run:  none")
        else:
            best = f", best {run.best_objective:g}" if run.best_objective is not None else ""
            lines.append(
                f"  last run:  {run.run_id} {run.outcome} ({run.trigger}, data {run.dataset_version}, "
                f"started {run.started_at:%Y-%m-%d %H:%M}Z{best})"
            )
        c = m.champion
        if c is None:
            lines.append("  champion:  none")
        else:
            lines.append(
                f"  champion:  {c.training_job} {c.objective_metric}={c.objective_value:g} "
                f"({c.objective_type}, data {c.dataset_version}, promoted {c.promoted_at:%Y-%m-%d}Z)"
            )
        lines.append(f"  running:   {', '.join(m.running_jobs) if m.running_jobs else 'none'}")
        cap = f" of {_money(m.month_cap_usd)} cap" if m.month_cap_usd is not None else " (no monthly cap)"
        over = "  OVER CAP" if m.over_cap else ""
        lines.append(
            f"  spend:     {_money(m.month_to_date_usd)}{cap} in {month_start(view.as_of):%Y-%m}{over}"
        )
        if m.problem:
            lines.append(f"  problem:   {m.problem}")
    if view.alarms is None:
        lines.append("alarms: not checked")
    elif not view.alarms:
        lines.append("alarms: none in ALARM")
    else:
        lines.append(f"alarms in ALARM ({len(view.alarms)}):")
        for a in view.alarms:
            since = f" since {a.since:%Y-%m-%d %H:%M}Z" if a.since else ""
            lines.append(f"  {a.name}{since}: {a.reason}")
    attention = view.attention()
    lines.append("attention: " + ("none" if not attention else f"{len(attention)}"))
    lines.extend(f"  - {item}" for item in attention)
    lines.extend(f"note: {n}" for n in view.notes)
    return "\n".join(lines)
