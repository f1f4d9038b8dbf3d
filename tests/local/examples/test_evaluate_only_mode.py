"""Evaluate-only mode of the example scripts: a trained model.tar.gz scored on new validation data, printed in
the training format so the profile's metric regexes read the champion's objective."""

from __future__ import annotations

import re
import shutil
import tarfile
from pathlib import Path

import pytest
from example_support import EXAMPLES, MlDir, load_example_module, write_dataset

from amtflow.profile import load_profile_file

XGB = load_example_module("xgboost/train.py")
MLP = load_example_module("mlp/train.py")


def regexes(example: str) -> dict[str, re.Pattern[str]]:
    profile = load_profile_file(EXAMPLES / example / "profile.yaml")
    return {m.name: re.compile(m.regex) for m in profile.training.metrics}


def values(stdout: str, pattern: re.Pattern[str]) -> list[float]:
    return [float(m.group(1)) for line in stdout.splitlines() if (m := pattern.search(line))]


def package(model_dir: Path, into: Path) -> None:
    """Pack a model folder the way SageMaker (and the local engine) does: ``model.tar.gz``."""
    into.mkdir(parents=True, exist_ok=True)
    with tarfile.open(into / "model.tar.gz", "w:gz") as tar:
        for path in sorted(model_dir.iterdir()):
            tar.add(path, arcname=path.name)


def train_then_evaluate_on_drifted_data(
    tmp_path: Path, script: str, dataset: str, hyperparameters: dict[str, str]
) -> tuple[MlDir, MlDir]:
    trained = MlDir(tmp_path / "train" / "opt" / "ml")
    for sub in ("input/config", "input/data", "model", "output"):
        (trained.root / sub).mkdir(parents=True)
    write_dataset(trained, dataset, max_rows=300)
    trained.write_hyperparameters(hyperparameters)
    result = trained.run(script)
    assert result.returncode == 0, result.stderr

    scoring = MlDir(tmp_path / "evaluate" / "opt" / "ml")
    for sub in ("input/config", "input/data", "model", "output"):
        (scoring.root / sub).mkdir(parents=True)
    write_dataset(scoring, dataset, max_rows=300, seed=2, drift="moderate")
    shutil.rmtree(scoring.channel("train"))  # an evaluation job gets only the validation channel
    package(trained.model, scoring.channel("model"))
    return trained, scoring


def test_xgboost_scores_the_packaged_model_on_the_validation_channel_in_the_built_in_format(
    tmp_path: Path,
) -> None:
    static = {"objective": "binary:logistic", "eval_metric": "auc", "num_round": "10", "max_depth": "3"}
    _, scoring = train_then_evaluate_on_drifted_data(tmp_path, "xgboost/train.py", "breast_cancer", static)
    scoring.write_hyperparameters({**static, "amtflow_evaluate_only": "true"})

    result = scoring.run("xgboost/train.py")

    assert result.returncode == 0, result.stderr
    (auc,) = values(result.stdout, regexes("xgboost")["validation:auc"])
    assert 0.5 < auc <= 1.0
    assert re.search(r"^\[0\]\tvalidation-auc:[0-9.]+$", result.stdout, re.MULTILINE)
    assert values(result.stdout, regexes("xgboost")["train:auc"]) == []  # nothing was trained
    assert list(scoring.model.iterdir()) == []


def test_mlp_scores_the_packaged_model_on_the_validation_channel_in_the_training_format(
    tmp_path: Path,
) -> None:
    hps = {"epochs": "3", "hidden_units": "16", "learning_rate_init": "0.01"}
    _, scoring = train_then_evaluate_on_drifted_data(tmp_path, "mlp/train.py", "digits", hps)
    scoring.write_hyperparameters({**hps, "amtflow_evaluate_only": "1"})

    result = scoring.run("mlp/train.py")

    assert result.returncode == 0, result.stderr
    patterns = regexes("mlp")
    (loss,) = values(result.stdout, patterns["validation:loss"])
    (accuracy,) = values(result.stdout, patterns["validation:accuracy"])
    assert loss > 0
    assert 0.0 <= accuracy <= 1.0
    assert values(result.stdout, patterns["train:loss"]) == []


def test_evaluate_only_without_a_model_channel_fails_naming_the_channel(
    ml_dir: MlDir, monkeypatch: pytest.MonkeyPatch
) -> None:
    write_dataset(ml_dir, "breast_cancer", max_rows=100)
    ml_dir.write_hyperparameters(
        {"objective": "binary:logistic", "eval_metric": "auc", "amtflow_evaluate_only": "true"}
    )
    assert ml_dir.run_in_process(XGB, monkeypatch=monkeypatch) == 1
    failure = ml_dir.failure.read_text()
    assert "channel 'model'" in failure
    assert "model.tar.gz" in failure


def test_a_model_trained_on_other_features_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    hps = {"epochs": "2", "hidden_units": "8"}
    _, scoring = train_then_evaluate_on_drifted_data(tmp_path, "mlp/train.py", "digits", hps)
    validation = scoring.channel("validation")
    shutil.rmtree(validation)
    validation.mkdir()
    (validation / "part.csv").write_text("0,1.0,2.0\n1,2.0,3.0\n")
    scoring.write_hyperparameters({**hps, "amtflow_evaluate_only": "true"})
    assert scoring.run_in_process(MLP, monkeypatch=monkeypatch) == 1
    assert "features, but the model was trained on 64" in scoring.failure.read_text()


def test_the_mode_switch_takes_only_true_or_false(ml_dir: MlDir, monkeypatch: pytest.MonkeyPatch) -> None:
    write_dataset(ml_dir, "breast_cancer", max_rows=100)
    ml_dir.write_hyperparameters({"num_round": "2", "amtflow_evaluate_only": "maybe"})
    assert ml_dir.run_in_process(XGB, monkeypatch=monkeypatch) == 1
    assert "'amtflow_evaluate_only' must be true or false" in ml_dir.failure.read_text()
