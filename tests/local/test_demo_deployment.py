"""The demo's deployment step (step 6) in the twin, with the engine serving a stand-in container: the first
package is approved and answers, a later one rolls out by canary, a broken one is rolled back; the report
gets the deployments."""

from __future__ import annotations

import io
import json
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from stand_in_model import model_archive

from amtflow.local import sagemaker as local_sagemaker
from amtflow.local.apps.demo._deployment import DEPLOYMENT_SECTION, deployment_story
from amtflow.local.apps.demo._timeline import Follower, Timeline
from amtflow.local.apps.report import write_report
from amtflow.local.twin import ManualClock, Twin

ROOT = Path(__file__).resolve().parents[2]
SERVE = ROOT / "tests" / "local" / "engine" / "scripts" / "serve.py"
IMAGE = "123456789012.dkr.ecr.us-east-1.amazonaws.com/echo:1"
MODEL = "cancer-xgb"
GROUP = f"amtf-{MODEL}"

pytestmark = pytest.mark.slow


@pytest.fixture
def twin(tmp_path: Path) -> Iterator[Twin]:
    def engine(sink: Any) -> Any:
        cloudwatch = boto3.client(
            "cloudwatch",
            region_name="us-east-1",
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
        )
        return local_sagemaker(
            state_dir=tmp_path / "engine",
            event_sink=sink,
            image_map={"echo": f"{sys.executable} {SERVE}"},
            cloudwatch_client=cloudwatch,
        )

    profile = (ROOT / "examples" / "xgboost" / "profile.yaml").read_text()
    section = json.dumps(DEPLOYMENT_SECTION)
    with Twin.start(ROOT, sagemaker=engine, clock=ManualClock(), work_dir=tmp_path / "twin") as app:
        app.put_object(f"profiles/{MODEL}.yaml", f"{profile}\ndeployment: {section}\n")
        app.put_object(f"datasets/{MODEL}/v1/validation/data.csv", "1,0.5,0.25\n0,0.1,0.2\n")
        sm = app.client("sagemaker")
        sm.create_model_package_group(ModelPackageGroupName=GROUP)
        for version in (1, 2):
            key = f"runs/{MODEL}/v{version}/model.tar.gz"
            app.put_object(key, model_archive(answer=f"v{version}"))
            sm.create_model_package(
                ModelPackageGroupName=GROUP,
                InferenceSpecification={
                    "Containers": [
                        {"Image": IMAGE, "ModelDataUrl": f"s3://{app.physical_id('DataBucket')}/{key}"}
                    ],
                    "SupportedContentTypes": ["text/csv"],
                    "SupportedResponseMIMETypes": ["text/csv"],
                },
                ModelApprovalStatus="PendingManualApproval",
                CustomerMetadataProperties={"amtflow:model": MODEL},
            )
        yield app


def test_the_demos_deployment_step_serves_rolls_out_and_rolls_back(twin: Twin, tmp_path: Path) -> None:
    out = io.StringIO()
    tl = Timeline(out)
    checks: list[tuple[str, bool]] = []
    steps: list[str] = []
    deployments = deployment_story(
        twin,
        tl,
        Follower(twin, tl),
        model=MODEL,
        timeout=120,
        step=steps.append,
        check=lambda text, ok: checks.append((text, ok)),
    )
    assert len(steps) == 1
    assert checks
    assert all(ok for _, ok in checks), (checks, out.getvalue()[-3000:])
    assert [d["status"] for d in deployments] == ["deployed", "deployed", "rolled_back"]
    assert deployments[0]["prediction"].startswith("v1:")
    assert deployments[1]["prediction"].startswith("v2:")
    assert deployments[2]["prediction"] is None
    assert deployments[2]["reason"]
    assert "InvokeEndpoint amtf-cancer-xgb text/csv [0.5,0.25...] -> v1:" in out.getvalue()

    page = write_report(
        tmp_path / "report",
        title="t",
        runs=[],
        timeline=[],
        notifications=[],
        executions=[],
        deployments=deployments,
    )
    assert "<h2>Deployments</h2>" in page.read_text()
    assert json.loads((tmp_path / "report" / "report.json").read_text())["deployments"] == deployments
