"""The compiler produces requests SageMaker's own service model accepts, with the profile's settings."""

from __future__ import annotations

from typing import Any

import botocore.session
import pytest
from botocore.validate import validate_parameters
from hypothesis import given, settings
from hypothesis import strategies as st

from amtflow.errors import InvalidInputError
from amtflow.profile import (
    TrainingNetwork,
    WarmStart,
    WarmStartType,
    compile_training_request,
    compile_tuning_request,
    load_profile,
    midrange_hyperparameters,
    parse_profile,
    preview_tuning_request,
)

ROLE = "arn:aws:iam::123456789012:role/amtflow-sagemaker"
DATA = "s3://amtflow-data/datasets/churn-xgb/2026-11-01/"
OUT = "s3://amtflow-data/runs/churn-xgb/amtf-churn-xgb-1a2b3c4d/"


@pytest.fixture(scope="module")
def sagemaker_model() -> Any:
    return botocore.session.get_session().get_service_model("sagemaker")


def assert_valid(model: Any, operation: str, request: dict[str, Any]) -> None:
    shape = model.operation_model(operation).input_shape
    validate_parameters(request, shape)  # raises ParamValidationError listing every problem


def compile_doc(doc: dict[str, Any], **kwargs: Any) -> dict[str, Any]:
    return compile_tuning_request(
        parse_profile(doc), job_name="amtf-x-1a2b3c4d", data_uri=DATA, output_uri=OUT, role_arn=ROLE, **kwargs
    )


def test_every_example_profile_compiles_to_a_request_botocore_accepts(
    sagemaker_model: Any, xgb_doc: dict[str, Any], mlp_doc: dict[str, Any], grid_doc: dict[str, Any]
) -> None:
    warm = WarmStart(WarmStartType.TRANSFER_LEARNING, ("amtf-churn-xgb-0a0b0c0d", "amtf-churn-xgb-1a1b1c1d"))
    requests = [
        compile_doc(xgb_doc),
        compile_doc(xgb_doc, warm_start=warm, tags={"team": "risk", "cost-center": "42"}),
        compile_doc(mlp_doc),
        compile_doc(grid_doc),
    ]
    random_doc = dict(mlp_doc, tuning={**mlp_doc["tuning"], "strategy": "Random", "hyperband": None})
    random_doc["tuning"] = {k: v for k, v in random_doc["tuning"].items() if v is not None}
    requests.append(compile_doc(random_doc))
    for request in requests:
        assert_valid(sagemaker_model, "CreateHyperParameterTuningJob", request)


def test_the_validation_itself_catches_a_malformed_request(
    sagemaker_model: Any, xgb_doc: dict[str, Any]
) -> None:
    request = compile_doc(xgb_doc)
    request["HyperParameterTuningJobConfig"]["ResourceLimits"]["MaxParallelTrainingJobs"] = "3"
    with pytest.raises(Exception, match="MaxParallelTrainingJobs"):
        assert_valid(sagemaker_model, "CreateHyperParameterTuningJob", request)


def test_ranges_are_strings_in_the_right_lists_with_api_scaling_names(xgb_doc: dict[str, Any]) -> None:
    ranges = compile_doc(xgb_doc)["HyperParameterTuningJobConfig"]["ParameterRanges"]
    assert ranges["IntegerParameterRanges"] == [
        {"Name": "max_depth", "MinValue": "2", "MaxValue": "10", "ScalingType": "Auto"}
    ]
    continuous = {r["Name"]: r for r in ranges["ContinuousParameterRanges"]}
    assert continuous["eta"] == {
        "Name": "eta",
        "MinValue": "0.01",
        "MaxValue": "0.3",
        "ScalingType": "Logarithmic",
    }
    assert continuous["subsample"]["ScalingType"] == "ReverseLogarithmic"
    # int bounds with an explicit continuous type stay continuous
    assert continuous["min_child_weight"]["MinValue"] == "1.0"
    assert ranges["CategoricalParameterRanges"] == [{"Name": "tree_method", "Values": ["hist", "approx"]}]


def test_tuning_config_carries_strategy_objective_limits_and_stopping_rules(xgb_doc: dict[str, Any]) -> None:
    config = compile_doc(xgb_doc)["HyperParameterTuningJobConfig"]
    assert config["Strategy"] == "Bayesian"
    assert config["HyperParameterTuningJobObjective"] == {"Type": "Maximize", "MetricName": "validation:auc"}
    assert config["ResourceLimits"] == {
        "MaxNumberOfTrainingJobs": 30,
        "MaxParallelTrainingJobs": 3,
        "MaxRuntimeInSeconds": 7200,
    }
    assert config["TrainingJobEarlyStoppingType"] == "Auto"
    assert config["TuningJobCompletionCriteria"] == {
        "TargetObjectiveMetricValue": 0.95,
        "BestObjectiveNotImproving": {"MaxNumberOfTrainingJobsNotImproving": 10},
        "ConvergenceDetected": {"CompleteOnConvergence": "Enabled"},
    }
    assert config["RandomSeed"] == 42
    assert "StrategyConfig" not in config


def test_channels_come_from_the_dataset_version_prefix(xgb_doc: dict[str, Any]) -> None:
    channels = compile_doc(xgb_doc)["TrainingJobDefinition"]["InputDataConfig"]
    assert [
        (c["ChannelName"], c["DataSource"]["S3DataSource"]["S3Uri"], c["ContentType"]) for c in channels
    ] == [
        ("train", DATA + "train/", "text/csv"),
        ("validation", DATA + "validation/", "text/csv"),
    ]
    no_slash = compile_tuning_request(
        parse_profile(xgb_doc), job_name="a1", data_uri=DATA.rstrip("/"), output_uri=OUT, role_arn=ROLE
    )
    assert no_slash["TrainingJobDefinition"]["InputDataConfig"] == channels


def test_spot_checkpoints_retries_and_static_hyperparameters(xgb_doc: dict[str, Any]) -> None:
    definition = compile_doc(xgb_doc)["TrainingJobDefinition"]
    assert definition["EnableManagedSpotTraining"] is True
    assert definition["StoppingCondition"] == {"MaxRuntimeInSeconds": 3600, "MaxWaitTimeInSeconds": 7200}
    assert definition["CheckpointConfig"] == {
        "S3Uri": OUT + "checkpoints/",
        "LocalPath": "/opt/ml/checkpoints/",
    }
    assert definition["RetryStrategy"] == {"MaximumRetryAttempts": 2}
    assert definition["StaticHyperParameters"] == {
        "objective": "binary:logistic",
        "num_round": "200",
        "verbosity": "1",
    }
    assert definition["OutputDataConfig"] == {"S3OutputPath": OUT}
    assert definition["ResourceConfig"] == {
        "InstanceType": "ml.m5.xlarge",
        "InstanceCount": 1,
        "VolumeSizeInGB": 30,
    }


def test_a_profile_without_spot_or_checkpoints_leaves_them_out(xgb_doc: dict[str, Any]) -> None:
    xgb_doc["training"]["spot"] = {"enabled": False}
    xgb_doc["training"]["checkpoints"] = False
    xgb_doc["training"]["retry_attempts"] = 0
    definition = compile_doc(xgb_doc)["TrainingJobDefinition"]
    for key in ("EnableManagedSpotTraining", "CheckpointConfig", "RetryStrategy", "Environment"):
        assert key not in definition
    assert definition["StoppingCondition"] == {"MaxRuntimeInSeconds": 3600}


def test_hyperband_gets_its_strategy_config_and_values_render_as_strings(mlp_doc: dict[str, Any]) -> None:
    request = compile_doc(mlp_doc)
    config = request["HyperParameterTuningJobConfig"]
    assert config["StrategyConfig"] == {"HyperbandStrategyConfig": {"MinResource": 1, "MaxResource": 27}}
    assert config["HyperParameterTuningJobObjective"]["Type"] == "Minimize"
    assert config["TrainingJobEarlyStoppingType"] == "Off"
    lr = next(r for r in config["ParameterRanges"]["ContinuousParameterRanges"] if r["Name"] == "lr")
    assert (lr["MinValue"], lr["MaxValue"]) == ("1e-05", "0.1")
    definition = request["TrainingJobDefinition"]
    assert definition["StaticHyperParameters"] == {"epochs": "27", "batch_size": "256", "amp": "true"}
    assert definition["Environment"] == {"OMP_NUM_THREADS": "4"}
    assert definition["AlgorithmSpecification"]["TrainingInputMode"] == "FastFile"


def test_grid_leaves_the_job_count_to_the_service(grid_doc: dict[str, Any]) -> None:
    config = compile_doc(grid_doc)["HyperParameterTuningJobConfig"]
    assert config["Strategy"] == "Grid"
    assert "MaxNumberOfTrainingJobs" not in config["ResourceLimits"]
    assert config["ParameterRanges"] == {
        "CategoricalParameterRanges": [
            {"Name": "depth", "Values": ["2", "4", "6"]},
            {"Name": "booster", "Values": ["gbtree", "dart"]},
        ]
    }


def test_warm_start_and_tags(xgb_doc: dict[str, Any]) -> None:
    warm = WarmStart("IdenticalDataAndAlgorithm", ["amtf-churn-xgb-0a0b0c0d"])  # type: ignore[arg-type]
    request = compile_doc(xgb_doc, warm_start=warm, tags={"team": "risk"})
    assert request["WarmStartConfig"] == {
        "ParentHyperParameterTuningJobs": [{"HyperParameterTuningJobName": "amtf-churn-xgb-0a0b0c0d"}],
        "WarmStartType": "IdenticalDataAndAlgorithm",
    }
    assert request["Tags"] == [
        {"Key": "amtflow:model", "Value": "churn-xgb"},
        {"Key": "team", "Value": "risk"},
    ]
    assert "WarmStartConfig" not in compile_doc(xgb_doc)


@pytest.mark.parametrize(
    ("parents", "match"),
    [
        ((), "1-5 parent"),
        (tuple(f"amtf-p-{i}" for i in range(6)), "1-5 parent"),
        (("bad_name",), r"parents\[0\]"),
        (("amtf-a-1", "AMTF-A-1"), "twice"),
    ],
)
def test_warm_start_rejects_bad_parent_lists(parents: tuple[str, ...], match: str) -> None:
    with pytest.raises(InvalidInputError, match=match) as info:
        WarmStart(WarmStartType.TRANSFER_LEARNING, parents)
    assert info.value.field is not None
    assert info.value.field.startswith("warm_start.parents")


def test_warm_start_rejects_an_unknown_type() -> None:
    with pytest.raises(InvalidInputError, match="IdenticalDataAndAlgorithm, TransferLearning"):
        WarmStart("Recursive", ("amtf-a-1",))  # type: ignore[arg-type]


def test_warm_start_must_be_allowed_by_the_profile_policy(xgb_doc: dict[str, Any]) -> None:
    xgb_doc["warm_start"] = {"allowed": ["TransferLearning"], "max_parents": 2}
    identical = WarmStart(WarmStartType.IDENTICAL_DATA_AND_ALGORITHM, ("amtf-a-1",))
    with pytest.raises(InvalidInputError, match="not allowed") as info:
        compile_doc(xgb_doc, warm_start=identical)
    assert info.value.field == "warm_start.type"
    three = WarmStart(WarmStartType.TRANSFER_LEARNING, ("amtf-a-1", "amtf-a-2", "amtf-a-3"))
    with pytest.raises(InvalidInputError, match="max_parents"):
        compile_doc(xgb_doc, warm_start=three)
    xgb_doc["warm_start"] = {"enabled": False}
    with pytest.raises(InvalidInputError, match="disabled"):
        compile_doc(xgb_doc, warm_start=WarmStart(WarmStartType.TRANSFER_LEARNING, ("amtf-a-1",)))


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"job_name": "x" * 33}, "job_name"),
        ({"job_name": "has_underscore"}, "job_name"),
        ({"job_name": "-leading"}, "job_name"),
        ({"data_uri": "/local/path"}, "data_uri"),
        ({"output_uri": "bucket/runs"}, "output_uri"),
        ({"role_arn": "my-role"}, "role_arn"),
        ({"tags": {"bad": "semi;colon"}}, "tags.bad"),
        ({"tags": {f"k{i}": "v" for i in range(50)}}, "tags"),
    ],
)
def test_bad_arguments_are_named(xgb_doc: dict[str, Any], kwargs: dict[str, Any], field: str) -> None:
    args: dict[str, Any] = {"job_name": "amtf-a-1", "data_uri": DATA, "output_uri": OUT, "role_arn": ROLE}
    args.update(kwargs)
    with pytest.raises(InvalidInputError) as info:
        compile_tuning_request(parse_profile(xgb_doc), **args)
    assert info.value.field == field
    assert field.split(".")[0] in str(info.value)


def test_training_request_validates_and_lays_best_hyperparameters_over_static_ones(
    sagemaker_model: Any, xgb_text: str
) -> None:
    profile = load_profile(xgb_text)
    best = {
        "eta": "0.0421",
        "max_depth": 6,
        "tree_method": "hist",
        "num_round": 300,
        "_tuning_objective_metric": "x",
    }
    request = compile_training_request(
        profile,
        job_name="amtf-churn-xgb-1a2b3c4d-retrain-01",
        hyperparameters=best,
        data_uri=DATA,
        output_uri=OUT,
        role_arn=ROLE,
    )
    assert_valid(sagemaker_model, "CreateTrainingJob", request)
    assert request["HyperParameters"] == {
        "objective": "binary:logistic",
        "num_round": "300",
        "verbosity": "1",
        "eta": "0.0421",
        "max_depth": "6",
        "tree_method": "hist",
    }
    assert request["TrainingJobName"] == "amtf-churn-xgb-1a2b3c4d-retrain-01"
    assert request["EnableManagedSpotTraining"] is True
    assert request["CheckpointConfig"]["S3Uri"] == OUT + "checkpoints/"
    assert [c["ChannelName"] for c in request["InputDataConfig"]] == ["train", "validation"]


def test_training_request_rejects_bad_names_and_values(xgb_text: str) -> None:
    profile = load_profile(xgb_text)
    args: dict[str, Any] = {"data_uri": DATA, "output_uri": OUT, "role_arn": ROLE}
    with pytest.raises(InvalidInputError) as info:
        compile_training_request(profile, job_name="x" * 64, hyperparameters={}, **args)
    assert info.value.field == "job_name"
    with pytest.raises(InvalidInputError) as info:
        compile_training_request(profile, job_name="ok-1", hyperparameters={"eta": [0.1]}, **args)
    assert info.value.field == "hyperparameters.eta"


VPC = TrainingNetwork(isolation=True, subnets=("subnet-0a1b", "subnet-0c2d"), security_groups=("sg-0e3f",))


def test_the_deployments_network_reaches_the_tuning_and_training_requests(
    sagemaker_model: Any, xgb_text: str
) -> None:
    profile = load_profile(xgb_text)
    tuning = compile_tuning_request(
        profile, job_name="amtf-a-1", data_uri=DATA, output_uri=OUT, role_arn=ROLE, network=VPC
    )
    training = compile_training_request(
        profile,
        job_name="amtf-a-1-retrain-01",
        hyperparameters={},
        data_uri=DATA,
        output_uri=OUT,
        role_arn=ROLE,
        network=VPC,
    )
    assert_valid(sagemaker_model, "CreateHyperParameterTuningJob", tuning)
    assert_valid(sagemaker_model, "CreateTrainingJob", training)
    for spec in (tuning["TrainingJobDefinition"], training):
        assert spec["EnableNetworkIsolation"] is True
        assert spec["VpcConfig"] == {
            "SecurityGroupIds": ["sg-0e3f"],
            "Subnets": ["subnet-0a1b", "subnet-0c2d"],
        }


def test_isolation_alone_adds_no_vpc(xgb_text: str) -> None:
    request = compile_tuning_request(
        load_profile(xgb_text),
        job_name="amtf-a-1",
        data_uri=DATA,
        output_uri=OUT,
        role_arn=ROLE,
        network=TrainingNetwork(isolation=True),
    )
    assert request["TrainingJobDefinition"]["EnableNetworkIsolation"] is True
    assert "VpcConfig" not in request["TrainingJobDefinition"]


def test_the_default_network_changes_nothing_in_the_requests(xgb_text: str) -> None:
    profile = load_profile(xgb_text)
    args: dict[str, Any] = {"data_uri": DATA, "output_uri": OUT, "role_arn": ROLE}
    assert compile_tuning_request(
        profile, job_name="amtf-a-1", network=TrainingNetwork(), **args
    ) == compile_tuning_request(profile, job_name="amtf-a-1", **args)
    training = compile_training_request(
        profile, job_name="amtf-a-1-r", hyperparameters={}, network=TrainingNetwork(), **args
    )
    assert training == compile_training_request(profile, job_name="amtf-a-1-r", hyperparameters={}, **args)
    assert "EnableNetworkIsolation" not in training
    assert "VpcConfig" not in training


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"subnets": ("subnet-1",)}, "network.security_groups"),
        ({"security_groups": ("sg-1",)}, "network.subnets"),
        (
            {"subnets": tuple(f"subnet-{i}" for i in range(17)), "security_groups": ("sg-1",)},
            "network.subnets",
        ),
        (
            {"subnets": ("subnet-1",), "security_groups": tuple(f"sg-{i}" for i in range(6))},
            "network.security_groups",
        ),
        ({"subnets": ("subnet 1",), "security_groups": ("sg-1",)}, "network.subnets[0]"),
        ({"subnets": ("subnet-1",), "security_groups": ("sg-1", "x" * 33)}, "network.security_groups[1]"),
    ],
)
def test_a_bad_network_is_named(kwargs: dict[str, Any], field: str) -> None:
    with pytest.raises(InvalidInputError) as info:
        TrainingNetwork(**kwargs)
    assert info.value.field == field
    assert field.split("[")[0] in str(info.value)


def test_preview_request_follows_the_bucket_layout(sagemaker_model: Any, xgb_text: str) -> None:
    request = preview_tuning_request(load_profile(xgb_text), dataset_version="v7", bucket="b")
    assert_valid(sagemaker_model, "CreateHyperParameterTuningJob", request)
    job = request["HyperParameterTuningJobName"]
    assert job.startswith("amtf-churn-xgb-")
    definition = request["TrainingJobDefinition"]
    assert definition["InputDataConfig"][0]["DataSource"]["S3DataSource"]["S3Uri"] == (
        "s3://b/datasets/churn-xgb/v7/train/"
    )
    assert definition["OutputDataConfig"]["S3OutputPath"] == f"s3://b/runs/churn-xgb/{job}/"


def test_file_uris_are_accepted_for_the_local_engine(xgb_doc: dict[str, Any]) -> None:
    request = compile_tuning_request(
        parse_profile(xgb_doc),
        job_name="amtf-local-1",
        data_uri="file:///tmp/data/v1",
        output_uri="file:///tmp/runs",
        role_arn=ROLE,
    )
    channel = request["TrainingJobDefinition"]["InputDataConfig"][0]
    assert channel["DataSource"]["S3DataSource"]["S3Uri"] == "file:///tmp/data/v1/train/"
    assert request["TrainingJobDefinition"]["OutputDataConfig"]["S3OutputPath"] == "file:///tmp/runs/"


@settings(deadline=None, max_examples=60)
@given(
    lo=st.floats(min_value=1e-9, max_value=1e6, allow_nan=False),
    width=st.floats(min_value=1e-6, max_value=1e6, allow_nan=False),
    ilo=st.integers(min_value=-1000, max_value=1000),
    iwidth=st.integers(min_value=1, max_value=1000),
)
def test_numeric_bounds_render_as_strings_that_parse_back_exactly(
    lo: float, width: float, ilo: int, iwidth: int
) -> None:
    doc = {
        "schema": "amtflow/v1",
        "model": "prop",
        "dataset": {"channels": {"train": None}},
        "training": {"image": "img:1", "metrics": [{"name": "m", "regex": "m=([0-9.]+)"}]},
        "tuning": {
            "objective": {"metric": "m", "goal": "Maximize"},
            "ranges": {
                "c": {"min": lo, "max": lo + width, "scaling": "log"},
                "i": {"min": ilo, "max": ilo + iwidth},
            },
            "limits": {"max_jobs": 5},
        },
    }
    ranges = compile_doc(doc)["HyperParameterTuningJobConfig"]["ParameterRanges"]
    (c,) = ranges["ContinuousParameterRanges"]
    (i,) = ranges["IntegerParameterRanges"]
    assert (float(c["MinValue"]), float(c["MaxValue"])) == (lo, lo + width)
    assert (int(i["MinValue"]), int(i["MaxValue"])) == (ilo, ilo + iwidth)


def test_mid_range_values_follow_each_ranges_scale(xgb_doc: dict[str, Any]) -> None:
    xgb_doc["tuning"]["ranges"]["gamma"] = {"min": 0, "max": 5}
    xgb_doc["tuning"]["ranges"]["booster"] = {"values": ["gbtree", "dart", "gblinear"]}
    values = midrange_hyperparameters(parse_profile(xgb_doc))
    assert float(values["eta"]) == pytest.approx((0.01 * 0.3) ** 0.5)  # log: the geometric mean
    assert float(values["subsample"]) == pytest.approx(1 - (0.5 * 0.01) ** 0.5)  # reverse_log
    assert values["max_depth"] == "6"
    assert values["min_child_weight"] == "5.5"  # integer bounds, continuous type
    assert values["gamma"] == "2"  # integer bounds: an integer range, rounded half to even
    assert values["tree_method"] == "hist"  # the first of the two middle values
    assert values["booster"] == "dart"
    # every value lies within its range, as the strings a trial receives
    assert all(isinstance(v, str) for v in values.values())
