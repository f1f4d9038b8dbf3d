"""``amtflow profiles import``: a profile from a tuning request or job, round-trip tested against compile."""

from __future__ import annotations

import copy
import datetime as dt
import json
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
import yaml
from botocore.stub import Stubber

from amtflow import clients
from amtflow.local.cli import main
from amtflow.local.cli_import import ImportRefusedError, profile_from_request
from amtflow.local.engine import Engine
from amtflow.profile import compile_tuning_request, load_profile, load_profile_file, parse_profile

ROOT = Path(__file__).resolve().parents[2]
PROFILES = [
    ROOT / "examples" / "xgboost" / "profile.yaml",
    ROOT / "examples" / "mlp" / "profile.yaml",
    ROOT / "tests" / "unit" / "profile" / "data" / "churn-xgb.yaml",
]
PLACES = {
    "job_name": "amtf-run-1",
    "data_uri": "s3://bucket/datasets/m/v1/",
    "output_uri": "s3://artifacts/runs/m/1/",
    "role_arn": "arn:aws:iam::123456789012:role/amtflow-sagemaker",
}

#: A request as the SageMaker Python SDK writes it (bounds as it renders them, Auto scaling, ...).
SDK_REQUEST: dict[str, Any] = {
    "HyperParameterTuningJobName": "xgb-230101-1200",
    "HyperParameterTuningJobConfig": {
        "Strategy": "Bayesian",
        "HyperParameterTuningJobObjective": {"Type": "Minimize", "MetricName": "validation:logloss"},
        "ResourceLimits": {"MaxNumberOfTrainingJobs": 20, "MaxParallelTrainingJobs": 2},
        "ParameterRanges": {
            "ContinuousParameterRanges": [
                {"Name": "eta", "MinValue": "0.01", "MaxValue": "0.3", "ScalingType": "Logarithmic"},
                {
                    "Name": "subsample",
                    "MinValue": "0",
                    "MaxValue": "0.99",
                    "ScalingType": "ReverseLogarithmic",
                },
            ],
            "IntegerParameterRanges": [
                {"Name": "max_depth", "MinValue": "2", "MaxValue": "10", "ScalingType": "Auto"}
            ],
            "CategoricalParameterRanges": [{"Name": "tree_method", "Values": ["hist", "approx"]}],
        },
        "TrainingJobEarlyStoppingType": "Auto",
        "TuningJobCompletionCriteria": {
            "TargetObjectiveMetricValue": 0.05,
            "BestObjectiveNotImproving": {"MaxNumberOfTrainingJobsNotImproving": 5},
        },
        "RandomSeed": 3,
    },
    "TrainingJobDefinition": {
        "StaticHyperParameters": {
            "num_round": "100",
            "objective": "binary:logistic",
            "_tuning_objective_metric": "x",
        },
        "AlgorithmSpecification": {
            "TrainingImage": "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-xgboost:1.7-1",
            "TrainingInputMode": "File",
            "MetricDefinitions": [{"Name": "validation:logloss", "Regex": "validation-logloss:([0-9\\.]+)"}],
        },
        "RoleArn": "arn:aws:iam::123456789012:role/SageMakerRole",
        "InputDataConfig": [
            {
                "ChannelName": "train",
                "DataSource": {
                    "S3DataSource": {
                        "S3DataType": "S3Prefix",
                        "S3Uri": "s3://old-bucket/xgb/train",
                        "S3DataDistributionType": "ShardedByS3Key",
                    }
                },
                "ContentType": "text/csv",
                "CompressionType": "Gzip",
            },
            {
                "ChannelName": "validation",
                "DataSource": {
                    "S3DataSource": {"S3DataType": "S3Prefix", "S3Uri": "s3://old-bucket/xgb/validation"}
                },
            },
        ],
        "OutputDataConfig": {"S3OutputPath": "s3://old-bucket/xgb/output"},
        "ResourceConfig": {"InstanceType": "ml.m5.xlarge", "InstanceCount": 2, "VolumeSizeInGB": 10},
        "StoppingCondition": {"MaxRuntimeInSeconds": 3600, "MaxWaitTimeInSeconds": 7200},
        "EnableManagedSpotTraining": True,
        "CheckpointConfig": {"S3Uri": "s3://old-bucket/xgb/checkpoints", "LocalPath": "/opt/ml/ckpt"},
        "RetryStrategy": {"MaximumRetryAttempts": 2},
        "Environment": {"LOG_LEVEL": "info"},
        "VpcConfig": {"SecurityGroupIds": ["sg-1"], "Subnets": ["subnet-1"]},
    },
    "Tags": [{"Key": "team", "Value": "risk"}],
}


def _same_up_to_places(request: dict[str, Any], original: dict[str, Any]) -> None:
    """``request`` (compiled from the imported profile) is ``original`` except for what the deployment
    supplies (name, role, data and output locations, network, tags) and how bounds are spelled."""
    expected = copy.deepcopy(original)
    expected["HyperParameterTuningJobName"] = request["HyperParameterTuningJobName"]
    expected.pop("Tags", None)
    request = copy.deepcopy(request)
    request.pop("Tags")
    definition, got = expected["TrainingJobDefinition"], request["TrainingJobDefinition"]
    for key in ("RoleArn", "OutputDataConfig", "VpcConfig", "CheckpointConfig"):
        definition.pop(key, None)
    for key in ("RoleArn", "OutputDataConfig", "CheckpointConfig"):
        got.pop(key, None)
    definition["StaticHyperParameters"].pop("_tuning_objective_metric", None)
    for mine, theirs in zip(got["InputDataConfig"], definition["InputDataConfig"], strict=True):
        theirs["DataSource"]["S3DataSource"]["S3Uri"] = mine["DataSource"]["S3DataSource"]["S3Uri"]
        theirs["DataSource"]["S3DataSource"].setdefault("S3DataDistributionType", "FullyReplicated")
    for ranges in (expected, request):
        for kind in ("ContinuousParameterRanges", "IntegerParameterRanges"):
            for item in ranges["HyperParameterTuningJobConfig"]["ParameterRanges"].get(kind, []):
                item["MinValue"], item["MaxValue"] = float(item["MinValue"]), float(item["MaxValue"])
    assert request == expected


@pytest.mark.parametrize("path", PROFILES, ids=lambda p: p.parent.name + "/" + p.name)
def test_compile_then_import_then_compile_gives_the_same_request(path: Path) -> None:
    request = compile_tuning_request(load_profile_file(path), **PLACES)
    imported = profile_from_request(request)
    again = compile_tuning_request(parse_profile(imported.document), **PLACES)
    assert again == request


def test_an_sdk_request_round_trips_up_to_what_the_deployment_supplies(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    source = tmp_path / "request.json"
    source.write_text(json.dumps(SDK_REQUEST))
    assert main(["profiles", "import", "--from-request", str(source), "--model", "risk-xgb"]) == 0
    text = capsys.readouterr().out
    assert "TrainingJobDefinition.VpcConfig: the network is the stack's" in text
    assert "channel train read s3://old-bucket/xgb/train" in text
    profile = load_profile(text)
    assert profile.model == "risk-xgb"
    request = compile_tuning_request(profile, **PLACES)
    _same_up_to_places(request, SDK_REQUEST)
    assert request["TrainingJobDefinition"]["CheckpointConfig"]["LocalPath"] == "/opt/ml/ckpt"


MULTI = ROOT / "examples" / "xgboost-vs-mlp" / "profile.yaml"


def _multi_request() -> dict[str, Any]:
    return compile_tuning_request(load_profile_file(MULTI), **PLACES)


def test_a_multi_algorithm_request_imports_as_algorithms_and_compiles_back_the_same() -> None:
    request = _multi_request()
    imported = profile_from_request(request)
    document = imported.document
    assert "training" not in document
    assert "ranges" not in document["tuning"]
    assert [a["name"] for a in document["algorithms"]] == ["xgboost", "mlp"]
    assert "objective_metric" not in document["algorithms"][0]
    again = compile_tuning_request(parse_profile(document), **PLACES)
    assert again == request


def test_a_definition_with_its_own_objective_metric_gets_objective_metric(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    request = _multi_request()
    request["TrainingJobDefinitions"][1]["TuningObjective"]["MetricName"] = "validation:accuracy"
    source = tmp_path / "multi.json"
    source.write_text(json.dumps(request))
    assert main(["profiles", "import", "--from-request", str(source)]) == 0
    text = capsys.readouterr().out
    assert "TrainingJobDefinitions[1].RoleArn: the role is the stack's" in text
    profile = load_profile(text)
    assert profile.algorithms is not None
    assert [a.objective_metric for a in profile.algorithms] == [None, "validation:accuracy"]
    assert compile_tuning_request(profile, **PLACES) == request


def _drop_second_definition(r: dict[str, Any]) -> None:
    del r["TrainingJobDefinitions"][1:]


def _eleven_definitions(r: dict[str, Any]) -> None:
    r["TrainingJobDefinitions"] = [
        {**r["TrainingJobDefinitions"][0], "DefinitionName": f"d{i}"} for i in range(11)
    ]


@pytest.mark.parametrize(
    ("change", "key", "words"),
    [
        (
            lambda r: r.update(WarmStartConfig={"ParentHyperParameterTuningJobs": [], "WarmStartType": "X"}),
            "WarmStartConfig",
            "warm start only when tuning a single algorithm",
        ),
        (
            lambda r: r["HyperParameterTuningJobConfig"].update(TrainingJobEarlyStoppingType="Auto"),
            "HyperParameterTuningJobConfig.TrainingJobEarlyStoppingType",
            "early stopping is available only when tuning a single algorithm",
        ),
        (
            lambda r: r["HyperParameterTuningJobConfig"].update(Strategy="Grid"),
            "HyperParameterTuningJobConfig.Strategy",
            "Grid search over several algorithms",
        ),
        (_drop_second_definition, "TrainingJobDefinitions", "holds 1 training definitions"),
        (_eleven_definitions, "TrainingJobDefinitions", "holds 11 training definitions"),
        (
            lambda r: r["HyperParameterTuningJobConfig"].update(
                ParameterRanges=r["TrainingJobDefinitions"][0]["HyperParameterRanges"]
            ),
            "HyperParameterTuningJobConfig.ParameterRanges",
            "each definition has its own HyperParameterRanges",
        ),
        (
            lambda r: r["TrainingJobDefinitions"][1]["TuningObjective"].update(Type="Maximize"),
            "TrainingJobDefinitions[1].TuningObjective.Type",
            "mix objective directions",
        ),
        (
            lambda r: r["TrainingJobDefinitions"][1]["InputDataConfig"].pop(),
            "TrainingJobDefinitions[1].InputDataConfig",
            "share one dataset",
        ),
        (
            lambda r: r["TrainingJobDefinitions"][1]["ResourceConfig"].update(InstanceGroups=[]),
            "TrainingJobDefinitions[1].ResourceConfig.InstanceGroups",
            "not expressible",
        ),
        (
            lambda r: r.update(TrainingJobDefinition=r["TrainingJobDefinitions"][0]),
            "TrainingJobDefinitions",
            "also has a TrainingJobDefinition",
        ),
    ],
)
def test_what_a_multi_algorithm_profile_cannot_express_is_refused_by_key_path(
    change: Any, key: str, words: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    request = _multi_request()
    change(request)
    with pytest.raises(ImportRefusedError, match=words) as refused:
        profile_from_request(request)
    assert refused.value.field == key
    assert str(refused.value).startswith(key)
    source = tmp_path / "multi.json"
    source.write_text(json.dumps(request))
    assert main(["profiles", "import", "--from-request", str(source)]) == 2
    captured = capsys.readouterr()
    assert words in captured.err
    assert "Traceback" not in captured.err
    assert captured.out == ""


def test_from_job_imports_a_multi_algorithm_job_of_the_local_engine(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    request = _multi_request()
    local = copy.deepcopy(request)  # local data and output: the engine never reaches S3
    for definition in local["TrainingJobDefinitions"]:
        definition["OutputDataConfig"]["S3OutputPath"] = (tmp_path / "out").as_uri()
        for channel in definition["InputDataConfig"]:
            name = channel["ChannelName"]
            channel["DataSource"]["S3DataSource"]["S3Uri"] = (tmp_path / "data" / name).as_uri()
            (tmp_path / "data" / name).mkdir(parents=True, exist_ok=True)
    state = tmp_path / "engine"
    quick = f"{sys.executable} -c pass"
    image_map = {"sagemaker-xgboost": quick, "amtflow-mlp": quick}
    engine = Engine(state, image_map=image_map, event_sink=lambda _entry: None, max_workers=1)
    try:
        engine.handle("CreateHyperParameterTuningJob", local)
        engine.handle("StopHyperParameterTuningJob", {"HyperParameterTuningJobName": "amtf-run-1"})
    finally:
        engine.shutdown()
    argv = ["profiles", "import", "--from-job", "amtf-run-1", "--state-dir", str(state), "--model", "m"]
    assert main(argv) == 0
    profile = load_profile(capsys.readouterr().out)
    assert profile.algorithms is not None
    assert [a.name for a in profile.algorithms] == ["xgboost", "mlp"]
    assert compile_tuning_request(profile, **PLACES) == {
        **request,
        "Tags": [{"Key": "amtflow:model", "Value": "m"}],
    }


@pytest.mark.parametrize(
    ("change", "key"),
    [
        (
            lambda d: d["AlgorithmSpecification"].update(TrainingImage=None, AlgorithmName="my-algo"),
            "AlgorithmName",
        ),
        (lambda d: d["ResourceConfig"].update(InstanceGroups=[]), "ResourceConfig.InstanceGroups"),
        (
            lambda d: d["InputDataConfig"][0]["DataSource"]["S3DataSource"].update(S3DataType="ManifestFile"),
            "S3DataType ManifestFile",
        ),
    ],
)
def test_what_a_profile_cannot_express_is_refused_by_key(change: Any, key: str) -> None:
    request = copy.deepcopy(SDK_REQUEST)
    change(request["TrainingJobDefinition"])
    with pytest.raises(ImportRefusedError, match=key):
        profile_from_request(request)


def test_out_writes_a_file_and_does_not_overwrite_one(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    source = tmp_path / "request.json"
    source.write_text(json.dumps(SDK_REQUEST))
    out = tmp_path / "profile.yaml"
    argv = ["profiles", "import", "--from-request", str(source), "--out", str(out)]
    assert main(argv) == 0
    assert load_profile_file(out).model == "xgb-230101-1200"
    assert main(argv) == 2
    assert "pass --force" in capsys.readouterr().err
    assert main([*argv, "--force"]) == 0


def test_a_missing_request_file_is_a_usage_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["profiles", "import", "--from-request", str(tmp_path / "nope.json")]) == 2
    assert "cannot be read" in capsys.readouterr().err


@pytest.fixture
def stubbed_sagemaker(monkeypatch: pytest.MonkeyPatch) -> Iterator[Stubber]:
    client = boto3.client(
        "sagemaker", region_name="us-east-1", aws_access_key_id="testing", aws_secret_access_key="testing"
    )
    monkeypatch.setattr(clients, "sagemaker", lambda: client)
    with Stubber(client) as stubber:
        yield stubber
        stubber.assert_no_pending_responses()


def test_from_job_describes_the_job_in_sagemaker(
    stubbed_sagemaker: Stubber, capsys: pytest.CaptureFixture[str]
) -> None:
    describe = {
        **{k: v for k, v in SDK_REQUEST.items() if k != "Tags"},
        "HyperParameterTuningJobArn": "arn:aws:sagemaker:us-east-1:123456789012:hyper-parameter-tuning-job/x",
        "HyperParameterTuningJobStatus": "Completed",
        "CreationTime": dt.datetime(2026, 1, 1, tzinfo=dt.UTC),
        "TrainingJobStatusCounters": {},
        "ObjectiveStatusCounters": {},
    }
    stubbed_sagemaker.add_response(
        "describe_hyper_parameter_tuning_job", describe, {"HyperParameterTuningJobName": "xgb-230101-1200"}
    )
    assert main(["profiles", "import", "--from-job", "xgb-230101-1200", "--aws", "--model", "risk-xgb"]) == 0
    document = yaml.safe_load(capsys.readouterr().out)
    assert document["model"] == "risk-xgb"
    assert document["tuning"]["ranges"]["subsample"] == {"min": 0.0, "max": 0.99, "scaling": "reverse_log"}


def test_from_job_names_an_unknown_job_in_sagemaker(
    stubbed_sagemaker: Stubber, capsys: pytest.CaptureFixture[str]
) -> None:
    stubbed_sagemaker.add_client_error(
        "describe_hyper_parameter_tuning_job", "ResourceNotFound", "Amazon SageMaker can't find a tuning job"
    )
    assert main(["profiles", "import", "--from-job", "ghost", "--aws"]) == 2
    err = capsys.readouterr().err
    assert "describing tuning job ghost" in err
    assert "Traceback" not in err


def test_without_a_job_objective_the_first_definitions_objective_is_the_shared_one() -> None:
    request = _multi_request()
    del request["HyperParameterTuningJobConfig"]["HyperParameterTuningJobObjective"]
    request["TrainingJobDefinitions"][1]["TuningObjective"]["MetricName"] = "validation:accuracy"
    document = profile_from_request(request).document
    assert document["tuning"]["objective"] == {"metric": "validation:logloss", "goal": "Minimize"}
    assert "objective_metric" not in document["algorithms"][0]
    assert document["algorithms"][1]["objective_metric"] == "validation:accuracy"
    parse_profile(document)
