"""One run with real training: the local AMT engine serves SageMaker, the twin runs the real ASL."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from sm_support import MODEL, PROFILE, ROOT

from amtflow.adapters import DynamoDBLineageStore
from amtflow.lineage import SpendBasis
from amtflow.local.twin import ExecutionStatus, Twin


@pytest.mark.slow
def test_a_dataset_version_is_really_tuned_evaluated_and_notified(tmp_path: Path) -> None:
    data = tmp_path / "data"
    subprocess.run(
        [
            sys.executable,
            str(ROOT / "examples" / "data.py"),
            "--dataset",
            "breast_cancer",
            "--out",
            str(data),
            "--seed",
            "1",
        ],
        check=True,
        capture_output=True,
    )
    quick = PROFILE.replace(
        "limits: {max_jobs: 30, max_parallel: 3, max_runtime_s: 7200}",
        "limits: {max_jobs: 2, max_parallel: 1, max_runtime_s: 600}",
    )
    assert quick != PROFILE
    options = {"image_map": str(ROOT / "examples" / "image-map.yaml"), "state_dir": str(tmp_path / "engine")}
    with Twin.start(ROOT, engine_options=options, work_dir=tmp_path / "twin") as twin:
        twin.put_object(f"profiles/{MODEL}.yaml", quick)
        for path in sorted(data.rglob("*.csv")):
            twin.put_object(f"datasets/{MODEL}/v1/{path.relative_to(data).as_posix()}", path.read_bytes())
        twin.put_object(f"datasets/{MODEL}/v1/_READY", b"")
        (run,) = twin.wait_for_executions(timeout=600)

        assert run.status is ExecutionStatus.SUCCEEDED, run.cause
        (note,) = twin.notifications()
        evaluation = note.json()["evaluation"]
        assert note.attributes == {"model": MODEL, "outcome": "succeeded", "promotion": "promoted"}
        assert len(evaluation["leaderboard"]) == 2
        values = [t["objectiveValue"] for t in evaluation["leaderboard"]]
        assert values == sorted(values, reverse=True)
        assert 0.5 < evaluation["best"]["objectiveValue"] <= 1.0
        assert evaluation["best"]["modelArtifacts"].endswith("model.tar.gz")

        # The run's cost is its trials' billable time as the engine reports it, at the profile's price.
        store = DynamoDBLineageStore(twin.client("dynamodb"), twin.physical_id("StateTable"))
        (record,) = store.list_runs(MODEL)
        assert record.launched is True
        assert record.spend_basis is SpendBasis.ACTUAL
        assert record.billable_s is not None
        assert record.billable_s >= 2
        hourly = record.hourly_usd["ml.m5.xlarge"]
        assert record.cost_usd == pytest.approx(record.billable_s * hourly / 3600, abs=1e-4)
        assert store.month_to_date_spend(MODEL, twin.now()) == pytest.approx(record.cost_usd)
