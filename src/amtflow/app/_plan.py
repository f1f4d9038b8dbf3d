"""Plan: resolve the profile, take the per-model lock, profile the new data, decide, record the run.

The decision is the drift-aware table of :mod:`amtflow.drift` (docs/drift.md): the dataset version's training
channel is profiled as it streams from S3 (bounded sample, bounded memory), compared with the profile of the
data the champion was trained on, and :func:`amtflow.drift.decide` picks skip / retrain / warm start / cold
start; warm-start parents come from the lineage. The dataset version and the run are recorded in the lineage
once (a retried Plan of the same execution reuses the recorded decision and records nothing twice).
"""

from __future__ import annotations

import copy
import math
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from amtflow.app._plan_limits import check_retrain_hyperparameters
from amtflow.app._ports import DatasetCatalog, DatasetReader, LockStore, ModelSpec, ProfileCatalog
from amtflow.app._spend import hourly_prices
from amtflow.drift import (
    Action as DriftAction,
)
from amtflow.drift import (
    DatasetProfile,
    DatasetProfiler,
    Decision,
    DecisionInput,
    DriftReport,
    DriftSeverity,
    ProfileOptions,
    TuningJobSignature,
    compare_profiles,
    decide,
    decision_policy_from_profile,
)
from amtflow.errors import AmtflowError, InvalidInputError
from amtflow.lineage import DatasetVersion, LineageStore, RunOutcome, RunRecord, parent_candidates
from amtflow.messages import (
    ColumnScore,
    DriftSummary,
    ExecutionRef,
    LockRef,
    Plan,
    RunRequest,
    parse_run_request,
)
from amtflow.preflight import estimate_cost
from amtflow.vocabulary import Action, Now, RequestedAction, TuningJobStatus, WarmStartMode

JobNamer = Callable[[str, str, str], str]
"""``(model, dataset_version, attempt) -> job name`` (see :mod:`amtflow.naming`)."""

# A tuning job may run for 30 days; the callback waits a little longer so a late event still lands.
MAX_TUNING_SECONDS = 30 * 24 * 3600
CALLBACK_MARGIN_SECONDS = 3600
# The reconciler sends heartbeats while a job runs; a task that hears nothing for this long fails.
MAX_HEARTBEAT_SECONDS = 6 * 3600
DEFAULT_TRIAL_SECONDS = 24 * 3600
PROFILED_CHANNEL = "train"
SNIFF_BYTES = 64 * 1024
MAX_DRIVERS = 5


def callback_timeouts(request: Mapping[str, Any]) -> tuple[int, int]:
    """``(TimeoutSeconds, HeartbeatSeconds)`` for the task that waits for a tuning job.

    The job's own limits bound it: the tuning job's ``MaxRuntimeInSeconds`` when set, otherwise waves of
    parallel trials times the longest a trial may take (``MaxWaitTimeInSeconds`` for spot).
    """
    config = request.get("HyperParameterTuningJobConfig") or {}
    limits = config.get("ResourceLimits") or {}
    tuning_seconds = limits.get("MaxRuntimeInSeconds")
    if not tuning_seconds:
        definitions = list(request.get("TrainingJobDefinitions") or [])
        if request.get("TrainingJobDefinition"):
            definitions.append(request["TrainingJobDefinition"])
        per_trial = 0
        for definition in definitions:
            per_trial = max(per_trial, _stopping_seconds(definition.get("StoppingCondition") or {}))
        per_trial = per_trial or DEFAULT_TRIAL_SECONDS
        max_jobs = int(limits.get("MaxNumberOfTrainingJobs") or 1)
        parallel = max(1, int(limits.get("MaxParallelTrainingJobs") or 1))
        tuning_seconds = math.ceil(max_jobs / parallel) * per_trial
    return _with_margin(int(tuning_seconds))


def training_callback_timeouts(stopping_condition: Mapping[str, Any]) -> tuple[int, int]:
    """``(TimeoutSeconds, HeartbeatSeconds)`` for the task that waits for one training job: its
    ``StoppingCondition`` (``MaxWaitTimeInSeconds`` for spot, else ``MaxRuntimeInSeconds``) plus a margin."""
    return _with_margin(_stopping_seconds(stopping_condition) or DEFAULT_TRIAL_SECONDS)


def _longest_stopping(request: Mapping[str, Any]) -> Mapping[str, Any]:
    """The ``StoppingCondition`` of the request's training definition (the longest one of a
    multi-algorithm request: a retrain may run any of its algorithms)."""
    definitions = list(request.get("TrainingJobDefinitions") or [request["TrainingJobDefinition"]])
    stoppings = [d.get("StoppingCondition") or {} for d in definitions]
    return max(stoppings, key=_stopping_seconds)


def _stopping_seconds(stopping: Mapping[str, Any]) -> int:
    return int(stopping.get("MaxWaitTimeInSeconds") or stopping.get("MaxRuntimeInSeconds") or 0)


def _with_margin(seconds: int) -> tuple[int, int]:
    timeout = min(seconds, MAX_TUNING_SECONDS) + CALLBACK_MARGIN_SECONDS
    return timeout, min(MAX_HEARTBEAT_SECONDS, timeout - 1)


def sniff_profile_options(head: bytes) -> ProfileOptions:
    """How to read a CSV from its first bytes: a first line whose every field is a number is data (the
    built-in algorithms' convention: no header, label in the first column); otherwise it is a header."""
    text = head.decode("utf-8-sig", errors="replace")
    first = next((line for line in text.splitlines() if line.strip()), "")
    fields = [f.strip() for f in first.split(",")]
    numeric = bool(first) and all(_is_number(f) for f in fields if f)
    if numeric:
        return ProfileOptions(header=False, label_index=0)
    return ProfileOptions(header=True)


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


class _Prepended:
    """A stream that yields ``head`` and then the rest of ``stream`` (the sniffed bytes are not lost)."""

    def __init__(self, head: bytes, stream: Any) -> None:
        self._head = head
        self._stream = stream

    def read(self, amt: int = -1, /) -> bytes:
        if self._head:
            size = len(self._head) if amt is None or amt < 0 else amt
            out, self._head = self._head[:size], self._head[size:]
            return out
        data: bytes = self._stream.read(amt)
        return data


def drift_summary(
    report: DriftReport | None,
    external: DriftSeverity | None,
    baseline_version: str | None,
) -> DriftSummary | None:
    """What the plan (and so the notification) says about drift: the worst columns and schema changes."""
    if report is None and external is None:
        return None
    return DriftSummary(
        severity=report.severity.value if report is not None else None,
        max_psi=round(report.max_psi, 4) if report is not None else None,
        drivers=[
            ColumnScore(column=c.column, psi=round(c.psi, 4), severity=c.severity.value)
            for c in (report.drivers if report is not None else ())[:MAX_DRIVERS]
        ],
        schema_changes=[c.detail for c in (report.schema_changes if report is not None else ())][
            :MAX_DRIVERS
        ],
        external_severity=external.value if external is not None else None,
        baseline_dataset_version=baseline_version if report is not None else None,
    )


@dataclass(frozen=True)
class PlanSettings:
    data_bucket: str
    role_arn: str
    datasets_prefix: str = "datasets/"
    output_prefix: str = "runs/"

    def datasets_uri(self, model: str) -> str:
        return f"s3://{self.data_bucket}/{self.datasets_prefix}{model}/"


@dataclass(frozen=True)
class _Decided:
    decision: Decision
    fingerprint: str
    drift: DriftSummary | None


class PlanRun:
    """Turns a run request into a :class:`Plan`.

    Call order: :meth:`plan` once per execution (a retried invocation with the same execution name is
    harmless: the lock is re-entrant for its owner, every name is deterministic, and the run recorded by
    the first attempt supplies the decision).
    """

    def __init__(
        self,
        *,
        profiles: ProfileCatalog,
        datasets: DatasetCatalog,
        locks: LockStore,
        job_namer: JobNamer,
        clock: Now,
        settings: PlanSettings,
        lineage: LineageStore,
        dataset_reader: DatasetReader,
    ) -> None:
        self._profiles = profiles
        self._datasets = datasets
        self._locks = locks
        self._job_namer = job_namer
        self._clock = clock
        self._settings = settings
        self._lineage = lineage
        self._reader = dataset_reader

    def plan(self, raw_request: object, execution: ExecutionRef) -> Plan:
        request = parse_run_request(raw_request)
        spec = self._profiles.get(request.model, request.overrides)
        now = self._clock()
        base: dict[str, Any] = {
            "model": request.model,
            "trigger": request.trigger,
            "overrides": request.overrides,
            "execution": execution,
            "planned_at": now,
        }
        if request.action is RequestedAction.SKIP:
            return Plan.model_validate(
                {
                    **base,
                    "action": Action.SKIP,
                    "reason": "skipped: the run request asked to skip",
                    "rule": "requested-skip",
                    "dataset_version": request.dataset_version,
                }
            )
        version = request.dataset_version or self._latest_version(request.model, spec.marker)
        s = self._settings
        job_name = self._job_namer(request.model, version, execution.name)
        data_uri = f"s3://{s.data_bucket}/{s.datasets_prefix}{request.model}/{version}/"
        output_uri = f"s3://{s.data_bucket}/{s.output_prefix}{request.model}/{job_name}/"
        cold = spec.compile(
            job_name=job_name, data_uri=data_uri, output_uri=output_uri, role_arn=s.role_arn, tags={}
        )
        training_timeout, _ = training_callback_timeouts(_longest_stopping(cold))
        pk, sk = self._locks.acquire(
            request.model, execution.name, holder=execution.id or execution.name, now=now
        )
        try:
            decided = self._decide(request, spec, version, data_uri, cold, execution, now)
        except BaseException:
            self._locks.release(request.model, execution.name)
            raise
        decision = decided.decision
        base.update(
            {
                "reason": decision.reason,
                "rule": decision.rule.value,
                "dataset_version": version,
                "drift": decided.drift,
                "data_fingerprint": decided.fingerprint,
            }
        )
        if decision.action is DriftAction.SKIP:
            self._locks.release(request.model, execution.name)
            return Plan.model_validate({**base, "action": Action.SKIP})
        lock = LockRef(pk=pk, sk=sk, owner=execution.name)
        common = {**base, "job_name": job_name, "data_uri": data_uri, "output_uri": output_uri, "lock": lock}
        if decision.action is DriftAction.RETRAIN:
            timeout, heartbeat = (
                training_timeout,
                training_callback_timeouts(_longest_stopping(cold))[1],
            )
            return Plan.model_validate(
                {
                    **common,
                    "action": Action.RETRAIN,
                    "max_jobs": 1,
                    "hyperparameters": dict(decision.hyperparameters),
                    "timeout_seconds": timeout,
                    "heartbeat_seconds": heartbeat,
                }
            )
        timeout, heartbeat = callback_timeouts(_with_budget(cold, decision.max_jobs))
        return Plan.model_validate(
            {
                **common,
                "action": Action.TUNE,
                "warm_start": WarmStartMode(decision.warm_start_type.value)
                if decision.warm_start_type is not None and decision.parents
                else WarmStartMode.COLD,
                "parents": list(decision.parents),
                "max_jobs": decision.max_jobs,
                "timeout_seconds": timeout,
                "heartbeat_seconds": heartbeat,
            }
        )

    def _latest_version(self, model: str, marker: str) -> str:
        version = self._datasets.latest_version(model, marker)
        if version is None:
            raise InvalidInputError(
                f"no datasetVersion given and no complete dataset version of '{model}' found "
                f"under {self._settings.datasets_uri(model)}: "
                f"upload one (with its marker object '{marker}') or pass datasetVersion",
                field="datasetVersion",
            )
        return version

    # -- the decision -------------------------------------------------------------------------------------

    def _decide(
        self,
        request: RunRequest,
        spec: ModelSpec,
        version: str,
        data_uri: str,
        cold: Mapping[str, Any],
        execution: ExecutionRef,
        now: datetime,
    ) -> _Decided:
        model = request.model
        recorded = self._lineage.get_run(model, execution.name)
        if recorded is not None:
            # A retried Plan: the first attempt decided and recorded; decide the same, record nothing.
            return _Decided(recorded.decision, recorded.data_fingerprint, _summary_of(recorded))
        profile = spec.profile
        champion = self._lineage.get_champion(model)
        baseline: DatasetProfile | None = None
        if champion is not None:
            recorded_data = self._lineage.get_dataset_version(model, champion.dataset_version)
            baseline = recorded_data.profile if recorded_data is not None else None
        current = self._profile_dataset(model, version, spec, baseline)
        self._lineage.put_dataset_version(
            DatasetVersion(
                model=model,
                version=version,
                fingerprint=current.fingerprint,
                recorded_at=now,
                uri=data_uri,
                profile=current,
            )
        )
        policy = decision_policy_from_profile(profile)
        report = compare_profiles(baseline, current, policy.thresholds) if baseline is not None else None
        external = (
            DriftSeverity.parse(request.drift.severity, field_name="drift.severity")
            if request.drift is not None
            else None
        )
        signature = TuningJobSignature.from_request(cold, data_fingerprint=current.fingerprint)
        decision = decide(
            DecisionInput(
                child=signature,
                data_fingerprint=current.fingerprint,
                champion=champion,
                drift=report,
                external_severity=external,
                requested=request.action,
                history=parent_candidates(self._lineage, model),
            ),
            policy,
        )
        if decision.action is DriftAction.RETRAIN:
            source = f"training job {champion.training_job}" if champion else "the champion"
            check_retrain_hyperparameters(model, source, decision.hyperparameters)
        summary = drift_summary(report, external, champion.dataset_version if champion else None)
        self._record(
            request, spec, version, current.fingerprint, decision, report, external, cold, execution, now
        )
        return _Decided(decision, current.fingerprint, summary)

    def _profile_dataset(
        self, model: str, version: str, spec: ModelSpec, baseline: DatasetProfile | None
    ) -> DatasetProfile:
        channels = list(spec.profile.dataset.channels)
        channel = PROFILED_CHANNEL if PROFILED_CHANNEL in channels else channels[0]
        folder = f"{self._settings.datasets_uri(model)}{version}/{channel}/"
        keys = self._reader.channel_objects(model, version, channel)
        if not keys:
            raise InvalidInputError(
                f"dataset version {version} of {model} has no data in {folder}: upload its CSV files there "
                "before the marker object (nothing was launched)",
                field="datasetVersion",
            )
        first = self._reader.open(keys[0])
        head = first.read(SNIFF_BYTES)
        options = sniff_profile_options(head)
        profiler = DatasetProfiler(options)
        refused: tuple[str, InvalidInputError] | None = None  # a file the profiler refused, and why
        try:
            for key, stream in self._streams(keys, _Prepended(head, first)):
                try:
                    profiler.feed(stream)
                except InvalidInputError as e:
                    refused = (key, e)
                    break
            if refused is None:
                current = profiler.finish(baseline)
        except InvalidInputError as e:
            raise InvalidInputError(
                f"dataset version {version} of {model} in {folder}: {e} (nothing was launched)",
                field=e.field or "datasetVersion",
            ) from e
        if refused is not None:
            key, error = refused
            raise InvalidInputError(
                f"dataset version {version} of {model}: s3://{self._settings.data_bucket}/{key}: {error} "
                "(nothing was launched)",
                field=error.field or "datasetVersion",
            ) from error
        if current.ragged_rows:
            raise InvalidInputError(
                f"dataset version {version} of {model} in {folder}: {current.ragged_rows} of {current.rows} "
                f"rows do not have the {len(current.columns)} columns of the first row; fix the CSV (every "
                "row needs the same number of fields) and publish it as a new version (nothing was launched)",
                field="datasetVersion",
            )
        return current

    def _streams(self, keys: Sequence[str], first: _Prepended) -> Iterator[tuple[str, Any]]:
        yield keys[0], first
        for key in keys[1:]:
            yield key, self._reader.open(key)

    def _record(
        self,
        request: RunRequest,
        spec: ModelSpec,
        version: str,
        fingerprint: str,
        decision: Decision,
        report: DriftReport | None,
        external: DriftSeverity | None,
        cold: Mapping[str, Any],
        execution: ExecutionRef,
        now: datetime,
    ) -> None:
        tuning = decision.action is DriftAction.TUNE
        prices = dict(spec.budget.prices)  # the stored profile's, whatever the overrides say
        job = self._job_namer(request.model, version, execution.name)
        self._lineage.add_run(
            RunRecord(
                model=request.model,
                run_id=execution.name,
                started_at=now,
                trigger=request.trigger,
                dataset_version=version,
                data_fingerprint=fingerprint,
                decision=decision,
                drift_scores=report.scores() if report is not None else {},
                drift_severity=_worst(report.severity if report else None, external),
                tuning_job=job if decision.action is not DriftAction.SKIP else None,
                signature=TuningJobSignature.from_request(cold, fingerprint) if tuning else None,
                job_status=TuningJobStatus.IN_PROGRESS if tuning else None,
                cost_estimate_usd=_cost_estimate(cold, decision, prices),
                hourly_usd=hourly_prices(cold, prices) if decision.action is not DriftAction.SKIP else {},
                finished_at=now if decision.action is DriftAction.SKIP else None,
                outcome=_initial_outcome(decision),
            )
        )


def _initial_outcome(decision: Decision) -> RunOutcome:
    return RunOutcome.SKIPPED if decision.action is DriftAction.SKIP else RunOutcome.PENDING


def _worst(a: DriftSeverity | None, b: DriftSeverity | None) -> DriftSeverity | None:
    levels = [s for s in (a, b) if s is not None]
    return max(levels, key=lambda s: s.rank) if levels else None


def _with_budget(request: Mapping[str, Any], max_jobs: int) -> dict[str, Any]:
    out = copy.deepcopy(dict(request))
    if max_jobs >= 1:
        out["HyperParameterTuningJobConfig"]["ResourceLimits"]["MaxNumberOfTrainingJobs"] = max_jobs
    return out


def _cost_estimate(cold: Mapping[str, Any], decision: Decision, prices: Mapping[str, float]) -> float:
    """The planned spend: the expected cost of ``decision.max_jobs`` training jobs (0 for a skip or when the
    instance price is unknown)."""
    if decision.action is DriftAction.SKIP or decision.max_jobs < 1:
        return 0.0
    try:
        estimate = estimate_cost(_with_budget(cold, decision.max_jobs), prices=prices)
    except AmtflowError:
        return 0.0
    value = estimate.expected_usd if estimate.expected_usd is not None else estimate.upper_bound_usd
    return round(float(value), 4) if value is not None and math.isfinite(value) else 0.0


def _summary_of(run: RunRecord) -> DriftSummary | None:
    if not run.drift_scores and run.drift_severity is None:
        return None
    ranked = sorted(run.drift_scores.items(), key=lambda kv: kv[1], reverse=True)[:MAX_DRIVERS]
    return DriftSummary(
        severity=run.drift_severity.value if run.drift_severity else None,
        max_psi=round(ranked[0][1], 4) if ranked else None,
        drivers=[ColumnScore(column=c, psi=round(v, 4), severity="") for c, v in ranked],
    )
