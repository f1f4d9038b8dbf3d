"""examples/xgboost/train.py behaves like the built-in XGBoost algorithm under the training contract."""

from __future__ import annotations

import re

import pytest
import xgboost as xgb
from example_support import EXAMPLES, MlDir, load_example_module, write_dataset

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
