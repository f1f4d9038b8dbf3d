"""Deploying approved champions through the real template, ASL and handlers in the twin, with the local
engine serving the endpoints (a stdlib stand-in container: its model.tar.gz says what it answers).

Approval → InService → a prediction through sagemaker-runtime; a later package rolls out by canary; a
broken model rolls back while the previous one keeps serving; a rejected package deploys nothing; a lost
endpoint event is closed by the reconciler's sweep; an endpoint whose creation failed is replaced by the next
approved package."""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Container, Iterator
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any

import boto3
import pytest
from sm_support import MODEL, PROFILE, ROOT, T0
from stand_in_model import model_archive

from amtflow.adapters import DynamoDeploymentTable
from amtflow.app import DeploymentOutcome
from amtflow.local import sagemaker as local_sagemaker
from amtflow.local.twin import Execution, ExecutionStatus, ManualClock, Twin

SERVE = ROOT / "tests" / "local" / "engine" / "scripts" / "serve.py"
IMAGE = "123456789012.dkr.ecr.us-east-1.amazonaws.com/echo:1"
GROUP = f"amtf-{MODEL}"
ENDPOINT = f"amtf-{MODEL}"
DEPLOYMENT = "\ndeployment:\n  canary: {size_percent: 50, wait_s: 1}\n  keep_configs: 1\n"
ENDPOINT_EVENT = "SageMaker Endpoint State Change"

pytestmark = pytest.mark.slow


def engine(tmp_path: Path, *, lose: Container[str] = ()) -> Callable[[Any], AbstractContextManager[object]]:
    """The local engine serving endpoints with the stand-in container; events of a detail-type in ``lose``
    (looked up at each event: a set can change during a test) are lost on the way to EventBridge."""

    def factory(sink: Callable[[dict[str, Any]], None]) -> AbstractContextManager[object]:
        def deliver(event: dict[str, Any]) -> None:
            if event.get("detail-type") not in lose:
                sink(event)

        cloudwatch = boto3.client(
            "cloudwatch",
            region_name="us-east-1",
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
        )
        return local_sagemaker(
            state_dir=tmp_path / "engine",
            event_sink=deliver,
            image_map={"echo": f"{sys.executable} {SERVE}"},
            cloudwatch_client=cloudwatch,
        )

    return factory


@pytest.fixture
def app(tmp_path: Path) -> Iterator[Twin]:
    with Twin.start(
        ROOT, sagemaker=engine(tmp_path), clock=ManualClock(T0), work_dir=tmp_path / "twin"
    ) as twin:
        twin.put_object(f"profiles/{MODEL}.yaml", PROFILE + DEPLOYMENT)
        yield twin


def register(twin: Twin, version: int, *, approval: str = "Approved", **behaviour: Any) -> str:
    """A model package in the stack's group whose model answers as ``behaviour`` says; the approval event
    SageMaker sends for it put on the bus. Returns the package ARN."""
    sm = twin.client("sagemaker")
    if version == 1:
        sm.create_model_package_group(ModelPackageGroupName=GROUP)
    key = f"runs/{MODEL}/v{version}/model.tar.gz"
    twin.put_object(key, model_archive(**behaviour))
    arn = sm.create_model_package(
        ModelPackageGroupName=GROUP,
        InferenceSpecification={
            "Containers": [{"Image": IMAGE, "ModelDataUrl": f"s3://{twin.physical_id('DataBucket')}/{key}"}],
            "SupportedContentTypes": ["text/csv"],
            "SupportedResponseMIMETypes": ["text/csv"],
        },
        ModelApprovalStatus=approval,
        CustomerMetadataProperties={"amtflow:model": MODEL},
    )["ModelPackageArn"]
    twin.put_events(
        [
            {
                "Source": "aws.sagemaker",
                "DetailType": "SageMaker Model Package State Change",
                "Resources": [arn],
                "Detail": {
                    "ModelPackageGroupName": GROUP,
                    "ModelPackageVersion": version,
                    "ModelPackageArn": arn,
                    "ModelPackageStatus": "Completed",
                    "ModelApprovalStatus": approval,
                },
            }
        ]
    )
    return str(arn)


def deployments(twin: Twin) -> list[Execution]:
    return [e for e in twin.wait_for_executions(timeout=180) if e.name.startswith("deploy-")]


def predict(twin: Twin, body: str = "1,2") -> str:
    answer = twin.client("sagemaker-runtime").invoke_endpoint(
        EndpointName=ENDPOINT, Body=body.encode(), ContentType="text/csv"
    )
    return str(answer["Body"].read().decode())


def in_service(twin: Twin, timeout: float = 60) -> None:
    """Wait until the deployment has created the endpoint and it is InService."""
    sm = twin.client("sagemaker")
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        names = [e["EndpointName"] for e in sm.list_endpoints()["Endpoints"]]
        if ENDPOINT in names and sm.describe_endpoint(EndpointName=ENDPOINT)["EndpointStatus"] == "InService":
            return
        time.sleep(0.2)
    raise AssertionError(f"{ENDPOINT} never came into service")


def records(twin: Twin) -> list[Any]:
    return list(
        DynamoDeploymentTable(twin.client("dynamodb"), twin.physical_id("StateTable")).deployments(MODEL)
    )


def test_an_approved_package_comes_up_and_answers_then_a_later_one_rolls_out_by_canary(app: Twin) -> None:
    first = register(app, 1, answer="v1")
    (run,) = deployments(app)
    assert run.status is ExecutionStatus.SUCCEEDED, run.cause
    assert predict(app).startswith("v1:")
    note = app.notifications()[-1]
    assert note.attributes == {"model": MODEL, "outcome": "deployment_deployed"}
    assert note.json()["endpoint"] == ENDPOINT
    assert note.json()["outcome"] == "deployed"

    register(app, 2, answer="v2")
    runs = deployments(app)
    assert [r.status for r in runs] == [ExecutionStatus.SUCCEEDED, ExecutionStatus.SUCCEEDED]
    assert predict(app).startswith("v2:")
    sm = app.client("sagemaker")
    described = sm.describe_endpoint(EndpointName=ENDPOINT)
    policy = described["LastDeploymentConfig"]["BlueGreenUpdatePolicy"]["TrafficRoutingConfiguration"]
    assert policy["Type"] == "CANARY"
    assert [r.outcome for r in records(app)] == [DeploymentOutcome.DEPLOYED, DeploymentOutcome.DEPLOYED]
    assert records(app)[1].package_arn == first
    alarms = app.client("cloudwatch").describe_alarms(AlarmNamePrefix=ENDPOINT)["MetricAlarms"]
    assert {a["MetricName"] for a in alarms} == {"Invocation5XXErrors", "ModelLatency"}


def test_a_broken_model_rolls_back_and_the_previous_one_keeps_serving(app: Twin) -> None:
    register(app, 1, answer="v1")
    deployments(app)
    register(app, 2, exit=3)
    runs = deployments(app)
    assert runs[-1].status is ExecutionStatus.SUCCEEDED, runs[-1].cause
    assert predict(app).startswith("v1:")
    latest = records(app)[0]
    assert latest.outcome is DeploymentOutcome.ROLLED_BACK
    assert latest.reason
    note = app.notifications()[-1]
    assert note.attributes["outcome"] == "deployment_rolled_back"


def test_a_rejected_package_deploys_nothing(app: Twin) -> None:
    register(app, 1, approval="Rejected", answer="v1")
    assert deployments(app) == []
    assert app.client("sagemaker").list_endpoints()["Endpoints"] == []


def test_a_lost_endpoint_event_is_closed_by_the_reconciler(tmp_path: Path) -> None:
    factory = engine(tmp_path, lose={ENDPOINT_EVENT})
    with Twin.start(ROOT, sagemaker=factory, clock=ManualClock(T0), work_dir=tmp_path / "twin") as twin:
        twin.put_object(f"profiles/{MODEL}.yaml", PROFILE + DEPLOYMENT)
        register(twin, 1, answer="v1")
        in_service(twin)
        twin.wait_idle()
        assert [e.status for e in twin.executions()] == [ExecutionStatus.RUNNING]
        twin.advance(15 * 60)  # the reconciler's sweep
        (run,) = deployments(twin)
        assert run.status is ExecutionStatus.SUCCEEDED, run.cause
        assert predict(twin).startswith("v1:")


def test_a_failed_endpoint_is_replaced_by_the_next_approved_package(app: Twin) -> None:
    register(app, 1, exit=3)
    (first,) = deployments(app)
    assert first.status is ExecutionStatus.SUCCEEDED, first.cause
    sm = app.client("sagemaker")
    assert sm.describe_endpoint(EndpointName=ENDPOINT)["EndpointStatus"] == "Failed"
    assert app.notifications()[-1].attributes["outcome"] == "deployment_failed"

    register(app, 2, answer="v2")
    runs = deployments(app)
    assert [r.status for r in runs] == [ExecutionStatus.SUCCEEDED, ExecutionStatus.SUCCEEDED], runs[-1].cause
    assert sm.describe_endpoint(EndpointName=ENDPOINT)["EndpointStatus"] == "InService"
    assert predict(app).startswith("v2:")
    replacing = [i for i in app.invocations() if i.error_type == "EndpointReplacingError"]
    assert replacing, "the Deploy task deleted the Failed endpoint and was retried"
    assert [r.outcome for r in records(app)] == [DeploymentOutcome.DEPLOYED, DeploymentOutcome.FAILED]
    note = next(n for n in reversed(app.notifications()) if n.attributes["outcome"] == "deployment_deployed")
    assert "exited with code 3" in note.json()["replacedFailedEndpoint"]
