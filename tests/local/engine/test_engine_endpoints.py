"""Models, endpoint configurations and endpoints served by the engine, through boto3 as on SageMaker.

The serving processes are ``scripts/serve.py``, a stdlib stand-in container that behaves as the model's
``model.json`` says (answer, ping status, exit at start, error status, die after N calls). The clock is a
ManualClock, so baking periods end when a test advances it; a process's start-up runs in real time.
"""

from __future__ import annotations

import contextlib
import json
import os
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from moto import mock_aws
from stand_in_model import model_archive

from amtflow.local import sagemaker
from amtflow.local.engine import Engine, ManualClock
from amtflow.local.engine._rollout import traffic_steps

SERVE = Path(__file__).parent / "scripts" / "serve.py"
IMAGE = "123456789012.dkr.ecr.us-east-1.amazonaws.com/echo:1"
IMAGE_MAP = {"echo": f"{sys.executable} {SERVE}"}
ROLE = "arn:aws:iam::123456789012:role/SageMakerRole"
ARN = "arn:aws:sagemaker:us-east-1:123456789012"


@dataclass
class Hosting:
    engine: Engine
    sm: Any
    runtime: Any
    cloudwatch: Any
    clock: ManualClock
    events: list[dict[str, Any]]
    tmp: Path

    def model(self, name: str, **behaviour: Any) -> str:
        """A model whose model.tar.gz holds ``model.json`` = ``behaviour``."""
        archive = self.tmp / f"{name}.tar.gz"
        archive.write_bytes(model_archive(**behaviour))
        self.sm.create_model(
            ModelName=name,
            ExecutionRoleArn=ROLE,
            PrimaryContainer={"Image": IMAGE, "ModelDataUrl": archive.as_uri()},
        )
        return name

    def config(self, name: str, *models: str) -> str:
        self.sm.create_endpoint_config(
            EndpointConfigName=name,
            ProductionVariants=[
                {
                    "VariantName": "AllTraffic" if len(models) == 1 else f"v{i}",
                    "ModelName": model,
                    "InstanceType": "ml.m5.large",
                    "InitialInstanceCount": 1,
                    "InitialVariantWeight": 1.0,
                }
                for i, model in enumerate(models)
            ],
        )
        return name

    def endpoint(self, name: str, answer: str = "v1", **behaviour: Any) -> dict[str, Any]:
        self.model(f"{name}-m", answer=answer, **behaviour)
        self.config(f"{name}-c", f"{name}-m")
        self.sm.create_endpoint(EndpointName=name, EndpointConfigName=f"{name}-c")
        return self.settled(name)

    def settled(self, name: str, timeout: float = 20) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while True:
            d = self.sm.describe_endpoint(EndpointName=name)
            if d["EndpointStatus"] not in ("Creating", "Updating") or time.monotonic() > deadline:
                return dict(d)
            time.sleep(0.05)

    def baking(self, name: str, share: float = 0.5, timeout: float = 20) -> dict[str, Any]:
        """The endpoint once its new fleet bakes with ``share`` of the traffic."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            d = self.sm.describe_endpoint(EndpointName=name)
            variants = d.get("PendingDeploymentSummary", {}).get("ProductionVariants", [])
            if (
                variants
                and variants[0]["VariantStatus"][0]["Status"] == "Baking"
                and variants[0]["CurrentWeight"] == share
            ):
                return dict(d)
            time.sleep(0.05)
        raise AssertionError(f"{name} never started baking: {d}")

    def invoke(self, name: str, body: str = "1,2") -> str:
        r = self.runtime.invoke_endpoint(EndpointName=name, Body=body.encode(), ContentType="text/csv")
        return str(r["Body"].read().decode()).split(":", 1)[0]

    def statuses(self, name: str) -> list[str]:
        self.engine.events.flush()
        return [
            e["detail"]["EndpointStatus"]
            for e in self.events
            if e["detail-type"] == "SageMaker Endpoint State Change" and e["detail"]["EndpointName"] == name
        ]


@pytest.fixture
def hosting(tmp_path: Path) -> Iterator[Hosting]:
    events: list[dict[str, Any]] = []
    with mock_aws(), _engine_on(tmp_path, events, cloudwatch=True) as h:
        yield h


def _error(call: Any, **kwargs: Any) -> dict[str, str]:
    with pytest.raises(ClientError) as info:
        call(**kwargs)
    return dict(info.value.response["Error"])


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def _pids(engine: Engine, name: str) -> list[int]:
    endpoint = engine.hosting.endpoints[name.lower()]
    assert endpoint.fleet is not None
    return [p._proc.pid for p in endpoint.fleet.processes.values() if p._proc is not None]


# ---------------------------------------------------------------- create, describe, invoke, events
def test_an_endpoint_serves_its_model_and_reports_each_status_change(hosting: Hosting) -> None:
    d = hosting.endpoint("churn", answer="v1")
    assert d["EndpointStatus"] == "InService"
    assert d["EndpointArn"] == f"{ARN}:endpoint/churn"
    assert d["EndpointConfigName"] == "churn-c"
    assert d["ProductionVariants"][0]["VariantName"] == "AllTraffic"
    assert d["ProductionVariants"][0]["DeployedImages"][0]["SpecifiedImage"] == IMAGE
    r = hosting.runtime.invoke_endpoint(EndpointName="churn", Body=b"1,2,3", ContentType="text/csv")
    assert r["Body"].read() == b"v1:text/csv:1,2,3"
    assert r["ContentType"] == "text/csv"
    assert r["InvokedProductionVariant"] == "AllTraffic"

    assert hosting.statuses("churn") == ["CREATING", "IN_SERVICE"]
    assert hosting.events[0]["detail"]["ProductionVariants"][0]["VariantName"] == "AllTraffic"
    event = hosting.events[-1]
    assert event["source"] == "aws.sagemaker"
    assert event["resources"] == [f"{ARN}:endpoint/churn"]
    detail = event["detail"]
    assert detail["EndpointConfigName"] == "churn-c"
    assert detail["ProductionVariants"] == [
        {"VariantName": "AllTraffic", "DesiredWeight": 1.0, "DesiredInstanceCount": 1.0}
    ]
    assert detail["CreationTime"] == hosting.clock.now().timestamp() * 1000
    assert event["time"] == "2026-01-01T00:00:00Z"  # the engine's clock

    model = hosting.sm.describe_model(ModelName="churn-m")
    assert model["ModelArn"] == f"{ARN}:model/churn-m"
    assert model["PrimaryContainer"]["Image"] == IMAGE
    config = hosting.sm.describe_endpoint_config(EndpointConfigName="churn-c")
    assert config["ProductionVariants"][0]["ModelName"] == "churn-m"
    assert [m["ModelName"] for m in hosting.sm.list_models()["Models"]] == ["churn-m"]
    assert [c["EndpointConfigName"] for c in hosting.sm.list_endpoint_configs()["EndpointConfigs"]] == [
        "churn-c"
    ]
    listed = hosting.sm.list_endpoints(StatusEquals="InService")["Endpoints"]
    assert [(e["EndpointName"], e["EndpointStatus"]) for e in listed] == [("churn", "InService")]


# ---------------------------------------------------------------- refusals
def test_bad_names_duplicates_and_missing_resources_are_refused_as_sagemaker_refuses_them(
    hosting: Hosting,
) -> None:
    bad = _error(
        hosting.sm.create_model,
        ModelName="bad_name",
        ExecutionRoleArn=ROLE,
        PrimaryContainer={"Image": IMAGE},
    )
    assert bad["Code"] == "ValidationException"
    assert "Value 'bad_name' at 'ModelName' failed to satisfy constraint" in bad["Message"]
    long = _error(hosting.sm.create_endpoint, EndpointName="e" * 64, EndpointConfigName="c")
    assert "at 'EndpointName'" in long["Message"]

    unmapped = _error(
        hosting.sm.create_model,
        ModelName="m",
        ExecutionRoleArn=ROLE,
        PrimaryContainer={"Image": "123456789012.dkr.ecr.us-east-1.amazonaws.com/nope:1"},
    )
    assert "PrimaryContainer.Image" in unmapped["Message"]
    assert "image map" in unmapped["Message"]

    missing_model = _error(
        hosting.sm.create_endpoint_config,
        EndpointConfigName="c",
        ProductionVariants=[{"VariantName": "AllTraffic", "ModelName": "ghost", "InitialInstanceCount": 1}],
    )
    assert missing_model == {
        "Code": "ValidationException",
        "Message": f'Could not find model "{ARN}:model/ghost".',
    }
    missing_config = _error(hosting.sm.create_endpoint, EndpointName="e", EndpointConfigName="ghost")
    assert (
        missing_config["Message"] == f'Could not find endpoint configuration "{ARN}:endpoint-config/ghost".'
    )
    missing_endpoint = _error(hosting.sm.describe_endpoint, EndpointName="Ghost")
    assert missing_endpoint["Message"] == f'Could not find endpoint "{ARN}:endpoint/ghost".'
    assert _error(hosting.sm.delete_model, ModelName="ghost")["Code"] == "ValidationException"

    hosting.model("m")
    duplicate = _error(
        hosting.sm.create_model, ModelName="m", ExecutionRoleArn=ROLE, PrimaryContainer={"Image": IMAGE}
    )
    assert duplicate["Message"] == f'Cannot create already existing model "{ARN}:model/m".'
    hosting.config("c", "m")
    assert (
        "already existing endpoint configuration"
        in _error(
            hosting.sm.create_endpoint_config,
            EndpointConfigName="C",
            ProductionVariants=[{"VariantName": "AllTraffic", "ModelName": "m", "InitialInstanceCount": 1}],
        )["Message"]
    )
    # a model deleted after its configuration was made cannot be deployed
    hosting.sm.delete_model(ModelName="m")
    gone = _error(hosting.sm.create_endpoint, EndpointName="e", EndpointConfigName="c")
    assert gone["Message"] == f'Could not find model "{ARN}:model/m".'
    assert hosting.sm.list_endpoints()["Endpoints"] == []


def test_invoking_an_unknown_endpoint_or_with_another_case_is_a_validation_error(hosting: Hosting) -> None:
    hosting.endpoint("Churn")
    for name in ("ghost", "churn"):
        error = _error(hosting.runtime.invoke_endpoint, EndpointName=name, Body=b"1", ContentType="text/csv")
        assert error == {
            "Code": "ValidationError",
            "Message": f"Endpoint {name} of account 123456789012 not found.",
        }
    # the name is case-insensitive for everything else (the ARN holds it lower-cased)
    assert hosting.sm.describe_endpoint(EndpointName="CHURN")["EndpointName"] == "Churn"


# ---------------------------------------------------------------- failures of the serving process
def test_an_endpoint_whose_ping_never_answers_200_fails_with_a_reason(hosting: Hosting) -> None:
    d = hosting.endpoint("sick", ping=500)
    assert d["EndpointStatus"] == "Failed"
    assert "did not pass the ping health check" in d["FailureReason"]
    assert hosting.statuses("sick") == ["CREATING", "FAILED"]
    assert hosting.events[-1]["detail"]["FailureReason"] == d["FailureReason"]
    # a Failed endpoint can only be deleted
    hosting.config("other-c", hosting.model("other-m"))
    error = _error(hosting.sm.update_endpoint, EndpointName="sick", EndpointConfigName="other-c")
    assert "DeleteEndpoint is the only operation" in error["Message"]
    hosting.sm.delete_endpoint(EndpointName="sick")


def test_an_endpoint_whose_process_exits_at_start_fails_with_its_exit_code_and_log(hosting: Hosting) -> None:
    d = hosting.endpoint("dead", exit=2)
    assert d["EndpointStatus"] == "Failed"
    assert "exited with code 2" in d["FailureReason"]
    assert "model.json asks this container to exit" in d["FailureReason"]


def test_a_container_error_or_a_dead_process_answers_model_error(hosting: Hosting) -> None:
    hosting.endpoint("teapot", status=418)
    error = _error(hosting.runtime.invoke_endpoint, EndpointName="teapot", Body=b"1", ContentType="text/csv")
    assert error["Code"] == "ModelError"
    assert error["Message"].startswith('Received client error (418) from primary with message "')

    hosting.endpoint("fragile", die_after=1)
    assert hosting.invoke("fragile") == "v1"
    time.sleep(0.2)
    error = _error(hosting.runtime.invoke_endpoint, EndpointName="fragile", Body=b"1", ContentType="text/csv")
    assert error["Code"] == "ModelError"


# ---------------------------------------------------------------- updates
def test_an_update_moves_all_traffic_to_the_new_configuration_and_stops_the_old_processes(
    hosting: Hosting,
) -> None:
    hosting.endpoint("churn", answer="v1")
    old = _pids(hosting.engine, "churn")
    hosting.config("churn-c2", hosting.model("churn-m2", answer="v2"))
    hosting.sm.update_endpoint(EndpointName="churn", EndpointConfigName="churn-c2")
    d = hosting.settled("churn")
    assert d["EndpointStatus"] == "InService"
    assert d["EndpointConfigName"] == "churn-c2"
    assert "FailureReason" not in d
    assert hosting.invoke("churn") == "v2"
    assert hosting.statuses("churn") == ["CREATING", "IN_SERVICE", "UPDATING", "IN_SERVICE"]
    deadline = time.monotonic() + 10
    while any(_alive(p) for p in old) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not any(_alive(p) for p in old)


def test_an_update_whose_new_process_fails_rolls_back_and_the_old_one_keeps_serving(hosting: Hosting) -> None:
    hosting.endpoint("churn", answer="v1")
    hosting.config("churn-bad", hosting.model("bad-m", exit=1))
    hosting.sm.update_endpoint(EndpointName="churn", EndpointConfigName="churn-bad")
    d = hosting.settled("churn")
    assert d["EndpointStatus"] == "InService"
    assert d["EndpointConfigName"] == "churn-c"
    assert "churn-bad failed" in d["FailureReason"]
    assert "exited with code 1" in d["FailureReason"]
    assert hosting.invoke("churn") == "v1"
    assert hosting.statuses("churn")[-2:] == ["UPDATING", "IN_SERVICE"]


def _canary(wait: int = 600, percent: int = 50, **extra: Any) -> dict[str, Any]:
    return {
        "BlueGreenUpdatePolicy": {
            "TrafficRoutingConfiguration": {
                "Type": "CANARY",
                "WaitIntervalInSeconds": wait,
                "CanarySize": {"Type": "CAPACITY_PERCENT", "Value": percent},
            },
            "TerminationWaitInSeconds": 0,
            "MaximumExecutionTimeoutInSeconds": 3600,
        },
        **extra,
    }


def test_a_canary_sends_its_share_of_calls_to_the_new_fleet_while_it_bakes_then_all(hosting: Hosting) -> None:
    hosting.endpoint("churn", answer="v1")
    hosting.config("churn-c2", hosting.model("churn-m2", answer="v2"))
    hosting.sm.update_endpoint(
        EndpointName="churn", EndpointConfigName="churn-c2", DeploymentConfig=_canary()
    )
    d = hosting.baking("churn")
    assert d["EndpointStatus"] == "Updating"
    assert d["EndpointConfigName"] == "churn-c"
    assert d["PendingDeploymentSummary"]["EndpointConfigName"] == "churn-c2"
    answers = [hosting.invoke("churn") for _ in range(10)]
    assert answers.count("v2") == 5
    assert answers.count("v1") == 5
    hosting.clock.advance(601)  # the canary's baking period ends: all traffic moves, then the final bake
    assert hosting.baking("churn", share=1.0)["EndpointStatus"] == "Updating"
    hosting.clock.advance(601)
    d = hosting.settled("churn")
    assert d["EndpointStatus"] == "InService"
    assert d["EndpointConfigName"] == "churn-c2"
    assert (
        d["LastDeploymentConfig"]["BlueGreenUpdatePolicy"]["TrafficRoutingConfiguration"]["Type"] == "CANARY"
    )
    assert {hosting.invoke("churn") for _ in range(4)} == {"v2"}


def test_an_alarm_in_alarm_state_during_the_canary_wait_rolls_the_update_back(hosting: Hosting) -> None:
    hosting.cloudwatch.put_metric_alarm(
        AlarmName="churn-5xx",
        Namespace="AWS/SageMaker",
        MetricName="Invocation5XXErrors",
        Statistic="Sum",
        Period=60,
        EvaluationPeriods=1,
        Threshold=1,
        ComparisonOperator="GreaterThanOrEqualToThreshold",
    )
    hosting.endpoint("churn", answer="v1")
    hosting.config("churn-c2", hosting.model("churn-m2", answer="v2"))
    deployment = _canary(AutoRollbackConfiguration={"Alarms": [{"AlarmName": "churn-5xx"}]})
    hosting.sm.update_endpoint(
        EndpointName="churn", EndpointConfigName="churn-c2", DeploymentConfig=deployment
    )
    hosting.baking("churn")
    hosting.cloudwatch.set_alarm_state(AlarmName="churn-5xx", StateValue="ALARM", StateReason="errors")
    d = hosting.settled("churn")
    assert d["EndpointStatus"] == "InService"
    assert d["EndpointConfigName"] == "churn-c"
    assert "churn-5xx" in d["FailureReason"]
    assert "ALARM" in d["FailureReason"]
    assert "PendingDeploymentSummary" not in d
    assert {hosting.invoke("churn") for _ in range(4)} == {"v1"}
    assert hosting.statuses("churn")[-1] == "IN_SERVICE"
    assert "churn-5xx" in hosting.events[-1]["detail"]["FailureReason"]


def test_a_new_process_that_dies_while_baking_rolls_the_update_back(hosting: Hosting) -> None:
    hosting.endpoint("churn", answer="v1")
    hosting.config("churn-c2", hosting.model("churn-m2", answer="v2", die_after=1))
    hosting.sm.update_endpoint(
        EndpointName="churn", EndpointConfigName="churn-c2", DeploymentConfig=_canary()
    )
    hosting.baking("churn")
    assert sorted(hosting.invoke("churn") for _ in range(2)) == ["v1", "v2"]  # one call reached the canary
    d = hosting.settled("churn")
    assert d["EndpointConfigName"] == "churn-c"
    assert "exited with code 3" in d["FailureReason"]


def test_update_and_delete_are_refused_while_an_update_is_in_progress(hosting: Hosting) -> None:
    hosting.endpoint("churn", answer="v1")
    hosting.config("churn-c2", hosting.model("churn-m2", answer="v2"))
    hosting.sm.update_endpoint(
        EndpointName="churn", EndpointConfigName="churn-c2", DeploymentConfig=_canary()
    )
    for call, extra in (
        (hosting.sm.delete_endpoint, {}),
        (hosting.sm.update_endpoint, {"EndpointConfigName": "churn-c2"}),
    ):
        error = _error(call, EndpointName="churn", **extra)
        assert error == {
            "Code": "ValidationException",
            "Message": f'Cannot update in-progress endpoint "{ARN}:endpoint/churn".',
        }
    hosting.baking("churn")
    hosting.clock.advance(601)
    hosting.baking("churn", share=1.0)
    hosting.clock.advance(601)
    assert hosting.settled("churn")["EndpointStatus"] == "InService"


def test_deployment_configs_that_cannot_run_are_refused_before_anything_changes(hosting: Hosting) -> None:
    hosting.endpoint("churn")
    hosting.config("churn-c2", hosting.model("churn-m2"))
    no_size = {
        "BlueGreenUpdatePolicy": {
            "TrafficRoutingConfiguration": {"Type": "LINEAR", "WaitIntervalInSeconds": 1}
        }
    }
    too_big = _canary(percent=80)
    too_short = _canary(wait=900)
    too_short["BlueGreenUpdatePolicy"]["MaximumExecutionTimeoutInSeconds"] = 600
    rolling = {
        "RollingUpdatePolicy": {
            "MaximumBatchSize": {"Type": "INSTANCE_COUNT", "Value": 1},
            "WaitIntervalInSeconds": 1,
        }
    }
    for deployment, words in (
        (no_size, "LinearStepSize is required"),
        (too_big, "between 1 and 50 percent"),
        (too_short, "MaximumExecutionTimeoutInSeconds 600"),
        (rolling, "RollingUpdatePolicy is not served"),
    ):
        error = _error(
            hosting.sm.update_endpoint,
            EndpointName="churn",
            EndpointConfigName="churn-c2",
            DeploymentConfig=deployment,
        )
        assert error["Code"] == "ValidationException"
        assert words in error["Message"]
    assert hosting.sm.describe_endpoint(EndpointName="churn")["EndpointStatus"] == "InService"


def test_traffic_moves_in_the_steps_of_its_routing() -> None:
    assert traffic_steps({"Type": "ALL_AT_ONCE"}, 1) == [1.0]
    assert traffic_steps({"Type": "CANARY", "CanarySize": {"Type": "CAPACITY_PERCENT", "Value": 10}}, 4) == [
        0.1,
        1.0,
    ]
    assert traffic_steps({"Type": "CANARY", "CanarySize": {"Type": "INSTANCE_COUNT", "Value": 1}}, 4) == [
        0.25,
        1.0,
    ]
    linear = {"Type": "LINEAR", "LinearStepSize": {"Type": "CAPACITY_PERCENT", "Value": 40}}
    assert traffic_steps(linear, 1) == [0.4, 0.8, 1.0]


# ---------------------------------------------------------------- delete and the engine's end
def test_delete_stops_the_processes_and_the_endpoint_is_gone(hosting: Hosting) -> None:
    hosting.endpoint("churn")
    pids = _pids(hosting.engine, "churn")
    hosting.sm.delete_endpoint(EndpointName="churn")
    deadline = time.monotonic() + 10
    while hosting.sm.list_endpoints()["Endpoints"] and time.monotonic() < deadline:
        time.sleep(0.05)
    assert _error(hosting.sm.describe_endpoint, EndpointName="churn")["Code"] == "ValidationException"
    assert not any(_alive(p) for p in pids)
    assert hosting.statuses("churn") == ["CREATING", "IN_SERVICE", "DELETING"]
    hosting.sm.delete_endpoint_config(EndpointConfigName="churn-c")
    hosting.sm.delete_model(ModelName="churn-m")
    assert hosting.sm.list_models()["Models"] == []


def test_leaving_the_engine_stops_every_serving_process(tmp_path: Path) -> None:
    with (
        mock_aws(),
        sagemaker(state_dir=tmp_path / "state", image_map=IMAGE_MAP, event_sink=lambda e: None) as engine,
    ):
        h = Hosting(
            engine,
            boto3.client("sagemaker", region_name="us-east-1"),
            boto3.client("sagemaker-runtime", region_name="us-east-1"),
            None,
            ManualClock(),
            [],
            tmp_path,
        )
        h.endpoint("churn")
        pids = _pids(engine, "churn")
        assert all(_alive(p) for p in pids)
    assert not any(_alive(p) for p in pids)


def test_an_update_that_outlasts_its_maximum_execution_time_rolls_back(hosting: Hosting) -> None:
    hosting.endpoint("churn", answer="v1")
    hosting.config("churn-c2", hosting.model("churn-m2", answer="v2"))
    deployment = _canary(wait=500)
    deployment["BlueGreenUpdatePolicy"]["MaximumExecutionTimeoutInSeconds"] = 600
    hosting.sm.update_endpoint(
        EndpointName="churn", EndpointConfigName="churn-c2", DeploymentConfig=deployment
    )
    hosting.baking("churn")
    hosting.clock.advance(501)
    hosting.baking("churn", share=1.0)
    hosting.clock.advance(200)  # 701 s in: past the 600 s limit during the final bake
    d = hosting.settled("churn")
    assert d["EndpointConfigName"] == "churn-c"
    assert "MaximumExecutionTimeoutInSeconds (600)" in d["FailureReason"]
    assert hosting.invoke("churn") == "v1"


def test_variants_share_the_calls_by_weight_and_a_call_may_name_its_variant(hosting: Hosting) -> None:
    hosting.sm.create_endpoint_config(
        EndpointConfigName="ab",
        ProductionVariants=[
            {"VariantName": "a", "ModelName": hosting.model("ma", answer="A"), "InitialVariantWeight": 1.0},
            {"VariantName": "b", "ModelName": hosting.model("mb", answer="B"), "InitialVariantWeight": 0.0},
        ],
    )
    hosting.sm.create_endpoint(EndpointName="ab", EndpointConfigName="ab")
    d = hosting.settled("ab")
    assert [(v["VariantName"], v["CurrentWeight"]) for v in d["ProductionVariants"]] == [
        ("a", 1.0),
        ("b", 0.0),
    ]
    assert {hosting.invoke("ab") for _ in range(5)} == {"A"}  # weight 0: no calls unless named
    r = hosting.runtime.invoke_endpoint(
        EndpointName="ab", Body=b"1", ContentType="text/csv", TargetVariant="b"
    )
    assert r["InvokedProductionVariant"] == "b"
    assert r["Body"].read().startswith(b"B:")
    error = _error(
        hosting.runtime.invoke_endpoint,
        EndpointName="ab",
        Body=b"1",
        ContentType="text/csv",
        TargetVariant="c",
    )
    assert error["Code"] == "ValidationError"
    assert "TargetVariant c" in error["Message"]


def test_tags_of_models_configurations_and_endpoints(hosting: Hosting) -> None:
    hosting.sm.create_model(
        ModelName="m",
        ExecutionRoleArn=ROLE,
        PrimaryContainer={"Image": IMAGE},
        Tags=[{"Key": "team", "Value": "a"}],
    )
    model_arn = f"{ARN}:model/m"
    assert hosting.sm.list_tags(ResourceArn=model_arn)["Tags"] == [{"Key": "team", "Value": "a"}]
    hosting.sm.add_tags(ResourceArn=model_arn, Tags=[{"Key": "stage", "Value": "prod"}])
    hosting.sm.delete_tags(ResourceArn=model_arn, TagKeys=["team"])
    assert hosting.sm.list_tags(ResourceArn=model_arn)["Tags"] == [{"Key": "stage", "Value": "prod"}]
    hosting.endpoint("churn")
    hosting.sm.add_tags(ResourceArn=f"{ARN}:endpoint/churn", Tags=[{"Key": "model", "Value": "churn"}])
    assert hosting.sm.list_tags(ResourceArn=f"{ARN}:endpoint/churn")["Tags"] == [
        {"Key": "model", "Value": "churn"}
    ]
    missing = _error(hosting.sm.list_tags, ResourceArn=f"{ARN}:endpoint-config/ghost")
    assert missing["Code"] == "ResourceNotFound"


@pytest.mark.parametrize("url", ["file:///nonexistent/model.tar.gz", "s3://no-such-bucket/model.tar.gz"])
def test_a_model_whose_archive_cannot_be_read_is_refused_at_creation(hosting: Hosting, url: str) -> None:
    error = _error(
        hosting.sm.create_model,
        ModelName="m",
        ExecutionRoleArn=ROLE,
        PrimaryContainer={"Image": IMAGE, "ModelDataUrl": url},
    )
    assert error["Code"] == "ValidationException"
    assert error["Message"].startswith(f"Could not access model data at {url}")
    assert hosting.sm.list_models()["Models"] == []


def test_a_linear_update_moves_traffic_step_by_step_on_the_engines_clock(hosting: Hosting) -> None:
    hosting.endpoint("churn", answer="v1")
    old = _pids(hosting.engine, "churn")
    hosting.config("churn-c2", hosting.model("churn-m2", answer="v2"))
    deployment = {
        "BlueGreenUpdatePolicy": {
            "TrafficRoutingConfiguration": {
                "Type": "LINEAR",
                "WaitIntervalInSeconds": 60,
                "LinearStepSize": {"Type": "CAPACITY_PERCENT", "Value": 40},
            },
            "TerminationWaitInSeconds": 120,
        }
    }
    hosting.sm.update_endpoint(
        EndpointName="churn", EndpointConfigName="churn-c2", DeploymentConfig=deployment
    )
    for share in (0.4, 0.8, 1.0):
        d = hosting.baking("churn", share=share)
        assert d["ProductionVariants"][0]["CurrentWeight"] == pytest.approx(1.0 - share)
        hosting.clock.advance(61)
    d = hosting.settled("churn")
    assert (d["EndpointStatus"], d["EndpointConfigName"]) == ("InService", "churn-c2")
    # the old fleet's process stops TerminationWaitInSeconds later, on the engine's clock
    time.sleep(0.3)
    assert all(_alive(p) for p in old)
    hosting.clock.advance(121)
    deadline = time.monotonic() + 10
    while any(_alive(p) for p in old) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not any(_alive(p) for p in old)


# ---------------------------------------------------------------- a restart of the engine
@contextlib.contextmanager
def _engine_on(
    tmp_path: Path, events: list[dict[str, Any]], *, cloudwatch: bool = False
) -> Iterator[Hosting]:
    """An engine on ``tmp_path/state`` (inside the caller's mock_aws), with a CloudWatch client for its
    metrics when ``cloudwatch``; leaving it stops the engine."""
    clock = ManualClock()
    metrics = boto3.client("cloudwatch", region_name="us-east-1") if cloudwatch else None
    with sagemaker(
        state_dir=tmp_path / "state",
        image_map=IMAGE_MAP,
        event_sink=events.append,
        clock=clock,
        cloudwatch_client=metrics,
        serving_startup_seconds=3.0,
    ) as engine:
        yield Hosting(
            engine,
            boto3.client("sagemaker", region_name="us-east-1"),
            boto3.client("sagemaker-runtime", region_name="us-east-1"),
            metrics,
            clock,
            events,
            tmp_path,
        )


def _served(h: Hosting, name: str, timeout: float = 20) -> str:
    """The endpoint's answer once its serving processes answer again (ServiceUnavailable until then)."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            return h.invoke(name)
        except ClientError as e:
            if e.response["Error"]["Code"] != "ServiceUnavailable" or time.monotonic() > deadline:
                raise
        time.sleep(0.05)


def _ended(h: Hosting, name: str, timeout: float = 20) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        d = h.sm.describe_endpoint(EndpointName=name)
        if d["EndpointStatus"] == "Failed" or time.monotonic() > deadline:
            return dict(d)
        time.sleep(0.05)


def test_an_endpoint_in_service_is_served_again_by_an_engine_started_on_the_same_state(
    tmp_path: Path,
) -> None:
    events: list[dict[str, Any]] = []
    with mock_aws():
        with _engine_on(tmp_path, events) as h:
            before = h.endpoint("churn", answer="v1")
            h.sm.add_tags(ResourceArn=before["EndpointArn"], Tags=[{"Key": "team", "Value": "ml"}])
            pids = _pids(h.engine, "churn")
        assert not any(_alive(p) for p in pids)

        with _engine_on(tmp_path, events) as h:
            d = h.sm.describe_endpoint(EndpointName="churn")
            assert d["EndpointStatus"] == "InService"
            assert (d["EndpointArn"], d["EndpointConfigName"]) == (before["EndpointArn"], "churn-c")
            assert d["CreationTime"] == before["CreationTime"]
            assert [e["EndpointName"] for e in h.sm.list_endpoints()["Endpoints"]] == ["churn"]
            assert h.sm.list_tags(ResourceArn=d["EndpointArn"])["Tags"] == [{"Key": "team", "Value": "ml"}]
            config = h.sm.describe_endpoint_config(EndpointConfigName="churn-c")
            assert config["ProductionVariants"][0]["ModelName"] == "churn-m"
            assert h.sm.describe_model(ModelName="churn-m")["PrimaryContainer"]["Image"] == IMAGE
            assert _served(h, "churn") == "v1"
            assert "FailureReason" not in h.sm.describe_endpoint(EndpointName="churn")


def test_an_endpoint_outlives_its_deleted_model_and_configuration_across_a_restart(tmp_path: Path) -> None:
    """As on SageMaker: DeleteModel and DeleteEndpointConfig do not take a running endpoint down."""
    events: list[dict[str, Any]] = []
    with mock_aws():
        with _engine_on(tmp_path, events) as h:
            h.endpoint("churn", answer="v1")
            h.sm.delete_endpoint_config(EndpointConfigName="churn-c")
            h.sm.delete_model(ModelName="churn-m")
        with _engine_on(tmp_path, events) as h:
            assert _served(h, "churn") == "v1"
            assert h.sm.list_models()["Models"] == []
            assert _error(h.sm.describe_model, ModelName="churn-m")["Code"] == "ValidationException"


def test_an_update_interrupted_by_a_restart_leaves_the_endpoint_on_its_configuration_in_service(
    tmp_path: Path,
) -> None:
    events: list[dict[str, Any]] = []
    with mock_aws():
        with _engine_on(tmp_path, events) as h:
            h.endpoint("churn", answer="v1")
            h.config("churn-c2", h.model("churn-m2", answer="v2"))
            h.sm.update_endpoint(
                EndpointName="churn", EndpointConfigName="churn-c2", DeploymentConfig=_canary(wait=500)
            )
            h.baking("churn")
        with _engine_on(tmp_path, events) as h:
            assert _served(h, "churn") == "v1"
            d = h.sm.describe_endpoint(EndpointName="churn")
            assert (d["EndpointStatus"], d["EndpointConfigName"]) == ("InService", "churn-c")
            assert "PendingDeploymentSummary" not in d
            assert "update to endpoint configuration churn-c2 was interrupted" in d["FailureReason"]
            h.sm.update_endpoint(EndpointName="churn", EndpointConfigName="churn-c2")
            assert h.settled("churn")["EndpointConfigName"] == "churn-c2"
            assert h.invoke("churn") == "v2"


def test_a_deleted_endpoint_stays_deleted_after_a_restart(tmp_path: Path) -> None:
    events: list[dict[str, Any]] = []
    with mock_aws():
        with _engine_on(tmp_path, events) as h:
            h.endpoint("churn")
            h.sm.delete_endpoint(EndpointName="churn")
            deadline = time.monotonic() + 20
            while h.sm.list_endpoints()["Endpoints"] and time.monotonic() < deadline:
                time.sleep(0.05)
            h.sm.delete_endpoint_config(EndpointConfigName="churn-c")
            h.sm.delete_model(ModelName="churn-m")
        with _engine_on(tmp_path, events) as h:
            assert _error(h.sm.describe_endpoint, EndpointName="churn")["Code"] == "ValidationException"
            assert h.sm.list_endpoints()["Endpoints"] == []
            assert h.sm.list_endpoint_configs()["EndpointConfigs"] == []
            assert h.sm.list_models()["Models"] == []


@pytest.mark.parametrize(
    ("damage", "said"),
    [
        (lambda archive: archive.unlink(), "No such file"),
        (lambda archive: archive.write_bytes(b"not a tar archive"), "Failed to extract model data"),
    ],
    ids=["model-data-gone", "model-data-corrupted"],
)
def test_an_endpoint_whose_model_data_is_unusable_after_a_restart_is_failed_with_the_reason(
    tmp_path: Path, damage: Any, said: str
) -> None:
    events: list[dict[str, Any]] = []
    with mock_aws():
        with _engine_on(tmp_path, events) as h:
            h.endpoint("churn")
        damage(tmp_path / "churn-m.tar.gz")
        with _engine_on(tmp_path, events) as h:
            d = _ended(h, "churn")
            assert d["EndpointStatus"] == "Failed"
            assert "after the local engine restarted" in d["FailureReason"]
            assert said in d["FailureReason"]
            assert "churn-m.tar.gz" in d["FailureReason"]
            deadline = time.monotonic() + 5  # the event follows the status change
            while h.statuses("churn")[-1] != "FAILED" and time.monotonic() < deadline:
                time.sleep(0.05)
            assert h.statuses("churn")[-1] == "FAILED"
            assert _error(h.runtime.invoke_endpoint, EndpointName="churn", Body=b"1")["Code"] == (
                "ValidationError"
            )
        with _engine_on(tmp_path, events) as h:  # still Failed, still listed: never silently dropped
            assert h.sm.describe_endpoint(EndpointName="churn")["EndpointStatus"] == "Failed"
            h.sm.delete_endpoint(EndpointName="churn")


def test_a_hosting_document_the_engine_cannot_read_is_skipped_with_a_warning(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    events: list[dict[str, Any]] = []
    with mock_aws():
        with _engine_on(tmp_path, events) as h:
            h.endpoint("churn")
        (tmp_path / "state" / "endpoints" / "broken.json").write_text(
            json.dumps({"EndpointName": "broken", "EndpointStatus": "Sleeping"}), encoding="utf-8"
        )
        (tmp_path / "state" / "models" / "torn.json").write_text("{", encoding="utf-8")
        with caplog.at_level("WARNING"), _engine_on(tmp_path, events) as h:
            assert [e["EndpointName"] for e in h.sm.list_endpoints()["Endpoints"]] == ["churn"]
            assert [m["ModelName"] for m in h.sm.list_models()["Models"]] == ["churn-m"]
            assert _served(h, "churn") == "v1"
    assert "endpoints broken: not a document this engine can read; skipped" in caplog.text
