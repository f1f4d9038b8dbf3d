"""IAM is enforced in the twin: the shipped template's policies let every path of the application run, and
each permission it grants is needed — without it the twin refuses the call that uses it, naming the action.

One recorded run exercises the application's paths (a run closed by the reconciler, promotion and
registration, the champion's evaluation on new data, a retrain, a sweep while a tuning job runs, an
asynchronous failure reaching its destination), and a second one the deployments (an approved package
deployed, its endpoint's event lost and the deployment closed by the reconciler's sweep; a later one rolled
out by canary, closed by the endpoint's event, the older endpoint configuration pruned); every (principal,
action, resource, context) the enforcer authorised is kept. Each action of each statement of each role is
then taken out of a copy of its run's policies, and the evaluator must deny at least one recorded call
with it: so no grant is dead weight, and dropping one from template.yaml fails here by name. A few true
end-to-end runs with a permission removed from a copy of template.yaml fail through the real ASL with the
action named, as they would on AWS.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path

import pytest
from sm_stand_in import SageMakerStandIn
from sm_support import MODEL, PROFILE, ROOT, T0
from test_sm_decisions import DECIDING_PROFILE, RetrainStandIn, csv_rows, land
from test_sm_deployment import DEPLOYMENT, ENDPOINT_EVENT, deployments, engine, in_service, register
from test_sm_promotion import upload_version, wait_until

from amtflow.local.twin import Execution, ExecutionStatus, ManualClock, Twin
from amtflow.local.twin._iam import Effect, Policies, Statement, authorize
from amtflow.local.twin._iam_enforce import Check
from amtflow.local.twin._iam_policies import StackPolicies

# Grants the recorded run may not use, each with the path that needs it (whether the reconciler or the job's
# event closes the first run is a race, so the reconciler's grants are listed although it often uses them).
_MISSING_KEY = "a missing object is NoSuchKey, not AccessDenied, only with s3:ListBucket (a missing profile)"
_FAILED_JOB = "a job that failed or was stopped fails the waiting task"
_ENDPOINT_GONE = "an endpoint deleted during its deployment fails the waiting task"
NOT_EXERCISED: dict[tuple[str, str, str], str] = {
    ("TuningStateMachineRole", "DeliverExecutionLogs", "*"): "Step Functions sets up its log delivery itself",
    ("StartRunFunctionRole", "", "sqs:SendMessage"): "the router failing three times on one event",
    ("StartRunFunctionRole", "IdempotencyRecords", "dynamodb:GetItem"): "a duplicated trigger event",
    ("StartRunFunctionRole", "IdempotencyRecords", "dynamodb:DeleteItem"): "a router invocation that fails",
    ("StartRunFunctionRole", "ListProfilesAndDatasetVersions", "s3:ListBucket"): _MISSING_KEY,
    ("PlanFunctionRole", "IsTheLockHolderStillRunning", "states:DescribeExecution"): (
        "a lock held by another run (test_sm_runs covers the take-over)"
    ),
    ("PlanFunctionRole", "LineageAndLockRelease", "dynamodb:DeleteItem"): "taking over an ended run's lock",
    ("StartTuningFunctionRole", "TuningJobsOfThisStack", "sagemaker:DescribeHyperParameterTuningJob"): (
        "a tuning job that already exists (a retried StartTuning)"
    ),
    ("StartTuningFunctionRole", "ParkTaskTokens", "dynamodb:DeleteItem"): "a tuning job SageMaker refused",
    ("StartTuningFunctionRole", "ListProfilesAndDatasetVersions", "s3:ListBucket"): _MISSING_KEY,
    ("StartTrainingFunctionRole", "ParkTaskTokens", "dynamodb:DeleteItem"): "a retrain SageMaker refused",
    ("StartTrainingFunctionRole", "ListProfilesAndDatasetVersions", "s3:ListBucket"): _MISSING_KEY,
    ("StartChampionEvaluationFunctionRole", "ChampionAndTaskTokens", "dynamodb:DeleteItem"): (
        "an evaluation job SageMaker refused"
    ),
    ("StartChampionEvaluationFunctionRole", "ListProfilesAndDatasetVersions", "s3:ListBucket"): _MISSING_KEY,
    ("JobEventsFunctionRole", "CompleteWaitingTasks", "states:SendTaskFailure"): _FAILED_JOB,
    ("ChampionEvaluationEventsFunctionRole", "CompleteWaitingTasks", "states:SendTaskFailure"): _FAILED_JOB,
    ("ChampionEvaluationEventsFunctionRole", "ClaimEvaluationTokens", "dynamodb:PutItem"): (
        "an evaluation job's event that arrives before its token is parked"
    ),
    ("EvaluateFunctionRole", "ListProfilesAndDatasetVersions", "s3:ListBucket"): _MISSING_KEY,
    ("EvaluateFunctionRole", "ReadTrialLogsForTheDiagnosis", "logs:GetLogEvents"): (
        "trials' logs in CloudWatch (the local engine writes them; the stand-in does not)"
    ),
    ("NotifyFunctionRole", "ListProfiles", "s3:ListBucket"): _MISSING_KEY,
    ("ReconcileFunctionRole", "", "*"): "closing a parked job whose event was lost, or heartbeating it",
    ("ReconcileFunctionRole", "SweepTaskTokens", "dynamodb:DeleteItem"): "closing a parked job",
    ("ReconcileFunctionRole", "DescribeTuningJobsOfThisStack", "*"): "closing a parked job",
    ("ReconcileFunctionRole", "DescribeTrainingJobsOfThisStack", "sagemaker:DescribeTrainingJob"): (
        "closing a parked retrain"
    ),
    ("ReconcileFunctionRole", "StopOrphanedTuningJobsOfThisStack", "sagemaker:StopHyperParameterTuningJob"): (
        "a tuning job whose execution is gone, or stalled with on_stall: stop (test_sm_stalls covers it)"
    ),
    ("ReconcileFunctionRole", "CompleteWaitingDeployments", "states:SendTaskFailure"): _ENDPOINT_GONE,
    (
        "DeploymentStateMachineRole",
        "DeliverExecutionLogs",
        "*",
    ): "Step Functions sets up its log delivery itself",
    ("PlanDeploymentFunctionRole", "ListProfiles", "s3:ListBucket"): _MISSING_KEY,
    ("DeployModelFunctionRole", "ParkTaskTokens", "dynamodb:DeleteItem"): (
        "an endpoint SageMaker refused to create or update (the parked token is taken back)"
    ),
    ("DeployModelFunctionRole", "CompleteAnAlreadySettledDeployment", "states:SendTaskSuccess"): (
        "a retried deployment whose endpoint already serves its configuration"
    ),
    ("DeployModelFunctionRole", "EndpointsOfThisStack", "sagemaker:DeleteEndpoint"): (
        "an endpoint whose creation failed, replaced by the next deployment (test_sm_deployment covers it)"
    ),
    ("DeploymentEventsFunctionRole", "ClaimParkedDeployments", "dynamodb:PutItem"): (
        "completing the waiting task fails (the claimed token is parked again)"
    ),
    ("DeploymentEventsFunctionRole", "CompleteWaitingDeployments", "states:SendTaskFailure"): _ENDPOINT_GONE,
    ("FinishDeploymentFunctionRole", "ListProfiles", "s3:ListBucket"): _MISSING_KEY,
}


@dataclass(frozen=True)
class Run:
    """What one twin recorded: every IAM decision and the policies of its stack (physical names differ
    between twins, so each run's decisions are evaluated against its own stack's policies)."""

    checks: list[Check]
    policies: StackPolicies


@dataclass(frozen=True)
class Recorded:
    """What the runs through the application left: their IAM decisions and policies, the executions."""

    runs: list[Run]
    executions: list[Execution]

    @property
    def checks(self) -> list[Check]:
        return [c for run in self.runs for c in run.checks]


def _roles_grants(policies: StackPolicies) -> Iterator[tuple[str, int, Statement, str]]:
    for role in policies.roles.values():
        if role.logical_id == "SageMakerExecutionRole":  # SageMaker's own calls: not made by the application
            continue
        for index, statement in enumerate(role.statements):
            if statement.effect is not Effect.ALLOW or not statement.source.startswith(role.logical_id):
                continue  # AWS managed policies: the Lambda service writes the functions' logs and traces
            for action in statement.actions:
                yield role.logical_id, index, statement, action


# an alarm the operators made, that the profile names among the rollback alarms
OPERATIONS_ALARM = "ops-latency"
# no older configuration kept: the second deployment prunes the first one's
DEPLOYING = (
    DEPLOYMENT.replace("keep_configs: 1", "keep_configs: 0") + f"  alarms: {{names: [{OPERATIONS_ALARM}]}}\n"
)


def _deploy(work: Path) -> tuple[Run, list[Execution]]:
    lost = {ENDPOINT_EVENT}
    with Twin.start(
        ROOT, sagemaker=engine(work, lose=lost), clock=ManualClock(T0), work_dir=work / "twin"
    ) as twin:
        twin.client("cloudwatch").put_metric_alarm(
            AlarmName=OPERATIONS_ALARM,
            Namespace="AWS/SageMaker",
            MetricName="ModelLatency",
            Statistic="Average",
            Period=60,
            EvaluationPeriods=1,
            Threshold=1e6,
            ComparisonOperator="GreaterThanThreshold",
        )
        twin.put_object(f"profiles/{MODEL}.yaml", PROFILE + DEPLOYING)
        # v1: the endpoint's event is lost; the reconciler's sweep closes the deployment
        register(twin, 1, answer="v1")
        in_service(twin)
        twin.wait_idle()
        twin.advance(15 * 60)
        deployments(twin)
        # v2: rolled out by canary, closed by the endpoint's event; v1's configuration pruned
        lost.clear()
        register(twin, 2, answer="v2")
        executions = deployments(twin)
        assert twin.iam is not None
        return Run(twin.iam.checks(), twin.iam.policies), executions


@pytest.fixture(scope="module")
def recorded(tmp_path_factory: pytest.TempPathFactory) -> Recorded:
    deployment, deployment_runs = _deploy(tmp_path_factory.mktemp("deployment"))
    sagemaker = RetrainStandIn()
    with Twin.start(ROOT, sagemaker=sagemaker.factory, clock=ManualClock(T0)) as twin:
        twin.put_object(f"profiles/{MODEL}.yaml", PROFILE)
        twin.wait_idle()
        # v1: its job's event is lost; the reconciler closes the run (a lease renewed on the way), promotion
        sagemaker.emit_events = False
        upload_version(twin, "v1")
        items = lambda: twin.client("dynamodb").scan(TableName=twin.physical_id("StateTable"))["Items"]  # noqa: E731
        wait_until(lambda: "PARKED" in {i["pk"]["S"] for i in items()}, "the task token to be parked")
        sagemaker.emit_events = True
        twin.advance(15 * 60)
        # v2: the champion is scored by an evaluation job on the new data
        sagemaker.evaluation_value = 0.9
        upload_version(twin, "v2", rows="1,0.9\n0,0.3\n")
        twin.wait_for_executions()
        # v3 (new data, no drift, judged against the threshold): a retrain
        twin.put_object(f"profiles/{MODEL}.yaml", DECIDING_PROFILE)
        land(twin, "v3", csv_rows())
        land(twin, "v4", csv_rows(seed=2))
        # v5: a sweep while its tuning job runs (the profile's stall rules read), then the job ends
        twin.put_object(f"profiles/{MODEL}.yaml", PROFILE)
        sagemaker.outcome = lambda request: "InProgress"
        upload_version(twin, "v5")
        running = lambda: [n for n, job in sagemaker.jobs.items() if job["status"] == "InProgress"]  # noqa: E731
        wait_until(lambda: len(running()) == 1 and "PARKED" in {i["pk"]["S"] for i in items()}, "v5's job")
        twin.advance(15 * 60, wait=False)
        twin.wait_idle()
        sagemaker.end(running()[0], "Completed")
        twin.wait_for_executions()
        # an asynchronous invocation that keeps failing reaches its on-failure queue
        functions = ("JobEventsFunction", "ChampionEvaluationEventsFunction", "DeploymentEventsFunction")
        for function in (*functions, "ReconcileFunction"):
            twin.client("lambda").invoke(
                FunctionName=twin.physical_id(function), InvocationType="Event", Payload=b'"not an event"'
            )
        executions = twin.wait_for_executions()
        assert twin.iam is not None
        # the twin ends here: the tests below start twins of their own (one per process at a time)
        return Recorded(
            [Run(twin.iam.checks(), twin.iam.policies), deployment], [*executions, *deployment_runs]
        )


def test_the_shipped_template_lets_every_recorded_call_through(recorded: Recorded) -> None:
    denied = [(c.principal.arn, c.request) for c in recorded.checks if not c.decision.allowed]
    assert denied == []
    assert len(recorded.executions) >= 4
    assert [e.cause for e in recorded.executions if e.status is not ExecutionStatus.SUCCEEDED] == []
    functions = {c.principal.session for c in recorded.checks if not c.principal.service}
    assert len(functions) >= 10  # every function and the state machine made calls


def _needed_in(run: Run, logical_id: str, index: int, action: str) -> bool:
    (role,) = [r for r in run.policies.roles.values() if r.logical_id == logical_id]
    statement = role.statements[index]  # the same template: the same statements in the same order
    kept = tuple(a for a in statement.actions if a.lower() != action.lower())
    identity = tuple(
        (replace(s, actions=kept) if s is statement else s)
        for s in role.statements
        if s is not statement or kept
    )
    policies = Policies(identity=identity)
    return any(
        c.decision.allowed and not authorize(c.principal, c.request, policies).allowed
        for c in run.checks
        if c.principal.arn == role.arn and not c.principal.service
    )


def test_every_permission_the_template_grants_is_needed_by_a_recorded_call(recorded: Recorded) -> None:
    unused: list[tuple[str, str, str]] = []
    for logical_id, index, statement, action in _roles_grants(recorded.runs[0].policies):
        if not any(_needed_in(run, logical_id, index, action) for run in recorded.runs):
            unused.append((logical_id, statement.sid, action))
    listed = {u for u in unused if u in NOT_EXERCISED or (u[0], u[1], "*") in NOT_EXERCISED}
    assert sorted(set(unused) - listed) == []  # a grant nothing uses: remove it, or list it with its reason


# ------------------------------------------------------------------ end to end, a permission removed


def _template_without(tmp_path: Path, *lines: str) -> str:
    text = (ROOT / "template.yaml").read_text(encoding="utf-8")
    for line in lines:
        assert text.count(line) == 1, line
        text = text.replace(line, "")
    path = tmp_path / "template.yaml"
    path.write_text(text, encoding="utf-8")
    return str(path)  # an absolute template path: the code and the ASL still come from ROOT


def test_without_create_tuning_job_the_run_fails_and_the_notification_names_the_action(
    tmp_path: Path,
) -> None:
    template = _template_without(tmp_path, "                - sagemaker:CreateHyperParameterTuningJob\n")
    sagemaker = SageMakerStandIn()
    with Twin.start(ROOT, template=template, sagemaker=sagemaker.factory, clock=ManualClock(T0)) as twin:
        twin.put_object(f"profiles/{MODEL}.yaml", PROFILE)
        upload_version(twin, "v1")
        (execution,) = twin.wait_for_executions()
        assert execution.status is ExecutionStatus.FAILED
        assert not sagemaker.calls  # nothing reached SageMaker
        (note,) = twin.notifications()
        assert note.attributes["outcome"] == "failed"
        assert "is not authorized to perform: sagemaker:CreateHyperParameterTuningJob" in note.message
        (failed,) = [i for i in twin.invocations() if i.function == "StartTuningFunction"][-1:]
        assert failed.error_type == "ConfigurationError"


def test_without_delete_item_the_state_machine_cannot_release_the_lock(tmp_path: Path) -> None:
    template = _template_without(
        tmp_path,
        "            - Sid: ReleaseModelLocks\n"
        "              Effect: Allow\n"
        "              Action: dynamodb:DeleteItem\n"
        "              Resource: !GetAtt StateTable.Arn\n",
    )
    sagemaker = SageMakerStandIn()
    with Twin.start(ROOT, template=template, sagemaker=sagemaker.factory, clock=ManualClock(T0)) as twin:
        twin.put_object(f"profiles/{MODEL}.yaml", PROFILE)
        upload_version(twin, "v1")
        (execution,) = twin.wait_for_executions()
        assert execution.status is ExecutionStatus.SUCCEEDED, execution.cause  # the ASL catches it
        error = execution.output["releaseError"]
        assert error["Error"] == "DynamoDB.AccessDeniedException"
        assert "TuningStateMachineRole" in error["Cause"]
        assert "is not authorized to perform: dynamodb:DeleteItem" in error["Cause"]
        items = twin.client("dynamodb").scan(TableName=twin.physical_id("StateTable"))["Items"]
        assert any(i["sk"]["S"] == "LOCK" for i in items)  # the lock stays (until it expires)


def test_without_the_rules_permission_eventbridge_cannot_invoke_the_router(tmp_path: Path) -> None:
    sagemaker = SageMakerStandIn()
    with Twin.start(ROOT, sagemaker=sagemaker.factory, clock=ManualClock(T0)) as twin:
        assert twin.iam is not None
        function = twin.resources("AWS::Lambda::Function")["StartRunFunction"]
        arn = f"arn:aws:lambda:us-east-1:{twin.account}:function:{function}"
        twin.iam.policies.functions[arn] = ()  # as if the template had no AWS::Lambda::Permission for it
        twin.put_object(f"profiles/{MODEL}.yaml", PROFILE)
        twin.put_object(f"datasets/{MODEL}/v1/_READY", "")
        twin.wait_idle()
        assert twin.executions() == []
        assert not [i for i in twin.invocations() if i.function == "StartRunFunction"]
        assert any(
            "events.amazonaws.com is not authorized to perform: lambda:InvokeFunction" in e
            for e in twin.errors()
        )


def test_enforcement_can_be_turned_off_for_a_test_that_needs_it(tmp_path: Path) -> None:
    template = _template_without(tmp_path, "                - sagemaker:CreateHyperParameterTuningJob\n")
    sagemaker = SageMakerStandIn()
    with Twin.start(
        ROOT, template=template, sagemaker=sagemaker.factory, clock=ManualClock(T0), enforce_iam=False
    ) as twin:
        assert twin.iam is None
        twin.put_object(f"profiles/{MODEL}.yaml", PROFILE)
        upload_version(twin, "v1")
        (execution,) = twin.wait_for_executions()
        assert execution.status is ExecutionStatus.SUCCEEDED, execution.cause
