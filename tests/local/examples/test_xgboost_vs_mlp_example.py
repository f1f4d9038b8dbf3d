"""examples/xgboost-vs-mlp: XGBoost against the MLP on the same data, run by ``amtflow tune``."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from example_support import EXAMPLES, load_example_module

from amtflow.local.cli import main

DATA = load_example_module("data.py")
PROFILE = EXAMPLES / "xgboost-vs-mlp" / "profile.yaml"


def test_amtflow_tune_runs_both_algorithms_and_ranks_them_together(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert DATA.main(["--dataset", "breast_cancer", "--out", str(tmp_path / "data"), "--seed", "1"]) == 0
    doc = yaml.safe_load(PROFILE.read_text())
    doc["tuning"]["limits"] = {"max_jobs": 4, "max_parallel": 2}  # a few short trials
    doc["algorithms"][0]["static_hyperparameters"]["num_round"] = 15
    doc["algorithms"][1]["static_hyperparameters"]["epochs"] = 5
    profile = tmp_path / "profile.yaml"
    profile.write_text(yaml.safe_dump(doc))
    state = tmp_path / "state"
    common = ["--state-dir", str(state)]
    images = ["--image-map", str(EXAMPLES / "image-map.yaml")]
    code = main(["tune", str(profile), "--data", str(tmp_path / "data"), "--name", "vs-1", *common, *images])
    out = capsys.readouterr().out
    assert code == 0, out
    board = out[out.index("leaderboard") :]
    assert "[xgboost]" in board
    assert "[mlp]" in board
    assert main(["describe", "vs-1", "--json", *common]) == 0
    described = json.loads(capsys.readouterr().out)
    assert described["HyperParameterTuningJobStatus"] == "Completed"
    assert [d["DefinitionName"] for d in described["TrainingJobDefinitions"]] == ["xgboost", "mlp"]
    assert described["BestTrainingJob"]["TrainingJobDefinitionName"] in {"xgboost", "mlp"}
    assert described["TrainingJobStatusCounters"]["Completed"] == 4
