"""Evaluate: the leaderboard, the diagnosis, challenger vs champion, and the registration of the winner.

Call order within a run: :meth:`EvaluateRun.evaluate` once the tuning (or retraining) job has ended. When the
data changed since the champion was trained and the profile asks for a like-with-like comparison
(``promotion.cross_dataset: evaluate``), the result's promotion is ``needs_evaluation`` with the evaluation
job to run; the state machine runs it (:mod:`amtflow.app._champion_evaluation`) and calls
:meth:`EvaluateRun.promote` with its outcome. A promotion registers the challenger in the model's package
group and makes it the champion in the lineage; a retried call registers nothing twice (the champion is
already this run's, and the registration's ``ClientToken`` is deterministic).
"""

from __future__ import annotations

import dataclasses
import json
import logging
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Protocol

from pydantic import BaseModel, ConfigDict, Field

from amtflow.app._champion_evaluation import ProfileLoader, evaluation_job
from amtflow.app._ports import TuningService
from amtflow.errors import AmtflowError, InvalidInputError, TransientError
from amtflow.lineage import (
    Challenger,
    Champion,
    LineageStore,
    ObjectiveType,
    PromotionDecision,
    RegistryConfig,
    RunOutcome,
    build_model_package_request,
    decide_promotion,
    model_package_group_name,
    promotion_policy_from_profile,
    registry_config_from_profile,
)
from amtflow.lineage import Evaluation as ChampionScore
from amtflow.messages import (
    BestModel,
    ChampionEvaluationJob,
    DiagnosisFinding,
    Evaluation,
    Outcome,
    Plan,
    Promotion,
    TrialSummary,
    TuningResult,
)
from amtflow.preflight import diagnose
from amtflow.profile import ModelProfile
from amtflow.vocabulary import Action, Now, PromotionOutcome, PromotionVerdict, WarmStartMode

logger = logging.getLogger(__name__)

LogReader = Callable[[str], Sequence[str]]
"""``training_job_name -> lines`` of that training job's log
(CloudWatch Logs, ``/aws/sagemaker/TrainingJobs``)."""

MAX_DIAGNOSIS = 10
LEADERBOARD_BYTES = 32_768
"""The most the leaderboard may take of the run's document (JSON, UTF-8): the whole run must stay under
Step Functions' 256 KiB state limit, so the leaderboard keeps the top trials that fit (always the best);
the whole ranking stays with SageMaker (``ListTrainingJobsForHyperParameterTuningJob``)."""


def within_budget(leaderboard: Sequence[TrialSummary], budget: int = LEADERBOARD_BYTES) -> list[TrialSummary]:
    """The top of ``leaderboard`` (in its order) whose JSON fits ``budget`` bytes; the first entry always."""
    kept: list[TrialSummary] = []
    used = 0
    for trial in leaderboard:
        used += len(trial.model_dump_json(by_alias=True).encode("utf-8")) + 1
        if kept and used > budget:
            break
        kept.append(trial)
    return kept


class EvaluateRequest(BaseModel):
    """The Evaluate function's input: after the job, ``{plan, tuning}``; after the champion's evaluation
    job, also the first ``evaluation`` and ``championEvaluation`` (that task's result or its error)."""

    model_config = ConfigDict(populate_by_name=True, extra="forbid", frozen=True)

    plan: Plan
    tuning: TuningResult
    evaluation: Evaluation | None = None
    champion_evaluation: dict[str, Any] | None = Field(default=None, alias="championEvaluation")


class ChampionEvaluationRequest(BaseModel):
    """The champion-evaluation function's input (a ``waitForTaskToken`` task)."""

    model_config = ConfigDict(populate_by_name=True, extra="forbid", frozen=True)

    plan: Plan
    job: ChampionEvaluationJob
    task_token: str = Field(alias="taskToken", min_length=1)


class RunEvidence(Protocol):
    """What SageMaker keeps about a finished job, in the API's own shapes (the diagnosis reads them)."""

    def describe_tuning_job(self, name: str) -> Mapping[str, Any]:
        """The ``DescribeHyperParameterTuningJob`` response."""
        ...

    def training_jobs(self, tuning_job: str) -> Sequence[Mapping[str, Any]]:
        """The tuning job's ``TrainingJobSummaries`` (every page, up to a bound)."""
        ...

    def final_metrics(self, training_job: str) -> Mapping[str, float]:
        """A training job's ``FinalMetricDataList`` as ``{metric name: value}``."""
        ...


class ModelRegistry(Protocol):
    def register(self, request: Mapping[str, Any]) -> str:
        """Create the model package group unless it exists, then the package (``CreateModelPackage``
        request); returns the package's ARN."""
        ...


def _finding(f: Any) -> DiagnosisFinding:
    return DiagnosisFinding(
        rule=f.rule, severity=f.severity.value, field=f.field, message=f.message, fix=f.fix
    )


class EvaluateRun:
    """Builds the :class:`Evaluation` of a finished tuning or retraining job and decides promotion.

    ``lineage``, ``registry`` and ``profiles`` are needed for promotion; without them (tests of ranking
    alone) the evaluation has no promotion. ``evidence`` and ``logs`` feed the diagnosis.
    """

    def __init__(
        self,
        *,
        sagemaker: TuningService,
        leaderboard_size: int = 10,
        evidence: RunEvidence | None = None,
        logs: LogReader | None = None,
        lineage: LineageStore | None = None,
        registry: ModelRegistry | None = None,
        profiles: ProfileLoader | None = None,
        clock: Now | None = None,
        job_prefix: str = "",
    ) -> None:
        if not 1 <= leaderboard_size <= 100:
            raise ValueError("leaderboard_size must be between 1 and 100")
        self._sagemaker = sagemaker
        self._size = leaderboard_size
        self._evidence = evidence
        self._logs = logs
        self._lineage = lineage
        self._registry = registry
        self._profiles = profiles
        self._clock = clock
        self._job_prefix = job_prefix

    # -- the leaderboard ----------------------------------------------------------------------------------

    def run(self, request: EvaluateRequest) -> Evaluation:
        """The handler's entry: :meth:`evaluate` after the job, :meth:`promote` after the champion's
        evaluation job."""
        if request.evaluation is None:
            return self.evaluate(request.plan, request.tuning)
        return self.promote(
            request.plan,
            request.tuning,
            request.evaluation,
            request.champion_evaluation if request.champion_evaluation is not None else {},
        )

    def evaluate(self, plan: Plan, tuning: TuningResult) -> Evaluation:
        evaluation = self._rank(plan, tuning)
        diagnosis = self._diagnose(plan, tuning)
        if evaluation.outcome is Outcome.NO_RESULT and diagnosis:
            evaluation = evaluation.model_copy(
                update={"reason": f"{evaluation.reason}. Diagnosis: {diagnosis[0].message}"}
            )
        evaluation = evaluation.model_copy(update={"diagnosis": diagnosis})
        if evaluation.outcome is not Outcome.SUCCEEDED:
            return evaluation
        return self.promote(plan, tuning, evaluation)

    def _rank(self, plan: Plan, tuning: TuningResult) -> Evaluation:
        objective_type = tuning.objective_type or "Maximize"
        if plan.action is Action.RETRAIN:
            top = [tuning.best] if tuning.best is not None and tuning.best.objective_value is not None else []
            leaderboard = [t.model_copy() for t in top]
        else:
            leaderboard = [
                TrialSummary(
                    training_job_name=t.name,
                    status=t.status,
                    objective_value=t.objective_value,
                    hyperparameters=dict(t.hyperparameters),
                    definition_name=t.definition_name,
                )
                for t in self._sagemaker.top_training_jobs(
                    tuning.job_name, objective_type=objective_type, limit=self._size
                )
                if t.objective_value is not None  # a trial that never reported the objective is unranked
            ]
        ranked = len(leaderboard)
        leaderboard = within_budget(leaderboard)
        best_trial = tuning.best if tuning.best is not None else (leaderboard[0] if leaderboard else None)
        if best_trial is None:
            metric = tuning.objective_metric or "the objective metric"
            counts = ", ".join(f"{k}={v}" for k, v in sorted(tuning.training_jobs.items())) or "none"
            finished = sum(tuning.training_jobs.get(k, 0) for k in ("Completed", "Stopped"))
            reason = (
                f"no training job of {tuning.job_name} reported {metric} (training jobs: {counts}): "
                "check that the MetricDefinitions regex matches a line of the training log"
            )
            if tuning.training_jobs and not finished:
                # Every trial failed before it could report anything: their failure reasons say why
                # (data, image, role), not the metric regex.
                reason = (
                    f"no training job of {tuning.job_name} finished (training jobs: {counts}): "
                    "read the trials' failure reasons"
                )
            return Evaluation(
                outcome=Outcome.NO_RESULT,
                objective_metric=tuning.objective_metric,
                objective_type=objective_type,
                reason=reason,
            )
        details = self._sagemaker.describe_training_job(best_trial.training_job_name)
        best = BestModel(
            training_job_name=best_trial.training_job_name,
            objective_value=best_trial.objective_value,
            hyperparameters=dict(details.hyperparameters)
            if tuning.best is None
            else dict(tuning.best.hyperparameters),
            model_artifacts=details.model_artifacts,
            training_image=details.training_image,
            training_seconds=details.training_seconds,
            definition_name=best_trial.definition_name,
        )
        return Evaluation(
            outcome=Outcome.SUCCEEDED,
            objective_metric=tuning.objective_metric,
            objective_type=objective_type,
            leaderboard=leaderboard,
            best=best,
            reason=_ranking_reason(plan, tuning, len(leaderboard), ranked),
        )

    # -- the diagnosis ------------------------------------------------------------------------------------

    def _diagnose(self, plan: Plan, tuning: TuningResult) -> list[DiagnosisFinding]:
        """Findings about the finished tuning job (empty leaderboard, every trial failed, best at a range
        bound, Bayesian run fully parallel) and its trials' training health (overfitting, no progress,
        constant or nan/inf metrics, runaway trials: a bounded sample of trial logs is read). Unavailable
        evidence leaves the diagnosis empty; a throttle propagates so the state machine retries."""
        if self._evidence is None or plan.action is not Action.TUNE:
            return []
        try:
            describe = self._evidence.describe_tuning_job(tuning.job_name)
            trials = self._evidence.training_jobs(tuning.job_name)
        except TransientError:
            raise
        except AmtflowError as e:
            logger.warning("no diagnosis for %s: %s", tuning.job_name, e)
            return []
        logs = self._logs or (lambda name: ())
        findings = diagnose(describe, trials, logs)
        return [_finding(f) for f in findings[:MAX_DIAGNOSIS]]

    # -- promotion ----------------------------------------------------------------------------------------

    def promote(
        self,
        plan: Plan,
        tuning: TuningResult,
        evaluation: Evaluation,
        champion_evaluation: Mapping[str, Any] | None = None,
    ) -> Evaluation:
        """``evaluation`` with its promotion decided (and carried out). ``champion_evaluation`` is the
        outcome of the champion's evaluation job: its task's result, or the ``{"Error", "Cause"}`` of a
        failed one."""
        if (
            self._lineage is None
            or self._profiles is None
            or evaluation.outcome is not Outcome.SUCCEEDED
            or evaluation.best is None
            or evaluation.best.objective_value is None
        ):
            return evaluation
        profile = self._profiles(plan.model, plan.overrides)
        challenger = self._challenger(plan, tuning, evaluation, profile)
        champion = self._lineage.get_champion(plan.model)
        if champion is not None and champion.tuning_job == challenger.tuning_job:
            promotion = _summary(
                challenger,
                None,
                PromotionOutcome.PROMOTED,
                "this run's model is already the champion (a retried evaluation): nothing registered twice",
                model_package_arn=champion.model_package_arn or None,
            )
            return evaluation.model_copy(update={"promotion": promotion})
        policy = promotion_policy_from_profile(profile)
        score: ChampionScore | None = None
        failure: str | None = None
        if champion_evaluation is not None and champion is not None:
            score, failure = self._champion_score(evaluation, champion_evaluation, challenger)
        try:
            if failure is not None and not policy.threshold_fallback:
                decision = PromotionDecision(
                    PromotionVerdict.KEEP_CHAMPION,
                    f"{failure}; without a like-with-like comparison "
                    f"{champion.training_job if champion else 'the champion'} stays champion",
                    challenger.objective_value,
                    champion.objective_value if champion else None,
                )
            else:
                decision = decide_promotion(challenger, champion, policy, champion_evaluation=score)
                if failure is not None:
                    decision = _with_note(decision, failure)
        except InvalidInputError as e:
            decision = PromotionDecision(
                PromotionVerdict.KEEP_CHAMPION,
                f"{e}",
                challenger.objective_value,
                champion.objective_value if champion else None,
            )
        if decision.outcome is PromotionVerdict.NEEDS_EVALUATION and champion is not None:
            return evaluation.model_copy(
                update={"promotion": self._needs_evaluation(plan, challenger, champion, decision, profile)}
            )
        if decision.outcome is PromotionVerdict.PROMOTE:
            promotion = self._promote(plan, challenger, champion, decision, profile, score)
        else:
            promotion = _summary(
                challenger,
                champion,
                PromotionOutcome.KEPT_CHAMPION,
                decision.reason,
                decision=decision,
                score=score,
            )
        self._record_outcome(plan, promotion.outcome is PromotionOutcome.PROMOTED)
        return evaluation.model_copy(update={"promotion": promotion})

    def _record_outcome(self, plan: Plan, promoted: bool) -> None:
        """The run's lineage record says whether its model was promoted (the job's end was recorded when the
        job ended; a job stopped for stalling is evaluated like a completed one). Best effort: the
        evaluation matters more than its record."""
        assert self._lineage is not None
        try:
            run = self._lineage.get_run(plan.model, plan.execution.name)
            if run is None or run.outcome not in (
                RunOutcome.COMPLETED,
                RunOutcome.PENDING,
                RunOutcome.STOPPED,
            ):
                return
            outcome = RunOutcome.PROMOTED if promoted else RunOutcome.NOT_PROMOTED
            self._lineage.update_run(dataclasses.replace(run, outcome=outcome))
        except AmtflowError as e:
            logger.warning(
                "the promotion of run %s was not recorded in the lineage: %s", plan.execution.name, e
            )

    def _challenger(
        self, plan: Plan, tuning: TuningResult, evaluation: Evaluation, profile: ModelProfile
    ) -> Challenger:
        best = evaluation.best
        assert best is not None
        value = best.objective_value
        assert value is not None
        version = plan.dataset_version or ""
        fingerprint = f"version:{version}"
        if self._lineage is not None and version:
            recorded = self._lineage.get_dataset_version(plan.model, version)
            if recorded is not None:
                fingerprint = recorded.fingerprint
        return Challenger(
            model=plan.model,
            tuning_job=tuning.job_name,
            training_job=best.training_job_name,
            objective_metric=evaluation.objective_metric or profile.objective_metric,
            objective_type=ObjectiveType(evaluation.objective_type or "Maximize"),
            objective_value=value,
            dataset_version=version,
            data_fingerprint=fingerprint,
            model_artifact=best.model_artifacts or "",
            training_image=best.training_image or profile.training.image,
            hyperparameters=dict(best.hyperparameters),
            run_id=plan.execution.name,
        )

    def _champion_score(
        self, evaluation: Evaluation, outcome: Mapping[str, Any], challenger: Challenger
    ) -> tuple[ChampionScore | None, str | None]:
        job = evaluation.promotion.evaluation_job if evaluation.promotion else None
        name = job.job_name if job is not None else "the champion's evaluation job"
        if "Error" in outcome:
            return None, f"the champion's evaluation job {name} failed ({_cause(outcome)})"
        if job is None or self._evidence is None:
            return None, "the champion's evaluation job is unknown to this run"
        metrics = self._evidence.final_metrics(job.job_name)
        value = metrics.get(challenger.objective_metric)
        if value is None:
            return None, (
                f"the champion's evaluation job {name} reported no {challenger.objective_metric} (check that "
                "the training script's evaluate-only mode prints it)"
            )
        return ChampionScore(challenger.objective_metric, value, challenger.data_fingerprint), None

    def _needs_evaluation(
        self,
        plan: Plan,
        challenger: Challenger,
        champion: Champion,
        decision: PromotionDecision,
        profile: ModelProfile,
    ) -> Promotion:
        try:
            job = evaluation_job(plan, champion, profile)
        except InvalidInputError as e:
            return _summary(
                challenger,
                champion,
                PromotionOutcome.KEPT_CHAMPION,
                f"{decision.reason}; the champion cannot be evaluated on the new data: {e}",
                decision=decision,
            )
        return _summary(
            challenger,
            champion,
            PromotionOutcome.NEEDS_EVALUATION,
            f"{decision.reason}: evaluating {champion.training_job} on dataset {challenger.dataset_version} "
            f"with {job.job_name}",
            decision=decision,
            evaluation_job=job,
        )

    def _promote(
        self,
        plan: Plan,
        challenger: Challenger,
        champion: Champion | None,
        decision: PromotionDecision,
        profile: ModelProfile,
        score: ChampionScore | None,
    ) -> Promotion:
        assert self._lineage is not None
        config = registry_config_from_profile(profile)
        config = RegistryConfig(
            approval_status=config.approval_status,
            group_name=config.group_name,
            group_prefix=self._job_prefix,
        )
        group = config.group_name or model_package_group_name(challenger.model, self._job_prefix)
        if self._job_prefix and not group.startswith(f"{self._job_prefix}-"):
            raise InvalidInputError(
                f"promotion.model_package_group {group!r} must start with '{self._job_prefix}-' (the "
                "stack's job prefix, to which its permissions are scoped); rename it or leave it out to use "
                f"'{model_package_group_name(challenger.model, self._job_prefix)}'",
                field="promotion.model_package_group",
            )
        arn: str | None = None
        if self._registry is not None:
            request = build_model_package_request(
                challenger,
                config,
                warm_start_type=plan.warm_start.value if plan.warm_start is not WarmStartMode.COLD else None,
                reason=decision.reason,
                generated_by=plan.execution.id or plan.execution.name,
            )
            arn = self._registry.register(request)
        now = self._clock() if self._clock is not None else plan.planned_at
        self._lineage.set_champion(
            challenger.to_champion(now, model_package_arn=arn or ""),
            expected_tuning_job=champion.tuning_job if champion is not None else None,
        )
        return _summary(
            challenger,
            champion,
            PromotionOutcome.PROMOTED,
            decision.reason,
            decision=decision,
            score=score,
            model_package_arn=arn,
            model_package_group=group,
            approval_status=config.approval_status.value,
        )


def _summary(
    challenger: Challenger,
    champion: Champion | None,
    outcome: PromotionOutcome,
    reason: str,
    *,
    decision: PromotionDecision | None = None,
    score: ChampionScore | None = None,
    **extra: Any,
) -> Promotion:
    """The promotion result a run reports: the challenger against the champion (its value measured on the
    challenger's data when it was scored again)."""
    champion_value = champion.objective_value if champion is not None else None
    measured_on = champion.dataset_version if champion is not None else None
    if score is not None:
        champion_value, measured_on = score.value, challenger.dataset_version
    elif decision is not None and decision.champion_value is not None:
        champion_value = decision.champion_value
    return Promotion(
        outcome=outcome,
        reason=reason,
        challenger_job=challenger.training_job,
        challenger_value=challenger.objective_value,
        challenger_dataset_version=challenger.dataset_version or None,
        champion_job=champion.training_job if champion is not None else None,
        champion_value=champion_value,
        champion_value_dataset_version=measured_on,
        crossed_datasets=bool(decision and decision.crossed_datasets),
        **extra,
    )


def _ranking_reason(plan: Plan, tuning: TuningResult, shown: int, ranked: int) -> str:
    total = sum(tuning.training_jobs.values()) if tuning.training_jobs else ranked
    reason = f"best of {shown} ranked training job(s) of {tuning.job_name} for {plan.model}"
    if total > shown:
        reason += (
            f"; the leaderboard shows the top {shown} of {total} (the whole ranking: SageMaker's "
            f"ListTrainingJobsForHyperParameterTuningJob for {tuning.job_name})"
        )
    return reason


def _with_note(decision: PromotionDecision, note: str) -> PromotionDecision:
    return PromotionDecision(
        decision.outcome,
        f"{note}; {decision.reason}",
        decision.challenger_value,
        decision.champion_value,
        decision.improvement,
        decision.crossed_datasets,
    )


def _cause(outcome: Mapping[str, Any]) -> str:
    error = str(outcome.get("Error") or "Error")
    cause = outcome.get("Cause")
    if isinstance(cause, str):
        try:
            parsed = json.loads(cause)
        except ValueError:
            return f"{error}: {cause[:500]}"
        if isinstance(parsed, Mapping):
            return f"{parsed.get('errorType') or error}: {str(parsed.get('errorMessage') or '')[:500]}"
    return error
