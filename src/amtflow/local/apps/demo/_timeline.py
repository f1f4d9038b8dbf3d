"""How the demo tells what it sees: timeline lines, and a follower that polls the twin for what is new."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Mapping
from typing import Any, TextIO

from amtflow.local.twin import Twin

_SNS_LINES = 40


class Timeline:
    """Prints ``[  12.3s] kind     text`` lines as things happen and keeps them for the report."""

    def __init__(self, out: TextIO, monotonic: Callable[[], float] = time.monotonic) -> None:
        self._out = out
        self._monotonic = monotonic
        self._start = monotonic()
        self._lock = threading.Lock()
        self.lines: list[str] = []

    def line(self, kind: str, text: str) -> None:
        with self._lock:
            stamp = f"[{self._monotonic() - self._start:6.1f}s] {kind:<8} "
            indent = "\n" + " " * len(stamp)
            rendered = stamp + indent.join(text.splitlines() or [""])
            self.lines.append(rendered)
            print(rendered, file=self._out, flush=True)


class Follower:
    """Polls the twin and prints what is new: invocations, states, trials, notifications."""

    def __init__(self, twin: Twin, timeline: Timeline) -> None:
        self.twin = twin
        self.tl = timeline
        self.seen_invocations = 0
        self.seen_history: dict[str, int] = {}
        self.seen_trials: set[str] = set()
        self.seen_jobs: dict[str, int] = {}
        self.seen_notifications = 0
        self.errors_shown: set[str] = set()
        self.rules = {physical: logical for logical, physical in twin.resources("AWS::Events::Rule").items()}

    def follow(self, timeout: float, stop: Callable[[], bool] | None = None) -> None:
        """Print what happens until the twin is idle (or ``stop()`` says enough, or the timeout)."""
        deadline = time.monotonic() + timeout
        while True:
            self.poll()
            if self.twin.is_idle() or (stop is not None and stop()):
                self.poll()
                return
            if time.monotonic() > deadline:
                self.tl.line("timeout", f"still running after {timeout:.0f}s; stopping the story here")
                return
            time.sleep(0.25)

    def poll(self) -> None:
        self._trials()  # first: a job's last trials end before its execution moves on
        self._invocations()
        self._states()
        self._notifications()

    def _source(self, source: str) -> str:
        if source.startswith("rule:"):
            return "rule " + self.rules.get(source[5:], source[5:])
        if source.startswith("schedule:"):
            return "schedule " + source.rsplit("/", 1)[-1]
        return "state machine" if source == "invoke" else source

    def _invocations(self) -> None:
        invocations = self.twin.invocations()
        for inv in invocations[self.seen_invocations :]:
            if isinstance(inv.result, Mapping) and inv.result.get("outcome") == "not_ours":
                continue  # an event about a job the function does not wait for (e.g. a trial's): a no-op
            who = inv.function.removesuffix("Function")
            if inv.ok:
                self.tl.line("lambda", f"{who} <- {self._source(inv.source)}: {compact(inv.result, 120)}")
                warnings = inv.result.get("warnings") if isinstance(inv.result, Mapping) else None
                for warning in warnings or []:
                    self.tl.line("preflight", str(warning))
            else:
                self.tl.line(
                    "lambda",
                    f"{who} <- {self._source(inv.source)}: FAILED {inv.error_type}: {inv.error_message}",
                )
        self.seen_invocations = len(invocations)

    def _states(self) -> None:
        sfn = self.twin.client("stepfunctions")
        for execution in self.twin.executions():
            events = sfn.get_execution_history(executionArn=execution.arn, maxResults=1000)["events"]
            start = self.seen_history.get(execution.arn, 0)
            if start == 0 and events:
                self.tl.line("run", f"execution {execution.name} started, input {compact(execution.input)}")
            for event in events[start:]:
                kind = event["type"]
                if kind.endswith("StateEntered"):
                    self.tl.line("state", event["stateEnteredEventDetails"]["name"])
                elif kind.endswith("StateExited"):
                    details = event["stateExitedEventDetails"]
                    summary = _state_summary(details["name"], details.get("output"))
                    if summary.startswith("error "):
                        if execution.arn in self.errors_shown:
                            summary = ""
                        self.errors_shown.add(execution.arn)
                    if summary:
                        self.tl.line("state", f"{details['name']}: {summary}")
                elif kind in (
                    "ExecutionSucceeded",
                    "ExecutionFailed",
                    "ExecutionAborted",
                    "ExecutionTimedOut",
                ):
                    done = self.twin.executions()
                    final = next((e for e in done if e.arn == execution.arn), execution)
                    tail = f" ({final.error}: {_first_line(final.cause)})" if final.error else ""
                    self.tl.line(
                        "run",
                        f"execution {final.name} {final.status.value}{tail} - {final.state_transitions} "
                        f"states, {final.lambda_invocations} Lambda calls from the state machine",
                    )
            self.seen_history[execution.arn] = len(events)

    def _trials(self) -> None:
        sm = self.twin.client("sagemaker")
        jobs = sm.list_hyper_parameter_tuning_jobs(MaxResults=100)["HyperParameterTuningJobSummaries"]
        for job in jobs:
            name = job["HyperParameterTuningJobName"]
            limits = job.get("ResourceLimits", {})
            if name not in self.seen_jobs:
                self.seen_jobs[name] = 0
                self.tl.line(
                    "sagemaker",
                    f"tuning job {name}: {job.get('Strategy')} search, "
                    f"{limits.get('MaxNumberOfTrainingJobs')} trials, "
                    f"{limits.get('MaxParallelTrainingJobs')} at a time (local AMT engine, real training)",
                )
            rows = sm.list_training_jobs_for_hyper_parameter_tuning_job(
                HyperParameterTuningJobName=name, MaxResults=100
            )["TrainingJobSummaries"]
            finished = [r for r in rows if r["TrainingJobStatus"] in ("Completed", "Stopped", "Failed")]
            best: float | None = None
            described: dict[str, Any] | None = None
            for row in sorted(finished, key=lambda r: r.get("TrainingEndTime") or r["CreationTime"]):
                value = row.get("FinalHyperParameterTuningJobObjectiveMetric", {}).get("Value")
                if value is not None:
                    if described is None:
                        described = sm.describe_hyper_parameter_tuning_job(HyperParameterTuningJobName=name)
                    goal = described["HyperParameterTuningJobConfig"]["HyperParameterTuningJobObjective"][
                        "Type"
                    ]
                    better = best is None or (value > best if goal == "Maximize" else value < best)
                    best = value if better else best
                if row["TrainingJobName"] in self.seen_trials:
                    continue
                self.seen_trials.add(row["TrainingJobName"])
                self.seen_jobs[name] += 1
                metric = f"objective={value:.5f}" if value is not None else "no objective"
                best_text = f"best so far {best:.5f}" if best is not None else ""
                self.tl.line(
                    "trial",
                    f"[{self.seen_jobs[name]}/{limits.get('MaxNumberOfTrainingJobs', '?')}] "
                    f"{row['TrainingJobName']} {row['TrainingJobStatus']:<9} {metric}  {best_text}",
                )

    def _notifications(self) -> None:
        notes = self.twin.notifications()
        for note in notes[self.seen_notifications :]:
            attrs = " ".join(f"{k}={v}" for k, v in sorted(note.attributes.items()))
            lines = _abridged(note.message).splitlines()
            if len(lines) > _SNS_LINES:
                lines = [*lines[:_SNS_LINES], f"... ({len(lines) - _SNS_LINES} more lines in the report)"]
            text = "\n".join(lines)
            self.tl.line(
                "sns",
                f"received on {note.topic_arn.rsplit(':', 1)[-1]}\nSubject: {note.subject}\n"
                f"Attributes: {attrs}\n{text}",
            )
        self.seen_notifications = len(notes)


def compact(value: Any, limit: int = 160) -> str:
    text = json.dumps(value, default=str, separators=(",", ":"))
    return text if len(text) <= limit else text[: limit - 3] + "..."


_ABRIDGED: dict[str, tuple[str, ...]] = {
    "plan": ("action", "warmStart", "parents", "maxJobs", "datasetVersion", "reason", "drift"),
    "evaluation": ("outcome", "reason", "best", "promotion", "diagnosis"),
    "best": ("trainingJobName", "objectiveValue"),
    "promotion": ("outcome", "reason", "modelPackageArn", "approvalStatus"),
}


def _abridged(message: str) -> str:
    """A JSON notification with what a reader looks for first (the report keeps the whole message)."""
    try:
        doc = json.loads(message)
    except ValueError:
        return message
    if not isinstance(doc, dict):
        return _pretty(message)

    def keep(value: Any, key: str) -> Any:
        if not isinstance(value, dict) or key not in _ABRIDGED:
            return value
        return {k: keep(value[k], k) for k in _ABRIDGED[key] if value.get(k) not in (None, [], {})}

    top = ("model", "outcome", "plan", "evaluation", "error")
    short = {k: keep(doc[k], k) for k in top if doc.get(k) not in (None, [], {})}
    error = short.get("error")
    if isinstance(error, dict) and "\n" in str(error.get("message", "")):
        short["error"] = {**error, "message": str(error["message"]).splitlines()}  # one finding a line
    return json.dumps(short, indent=2) + "\n(abridged: the whole message is in the report)"


def _pretty(message: str) -> str:
    try:
        return json.dumps(json.loads(message), indent=2)
    except ValueError:
        return message


def _first_line(cause: Any) -> str:
    """The readable part of an error cause (a Lambda error payload's message, first line)."""
    text = str(cause or "")
    try:
        doc = json.loads(text)
    except ValueError:
        doc = None
    if isinstance(doc, dict) and doc.get("errorMessage"):
        text = str(doc["errorMessage"])
    return text.splitlines()[0][:240] if text else ""


def _state_summary(state: str, output: str | None) -> str:
    if not output:
        return ""
    try:
        doc = json.loads(output)
    except ValueError:
        return ""
    if not isinstance(doc, dict):
        return ""
    if state == "Plan" and isinstance(doc.get("plan"), dict):
        plan = doc["plan"]
        job = f" (job {plan['jobName']})" if plan.get("jobName") else ""
        return f"{plan.get('action')} - {plan.get('reason')}{job}"
    if state == "StartTuning" and "tuning" in doc:
        return f"callback received: {compact(doc['tuning'], 200)}"
    if state == "Evaluate" and isinstance(doc.get("evaluation"), dict):
        evaluation = doc["evaluation"]
        best = evaluation.get("best") or {}
        return (
            f"{evaluation.get('outcome')} - {evaluation.get('reason')}; best "
            f"{best.get('trainingJobName')} {evaluation.get('objectiveMetric')}={best.get('objectiveValue')}"
        )
    promotion = (
        (doc.get("evaluation") or {}).get("promotion") if isinstance(doc.get("evaluation"), dict) else None
    )
    if state == "Promote" and isinstance(promotion, dict):
        return f"{str(promotion.get('outcome', '?')).replace('_', ' ')} - {promotion.get('reason', '')}"
    if "error" in doc and isinstance(doc["error"], dict):
        return f"error {doc['error'].get('Error')}: {_first_line(doc['error'].get('Cause'))}"
    return ""
