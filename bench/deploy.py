"""Deployments in the local twin: seconds from a model package's approval to the endpoint InService, and
the deployment execution's state transitions and Lambda invocations.

The real template, ASL and handlers run in the local twin; the local engine serves the endpoints with a
stdlib stand-in container (``tests/local/engine/scripts/serve.py``: it pings 200 at once and echoes), so
the figures are amtflow's own overhead plus the engine's fleet start-up, not a model's load time. Each
repeat registers a new package version in the stack's group, approved, and puts the "SageMaker Model
Package State Change" event SageMaker would send: the first creates the endpoint, the others update it
blue/green (canary of 50 %, ``--wait`` seconds of baking). A first deployment imports every handler (a
Lambda cold start) and is printed, not counted.

Figures (medians over the repeats, each time with its 95 % bootstrap interval):

``approval_to_in_service_s``
    wall clock from ``PutEvents`` of the approval to the endpoint InService on the new configuration;
``approval_to_notified_s``
    from the approval to the deployment's notification (the execution's end);
``state_transitions_per_deployment``, ``lambda_invocations_per_deployment``
    from the execution's history (no state is entered twice: no polling loop).

JSON: those four keys, and ``"interval": {"approval_to_in_service_s": {...}, "approval_to_notified_s":
{...}}`` (``_common.median_interval``).

    python bench/deploy.py              # 10 repeats
    python bench/deploy.py --quick      # 2 repeats
"""

from __future__ import annotations

import io
import json
import os
import statistics
import sys
import tarfile
import tempfile
import time
import warnings
from pathlib import Path
from typing import Any

from _common import REPO, base_parser, median_interval, show_interval, table, write_json
from _tuning import FAKE_AWS

MODEL = "bench-deploy"
GROUP = f"amtf-{MODEL}"
ENDPOINT = f"amtf-{MODEL}"
IMAGE = "123456789012.dkr.ecr.us-east-1.amazonaws.com/echo:1"
SERVE = REPO / "tests" / "local" / "engine" / "scripts" / "serve.py"
QUIET = {"POWERTOOLS_LOG_LEVEL": "ERROR", "POWERTOOLS_METRICS_DISABLED": "true"}


def _archive(answer: str) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        data = json.dumps({"answer": answer}).encode()
        info = tarfile.TarInfo("model.json")
        info.size = len(data)
        tar.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


def _profile(wait: int) -> str:
    text = (REPO / "examples" / "xgboost" / "profile.yaml").read_text()
    text = text.replace("model: cancer-xgb", f"model: {MODEL}", 1)
    return text + f"\ndeployment:\n  canary: {{size_percent: 50, wait_s: {wait}}}\n  keep_configs: 1\n"


def _approve(twin: Any, version: int) -> float:
    """Register an approved package version and put its approval event; returns when it was put."""
    sm = twin.client("sagemaker")
    key = f"runs/{MODEL}/v{version}/model.tar.gz"
    twin.put_object(key, _archive(f"v{version}"))
    arn = sm.create_model_package(
        ModelPackageGroupName=GROUP,
        InferenceSpecification={
            "Containers": [{"Image": IMAGE, "ModelDataUrl": f"s3://{twin.physical_id('DataBucket')}/{key}"}],
            "SupportedContentTypes": ["text/csv"],
            "SupportedResponseMIMETypes": ["text/csv"],
        },
        ModelApprovalStatus="Approved",
        CustomerMetadataProperties={"amtflow:model": MODEL},
    )["ModelPackageArn"]
    detail = {
        "ModelPackageGroupName": GROUP,
        "ModelPackageVersion": version,
        "ModelPackageArn": arn,
        "ModelPackageStatus": "Completed",
        "ModelApprovalStatus": "Approved",
    }
    start = time.perf_counter()
    twin.put_events(
        [{"Source": "aws.sagemaker", "DetailType": "SageMaker Model Package State Change", "Detail": detail}]
    )
    return start


def _serving(twin: Any, answer: str, timeout: float = 300) -> float:
    """When the endpoint first answers with ``answer`` (InService on the new configuration)."""
    runtime = twin.client("sagemaker-runtime")
    sm = twin.client("sagemaker")
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        names = [e["EndpointName"] for e in sm.list_endpoints()["Endpoints"]]
        if ENDPOINT in names and sm.describe_endpoint(EndpointName=ENDPOINT)["EndpointStatus"] == "InService":
            body = runtime.invoke_endpoint(EndpointName=ENDPOINT, Body=b"1", ContentType="text/csv")["Body"]
            if body.read().decode().startswith(f"{answer}:"):
                return time.perf_counter()
        time.sleep(0.05)
    raise TimeoutError(f"{ENDPOINT} never served {answer}")


def measure(work: Path, *, repeats: int, wait: int) -> list[dict[str, float]]:
    from amtflow.local import sagemaker as local_engine
    from amtflow.local.twin import EventSink, ExecutionStatus, ManualClock, Twin

    def engine(sink: EventSink) -> Any:
        import boto3

        return local_engine(
            state_dir=work / "engine",
            image_map={"echo": f"{sys.executable} {SERVE}"},
            event_sink=sink,
            cloudwatch_client=boto3.client("cloudwatch", region_name="us-east-1"),
        )

    rows: list[dict[str, float]] = []
    with Twin.start(
        REPO, sagemaker=engine, clock=ManualClock(), work_dir=work / "twin", environment=QUIET
    ) as twin:
        twin.put_object(f"profiles/{MODEL}.yaml", _profile(wait))
        twin.client("sagemaker").create_model_package_group(ModelPackageGroupName=GROUP)
        for version in range(1, repeats + 2):
            put = _approve(twin, version)
            served = _serving(twin, f"v{version}")
            runs = [e for e in twin.wait_for_executions(timeout=300) if e.name.startswith("deploy-")]
            run = runs[-1]
            done = time.perf_counter()
            if run.status is not ExecutionStatus.SUCCEEDED or len(set(run.states)) != len(run.states):
                raise RuntimeError(f"deployment {version}: {run.status} {run.cause} states {run.states}")
            row = {
                "approval_to_in_service_s": served - put,
                "approval_to_notified_s": done - put,
                "state_transitions": float(len(run.states)),
                "lambda_invocations": float(run.lambda_invocations),
            }
            label = "warm-up (not counted)" if version == 1 else f"deployment {version - 1}"
            print(f"{label}: in service after {row['approval_to_in_service_s']:.2f}s", flush=True)
            if version > 1:
                rows.append(row)
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = base_parser(__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=0, help="measured deployments (default 10; 2 quick)")
    parser.add_argument("--wait", type=int, default=1, help="the canary's baking seconds (default 1)")
    args = parser.parse_args(argv)
    repeats = args.repeats or (2 if args.quick else 10)
    for key, value in FAKE_AWS.items():
        os.environ.setdefault(key, value)
    warnings.filterwarnings("ignore", message="Dimension .* has already been added")
    with tempfile.TemporaryDirectory(prefix="amtflow-bench-deploy-") as tmp:
        rows = measure(Path(tmp), repeats=repeats, wait=args.wait)
    keys = ("approval_to_in_service_s", "approval_to_notified_s", "state_transitions", "lambda_invocations")
    medians = {k: statistics.median(r[k] for r in rows) for k in keys}
    timed = ("approval_to_in_service_s", "approval_to_notified_s")
    spread = {k: median_interval([r[k] for r in rows]) for k in timed}
    print(
        table(
            ["figure", "median", "95% interval"],
            [[k, v, show_interval(spread[k]) if k in spread else "exact"] for k, v in medians.items()],
        )
    )
    write_json(
        args.json,
        {
            "approval_to_in_service_s": round(medians["approval_to_in_service_s"], 3),
            "approval_to_notified_s": round(medians["approval_to_notified_s"], 3),
            "state_transitions_per_deployment": medians["state_transitions"],
            "lambda_invocations_per_deployment": medians["lambda_invocations"],
            "interval": spread,
        },
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
