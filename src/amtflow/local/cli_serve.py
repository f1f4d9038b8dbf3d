"""``amtflow local serve``: the local AMT engine as a service any SageMaker client can use.

``amtflow local serve [--port N] [--host 127.0.0.1] [--state-dir DIR] [--image-map FILE] [--max-workers N]
[--allow-remote]`` prints ``amtflow local serve: http://127.0.0.1:PORT`` when ready (``--port 0``, the
default, picks a free port) and serves SageMaker's tuning and training operations there until SIGINT or
SIGTERM, which stop the running jobs. See :mod:`amtflow.local.server`.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from amtflow.local.cli_engine import DEFAULT_STATE_DIR
from amtflow.settings import load_settings


def add_serve(local_subparsers: Any) -> None:
    """Add ``serve`` under ``amtflow local``."""
    serve = local_subparsers.add_parser(
        "serve", help="serve the local AMT engine over SageMaker's API (for the AWS CLI, SDKs, ...)"
    )
    serve.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    serve.add_argument("--port", type=int, default=0, help="port to listen on (default 0: a free port)")
    serve.add_argument("--state-dir", type=Path, default=DEFAULT_STATE_DIR, help="where jobs are kept")
    serve.add_argument("--image-map", default=None, help="YAML mapping training images to local commands")
    serve.add_argument(
        "--max-workers", type=int, default=None, help="training processes at once (default: CPUs)"
    )
    serve.add_argument(
        "--allow-remote",
        action="store_true",
        help="allow a non-loopback --host (no authentication: only on a network you trust)",
    )
    serve.set_defaults(func=_serve)


def _serve(args: argparse.Namespace) -> int:
    from amtflow.local.server import serve

    image_map = args.image_map or load_settings().extra.get("image_map") or None
    return serve(
        args.state_dir,
        image_map=image_map,
        host=args.host,
        port=args.port,
        allow_remote=args.allow_remote,
        max_workers=args.max_workers,
    )
