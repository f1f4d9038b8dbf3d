"""One run of a multi-algorithm profile (examples/xgboost-vs-mlp) through the twin and the local engine."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from sm_support import ROOT

from amtflow.adapters import DynamoDBLineageStore
from amtflow.local.twin import ExecutionStatus, Twin

EXAMPLE = ROOT / "examples" / "xgboost-vs-mlp" / "profile.yaml"


@pytest.mark.slow
def test_a_multi_algorithm_run_tunes_both_algorithms_and_promotes_the_winner(tmp_path: Path) -> None:
    data = tmp_path / "data"
    script = str(ROOT / "examples" / "data.py")
    subprocess.run(
        [sys.executable, script, "--dataset", "breast_cancer", "--out", str(data), "--seed", "1"],
        check=True,
        capture_output=True,
    )
    doc = yaml.safe_load(EXAMPLE.read_text())
    model = doc["model"]
    doc["tuning"]["limits"] = {"max_jobs": 2, "max_parallel": 1, "max_runtime_s": 600}
    doc["algorithms"][0]["static_hyperparameters"]["num_round"] = 10
    doc["algorithms"][1]["static_hyperparameters"]["epochs"] = 4
    options = {"image_map": str(ROOT / "examples" / "image-map.yaml"), "state_dir": str(tmp_path / "engine")}
    with Twin.start(ROOT, engine_options=options, work_dir=tmp_path / "twin") as twin:
        twin.put_object(f"profiles/{model}.yaml", yaml.safe_dump(doc))
        for path in sorted(data.rglob("*.csv")):
            twin.put_object(f"datasets/{model}/v1/{path.relative_to(data).as_posix()}", path.read_bytes())
        twin.put_object(f"datasets/{model}/v1/_READY", b"")
        (run,) = twin.wait_for_executions(timeout=600)

        assert run.status is ExecutionStatus.SUCCEEDED, run.cause
        (note,) = twin.notifications()
        assert note.attributes["outcome"] == "succeeded"
        evaluation = note.json()["evaluation"]
        # Bayesian search gives the definitions turns: one trial of each, ranked together
        assert sorted(t["definitionName"] for t in evaluation["leaderboard"]) == ["mlp", "xgboost"]
        values = [t["objectiveValue"] for t in evaluation["leaderboard"]]
        assert values == sorted(values)  # log loss: lower is better
        best = evaluation["best"]
        winner = {a["name"]: a["image"] for a in doc["algorithms"]}[best["definitionName"]]
        assert best["trainingImage"] == winner
        store = DynamoDBLineageStore(twin.client("dynamodb"), twin.physical_id("StateTable"))
        champion = store.get_champion(model)
        assert champion is not None
        assert champion.training_image == winner
        assert champion.training_job == best["trainingJobName"]
