"""The champion's evaluation job with real training: the local engine runs the example script in evaluate-only
mode on the champion's model.tar.gz and the new data, and the real ASL compares like with like."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from sm_support import MODEL, PROFILE, ROOT

from amtflow.local.twin import ExecutionStatus, Twin


def make_version(tmp_path: Path, name: str, *args: str) -> Path:
    out = tmp_path / name
    subprocess.run(
        [
            sys.executable,
            str(ROOT / "examples" / "data.py"),
            *("--dataset", "breast_cancer", "--out", str(out), "--max-rows", "200"),
            *args,
        ],
        check=True,
        capture_output=True,
    )
    return out


def upload(twin: Twin, version: str, data: Path, *, marker: bool) -> None:
    for path in sorted(data.rglob("*.csv")):
        twin.put_object(f"datasets/{MODEL}/{version}/{path.relative_to(data).as_posix()}", path.read_bytes())
    if marker:
        twin.put_object(f"datasets/{MODEL}/{version}/_READY", b"")


@pytest.mark.slow
def test_on_new_data_the_engine_scores_the_champion_and_promotion_compares_on_that_data(
    tmp_path: Path,
) -> None:
    v1 = make_version(tmp_path, "v1", "--seed", "1")
    v2 = make_version(tmp_path, "v2", "--seed", "2", "--drift", "moderate")
    quick = PROFILE.replace(
        "limits: {max_jobs: 30, max_parallel: 3, max_runtime_s: 7200}",
        "limits: {max_jobs: 2, max_parallel: 1, max_runtime_s: 600}",
    ).replace("num_round: 200", "num_round: 20")
    assert "max_jobs: 2" in quick
    options = {"image_map": str(ROOT / "examples" / "image-map.yaml"), "state_dir": str(tmp_path / "engine")}
    with Twin.start(ROOT, engine_options=options, work_dir=tmp_path / "twin") as twin:
        twin.put_object(f"profiles/{MODEL}.yaml", quick)
        upload(twin, "v1", v1, marker=True)
        (first,) = twin.wait_for_executions(timeout=600)
        assert first.status is ExecutionStatus.SUCCEEDED, first.cause

        upload(twin, "v2", v2, marker=False)
        twin.start_execution({"model": MODEL, "action": "tune", "datasetVersion": "v2"})
        second = next(e for e in twin.wait_for_executions(timeout=600) if e.name != first.name)

        assert second.status is ExecutionStatus.SUCCEEDED, second.cause
        assert "EvaluateChampion" in second.states
        assert "Promote" in second.states
        note = next(n for n in twin.notifications() if n.json()["plan"]["datasetVersion"] == "v2")
        promotion = note.json()["evaluation"]["promotion"]
        assert promotion["outcome"] in ("promoted", "kept_champion")
        assert promotion["championValueDatasetVersion"] == "v2"  # measured on the new data, not v1's
        assert 0.5 < promotion["championValue"] <= 1.0
        assert promotion["crossedDatasets"] is False
        assert "evaluated on the challenger's validation data" in promotion["reason"]
        assert note.attributes["promotion"] == promotion["outcome"]
