"""The SageMaker Python SDK (v2) tuning code, run unchanged against the engine (S3 and CloudWatch on moto).

Trials are the sub-second stand-in scripts: ``quad.py`` for a custom image with ``loss`` metric
definitions, ``xgblike.py`` for SageMaker's built-in XGBoost image (whose metrics SageMaker knows, so the
tuners give no metric definitions).
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
import pytest
from moto import mock_aws

from amtflow import clients
from amtflow.local import sagemaker
from amtflow.local.engine import Engine

sm = pytest.importorskip(
    "sagemaker", reason="the SageMaker Python SDK is a test extra (pip install -e .[sdk])"
)
from sagemaker.analytics import TrainingJobAnalytics  # noqa: E402
from sagemaker.estimator import Estimator  # noqa: E402
from sagemaker.parameter import CategoricalParameter, ContinuousParameter, IntegerParameter  # noqa: E402
from sagemaker.serializers import CSVSerializer  # noqa: E402
from sagemaker.tuner import (  # noqa: E402
    HyperbandStrategyConfig,
    HyperparameterTuner,
    StrategyConfig,
    TuningJobCompletionCriteriaConfig,
)

pytestmark = pytest.mark.slow

SCRIPTS = Path(__file__).parent / "scripts"
QUAD_IMAGE = "123456789012.dkr.ecr.us-east-1.amazonaws.com/quad:1"
XGBOOST_IMAGE = "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-xgboost:1.7-1"
#: the real XGBoost example script, which also serves the model it trained (``train.py serve``)
SERVING_IMAGE = "123456789012.dkr.ecr.us-east-1.amazonaws.com/xgboost-example:1"
IMAGE_MAP = {
    "quad": f"{sys.executable} {SCRIPTS / 'quad.py'}",
    "sagemaker-xgboost": f"{sys.executable} {SCRIPTS / 'xgblike.py'}",
    "xgboost-example": f"{sys.executable} {Path(__file__).parents[3] / 'examples' / 'xgboost' / 'train.py'}",
}
ROLE = "arn:aws:iam::123456789012:role/SageMakerRole"
BUCKET = "amtflow-sdk-tests"
LOSS = [{"Name": "loss", "Regex": "loss=([0-9.]+)"}]
#: SDK defaults as a sagemaker_config: no telemetry (it would call an AWS endpoint)
SDK_CONFIG = {"SchemaVersion": "1.0", "SageMaker": {"PythonSDK": {"Modules": {"TelemetryOptOut": True}}}}


@dataclass
class Sdk:
    session: Any
    engine: Engine
    telemetry: list[Any]
    tuners: int = 0

    def name(self, base: str) -> str:
        """A tuning job base name of its own (the SDK's names only add the minute)."""
        self.tuners += 1
        return f"{base}{self.tuners}"

    def estimator(self, image: str = QUAD_IMAGE, **hyperparameters: Any) -> Any:
        return Estimator(
            image_uri=image,
            role=ROLE,
            instance_count=1,
            instance_type="ml.m5.large",
            output_path=f"s3://{BUCKET}/out",
            hyperparameters=hyperparameters or {"epochs": 3},
            sagemaker_session=self.session,
        )

    def quad_tuner(self, **options: Any) -> Any:
        settings: dict[str, Any] = {
            "objective_metric_name": "loss",
            "objective_type": "Minimize",
            "metric_definitions": LOSS,
            "hyperparameter_ranges": {
                "x": ContinuousParameter(0, 1),
                "kind": CategoricalParameter(["a", "b"]),
            },
            "max_jobs": 3,
            "max_parallel_jobs": 3,
            "random_seed": 7,
            "base_tuning_job_name": self.name("quad"),
        }
        settings.update(options)
        estimator = settings.pop("estimator", None) or self.estimator()
        return HyperparameterTuner(estimator, **settings)

    def run(self, tuner: Any, **fit: Any) -> dict[str, Any]:
        tuner.fit(wait=True, **fit)
        return dict(tuner.describe())


@pytest.fixture(scope="module")
def sdk(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Sdk]:
    telemetry: list[Any] = []
    patcher = pytest.MonkeyPatch()
    patcher.setenv("SAGEMAKER_SUPPRESS_V2_WARNING", "1")
    # the SDK's waits sleep 5 s before each look; trials here take a second
    wait_until, wait_training = sm.session._wait_until, sm.session._wait_until_training_done
    patcher.setattr(sm.session, "_wait_until", lambda fn, poll=5: wait_until(fn, 0.2))
    patcher.setattr(
        sm.session, "_wait_until_training_done", lambda fn, desc, poll=5: wait_training(fn, desc, 0.2)
    )
    clients.reset()
    with mock_aws():
        boto = boto3.Session(region_name="us-east-1")
        boto.client("s3").create_bucket(Bucket=BUCKET)
        with sagemaker(
            state_dir=tmp_path_factory.mktemp("sdk") / "state",
            image_map=IMAGE_MAP,
            event_sink=lambda entry: None,
            cloudwatch_client=boto.client("cloudwatch"),
        ) as engine:
            session = sm.Session(boto_session=boto, default_bucket=BUCKET, sagemaker_config=SDK_CONFIG)
            yield Sdk(session, engine, telemetry)
    clients.reset()
    patcher.undo()
    assert telemetry == []


def test_a_tuner_fits_and_waits_and_its_results_read_as_on_sagemaker(sdk: Sdk) -> None:
    tuner = sdk.quad_tuner(max_jobs=4, max_parallel_jobs=2)
    tuner.fit(wait=True)
    d = tuner.describe()
    assert d["HyperParameterTuningJobStatus"] == "Completed"
    assert d["TrainingJobStatusCounters"]["Completed"] == 4
    frame = tuner.analytics().dataframe()
    assert len(frame) == 4
    assert {"x", "kind", "TrainingJobName", "FinalObjectiveValue"} <= set(frame.columns)
    best = tuner.best_training_job()
    assert best == d["BestTrainingJob"]["TrainingJobName"]
    assert frame["FinalObjectiveValue"].min() == pytest.approx(
        d["BestTrainingJob"]["FinalHyperParameterTuningJobObjectiveMetric"]["Value"]
    )
    # the best trial's metric points reached CloudWatch, where TrainingJobAnalytics reads them
    curve = TrainingJobAnalytics(best, metric_names=["loss"], sagemaker_session=sdk.session).dataframe()
    assert list(curve["metric_name"].unique()) == ["loss"]
    assert len(curve) >= 1


def test_the_best_estimator_and_an_attached_tuner_are_rebuilt_from_the_descriptions(sdk: Sdk) -> None:
    tuner = sdk.quad_tuner()
    d = sdk.run(tuner)
    best = tuner.best_estimator()
    assert best.latest_training_job.name == d["BestTrainingJob"]["TrainingJobName"]
    assert best.instance_type == "ml.m5.large"
    assert best.instance_count == 1
    assert best.model_data.startswith(f"s3://{BUCKET}/out/")
    assert best.hyperparameters()["epochs"] == "3"

    attached = HyperparameterTuner.attach(tuner.latest_tuning_job.name, sagemaker_session=sdk.session)
    assert attached.objective_metric_name == "loss"
    assert attached.metric_definitions == LOSS
    assert attached.estimator.instance_type == "ml.m5.large"
    assert "_tuning_objective_metric" not in attached.estimator.hyperparameters()
    assert sorted(attached.hyperparameter_ranges()) == [
        "CategoricalParameterRanges",
        "ContinuousParameterRanges",
        "IntegerParameterRanges",
    ]
    assert attached.best_training_job() == d["BestTrainingJob"]["TrainingJobName"]


def test_a_built_in_xgboost_tuner_without_metric_definitions_and_its_warm_start_children(sdk: Sdk) -> None:
    def xgboost_tuner() -> Any:
        estimator = sdk.estimator(XGBOOST_IMAGE, objective="reg:squarederror", num_round=3)
        return HyperparameterTuner(
            estimator,
            objective_metric_name="validation:rmse",
            objective_type="Minimize",
            hyperparameter_ranges={"eta": ContinuousParameter(0, 1), "max_depth": IntegerParameter(3, 7)},
            max_jobs=3,
            max_parallel_jobs=3,
            random_seed=3,
            base_tuning_job_name=sdk.name("xgb"),
        )

    parent = xgboost_tuner()
    d = sdk.run(parent)
    assert d["HyperParameterTuningJobStatus"] == "Completed"
    assert d["ObjectiveStatusCounters"]["Succeeded"] == 3
    trial = sdk.session.sagemaker_client.describe_training_job(
        TrainingJobName=d["BestTrainingJob"]["TrainingJobName"]
    )
    metrics = {m["MetricName"]: m["Value"] for m in trial["FinalMetricDataList"]}
    assert set(metrics) == {"train:rmse", "validation:rmse", "validation:auc"}
    hp = trial["HyperParameters"]
    expected = (float(hp["eta"]) - 0.3) ** 2 + abs(int(hp["max_depth"]) - 5) / 10 + 1 / 3
    assert metrics["validation:rmse"] == pytest.approx(expected, abs=1e-4)

    for child in (parent.transfer_learning_tuner(), parent.identical_dataset_and_algorithm_tuner()):
        child.max_jobs = 2
        child.base_tuning_job_name = sdk.name("warm")
        c = sdk.run(child)
        assert c["HyperParameterTuningJobStatus"] == "Completed"
        assert c["WarmStartConfig"]["ParentHyperParameterTuningJobs"] == [
            {"HyperParameterTuningJobName": parent.latest_tuning_job.name}
        ]
        assert c["ObjectiveStatusCounters"]["Succeeded"] == 2


def test_a_tuning_job_stops_when_the_sdk_stops_it(sdk: Sdk) -> None:
    tuner = sdk.quad_tuner(estimator=sdk.estimator(epochs=20, sleep=0.5), max_jobs=2, max_parallel_jobs=2)
    tuner.fit(wait=False)
    tuner.stop_tuning_job()
    assert sdk.engine.wait(tuner.latest_tuning_job.name, 30) == "Stopped"
    d = tuner.describe()
    assert d["HyperParameterTuningJobStatus"] == "Stopped"
    assert d["TrainingJobStatusCounters"]["Completed"] == 0


def test_hyperband_grid_and_completion_criteria_from_the_sdk(sdk: Sdk) -> None:
    hyperband = sdk.quad_tuner(
        estimator=sdk.estimator(epochs=3),
        strategy="Hyperband",
        strategy_config=StrategyConfig(HyperbandStrategyConfig(min_resource=1, max_resource=3)),
        max_jobs=4,
        max_parallel_jobs=2,
    )
    d = sdk.run(hyperband)
    assert d["HyperParameterTuningJobStatus"] == "Completed"
    assert d["HyperParameterTuningJobConfig"]["Strategy"] == "Hyperband"

    grid = sdk.quad_tuner(
        strategy="Grid",
        hyperparameter_ranges={"kind": CategoricalParameter(["a", "b", "c"])},
        max_jobs=3,
        random_seed=None,
    )
    d = sdk.run(grid)
    assert d["HyperParameterTuningJobStatus"] == "Completed"
    kinds = sorted(r["kind"] for r in grid.analytics().dataframe().to_dict("records"))
    assert kinds == ["'a'", "'b'", "'c'"] or kinds == ["a", "b", "c"]

    target = sdk.quad_tuner(
        max_jobs=6,
        max_parallel_jobs=1,
        completion_criteria_config=TuningJobCompletionCriteriaConfig(target_objective_metric_value=100.0),
    )
    d = sdk.run(target)
    assert d["HyperParameterTuningJobStatus"] == "Completed"
    assert sum(d["TrainingJobStatusCounters"].values()) < 6


def test_a_tuner_deploys_its_best_model_and_the_predictor_answers_with_its_predictions(sdk: Sdk) -> None:
    import io
    import tarfile

    import numpy as np
    import xgboost as xgb

    rng = np.random.default_rng(0)
    features = rng.normal(size=(60, 3))
    table = np.column_stack([features @ [1.0, -2.0, 0.5] + 3.0, features])
    s3 = sdk.session.boto_session.client("s3")
    for channel in ("train", "validation"):
        rows = "\n".join(",".join(f"{v:.6f}" for v in row) for row in table)
        s3.put_object(Bucket=BUCKET, Key=f"deploy/{channel}/data.csv", Body=rows.encode())
    estimator = sdk.estimator(SERVING_IMAGE, num_round=5, objective="reg:squarederror")
    tuner = HyperparameterTuner(
        estimator,
        objective_metric_name="validation:rmse",
        objective_type="Minimize",
        metric_definitions=[{"Name": "validation:rmse", "Regex": r"validation-rmse:([0-9.]+)"}],
        hyperparameter_ranges={"max_depth": IntegerParameter(2, 4)},
        max_jobs=2,
        max_parallel_jobs=2,
        random_seed=1,
        base_tuning_job_name=sdk.name("deploy"),
    )
    tuner.fit({channel: f"s3://{BUCKET}/deploy/{channel}/" for channel in ("train", "validation")}, wait=True)
    assert tuner.describe()["HyperParameterTuningJobStatus"] == "Completed"

    predictor = tuner.deploy(
        initial_instance_count=1, instance_type="ml.m5.large", serializer=CSVSerializer()
    )
    try:
        endpoint = sdk.session.sagemaker_client.describe_endpoint(EndpointName=predictor.endpoint_name)
        assert endpoint["EndpointStatus"] == "InService"
        assert predictor.endpoint_name == tuner.best_training_job()
        answer = predictor.predict(features[0].tolist())
        # the model the best trial trained, loaded here, predicts the same
        best = sdk.session.sagemaker_client.describe_training_job(TrainingJobName=tuner.best_training_job())
        key = best["ModelArtifacts"]["S3ModelArtifacts"].split(f"{BUCKET}/", 1)[1]
        archive = s3.get_object(Bucket=BUCKET, Key=key)["Body"].read()
        with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
            member = tar.extractfile("xgboost-model")
            assert member is not None
            booster = xgb.Booster()
            booster.load_model(bytearray(member.read()))
        expected = booster.predict(xgb.DMatrix(features[:1]))[0]
        assert float(answer.decode()) == pytest.approx(float(expected), rel=1e-5)
    finally:
        predictor.delete_endpoint()
