"""One contract, two implementations: the in-memory deployment stores and hosting the use-case tests rely on
behave like the adapters (moto for DynamoDB, CloudWatch and SageMaker's hosting API, a botocore Stubber for
what moto does not model: blue/green updates and a deployment in progress)."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import boto3
import pytest
from app_fakes import T0
from botocore.stub import Stubber
from deploy_fakes import Alarms, Hosting, Ledger, Locks, Tokens
from moto import mock_aws
from test_state_table_contract import table_definition

from amtflow.adapters import CloudWatchRollbackAlarms, DynamoDeploymentTable, SageMakerDeployment
from amtflow.app import DeploymentOutcome, DeploymentRecord, EndpointStatus, ParkedDeployment
from amtflow.errors import DeploymentBusyError, NotFoundError

ROLE = "arn:aws:iam::123456789012:role/amtflow-sagemaker"


def parked(endpoint: str = "amtf-churn", token: str = "t-1") -> ParkedDeployment:
    return ParkedDeployment(
        endpoint=endpoint,
        task_token=token,
        model="churn",
        execution="deploy-churn-v1-0badc0de",
        config_name=f"{endpoint}-0badc0de",
        package_arn="arn:aws:sagemaker:us-east-1:123456789012:model-package/amtf-churn/1",
        parked_at=T0,
    )


@pytest.fixture(params=["in-memory", "dynamodb"])
def table(request: pytest.FixtureRequest) -> Iterator[Any]:
    if request.param == "in-memory":

        class Memory:
            def __init__(self) -> None:
                self.tokens, self.locks, self.ledger = Tokens(), Locks(), Ledger()
                self.park, self.claim, self.parked = self.tokens.park, self.tokens.claim, self.tokens.parked
                self.acquire = self.locks.acquire
                self.record, self.deployments = self.ledger.record, self.ledger.deployments

        yield Memory()
        return
    with mock_aws():
        client = boto3.client("dynamodb", region_name="us-east-1")
        client.create_table(TableName="state", **table_definition("StateTable"))
        yield DynamoDeploymentTable(client, "state")


def test_a_parked_deployment_is_claimed_once(table: Any) -> None:
    table.park(parked())
    assert [p.endpoint for p in table.parked()] == ["amtf-churn"]
    assert table.claim("amtf-churn") == parked()
    assert table.claim("amtf-churn") is None
    assert table.parked() == []


def test_the_mark_of_a_failed_endpoint_being_replaced_is_kept(table: Any) -> None:
    mark = dataclasses.replace(parked(), replaced_failed="ping health check failed", awaiting_deletion=True)
    table.park(mark)
    assert table.parked() == [mark]
    assert table.claim("amtf-churn") == mark


def test_parking_again_replaces_the_token(table: Any) -> None:
    table.park(parked(token="t-1"))
    table.park(parked(token="t-2"))
    claimed = table.claim("amtf-churn")
    assert claimed is not None
    assert claimed.task_token == "t-2"


def test_the_deployment_lock_is_reentrant_exclusive_and_taken_over_once_expired(table: Any) -> None:
    until = T0 + timedelta(hours=3)
    first = table.acquire("churn", "deploy-a", now=T0, until=until)
    assert (first.pk, first.sk, first.owner) == ("MODEL#churn", "DEPLOYMENT", "deploy-a")
    assert table.acquire("churn", "deploy-a", now=T0, until=until).owner == "deploy-a"
    with pytest.raises(DeploymentBusyError):
        table.acquire("churn", "deploy-b", now=T0 + timedelta(hours=1), until=until)
    assert table.acquire("other", "deploy-b", now=T0, until=until).owner == "deploy-b"
    later = T0 + timedelta(hours=4)
    assert table.acquire("churn", "deploy-b", now=later, until=later + timedelta(hours=3)).owner == "deploy-b"


def test_deployment_records_are_listed_newest_first(table: Any) -> None:
    def record(hours: int, outcome: DeploymentOutcome) -> DeploymentRecord:
        return DeploymentRecord(
            model="churn",
            execution=f"deploy-{hours}",
            package_arn=f"arn:aws:sagemaker:us-east-1:1:model-package/amtf-churn/{hours}",
            endpoint="amtf-churn",
            config_name=f"amtf-churn-{hours}",
            outcome=outcome,
            reason="" if outcome is DeploymentOutcome.DEPLOYED else "alarm",
            started_at=T0 + timedelta(hours=hours),
            ended_at=T0 + timedelta(hours=hours, minutes=9),
            serving_config=f"amtf-churn-{hours}",
            instance_type="ml.m5.large",
            instance_count=1,
            usd_per_hour=0.115,
        )

    table.record(record(1, DeploymentOutcome.DEPLOYED))
    table.record(record(2, DeploymentOutcome.ROLLED_BACK))
    assert table.deployments("churn") == [
        record(2, DeploymentOutcome.ROLLED_BACK),
        record(1, DeploymentOutcome.DEPLOYED),
    ]
    assert table.deployments("other") == []


@pytest.fixture(params=["in-memory", "cloudwatch"])
def alarms(request: pytest.FixtureRequest) -> Iterator[Any]:
    if request.param == "in-memory":
        yield Alarms()
        return
    with mock_aws():
        yield CloudWatchRollbackAlarms(boto3.client("cloudwatch", region_name="us-east-1"))


def test_a_put_alarm_exists_afterwards(alarms: Any) -> None:
    assert list(alarms.missing(["amtf-churn-invocation-5xx", "x"])) == ["amtf-churn-invocation-5xx", "x"]
    alarms.put(
        {
            "AlarmName": "amtf-churn-invocation-5xx",
            "Namespace": "AWS/SageMaker",
            "MetricName": "Invocation5XXErrors",
            "Dimensions": [{"Name": "EndpointName", "Value": "amtf-churn"}],
            "Statistic": "Sum",
            "Period": 60,
            "EvaluationPeriods": 1,
            "Threshold": 1.0,
            "ComparisonOperator": "GreaterThanOrEqualToThreshold",
        }
    )
    assert list(alarms.missing(["amtf-churn-invocation-5xx", "x"])) == ["x"]


@pytest.fixture(params=["in-memory", "moto"])
def hosting(request: pytest.FixtureRequest) -> Iterator[Any]:
    if request.param == "in-memory":
        yield Hosting()
        return
    with mock_aws():
        yield SageMakerDeployment(boto3.client("sagemaker", region_name="us-east-1"))


def test_models_configs_and_endpoints_are_created_described_and_pruned(hosting: Any) -> None:
    assert hosting.describe_endpoint("amtf-churn") is None
    assert not hosting.model_exists("amtf-churn-aaaa0001")
    hosting.create_model(
        {
            "ModelName": "amtf-churn-aaaa0001",
            "ExecutionRoleArn": ROLE,
            "PrimaryContainer": {"Image": "xgb:1", "ModelDataUrl": "s3://b/model.tar.gz"},
        }
    )
    assert hosting.model_exists("amtf-churn-aaaa0001")
    for name in ("amtf-churn-aaaa0001", "amtf-churn-aaaa0002"):
        hosting.create_endpoint_config(
            {
                "EndpointConfigName": name,
                "ProductionVariants": [
                    {
                        "VariantName": "AllTraffic",
                        "ModelName": "amtf-churn-aaaa0001",
                        "InstanceType": "ml.m5.large",
                        "InitialInstanceCount": 1,
                    }
                ],
            }
        )
    assert hosting.config_exists("amtf-churn-aaaa0002")
    assert not hosting.config_exists("amtf-churn-nope")
    hosting.create_endpoint({"EndpointName": "amtf-churn", "EndpointConfigName": "amtf-churn-aaaa0001"})
    state = hosting.describe_endpoint("amtf-churn")
    assert state is not None
    assert state.config_name == "amtf-churn-aaaa0001"
    assert state.status in {EndpointStatus.CREATING, EndpointStatus.IN_SERVICE}
    names = [c.name for c in hosting.endpoint_configs("amtf-churn-")]
    assert sorted(names) == ["amtf-churn-aaaa0001", "amtf-churn-aaaa0002"]
    hosting.delete_endpoint_config("amtf-churn-aaaa0002")
    hosting.delete_endpoint_config("amtf-churn-aaaa0002")  # already gone: no error
    assert not hosting.config_exists("amtf-churn-aaaa0002")
    hosting.delete_endpoint("amtf-churn")
    gone = hosting.describe_endpoint("amtf-churn")
    assert gone is None or gone.status is EndpointStatus.DELETING
    hosting.delete_endpoint("amtf-churn-nope")  # no such endpoint: no error


def test_an_unknown_model_package_is_not_found(hosting: Any) -> None:
    with pytest.raises(NotFoundError):
        hosting.describe_model_package("arn:aws:sagemaker:us-east-1:123456789012:model-package/amtf-x/9")


def test_a_blue_green_update_and_the_deployment_in_progress_as_sagemaker_answers() -> None:
    client = boto3.client("sagemaker", region_name="us-east-1")
    policy = {
        "BlueGreenUpdatePolicy": {
            "TrafficRoutingConfiguration": {
                "Type": "CANARY",
                "CanarySize": {"Type": "CAPACITY_PERCENT", "Value": 10},
                "WaitIntervalInSeconds": 300,
            },
            "TerminationWaitInSeconds": 0,
            "MaximumExecutionTimeoutInSeconds": 3900,
        },
        "AutoRollbackConfiguration": {"Alarms": [{"AlarmName": "amtf-churn-invocation-5xx"}]},
    }
    arn = "arn:aws:sagemaker:us-east-1:123456789012:endpoint/amtf-churn"
    with Stubber(client) as stub:
        stub.add_response(
            "update_endpoint",
            {"EndpointArn": arn},
            {"EndpointName": "amtf-churn", "EndpointConfigName": "amtf-churn-b", "DeploymentConfig": policy},
        )
        stub.add_response(
            "describe_endpoint",
            {
                "EndpointName": "amtf-churn",
                "EndpointArn": arn,
                "EndpointConfigName": "amtf-churn-a",
                "EndpointStatus": "Updating",
                "CreationTime": T0,
                "LastModifiedTime": T0,
                "PendingDeploymentSummary": {"EndpointConfigName": "amtf-churn-b"},
            },
            {"EndpointName": "amtf-churn"},
        )
        stub.add_client_error(
            "describe_endpoint",
            "ValidationException",
            'Could not find endpoint "arn:aws:sagemaker:us-east-1:123456789012:endpoint/amtf-gone"',
            expected_params={"EndpointName": "amtf-gone"},
        )
        hosting = SageMakerDeployment(client)
        hosting.update_endpoint(
            {"EndpointName": "amtf-churn", "EndpointConfigName": "amtf-churn-b", "DeploymentConfig": policy}
        )
        state = hosting.describe_endpoint("amtf-churn")
        assert state is not None
        assert (state.status, state.config_name, state.pending_config) == (
            EndpointStatus.UPDATING,
            "amtf-churn-a",
            "amtf-churn-b",
        )
        assert hosting.describe_endpoint("amtf-gone") is None
        stub.assert_no_pending_responses()
