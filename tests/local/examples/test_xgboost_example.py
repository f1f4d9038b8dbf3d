"""examples/xgboost/train.py behaves like the built-in XGBoost algorithm under the training contract."""

from __future__ import annotations

import json
import re
import sys
import tarfile
import time
from pathlib import Path

import boto3
import pytest
import xgboost as xgb
from example_support import EXAMPLES, MlDir, load_example_module, write_dataset

from amtflow.local import sagemaker
from amtflow.profile import load_profile_file

TRAIN = load_example_module("xgboost/train.py")
PROFILE = load_profile_file(EXAMPLES / "xgboost" / "profile.yaml")
REGEXES = {m.name: re.compile(m.regex) for m in PROFILE.training.metrics}
STATIC = PROFILE.training.rendered_static_hyperparameters()


def metric_values(stdout: str, name: str) -> list[float]:
    return [float(m.group(1)) for line in stdout.splitlines() if (m := REGEXES[name].search(line))]


def test_trains_prints_built_in_metric_lines_and_writes_the_model(ml_dir: MlDir) -> None:
    write_dataset(ml_dir, "breast_cancer", max_rows=200)
    ml_dir.write_hyperparameters({**STATIC, "num_round": "8", "_tuning_objective_metric": "validation:auc"})

    result = ml_dir.run("xgboost/train.py", "--eta", "0.3", "--max_depth", "3")

    assert result.returncode == 0, result.stderr
    rounds = [line for line in result.stdout.splitlines() if line.startswith("[")]
    assert len(rounds) >= 1
    assert re.fullmatch(r"\[0\]\ttrain-auc:[0-9.]+\tvalidation-auc:[0-9.]+", rounds[0])
    auc = metric_values(result.stdout, "validation:auc")
    assert len(auc) == len(rounds)
    assert all(0.5 < v <= 1 for v in auc)
    assert len(metric_values(result.stdout, "train:auc")) == len(rounds)
    booster = xgb.Booster()
    booster.load_model(bytearray((ml_dir.model / "xgboost-model").read_bytes()))
    assert booster.num_features() == 30
    assert not ml_dir.failure.exists()


# The remaining runs call the script's main() in this process with the same environment: same code path,
# without paying for a Python start-up each time.


def test_arguments_override_the_json_and_sdk_quoted_values_are_understood(
    ml_dir: MlDir, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    write_dataset(ml_dir, "breast_cancer", max_rows=120)
    # The SageMaker Python SDK writes strings JSON-encoded; early stopping is off here so every round prints.
    ml_dir.write_hyperparameters(
        {"objective": '"binary:logistic"', "eval_metric": '"auc"', "num_round": "50"}
    )

    code = ml_dir.run_in_process(TRAIN, "--num_round", "4", monkeypatch=monkeypatch)

    assert code == 0
    assert len(metric_values(capsys.readouterr().out, "validation:auc")) == 4


def test_channels_and_config_found_under_opt_ml_without_channel_variables(
    ml_dir: MlDir, monkeypatch: pytest.MonkeyPatch
) -> None:
    write_dataset(ml_dir, "breast_cancer", max_rows=120)
    ml_dir.write_hyperparameters({**STATIC, "num_round": "3", "early_stopping_rounds": "2"})

    code = ml_dir.run_in_process(TRAIN, monkeypatch=monkeypatch, channels_from_env=False)

    assert code == 0
    assert (ml_dir.model / "xgboost-model").exists()


def test_bad_hyperparameters_fail_with_every_reason_in_the_failure_file(
    ml_dir: MlDir, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    write_dataset(ml_dir, "breast_cancer", max_rows=120)
    ml_dir.write_hyperparameters({**STATIC, "eta": "1.5", "max_depth": "deep", "learning_rate": "0.1"})

    code = ml_dir.run_in_process(TRAIN, monkeypatch=monkeypatch)

    assert code != 0
    failure = ml_dir.failure.read_text()
    assert failure.startswith("ClientError:")
    assert "'eta' must be in [0, 1], got '1.5'" in failure
    assert "'max_depth' must be an integer, got 'deep'" in failure
    assert "unknown hyperparameter 'learning_rate'" in failure
    assert "Traceback" not in capsys.readouterr().err
    assert not (ml_dir.model / "xgboost-model").exists()


def test_a_missing_channel_names_the_channel(ml_dir: MlDir, monkeypatch: pytest.MonkeyPatch) -> None:
    ml_dir.write_hyperparameters(STATIC)

    code = ml_dir.run_in_process(TRAIN, monkeypatch=monkeypatch, channels_from_env=False)

    assert code != 0
    assert "channel 'train'" in ml_dir.failure.read_text()


def test_non_binary_labels_are_refused_for_a_binary_objective(
    ml_dir: MlDir, monkeypatch: pytest.MonkeyPatch
) -> None:
    write_dataset(ml_dir, "wine", max_rows=60)  # three classes
    ml_dir.write_hyperparameters({**STATIC, "num_round": "2"})

    code = ml_dir.run_in_process(TRAIN, monkeypatch=monkeypatch)

    assert code != 0
    assert "needs labels 0 or 1" in ml_dir.failure.read_text()


def test_a_restarted_job_resumes_from_its_checkpoint(
    ml_dir: MlDir, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    write_dataset(ml_dir, "breast_cancer", max_rows=120)
    ml_dir.checkpoints.mkdir()
    ml_dir.write_hyperparameters({"objective": "binary:logistic", "eval_metric": "auc", "num_round": "5"})
    assert ml_dir.run_in_process(TRAIN, monkeypatch=monkeypatch) == 0
    assert len(metric_values(capsys.readouterr().out, "validation:auc")) == 5
    model = (ml_dir.model / "xgboost-model").read_bytes()

    code = ml_dir.run_in_process(TRAIN, monkeypatch=monkeypatch)

    out = capsys.readouterr().out
    assert code == 0
    assert "resuming from checkpoint after round 5" in out
    assert metric_values(out, "validation:auc") == []  # nothing left to train
    assert (ml_dir.model / "xgboost-model").read_bytes() == model


def test_an_interrupted_job_continues_where_it_stopped(
    ml_dir: MlDir, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    write_dataset(ml_dir, "breast_cancer", max_rows=120)
    ml_dir.checkpoints.mkdir()
    hp = {"objective": "binary:logistic", "eval_metric": "auc", "num_round": "6"}
    ml_dir.write_hyperparameters(hp)
    parsed = TRAIN.parse_hyperparameters(hp)
    # As if the job had been interrupted after 2 rounds: a checkpoint of a 2-round booster.
    dtrain = TRAIN.read_csv_channel(ml_dir.channel("train"), "train")
    partial = xgb.train(TRAIN.booster_params(parsed), dtrain, num_boost_round=2)
    TRAIN.save_checkpoint(ml_dir.checkpoints, partial, TRAIN.fingerprint_of(parsed), 2)

    code = ml_dir.run_in_process(TRAIN, monkeypatch=monkeypatch)

    out = capsys.readouterr().out
    assert code == 0
    assert "resuming from checkpoint after round 2" in out
    assert [line.split("\t")[0] for line in out.splitlines() if line.startswith("[")] == [
        "[2]",
        "[3]",
        "[4]",
        "[5]",
    ]
    booster = xgb.Booster()
    booster.load_model(bytearray((ml_dir.model / "xgboost-model").read_bytes()))
    assert booster.num_boosted_rounds() == 6


class TestHyperparameters:
    """The parsing rules, in-process."""

    train = TRAIN

    def test_defaults_and_types(self) -> None:
        hp = self.train.parse_hyperparameters({"num_round": "10", "max_depth": "4", "eta": "0.1"})
        assert (hp["num_round"], hp["max_depth"]) == (10, 4)
        assert hp["eta"] == pytest.approx(0.1)
        assert hp["objective"] == "reg:squarederror"
        assert hp["eval_metric"] == ["rmse"]

    def test_integers_written_as_floats_are_accepted(self) -> None:
        hp = self.train.parse_hyperparameters({"num_round": "10.0", "max_depth": "6.0"})
        assert (hp["num_round"], hp["max_depth"]) == (10, 6)
        with pytest.raises(
            self.train.TrainingError, match=re.escape("'max_depth' must be an integer, got '6.5'")
        ):
            self.train.parse_hyperparameters({"num_round": "10", "max_depth": "6.5"})

    def test_the_tuning_objective_is_always_evaluated(self) -> None:
        hp = self.train.parse_hyperparameters(
            {"num_round": "10", "objective": "binary:logistic", "_tuning_objective_metric": "validation:auc"}
        )
        assert hp["eval_metric"] == ["logloss", "auc"]

    def test_sagemaker_additions_are_ignored(self) -> None:
        hp = self.train.parse_hyperparameters({"num_round": "1", "sagemaker_program": "train.py"})
        assert "sagemaker_program" not in hp

    @pytest.mark.parametrize(
        ("raw", "message"),
        [
            ({}, "'num_round' is required"),
            ({"num_round": "5", "objective": "multi:softprob"}, "needs hyperparameter 'num_class'"),
            ({"num_round": "5", "eval_metric": "auc,accuracy"}, "'eval_metric' must be a comma-separated"),
            ({"num_round": "5", "subsample": "0"}, "'subsample' must be in (0, 1]"),
            ({"num_round": "5", "gamma": "nan"}, "'gamma' must be a finite number"),
        ],
    )
    def test_problems_name_the_hyperparameter(self, raw: dict[str, str], message: str) -> None:
        with pytest.raises(self.train.TrainingError, match=re.escape(message)):
            self.train.parse_hyperparameters(raw)


def test_a_stopped_job_ends_after_the_round_in_progress_and_still_writes_its_model(ml_dir: MlDir) -> None:
    # A tuning job's early stop (or StopTrainingJob) is a SIGTERM, and SageMaker uploads the model folder
    # as it is when the process ends: a stopped trial can be the tuning job's best, so it needs a model.
    write_dataset(ml_dir, "breast_cancer", max_rows=120)
    ml_dir.checkpoints.mkdir()
    ml_dir.write_hyperparameters(
        {"objective": "binary:logistic", "eval_metric": "auc", "num_round": "1000000"}
    )

    code, out = ml_dir.run_and_stop("xgboost/train.py", after="[2]")

    assert code == 0, out
    stopped = re.search(r"stop requested \(SIGTERM\): training ends after round (\d+)", out)
    assert stopped is not None, out
    booster = xgb.Booster()
    booster.load_model(bytearray((ml_dir.model / "xgboost-model").read_bytes()))
    assert 3 <= booster.num_boosted_rounds() == int(stopped.group(1)) < 1000000
    assert not ml_dir.failure.exists()
    # Not marked finished: a restarted job (a spot interruption) goes on from the last round.
    assert json.loads((ml_dir.checkpoints / "xgboost-checkpoint.json").read_text())["rounds"] == int(
        stopped.group(1)
    )


def test_under_the_local_engine_a_stopped_job_uploads_a_model_that_serves(tmp_path: Path) -> None:
    # What a tuning job's early stop does to its trial, through the engine: SIGTERM, then the model folder
    # packed as model.tar.gz. The archive must hold a model the same script can load and serve.
    data = load_example_module("data.py")
    data.write_version(data.make_version("breast_cancer", seed=1, max_rows=120), tmp_path / "data")
    image_map = {"xgboost-example": f"{sys.executable} {EXAMPLES / 'xgboost' / 'train.py'}"}
    with sagemaker(state_dir=tmp_path / "state", image_map=image_map, event_sink=lambda e: None) as engine:
        sm = boto3.client("sagemaker", region_name="us-east-1")
        sm.create_training_job(
            TrainingJobName="stopped-1",
            HyperParameters={"objective": "binary:logistic", "eval_metric": "auc", "num_round": "1000000"},
            AlgorithmSpecification={"TrainingImage": "xgboost-example", "TrainingInputMode": "File"},
            RoleArn="arn:aws:iam::123456789012:role/SageMakerRole",
            InputDataConfig=[
                {
                    "ChannelName": channel,
                    "DataSource": {
                        "S3DataSource": {
                            "S3DataType": "S3Prefix",
                            "S3Uri": (tmp_path / "data" / channel).as_uri(),
                        }
                    },
                }
                for channel in ("train", "validation")
            ],
            OutputDataConfig={"S3OutputPath": (tmp_path / "out").as_uri()},
            ResourceConfig={"InstanceType": "ml.m5.large", "InstanceCount": 1, "VolumeSizeInGB": 1},
            StoppingCondition={"MaxRuntimeInSeconds": 300},
        )
        deadline = time.monotonic() + 60
        while "[3]" not in engine.trial_log("stopped-1"):
            assert time.monotonic() < deadline, engine.trial_log("stopped-1")
            time.sleep(0.05)
        sm.stop_training_job(TrainingJobName="stopped-1")
        assert engine.wait("stopped-1", 60) == "Stopped"
        artifact = sm.describe_training_job(TrainingJobName="stopped-1")["ModelArtifacts"]["S3ModelArtifacts"]
    with tarfile.open(artifact.removeprefix("file://")) as tar:
        member = tar.extractfile("xgboost-model")
        assert member is not None
        booster = xgb.Booster()
        booster.load_model(bytearray(member.read()))
    assert 4 <= booster.num_boosted_rounds() < 1000000
    assert "stop requested (SIGTERM)" in engine.trial_log("stopped-1")
