"""Training health after a run (tag ``health``): what SageMaker Debugger's built-in rules would catch.

Debugger rules cannot be attached to the trials of a tuning job (``HyperParameterTrainingJobDefinition`` has
no ``DebugRuleConfigurations``), so amtflow checks each trial's own metric series instead. The series come
from the trial's log, read like SageMaker reads metrics: every metric definition's regex applied to every
line in order, the first capture group parsed as a number. A value printed as ``nan`` or ``inf`` is caught
too, even by a regex whose capture group only takes digits (SageMaker drops such values silently).

Reading is bounded: at most :data:`MAX_TRIALS_EXAMINED` trials (the :data:`TOP_TRIALS` best, the
:data:`SLOWEST_TRIALS` longest, then an even sample of the rest), at most :data:`MAX_LINES_PER_TRIAL` lines
each, and no new log is opened after :data:`READ_BUDGET_SECONDS`. Only trials that reported the objective are
examined (a trial that reported nothing is AMT401's). The durations of every trial come from the trial list.

:func:`collect_health` gathers the evidence once; the rules read it from ``LintContext.extra["health"]``
and stay silent without it. The judgements (:func:`overfitting`, :func:`not_improving`, :func:`degenerate`,
:func:`slow_trials`), pure functions of the series, and the series reader live in :mod:`._health_series`.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from itertools import islice
from typing import Any

from amtflow.preflight._findings import Finding, LintContext, Severity, rule
from amtflow.preflight._health_series import (
    Degeneracy,
    Overfit,
    _suffix,
    degenerate,
    metric_maximized,
    metric_series,
    not_improving,
    overfitting,
    series_regex,
    slow_trials,
    train_metric,
)
from amtflow.preflight._request import as_float, as_mapping, definitions, dig

HEALTH = ("health",)
HEALTH_KEY = "health"

#: Trials whose logs are read, at most (the best, the slowest, then an even sample of the rest).
MAX_TRIALS_EXAMINED = 8
#: The best trials by objective always examined.
TOP_TRIALS = 3
#: The longest-running trials examined next (their epochs tell slow epochs from many epochs).
SLOWEST_TRIALS = 2
#: Lines read from one trial's log, at most (from its start, as the log reader returns them).
MAX_LINES_PER_TRIAL = 5000
#: No further log is opened once reading has taken this long (Evaluate runs in a 60 s function).
READ_BUDGET_SECONDS = 20.0
#: Trials named in one finding, at most.
SHOWN_TRIALS = 5


# ---------------------------------------------------------------------------------------------------------
# The evidence


@dataclass(frozen=True)
class TrialSeries:
    """One examined trial: its metric series (log order), duration and tuned hyperparameters."""

    name: str
    series: Mapping[str, Sequence[float]]
    seconds: float | None = None
    hyperparameters: Mapping[str, str] = field(default_factory=dict)
    lines_read: int = 0


@dataclass(frozen=True)
class HealthEvidence:
    """What the health rules judge: the examined trials' series and every trial's duration."""

    objective: str
    objective_maximize: bool
    train: str | None
    train_maximize: bool | None
    fields: Mapping[str, str]
    """Metric name → dotted path of its definition."""
    definition_path: str
    trials: Sequence[TrialSeries]
    durations: Mapping[str, float]
    hyperparameters: Mapping[str, Mapping[str, str]]
    candidates: int
    """Trials that reported the objective (those the examined ones were chosen from)."""
    unread: Sequence[str] = ()
    """Chosen trials whose log could not be read, or not within :data:`READ_BUDGET_SECONDS`."""

    def examined(self) -> str:
        return f"the {len(self.trials)} trial(s) examined (of {self.candidates} that reported the objective)"


LogReader = Callable[[str], Iterable[str]]


def as_time(value: Any) -> datetime | None:
    """A SageMaker timestamp (a datetime, or ISO 8601 text with Z) as a datetime; else ``None``."""
    if isinstance(value, datetime):
        return value
    if isinstance(value, str):
        try:
            return datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            return None
    return None


def duration_seconds(job: Mapping[str, Any]) -> float | None:
    """``TrainingEndTime - TrainingStartTime`` of a trial summary, in seconds (``None`` when unknown)."""
    start, end = as_time(job.get("TrainingStartTime")), as_time(job.get("TrainingEndTime"))
    if start is None or end is None:
        return None
    try:
        seconds = (end - start).total_seconds()
    except TypeError:  # one aware, one naive
        return None
    return seconds if seconds >= 0 else None


def _name(job: Mapping[str, Any]) -> str:
    name = job.get("TrainingJobName")
    return name if isinstance(name, str) else ""


def _objective_value(job: Mapping[str, Any]) -> float | None:
    return as_float(dig(job, "FinalHyperParameterTuningJobObjectiveMetric.Value"))


def _hyperparameters(job: Mapping[str, Any]) -> dict[str, str]:
    return {str(k): str(v).strip('"') for k, v in as_mapping(job.get("TunedHyperParameters")).items()}


def choose_trials(
    jobs: Sequence[Mapping[str, Any]], *, maximize: bool, limit: int = MAX_TRIALS_EXAMINED
) -> list[Mapping[str, Any]]:
    """The trials whose logs are read: the :data:`TOP_TRIALS` best by objective, the
    :data:`SLOWEST_TRIALS` longest, then an evenly spaced sample of the rest (by name, so a retried
    evaluation examines the same trials). Only trials that reported the objective."""
    scored = sorted((j for j in jobs if _objective_value(j) is not None), key=_name)

    def value(job: Mapping[str, Any]) -> float:
        v = _objective_value(job) or 0.0
        return -v if maximize else v

    chosen: list[Mapping[str, Any]] = []
    names: set[str] = set()

    def take(candidates: Iterable[Mapping[str, Any]], count: int) -> None:
        for job in candidates:
            if count <= 0 or len(chosen) >= limit:
                return
            if _name(job) not in names:
                chosen.append(job)
                names.add(_name(job))
                count -= 1

    take(sorted(scored, key=value), TOP_TRIALS)
    take(sorted(scored, key=lambda j: -(duration_seconds(j) or 0.0)), SLOWEST_TRIALS)
    rest = [j for j in scored if _name(j) not in names]
    room = limit - len(chosen)
    if room > 0 and rest:
        step = len(rest) / room
        take((rest[int(i * step)] for i in range(min(room, len(rest)))), room)
    return chosen


def collect_health(
    describe: Mapping[str, Any],
    jobs: Sequence[Mapping[str, Any]],
    logs: LogReader,
    *,
    max_trials: int = MAX_TRIALS_EXAMINED,
    max_lines: int = MAX_LINES_PER_TRIAL,
    budget_seconds: float = READ_BUDGET_SECONDS,
    clock: Callable[[], float] = time.monotonic,
) -> HealthEvidence | None:
    """Read the chosen trials' logs (bounded) into metric series. ``None`` without an objective with a
    usable metric definition. A log that cannot be read is skipped, never raised."""
    views = definitions(describe)
    if not views:
        return None
    view = views[0]
    objective = view.objective_metric
    regexes = [
        r
        for path, d in view.metric_definitions
        if isinstance(d.get("Name"), str) and isinstance(d.get("Regex"), str)
        for r in [series_regex(str(d["Name"]), str(d["Regex"]), f"{path}.Regex")]
        if r is not None
    ]
    names = [r.name for r in regexes]
    if objective not in names:
        return None
    objective_maximize = view.objective_type != "Minimize"
    train = train_metric(objective, names)
    train_maximize: bool | None = None
    if train is not None:
        same = _suffix(train) == _suffix(objective)
        train_maximize = objective_maximize if same else metric_maximized(train)
    durations = {_name(j): s for j in jobs if (s := duration_seconds(j)) is not None and _name(j)}
    chosen = choose_trials(jobs, maximize=objective_maximize, limit=max_trials)
    started = clock()
    trials: list[TrialSeries] = []
    unread: list[str] = []
    for job in chosen:
        name = _name(job)
        if clock() - started > budget_seconds:
            unread.append(name)
            continue
        try:
            lines = list(islice(logs(name), max_lines))
        except Exception:  # a missing or unreadable log must not hide the other findings
            unread.append(name)
            continue
        trials.append(
            TrialSeries(
                name,
                metric_series(lines, regexes),
                durations.get(name),
                _hyperparameters(job),
                len(lines),
            )
        )
    scored = sum(1 for j in jobs if _objective_value(j) is not None)
    return HealthEvidence(
        objective=objective,
        objective_maximize=objective_maximize,
        train=train,
        train_maximize=train_maximize,
        fields={r.name: r.field for r in regexes},
        definition_path=view.path,
        trials=tuple(trials),
        durations=durations,
        hyperparameters={_name(j): _hyperparameters(j) for j in jobs if _name(j)},
        candidates=scored,
        unread=tuple(unread),
    )


# ---------------------------------------------------------------------------------------------------------
# The rules


def _health(ctx: LintContext) -> HealthEvidence | None:
    evidence = ctx.extra.get(HEALTH_KEY)
    return evidence if isinstance(evidence, HealthEvidence) else None


def _fmt(value: float) -> str:
    return f"{value:.6g}"


def _named(items: Sequence[str]) -> str:
    shown = ", ".join(items[:SHOWN_TRIALS])
    more = len(items) - SHOWN_TRIALS
    return shown + (f" and {more} more" if more > 0 else "")


def _hps(evidence: HealthEvidence, name: str) -> str:
    hps = evidence.hyperparameters.get(name) or {}
    text = ", ".join(f"{k}={v}" for k, v in sorted(hps.items()))
    return text if len(text) <= 200 else text[:199] + "…"


@rule("AMT301", Severity.WARNING, "Trials overfit: train metric improving, objective worsening", tags=HEALTH)
def overfit(ctx: LintContext) -> Iterator[Finding]:
    """Over the last third of a trial's series the train metric improves while the objective worsens, ending
    10% of its span worse than its best (Debugger's Overfit rule)."""
    evidence = _health(ctx)
    if evidence is None or evidence.train is None or evidence.train_maximize is None:
        return
    found: list[tuple[str, Overfit]] = []
    for trial in evidence.trials:
        sign = overfitting(
            trial.series.get(evidence.train, ()),
            trial.series.get(evidence.objective, ()),
            train_maximize=evidence.train_maximize,
            objective_maximize=evidence.objective_maximize,
        )
        if sign is not None:
            found.append((trial.name, sign))
    if not found:
        return
    first, sign = found[0]
    yield Finding(
        "AMT301",
        Severity.WARNING,
        evidence.fields[evidence.objective],
        f"{len(found)} of {evidence.examined()} overfit: {_named([n for n, _ in found])}. "
        f"In {first}, {evidence.train} went on improving ({_fmt(sign.train_from)} → {_fmt(sign.train_to)}) "
        f"over the last third of the run while {evidence.objective} worsened from its best "
        f"{_fmt(sign.best)} to {_fmt(sign.last)}.",
        "The model kept fitting the training data after it stopped generalising: the final model is worse "
        "than the one of its best epoch, and the objective AMT ranks on is the worse final value.",
        "Add early stopping (the algorithm's own, e.g. XGBoost early_stopping_rounds, or a patience on the "
        "validation metric in the script, keeping the best epoch's model) and regularise: tune or raise "
        "alpha/lambda or weight decay, reduce max_depth / hidden units, or lower the epochs/rounds.",
    )


@rule("AMT302", Severity.WARNING, "The objective (loss) does not improve over a trial", tags=HEALTH)
def loss_not_decreasing(ctx: LintContext) -> Iterator[Finding]:
    """The mean of the last third of a trial's objective (or train metric) series improves on the mean of
    its first third by less than 0.1% (Debugger's LossNotDecreasing rule)."""
    evidence = _health(ctx)
    if evidence is None:
        return
    metrics = [(evidence.objective, evidence.objective_maximize)]
    if evidence.train is not None and evidence.train_maximize is not None:
        metrics.append((evidence.train, evidence.train_maximize))
    for metric, maximize in metrics:
        found = [
            (t.name, stall)
            for t in evidence.trials
            if (stall := not_improving(t.series.get(metric, ()), maximize=maximize)) is not None
        ]
        if not found:
            continue
        first, stall = found[0]
        hps = _hps(evidence, first)
        yield Finding(
            "AMT302",
            Severity.WARNING,
            evidence.fields[metric],
            f"{metric} did not improve in {len(found)} of {evidence.examined()}: "
            f"{_named([n for n, _ in found])}. "
            f"In {first} it averaged {_fmt(stall.first)} over the first third of the run and "
            f"{_fmt(stall.last)} over the last" + (f" ({hps})." if hps else "."),
            "A trial whose metric does not move learns nothing and spends its whole runtime doing so.",
            "Check the learning rate's range (too low does nothing, too high bounces: search it on a "
            "Logarithmic scale), that features and labels line up and are scaled, and that regularisation "
            "(alpha, lambda, gamma, weight decay) is not so strong that the model cannot fit.",
        )


@rule("AMT303", Severity.WARNING, "A metric is constant or NaN/inf", tags=HEALTH)
def constant_or_nan(ctx: LintContext) -> Iterator[Finding]:
    """A metric series holds nan/inf values, or 6 or more values that are all the same (other than a
    saturated 0 or 1). One finding per kind, naming each metric and its trials."""
    evidence = _health(ctx)
    if evidence is None:
        return
    metrics = sorted(evidence.fields, key=lambda m: m != evidence.objective)  # the objective first
    for kind in Degeneracy:
        hits: dict[str, list[str]] = {}
        for metric in metrics:
            names = [t.name for t in evidence.trials if degenerate(t.series.get(metric, ())) is kind]
            if names:
                hits[metric] = names
        if not hits:
            continue
        first_metric, first_names = next(iter(hits.items()))
        parts = "; ".join(f"{metric} in {len(names)} ({_named(names)})" for metric, names in hits.items())
        hps = _hps(evidence, first_names[0])
        if kind is Degeneracy.NON_FINITE:
            message = f"nan/inf values among {evidence.examined()}: {parts}" + (
                f". {first_names[0]} had {hps}." if hps else "."
            )
            why = (
                "The training diverged; SageMaker drops nan/inf values, so AMT ranks such a trial on an "
                "earlier value or not at all."
            )
            fix = (
                "Lower the learning rate's upper bound (search it on a Logarithmic scale), clip "
                "gradients, and check the input data for nan/inf and unscaled features."
            )
        else:
            message = f"a metric stayed constant among {evidence.examined()}: {parts}."
            why = "A constant metric gives AMT nothing to compare, or the script prints a stale value."
            fix = (
                "Check that the script prints the metric computed in that epoch (not a stale variable), "
                "that the learning rate is not zero or tiny, and that the labels are not all the same."
            )
        yield Finding("AMT303", Severity.WARNING, evidence.fields[first_metric], message, why, fix)


@rule("AMT304", Severity.WARNING, "Trials far slower than their peers", tags=HEALTH)
def slow_trial(ctx: LintContext) -> Iterator[Finding]:
    """A trial takes 3x the median training time of the job's trials (and 60 s more), or 3x the median time
    per epoch/iteration where its series tells how many it ran (Debugger's slow-training checks)."""
    evidence = _health(ctx)
    if evidence is None:
        return
    steps = {
        t.name: len(t.series.get(evidence.objective, ()))
        for t in evidence.trials
        if len(t.series.get(evidence.objective, ())) >= 2
    }
    found = slow_trials(evidence.durations, steps)
    if not found:
        return
    top = found[0]
    measure = "per epoch/iteration" if top.per_step else "in total"
    hps = _hps(evidence, top.name)
    yield Finding(
        "AMT304",
        Severity.WARNING,
        f"{evidence.definition_path}.StoppingCondition.MaxRuntimeInSeconds",
        f"{len(found)} of {len(evidence.durations)} trial(s) ran far slower than the median: "
        f"{_named([s.name for s in found])}. {top.name} took {top.seconds:.0f} s against a median of "
        f"{top.median_seconds:.0f} s, {top.ratio:.1f}x slower {measure}" + (f" ({hps})." if hps else "."),
        "A runaway trial costs several trials' compute and holds a parallel slot for nothing.",
        "Look at the slow trial's hyperparameters and narrow the range that drives cost (max_depth, "
        "num_round, hidden units, a small batch_size); set StoppingCondition.MaxRuntimeInSeconds to a few "
        "times the median trial so runaways stop; turn on early stopping; check the instance's utilisation.",
    )
