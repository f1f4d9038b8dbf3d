"""Diagnosis after a run (tag ``diagnosis``): why a finished tuning job gave little or nothing.

:func:`diagnose` takes the ``DescribeHyperParameterTuningJob`` response, the trials
(``ListTrainingJobsForHyperParameterTuningJob`` summaries) and a way to read one trial's log, and returns
findings for the run's notification. The rules are registered in the catalogue like every other rule and
read their evidence from ``LintContext.extra["diagnosis"]``; without it they stay silent.

A finding that quotes a trial's log line or failure reason quotes it through :func:`amtflow.redaction.quote`:
redacted (the job's environment values and anything credential-like), on one line, at most
:data:`~amtflow.redaction.QUOTE_LIMIT` characters.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from amtflow.preflight._findings import Finding, LintContext, Severity, rule, run_rules
from amtflow.preflight._health import HEALTH, HEALTH_KEY, as_time, collect_health
from amtflow.preflight._metrics import metric_regexes, nearest_line
from amtflow.preflight._request import (
    LIMITS,
    RangeKind,
    as_float,
    as_mapping,
    definitions,
    dig,
    max_parallel,
    strategy,
)
from amtflow.redaction import quote, secrets_in

DIAGNOSIS = ("diagnosis",)
EVIDENCE_KEY = "diagnosis"

#: A best value within this share of the range's width (in its scaling's space) of a bound is "at" it.
BOUNDARY_SHARE = 0.02
LogReader = Callable[[str], Sequence[str]]


@dataclass(frozen=True)
class RunEvidence:
    """What a finished tuning job left behind."""

    describe: Mapping[str, Any]
    training_jobs: Sequence[Mapping[str, Any]]
    logs: LogReader

    def quote(self, text: str) -> str:
        """``text`` (from a log or a failure reason) as a finding may show it, the job's secrets redacted."""
        return quote(text, secrets_in(self.describe))


def diagnose(
    describe_response: Mapping[str, Any],
    training_jobs: Sequence[Mapping[str, Any]],
    logs: LogReader,
) -> list[Finding]:
    """Findings about a finished tuning job: empty leaderboard, all trials failed, best value at a range
    bound, Bayesian search that ran fully parallel, and the trials' training health (tag ``health``: read
    from a bounded sample of their logs). ``logs(training_job_name)`` returns that trial's log."""
    evidence = RunEvidence(describe_response, list(training_jobs), logs)
    health = collect_health(describe_response, evidence.training_jobs, logs)
    context = LintContext(request=describe_response, extra={EVIDENCE_KEY: evidence, HEALTH_KEY: health})
    return run_rules(context, tags=(*DIAGNOSIS, *HEALTH))


def _evidence(ctx: LintContext) -> RunEvidence | None:
    evidence = ctx.extra.get(EVIDENCE_KEY)
    return evidence if isinstance(evidence, RunEvidence) else None


def _status(job: Mapping[str, Any]) -> str:
    status = job.get("TrainingJobStatus")
    return status if isinstance(status, str) else ""


def _objective_value(job: Mapping[str, Any]) -> float | None:
    return as_float(dig(job, "FinalHyperParameterTuningJobObjectiveMetric.Value"))


def _name(job: Mapping[str, Any]) -> str:
    name = job.get("TrainingJobName")
    return name if isinstance(name, str) else ""


def _read_log(evidence: RunEvidence, job_name: str) -> tuple[list[str], str | None]:
    try:
        return [line for line in evidence.logs(job_name) if isinstance(line, str)], None
    except Exception as e:  # a missing or unreadable log must not hide the other findings
        return [], evidence.quote(f"{type(e).__name__}: {e}")


@rule("AMT401", Severity.ERROR, "Empty leaderboard: no trial reported the objective", tags=DIAGNOSIS)
def empty_leaderboard(ctx: LintContext) -> Iterator[Finding]:
    """Trials ran but none produced the objective: test each metric regex against one trial's log."""
    evidence = _evidence(ctx)
    if evidence is None:
        return
    jobs = evidence.training_jobs
    finished = [j for j in jobs if _status(j) in ("Completed", "Stopped")]
    if not finished or any(_objective_value(j) is not None for j in jobs):
        return
    if evidence.describe.get("BestTrainingJob"):
        return
    trial = next((j for j in finished if _status(j) == "Completed"), finished[0])
    trial_name = _name(trial)
    lines, problem = _read_log(evidence, trial_name)
    views = definitions(ctx.request)
    objective = views[0].objective_metric if views else ""
    regexes = metric_regexes(ctx)
    objective_regex = next((m for m in regexes if m.is_objective), None)
    field = f"{objective_regex.path}.Regex" if objective_regex else "HyperParameterTuningJobConfig"
    base = f"{len(finished)} trial(s) finished but none reported the objective {objective!r}"
    why = "Without the objective AMT cannot rank trials: there is no best model to promote."
    if problem is not None or not lines:
        reason = problem or "it is empty"
        yield Finding(
            "AMT401",
            Severity.ERROR,
            field,
            f"{base}; the log of {trial_name} could not be read ({reason}).",
            why,
            "Read the trial's log in CloudWatch (/aws/sagemaker/TrainingJobs) and compare it with the "
            "objective's MetricDefinitions regex.",
        )
        return
    if objective_regex is None:
        yield Finding(
            "AMT401",
            Severity.ERROR,
            field,
            f"{base}; the objective has no metric definition.",
            why,
            f"Add a MetricDefinitions entry named {objective!r}.",
        )
        return
    for m in regexes:
        if m.compiled is None:
            yield Finding(
                "AMT401",
                Severity.ERROR,
                f"{m.path}.Regex",
                f"{base}; the regex '{m.source}' of {m.name!r} does not compile.",
                why,
                "Fix the regex.",
            )
            continue
        matched = [line for line in lines if m.compiled.search(line)]
        if matched and m.is_objective:
            sample = evidence.quote(matched[-1])
            group = m.compiled.search(matched[-1])
            captured = group.group(1) if group is not None and m.compiled.groups >= 1 else None
            captured = evidence.quote(captured) if captured is not None else None
            yield Finding(
                "AMT401",
                Severity.ERROR,
                f"{m.path}.Regex",
                f"{base}, yet the regex '{m.source}' matches {len(matched)} line(s) of {trial_name}'s log, "
                f"e.g. {sample!r} (captured {captured!r}).",
                why + " A regex that matches but captures no number is treated as no value.",
                "Make the capture group match only the number, and check that the training script prints the "
                "metric before it exits.",
            )
        elif not matched:
            near = nearest_line(m.source, lines)
            near = evidence.quote(near) if near else near
            yield Finding(
                "AMT401",
                Severity.ERROR if m.is_objective else Severity.WARNING,
                f"{m.path}.Regex",
                f"{base}: the regex '{m.source}' of {m.name!r} matches none of the {len(lines)} line(s) of "
                f"{trial_name}'s log" + (f"; the nearest line is {near!r}." if near else "."),
                why if m.is_objective else "This metric was never recorded.",
                "Adjust the regex to the line the script actually prints (separators, spaces, case, escaped "
                "'.').",
            )


@rule("AMT402", Severity.ERROR, "Every trial failed", tags=DIAGNOSIS)
def all_trials_failed(ctx: LintContext) -> Iterator[Finding]:
    """All trials failed: their failure reasons, grouped, most frequent first."""
    evidence = _evidence(ctx)
    if evidence is None or not evidence.training_jobs:
        return
    jobs = evidence.training_jobs
    if not all(_status(j) == "Failed" for j in jobs):
        return
    reasons = Counter(evidence.quote(_first_line(j.get("FailureReason"))) for j in jobs)
    grouped = "; ".join(f"{n} x {reason}" for reason, n in reasons.most_common(5))
    more = len(reasons) - 5
    yield Finding(
        "AMT402",
        Severity.ERROR,
        "TrainingJobDefinition",
        f"all {len(jobs)} trials failed: {grouped}" + (f"; and {more} other reason(s)." if more > 0 else "."),
        "No trial finished, so nothing was learned and the compute was spent for nothing.",
        "Fix the most frequent failure first (run one training job alone with the profile's static "
        "hyperparameters to reproduce it).",
    )


def _first_line(reason: Any) -> str:
    if not isinstance(reason, str) or not reason.strip():
        return "no failure reason given"
    line = reason.strip().splitlines()[0]
    return line if len(line) <= 200 else line[:199] + "…"


def _position(value: float, low: float, high: float, log: bool) -> float | None:
    if log:
        if low <= 0 or value <= 0:
            return None
        low, high, value = math.log(low), math.log(high), math.log(value)
    if high <= low:
        return None
    return (value - low) / (high - low)


def _best_job(evidence: RunEvidence) -> Mapping[str, Any] | None:
    best = evidence.describe.get("BestTrainingJob")
    if isinstance(best, Mapping):
        return best
    scored = [j for j in evidence.training_jobs if _objective_value(j) is not None]
    if not scored:
        return None
    kind = dig(evidence.describe, "HyperParameterTuningJobConfig.HyperParameterTuningJobObjective.Type")
    pick = max if kind != "Minimize" else min
    return pick(scored, key=lambda j: _objective_value(j) or 0.0)


@rule("AMT403", Severity.WARNING, "The best value sits at a range bound", tags=DIAGNOSIS)
def best_at_boundary(ctx: LintContext) -> Iterator[Finding]:
    """The best trial's value for a numeric hyperparameter lies at (within 2% of) a bound of its range."""
    evidence = _evidence(ctx)
    if evidence is None:
        return
    best = _best_job(evidence)
    if best is None:
        return
    tuned = as_mapping(best.get("TunedHyperParameters"))
    for view in definitions(ctx.request):
        for r in view.iter_ranges():
            if r.kind is RangeKind.CATEGORICAL or r.name not in tuned:
                continue
            bounds = r.bounds()
            value = as_float(str(tuned[r.name]).strip('"'))
            if bounds is None or value is None:
                continue
            pos = _position(value, bounds[0], bounds[1], r.scaling == "Logarithmic")
            if pos is None:
                continue
            side = "lower" if pos <= BOUNDARY_SHARE else "upper" if pos >= 1 - BOUNDARY_SHARE else None
            if side is None:
                continue
            member = "MinValue" if side == "lower" else "MaxValue"
            yield Finding(
                "AMT403",
                Severity.WARNING,
                f"{r.path}.{member}",
                f"the best trial ({_name(best) or 'best'}) has {r.name} = {tuned[r.name]}, at the {side} "
                "bound "
                f"of [{r.body.get('MinValue')}, {r.body.get('MaxValue')}].",
                "The optimum may lie outside the range searched.",
                f"Widen the range past its {side} bound ({member}) where the hyperparameter's domain allows, "
                "and warm-start the next tuning job from this one.",
            )


@rule("AMT404", Severity.WARNING, "Bayesian search ran fully parallel", tags=DIAGNOSIS)
def bayesian_fully_parallel(ctx: LintContext) -> Iterator[Finding]:
    """Every trial started before any trial finished: Bayesian search had nothing to learn from."""
    evidence = _evidence(ctx)
    if evidence is None or strategy(ctx.request) != "Bayesian" or len(evidence.training_jobs) < 2:
        return
    jobs = evidence.training_jobs
    parallel = max_parallel(ctx.request)
    starts = [as_time(j.get("TrainingStartTime") or j.get("CreationTime")) for j in jobs]
    ends = [as_time(j.get("TrainingEndTime")) for j in jobs]
    known_starts = [s for s in starts if s is not None]
    known_ends = [e for e in ends if e is not None]
    if len(known_starts) == len(jobs) and known_ends:
        fully_parallel = max(known_starts) < min(known_ends)  # the trials' own timestamps decide
    else:
        fully_parallel = parallel is not None and parallel >= len(jobs)
    if fully_parallel:
        yield Finding(
            "AMT404",
            Severity.WARNING,
            f"{LIMITS}.MaxParallelTrainingJobs",
            f"all {len(jobs)} trials of this Bayesian search ran at the same time "
            f"(MaxParallelTrainingJobs {parallel}); none was chosen with another's result in hand.",
            "Bayesian search learns from finished trials; run fully parallel it is random search.",
            "Run fewer jobs at once (about a tenth of the budget), or use Random search and say so.",
        )
