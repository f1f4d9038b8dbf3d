"""Serving processes: a model's image run as SageMaker runs an inference container, and the calls to it.

For each production variant the engine unpacks the model's ``ModelDataUrl`` (a ``model.tar.gz`` in S3 or,
locally, a ``file://`` one) into the variant's own folder and starts the image's command (the image map's)
with the argument ``serve``, as SageMaker runs ``docker run <image> serve``. The process gets:

- ``SM_MODEL_DIR``: the unpacked model (``/opt/ml/model`` in a container);
- ``SAGEMAKER_BIND_TO_PORT``: the port to listen on (a free one of this machine's loopback; a container
  listens on 8080) and, a local extension, ``SAGEMAKER_BIND_TO_HOST=127.0.0.1`` (a container listens on
  every address; here the model is not offered to the network);
- the model's ``PrimaryContainer.Environment``, and of this process's environment only what a trial gets
  (never the host's AWS credentials unless the image map entry opts in).

It must answer ``GET /ping`` with 200 once ready and ``POST /invocations`` with the prediction. Its output
goes to ``serve.log`` in the variant's folder. The process has its own process group, stopped with
SIGTERM then SIGKILL, and killed when the interpreter exits; on Linux it also dies with the engine's
process (``PR_SET_PDEATHSIG``, which follows the thread that started the process: serving processes are
started from one long-lived launcher thread, not from the deployment's thread, which ends).
"""

from __future__ import annotations

import contextlib
import functools
import http.client
import os
import shutil
import signal
import socket
import subprocess
import tarfile
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

from amtflow.local.engine._images import ImageCommand
from amtflow.local.engine._paths import check_uri, local_path
from amtflow.local.engine._runner import die_with_parent, forget_group, host_environment, track_group

#: How long a variant's ``/ping`` may take to answer 200 after its start (SageMaker: 8 minutes).
STARTUP_SECONDS = 480.0
PING_TIMEOUT_SECONDS = 2.0  # SageMaker's per-ping timeout
INVOKE_TIMEOUT_SECONDS = 60.0  # a container must answer /invocations within 60 s
LOG_TAIL_LINES = 5


@functools.cache
def _launcher() -> ThreadPoolExecutor:
    """The one thread that starts serving processes (it lives as long as the interpreter)."""
    return ThreadPoolExecutor(max_workers=1, thread_name_prefix="serving-launcher")


class ServingFailure(Exception):
    """A variant that could not be brought into service; the message is the endpoint's FailureReason."""


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def unpack_model(model_data_url: str | None, model_dir: Path, s3: Callable[[], Any]) -> None:
    """The model's ``model.tar.gz`` unpacked into ``model_dir`` (left empty without a ``ModelDataUrl``)."""
    model_dir.mkdir(parents=True, exist_ok=True)
    if not model_data_url:
        return
    check_uri(model_data_url, "PrimaryContainer.ModelDataUrl")
    archive = model_dir.parent / "model.tar.gz"
    try:
        if urlparse(model_data_url).scheme == "file":
            shutil.copyfile(local_path(model_data_url), archive)
        else:
            parsed = urlparse(model_data_url)
            s3().download_file(parsed.netloc, parsed.path.lstrip("/"), str(archive))
        with tarfile.open(archive) as tar:
            tar.extractall(model_dir, filter="data")
    except (OSError, tarfile.TarError) as e:
        raise ServingFailure(f"Failed to extract model data archive from URL {model_data_url!r}: {e}") from e
    except Exception as e:  # botocore errors: a missing bucket or key
        raise ServingFailure(f"Could not download model data from {model_data_url}: {e}") from e
    finally:
        archive.unlink(missing_ok=True)


class ServingProcess:
    """One variant's serving process: started, checked with ``/ping``, called, stopped."""

    def __init__(
        self, label: str, command: ImageCommand, root: Path, environment: Mapping[str, str] | None = None
    ) -> None:
        self.label = label
        self.command = command
        self.root = root
        self.model_dir = root / "model"
        self.log_path = root / "serve.log"
        self.environment = dict(environment or {})
        self.port = 0
        self._proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        self.port = _free_port()
        env = host_environment(
            os.environ,
            inherit_env=self.command.inherit_env,
            pass_aws_credentials=self.command.pass_aws_credentials,
        )
        env.update(self.environment)
        env.update(
            {
                "SM_MODEL_DIR": str(self.model_dir),
                "SAGEMAKER_BIND_TO_PORT": str(self.port),
                "SAGEMAKER_BIND_TO_HOST": "127.0.0.1",
                "PYTHONUNBUFFERED": "1",
            }
        )
        with open(self.log_path, "ab") as log:
            try:
                self._proc = (
                    _launcher()
                    .submit(
                        subprocess.Popen,
                        [*self.command.argv, "serve"],
                        cwd=self.root,
                        env=env,
                        stdin=subprocess.DEVNULL,
                        stdout=log,
                        stderr=subprocess.STDOUT,
                        start_new_session=True,
                        preexec_fn=die_with_parent(),
                    )
                    .result()
                )
            except OSError as e:
                raise ServingFailure(f"{self.label}: cannot start {self.command.argv[0]}: {e}") from e
        track_group(self._proc.pid)

    def exit_code(self) -> int | None:
        """The exit code once the process has ended, else None (also before its start and after its stop)."""
        return self._proc.poll() if self._proc is not None else None

    def died(self) -> str | None:
        """Why the process is gone (exit code and the end of its log), or None while it runs."""
        code = self.exit_code()
        if code is None:
            return None
        return f"the serving process of {self.label} exited with code {code}{self._tail()}"

    def _tail(self) -> str:
        try:
            lines = self.log_path.read_text(encoding="utf-8", errors="replace").splitlines()
        except OSError:
            return ""
        tail = " | ".join(line.strip() for line in lines[-LOG_TAIL_LINES:] if line.strip())
        return f": {tail}" if tail else ""

    def ping(self) -> bool:
        """Whether ``GET /ping`` answers 200 now."""
        try:
            conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=PING_TIMEOUT_SECONDS)
            try:
                conn.request("GET", "/ping")
                return conn.getresponse().status == 200
            finally:
                conn.close()
        except OSError:
            return False

    def wait_ready(
        self,
        timeout: float,
        monotonic: Callable[[], float],
        sleep: Callable[[float], None],
        cancelled: Callable[[], bool] = lambda: False,
    ) -> None:
        """Return once ``/ping`` answers 200; :class:`ServingFailure` if the process dies, time runs out or
        the deployment is cancelled (the endpoint deleted, the engine ending)."""
        deadline = monotonic() + timeout
        while True:
            if cancelled():
                raise ServingFailure(f"the start of {self.label} was cancelled")
            reason = self.died()
            if reason is not None:
                raise ServingFailure(f"{reason}. Check {self.log_path}.")
            if self.ping():
                return
            if monotonic() >= deadline:
                raise ServingFailure(
                    f"The primary container for production variant {self.label} did not pass the ping "
                    f"health check within {timeout:g} seconds. Check {self.log_path}."
                )
            sleep(0.05)

    def invoke(self, body: bytes, headers: Mapping[str, str]) -> tuple[int, bytes, str]:
        """``POST /invocations``: the status, body and content type the container answered."""
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=INVOKE_TIMEOUT_SECONDS)
        try:
            conn.request("POST", "/invocations", body=body, headers=dict(headers))
            response = conn.getresponse()
            data = response.read()
            return response.status, data, response.getheader("Content-Type") or "application/octet-stream"
        finally:
            conn.close()

    def stop(self, grace: float) -> None:
        """SIGTERM the process group, SIGKILL it after ``grace`` seconds; returns once it is gone."""
        proc, self._proc = self._proc, None
        if proc is None:
            return
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(proc.pid, signal.SIGTERM)
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(timeout=grace)
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(proc.pid, signal.SIGKILL)  # and whatever it left behind in its group
        proc.wait()
        forget_group(proc.pid)
