"""``amtflow tune``, ``amtflow jobs``, ``amtflow describe``: the local AMT engine from the command line.

- ``amtflow tune REQUEST.json|PROFILE.yaml [--state-dir DIR] [--image-map FILE] [--data DIR] [--output DIR]
  [--name NAME] [--max-jobs N] [--max-parallel N] [--strategy S] [--max-workers N] [--format text|json]``
  runs a tuning job on this machine with real training, showing its progress (trials done and running,
  best so far, elapsed time: one line rewritten in place on a terminal, a line per change otherwise) and
  the leaderboard at the end. A profile is compiled with :mod:`amtflow.profile`; ``--max-jobs``,
  ``--max-parallel`` and ``--strategy`` are applied to it as a run's overrides (they may lower the budget,
  not raise it), or set in a request as given. ``--data DIR`` points every channel at ``DIR/<channel>/``
  (``file://``); models are written under ``--output`` (default ``<state-dir>/output``), never to S3. The
  image map comes from ``--image-map``, else ``AMTFLOW_IMAGE_MAP``, else the defaults. Without ``--name``
  a re-run takes the next free name (a new attempt for a profile, a ``-N`` suffix for a request); a name
  given with ``--name`` that is taken is an error.
- ``amtflow jobs [--format text|json|csv]`` lists the tuning jobs kept in the state directory (also after
  the process that ran them ended); ``amtflow describe NAME [--format text|json|csv]`` shows one with its
  trials (``--json`` is the deprecated spelling of ``--format json``).

The state directory defaults to ``.amtflow/engine`` under the working directory.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any, TextIO

from amtflow.errors import ConfigurationError
from amtflow.local.cli_format import (
    CSV,
    EXIT_FINDINGS,
    EXIT_OK,
    JSON,
    TEXT,
    add_format,
    output_format,
    write_csv,
    write_json,
)
from amtflow.local.cli_results import (
    TERMINAL,
    TRIAL_COLUMNS,
    Progress,
    iso_time,
    job_summary,
    objective_of,
    print_leaderboard,
    progress_line,
    shown_time,
    trial_rows,
    trials,
)
from amtflow.settings import load_settings
from amtflow.vocabulary import TUNING_JOB_NAME_MAX, TuningJobStatus

DEFAULT_STATE_DIR = Path(".amtflow") / "engine"
STRATEGIES = ("Bayesian", "Random", "Grid", "Hyperband")
#: A re-run without ``--name`` tries at most this many names before giving up.
MAX_NAME_ATTEMPTS = 100


def _positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def register(subparsers: Any) -> None:
    """Add ``tune``, ``jobs`` and ``describe`` to the CLI."""
    tune = subparsers.add_parser("tune", help="run a tuning job locally with real training")
    tune.add_argument("source", metavar="REQUEST.json|PROFILE.yaml")
    tune.add_argument("--state-dir", type=Path, default=DEFAULT_STATE_DIR, help="where jobs are kept")
    tune.add_argument("--image-map", default=None, help="YAML mapping training images to local commands")
    tune.add_argument("--data", type=Path, default=None, help="folder with one sub-folder per channel")
    tune.add_argument("--output", type=Path, default=None, help="folder for model.tar.gz files")
    tune.add_argument(
        "--name", default=None, help="tuning job name (default: from the request/profile, the next free one)"
    )
    tune.add_argument("--version", default="local", help="dataset version (profiles only)")
    tune.add_argument("--max-jobs", type=_positive, default=None, metavar="N", help="training jobs in all")
    tune.add_argument("--max-parallel", type=_positive, default=None, metavar="N", help="trials at once")
    tune.add_argument("--strategy", choices=STRATEGIES, default=None, help="search strategy")
    tune.add_argument(
        "--max-workers", type=int, default=None, help="training processes at once (default: CPUs)"
    )
    add_format(tune)
    tune.set_defaults(func=_tune)

    jobs = subparsers.add_parser("jobs", help="list local tuning jobs")
    jobs.add_argument("--state-dir", type=Path, default=DEFAULT_STATE_DIR)
    add_format(jobs, table=True)
    jobs.set_defaults(func=_jobs)

    describe = subparsers.add_parser("describe", help="show a local tuning job and its trials")
    describe.add_argument("name")
    describe.add_argument("--state-dir", type=Path, default=DEFAULT_STATE_DIR)
    add_format(describe, table=True, json_alias=True)
    describe.set_defaults(func=_describe)


# ------------------------------------------------------------------------------------------ building
def _search_overrides(args: argparse.Namespace) -> dict[str, Any]:
    """``--max-jobs``, ``--max-parallel`` and ``--strategy`` as a run's overrides of a profile."""
    limits = {
        key: value
        for key, value in (("max_jobs", args.max_jobs), ("max_parallel", args.max_parallel))
        if value is not None
    }
    tuning: dict[str, Any] = {"limits": limits} if limits else {}
    if args.strategy:
        tuning["strategy"] = args.strategy
    return {"tuning": tuning} if tuning else {}


def _apply_search_options(request: dict[str, Any], args: argparse.Namespace) -> None:
    """``--max-jobs``, ``--max-parallel`` and ``--strategy`` set in a raw request."""
    config = request["HyperParameterTuningJobConfig"]
    limits = config.setdefault("ResourceLimits", {})
    if args.max_jobs is not None:
        limits["MaxNumberOfTrainingJobs"] = args.max_jobs
    if args.max_parallel is not None:
        limits["MaxParallelTrainingJobs"] = args.max_parallel
    if args.strategy:
        config["Strategy"] = args.strategy


def _load_request(args: argparse.Namespace) -> tuple[dict[str, Any], Iterator[str]]:
    """The request, and the names to try in turn (only ``--name`` when given)."""
    path = Path(args.source)
    request: dict[str, Any]
    names: Iterator[str]
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
        _apply_search_options(request, args)
        names = _suffixed(str(request.get("HyperParameterTuningJobName") or path.stem))
    else:
        from amtflow.naming import tuning_job_name
        from amtflow.profile import apply_overrides, compile_tuning_request, load_profile_file

        profile = apply_overrides(load_profile_file(path), _search_overrides(args))
        names = (tuning_job_name("local", profile.model, args.version, attempt) for attempt in range(10**6))
        data_uri = (args.data.resolve().as_uri() + "/") if args.data else f"file://{Path.cwd()}/data/"
        request = compile_tuning_request(
            profile,
            job_name=tuning_job_name("local", profile.model, args.version),
            data_uri=data_uri,
            output_uri="file:///unused/",
            role_arn="arn:aws:iam::123456789012:role/amtflow-local",
        )
    if args.name:
        names = iter([args.name])
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
    return request, names


def _suffixed(name: str) -> Iterator[str]:
    """``name``, then ``name-2``, ``name-3``, ... (shortened to fit the 32 characters of a job name)."""
    yield name
    for n in range(2, 10**6):
        suffix = f"-{n}"
        yield name[: TUNING_JOB_NAME_MAX - len(suffix)].rstrip("-") + suffix


def _image_map(args: argparse.Namespace) -> str | None:
    if args.image_map:
        return str(args.image_map)
    return load_settings().extra.get("image_map") or None


# ------------------------------------------------------------------------------------------ commands
def _create(client: Any, request: dict[str, Any], names: Iterator[str], args: argparse.Namespace) -> str:
    """Create the tuning job under the first free name; the name it got."""
    from botocore.exceptions import ClientError

    for attempt, name in enumerate(names):
        request["HyperParameterTuningJobName"] = name
        try:
            client.create_hyper_parameter_tuning_job(**request)
            return name
        except ClientError as e:
            error = e.response.get("Error", {})
            if error.get("Code") != "ResourceInUse":
                raise ConfigurationError(f"{error.get('Code')}: {error.get('Message')}") from None
            if args.name:
                raise ConfigurationError(
                    f"a tuning job named {name} already exists in {args.state_dir}; pass another --name "
                    f"(or leave it out to take the next free name), or see it with 'amtflow describe {name}'"
                ) from None
            if attempt + 1 >= MAX_NAME_ATTEMPTS:
                break
    raise ConfigurationError(
        f"no free tuning job name after {MAX_NAME_ATTEMPTS} attempts in {args.state_dir}; pass --name NAME"
    )


def _tune(args: argparse.Namespace, out: TextIO | None = None, err: TextIO | None = None) -> int:
    out = out or sys.stdout
    err = err or sys.stderr
    fmt = output_format(args, err)
    notes = out if fmt == TEXT else err
    import boto3

    from amtflow.local.engine import sagemaker
    from amtflow.local.server import refuse_if_served

    refuse_if_served(args.state_dir, "amtflow tune")
    request, names = _load_request(args)
    started = time.monotonic()
    with sagemaker(
        state_dir=args.state_dir,
        image_map=_image_map(args),
        event_sink=lambda entry: None,
        max_workers=args.max_workers,
    ) as engine:
        client = boto3.client("sagemaker", region_name=load_settings().region or "us-east-1")
        wanted = next(names)
        name = _create(client, request, _chain(wanted, names), args)
        if name != wanted:
            notes.write(f"note: {wanted} already exists in {args.state_dir}; this run is {name}\n")
        notes.write(
            f"tuning job {name}: {request['HyperParameterTuningJobConfig']['Strategy']} search, "
            f"state in {args.state_dir}\n"
        )
        progress = Progress(notes)
        try:
            while True:
                describe = engine.handle(
                    "DescribeHyperParameterTuningJob", {"HyperParameterTuningJobName": name}
                )
                progress.show(progress_line(describe, time.monotonic() - started))
                if describe["HyperParameterTuningJobStatus"] in TERMINAL:
                    break
                time.sleep(0.25)
        except KeyboardInterrupt:
            progress.close()
            engine.handle("StopHyperParameterTuningJob", {"HyperParameterTuningJobName": name})
            engine.wait(name, 30)
            notes.write(f"tuning job {name} stopped\n")
            return 130
        progress.close()
        if fmt == JSON:
            write_json(job_summary(engine, describe), out)
        else:
            print_leaderboard(engine, name, out)
            if describe.get("FailureReason"):
                out.write(f"failure reason: {describe['FailureReason']}\n")
        return (
            EXIT_OK
            if describe["HyperParameterTuningJobStatus"] == TuningJobStatus.COMPLETED
            else EXIT_FINDINGS
        )


def _chain(first: str, rest: Iterator[str]) -> Iterator[str]:
    yield first
    yield from rest


def _reader(state_dir: Path, command: str) -> Any:
    from amtflow.local.engine import Engine
    from amtflow.local.server import refuse_if_served

    if not state_dir.exists():
        raise ConfigurationError(
            f"{state_dir}: no local engine state here; run 'amtflow tune' or pass --state-dir."
        )
    refuse_if_served(state_dir, f"amtflow {command}")
    return Engine(state_dir, read_only=True, event_sink=lambda entry: None)


_JOB_COLUMNS = ("name", "status", "strategy", "trials", "best", "created")


def _jobs(args: argparse.Namespace, out: TextIO | None = None) -> int:
    out = out or sys.stdout
    fmt = output_format(args)
    engine = _reader(args.state_dir, "jobs")
    summaries = engine.handle("ListHyperParameterTuningJobs", {"SortBy": "CreationTime", "MaxResults": 100})[
        "HyperParameterTuningJobSummaries"
    ]
    rows: list[dict[str, Any]] = []
    for r in summaries:
        d = engine.handle(
            "DescribeHyperParameterTuningJob",
            {"HyperParameterTuningJobName": r["HyperParameterTuningJobName"]},
        )
        rows.append(
            {
                "name": r["HyperParameterTuningJobName"],
                "status": r["HyperParameterTuningJobStatus"],
                "strategy": r["Strategy"],
                "trials": sum(r["TrainingJobStatusCounters"].values()),
                "best": d.get("BestTrainingJob", {})
                .get("FinalHyperParameterTuningJobObjectiveMetric", {})
                .get("Value"),
                "created": iso_time(r["CreationTime"]),
            }
        )
    if fmt == JSON:
        write_json(rows, out)
        return EXIT_OK
    if fmt == CSV:
        write_csv(rows, _JOB_COLUMNS, out)
        return EXIT_OK
    if not rows:
        out.write("no tuning jobs\n")
        return EXIT_OK
    out.write(f"{'NAME':<34}{'STATUS':<12}{'STRATEGY':<11}{'TRIALS':>7}  {'BEST':<14}CREATED\n")
    for row, r in zip(rows, summaries, strict=True):
        best_text = f"{row['best']:.6g}" if row["best"] is not None else "-"
        out.write(
            f"{row['name']:<34}{row['status']:<12}{row['strategy']:<11}"
            f"{row['trials']:>7}  {best_text:<14}{shown_time(r['CreationTime'])}\n"
        )
    return EXIT_OK


def _describe(args: argparse.Namespace, out: TextIO | None = None) -> int:
    out = out or sys.stdout
    fmt = output_format(args)
    from amtflow.local.engine import ServiceError

    engine = _reader(args.state_dir, "describe")
    try:
        d = engine.handle("DescribeHyperParameterTuningJob", {"HyperParameterTuningJobName": args.name})
    except ServiceError as e:
        raise ConfigurationError(
            f"{e.message} in {args.state_dir}; 'amtflow jobs' lists the jobs there."
        ) from None
    metric, maximize = objective_of(d)
    rows = trials(engine, d["HyperParameterTuningJobName"], maximize=maximize)
    if fmt == JSON:
        # DescribeHyperParameterTuningJob's response, with its trials under the List call's key.
        out.write(json.dumps({**d, "TrainingJobSummaries": rows}, indent=2, default=iso_time) + "\n")
        return EXIT_OK
    if fmt == CSV:
        write_csv(trial_rows(rows), TRIAL_COLUMNS, out)
        return EXIT_OK
    out.write(f"{d['HyperParameterTuningJobName']}  {d['HyperParameterTuningJobStatus']}\n")
    out.write(
        f"  strategy   {d['HyperParameterTuningJobConfig']['Strategy']}, "
        f"{'maximize' if maximize else 'minimize'} {metric}\n"
    )
    ended = shown_time(d.get("HyperParameterTuningEndTime"))
    out.write(f"  created    {shown_time(d['CreationTime'])}   ended {ended}\n")
    out.write(f"  trials     {json.dumps(d['TrainingJobStatusCounters'])}\n")
    out.write(f"  objective  {json.dumps(d['ObjectiveStatusCounters'])}\n")
    if d.get("FailureReason"):
        out.write(f"  failure    {d['FailureReason']}\n")
    print_leaderboard(engine, d["HyperParameterTuningJobName"], out)
    return EXIT_OK
