"""``amtflow demo`` and ``amtflow local up``: the application running in the local twin.

- ``amtflow demo [--quick] [--out DIR] [--project DIR] [--format text|json] [--built]`` tells the
  scripted story (dataset lands → tuning with real trials → evaluate → notification; a schedule tick with
  nothing to do) and writes a report; ``--format json`` tells the story on stderr and
  prints a summary on stdout.
- ``amtflow local up [--project DIR] [--state-dir DIR] [--verbose] [--log-file FILE] [--built]`` keeps the
  twin running with a small command loop on stdin (``help`` lists the commands, so does ``--help``); the
  functions' logs go to the log file unless ``--verbose`` shows them among the commands' output.
- ``--built`` runs the functions as ``make build`` packaged them (``Twin.start(built=True)``).
- ``amtflow local serve`` (:mod:`amtflow.local.cli_serve`) serves the local AMT engine over SageMaker's API.
"""

from __future__ import annotations

import argparse
import contextlib
import sys
from pathlib import Path
from typing import Any

from amtflow.errors import ConfigurationError
from amtflow.local.apps.shell import commands_help
from amtflow.local.cli_build import add_check_build
from amtflow.local.cli_format import EXIT_FINDINGS, EXIT_OK, JSON, add_format, output_format, write_json
from amtflow.local.cli_serve import add_serve

DEFAULT_LOG_FILE = Path(".amtflow") / "local-up.log"
_BUILT_HELP = (
    "run the functions from .aws-sam/build (make build), refusing imports the Lambda runtime and the "
    "layers do not provide"
)


def register(subparsers: Any) -> None:
    """Add ``amtflow demo`` and ``amtflow local up`` to the CLI."""
    demo = subparsers.add_parser(
        "demo", help="run the end-to-end story in the local twin, with real training"
    )
    demo.add_argument("--quick", action="store_true", help="a small tuning budget (about a minute)")
    demo.add_argument("--out", default="amtflow-demo", help="folder for the report (default ./amtflow-demo)")
    demo.add_argument("--project", default=".", help="project root holding template.yaml (default .)")
    demo.add_argument("--built", action="store_true", help=_BUILT_HELP)
    add_format(demo)
    demo.set_defaults(func=_demo)

    local = subparsers.add_parser("local", help="the local twin")
    sub = local.add_subparsers(dest="local_command", metavar="SUBCOMMAND", required=True)
    up = sub.add_parser(
        "up",
        help="deploy the project into the twin and explore it from a command loop",
        description="Deploy the project into the local twin and explore it with one-line commands on stdin.",
        epilog=f"commands of the loop:\n{commands_help()}",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    up.add_argument("--project", default=".", help="project root holding template.yaml (default .)")
    up.add_argument(
        "--state-dir", default=None, help="keep the engine's jobs and trials here (default: temp)"
    )
    up.add_argument("--built", action="store_true", help=_BUILT_HELP)
    up.add_argument(
        "--verbose", action="store_true", help="show the functions' logs here instead of in the log file"
    )
    up.add_argument(
        "--log-file",
        type=Path,
        default=DEFAULT_LOG_FILE,
        help=f"where the functions' logs go without --verbose (default {DEFAULT_LOG_FILE})",
    )
    up.set_defaults(func=_up)
    add_serve(sub)
    add_check_build(sub)


def _project(path: str) -> Path:
    root = Path(path).resolve()
    if not (root / "template.yaml").is_file():
        raise ConfigurationError(
            f"--project: no template.yaml in {root}; run from the project root or pass --project"
        )
    return root


def _demo(args: argparse.Namespace) -> int:
    from amtflow.local.apps.demo import DemoOptions, run_demo

    fmt = output_format(args)
    options = DemoOptions(_project(args.project), Path(args.out), quick=args.quick, built=args.built)
    result = run_demo(options, out=sys.stderr if fmt == JSON else sys.stdout)
    if fmt == JSON:
        write_json(demo_summary(result), sys.stdout)
    return EXIT_OK if result.succeeded else EXIT_FINDINGS


def demo_summary(result: Any) -> dict[str, Any]:
    """What ``amtflow demo --format json`` prints: the checks, the tuning runs, the report's path."""
    return {
        "succeeded": result.succeeded,
        "report": str(result.report),
        "checks": [{"check": name, "ok": ok} for name, ok in result.checks],
        "runs": [
            {
                "job": run.job_name,
                "strategy": run.strategy,
                "status": run.status,
                "metric": run.metric,
                "goal": run.goal,
                "best_job": run.best_job,
                "best_objective": run.best_objective,
                "trials": len(run.trials),
                "warm_start_type": run.warm_start_type,
                "parents": list(run.parents),
            }
            for run in result.runs
        ],
        "schedule_outcome": result.schedule_outcome,
        "notifications": len(result.notifications),
    }


def _up(args: argparse.Namespace) -> int:
    from amtflow.local.apps.demo import load_examples_data
    from amtflow.local.apps.shell import Shell
    from amtflow.local.twin import Twin

    root = _project(args.project)
    options: dict[str, Any] = {"image_map": root / "examples" / "image-map.yaml", "max_workers": 2}
    if args.state_dir:
        options["state_dir"] = Path(args.state_dir)
    environment = {"POWERTOOLS_LOG_LEVEL": "WARNING", "POWERTOOLS_METRICS_DISABLED": "true"}
    out = sys.stdout
    print(f"deploying {root / 'template.yaml'} into the local twin ...", file=out, flush=True)
    with contextlib.ExitStack() as stack:
        if not args.verbose:
            # The functions' loggers write to the process's stdout as it is when they are created (on
            # first use, inside the twin): there it is the log file, and the command loop keeps the terminal.
            # Warnings of the libraries under the twin (moto's unsupported resources, ...) go there too.
            args.log_file.parent.mkdir(parents=True, exist_ok=True)
            log = stack.enter_context(args.log_file.open("a", encoding="utf-8"))
            stack.enter_context(contextlib.redirect_stdout(log))
            stack.enter_context(contextlib.redirect_stderr(log))
            print(f"function logs go to {args.log_file} (--verbose shows them here)", file=out, flush=True)
        twin = stack.enter_context(
            Twin.start(root, engine_options=options, environment=environment, built=args.built)
        )
        shell = Shell(twin, out, examples_data=lambda: load_examples_data(root))
        shell.run(sys.stdin)
    return EXIT_OK
