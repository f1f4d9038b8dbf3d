"""The project's own template deploys into the twin, wired as docs/architecture.md says."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from amtflow.local.twin import ManualClock, SageMakerFactory, Twin
from amtflow.profile import TrainingNetwork
from amtflow.settings import load_settings
from amtflow.wiring import training_network

ROOT = Path(__file__).resolve().parents[3]
T0 = datetime(2026, 11, 2, 0, 0, tzinfo=UTC)

pytestmark = pytest.mark.skipif(
    not (ROOT / "template.yaml").is_file(), reason="template.yaml not written yet"
)


VPC_PARAMETERS = {
    "TrainingNetworkIsolation": "true",
    "TrainingSubnetIds": "subnet-0a1b,subnet-0c2d",
    "TrainingSecurityGroupIds": "sg-0e3f",
    "CreateTrainingJobsLogGroup": "true",
}


# First in the module: it deploys a twin of its own before the module's twin starts (one twin at a time).
def test_the_network_parameters_deploy_the_vpc_policy_and_reach_the_job_creators(
    no_sagemaker: SageMakerFactory,
) -> None:
    with Twin.start(ROOT, sagemaker=no_sagemaker, clock=ManualClock(T0), parameters=VPC_PARAMETERS) as t:
        assert "SageMakerTrainingVpcPolicy" in t.resources("AWS::IAM::Policy")
        role = t.physical_id("SageMakerExecutionRole").rsplit("/", 1)[-1]
        document = t.client("iam").get_role_policy(RoleName=role, PolicyName="training-in-vpc")[
            "PolicyDocument"
        ]
        document = json.loads(document) if isinstance(document, str) else document
        conditions = {s["Sid"]: s.get("Condition") for s in document["Statement"]}
        assert conditions["InterfacesOnlyInTheTrainingSubnets"] == {
            "StringEquals": {"ec2:SubnetID": ["subnet-0a1b", "subnet-0c2d"]}
        }
        assert conditions["TheTrainingSubnetsInterfaces"] == {
            "ArnLike": {
                "ec2:Subnet": ["arn:*:ec2:*:*:subnet/subnet-0a1b", "arn:*:ec2:*:*:subnet/subnet-0c2d"]
            }
        }
        (group,) = t.client("logs").describe_log_groups(logGroupNamePrefix="/aws/sagemaker/")["logGroups"]
        assert (group["logGroupName"], group.get("retentionInDays")) == ("/aws/sagemaker/TrainingJobs", 30)
        env = t.function_environment("StartTuningFunction")
        settings = load_settings(env)
        assert training_network(settings) == TrainingNetwork(
            isolation=True, subnets=("subnet-0a1b", "subnet-0c2d"), security_groups=("sg-0e3f",)
        )


@pytest.fixture(scope="module")
def twin(no_sagemaker: SageMakerFactory) -> Iterator[Twin]:
    with Twin.start(ROOT, sagemaker=no_sagemaker, clock=ManualClock(T0)) as t:
        yield t


def test_every_function_gets_the_documented_settings_resolved_to_the_stack(twin: Twin) -> None:
    functions = twin.resources("AWS::Lambda::Function")
    assert {"StartRunFunction", "PlanFunction", "StartTuningFunction", "JobEventsFunction"} <= set(functions)
    for logical_id in functions:
        env = twin.function_environment(logical_id)
        assert env["AMTFLOW_DATA_BUCKET"] == twin.outputs["DataBucketName"] == twin.physical_id("DataBucket")
        assert env["AMTFLOW_STATE_TABLE"] == twin.physical_id("StateTable")
        assert env["AMTFLOW_IDEMPOTENCY_TABLE"] == twin.physical_id("IdempotencyTable")
        assert env["AMTFLOW_TOPIC_ARN"] == twin.outputs["NotificationTopicArn"]
        assert env["AMTFLOW_SAGEMAKER_ROLE_ARN"].startswith("arn:aws:iam::")
    router = twin.function_environment("StartRunFunction")
    assert router["AMTFLOW_STATE_MACHINE_ARN"] == twin.outputs["StateMachineArn"]


def test_a_non_marker_object_reaches_the_router_and_starts_nothing(twin: Twin) -> None:
    before = len(twin.invocations())
    twin.put_object("datasets/churn/v1/train/part-0.csv", b"1,2,3\n")

    assert twin.wait_for_executions(timeout=60) == []
    (invocation,) = twin.invocations()[before:]
    assert invocation.function == "StartRunFunction"
    assert invocation.source.startswith("rule:")


def test_the_schedules_fire_their_functions(twin: Twin) -> None:
    before = len(twin.invocations())

    fired = twin.advance(3600)

    names = [f.split(" ", 1)[1] for f in fired]
    assert names.count("StartRunFunctionRunSchedule") == 1
    assert names.count("ReconcileFunctionSweep") == 4
    ran = [i.function for i in twin.invocations()[before:]]
    assert sorted(set(ran)) == ["ReconcileFunction", "StartRunFunction"]
    assert len(ran) == 5


def test_local_up_shows_the_lineage_recorded_in_the_state_table(twin: Twin) -> None:
    import io

    from amtflow.adapters import DynamoDBLineageStore
    from amtflow.drift import Action, Decision, DriftSeverity, Rule
    from amtflow.lineage import RunOutcome, RunRecord, Trigger
    from amtflow.local.apps.shell import Shell

    store = DynamoDBLineageStore(twin.client("dynamodb"), twin.physical_id("StateTable"))
    store.add_run(
        RunRecord(
            model="churn",
            run_id="churn-v7-1",
            started_at=T0,
            trigger=Trigger.S3,
            dataset_version="7",
            data_fingerprint="sha256:aa",
            decision=Decision(
                Action.TUNE, Rule.MODERATE_DRIFT, "moderate drift", severity=DriftSeverity.MODERATE
            ),
            tuning_job="amtf-churn-1",
            best_training_job="amtf-churn-1-003-aa",
            best_objective=0.91,
            outcome=RunOutcome.COMPLETED,
        )
    )
    out = io.StringIO()

    Shell(twin, out).handle("lineage churn")

    printed = out.getvalue().splitlines()
    # the same text as `amtflow lineage churn` against AWS (amtflow.local.cli_lineage.render_lineage)
    assert printed[:3] == ["model churn", "datasets (0):", "runs (1, newest first):"]
    assert printed[3].startswith("  2026-11-02 00:00Z churn-v7-1 [s3] data 7: tune (cold start)")
    assert printed[3].endswith("-> completed")
    assert printed[4] == "      why: moderate drift [moderate-drift]"
    assert "amtf-churn-1" in printed[6]
    assert "best amtf-churn-1-003-aa = 0.91" in printed[6]
    assert printed[-1] == "champion: none"


def test_each_function_gets_its_log_group_with_the_default_retention(twin: Twin) -> None:
    groups = twin.resources("AWS::Logs::LogGroup")
    described = {
        g["logGroupName"]: g.get("retentionInDays")
        for g in twin.client("logs").describe_log_groups(logGroupNamePrefix="/aws/lambda/")["logGroups"]
    }
    for logical_id in twin.resources("AWS::Lambda::Function"):
        name = groups[f"{logical_id}LogGroup"]
        assert re.fullmatch(rf"/aws/lambda/[^/]+/{logical_id}", name), name
        assert described[name] == 30


def test_the_defaults_deploy_no_vpc_policy_nor_the_account_wide_training_log_group(twin: Twin) -> None:
    assert "TrainingJobsLogGroup" not in twin.resources("AWS::Logs::LogGroup")
    assert "SageMakerTrainingVpcPolicy" not in twin.resources("AWS::IAM::Policy")
    assert {"DataBucket", "AccessLogsBucket"} <= set(twin.resources("AWS::S3::Bucket"))
    for logical_id in ("StartTuningFunction", "StartTrainingFunction", "StartChampionEvaluationFunction"):
        env = twin.function_environment(logical_id)
        assert env["AMTFLOW_TRAINING_NETWORK_ISOLATION"] == "false"
        assert env["AMTFLOW_TRAINING_SUBNET_IDS"] == ""
        assert env["AMTFLOW_TRAINING_SECURITY_GROUP_IDS"] == ""


def test_cloudwatch_accepts_the_alarms_and_the_dashboard_as_the_stack_resolves_them(twin: Twin) -> None:
    # moto's CloudFormation skips alarms and dashboards, so each goes through CloudWatch's own API (botocore
    # validates every field), resolved as CloudFormation would resolve it in this stack.
    from amtflow.local.twin import compile_project

    cfn = compile_project(ROOT, region="us-east-1").cloudformation
    parameters = {k: v.get("Default") for k, v in cfn["Parameters"].items()}

    def physical(logical: str, attribute: str | None = None) -> str:
        value = twin.physical_id(logical)
        return value.rsplit("/", 1)[-1] if attribute == "QueueName" else value

    def substitute(text: str) -> str:
        def one(m: re.Match[str]) -> str:
            name = m[1]
            if name == "AWS::StackName":
                return "amtflow"
            if name == "AWS::Region":
                return "us-east-1"
            logical, _, attribute = name.partition(".")
            return physical(logical, attribute or None)

        return re.sub(r"\$\{([^}]+)\}", one, text)

    def resolve(node: Any) -> Any:
        if isinstance(node, dict) and len(node) == 1:
            (fn, arg), *_ = node.items()
            if fn == "Ref":
                return parameters[arg] if arg in parameters else physical(arg)
            if fn == "Fn::GetAtt":
                return physical(arg[0], arg[1])
            if fn == "Fn::Sub":
                return substitute(arg)
        if isinstance(node, dict):
            return {k: resolve(v) for k, v in node.items()}
        if isinstance(node, list):
            return [resolve(v) for v in node]
        return node

    cloudwatch = twin.client("cloudwatch")
    topic = twin.physical_id("OperationsTopic")
    alarms = {k: v for k, v in cfn["Resources"].items() if v["Type"] == "AWS::CloudWatch::Alarm"}
    for resource in alarms.values():
        props = resolve(resource["Properties"])
        props["Threshold"] = float(props["Threshold"])
        if "Period" in props:
            props["Period"] = int(props["Period"])
        cloudwatch.put_metric_alarm(**props)
    described = cloudwatch.describe_alarms(AlarmNamePrefix="amtflow-", MaxRecords=100)["MetricAlarms"]
    assert len(described) == len(alarms)
    assert all(a["AlarmActions"] == [topic] for a in described)

    dashboard = resolve(cfn["Resources"]["OperationsDashboard"]["Properties"])
    answer = cloudwatch.put_dashboard(**dashboard)
    assert answer.get("DashboardValidationMessages", []) == []
    body = json.loads(cloudwatch.get_dashboard(DashboardName="amtflow-operations")["DashboardBody"])
    queues = {row[3] for w in body["widgets"] for row in w["properties"]["metrics"] if row[0] == "AWS/SQS"}
    assert queues == {physical(q, "QueueName") for q in twin.resources("AWS::SQS::Queue")}
