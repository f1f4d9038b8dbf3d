"""One tuning run in the local twin: state transitions, Lambda calls, event-to-job latency, overhead.

The real template, ASL and handlers run in the local twin with the local AMT engine behind SageMaker and
the XGBoost example (examples/xgboost, Bayesian search on ``validation:auc``, early stopping and completion
criteria off so every run uses its whole budget). Each run is a model's first dataset version (one model
per run, so every run is a cold-start tuning run whatever the data): the channel files are put, then the
marker object, which starts router → state machine → plan → tuning job → callback → evaluate → notify.
A first, two-trial run imports every handler (what a Lambda cold start costs) and is printed, not counted.

Figures, averaged over the measured runs:

``state_transitions_per_run``
    states entered in the execution's history (target ≤ 25);
``lambda_invocations_per_run``
    Lambda tasks scheduled in the execution's history (target ≤ 8); the router and job-event calls outside
    the execution are printed too. No state is entered twice in a run (no polling loop): checked and
    printed;
``event_to_job_s``
    wall clock from the marker object's ``PutObject`` to the tuning job's ``CreationTime``;
``overhead_fraction``
    ``(twin seconds - engine seconds) / engine seconds`` summed over runs, where twin seconds run from the
    marker's ``PutObject`` to the execution's end and engine seconds from ``CreateHyperParameterTuningJob``
    to the job's terminal event when the same request (read back from the twin's job: same configuration,
    ``RandomSeed``, data and output in S3) runs on the engine alone, after the twin has stopped.

JSON: ``{"state_transitions_per_run": x, "lambda_invocations_per_run": x, "event_to_job_s": x,
"overhead_fraction": x, "interval": {"event_to_job_s": {...}, "overhead_fraction": {...}}}``, each
``{...}`` the median over runs with its 95 % bootstrap interval (``_common.median_interval``).

    python bench/twin.py            # 10 runs of 8 trials
    python bench/twin.py --quick    # 1 run of 3 trials
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
import threading
import time
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import yaml
from _common import (
    EXAMPLES,
    REPO,
    base_parser,
    load_example,
    median_interval,
    show_interval,
    table,
    write_json,
)
from _tuning import FAKE_AWS

MAX_TRANSITIONS = 25
MAX_INVOCATIONS = 8
START = datetime(2026, 11, 4, 22, 0, tzinfo=UTC)
QUIET = {"POWERTOOLS_LOG_LEVEL": "ERROR", "POWERTOOLS_METRICS_DISABLED": "true"}
TERMINAL = ("Completed", "Failed", "Stopped")
TUNING_EVENT = "SageMaker HyperParameter Tuning Job State Change"


@dataclass(frozen=True)
class TwinRun:
    model: str
    status: str
    states: tuple[str, ...]
    lambda_invocations: int
    outside_invocations: int
    event_to_job_s: float
    job_s: float
    twin_s: float
    request: dict[str, Any]
    objects: dict[str, bytes]

    @property
    def repeated_states(self) -> list[str]:
        return sorted({s for s in self.states if self.states.count(s) > 1})


def profile(model: str, *, trials: int, rounds: int) -> dict[str, Any]:
    """The XGBoost example's profile, renamed, with the bench's budget."""
    doc: dict[str, Any] = yaml.safe_load((EXAMPLES / "xgboost" / "profile.yaml").read_text(encoding="utf-8"))
    doc["model"] = model
    doc["tuning"]["limits"] = {"max_jobs": trials, "max_parallel": min(2, trials), "max_runtime_s": 1800}
    doc["tuning"]["early_stopping"] = "Off"
    doc["tuning"].pop("completion", None)
    doc["training"]["static_hyperparameters"]["num_round"] = rounds
    return doc


def create_request(described: Mapping[str, Any]) -> dict[str, Any]:
    """The ``CreateHyperParameterTuningJob`` request behind a ``DescribeHyperParameterTuningJob`` response."""
    keys = (
        "HyperParameterTuningJobName",
        "HyperParameterTuningJobConfig",
        "TrainingJobDefinition",
        "TrainingJobDefinitions",
        "WarmStartConfig",
        "Autotune",
    )
    return {k: described[k] for k in keys if described.get(k)}


def run_in_twin(root: Path, work: Path, *, runs: int, trials: int, rounds: int) -> tuple[list[TwinRun], str]:
    """A warm-up run, then ``runs`` measured tuning runs in the twin; return those and the data bucket."""
    from amtflow.local.engine import sagemaker as local_engine
    from amtflow.local.twin import EventSink, ManualClock, Twin

    def engine(sink: EventSink) -> Any:
        return local_engine(
            state_dir=work / "twin-engine",
            image_map=EXAMPLES / "image-map.yaml",
            event_sink=sink,
            max_workers=2,
        )

    with Twin.start(
        root, sagemaker=engine, clock=ManualClock(START), work_dir=work, environment=QUIET, seed=1
    ) as twin:
        warm_up = one_run(twin, work, "bench-twin-warm-up", seed=0, trials=2, rounds=10)
        print(
            f"warm-up run (handlers imported for the first time, as a Lambda cold start; not counted): "
            f"{warm_up.status}, job created {warm_up.event_to_job_s:.2f}s after the marker, run "
            f"{warm_up.twin_s:.1f}s",
            flush=True,
        )
        results = []
        for i in range(1, runs + 1):
            run = one_run(twin, work, f"bench-twin-{i}", seed=i, trials=trials, rounds=rounds)
            results.append(run)
            print(
                f"twin run {i}: {run.status}, {len(run.states)} states, {run.lambda_invocations} Lambda "
                f"calls in the execution (+{run.outside_invocations} outside), job created "
                f"{run.event_to_job_s:.2f}s after the marker, job {run.job_s:.1f}s, run {run.twin_s:.1f}s",
                flush=True,
            )
        bucket = twin.physical_id("DataBucket")
    return results, bucket


def one_run(twin: Any, work: Path, model: str, *, seed: int, trials: int, rounds: int) -> TwinRun:
    """A model's profile and first dataset version land; the run it starts is measured."""
    data = load_example("data.py")
    twin.put_object(
        f"profiles/{model}.yaml",
        yaml.safe_dump(profile(model, trials=trials, rounds=rounds), sort_keys=False),
    )
    files = data.write_version(data.make_version("breast_cancer", seed=seed), work / model / "v1")
    objects = {
        f"datasets/{model}/v1/{channel}/data.csv": Path(path).read_bytes()
        for channel, path in sorted(files.items())
    }
    for key, body in objects.items():
        twin.put_object(key, body)
    twin.wait_idle()
    invocations_before = len(twin.invocations())
    put_at = time.time()
    twin.put_object(f"datasets/{model}/v1/_READY", b"")
    twin.wait_for_executions(timeout=600)
    execution = next(
        e for e in twin.executions() if isinstance(e.input, dict) and e.input.get("model") == model
    )
    sagemaker = twin.client("sagemaker")
    jobs = [
        s["HyperParameterTuningJobName"]
        for s in sagemaker.list_hyper_parameter_tuning_jobs(MaxResults=100)[
            "HyperParameterTuningJobSummaries"
        ]
        if s["HyperParameterTuningJobName"] in str(execution.output)
    ]
    if len(jobs) != 1 or execution.stopped is None:
        raise RuntimeError(
            f"run {model}: expected one tuning job and a finished execution, got {len(jobs)} job(s), "
            f"execution {execution.status.value} {execution.error or ''} {execution.cause or ''}"
        )
    described = sagemaker.describe_hyper_parameter_tuning_job(HyperParameterTuningJobName=jobs[0])
    return TwinRun(
        model=model,
        status=execution.status.value,
        states=execution.states,
        lambda_invocations=execution.lambda_invocations,
        outside_invocations=len(twin.invocations()) - invocations_before - execution.lambda_invocations,
        event_to_job_s=described["CreationTime"].timestamp() - put_at,
        job_s=(described["HyperParameterTuningEndTime"] - described["CreationTime"]).total_seconds(),
        twin_s=execution.stopped.timestamp() - put_at,
        request=create_request(described),
        objects=objects,
    )


def run_engine_alone(work: Path, runs: Sequence[TwinRun], bucket: str) -> list[float]:
    """Seconds from create to the terminal event for each run's request, on the engine alone (S3 in moto)."""
    import boto3
    from moto import mock_aws

    from amtflow.local.engine import sagemaker as local_engine

    seconds: list[float] = []
    with mock_aws():
        s3 = boto3.client("s3", region_name="us-east-1")
        s3.create_bucket(Bucket=bucket)
        for run in runs:
            for key, body in run.objects.items():
                s3.put_object(Bucket=bucket, Key=key, Body=body)
        done: dict[str, threading.Event] = {}

        def sink(event: Mapping[str, Any]) -> None:  # as EventBridge delivers it
            if event.get("detail-type") != TUNING_EVENT:
                return
            raw = event.get("detail", "{}")
            detail = json.loads(raw) if isinstance(raw, str) else dict(raw)
            if detail.get("HyperParameterTuningJobStatus") in TERMINAL:
                done.setdefault(str(detail.get("HyperParameterTuningJobName")), threading.Event()).set()

        with local_engine(
            state_dir=work / "engine-alone",
            image_map=EXAMPLES / "image-map.yaml",
            event_sink=sink,
            max_workers=2,
        ):
            sagemaker = boto3.client("sagemaker", region_name="us-east-1")
            for i, run in enumerate(runs, 1):
                request = run.request
                name = str(request["HyperParameterTuningJobName"])
                event = done.setdefault(name, threading.Event())
                start = time.time()
                sagemaker.create_hyper_parameter_tuning_job(**request)
                if not event.wait(timeout=600):
                    raise RuntimeError(f"engine alone: {name} did not finish within 600s")
                seconds.append(time.time() - start)
                print(f"engine alone {i}: {name} {seconds[-1]:.1f}s", flush=True)
    return seconds


def figures(runs: Sequence[TwinRun], engine_seconds: Sequence[float]) -> dict[str, Any]:
    n = len(runs)
    twin_total, engine_total = sum(r.twin_s for r in runs), sum(engine_seconds)
    return {
        "state_transitions_per_run": round(sum(len(r.states) for r in runs) / n, 2),
        "lambda_invocations_per_run": round(sum(r.lambda_invocations for r in runs) / n, 2),
        "event_to_job_s": round(sum(r.event_to_job_s for r in runs) / n, 3),
        "overhead_fraction": round((twin_total - engine_total) / engine_total, 4),
        "interval": {
            "event_to_job_s": median_interval([r.event_to_job_s for r in runs]),
            "overhead_fraction": median_interval(
                [(r.twin_s - e) / e for r, e in zip(runs, engine_seconds, strict=True)]
            ),
        },
    }


def main(argv: Sequence[str] | None = None) -> int:
    parser = base_parser(__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, help="tuning runs (default 10, quick 1)")
    parser.add_argument("--trials", type=int, help="trials per tuning job (default 8, quick 3)")
    parser.add_argument(
        "--rounds", type=int, help="XGBoost boosting rounds per trial (default 200, quick 40)"
    )
    args = parser.parse_args(argv)
    runs = args.runs or (1 if args.quick else 10)
    trials = args.trials or (3 if args.quick else 8)
    rounds = args.rounds or (40 if args.quick else 200)
    if min(runs, trials, rounds) < 1:
        parser.error("--runs, --trials and --rounds must be at least 1")
    for key, value in FAKE_AWS.items():
        os.environ.setdefault(key, value)
    # With metrics switched off Powertools never flushes, so a warm handler's dimensions pile up.
    warnings.filterwarnings("ignore", message="Dimension .* has already been added")

    start = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="amtflow-bench-twin-") as tmp:
        work = Path(tmp)
        twin_runs, bucket = run_in_twin(REPO, work, runs=runs, trials=trials, rounds=rounds)
        engine_seconds = run_engine_alone(work, twin_runs, bucket)
    result = figures(twin_runs, engine_seconds)
    rows = [
        [
            r.model,
            r.status,
            len(r.states),
            r.lambda_invocations,
            r.outside_invocations,
            r.event_to_job_s,
            r.job_s,
            r.twin_s - r.job_s,
            r.twin_s,
            e,
        ]
        for r, e in zip(twin_runs, engine_seconds, strict=True)
    ]
    print(
        table(
            [
                "run",
                "status",
                "states",
                "Lambda (execution)",
                "Lambda (outside)",
                "event->job s",
                "job s",
                "outside job s",
                "twin s",
                "engine s",
            ],
            rows,
        )
    )
    print("states of a run: " + " -> ".join(twin_runs[0].states))
    loops = sorted({s for r in twin_runs for s in r.repeated_states})
    checks = [
        (not loops, "no state entered twice in a run" + (": " + ", ".join(loops) if loops else "")),
        (
            result["state_transitions_per_run"] <= MAX_TRANSITIONS,
            f"{result['state_transitions_per_run']:g} state transitions per run "
            f"(target <= {MAX_TRANSITIONS})",
        ),
        (
            result["lambda_invocations_per_run"] <= MAX_INVOCATIONS,
            f"{result['lambda_invocations_per_run']:g} Lambda invocations per run "
            f"(target <= {MAX_INVOCATIONS})",
        ),
    ]
    for ok, text in checks:
        print(f"{'PASS' if ok else 'MISS'} {text}")
    spread = result["interval"]
    print(
        f"event to job {result['event_to_job_s']:.2f}s (per run: "
        f"{show_interval(spread['event_to_job_s'])} s); twin overhead over the engine alone "
        f"{result['overhead_fraction']:+.1%} (per run: "
        f"{show_interval(spread['overhead_fraction'], '{:+.1%}')}); "
        f"{runs} run(s) x {trials} trials, wall clock {time.perf_counter() - start:.0f}s"
    )
    write_json(args.json, result)
    return 0


if __name__ == "__main__":
    sys.exit(main())
