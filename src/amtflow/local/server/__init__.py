"""``amtflow local serve``: the local AMT engine as a long-running service speaking SageMaker's wire protocol.

Any SageMaker client (the AWS CLI, boto3, the SageMaker Python SDK, other languages' SDKs) pointed at the
printed URL (``--endpoint-url``, ``endpoint_url=``, ``AWS_ENDPOINT_URL_SAGEMAKER``) creates, describes, lists
and stops tuning and training jobs that really train on this machine, and deploys models to endpoints that
really serve (``sagemaker-runtime`` InvokeEndpoint at the same URL, ``AWS_ENDPOINT_URL_SAGEMAKER_RUNTIME``),
with any credentials and region.
Jobs run in the service's process, so they outlive the client that created them; stopping the service
(SIGINT/SIGTERM) stops its running jobs, as StopHyperParameterTuningJob would, and exits 0.

What it refuses: operations the engine does not serve (``UnknownOperationException``; nothing is ever
forwarded to AWS), ``s3://`` data, output and model locations (it reads and writes only ``file://``
locations, so the host's AWS credentials are never used), and, unless ``--allow-remote``, any address but
loopback. One service at a time owns a state directory.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import signal
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from types import FrameType
from typing import Any, TextIO

from amtflow.errors import ConfigurationError
from amtflow.local.engine import Engine
from amtflow.local.server._http import LocalService, is_loopback

__all__ = ["LocalService", "is_loopback", "serve"]

PREFIX = "amtflow local serve"
LOCK_FILE = "serve.lock"


class _NoS3:
    """The engine's S3 client in the service: every use is refused (requests with s3:// never get here)."""

    def __getattr__(self, name: str) -> Any:
        raise ConfigurationError(f"{PREFIX} does not use S3 (s3.{name} was asked for); use file:// URIs.")


@contextlib.contextmanager
def _own(state_dir: Path) -> Iterator[None]:
    """Hold the state directory for this service; refuse when another service holds it."""
    state_dir.mkdir(parents=True, exist_ok=True)
    path = state_dir / LOCK_FILE
    with open(path, "a+", encoding="utf-8") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.seek(0)
            holder = handle.read().strip() or "?"
            raise ConfigurationError(
                f"--state-dir {state_dir}: another amtflow local serve (pid {holder}) owns it; stop that "
                "one or pass another --state-dir."
            ) from None
        handle.seek(0)
        handle.truncate()
        handle.write(f"{os.getpid()}\n")
        handle.flush()
        try:
            yield
        finally:
            handle.truncate(0)
            fcntl.flock(handle, fcntl.LOCK_UN)


def _running(engine: Engine) -> list[str]:
    return [
        str(d["HyperParameterTuningJobName"])
        for d in engine.tuning_jobs()
        if d["HyperParameterTuningJobStatus"] in ("InProgress", "Stopping")
    ]


def serve(
    state_dir: Path,
    *,
    image_map: str | None = None,
    host: str = "127.0.0.1",
    port: int = 0,
    allow_remote: bool = False,
    max_workers: int | None = None,
    out: TextIO | None = None,
    err: TextIO | None = None,
    stop: threading.Event | None = None,
) -> int:
    """Serve until SIGINT/SIGTERM (or ``stop`` is set), then stop the running jobs and return 0."""
    out = out or sys.stdout
    err = err or sys.stderr
    if not 0 <= port <= 65535:
        raise ConfigurationError(f"--port {port}: give a port from 1 to 65535, or 0 for a free one.")
    if not is_loopback(host):
        if not allow_remote:
            raise ConfigurationError(
                f"--host {host}: not a loopback address; the service runs training commands for anyone "
                "who can reach it and has no authentication. Use 127.0.0.1, or add --allow-remote on a "
                "network you trust."
            )
        err.write(
            f"{PREFIX}: WARNING: listening on {host}: anyone who can reach this port can run jobs (the "
            "image map's commands) and read or write local files through file:// locations.\n"
        )
    stop = stop or threading.Event()
    with _own(state_dir):
        engine = Engine(
            state_dir,
            image_map,
            event_sink=lambda entry: None,
            max_workers=max_workers,
            s3_client=_NoS3(),  # type: ignore[arg-type]
        )
        try:
            service = LocalService(engine, host, port, remote=allow_remote)
        except OSError as e:
            raise ConfigurationError(f"--host {host} --port {port}: cannot listen there ({e}).") from None
        previous = _on_signals(stop)
        try:
            service.start()
            out.write(f"{PREFIX}: {service.url}\n")
            out.flush()
            while not stop.wait(0.5):
                pass
        finally:
            service.close()
            _restore(previous)
            _stop_jobs(engine, out)
    return 0


def _stop_jobs(engine: Engine, out: TextIO) -> None:
    running = _running(engine)
    what = f"; stopping {len(running)} running tuning job(s): {', '.join(running)}" if running else ""
    endpoints = sorted(e.name for e in engine.hosting.endpoints.values())
    if endpoints:
        what += f"; stopping the serving processes of {len(endpoints)} endpoint(s): {', '.join(endpoints)}"
    out.write(f"{PREFIX}: shutting down{what}\n")
    out.flush()
    engine.shutdown()
    for name in running:
        answer = engine.handle("DescribeHyperParameterTuningJob", {"HyperParameterTuningJobName": name})
        out.write(f"{PREFIX}: {name} {answer['HyperParameterTuningJobStatus']}\n")
    out.write(f"{PREFIX}: stopped\n")
    out.flush()


_Handler = Any  # a signal handler as signal.signal returns it


def _on_signals(stop: threading.Event) -> dict[int, _Handler]:
    if threading.current_thread() is not threading.main_thread():
        return {}

    def handler(signum: int, frame: FrameType | None) -> None:
        stop.set()

    return {sig: signal.signal(sig, handler) for sig in (signal.SIGINT, signal.SIGTERM)}


def _restore(previous: dict[int, _Handler]) -> None:
    for sig, handler in previous.items():
        signal.signal(sig, handler)
