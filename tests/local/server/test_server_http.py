"""The service's HTTP answers, in-process: errors on the wire, refusals, and what a boto3 client sees."""

from __future__ import annotations

import http.client
import io
import json
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import boto3
import pytest
from botocore.exceptions import ClientError
from stand_in_model import model_archive

from amtflow.errors import ConfigurationError
from amtflow.local.engine import Engine
from amtflow.local.server import LocalService, is_loopback, serve
from amtflow.local.server._wire import MAX_BODY_BYTES, region_of

from .support import tuning_request


@pytest.fixture
def local(tmp_path: Path) -> Iterator[LocalService]:
    engine = Engine(tmp_path / "state", {"quad": "true"}, event_sink=lambda entry: None)
    service = LocalService(engine)
    service.start()
    try:
        yield service
    finally:
        service.close()
        engine.shutdown()


def post(
    service: LocalService, body: bytes, headers: dict[str, str], path: str = "/", method: str = "POST"
) -> tuple[int, dict[str, str], dict[str, Any]]:
    url = urlparse(service.url)
    connection = http.client.HTTPConnection(url.hostname or "", url.port, timeout=10)
    connection.request(method, path, body=body, headers=headers)
    response = connection.getresponse()
    answer = json.loads(response.read() or b"{}")
    connection.close()
    return response.status, {k.lower(): v for k, v in response.getheaders()}, answer


def target(operation: str) -> dict[str, str]:
    return {"X-Amz-Target": f"SageMaker.{operation}", "Content-Type": "application/x-amz-json-1.1"}


def client(service: LocalService) -> Any:
    return boto3.client("sagemaker", endpoint_url=service.url, region_name="us-east-1")


def test_answers_json_with_epoch_timestamps(local: LocalService) -> None:
    status, headers, answer = post(local, b"{}", target("ListHyperParameterTuningJobs"))
    assert (status, answer) == (200, {"HyperParameterTuningJobSummaries": []})
    assert headers["content-type"] == "application/x-amz-json-1.1"
    assert headers["x-amzn-requestid"]


def test_engine_refusals_carry_the_service_error_code(local: LocalService) -> None:
    body = json.dumps({"HyperParameterTuningJobName": "nope"}).encode()
    status, headers, answer = post(local, body, target("DescribeHyperParameterTuningJob"))
    assert status == 400
    assert headers["x-amzn-errortype"] == answer["__type"] == "ResourceNotFound"
    assert "nope" in answer["message"]
    with pytest.raises(ClientError) as caught:
        client(local).describe_hyper_parameter_tuning_job(HyperParameterTuningJobName="nope")
    assert caught.value.response["Error"]["Code"] == "ResourceNotFound"


@pytest.mark.parametrize(
    ("headers", "code"),
    [
        ({"Content-Type": "application/x-amz-json-1.1"}, "MissingAction"),
        (target("CreateTransformJob"), "UnknownOperationException"),
        ({"X-Amz-Target": "AmazonS3.ListBuckets"}, "UnknownOperationException"),
    ],
)
def test_operations_not_served_are_named_and_never_forwarded(
    local: LocalService, headers: dict[str, str], code: str
) -> None:
    status, _, answer = post(local, b"{}", headers)
    assert status == 400
    assert answer["__type"] == code
    if "X-Amz-Target" in headers:
        assert f"{headers['X-Amz-Target']} is not served" in answer["message"]


def test_the_sdk_sees_unserved_operations_as_client_errors(local: LocalService) -> None:
    with pytest.raises(ClientError) as caught:
        client(local).list_transform_jobs()
    assert caught.value.response["Error"]["Code"] == "UnknownOperationException"


@pytest.mark.parametrize(
    ("body", "code", "fragment"),
    [
        (b"{not json", "SerializationException", "not JSON"),
        (b"[1, 2]", "SerializationException", "JSON object"),
        (b"{}", "ValidationException", 'Missing required parameter in input: "HyperParameterTuningJobName"'),
        (
            b'{"HyperParameterTuningJobName": "a", "Bogus": 1}',
            "ValidationException",
            'Unknown parameter in input: "Bogus"',
        ),
    ],
)
def test_malformed_requests_are_refused_with_the_field(
    local: LocalService, body: bytes, code: str, fragment: str
) -> None:
    status, _, answer = post(local, body, target("DescribeHyperParameterTuningJob"))
    assert (status, answer["__type"]) == (400, code)
    assert fragment in answer["message"]


def test_s3_locations_are_refused_before_a_job_exists(local: LocalService, tmp_path: Path) -> None:
    request = tuning_request("s3-job", tmp_path / "data", tmp_path / "out")
    request["TrainingJobDefinition"]["InputDataConfig"][0]["DataSource"]["S3DataSource"]["S3Uri"] = (
        "s3://bucket/train/"
    )
    sm = client(local)
    with pytest.raises(ClientError) as caught:
        sm.create_hyper_parameter_tuning_job(**request)
    error = caught.value.response["Error"]
    assert error["Code"] == "ValidationException"
    assert "TrainingJobDefinition.InputDataConfig[0].DataSource.S3DataSource.S3Uri" in error["Message"]
    assert "file://" in error["Message"]
    assert sm.list_hyper_parameter_tuning_jobs()["HyperParameterTuningJobSummaries"] == []


def test_requests_addressed_to_another_host_are_refused(local: LocalService) -> None:
    headers = {**target("ListHyperParameterTuningJobs"), "Host": "attacker.example:80"}
    status, _, answer = post(local, b"{}", headers)
    assert (status, answer["__type"]) == (403, "AccessDeniedException")
    headers["Host"] = "localhost:1234"
    assert post(local, b"{}", headers)[0] == 200


def test_other_methods_and_paths_are_refused(local: LocalService) -> None:
    status, headers, answer = post(local, b"", {}, method="GET")
    assert (status, answer["__type"]) == (405, "UnknownOperationException")
    assert "access-control-allow-origin" not in headers
    status, _, _ = post(local, b"{}", target("ListHyperParameterTuningJobs"), path="/other")
    assert status == 404


def test_oversized_bodies_are_refused_unread(local: LocalService) -> None:
    url = urlparse(local.url)
    connection = http.client.HTTPConnection(url.hostname or "", url.port, timeout=10)
    connection.putrequest("POST", "/")
    for key, value in target("CreateHyperParameterTuningJob").items():
        connection.putheader(key, value)
    connection.putheader("Content-Length", str(MAX_BODY_BYTES + 1))
    connection.endheaders()
    response = connection.getresponse()
    assert response.status == 413
    assert json.loads(response.read())["__type"] == "SerializationException"
    connection.close()


def test_the_region_comes_from_the_signature() -> None:
    signed = (
        "AWS4-HMAC-SHA256 Credential=AKID/20261207/eu-west-1/sagemaker/aws4_request, "
        "SignedHeaders=host, Signature=abc"
    )
    assert region_of(signed) == "eu-west-1"
    assert region_of(None) == "us-east-1"


@pytest.mark.parametrize(
    ("host", "loopback"),
    [
        ("127.0.0.1", True),
        ("127.1.2.3", True),
        ("::1", True),
        ("[::1]", True),
        ("localhost", True),
        ("0.0.0.0", False),
        ("192.168.1.10", False),
        ("example.com", False),
    ],
)
def test_loopback_hosts(host: str, loopback: bool) -> None:
    assert is_loopback(host) is loopback


def test_a_non_loopback_host_needs_allow_remote(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match="--allow-remote"):
        serve(tmp_path / "state", host="0.0.0.0")
    assert not (tmp_path / "state").exists()  # refused before anything was created


def test_allow_remote_warns_and_serves(tmp_path: Path) -> None:
    out, err, stop = io.StringIO(), io.StringIO(), threading.Event()
    stop.set()  # serve, then stop at once
    assert serve(tmp_path / "state", host="0.0.0.0", allow_remote=True, out=out, err=err, stop=stop) == 0
    assert "WARNING: listening on 0.0.0.0" in err.getvalue()
    assert out.getvalue().startswith("amtflow local serve: http://0.0.0.0:")
    assert out.getvalue().rstrip().endswith("amtflow local serve: stopped")


def test_one_service_per_state_directory(tmp_path: Path) -> None:
    stop, out = threading.Event(), io.StringIO()
    first = threading.Thread(target=serve, args=(tmp_path / "state",), kwargs={"out": out, "stop": stop})
    first.start()
    try:
        for _ in range(200):
            if "http://" in out.getvalue():
                break
            threading.Event().wait(0.05)
        with pytest.raises(ConfigurationError, match="another amtflow local serve"):
            serve(tmp_path / "state", out=io.StringIO(), stop=threading.Event())
    finally:
        stop.set()
        first.join(30)
    again = threading.Event()
    again.set()
    assert serve(tmp_path / "state", out=io.StringIO(), stop=again) == 0  # free once the first ended


def test_a_port_in_use_is_a_clear_error(local: LocalService, tmp_path: Path) -> None:
    port = urlparse(local.url).port
    with pytest.raises(ConfigurationError, match=f"--port {port}: cannot listen there"):
        serve(tmp_path / "other", port=int(port or 0), out=io.StringIO(), stop=threading.Event())


def test_timestamps_may_be_epoch_numbers_or_iso_text(local: LocalService, tmp_path: Path) -> None:
    (tmp_path / "data" / "train").mkdir(parents=True)
    client(local).create_hyper_parameter_tuning_job(
        **tuning_request("t", tmp_path / "data", tmp_path / "out")
    )
    for after, count in ((1.0, 1), ("1970-01-01T00:00:01Z", 1), ("2999-01-01T00:00:00Z", 0)):
        body = json.dumps({"CreationTimeAfter": after}).encode()
        status, _, answer = post(local, body, target("ListHyperParameterTuningJobs"))
        assert status == 200, answer
        assert len(answer["HyperParameterTuningJobSummaries"]) == count


def test_the_command_line_refuses_a_remote_host(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    from amtflow.local.cli import main

    assert main(["local", "serve", "--host", "0.0.0.0", "--state-dir", str(tmp_path / "s")]) == 2
    assert "--host 0.0.0.0: not a loopback address" in capsys.readouterr().err


@pytest.mark.parametrize("port", [-1, 65536])
def test_a_port_out_of_range_is_a_clear_error(tmp_path: Path, port: int) -> None:
    with pytest.raises(ConfigurationError, match=f"--port {port}: give a port from 1 to 65535"):
        serve(tmp_path / "state", port=port, out=io.StringIO(), stop=threading.Event())


SERVE_SCRIPT = Path(__file__).parents[1] / "engine" / "scripts" / "serve.py"


def _model_archive(folder: Path, behaviour: dict[str, Any]) -> str:
    archive = folder / "model.tar.gz"
    archive.write_bytes(model_archive(**behaviour))
    return archive.as_uri()


def test_endpoints_are_created_and_invoked_over_the_wire(tmp_path: Path) -> None:
    import sys
    import time

    engine = Engine(
        tmp_path / "state", {"echo": f"{sys.executable} {SERVE_SCRIPT}"}, event_sink=lambda entry: None
    )
    service = LocalService(engine)
    service.start()
    try:
        sm = client(service)
        runtime = boto3.client("sagemaker-runtime", endpoint_url=service.url, region_name="eu-west-1")
        image = "123456789012.dkr.ecr.eu-west-1.amazonaws.com/echo:1"
        with pytest.raises(ClientError) as caught:
            sm.create_model(
                ModelName="m", PrimaryContainer={"Image": image, "ModelDataUrl": "s3://b/model.tar.gz"}
            )
        assert "PrimaryContainer.ModelDataUrl" in caught.value.response["Error"]["Message"]
        for name, behaviour in (("m", {"answer": "v1"}), ("bad", {"status": 500})):
            folder = tmp_path / name
            folder.mkdir()
            sm.create_model(
                ModelName=name,
                PrimaryContainer={"Image": image, "ModelDataUrl": _model_archive(folder, behaviour)},
            )
            sm.create_endpoint_config(
                EndpointConfigName=name,
                ProductionVariants=[
                    {"VariantName": "AllTraffic", "ModelName": name, "InitialInstanceCount": 1}
                ],
            )
            sm.create_endpoint(EndpointName=name, EndpointConfigName=name)
        deadline = time.monotonic() + 20
        while {e["EndpointStatus"] for e in sm.list_endpoints()["Endpoints"]} != {"InService"}:
            assert time.monotonic() < deadline
            time.sleep(0.05)

        answer = runtime.invoke_endpoint(
            EndpointName="m", Body=b"1,2", ContentType="text/csv", Accept="text/csv"
        )
        assert answer["Body"].read() == b"v1:text/csv:1,2"
        assert answer["ContentType"] == "text/csv"
        assert answer["InvokedProductionVariant"] == "AllTraffic"

        with pytest.raises(ClientError) as caught:
            runtime.invoke_endpoint(EndpointName="bad", Body=b"1", ContentType="text/csv")
        assert caught.value.response["Error"]["Code"] == "ModelError"
        assert caught.value.response["ResponseMetadata"]["HTTPStatusCode"] == 424
        with pytest.raises(ClientError) as caught:
            runtime.invoke_endpoint(EndpointName="ghost", Body=b"1", ContentType="text/csv")
        assert caught.value.response["Error"] == {
            "Code": "ValidationError",
            "Message": "Endpoint ghost of account 123456789012 not found.",
        }
    finally:
        service.close()
        engine.shutdown()
