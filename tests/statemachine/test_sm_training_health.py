"""Training health through the real ASL: the local AMT engine runs a script that overfits on purpose, and the
run's notification names the overfitting rule (AMT301) with its fix."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from sm_support import MODEL, PROFILE, ROOT

from amtflow.local.twin import ExecutionStatus, Twin

SCRIPT = Path(__file__).parent / "scripts" / "overfit.py"
IMAGE = "123456789012.dkr.ecr.us-east-1.amazonaws.com/amtflow-overfit:1"


@pytest.mark.slow
def test_a_trial_that_overfits_is_named_in_the_notification_with_the_fix(tmp_path: Path) -> None:
    profile = PROFILE.replace(
        "image: 683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-xgboost:1.7-1", f"image: {IMAGE}"
    ).replace(
        "limits: {max_jobs: 30, max_parallel: 3, max_runtime_s: 7200}",
        "limits: {max_jobs: 2, max_parallel: 1, max_runtime_s: 600}",
    )
    assert IMAGE in profile
    assert "max_jobs: 2" in profile
    image_map = tmp_path / "image-map.yaml"
    image_map.write_text(f'amtflow-overfit: "{sys.executable} {SCRIPT}"\n')
    options = {"image_map": str(image_map), "state_dir": str(tmp_path / "engine")}
    with Twin.start(ROOT, engine_options=options, work_dir=tmp_path / "twin") as twin:
        twin.put_object(f"profiles/{MODEL}.yaml", profile)
        twin.put_object(f"datasets/{MODEL}/v1/train/part-0.csv", "1,0.5\n0,0.1\n1,0.7\n")
        twin.put_object(f"datasets/{MODEL}/v1/validation/part-0.csv", "1,0.4\n0,0.2\n")
        twin.put_object(f"datasets/{MODEL}/v1/_READY", b"")
        (run,) = twin.wait_for_executions(timeout=300)

        assert run.status is ExecutionStatus.SUCCEEDED, run.cause
        (note,) = twin.notifications()
        assert note.attributes["outcome"] == "succeeded"  # a health finding informs, it does not block
        (finding,) = [f for f in note.json()["evaluation"]["diagnosis"] if f["rule"] == "AMT301"]
        assert "2 of the 2 trial(s) examined" in finding["message"]
        assert "train:auc" in finding["message"]
        assert "0.95 to 0.77" in finding["message"]  # validation AUC: its best, then where it ended
        assert finding["severity"] == "warning"
        assert finding["fix"].startswith("Add early stopping")
        assert "alpha/lambda" in finding["fix"]
