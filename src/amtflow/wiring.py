"""Composition roots: each handler's use case, built from settings, the adapters and the shared clients.

Built lazily on first use and kept for the life of the execution environment (a warm Lambda reuses it);
a change of settings (as between the local twin's deployments) builds a fresh one. Tests of the use cases
construct them directly with fakes instead.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from dataclasses import fields
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

from aws_lambda_powertools.utilities.idempotency import (
    BasePersistenceLayer,
    DynamoDBPersistenceLayer,
    IdempotencyConfig,
    idempotent_function,
)

from amtflow import clients
from amtflow.adapters import (
    CloudWatchRollbackAlarms,
    CloudWatchTrialLogs,
    DynamoDBLineageStore,
    DynamoDeploymentTable,
    DynamoEvaluationTokens,
    DynamoStallRecords,
    DynamoStateTable,
    S3DatasetCatalog,
    S3DatasetReader,
    S3ProfileStore,
    SageMakerDeployment,
    SageMakerJobStopper,
    SageMakerModelRegistry,
    SageMakerRunEvidence,
    SageMakerTrainingJobs,
    SageMakerTuning,
    SnsNotifier,
    StepFunctionsCallbacks,
    StepFunctionsExecutions,
    StepFunctionsHolderProbe,
    StoreProfileCatalog,
)
from amtflow.app import (
    CloseChampionEvaluation,
    CloseDeployments,
    CloseTrainingJobs,
    CloseTuningJobs,
    DeploymentEvents,
    DeployModel,
    EvaluateRun,
    FinishDeployment,
    HolderProbe,
    NotifyRun,
    PlanDeployment,
    PlanRun,
    PlanSettings,
    RenewLeases,
    RunLedger,
    StallWatch,
    StartChampionEvaluation,
    StartRun,
    StartTraining,
    StartTuning,
    function_account,
    lease_seconds,
    read_trigger,
    route_summary,
    route_trigger,
)
from amtflow.naming import execution_name, short_hash, tuning_job_name
from amtflow.profile import ModelProfile, TrainingNetwork
from amtflow.settings import Settings, load_settings

_T = TypeVar("_T")
_lock = threading.RLock()  # re-entrant: one use case may build another it needs
_built: dict[tuple[str, tuple[Any, ...]], Any] = {}

# How often the scheduled trigger rule fires (template.yaml, RunScheduleRule): a profile is due when its
# own schedule had an occurrence within one period.
SCHEDULE_PERIOD = timedelta(hours=1)


_clock: Callable[[], datetime] | None = None  # another clock than the machine's (the local twin's)


def utc_now() -> datetime:
    """Now, as every use case reads it: the machine's clock, or the one :func:`use_clock` set."""
    return _clock() if _clock is not None else datetime.now(UTC)


def use_clock(clock: Callable[[], datetime] | None) -> None:
    """Make every use case read ``clock`` (the local twin's, while it runs); None: the machine's again."""
    global _clock
    _clock = clock


def _key(settings: Settings) -> tuple[Any, ...]:
    return tuple(getattr(settings, f.name) for f in fields(Settings) if f.name != "extra")


def _once(name: str, settings: Settings | None, build: Callable[[Settings], _T]) -> _T:
    s = settings if settings is not None else load_settings()
    key = (name, _key(s))
    with _lock:
        if key not in _built:
            _built[key] = build(s)
        return _built[key]  # type: ignore[no-any-return]


def reset() -> None:
    """Forget every built use case (and the cached clients)."""
    with _lock:
        _built.clear()
    clients.reset()


def job_namer(prefix: str) -> Callable[[str, str, str], str]:
    """Tuning-job names per (model, dataset version, execution): the attempt number is derived from the
    execution name, so a re-run of the same version gets a new job and a retried task the same one."""

    def name(model: str, version: str, execution: str) -> str:
        attempt = int(short_hash("attempt", execution), 16)
        return tuning_job_name(prefix, model, version, attempt)

    return name


def _profiles(s: Settings) -> StoreProfileCatalog:
    return StoreProfileCatalog(S3ProfileStore(clients.s3(), s.data_bucket, s.profiles_prefix))


def _datasets(s: Settings) -> S3DatasetCatalog:
    return S3DatasetCatalog(clients.s3(), s.data_bucket, s.datasets_prefix)


def start_run(settings: Settings | None = None) -> StartRun:
    def build(s: Settings) -> StartRun:
        s.require("data_bucket", "state_machine_arn")
        return StartRun(
            profiles=_profiles(s),
            datasets=_datasets(s),
            executions=StepFunctionsExecutions(clients.stepfunctions(), s.state_machine_arn),
            execution_namer=lambda model, version: execution_name(model, version),
            data_bucket=s.data_bucket,
            datasets_prefix=s.datasets_prefix,
            schedule_period=SCHEDULE_PERIOD,
        )

    return _once("start_run", settings, build)


IdempotentRoute = Callable[[object, Any], dict[str, Any]]
"""``(event, lambda context or None) -> route summary``."""

# EventBridge retries a target for up to 24 hours (the rules' MaximumEventAgeInSeconds): a delivery of the
# same event within that window gets the first delivery's answer and starts nothing.
IDEMPOTENCY_SECONDS = 24 * 3600


def idempotent_route(
    router: StartRun,
    persistence_store: BasePersistenceLayer | None,
    *,
    expires_after_seconds: int = IDEMPOTENCY_SECONDS,
) -> IdempotentRoute:
    """:func:`route_event` made idempotent per EventBridge event ``id`` (Powertools idempotency).

    EventBridge delivers at least once: the same event (same ``id``) may reach the router twice, even at
    the same moment. The first delivery routes it; the others get the stored answer without starting,
    listing or reading anything. A different event for the same dataset version (the marker uploaded again)
    has another ``id``; the deterministic execution name still makes it a duplicate. Without a store (no
    idempotency table configured) every delivery is routed. The event is validated first
    (:func:`read_trigger`, against the account in the Lambda context): a malformed event, or one that is
    not for this stack, writes no idempotency record.
    """

    def route(event: Mapping[str, Any]) -> dict[str, Any]:
        return route_summary(route_trigger(router, read_trigger(event)))

    config = IdempotencyConfig(
        event_key_jmespath="id",
        raise_on_no_idempotency_key=False,
        expires_after_seconds=expires_after_seconds,
    )
    once = (
        idempotent_function(
            data_keyword_argument="event", persistence_store=persistence_store, config=config
        )(route)
        if persistence_store is not None
        else None
    )

    def call(event: object, context: Any) -> dict[str, Any]:
        trigger = read_trigger(event, account=function_account(context))
        if trigger.ignored or once is None or not isinstance(event, Mapping):
            return route_summary(route_trigger(router, trigger))
        if context is not None:
            config.register_lambda_context(context)
        result: dict[str, Any] = once(event=dict(event))
        return result

    return call


def start_run_once(settings: Settings | None = None) -> IdempotentRoute:
    """The trigger router, idempotent per EventBridge event (the idempotency table's Powertools records)."""

    resolved = settings if settings is not None else load_settings()
    router = start_run(resolved)  # built first: _once is not re-entrant

    def build(s: Settings) -> IdempotentRoute:
        store = None
        if s.idempotency_table:
            store = DynamoDBPersistenceLayer(table_name=s.idempotency_table, boto3_client=clients.dynamodb())
        return idempotent_route(router, store)

    return _once("start_run_once", resolved, build)


def _holder_probe(s: Settings) -> HolderProbe:
    """Asks Step Functions whether a lease's holder still runs (``DescribeExecution`` on its ARN)."""
    return StepFunctionsHolderProbe(clients.stepfunctions(), s.state_machine_arn)


def _locks(s: Settings) -> DynamoStateTable:
    """The models' leases, lasting what the reconciler's schedule needs between renewals."""
    return DynamoStateTable(
        clients.dynamodb(),
        s.state_table,
        holder_running=_holder_probe(s),
        lease_seconds=lease_seconds(s.reconcile_schedule),
    )


def plan_run(settings: Settings | None = None) -> PlanRun:
    def build(s: Settings) -> PlanRun:
        s.require("data_bucket", "state_table", "sagemaker_role_arn", "job_prefix")
        return PlanRun(
            profiles=_profiles(s),
            datasets=_datasets(s),
            locks=_locks(s),
            job_namer=job_namer(s.job_prefix),
            clock=utc_now,
            settings=PlanSettings(
                data_bucket=s.data_bucket,
                role_arn=s.sagemaker_role_arn,
                datasets_prefix=s.datasets_prefix,
                output_prefix=s.output_prefix,
            ),
            lineage=DynamoDBLineageStore(clients.dynamodb(), s.state_table),
            dataset_reader=S3DatasetReader(clients.s3(), s.data_bucket, s.datasets_prefix),
        )

    return _once("plan", settings, build)


def training_network(s: Settings) -> TrainingNetwork:
    """The network isolation and VPC every training job runs with (the stack's Training* parameters)."""
    return TrainingNetwork(
        isolation=s.training_network_isolation,
        subnets=s.training_subnet_ids,
        security_groups=s.training_security_group_ids,
    )


_Starter = TypeVar("_Starter", StartTuning, StartTraining)


def _job_starter(kind: type[_Starter], s: Settings) -> _Starter:
    """A use case that creates a SageMaker job a plan names and parks its task token: both take the same
    ports (the profiles, SageMaker, the token table, the role, the lineage, the training network)."""
    s.require("data_bucket", "state_table", "sagemaker_role_arn")
    return kind(
        profiles=_profiles(s),
        sagemaker=SageMakerTuning(clients.sagemaker()),
        tokens=DynamoStateTable(clients.dynamodb(), s.state_table),
        clock=utc_now,
        role_arn=s.sagemaker_role_arn,
        lineage=DynamoDBLineageStore(clients.dynamodb(), s.state_table),
        network=training_network(s),
    )


def start_tuning(settings: Settings | None = None) -> StartTuning:
    return _once("start_tuning", settings, lambda s: _job_starter(StartTuning, s))


def start_training(settings: Settings | None = None) -> StartTraining:
    return _once("start_training", settings, lambda s: _job_starter(StartTraining, s))


def close_training_jobs(settings: Settings | None = None) -> CloseTrainingJobs:
    def build(s: Settings) -> CloseTrainingJobs:
        s.require("state_table", "job_prefix")
        return CloseTrainingJobs(
            sagemaker=SageMakerTuning(clients.sagemaker()),
            tokens=DynamoStateTable(clients.dynamodb(), s.state_table),
            callbacks=StepFunctionsCallbacks(clients.stepfunctions()),
            job_prefix=s.job_prefix,
            ledger=RunLedger(lineage=DynamoDBLineageStore(clients.dynamodb(), s.state_table), clock=utc_now),
        )

    return _once("close_training_jobs", settings, build)


def renew_leases(settings: Settings | None = None) -> RenewLeases:
    def build(s: Settings) -> RenewLeases:
        s.require("state_table")
        return RenewLeases(locks=_locks(s), holder_running=_holder_probe(s), clock=utc_now)

    return _once("renew_leases", settings, build)


def close_tuning_jobs(settings: Settings | None = None) -> CloseTuningJobs:
    def build(s: Settings) -> CloseTuningJobs:
        s.require("state_table", "job_prefix")
        return CloseTuningJobs(
            training=close_training_jobs(s),
            ledger=RunLedger(lineage=DynamoDBLineageStore(clients.dynamodb(), s.state_table), clock=utc_now),
            sagemaker=SageMakerTuning(clients.sagemaker()),
            tokens=DynamoStateTable(clients.dynamodb(), s.state_table),
            callbacks=StepFunctionsCallbacks(clients.stepfunctions()),
            clock=utc_now,
            job_prefix=s.job_prefix,
            stop_job=SageMakerJobStopper(clients.sagemaker()).stop_tuning_job,
            trials=SageMakerTuning(clients.sagemaker()),
            stalls=stall_watch(s) if s.data_bucket and s.topic_arn else None,
        )

    return _once("close_tuning_jobs", settings, build)


def stall_watch(s: Settings) -> StallWatch:
    """The reconciler's watch of running jobs (the profiles' ``monitoring``); notices go to the topic."""
    catalog = _profiles(s)
    notices = NotifyRun(
        notifier=SnsNotifier(clients.sns(), s.topic_arn),
        clock=utc_now,
        region=s.region,
        profiles=lambda model: catalog.get(model).profile,
    )
    return StallWatch(
        profiles=lambda model: catalog.get(model).profile,
        trials=SageMakerTuning(clients.sagemaker()),
        records=DynamoStallRecords(clients.dynamodb(), s.state_table),
        notify=notices.notify_stalled,
        stop_job=SageMakerJobStopper(clients.sagemaker()).stop_tuning_job,
        clock=utc_now,
    )


def _profile_loader(s: Settings) -> Callable[[str, Mapping[str, Any]], ModelProfile]:
    catalog = _profiles(s)
    return lambda model, overrides: catalog.get(model, overrides).profile


def evaluate_run(settings: Settings | None = None) -> EvaluateRun:
    def build(s: Settings) -> EvaluateRun:
        s.require("data_bucket", "state_table", "job_prefix")
        return EvaluateRun(
            sagemaker=SageMakerTuning(clients.sagemaker()),
            leaderboard_size=s.leaderboard_size,
            evidence=SageMakerRunEvidence(clients.sagemaker()),
            logs=CloudWatchTrialLogs(clients.logs()),
            lineage=DynamoDBLineageStore(clients.dynamodb(), s.state_table),
            registry=SageMakerModelRegistry(clients.sagemaker()),
            profiles=_profile_loader(s),
            clock=utc_now,
            job_prefix=s.job_prefix,
        )

    return _once("evaluate", settings, build)


def start_champion_evaluation(settings: Settings | None = None) -> StartChampionEvaluation:
    def build(s: Settings) -> StartChampionEvaluation:
        s.require("data_bucket", "state_table", "sagemaker_role_arn")
        lineage = DynamoDBLineageStore(clients.dynamodb(), s.state_table)
        return StartChampionEvaluation(
            profiles=_profile_loader(s),
            champions=lineage.get_champion,
            sagemaker=SageMakerTrainingJobs(clients.sagemaker()),
            tokens=DynamoEvaluationTokens(clients.dynamodb(), s.state_table),
            clock=utc_now,
            role_arn=s.sagemaker_role_arn,
            output_prefix=s.output_prefix,
            data_bucket=s.data_bucket,
            network=training_network(s),
        )

    return _once("start_champion_evaluation", settings, build)


def close_champion_evaluations(settings: Settings | None = None) -> CloseChampionEvaluation:
    def build(s: Settings) -> CloseChampionEvaluation:
        s.require("state_table", "job_prefix")
        return CloseChampionEvaluation(
            sagemaker=SageMakerTrainingJobs(clients.sagemaker()),
            tokens=DynamoEvaluationTokens(clients.dynamodb(), s.state_table),
            callbacks=StepFunctionsCallbacks(clients.stepfunctions()),
            job_prefix=s.job_prefix,
        )

    return _once("close_champion_evaluations", settings, build)


def notify_run(settings: Settings | None = None) -> NotifyRun:
    def build(s: Settings) -> NotifyRun:
        s.require("topic_arn")
        catalog = _profiles(s) if s.data_bucket else None
        return NotifyRun(
            notifier=SnsNotifier(clients.sns(), s.topic_arn),
            clock=utc_now,
            region=s.region,
            profiles=(lambda model: catalog.get(model).profile) if catalog is not None else None,
            lineage=DynamoDBLineageStore(clients.dynamodb(), s.state_table) if s.state_table else None,
        )

    return _once("notify", settings, build)


def _deployment_table(s: Settings) -> DynamoDeploymentTable:
    return DynamoDeploymentTable(clients.dynamodb(), s.state_table)


def close_deployments(settings: Settings | None = None) -> CloseDeployments:
    def build(s: Settings) -> CloseDeployments:
        s.require("state_table", "job_prefix")
        return CloseDeployments(
            sagemaker=SageMakerDeployment(clients.sagemaker()),
            tokens=_deployment_table(s),
            callbacks=StepFunctionsCallbacks(clients.stepfunctions()),
            job_prefix=s.job_prefix,
        )

    return _once("close_deployments", settings, build)


def deployment_events(settings: Settings | None = None) -> DeploymentEvents:
    resolved = settings if settings is not None else load_settings()
    closer = close_deployments(resolved)  # built first: _once is not re-entrant

    def build(s: Settings) -> DeploymentEvents:
        s.require("deployment_state_machine_arn", "job_prefix")
        return DeploymentEvents(
            executions=StepFunctionsExecutions(clients.stepfunctions(), s.deployment_state_machine_arn),
            closer=closer,
            job_prefix=s.job_prefix,
        )

    return _once("deployment_events", resolved, build)


def plan_deployment(settings: Settings | None = None) -> PlanDeployment:
    def build(s: Settings) -> PlanDeployment:
        s.require("data_bucket", "state_table", "job_prefix")
        return PlanDeployment(
            sagemaker=SageMakerDeployment(clients.sagemaker()),
            profiles=lambda model: _profiles(s).get(model).profile,
            locks=_deployment_table(s),
            alarms=CloudWatchRollbackAlarms(clients.cloudwatch()),
            clock=utc_now,
            job_prefix=s.job_prefix,
        )

    return _once("plan_deployment", settings, build)


def deploy_model(settings: Settings | None = None) -> DeployModel:
    resolved = settings if settings is not None else load_settings()
    closer = close_deployments(resolved)

    def build(s: Settings) -> DeployModel:
        s.require("state_table", "sagemaker_role_arn")
        return DeployModel(
            sagemaker=SageMakerDeployment(clients.sagemaker()),
            alarms=CloudWatchRollbackAlarms(clients.cloudwatch()),
            tokens=_deployment_table(s),
            clock=utc_now,
            role_arn=s.sagemaker_role_arn,
            settle=closer.settle,
        )

    return _once("deploy_model", resolved, build)


def finish_deployment(settings: Settings | None = None) -> FinishDeployment:
    def build(s: Settings) -> FinishDeployment:
        s.require("state_table", "topic_arn")
        catalog = _profiles(s) if s.data_bucket else None
        return FinishDeployment(
            sagemaker=SageMakerDeployment(clients.sagemaker()),
            ledger=_deployment_table(s),
            notifier=SnsNotifier(clients.sns(), s.topic_arn),
            clock=utc_now,
            profiles=(lambda model: catalog.get(model).profile) if catalog is not None else None,
        )

    return _once("finish_deployment", settings, build)
