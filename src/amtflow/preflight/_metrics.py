"""Metric definitions (tag ``practice``): regexes that compile, capture one number, and match the log.

SageMaker finds each metric by searching every line the training container prints with the definition's
regex and reading its first capture group as a float. A regex that never matches leaves the tuning job
without an objective: every trial runs to the end and the leaderboard is empty. When sample log lines are
known (``LintContext.sample_logs``: a profile's samples, an earlier trial's log, a canary run), every regex
is tried on them and the nearest line is shown for each regex that matches nothing.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass

from amtflow.preflight._findings import Finding, LintContext, Severity, rule
from amtflow.preflight._request import CONFIG, as_float, definitions, early_stopping, strategy

PRACTICE = ("practice",)

#: Strings a capture group must be able to match for it to be read as a number.
NUMBER_SAMPLES = ("0", "1", "42", "0.95", "12.5", "-0.5", "1e-05", "3.2e+01", ".5", "5.")
_SHOWN_LINE_CHARS = 160


@dataclass(frozen=True)
class MetricRegex:
    """One metric definition with its compiled regex (``None`` when it does not compile)."""

    path: str
    name: str
    source: str
    compiled: re.Pattern[str] | None
    is_objective: bool


def metric_regexes(ctx: LintContext) -> list[MetricRegex]:
    """Every metric definition of the request, compiled once."""
    found: list[MetricRegex] = []
    for view in definitions(ctx.request):
        for path, definition in view.metric_definitions:
            name, source = definition.get("Name"), definition.get("Regex")
            if not isinstance(name, str) or not isinstance(source, str) or not source:
                continue
            try:
                compiled: re.Pattern[str] | None = re.compile(source)
            except (re.error, RecursionError, OverflowError):
                compiled = None
            found.append(MetricRegex(path, name, source, compiled, name == view.objective_metric))
    return found


def first_group_source(pattern: str) -> str | None:
    """The source text of the first capturing group of ``pattern`` (``None`` if it has none)."""
    i, depth, start, in_class = 0, 0, -1, False
    while i < len(pattern):
        ch = pattern[i]
        if ch == "\\":
            i += 2
            continue
        if in_class:
            in_class = ch != "]"
        elif ch == "[":
            in_class = True
            if pattern[i + 1 : i + 2] == "]":
                i += 1
        elif ch == "(":
            if start >= 0:
                depth += 1
            elif not pattern.startswith("(?", i):
                start, depth = i + 1, 0
            elif pattern.startswith("(?P<", i):
                close = pattern.find(">", i)
                start, depth = (close + 1, 0) if close > 0 else (-1, 0)
                i = close if close > 0 else i
        elif ch == ")" and start >= 0:
            if depth == 0:
                return pattern[start:i]
            depth -= 1
        i += 1
    return None


def nearest_line(pattern: str, lines: Sequence[str]) -> str | None:
    """The line most similar to the literal text of ``pattern`` (by difflib), shortened for display."""
    literal = re.sub(r"\\[dDsSwWbB]|[\\^$.*+?()\[\]{}|]", " ", pattern)
    literal = re.sub(r"\s+", " ", literal).strip() or pattern
    best, best_score = None, -1.0
    for line in lines:
        stripped = line.strip()
        if not stripped:
            continue
        score = difflib.SequenceMatcher(None, literal, stripped[:400], autojunk=False).ratio()
        if score > best_score:
            best, best_score = stripped, score
    if best is None:
        return None
    return best if len(best) <= _SHOWN_LINE_CHARS else best[: _SHOWN_LINE_CHARS - 1] + "…"


def _logs(ctx: LintContext) -> Mapping[str, Sequence[str]]:
    return {src: [line for line in lines if isinstance(line, str)] for src, lines in ctx.sample_logs.items()}


@rule("AMT120", Severity.ERROR, "Metric regex compiles", tags=PRACTICE)
def regex_compiles(ctx: LintContext) -> Iterator[Finding]:
    """A regex that does not compile never reports its metric."""
    for m in metric_regexes(ctx):
        if m.compiled is None:
            try:
                re.compile(m.source)
                reason = "it does not compile"
            except re.error as e:
                reason = str(e)
            except (RecursionError, OverflowError):
                reason = "it is too deeply nested"
            yield Finding(
                "AMT120",
                Severity.ERROR,
                f"{m.path}.Regex",
                f"the regex of {m.name!r} is invalid: {reason}.",
                "SageMaker cannot extract the metric; if it is the objective, no trial gets a score.",
                "Fix the regex (escape literal characters such as '.', '(', '[' with a backslash).",
            )


@rule("AMT121", Severity.ERROR, "Metric regex has exactly one capture group", tags=PRACTICE)
def regex_one_group(ctx: LintContext) -> Iterator[Finding]:
    """SageMaker reads the first capture group as the value: none means no value, two is ambiguous."""
    for m in metric_regexes(ctx):
        if m.compiled is None or m.compiled.groups == 1:
            continue
        yield Finding(
            "AMT121",
            Severity.ERROR,
            f"{m.path}.Regex",
            f"the regex of {m.name!r} has {m.compiled.groups} capture groups; it needs exactly one, around "
            "the "
            "number.",
            "The metric's value is the text of the capture group; without exactly one the wrong text or "
            "nothing is read.",
            "Wrap only the number in parentheses, e.g. 'auc: ([0-9.]+)', and make other groups "
            "non-capturing with (?:...).",
        )


@rule("AMT122", Severity.ERROR, "Metric regex captures a number", tags=PRACTICE)
def regex_captures_number(ctx: LintContext) -> Iterator[Finding]:
    """The capture group must be able to match a number, and does so on the sample log lines."""
    logs = _logs(ctx)
    for m in metric_regexes(ctx):
        if m.compiled is None or m.compiled.groups != 1:
            continue
        group = first_group_source(m.source)
        sub = None
        if group is not None:
            try:
                sub = re.compile(group)
            except re.error:
                sub = None
        if sub is not None and not any(sub.fullmatch(s) for s in NUMBER_SAMPLES):
            yield Finding(
                "AMT122",
                Severity.ERROR,
                f"{m.path}.Regex",
                f"the capture group ({group}) of {m.name!r} cannot match a number.",
                "SageMaker parses the captured text as a float; text that is never a number gives no value.",
                "Capture the number itself, e.g. ([-+]?[0-9]*\\.?[0-9]+(?:[eE][-+]?[0-9]+)?).",
            )
            continue
        for source, lines in logs.items():
            for line in lines:
                match = m.compiled.search(line)
                if match and match.group(1) is not None and as_float(match.group(1)) is None:
                    yield Finding(
                        "AMT122",
                        Severity.ERROR,
                        f"{m.path}.Regex",
                        f"on {source} the regex of {m.name!r} captures {match.group(1)!r}, not a number, "
                        "from "
                        f"the line {line.strip()[:_SHOWN_LINE_CHARS]!r}.",
                        "SageMaker parses the captured text as a float; this line yields no value.",
                        "Narrow the capture group to the digits, e.g. ([0-9.]+).",
                    )
                    break


def _definition_of(m: MetricRegex) -> str:
    return m.path.split(".", 1)[0]


def _readers(regexes: list[MetricRegex], logs: Mapping[str, Sequence[str]]) -> dict[str, set[str]]:
    """With several training definitions: for each log, the definitions (paths) of which some metric
    regex matches one of its lines. A log that none of a definition's regexes reads is another
    definition's (e.g. a canary of one algorithm); one that no definition reads is checked against all."""
    return {
        source: {
            _definition_of(m)
            for m in regexes
            if m.compiled is not None and any(m.compiled.search(line) for line in lines)
        }
        for source, lines in logs.items()
    }


def _unmatched(ctx: LintContext, objective: bool, rule_id: str, severity: Severity) -> Iterator[Finding]:
    logs = {src: lines for src, lines in _logs(ctx).items() if lines}
    if not logs:
        return
    regexes = metric_regexes(ctx)
    readers = _readers(regexes, logs) if len(definitions(ctx.request)) > 1 else {}
    for m in regexes:
        if m.compiled is None or m.is_objective != objective:
            continue
        for source, lines in logs.items():
            if any(m.compiled.search(line) for line in lines):
                continue
            if readers.get(source) and _definition_of(m) not in readers[source]:
                continue  # another training definition's log
            near = nearest_line(m.source, lines)
            kind = "objective" if objective else "metric"
            yield Finding(
                rule_id,
                severity,
                f"{m.path}.Regex",
                f"the {kind} regex '{m.source}' of {m.name!r} matches none of the {len(lines)} line(s) of "
                f"{source}" + (f"; the nearest line is {near!r}." if near else "."),
                "SageMaker reads metrics only from lines the regex matches"
                + (
                    ": no trial would get a score and the leaderboard would be empty."
                    if objective
                    else "; this metric would never be recorded."
                ),
                "Compare the regex with the nearest line (spaces, separators, case, escaped '.'), then "
                "adjust "
                "the regex or the training script's print.",
            )


@rule("AMT123", Severity.ERROR, "The objective's regex matches the sample log", tags=PRACTICE)
def objective_matches_log(ctx: LintContext) -> Iterator[Finding]:
    """Tried on every source in ``LintContext.sample_logs``; silent when there are none."""
    yield from _unmatched(ctx, True, "AMT123", Severity.ERROR)


@rule("AMT124", Severity.WARNING, "Every other metric's regex matches the sample log", tags=PRACTICE)
def metrics_match_log(ctx: LintContext) -> Iterator[Finding]:
    """Tried on every source in ``LintContext.sample_logs``; silent when there are none."""
    yield from _unmatched(ctx, False, "AMT124", Severity.WARNING)


@rule(
    "AMT125",
    Severity.WARNING,
    "Early stopping or Hyperband, but the objective is reported only once",
    tags=PRACTICE,
)
def objective_reported_once(ctx: LintContext) -> Iterator[Finding]:
    """Early stopping and Hyperband compare trials on intermediate values (e.g. one per epoch)."""
    name = strategy(ctx.request)
    stopping = early_stopping(ctx.request) == "Auto"
    if not stopping and name != "Hyperband":
        return
    logs = {src: lines for src, lines in _logs(ctx).items() if lines}
    for m in metric_regexes(ctx):
        if not m.is_objective or m.compiled is None:
            continue
        counts = {src: sum(1 for line in lines if m.compiled.search(line)) for src, lines in logs.items()}
        seen = [c for c in counts.values() if c > 0]
        if seen and max(seen) == 1:
            what = (
                "Hyperband" if name == "Hyperband" else "early stopping (TrainingJobEarlyStoppingType Auto)"
            )
            yield Finding(
                "AMT125",
                Severity.WARNING,
                f"{CONFIG}.TrainingJobEarlyStoppingType" if stopping else f"{CONFIG}.Strategy",
                f"{what} is on, but the sample log reports {m.name!r} only once per run.",
                "Both compare trials on intermediate objective values; a metric printed only at the end "
                "gives "
                "them nothing to act on, so no compute is saved.",
                "Print the objective after every epoch or round, or switch early stopping off (and use "
                "Bayesian or Random instead of Hyperband).",
            )


#: ``LintContext.extra`` key holding the outcome of a canary trial (``amtflow lint --canary``).
CANARY_KEY = "canary"


@rule("AMT126", Severity.ERROR, "The canary trial ran and printed its log", tags=PRACTICE)
def canary_failed(ctx: LintContext) -> Iterator[Finding]:
    """Evidence: ``extra["canary"]`` = ``{job, status, failure_reason, lines}`` of a short local trial
    with the profile's static hyperparameters and a mid-range configuration; silent without one. A failed
    canary is an error; one that printed nothing is a warning (the regexes were not tested)."""
    # a multi-algorithm profile's canaries: a list, each with the ``definition`` (key path) it ran
    found = ctx.extra.get(CANARY_KEY)
    canaries = [found] if isinstance(found, Mapping) else found if isinstance(found, list) else []
    for canary in canaries:
        if isinstance(canary, Mapping):
            yield from _canary_findings(canary)


def _canary_findings(canary: Mapping[str, object]) -> Iterator[Finding]:
    """AMT126 for one canary (``definition``: the path of its training definition, with several)."""
    job = canary.get("job") or "the canary trial"
    where = str(canary.get("definition") or "TrainingJobDefinition")
    if canary.get("status") == "Failed":
        reason = str(canary.get("failure_reason") or "no failure reason given").strip()
        limit = _SHOWN_LINE_CHARS * 2
        reason = reason if len(reason) <= limit else reason[: limit - 1] + "…"
        yield Finding(
            "AMT126",
            Severity.ERROR,
            where,
            f"the canary trial {job} failed: {reason}",
            "Every trial of the tuning job runs the same image, data and static hyperparameters; a failing "
            "canary means the trials would fail too and the whole budget would be spent for nothing.",
            "Fix the failure shown (the trial's log is in the engine's state folder), then lint again with "
            "--canary.",
        )
    elif canary.get("lines") == 0:
        yield Finding(
            "AMT126",
            Severity.WARNING,
            f"{where}.AlgorithmSpecification.MetricDefinitions",
            f"the canary trial {job} ended {canary.get('status') or ''} without printing a line, so the "
            "metric regexes were not tested.",
            "SageMaker reads metrics only from what the training script prints.",
            "Check that the script prints its metrics (to stdout, flushed), or give it more time with "
            "--canary-seconds.",
        )
