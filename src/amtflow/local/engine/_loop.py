"""The job loops: one thread per tuning job (and per standalone training job) coordinating its trials.

A :class:`TuningLoop` asks the strategy for configurations, has the trial backend run them under the
request's limits (``MaxParallelTrainingJobs``, ``MaxNumberOfTrainingJobs``, ``MaxRuntimeInSeconds``, the
engine's slots), passes the objective's intermediate values to the strategy and the median stopping rule,
applies the completion criteria and ends the job. (``RetryStrategy`` is the trial backend's: as on
SageMaker, only an internal failure is retried, within the same training job.) It acts on
trials only through :class:`~amtflow.local.engine._backend.TrialBackend` and on jobs only through
:class:`~amtflow.local.engine._jobs.JobBook`.
"""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Mapping, Sequence
from typing import Any

from amtflow.local.engine._backend import StopCause, Trial, TrialBackend
from amtflow.local.engine._jobs import JobBook
from amtflow.local.engine._model import ObjectiveStatus, TrainingJobStatus, TuningJobStatus
from amtflow.local.engine._multi import split
from amtflow.local.engine._records import TuningJob, new_training_job
from amtflow.local.engine._space import format_config
from amtflow.local.engine._stopping import CompletionReason, CompletionTracker, MedianStoppingRule
from amtflow.local.engine._strategies import Decision, Strategy
from amtflow.local.engine._transfer import TOP_K, top_configurations
from amtflow.vocabulary import WarmStartType

DEFAULT_MAX_TRAINING_JOBS = 750  # the service's per-tuning-job limit, used when no budget is given
TICK_SECONDS = 0.02  # how often a job's loop looks at its trials (an idle look costs microseconds)


def training_name(tuning_name: str, index: int, seed: int) -> str:
    """The name of a tuning job's ``index``-th training job (1-based)."""
    digest = hashlib.sha256(f"{tuning_name}/{index}/{seed}".encode()).hexdigest()[:8]
    return f"{tuning_name}-{index:03d}-{digest}"


def seed_from_parents(
    strategy: Strategy, request: Mapping[str, Any], parents: list[TuningJob], jobs: JobBook
) -> None:
    """Warm start from the parents' trials that gave an objective (see :func:`warm_start_strategy`)."""
    if not parents:
        return
    results = [
        (t.tuned, float(t.objective))
        for p in parents
        for t in jobs.trials_of(p)
        if t.objective is not None and t.objective_status is ObjectiveStatus.SUCCEEDED
    ]
    limits = request["HyperParameterTuningJobConfig"]["ResourceLimits"]
    warm_start_strategy(
        strategy,
        str(request["WarmStartConfig"].get("WarmStartType")),
        results,
        max_parallel=int(limits.get("MaxParallelTrainingJobs", 1)),
    )


def warm_start_strategy(
    strategy: Strategy,
    warm_type: str,
    results: Sequence[tuple[Mapping[str, str], float]],
    *,
    max_parallel: int,
) -> None:
    """Warm start: parents' results become history (IdenticalDataAndAlgorithm) or hints (TransferLearning).

    ``results`` are the parents' trials as ``(tuned hyperparameters as strings, objective)``.
    IdenticalDataAndAlgorithm: every result whose hyperparameters lie in the new ranges is given to the
    strategy as an observation (``add_history``). TransferLearning: the parents' best configurations (up
    to ``max(TOP_K, max_parallel)``, best first, distinct and spread, from the parents' better half, within
    the new ranges: ``_transfer.top_configurations``) are given as a prior (``add_prior``): they are
    proposed first and, for Bayesian search, bias part of the candidates towards them; every parent result
    is also given as a related observation (``add_related``): Bayesian search models the new results as
    residuals around the parents' model, standardised on its own and weighted by how well it ranks the new
    results so far (``_transfer.ParentModel``). Parents' objective
    values are never results on the new data.
    """
    space = strategy.space
    parsed = [(space.parse(h), v) for h, v in results if space.contains(h)]
    if warm_type == WarmStartType.IDENTICAL_DATA_AND_ALGORITHM:
        for config, value in parsed:
            strategy.add_history(config, value)
        return
    losses = [(config, -value if strategy.maximize else value) for config, value in parsed]
    prior = top_configurations(losses, space, k=max(TOP_K, max_parallel))
    strategy.add_prior(prior)
    for config, value in parsed:
        strategy.add_related(config, value)


def run_training_job(
    trial: Trial,
    definition: Mapping[str, Any],
    backend: TrialBackend,
    shutdown: threading.Event,
    jobs: JobBook,
) -> None:
    """A standalone training job: wait for a slot (or a stop), run the trial to its end."""
    while not backend.reserve(timeout=TICK_SECONDS):
        if trial.stop_cause is not None or shutdown.is_set():
            trial.stop_cause = trial.stop_cause or StopCause.USER
            backend.finish(trial)
            return
    trial.slot_held = True
    if trial.stop_cause is not None:
        backend.finish(trial)
        return
    if not backend.start(trial, definition, f"training-{trial.name}"):
        return
    while not backend.poll(trial):
        if shutdown.is_set():
            backend.stop(trial, StopCause.USER)
        jobs.clock.sleep(TICK_SECONDS)


class TuningLoop:
    """Coordinates one tuning job: launches trials the strategy suggests, watches them, applies stopping
    rules and completion criteria, and ends the job."""

    def __init__(
        self,
        job: TuningJob,
        strategy: Strategy,
        stop_flag: threading.Event,
        *,
        jobs: JobBook,
        backend: TrialBackend,
    ) -> None:
        self.job = job
        self.strategy = strategy
        self.stop_flag = stop_flag
        self.jobs = jobs
        self.backend = backend
        self.clock = jobs.clock
        config = job.config
        self.definition = job.definition
        limits = config["ResourceLimits"]
        self.max_parallel = int(limits["MaxParallelTrainingJobs"])
        default_budget = getattr(strategy, "size", DEFAULT_MAX_TRAINING_JOBS)
        self.max_jobs = int(limits.get("MaxNumberOfTrainingJobs") or default_budget)
        self.max_runtime = limits.get("MaxRuntimeInSeconds")
        self.median = (
            MedianStoppingRule.slow_start_aware(maximize=strategy.maximize)
            if config.get("TrainingJobEarlyStoppingType") == "Auto" and config["Strategy"] != "Hyperband"
            else None
        )
        self.completion = CompletionTracker(
            strategy.maximize, config.get("TuningJobCompletionCriteria") or {}
        )
        self.running: list[Trial] = []
        self.launched = 0  # trials launched
        self.index = 0  # training jobs created
        self.exhausted = False
        # a multi-algorithm job's definitions by DefinitionName (its suggestions name theirs)
        self.definitions = {str(d["DefinitionName"]): d for d in job.definitions}
        self.started = self.clock.monotonic()

    def run(self) -> None:
        while True:
            if self.stop_flag.is_set():
                self._stop_all(StopCause.TUNING_JOB_ENDED)
                self.jobs.end_tuning(self.job, TuningJobStatus.STOPPED)
                return
            if self.max_runtime is not None and self.clock.monotonic() - self.started >= float(
                self.max_runtime
            ):
                self._stop_all(StopCause.TUNING_JOB_ENDED)
                self.jobs.end_tuning(self.job, TuningJobStatus.COMPLETED)
                return
            reason = self._watch_trials()
            if reason is not None:
                self._stop_all(StopCause.TUNING_JOB_ENDED)
                self.jobs.end_tuning(self.job, TuningJobStatus.COMPLETED)
                return
            self._launch()
            if not self.running and (self.exhausted or self.launched >= self.max_jobs):
                self._finish()
                return
            self.clock.sleep(TICK_SECONDS)

    def _finish(self) -> None:
        trials = self.jobs.trials_of(self.job)
        if trials and all(t.status is TrainingJobStatus.FAILED for t in trials):
            first = next((t.failure_reason for t in trials if t.failure_reason), "unknown")
            self.jobs.end_tuning(
                self.job, TuningJobStatus.FAILED, f"All training jobs failed. First failure: {first}"
            )
            return
        self.jobs.end_tuning(self.job, TuningJobStatus.COMPLETED)

    def _stop_all(self, cause: StopCause) -> None:
        for trial in self.running:  # signal them all first, then wait for each
            self.backend.stop(trial, cause, wait=False)
        for trial in self.running:
            self.backend.finish(trial)
            self._after_trial(trial, record=False)
        self.running = []

    def _watch_trials(self) -> CompletionReason | None:
        reason: CompletionReason | None = None
        for trial in list(self.running):
            self._report_intermediate(trial)
            if not self.backend.poll(trial):
                continue
            self.running.remove(trial)
            self._report_intermediate(trial)
            found = self._after_trial(trial, record=True)
            reason = reason or found
        return reason

    def _report_intermediate(self, trial: Trial) -> None:
        if trial.stop_cause is not None or not trial.started:
            return
        points = self.backend.objective_points(trial)
        for step in range(trial.reported + 1, len(points) + 1):
            trial.reported = step
            value = points[step - 1]
            decision = self.strategy.on_report(trial.name, step, value)
            if self.median is not None and self.median.on_report(trial.name, step, value) is Decision.STOP:
                decision = Decision.STOP
            if decision is Decision.STOP and not self.backend.has_exited(trial):
                self.backend.stop(trial, StopCause.EARLY_STOPPING)
                return

    def _after_trial(self, trial: Trial, *, record: bool) -> CompletionReason | None:
        job = trial.job
        value = job.objective
        failed = job.status is TrainingJobStatus.FAILED
        self.strategy.on_result(trial.config, None if failed else value)
        self.strategy.on_trial_end(trial.name)
        if self.median is not None:
            self.median.on_trial_end(trial.name)
        if not record or failed:
            return None
        reason = self.completion.observe(None if value is None else float(value))
        with self.jobs.lock:
            completion = self.job.completion
            completion.not_improving = self.completion.not_improving
            if reason is CompletionReason.CONVERGED:
                completion.converged_at = self.clock.now().timestamp()
            if reason is not None:
                completion.reason = reason.value
            self.jobs.save_tuning(self.job)
        return reason

    def _launch(self) -> None:
        while len(self.running) < self.max_parallel:
            if self.exhausted or self.launched >= self.max_jobs:
                return
            if not self.backend.reserve():
                return
            config = self.strategy.suggest()
            if config is None:
                self.backend.release()
                self.exhausted = True
                return
            self.launched += 1
            self.index += 1
            name = training_name(self.job.name, self.index, self.job.seed)
            definition, own, data_key = self.definition, dict(config), self.job.name
            if self.definitions:
                definition_name, own = split(config)
                definition = self.definitions[definition_name]
                data_key = f"{self.job.name}.{definition_name}"  # the definitions' channels may differ
            tuned = format_config(own)
            static = definition.get("StaticHyperParameters") or {}
            hps = {**{k: str(v) for k, v in static.items()}, **tuned}
            metric = self.job.objective_of(definition).get("MetricName")
            if metric:
                hps["_tuning_objective_metric"] = str(metric)
            with self.jobs.lock:
                now = self.clock.now().timestamp()
                tjob = new_training_job(name, definition, hps, self.job.region, self.job, now)
                tjob.tuned = tuned
                self.jobs.add_training(tjob, self.job)
                self.jobs.training_changed(tjob)
            trial = Trial(tjob, config=config, slot_held=True)
            self.strategy.on_trial_start(name, config)
            if self.backend.start(trial, definition, data_key):
                self.running.append(trial)
            else:
                self._after_trial(trial, record=True)
