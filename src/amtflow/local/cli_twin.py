"""``amtflow demo`` and ``amtflow local up``: the application running in the local twin.

- ``amtflow demo [--quick] [--out DIR] [--project DIR] [--built]`` tells the scripted story (dataset lands
  → tuning with real trials → evaluate → notification; a schedule tick with nothing to do) and writes a
  report.
- ``amtflow local up [--project DIR] [--state-dir DIR] [--built]`` keeps the twin running with a small
  command loop on stdin (``help`` lists the commands).
- ``--built`` runs the functions as ``make build`` packaged them (``Twin.start(built=True)``).
- ``amtflow local serve`` (:mod:`amtflow.local.cli_serve`) serves the local AMT engine over SageMaker's API.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from amtflow.errors import ConfigurationError
from amtflow.local.cli_build import add_check_build
from amtflow.local.cli_serve import add_serve

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
    demo.set_defaults(func=_demo)

    local = subparsers.add_parser("local", help="the local twin")
    sub = local.add_subparsers(dest="local_command", metavar="SUBCOMMAND", required=True)
    up = sub.add_parser("up", help="deploy the project into the twin and explore it from a command loop")
    up.add_argument("--project", default=".", help="project root holding template.yaml (default .)")
    up.add_argument(
        "--state-dir", default=None, help="keep the engine's jobs and trials here (default: temp)"
    )
    up.add_argument("--built", action="store_true", help=_BUILT_HELP)
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

    options = DemoOptions(_project(args.project), Path(args.out), quick=args.quick, built=args.built)
    result = run_demo(options, out=sys.stdout)
    return 0 if result.succeeded else 1


def _up(args: argparse.Namespace) -> int:
    from amtflow.local.apps.demo import load_examples_data
    from amtflow.local.apps.shell import Shell
    from amtflow.local.twin import Twin

    root = _project(args.project)
    options: dict[str, Any] = {"image_map": root / "examples" / "image-map.yaml", "max_workers": 2}
    if args.state_dir:
        options["state_dir"] = Path(args.state_dir)
    environment = {"POWERTOOLS_LOG_LEVEL": "WARNING", "POWERTOOLS_METRICS_DISABLED": "true"}
    print(f"deploying {root / 'template.yaml'} into the local twin ...", flush=True)
    with Twin.start(root, engine_options=options, environment=environment, built=args.built) as twin:
        shell = Shell(twin, sys.stdout, examples_data=lambda: load_examples_data(root))
        shell.run(sys.stdin)
    return 0
