"""``amtflow lint FILE``: run the preflight catalogue on a model profile or a raw tuning request.

FILE is either a model profile (YAML, ``schema: amtflow/v1``), compiled with placeholder names and URIs,
or a ``CreateHyperParameterTuningJob`` request (JSON or YAML). Exit status: 0 without error findings, 1
with at least one, 2 when FILE cannot be read or parsed (the reason goes to stderr).

The metric regexes are tried on every log at hand (the lines each regex matches nowhere are reported with
the nearest line):

- the profile's ``sample_log_lines`` and ``--sample-log FILE`` (repeatable);
- ``--from-job NAME``: a previous trial's log — NAME is a training job, or a tuning job of which one
  finished trial is read — from the local engine's state folder (``--state-dir``, default
  ``.amtflow/engine``), or with ``--aws`` from CloudWatch Logs (``/aws/sagemaker/TrainingJobs``);
- ``--canary --data DIR`` (profiles only): one short trial in the local engine with the profile's static
  hyperparameters and the middle of every range, its runtime capped by ``--canary-seconds`` (60 by
  default), on the dataset version in DIR (one sub-folder per channel, or an ``s3://`` prefix); the image
  map comes from ``--image-map``, else ``AMTFLOW_IMAGE_MAP``, else the defaults. A canary that fails is
  itself an error (AMT126). A multi-algorithm profile gets one canary per algorithm, each with its own
  image, static hyperparameters and the middle of its own ranges (AMT126 names its definition).
"""

from __future__ import annotations

import argparse
import json
import secrets
import sys
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

from amtflow.errors import AmtflowError
from amtflow.local.cli_format import plain_text, write_csv
from amtflow.local.cli_trial_logs import (
    AwsTrialLogs,
    EngineTrialLogs,
    TrialLog,
    read_trial_log,
)
from amtflow.local.cli_trial_logs import Unreadable as _Unreadable
from amtflow.naming import short_hash, slug
from amtflow.preflight import (
    JOB_PREFIX_KEY,
    PROFILE_LINT_TAGS,
    LintContext,
    LintReport,
    context_for_profile,
    lint_request,
    render_catalogue,
)
from amtflow.profile import (
    ModelProfile,
    algorithm_named,
    compile_training_request,
    load_profile,
    midrange_hyperparameters,
    preview_tuning_request,
)
from amtflow.settings import load_settings

if TYPE_CHECKING:
    pass

EXIT_CLEAN, EXIT_FINDINGS, EXIT_UNREADABLE = 0, 1, 2

_FINDING_COLUMNS = ("rule", "severity", "field", "profileKey", "message", "why", "fix")
_REQUEST_KEYS = frozenset({"HyperParameterTuningJobConfig", "HyperParameterTuningJobName"})

DEFAULT_STATE_DIR = Path(".amtflow") / "engine"
DEFAULT_CANARY_DIR = Path(".amtflow") / "canary"
DEFAULT_CANARY_SECONDS = 60
_CANARY_ROLE = "arn:aws:iam::123456789012:role/amtflow-canary"


def register(subparsers: Any) -> None:
    """Add ``amtflow lint`` to the CLI."""
    parser = subparsers.add_parser(
        "lint",
        help="check a profile or a tuning request against the preflight rules",
        description=plain_text(__doc__),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "file", nargs="?", metavar="FILE", help="model profile (YAML) or tuning request (JSON/YAML)"
    )
    parser.add_argument(
        "--format",
        choices=("text", "json", "csv"),
        default="text",
        help="text for people (default); json prints a list of {rule, severity, field, message, why, fix} "
        "(and profileKey, for a profile); csv the same as a table",
    )
    parser.add_argument(
        "--sample-log",
        action="append",
        default=[],
        metavar="LOG",
        help="a training log to test the metric regexes against (repeatable)",
    )
    parser.add_argument(
        "--from-job",
        default=None,
        metavar="NAME",
        help="test the regexes against a previous trial's log (a training job, or a tuning job's trial)",
    )
    parser.add_argument(
        "--state-dir",
        type=Path,
        default=DEFAULT_STATE_DIR,
        help=f"the local engine's state folder --from-job reads (default {DEFAULT_STATE_DIR})",
    )
    parser.add_argument(
        "--aws", action="store_true", help="read --from-job from SageMaker and CloudWatch Logs instead"
    )
    parser.add_argument(
        "--canary",
        action="store_true",
        help="run one short trial in the local engine and test the regexes against its log (profiles)",
    )
    parser.add_argument(
        "--data", default=None, metavar="DIR", help="the canary's dataset version: one sub-folder per channel"
    )
    parser.add_argument("--image-map", default=None, metavar="FILE", help="image map for the canary")
    parser.add_argument(
        "--canary-seconds",
        type=int,
        default=DEFAULT_CANARY_SECONDS,
        metavar="N",
        help=f"the canary's runtime cap (default {DEFAULT_CANARY_SECONDS})",
    )
    parser.add_argument(
        "--canary-dir",
        type=Path,
        default=DEFAULT_CANARY_DIR,
        help=f"the canary's engine state folder (default {DEFAULT_CANARY_DIR})",
    )
    parser.add_argument(
        "--month-to-date-usd",
        type=float,
        default=None,
        metavar="USD",
        help="spend so far this month, checked with the profile's max_usd_per_month",
    )
    parser.add_argument(
        "--catalogue",
        action="store_true",
        help="print the rule catalogue as Markdown (the tables of docs/preflight.md) and exit",
    )
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """The ``lint`` command: print the report, return the exit status."""
    if args.catalogue:
        print(render_catalogue(), end="")
        return EXIT_CLEAN
    if not args.file:
        print("amtflow lint: give a FILE to lint (a model profile or a tuning request)", file=sys.stderr)
        return EXIT_UNREADABLE
    canary: CanaryOptions | None = None
    if args.canary:
        if not args.data:
            print(
                "amtflow lint: --canary needs --data DIR, a dataset version with one sub-folder per channel "
                "(e.g. DIR/train/, DIR/validation/), or an s3:// prefix",
                file=sys.stderr,
            )
            return EXIT_UNREADABLE
        if args.canary_seconds < 1:
            print("amtflow lint: --canary-seconds must be at least 1", file=sys.stderr)
            return EXIT_UNREADABLE
        canary = CanaryOptions(
            data=args.data,
            state_dir=args.canary_dir,
            image_map=args.image_map or load_settings().extra.get("image_map") or None,
            max_seconds=args.canary_seconds,
        )
    try:
        previous = _previous_trial_log(args.from_job, args.state_dir, args.aws) if args.from_job else None
        report, canary_runs = lint_file(
            Path(args.file),
            sample_logs=list(args.sample_log),
            month_to_date_usd=args.month_to_date_usd,
            trial_logs=[previous] if previous is not None else [],
            canary=canary,
        )
    except _Unreadable as e:
        print(f"amtflow lint: {e}", file=sys.stderr)
        return EXIT_UNREADABLE
    for log in (previous, *canary_runs):
        if log is not None:
            print(log.summary(), file=sys.stderr if args.format != "text" else sys.stdout)
    if args.format == "json":
        print(json.dumps(report.to_dict()["findings"], indent=2))
    elif args.format == "csv":
        write_csv(report.to_dict()["findings"], _FINDING_COLUMNS, sys.stdout)
    else:
        print(report.to_text())
    return EXIT_FINDINGS if report.has_errors else EXIT_CLEAN


def _previous_trial_log(name: str, state_dir: Path, aws: bool) -> TrialLog:
    if aws:
        from amtflow import clients

        return read_trial_log(AwsTrialLogs(clients.sagemaker(), clients.logs()), name, where="AWS")
    if not state_dir.is_dir():
        raise _Unreadable(
            f"no local engine state in {state_dir}; pass --state-dir DIR, or --aws to read the trial's log "
            "from CloudWatch Logs"
        )
    return read_trial_log(EngineTrialLogs(state_dir), name, where=f"local engine state {state_dir}")


# ------------------------------------------------------------------------------------------------- canary


@dataclass(frozen=True)
class CanaryOptions:
    """Where and how to run a canary trial."""

    data: str
    state_dir: Path
    image_map: str | Path | Mapping[str, Any] | None = None
    max_seconds: int = DEFAULT_CANARY_SECONDS


def canary_request(
    profile: ModelProfile,
    *,
    job_name: str,
    data_uri: str,
    output_uri: str,
    max_seconds: int,
    definition: str | None = None,
) -> dict[str, Any]:
    """The ``CreateTrainingJob`` request of a canary: static hyperparameters, the middle of every range and
    ``_tuning_objective_metric`` (as AMT gives each trial), on-demand capacity, runtime capped at
    ``max_seconds``. ``definition`` names the algorithm of a multi-algorithm profile to run."""
    request = compile_training_request(
        profile,
        job_name=job_name,
        hyperparameters=midrange_hyperparameters(profile, definition=definition),
        data_uri=data_uri,
        output_uri=output_uri,
        role_arn=_CANARY_ROLE,
        definition=definition,
    )
    algorithm = algorithm_named(profile.algorithms or [], definition)
    objective = (algorithm.objective_metric if algorithm else None) or profile.objective_metric
    request.setdefault("HyperParameters", {})["_tuning_objective_metric"] = objective
    request.pop("EnableManagedSpotTraining", None)
    request.pop("RetryStrategy", None)
    stopping = request["StoppingCondition"]
    stopping.pop("MaxWaitTimeInSeconds", None)
    stopping["MaxRuntimeInSeconds"] = min(int(stopping["MaxRuntimeInSeconds"]), max_seconds)
    return request


def run_canary(
    profile: ModelProfile,
    options: CanaryOptions,
    *,
    token: Callable[[], str] = lambda: secrets.token_hex(4),
    definition: str | None = None,
) -> TrialLog:
    """Run one canary trial of ``profile`` (of its algorithm ``definition``) in the local engine and return
    its log.

    Raises ``_Unreadable`` when the engine refuses the request (an unmapped image, missing data).
    """
    from amtflow import clients
    from amtflow.local.engine import ServiceError, sagemaker

    stem = profile.model if definition is None else f"{profile.model}-{definition}"
    name = f"{slug(stem, max_length=40)}-canary-{short_hash(profile.model, token())}"
    data = options.data
    data_uri = data if data.startswith("s3://") else _folder_uri(Path(data), "--data")
    state_dir = options.state_dir.resolve()
    output_uri = (state_dir / "output").as_uri() + "/"
    request = canary_request(
        profile,
        job_name=name,
        data_uri=data_uri,
        output_uri=output_uri,
        max_seconds=options.max_seconds,
        definition=definition,
    )
    s3 = clients.s3() if data.startswith("s3://") else _LocalOnly()
    with sagemaker(
        state_dir, options.image_map, event_sink=lambda _entry: None, max_workers=1, s3_client=s3
    ) as engine:
        try:
            engine.handle("CreateTrainingJob", request)
        except ServiceError as e:
            raise _Unreadable(f"the local engine refused the canary: {e.code.value}: {e.message}") from e
        engine.wait(name, timeout=options.max_seconds + 60)
        doc = engine.handle("DescribeTrainingJob", {"TrainingJobName": name})
        lines = engine.trial_log(name).splitlines()
    return TrialLog(
        f"canary trial {name} ({state_dir})",
        name,
        str(doc.get("TrainingJobStatus", "")),
        tuple(lines),
        str(doc.get("FailureReason", "")),
    )


class _LocalOnly:
    """Stands in for the S3 client when the canary reads and writes local folders only."""

    def __getattr__(self, name: str) -> Any:
        raise _Unreadable("the canary's data and output are local folders; S3 is not used")


def _folder_uri(path: Path, option: str) -> str:
    if not path.is_dir():
        raise _Unreadable(f"{option} {path} is not a folder; give a folder with one sub-folder per channel")
    return path.resolve().as_uri() + "/"


# ------------------------------------------------------------------------------------------------ linting


def lint_file(
    path: Path,
    *,
    sample_logs: Sequence[str] = (),
    month_to_date_usd: float | None = None,
    trial_logs: Sequence[TrialLog] = (),
    canary: CanaryOptions | None = None,
    canary_runner: Callable[..., TrialLog] = run_canary,
) -> tuple[LintReport, list[TrialLog]]:
    """Read ``path`` (a profile or a request) and lint it, with the canaries' logs when ``canary`` is given:
    one canary, or one per algorithm of a multi-algorithm profile (each algorithm is its own image and
    script, and every one of them runs trials of the tuning job).

    Raises ``_Unreadable`` when the file, a log or a canary cannot be read.
    """
    document = _read_document(path)
    logs: dict[str, Sequence[str]] = {log: _read_lines(Path(log)) for log in sample_logs}
    logs.update({t.source: t.lines for t in trial_logs})
    if _is_request(document):
        if canary is not None:
            raise _Unreadable(f"{path} is a tuning request; --canary runs profiles only")
        context = LintContext(request=document, sample_logs=logs)
        return lint_request(document, context, source=str(path)), []
    try:
        profile = load_profile(document, source=str(path))
        preview_tuning_request(profile)
    except AmtflowError as e:
        raise _Unreadable(f"{path} is not a valid profile: {e}") from e
    canary_logs: list[TrialLog] = []
    extra: dict[str, Any] = {}
    if canary is not None:
        names = [a.name for a in profile.algorithms] if profile.algorithms else [None]
        canary_logs = [canary_runner(profile, canary, definition=name) for name in names]
        outcomes: list[dict[str, Any]] = []
        for i, log in enumerate(canary_logs):
            logs[log.source] = log.lines
            outcomes.append(
                {"job": log.job, "status": log.status, "failure_reason": log.failure_reason}
                | {"lines": len(log.lines)}
                | ({"definition": f"TrainingJobDefinitions[{i}]"} if profile.algorithms else {})
            )
        extra["canary"] = outcomes if profile.algorithms else outcomes[0]
    report = lint_profile(
        profile, source=str(path), sample_logs=logs, extra=extra, month_to_date_usd=month_to_date_usd
    )
    return report, canary_logs


def lint_profile(
    profile: ModelProfile,
    *,
    source: str,
    sample_logs: Mapping[str, Sequence[str]] | None = None,
    extra: Mapping[str, Any] | None = None,
    month_to_date_usd: float | None = None,
    job_prefix: str | None = None,
) -> LintReport:
    """The preflight rules on the request ``profile`` compiles to (placeholder names and URIs), with the
    profile's own evidence (budget caps, prices, ``sample_log_lines``) and any further logs, and the rules
    of its ``deployment`` (``job_prefix``: the stack's, that the endpoint's name must start with) and
    ``monitoring`` sections: what ``amtflow lint``, ``profiles validate`` and ``profiles push`` all report."""
    request = preview_tuning_request(profile)
    context = context_for_profile(profile, request, month_to_date_usd=month_to_date_usd)
    context = replace(
        context,
        sample_logs={**context.sample_logs, **(sample_logs or {})},
        extra={**context.extra, **({JOB_PREFIX_KEY: job_prefix} if job_prefix else {}), **(extra or {})},
    )
    return lint_request(request, context, source=source, from_profile=True, tags=PROFILE_LINT_TAGS)


def _read_document(path: Path) -> Mapping[str, Any]:
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as e:
        raise _Unreadable(f"cannot read {path}: {e.strerror if isinstance(e, OSError) else e}") from e
    try:
        document = json.loads(text) if path.suffix.lower() == ".json" else yaml.safe_load(text)
    except json.JSONDecodeError as e:
        raise _Unreadable(f"{path} is not valid JSON: {e.msg} at line {e.lineno}, column {e.colno}") from e
    except yaml.YAMLError as e:
        where = getattr(e, "problem_mark", None)
        at = f" at line {where.line + 1}, column {where.column + 1}" if where is not None else ""
        problem = getattr(e, "problem", None) or str(e)
        raise _Unreadable(f"{path} is not valid YAML: {problem}{at}") from e
    if not isinstance(document, Mapping):
        raise _Unreadable(
            f"{path} holds a {type(document).__name__}, not a mapping: expected a model profile "
            "(schema: amtflow/v1) or a CreateHyperParameterTuningJob request"
        )
    return document


def _is_request(document: Mapping[str, Any]) -> bool:
    return bool(_REQUEST_KEYS & set(document)) and "schema" not in document


def _read_lines(path: Path) -> list[str]:
    try:
        return path.read_text(encoding="utf-8", errors="replace").splitlines()
    except OSError as e:
        raise _Unreadable(f"cannot read sample log {path}: {e.strerror}") from e
