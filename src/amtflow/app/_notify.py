"""Notify: one message per outcome, readable and machine-readable, filterable by model and outcome.

Every notification leaves through :func:`outgoing`: secrets redacted in its subject, text, JSON document
and attributes (:mod:`amtflow.redaction`), a subject SNS accepts, every quoted text bounded.
"""

from __future__ import annotations

import json
import logging
import unicodedata
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from amtflow.app._events import parse_timestamp
from amtflow.app._ports import Notification, Notifier, ParkedJob
from amtflow.app._stall import StallRecord
from amtflow.errors import AmtflowError
from amtflow.lineage import LineageStore
from amtflow.messages import (
    Evaluation,
    Outcome,
    Plan,
    Promotion,
    TuningResult,
    parse_document,
)
from amtflow.profile import ModelProfile, announces
from amtflow.redaction import redact, redact_value, secrets_in, truncate
from amtflow.vocabulary import Action, Now, PromotionOutcome

logger = logging.getLogger(__name__)

REJECTION_ERRORS = frozenset({"PreflightRejectedError", "PreflightRejected"})
MAX_ERROR_TEXT = 4000
#: SNS: "Subjects must be UTF-8 text with no line breaks or control characters, and less than 100
#: characters long" (older documentation: ASCII, beginning with a letter, number or punctuation mark).
SUBJECT_LIMIT = 99
SUBJECT_FALLBACK = "amtflow notification"
#: The longest string a notification's JSON document or attribute carries; longer ones are cut.
MAX_DOCUMENT_STRING = 4000
MAX_ATTRIBUTE = 256
MODEL_NAME_LIMIT = 64


@dataclass(frozen=True)
class RunReport:
    """Everything a notification says about one run, gathered from the state machine's state."""

    model: str
    outcome: Outcome
    execution_id: str
    plan: Plan | None = None
    tuning: TuningResult | None = None
    evaluation: Evaluation | None = None
    error_type: str | None = None
    error_message: str | None = None
    duration_seconds: int | None = None


def _error_text(error: Mapping[str, Any]) -> tuple[str, str]:
    """``(type, message)`` from a Catch's ``{"Error", "Cause"}``; a Lambda cause is its error JSON."""
    kind = str(error.get("Error") or "Error")
    cause = error.get("Cause")
    message = ""
    if isinstance(cause, str):
        try:
            parsed = json.loads(cause)
        except ValueError:
            message = cause
        else:
            if isinstance(parsed, Mapping):
                message = str(parsed.get("errorMessage") or parsed.get("message") or cause)
                kind = str(parsed.get("errorType") or kind)
            else:
                message = cause
    return kind, truncate(message or "no details were given", MAX_ERROR_TEXT)


def gather_report(state: Mapping[str, Any], *, execution_id: str, clock: Now) -> RunReport:
    """Read the state leniently: a notification must go out even when part of the state is malformed."""

    def optional(model: Any, key: str) -> Any:
        raw = state.get(key)
        if raw is None:
            return None
        try:
            return parse_document(model, raw, what=key)
        except AmtflowError:
            return None

    plan: Plan | None = optional(Plan, "plan")
    tuning: TuningResult | None = optional(TuningResult, "tuning")
    evaluation: Evaluation | None = optional(Evaluation, "evaluation")
    request = state.get("request")
    model = plan.model if plan else None
    if model is None and isinstance(request, Mapping) and isinstance(request.get("model"), str):
        model = request["model"]
    error_type = error_message = None
    error = state.get("error")
    if isinstance(error, Mapping):
        error_type, error_message = _error_text(error)
        outcome = Outcome.REJECTED if error_type in REJECTION_ERRORS else Outcome.FAILED
    elif plan is not None and plan.action is Action.SKIP:
        outcome = Outcome.SKIPPED
    elif evaluation is not None:
        outcome = evaluation.outcome
    else:
        outcome = Outcome.FAILED
        error_type, error_message = "IncompleteRun", "the run reached Notify without an evaluation"
    duration = None
    if tuning is not None and tuning.runtime_seconds is not None:
        duration = tuning.runtime_seconds
    elif plan is not None:
        duration = max(0, int((clock() - plan.planned_at).total_seconds()))
    return RunReport(
        model=one_line(model or "", MODEL_NAME_LIMIT) or "unknown",
        outcome=outcome,
        execution_id=execution_id,
        plan=plan,
        tuning=tuning,
        evaluation=evaluation,
        error_type=error_type,
        error_message=error_message,
        duration_seconds=duration,
    )


def one_line(text: str, limit: int) -> str:
    """``text`` on one line (control characters and line breaks become spaces), at most ``limit`` long."""
    flat = " ".join("".join(c if c.isprintable() else " " for c in text).split())
    return truncate(flat, limit)


def _ascii_line(text: str) -> str:
    """One line of printable ASCII: accents dropped, dashes and quotes simplified, the rest left out."""
    flat = " ".join("".join(c if c.isprintable() else " " for c in text).split())
    flat = flat.translate(_ASCII_LOOKALIKES)
    ascii_only = unicodedata.normalize("NFKD", flat).encode("ascii", "ignore").decode("ascii")
    return " ".join(ascii_only.split())


_ASCII_LOOKALIKES = {
    0x2013: "-",
    0x2014: "-",
    0x2018: "'",
    0x2019: "'",
    0x201C: '"',
    0x201D: '"',
    0x2026: "...",
}


def subject_line(text: str) -> str:
    """A subject SNS accepts: printable ASCII on one line, starting with a letter, digit or punctuation
    mark, fewer than 100 characters (cut with ``...``), never empty."""
    line = _ascii_line(text)
    if len(line) > SUBJECT_LIMIT:
        line = line[: SUBJECT_LIMIT - 3].rstrip() + "..."
    return line or SUBJECT_FALLBACK


def _bounded_strings(value: Any) -> Any:
    if isinstance(value, str):
        return truncate(value, MAX_DOCUMENT_STRING)
    if isinstance(value, Mapping):
        return {str(k): _bounded_strings(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_bounded_strings(v) for v in value]
    return value


def outgoing(notification: Notification, secrets: Iterable[str] = ()) -> Notification:
    """The notification as it may leave amtflow: every secret and credential-like string redacted (subject,
    text, JSON document, attributes), a subject SNS accepts, attribute values on one line and bounded, no
    string in the document longer than :data:`MAX_DOCUMENT_STRING`."""
    known = frozenset(secrets)
    attributes = {
        name: one_line(redact(value, known), MAX_ATTRIBUTE) or "-"
        for name, value in notification.attributes.items()
    }
    return Notification(
        subject=subject_line(redact(notification.subject, known)),
        text=redact(notification.text, known),
        document=_bounded_strings(redact_value(notification.document, known)),
        attributes=attributes,
    )


def _duration(seconds: int | None) -> str:
    if seconds is None:
        return "unknown"
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}h {minutes:02d}m {secs:02d}s" if hours else f"{minutes}m {secs:02d}s"


def console_links(report: RunReport, region: str) -> dict[str, str]:
    if not region:
        return {}
    base = f"https://{region}.console.aws.amazon.com"
    links = {}
    if report.execution_id.startswith("arn:"):
        links["execution"] = (
            f"{base}/states/home?region={region}#/v2/executions/details/{report.execution_id}"
        )
    if report.plan is not None and report.plan.job_name and report.plan.action is Action.TUNE:
        links["tuningJob"] = (
            f"{base}/sagemaker/home?region={region}#/hyper-tuning-jobs/{report.plan.job_name}"
        )
    return links


def render(report: RunReport, *, region: str = "") -> Notification:
    """The readable text, the JSON document and the message attributes of one run's outcome."""
    plan, evaluation = report.plan, report.evaluation
    links = console_links(report, region)
    headline = {
        Outcome.SUCCEEDED: "tuning succeeded",
        Outcome.NO_RESULT: "tuning finished without a result",
        Outcome.SKIPPED: "run skipped",
        Outcome.REJECTED: "tuning job rejected by preflight",
        Outcome.FAILED: "run failed",
    }[report.outcome]
    suffix = f" - {headline}"
    model = _ascii_line(report.model)
    room = SUBJECT_LIMIT - len("amtflow: ") - len(suffix)
    subject = f"amtflow: {model if len(model) <= room else model[: room - 3] + '...'}{suffix}"
    lines = [f"Model: {report.model}", f"Outcome: {report.outcome.value} ({headline})"]
    if plan is not None:
        lines.append(f"Trigger: {plan.trigger.value}; dataset version: {plan.dataset_version or '-'}")
        lines.append(f"Decision: {plan.action.value} — {truncate(plan.reason, MAX_DOCUMENT_STRING)}")
        if plan.job_name:
            lines.append(f"Tuning job: {plan.job_name}")
    if report.error_type:
        lines.append(f"Error: {report.error_type}")
        lines.append(report.error_message or "")
    if evaluation is not None:
        if evaluation.best is not None:
            best = evaluation.best
            metric = evaluation.objective_metric or "objective"
            lines.append(f"Best: {best.training_job_name} — {metric} = {best.objective_value}")
            if best.definition_name:
                lines.append(f"Algorithm: {best.definition_name} ({best.training_image or 'image unknown'})")
            if best.hyperparameters:
                hps = ", ".join(f"{k}={v}" for k, v in sorted(best.hyperparameters.items()))
                lines.append(f"Hyperparameters: {hps}")
            if best.model_artifacts:
                lines.append(f"Model artifacts: {best.model_artifacts}")
        if evaluation.reason and evaluation.outcome is not Outcome.SUCCEEDED:
            lines.append(truncate(evaluation.reason, MAX_DOCUMENT_STRING))
        lines.extend(_promotion_lines(evaluation.promotion, evaluation.objective_metric))
        if evaluation.diagnosis:
            lines.append(f"Diagnosis ({len(evaluation.diagnosis)} finding(s)):")
            for finding in evaluation.diagnosis:
                message = truncate(finding.message, MAX_DOCUMENT_STRING)
                lines.append(f"  [{finding.severity}] {finding.rule} {finding.field}: {message}")
                if finding.fix:
                    lines.append(f"      fix: {truncate(finding.fix, MAX_DOCUMENT_STRING)}")
        if evaluation.leaderboard:
            lines.append(
                f"Leaderboard ({evaluation.objective_type or ''} {evaluation.objective_metric or ''}):"
            )
            for rank, trial in enumerate(evaluation.leaderboard, 1):
                name = trial.training_job_name
                if trial.definition_name:
                    name = f"{name}  [{trial.definition_name}]"
                lines.append(f"  {rank:>2}. {name}  {trial.objective_value}  {trial.status}")
    if report.tuning is not None and report.tuning.stopped_for:
        lines.append(f"Stopped for stalling: {truncate(report.tuning.stopped_for, MAX_DOCUMENT_STRING)}")
    if report.tuning is not None and report.tuning.training_jobs:
        counts = ", ".join(f"{k}={v}" for k, v in sorted(report.tuning.training_jobs.items()))
        lines.append(f"Training jobs: {counts}")
    lines.append(f"Duration: {_duration(report.duration_seconds)}")
    lines.extend(f"{name}: {url}" for name, url in links.items())

    document: dict[str, Any] = {
        "model": report.model,
        "outcome": report.outcome.value,
        "execution": report.execution_id,
        "durationSeconds": report.duration_seconds,
        "links": links,
    }
    if plan is not None:
        document["plan"] = plan.to_json()
    if report.tuning is not None:
        document["tuning"] = report.tuning.to_json()
    if evaluation is not None:
        document["evaluation"] = evaluation.to_json()
    if report.error_type:
        document["error"] = {"type": report.error_type, "message": report.error_message}
    attributes = {"model": report.model, "outcome": report.outcome.value}
    if evaluation is not None and evaluation.promotion is not None:
        attributes["promotion"] = evaluation.promotion.outcome.value
    return Notification(subject=subject, text="\n".join(lines), document=document, attributes=attributes)


def _value(value: float | None) -> str:
    return "-" if value is None else f"{value:.6g}"


def _promotion_lines(promotion: Promotion | None, metric: str | None) -> list[str]:
    """Promoted or kept, both values and the data each was measured on, and the registration."""
    if promotion is None:
        return []
    name = metric or "objective"
    challenger = (
        f"challenger {promotion.challenger_job} {name} = {_value(promotion.challenger_value)} "
        f"on dataset {promotion.challenger_dataset_version or '-'}"
    )
    lines = []
    if promotion.outcome is PromotionOutcome.PROMOTED:
        lines.append(f"Promotion: promoted {promotion.challenger_job} to champion")
    elif promotion.outcome is PromotionOutcome.KEPT_CHAMPION:
        lines.append(f"Promotion: kept the champion {promotion.champion_job or '(none)'}")
    else:
        lines.append("Promotion: waiting for the champion's evaluation on the new data")
    lines.append(f"  {challenger}")
    if promotion.champion_job:
        lines.append(
            f"  champion {promotion.champion_job} {name} = {_value(promotion.champion_value)} "
            f"on dataset {promotion.champion_value_dataset_version or '-'}"
        )
    if promotion.crossed_datasets:
        lines.append(
            "  the comparison crossed datasets: the champion was not evaluated on the new data, so the "
            "challenger was held to the absolute threshold"
        )
    lines.append(f"  why: {promotion.reason}")
    if promotion.model_package_arn:
        lines.append(
            f"Registered: {promotion.model_package_arn} (group {promotion.model_package_group or '-'}, "
            f"approval {promotion.approval_status or '-'})"
        )
    return lines


@dataclass(frozen=True)
class NotifyResult:
    """The published message and the run's figures the Notify function reports as metrics (``None``: not
    known for this run). ``message_id`` is ``None`` when the profile's ``notifications.outcomes`` does not
    select the run, and ``suppressed`` says why. ``run_cost_usd`` is what the run counts towards its
    model's month (the actual cost once known, else the estimate while its job may run, 0 without a job),
    ``month_to_date_usd`` the model's month so far; ``data_to_notification_seconds`` runs from the data's
    arrival (the trigger event's time, else the plan's) to this notification."""

    message_id: str | None
    outcome: Outcome
    model: str = "unknown"
    suppressed: str | None = None
    trials_completed: int | None = None
    trials_failed: int | None = None
    data_to_notification_seconds: int | None = None
    run_cost_usd: float | None = None
    month_to_date_usd: float | None = None

    @property
    def has_figures(self) -> bool:
        """Whether any of the run's figures is known."""
        figures = (
            self.trials_completed,
            self.trials_failed,
            self.data_to_notification_seconds,
            self.run_cost_usd,
            self.month_to_date_usd,
        )
        return any(f is not None for f in figures)


#: ``TrainingJobStatusCounters`` (and a retraining job's status) that count as failed trials.
FAILED_TRIAL_STATUSES = ("NonRetryableError", "RetryableError", "Failed")


def _trials(tuning: TuningResult | None) -> tuple[int | None, int | None]:
    if tuning is None or not tuning.training_jobs:
        return None, None
    jobs = tuning.training_jobs
    return jobs.get("Completed", 0), sum(jobs.get(status, 0) for status in FAILED_TRIAL_STATUSES)


def _data_time(state: Mapping[str, Any], plan: Plan | None) -> datetime | None:
    request = state.get("request")
    source = request.get("source") if isinstance(request, Mapping) else None
    if isinstance(source, Mapping) and source.get("time"):
        try:
            when = parse_timestamp(source["time"])
        except ValueError:
            when = None
        if when is not None and when.tzinfo is not None:
            return when
    return plan.planned_at if plan is not None else None


@dataclass(frozen=True)
class Delivery:
    """A published message's ID, or why nothing was published (``suppressed``)."""

    message_id: str | None
    suppressed: str | None = None


class NotifyRun:
    """Publishes one run's outcome. ``profiles(model)`` reads the model's stored profile: its environment
    values are redacted along with those found in the run's state, and its ``notifications.outcomes``
    decides whether the message goes out at all (:func:`amtflow.profile.announces`). Without it (or when the
    profile cannot be read, e.g. it is missing or invalid) every message goes out, redacted of the state's
    values and credential-like strings only: a run whose profile is broken is one to hear about."""

    def __init__(
        self,
        *,
        notifier: Notifier,
        clock: Now,
        region: str = "",
        profiles: Callable[[str], ModelProfile] | None = None,
        lineage: LineageStore | None = None,
    ) -> None:
        self._notifier = notifier
        self._clock = clock
        self._region = region
        self._profiles = profiles
        self._lineage = lineage

    def notify(self, state: Mapping[str, Any], *, execution_id: str) -> NotifyResult:
        report = gather_report(state, execution_id=execution_id, clock=self._clock)
        delivery = self._publish(render(report, region=self._region), state, report.model)
        completed, failed = _trials(report.tuning)
        data_time = _data_time(state, report.plan)
        since_data = None
        if data_time is not None:
            since_data = max(0, int((self._clock() - data_time).total_seconds()))
        cost, month = self._spend(report.plan)
        return NotifyResult(
            message_id=delivery.message_id,
            outcome=report.outcome,
            model=report.model,
            suppressed=delivery.suppressed,
            trials_completed=completed,
            trials_failed=failed,
            data_to_notification_seconds=since_data,
            run_cost_usd=cost,
            month_to_date_usd=month,
        )

    def _spend(self, plan: Plan | None) -> tuple[float | None, float | None]:
        """The run's spend and its model's month to date from the lineage; best effort (the notification
        is out already, a lineage that cannot be read leaves both unknown)."""
        if self._lineage is None or plan is None:
            return None, None
        try:
            run = self._lineage.get_run(plan.model, plan.execution.name)
            month = self._lineage.month_to_date_spend(plan.model, self._clock())
        except AmtflowError as e:
            logger.warning("the spend of run %s could not be read: %s", plan.execution.name, type(e).__name__)
            return None, None
        return (run.spend_usd if run is not None else None), month

    def notify_queued(self, state: Mapping[str, Any], *, execution_id: str) -> Delivery:
        """The one interim notice of a run queued for an exhausted SageMaker quota (``state["quota"]`` is the
        caught error); it goes out when the profile's ``notifications.outcomes`` lists ``failed``."""
        report = gather_report(state, execution_id=execution_id, clock=self._clock)
        quota = state.get("quota")
        _, why = _error_text(quota) if isinstance(quota, Mapping) else ("", "")
        run = execution_id.rsplit(":", 1)[-1]
        text = (
            f"queued: quota. The run {run} of {report.model} waits for a SageMaker quota and tries again "
            "every 10 minutes for up to 6 hours; raise the quota in Service Quotas to resume sooner."
        )
        notification = Notification(
            subject=f"amtflow: {report.model} - queued: quota",
            text=f"{text}\n{why}" if why else text,
            document={
                "model": report.model,
                "outcome": "queued",
                "notice": "queued: quota",
                "execution": execution_id,
                "reason": why,
            },
            attributes={"model": report.model, "outcome": "queued"},
        )
        return self._publish(notification, state, report.model)

    def notify_stalled(self, stall: StallRecord, parked: ParkedJob) -> str | None:
        """The one notice of a stalled tuning job (the reconciler's watch): its message ID, or ``None`` when
        the profile's ``notifications.outcomes`` leaves out ``stalled`` (the default list has it)."""
        action = (
            "amtflow stops the job (on_stall: stop); the run ends with the leaderboard of its trials."
            if stall.stopped
            else "The job keeps running (on_stall: notify); stop it from the console to end the run sooner."
        )
        where = f"Tuning job {stall.job_name} of {stall.model}, run {parked.execution}."
        text = f"{stall.reason}. {where} {action}"
        notification = Notification(
            subject=subject_line(f"amtflow: {stall.model} - {one_line(stall.reason, 60)}"),
            text=text,
            document={
                "model": stall.model,
                "outcome": "stalled",
                "notice": stall.reason,
                "jobName": stall.job_name,
                "execution": parked.execution,
                "stopped": stall.stopped,
                "stalledAt": stall.stalled_at.isoformat(),
            },
            attributes={"model": stall.model, "outcome": "stalled"},
        )
        return self._publish(notification, {}, stall.model).message_id

    def _publish(self, notification: Notification, state: Mapping[str, Any], model: str) -> Delivery:
        """The one way out: only what the profile's ``notifications.outcomes`` selects, redacted of the
        state's and the stored profile's secrets (:func:`outgoing`)."""
        profile = self._profile(model)
        if profile is not None and not announces(profile.notifications.outcomes, notification.attributes):
            listed = ", ".join(o.value for o in profile.notifications.outcomes) or "nothing"
            seen = ", ".join(
                f"{name}={notification.attributes[name]}"
                for name in ("outcome", "promotion")
                if name in notification.attributes
            )
            why = f"not published: notifications.outcomes of {model} lists {listed}, not this run's {seen}"
            logger.info("notification suppressed: %s", why)
            return Delivery(message_id=None, suppressed=why)
        secrets = secrets_in(state)
        if profile is not None:
            secrets |= secrets_in(profile.to_document())
        return Delivery(message_id=self._notifier.publish(outgoing(notification, secrets)))

    def _profile(self, model: str) -> ModelProfile | None:
        """The stored profile; one that cannot be read must not stop the notification."""
        if self._profiles is None or model == "unknown":
            return None
        try:
            return self._profiles(model)
        except AmtflowError as e:
            logger.warning(
                "the profile of %s could not be read (every notification goes out, redacted of the run's "
                "values only): %s",
                model,
                type(e).__name__,
            )
            return None
