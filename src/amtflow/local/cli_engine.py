"""``amtflow tune``, ``amtflow jobs``, ``amtflow describe``: the local AMT engine from the command line.

- ``amtflow tune REQUEST.json|PROFILE.yaml [--state-dir DIR] [--image-map FILE] [--data DIR] [--output DIR]
  [--name NAME] [--max-workers N]`` runs a tuning job on this machine with real training, printing a live
  progress line (running / completed / stopped / failed trials, best so far) and the leaderboard at the
  end. A profile is compiled with :mod:`amtflow.profile`. ``--data DIR`` points every channel at
  ``DIR/<channel>/`` (``file://``); models are written under ``--output`` (default ``<state-dir>/output``),
  never to S3. The image map comes from ``--image-map``, else ``AMTFLOW_IMAGE_MAP``, else the defaults.
- ``amtflow jobs`` lists the tuning jobs kept in the state directory (also after the process that ran them
  ended); ``amtflow describe NAME [--json]`` shows one with its leaderboard.

The state directory defaults to ``.amtflow/engine`` under the working directory.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import sys
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any, TextIO

from amtflow.errors import ConfigurationError
from amtflow.settings import load_settings
from amtflow.vocabulary import TuningJobStatus

_TERMINAL = frozenset(s.value for s in TuningJobStatus if s.is_terminal())

DEFAULT_STATE_DIR = Path(".amtflow") / "engine"


def register(subparsers: Any) -> None:
    """Add ``tune``, ``jobs`` and ``describe`` to the CLI."""
    tune = subparsers.add_parser("tune", help="run a tuning job locally with real training")
    tune.add_argument("source", metavar="REQUEST.json|PROFILE.yaml")
    tune.add_argument("--state-dir", type=Path, default=DEFAULT_STATE_DIR, help="where jobs are kept")
    tune.add_argument("--image-map", default=None, help="YAML mapping training images to local commands")
    tune.add_argument("--data", type=Path, default=None, help="folder with one sub-folder per channel")
    tune.add_argument("--output", type=Path, default=None, help="folder for model.tar.gz files")
    tune.add_argument("--name", default=None, help="tuning job name (default: from the request/profile)")
    tune.add_argument("--version", default="local", help="dataset version (profiles only)")
    tune.add_argument(
        "--max-workers", type=int, default=None, help="training processes at once (default: CPUs)"
    )
    tune.set_defaults(func=_tune)

    jobs = subparsers.add_parser("jobs", help="list local tuning jobs")
    jobs.add_argument("--state-dir", type=Path, default=DEFAULT_STATE_DIR)
    jobs.set_defaults(func=_jobs)

    describe = subparsers.add_parser("describe", help="show a local tuning job and its leaderboard")
    describe.add_argument("name")
    describe.add_argument("--state-dir", type=Path, default=DEFAULT_STATE_DIR)
    describe.add_argument("--json", action="store_true", help="print DescribeHyperParameterTuningJob as JSON")
    describe.set_defaults(func=_describe)


# ------------------------------------------------------------------------------------------ building
def _load_request(args: argparse.Namespace) -> dict[str, Any]:
    path = Path(args.source)
    request: dict[str, Any]
    if not path.exists():
        raise ConfigurationError(f"{path}: no such file; give a request JSON or a profile YAML.")
    if path.suffix.lower() == ".json":
        try:
            request = json.loads(path.read_text(encoding="utf-8"))
        except json.JSONDecodeError as e:
            raise ConfigurationError(f"{path}: not valid JSON ({e}).") from None
        if not isinstance(request, dict) or "HyperParameterTuningJobConfig" not in request:
            raise ConfigurationError(
                f"{path}: expected a CreateHyperParameterTuningJob request "
                "(with HyperParameterTuningJobConfig)."
            )
    else:
        from amtflow.naming import tuning_job_name
        from amtflow.profile import compile_tuning_request, load_profile_file

        profile = load_profile_file(path)
        name = args.name or tuning_job_name("local", profile.model, args.version)
        data_uri = (args.data.resolve().as_uri() + "/") if args.data else f"file://{Path.cwd()}/data/"
        request = compile_tuning_request(
            profile,
            job_name=name,
            data_uri=data_uri,
            output_uri="file:///unused/",
            role_arn="arn:aws:iam::123456789012:role/amtflow-local",
        )
    if args.name:
        request["HyperParameterTuningJobName"] = args.name
    output = (args.output or args.state_dir / "output").resolve()
    for definition in request.get("TrainingJobDefinitions") or [request.get("TrainingJobDefinition") or {}]:
        if args.data is not None:
            for channel in definition.get("InputDataConfig") or []:
                folder = args.data.resolve() / channel["ChannelName"]
                source = channel.setdefault("DataSource", {}).setdefault(
                    "S3DataSource", {"S3DataType": "S3Prefix"}
                )
                source["S3Uri"] = folder.as_uri() + "/"
        definition.setdefault("OutputDataConfig", {})["S3OutputPath"] = output.as_uri()
        if definition.get("CheckpointConfig"):
            definition["CheckpointConfig"]["S3Uri"] = (output / "checkpoints").as_uri()
    return request


def _image_map(args: argparse.Namespace) -> str | None:
    if args.image_map:
        return str(args.image_map)
    return load_settings().extra.get("image_map") or None


# ------------------------------------------------------------------------------------------ showing
def _when(ts: Any) -> str:
    if isinstance(ts, int | float):
        ts = dt.datetime.fromtimestamp(ts, dt.UTC)
    return ts.strftime("%Y-%m-%d %H:%M:%S") if isinstance(ts, dt.datetime) else "-"


def _objective(describe: Mapping[str, Any]) -> tuple[str, bool]:
    obj = describe["HyperParameterTuningJobConfig"].get("HyperParameterTuningJobObjective") or {}
    return str(obj.get("MetricName", "objective")), obj.get("Type") == "Maximize"


def progress_line(describe: Mapping[str, Any], elapsed: float) -> str:
    """One line: trial counts and the best so far."""
    c = describe["TrainingJobStatusCounters"]
    failed = c["RetryableError"] + c["NonRetryableError"]
    line = (
        f"[{elapsed:6.1f}s] {describe['HyperParameterTuningJobStatus']:<10} running {c['InProgress']} | "
        f"completed {c['Completed']} | stopped {c['Stopped']} | failed {failed}"
    )
    best = describe.get("BestTrainingJob")
    if best:
        metric = best["FinalHyperParameterTuningJobObjectiveMetric"]
        line += f" | best {metric['MetricName']}={metric['Value']:.6g} ({best['TrainingJobName']})"
    return line


def leaderboard(engine: Any, name: str, top: int = 10) -> list[dict[str, Any]]:
    """Trials with an objective, best first."""
    describe = engine.handle("DescribeHyperParameterTuningJob", {"HyperParameterTuningJobName": name})
    _, maximize = _objective(describe)
    rows = engine.handle(
        "ListTrainingJobsForHyperParameterTuningJob",
        {
            "HyperParameterTuningJobName": name,
            "SortBy": "FinalObjectiveMetricValue",
            "SortOrder": "Descending" if maximize else "Ascending",
            "MaxResults": top,
        },
    )["TrainingJobSummaries"]
    return list(rows)


def print_leaderboard(engine: Any, name: str, out: TextIO, top: int = 10) -> None:
    rows = leaderboard(engine, name, top)
    if not rows:
        out.write(
            "leaderboard: no trial reported the objective metric (check MetricDefinitions against the logs)\n"
        )
        return
    metric = rows[0]["FinalHyperParameterTuningJobObjectiveMetric"]["MetricName"]
    out.write(f"leaderboard (top {len(rows)} by {metric}):\n")
    for i, r in enumerate(rows, start=1):
        value = r["FinalHyperParameterTuningJobObjectiveMetric"]["Value"]
        hps = " ".join(f"{k}={v}" for k, v in sorted(r["TunedHyperParameters"].items()))
        if r.get("TrainingJobDefinitionName"):
            hps = f"[{r['TrainingJobDefinitionName']}] {hps}"
        out.write(f"{i:>3}. {value:<12.6g} {r['TrainingJobStatus']:<9} {r['TrainingJobName']}  {hps}\n")


# ------------------------------------------------------------------------------------------ commands
def _tune(args: argparse.Namespace, out: TextIO | None = None) -> int:
    out = out or sys.stdout
    import boto3
    from botocore.exceptions import ClientError

    from amtflow.local.engine import sagemaker

    request = _load_request(args)
    name = request["HyperParameterTuningJobName"]
    started = time.monotonic()
    with sagemaker(
        state_dir=args.state_dir,
        image_map=_image_map(args),
        event_sink=lambda entry: None,
        max_workers=args.max_workers,
    ) as engine:
        client = boto3.client("sagemaker", region_name=load_settings().region or "us-east-1")
        try:
            client.create_hyper_parameter_tuning_job(**request)
        except ClientError as e:
            error = e.response.get("Error", {})
            raise ConfigurationError(f"{error.get('Code')}: {error.get('Message')}") from None
        out.write(
            f"tuning job {name}: {request['HyperParameterTuningJobConfig']['Strategy']} search, "
            f"state in {args.state_dir}\n"
        )
        last = ""
        try:
            while True:
                describe = engine.handle(
                    "DescribeHyperParameterTuningJob", {"HyperParameterTuningJobName": name}
                )
                line = progress_line(describe, time.monotonic() - started)
                if line.split("]", 1)[1] != last:
                    out.write(line + "\n")
                    out.flush()
                    last = line.split("]", 1)[1]
                if describe["HyperParameterTuningJobStatus"] in _TERMINAL:
                    break
                time.sleep(0.25)
        except KeyboardInterrupt:
            engine.handle("StopHyperParameterTuningJob", {"HyperParameterTuningJobName": name})
            engine.wait(name, 30)
            out.write(f"tuning job {name} stopped\n")
            return 130
        print_leaderboard(engine, name, out)
        if describe.get("FailureReason"):
            out.write(f"failure reason: {describe['FailureReason']}\n")
        return 0 if describe["HyperParameterTuningJobStatus"] == TuningJobStatus.COMPLETED else 1


def _reader(state_dir: Path) -> Any:
    from amtflow.local.engine import Engine

    if not state_dir.exists():
        raise ConfigurationError(
            f"{state_dir}: no local engine state here; run 'amtflow tune' or pass --state-dir."
        )
    return Engine(state_dir, read_only=True, event_sink=lambda entry: None)


def _jobs(args: argparse.Namespace, out: TextIO | None = None) -> int:
    out = out or sys.stdout
    engine = _reader(args.state_dir)
    rows = engine.handle("ListHyperParameterTuningJobs", {"SortBy": "CreationTime", "MaxResults": 100})[
        "HyperParameterTuningJobSummaries"
    ]
    if not rows:
        out.write("no tuning jobs\n")
        return 0
    out.write(f"{'NAME':<34}{'STATUS':<12}{'STRATEGY':<11}{'TRIALS':>7}  {'BEST':<14}CREATED\n")
    for r in rows:
        d = engine.handle(
            "DescribeHyperParameterTuningJob",
            {"HyperParameterTuningJobName": r["HyperParameterTuningJobName"]},
        )
        total = sum(r["TrainingJobStatusCounters"].values())
        best = (
            d.get("BestTrainingJob", {}).get("FinalHyperParameterTuningJobObjectiveMetric", {}).get("Value")
        )
        best_text = f"{best:.6g}" if best is not None else "-"
        out.write(
            f"{r['HyperParameterTuningJobName']:<34}{r['HyperParameterTuningJobStatus']:<12}{r['Strategy']:<11}"
            f"{total:>7}  {best_text:<14}{_when(r['CreationTime'])}\n"
        )
    return 0


def _describe(args: argparse.Namespace, out: TextIO | None = None) -> int:
    out = out or sys.stdout
    from amtflow.local.engine import ServiceError

    engine = _reader(args.state_dir)
    try:
        d = engine.handle("DescribeHyperParameterTuningJob", {"HyperParameterTuningJobName": args.name})
    except ServiceError as e:
        raise ConfigurationError(
            f"{e.message} in {args.state_dir}; 'amtflow jobs' lists the jobs there."
        ) from None
    if args.json:
        out.write(json.dumps(d, indent=2, default=_when) + "\n")
        return 0
    metric, maximize = _objective(d)
    out.write(f"{d['HyperParameterTuningJobName']}  {d['HyperParameterTuningJobStatus']}\n")
    out.write(
        f"  strategy   {d['HyperParameterTuningJobConfig']['Strategy']}, "
        f"{'maximize' if maximize else 'minimize'} {metric}\n"
    )
    out.write(
        f"  created    {_when(d['CreationTime'])}   ended {_when(d.get('HyperParameterTuningEndTime'))}\n"
    )
    out.write(f"  trials     {json.dumps(d['TrainingJobStatusCounters'])}\n")
    out.write(f"  objective  {json.dumps(d['ObjectiveStatusCounters'])}\n")
    if d.get("FailureReason"):
        out.write(f"  failure    {d['FailureReason']}\n")
    print_leaderboard(engine, d["HyperParameterTuningJobName"], out)
    return 0
