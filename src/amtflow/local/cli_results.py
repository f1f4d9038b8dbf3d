"""How local tuning jobs are shown by ``amtflow tune``, ``jobs`` and ``describe``: the progress line, the
leaderboard (or why there is none), and the trials as records for ``--format json|csv``."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from typing import Any, TextIO

from amtflow.vocabulary import TuningJobStatus

TERMINAL = frozenset(s.value for s in TuningJobStatus if s.is_terminal())


def shown_time(ts: Any) -> str:
    if isinstance(ts, int | float):
        ts = dt.datetime.fromtimestamp(ts, dt.UTC)
    return ts.strftime("%Y-%m-%d %H:%M:%S") if isinstance(ts, dt.datetime) else "-"


def iso_time(ts: Any) -> Any:
    if isinstance(ts, int | float):
        ts = dt.datetime.fromtimestamp(ts, dt.UTC)
    return ts.isoformat() if isinstance(ts, dt.datetime) else ts


def objective_of(describe: Mapping[str, Any]) -> tuple[str, bool]:
    obj = describe["HyperParameterTuningJobConfig"].get("HyperParameterTuningJobObjective") or {}
    return str(obj.get("MetricName", "objective")), obj.get("Type") == "Maximize"


def progress_line(describe: Mapping[str, Any], elapsed: float) -> str:
    """One line: trials done (of the budget) and running, failures, the best so far, elapsed time."""
    c = describe["TrainingJobStatusCounters"]
    failed = c["RetryableError"] + c["NonRetryableError"]
    done = c["Completed"] + c["Stopped"] + failed
    budget = (describe["HyperParameterTuningJobConfig"].get("ResourceLimits") or {}).get(
        "MaxNumberOfTrainingJobs"
    )
    line = (
        f"[{elapsed:6.1f}s] {describe['HyperParameterTuningJobStatus']:<10} "
        f"done {done}{f'/{budget}' if budget else ''} | running {c['InProgress']} | "
        f"completed {c['Completed']} | stopped {c['Stopped']} | failed {failed}"
    )
    best = describe.get("BestTrainingJob")
    if best:
        metric = best["FinalHyperParameterTuningJobObjectiveMetric"]
        line += f" | best {metric['MetricName']}={metric['Value']:.6g} ({best['TrainingJobName']})"
    return line


class Progress:
    """Shows progress lines: on a terminal one line rewritten in place, otherwise a line per change."""

    def __init__(self, out: TextIO) -> None:
        self._out = out
        self._tty = bool(getattr(out, "isatty", lambda: False)())
        self._last = ""
        self._width = 0

    def show(self, line: str) -> None:
        state = line.split("]", 1)[-1]
        if self._tty:
            self._out.write("\r" + line.ljust(self._width))
            self._width = len(line)
        elif state != self._last:
            self._out.write(line + "\n")
        self._last = state
        self._out.flush()

    def close(self) -> None:
        if self._tty and self._width:
            self._out.write("\n")
            self._out.flush()


def trials(engine: Any, name: str, *, maximize: bool) -> list[dict[str, Any]]:
    """Every trial of the tuning job, best objective first, those without one after them (oldest first).

    Listed by creation time: sorted by objective value, the API leaves out the trials without one.
    """
    rows: list[dict[str, Any]] = []
    token: str | None = None
    while True:
        params: dict[str, Any] = {
            "HyperParameterTuningJobName": name,
            "SortBy": "CreationTime",
            "SortOrder": "Ascending",
            "MaxResults": 100,
        }
        if token:
            params["NextToken"] = token
        page = engine.handle("ListTrainingJobsForHyperParameterTuningJob", params)
        rows.extend(page["TrainingJobSummaries"])
        token = page.get("NextToken")
        if not token:
            break
    scored = [r for r in rows if r.get("FinalHyperParameterTuningJobObjectiveMetric")]
    scored.sort(
        key=lambda r: float(r["FinalHyperParameterTuningJobObjectiveMetric"]["Value"]), reverse=maximize
    )
    return scored + [r for r in rows if not r.get("FinalHyperParameterTuningJobObjectiveMetric")]


def leaderboard(engine: Any, name: str, top: int = 10) -> list[dict[str, Any]]:
    """Trials with an objective, best first."""
    describe = engine.handle("DescribeHyperParameterTuningJob", {"HyperParameterTuningJobName": name})
    _, maximize = objective_of(describe)
    rows = trials(engine, name, maximize=maximize)
    return [r for r in rows if r.get("FinalHyperParameterTuningJobObjectiveMetric")][:top]


def no_leaderboard_reason(describe: Mapping[str, Any], rows: Sequence[Mapping[str, Any]]) -> str:
    """Why a job has no leaderboard: no trial finished (their failure said first), or the trials that
    finished reported no objective (then the metric regexes are to blame)."""
    finished = [r for r in rows if r.get("TrainingJobStatus") in ("Completed", "Stopped")]
    if finished:
        return (
            f"no trial reported the objective metric ({len(finished)} finished; "
            "check MetricDefinitions against the logs, e.g. with 'amtflow lint --from-job')"
        )
    failed = [r for r in rows if r.get("TrainingJobStatus") == "Failed"]
    if failed:
        reason = next((str(r["FailureReason"]) for r in failed if r.get("FailureReason")), "")
        return f"no trial finished ({len(failed)} failed{'; first failure: ' + reason if reason else ''})"
    if describe.get("HyperParameterTuningJobStatus") in TERMINAL:
        return "no trial ran" + (f" ({describe['FailureReason']})" if describe.get("FailureReason") else "")
    return "no trial finished yet"


def print_leaderboard(engine: Any, name: str, out: TextIO, top: int = 10) -> None:
    rows = leaderboard(engine, name, top)
    if not rows:
        describe = engine.handle("DescribeHyperParameterTuningJob", {"HyperParameterTuningJobName": name})
        everything = trials(engine, name, maximize=objective_of(describe)[1])
        out.write(f"leaderboard: {no_leaderboard_reason(describe, everything)}\n")
        return
    metric = rows[0]["FinalHyperParameterTuningJobObjectiveMetric"]["MetricName"]
    out.write(f"leaderboard (top {len(rows)} by {metric}):\n")
    for i, r in enumerate(rows, start=1):
        value = r["FinalHyperParameterTuningJobObjectiveMetric"]["Value"]
        hps = " ".join(f"{k}={v}" for k, v in sorted(r["TunedHyperParameters"].items()))
        if r.get("TrainingJobDefinitionName"):
            hps = f"[{r['TrainingJobDefinitionName']}] {hps}"
        out.write(f"{i:>3}. {value:<12.6g} {r['TrainingJobStatus']:<9} {r['TrainingJobName']}  {hps}\n")


TRIAL_COLUMNS = ("rank", "name", "algorithm", "status", "objective", "hyperparameters", "failure_reason")


def trial_rows(rows: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Trials as flat records (rank among those with an objective; hyperparameters as a mapping)."""
    out: list[dict[str, Any]] = []
    rank = 0
    for r in rows:
        metric = r.get("FinalHyperParameterTuningJobObjectiveMetric")
        if metric:
            rank += 1
        out.append(
            {
                "rank": rank if metric else None,
                "name": r["TrainingJobName"],
                "algorithm": r.get("TrainingJobDefinitionName"),
                "status": r["TrainingJobStatus"],
                "objective": metric["Value"] if metric else None,
                "hyperparameters": dict(r.get("TunedHyperParameters") or {}),
                "failure_reason": r.get("FailureReason"),
            }
        )
    return out


def job_summary(engine: Any, describe: Mapping[str, Any]) -> dict[str, Any]:
    """The result of a tuning job as one JSON-ready record, with its trials best first."""
    metric, maximize = objective_of(describe)
    rows = trials(engine, describe["HyperParameterTuningJobName"], maximize=maximize)
    best = describe.get("BestTrainingJob") or {}
    return {
        "name": describe["HyperParameterTuningJobName"],
        "status": describe["HyperParameterTuningJobStatus"],
        "strategy": describe["HyperParameterTuningJobConfig"]["Strategy"],
        "objective": {"metric": metric, "goal": "Maximize" if maximize else "Minimize"},
        "counters": describe["TrainingJobStatusCounters"],
        "best": {
            "name": best["TrainingJobName"],
            "objective": best["FinalHyperParameterTuningJobObjectiveMetric"]["Value"],
            "algorithm": best.get("TrainingJobDefinitionName"),
            "hyperparameters": best.get("TunedHyperParameters") or {},
        }
        if best
        else None,
        "failure_reason": describe.get("FailureReason"),
        "trials": trial_rows(rows),
    }
