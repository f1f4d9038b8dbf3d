"""The trial runner: one training job as a real process under the SageMaker training-container contract.

The runner executes; it decides nothing. For each training job it lays out an ``/opt/ml``-shaped
directory::

    <root>/input/config/hyperparameters.json   (all values strings, as SageMaker writes them)
    <root>/input/config/resourceconfig.json    ({"current_host": "algo-1", "hosts": ["algo-1"], ...})
    <root>/input/config/inputdataconfig.json
    <root>/input/data/<channel>/               (a link to the fetched channel data)
    <root>/model/  <root>/output/data/  <root>/output/failure (written by a failing script)
    <root>/checkpoints/

and starts the mapped command with the hyperparameters appended as ``--name value`` (names starting with
``_``, such as ``_tuning_objective_metric``, are only in ``hyperparameters.json`` and ``SM_HPS``) and the
``SM_*`` environment: ``SM_MODEL_DIR``, ``SM_CHANNELS``, ``SM_CHANNEL_<NAME>``, ``SM_HPS``, ``SM_HP_<NAME>``,
``SM_OUTPUT_DATA_DIR``, ``SM_OUTPUT_DIR``, ``SM_INPUT_DIR``, ``SM_INPUT_CONFIG_DIR``, ``SM_NUM_CPUS``,
``SM_NUM_GPUS``, ``SM_HOSTS``, ``SM_CURRENT_HOST``, ``SM_RESOURCE_CONFIG``, ``SM_INPUT_DATA_CONFIG``,
``SM_USER_ARGS``, ``SM_TRAINING_ENV`` and (a local extension) ``SM_CHECKPOINT_DIR``, plus the job's own
``Environment``. Of this process's environment the trial sees only what it needs to run (see
:func:`host_environment`): never the host's AWS credentials or profile, unless the image map entry opts in
(``pass_aws_credentials``, ``inherit_env``). The process gets its
own process group and, on Linux, dies with the engine (``PR_SET_PDEATHSIG``; the signal follows the
thread that started the trial, and the job loop threads outlive their trials); every live group is killed
when the interpreter exits.

stdout and stderr are captured line by line into the trial's log; each line is matched against the
``MetricDefinitions`` regexes (first group = value), which builds the per-metric step history.
"""

from __future__ import annotations

import atexit
import contextlib
import ctypes
import fnmatch
import functools
import json
import os
import re
import signal
import subprocess
import sys
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from amtflow.local.engine._model import Clock
from amtflow.local.engine._paths import inside

STOP_GRACE_SECONDS = 2.0

#: Host variables a trial gets: what the interpreter and its libraries need to start and find things.
HOST_ENV_NAMES = frozenset(
    {"PATH", "HOME", "USER", "LOGNAME", "TMPDIR", "TMP", "TEMP", "LANG", "LANGUAGE", "TZ", "VIRTUAL_ENV"}
    | {"LD_LIBRARY_PATH", "DYLD_LIBRARY_PATH", "SYSTEMROOT"}
)
HOST_ENV_PREFIXES = ("LC_", "PYTHON")
#: Without ``pass_aws_credentials`` a trial's AWS SDK finds no credentials of the host: not in variables,
#: not in ``~/.aws`` (the files point at the null device), not from the instance metadata service.
NO_AWS_CREDENTIALS = {
    "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
    "AWS_CONFIG_FILE": os.devnull,
    "AWS_EC2_METADATA_DISABLED": "true",
}

_live_lock = threading.Lock()
_live_groups: set[int] = set()
_atexit_registered = False


def _kill_live_groups() -> None:
    with _live_lock:
        groups = list(_live_groups)
        _live_groups.clear()
    for pgid in groups:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(pgid, signal.SIGKILL)


def _register_atexit() -> None:
    global _atexit_registered
    with _live_lock:
        if not _atexit_registered:
            atexit.register(_kill_live_groups)
            _atexit_registered = True


def die_with_parent() -> Callable[[], None] | None:
    """A ``preexec_fn`` that has the child killed when the thread that starts it ends (Linux; else None)."""
    return _parent_death_signal()


def track_group(pgid: int) -> None:
    """Kill this process group when the interpreter exits (until :func:`forget_group`)."""
    _register_atexit()
    with _live_lock:
        _live_groups.add(pgid)


def forget_group(pgid: int) -> None:
    """The group ended or was stopped: no longer killed at exit."""
    with _live_lock:
        _live_groups.discard(pgid)


def live_process_groups() -> set[int]:
    """Process groups of trials still running (tests check that Stop leaves none)."""
    with _live_lock:
        return set(_live_groups)


@functools.cache
def _parent_death_signal() -> Callable[[], None] | None:
    if not sys.platform.startswith("linux"):
        return None
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        prctl = libc.prctl
    except (OSError, AttributeError):
        return None
    pr_set_pdeathsig = 1

    def set_pdeathsig() -> None:
        prctl(pr_set_pdeathsig, signal.SIGKILL)

    return set_pdeathsig


def host_environment(
    host: Mapping[str, str], *, inherit_env: Sequence[str] = (), pass_aws_credentials: bool = False
) -> dict[str, str]:
    """The part of ``host`` (this process's environment) a trial's process starts with.

    Allowed: :data:`HOST_ENV_NAMES` and names starting with :data:`HOST_ENV_PREFIXES` (locale, ``PYTHON*``);
    the names (or ``PREFIX*`` patterns) in ``inherit_env``; every ``AWS_*`` variable when
    ``pass_aws_credentials``, else :data:`NO_AWS_CREDENTIALS` for the names not inherited.
    """
    env = {k: v for k, v in host.items() if k in HOST_ENV_NAMES or k.startswith(HOST_ENV_PREFIXES)}
    env.update({k: v for k, v in host.items() if any(fnmatch.fnmatchcase(k, p) for p in inherit_env)})
    if pass_aws_credentials:
        env.update({k: v for k, v in host.items() if k.startswith("AWS_")})
    else:
        for k, v in NO_AWS_CREDENTIALS.items():
            env.setdefault(k, v)
    return env


@dataclass(frozen=True)
class MetricDefinition:
    name: str
    regex: re.Pattern[str]


@dataclass
class MetricPoint:
    name: str
    value: float
    step: int
    timestamp: float  # epoch seconds


@dataclass
class TrialSpec:
    """Everything needed to run one training job."""

    name: str
    command: Sequence[str]
    root: Path
    hyperparameters: Mapping[str, str]
    channels: Mapping[str, Path]
    input_data_config: Sequence[Mapping[str, object]]
    metric_definitions: Sequence[MetricDefinition]
    environment: Mapping[str, str] = field(default_factory=dict)
    instance_type: str = "ml.m5.large"
    num_cpus: int = 1
    log_path: Path | None = None
    inherit_env: Sequence[str] = ()
    pass_aws_credentials: bool = False


class TrialProcess:
    """A started training process: its metrics so far, its exit, a way to stop it."""

    def __init__(self, spec: TrialSpec, clock: Clock) -> None:
        self.spec = spec
        self.clock = clock
        self.metrics: list[MetricPoint] = []
        self._steps: dict[str, int] = {}
        self._lock = threading.Lock()
        self._log_lines: list[str] = []
        self.started_at = clock.monotonic()
        self.stop_requested: str | None = None
        self._proc: subprocess.Popen[bytes] | None = None
        self._readers: list[threading.Thread] = []

    # -- set-up -------------------------------------------------------------------------------------
    def _layout(self) -> dict[str, str]:
        s = self.spec
        root = s.root
        config_dir = root / "input" / "config"
        for d in (
            config_dir,
            root / "input" / "data",
            root / "model",
            root / "output" / "data",
            root / "checkpoints",
        ):
            d.mkdir(parents=True, exist_ok=True)
        hps = dict(s.hyperparameters)
        resource = {
            "current_host": "algo-1",
            "hosts": ["algo-1"],
            "current_instance_type": s.instance_type,
            "current_group_name": "homogeneousCluster",
            "network_interface_name": "eth0",
        }
        input_config = {
            str(c.get("ChannelName")): {k: v for k, v in c.items() if k != "ChannelName"}
            for c in s.input_data_config
        }
        (config_dir / "hyperparameters.json").write_text(json.dumps(hps, indent=1))
        (config_dir / "resourceconfig.json").write_text(json.dumps(resource, indent=1))
        (config_dir / "inputdataconfig.json").write_text(json.dumps(input_config, indent=1, default=str))
        channel_dirs: dict[str, str] = {}
        for channel, source in s.channels.items():
            link = inside(root / "input" / "data", channel, follow_last=False, what="the trial's folder")
            if not link.is_symlink():
                link.symlink_to(source.resolve(), target_is_directory=True)
            channel_dirs[channel] = str(link)
        user_args = [a for k, v in hps.items() if not k.startswith("_") for a in (f"--{k}", v)]
        env = {
            "SM_MODEL_DIR": str(root / "model"),
            "SM_CHANNELS": json.dumps(sorted(channel_dirs)),
            "SM_HPS": json.dumps(hps),
            "SM_OUTPUT_DATA_DIR": str(root / "output" / "data"),
            "SM_OUTPUT_DIR": str(root / "output"),
            "SM_INPUT_DIR": str(root / "input"),
            "SM_INPUT_CONFIG_DIR": str(config_dir),
            "SM_CHECKPOINT_DIR": str(root / "checkpoints"),
            "SM_NUM_CPUS": str(s.num_cpus),
            "SM_NUM_GPUS": "0",
            "SM_HOSTS": json.dumps(["algo-1"]),
            "SM_CURRENT_HOST": "algo-1",
            "SM_CURRENT_INSTANCE_TYPE": s.instance_type,
            "SM_RESOURCE_CONFIG": json.dumps(resource),
            "SM_INPUT_DATA_CONFIG": json.dumps(input_config, default=str),
            "SM_USER_ARGS": json.dumps(user_args),
            "SM_TRAINING_ENV": json.dumps(
                {
                    "hyperparameters": hps,
                    "channel_input_dirs": channel_dirs,
                    "model_dir": str(root / "model"),
                    "output_data_dir": str(root / "output" / "data"),
                    "hosts": ["algo-1"],
                    "current_host": "algo-1",
                    "num_cpus": s.num_cpus,
                    "num_gpus": 0,
                    "job_name": s.name,
                }
            ),
            "TRAINING_JOB_NAME": s.name,
            "PYTHONUNBUFFERED": "1",
            "OMP_NUM_THREADS": str(s.num_cpus),
        }
        for channel, path in channel_dirs.items():
            env[f"SM_CHANNEL_{channel.upper().replace('-', '_').replace('.', '_')}"] = path
        for k, v in hps.items():
            if not k.startswith("_"):
                # '=' cannot be part of a variable's name (the name is checked to hold no NUL)
                env[f"SM_HP_{k.upper().replace('-', '_').replace('=', '_')}"] = v
        env.update(s.environment)
        return env

    # -- running ------------------------------------------------------------------------------------
    def start(self) -> None:
        _register_atexit()
        extra = self._layout()
        # A training container's environment: what the interpreter needs from this process's environment
        # (no AWS credentials unless the image map entry opts in), the SM_* contract, the job's Environment.
        host = host_environment(
            os.environ, inherit_env=self.spec.inherit_env, pass_aws_credentials=self.spec.pass_aws_credentials
        )
        env = {**host, **extra}
        user_args = [
            a for k, v in self.spec.hyperparameters.items() if not k.startswith("_") for a in (f"--{k}", v)
        ]
        argv = [*self.spec.command, *user_args]
        self.started_at = self.clock.monotonic()
        self._log_file = open(self.spec.log_path or (self.spec.root / "trial.log"), "a", encoding="utf-8")  # noqa: SIM115
        try:
            self._proc = subprocess.Popen(
                argv,
                cwd=self.spec.root,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                start_new_session=True,
                preexec_fn=_parent_death_signal(),
            )
        except OSError as e:
            self._log_file.write(f"cannot start {argv[0]}: {e}\n")
            self._log_file.close()
            raise
        with _live_lock:
            _live_groups.add(self._proc.pid)
        for stream, label in ((self._proc.stdout, "stdout"), (self._proc.stderr, "stderr")):
            t = threading.Thread(
                target=self._read, args=(stream, label), daemon=True, name=f"trial-{self.spec.name}-{label}"
            )
            t.start()
            self._readers.append(t)

    def _read(self, stream: object, label: str) -> None:
        assert self._proc is not None
        for raw in iter(stream.readline, b""):  # type: ignore[attr-defined]
            line = raw.decode("utf-8", errors="replace").rstrip("\n")
            with self._lock:
                self._log_file.write(line + "\n")
                self._log_file.flush()
                if label == "stderr":
                    self._stderr_tail = [*getattr(self, "_stderr_tail", [])[-19:], line]
                self._log_lines.append(line)
                for definition in self.spec.metric_definitions:
                    m = definition.regex.search(line)
                    if not m:
                        continue
                    try:
                        value = float(m.group(1) if m.groups() else m.group(0))
                    except (ValueError, IndexError):
                        continue
                    step = self._steps.get(definition.name, 0) + 1
                    self._steps[definition.name] = step
                    self.metrics.append(
                        MetricPoint(definition.name, value, step, self.clock.now().timestamp())
                    )

    def poll(self) -> int | None:
        """The exit code once the process and its output readers are done, else None."""
        if self._proc is None:
            return None
        code = self._proc.poll()
        if code is None:
            return None
        for t in self._readers:
            t.join(timeout=5)
        self._forget_group()
        with self._lock:
            if not self._log_file.closed:
                self._log_file.close()
        return code

    def _forget_group(self) -> None:
        if self._proc is None:
            return
        with _live_lock:
            _live_groups.discard(self._proc.pid)
        # The script may have left children behind in its group: no process outlives its trial.
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self._proc.pid, signal.SIGKILL)

    def stop(self, reason: str, *, grace: float = STOP_GRACE_SECONDS) -> None:
        """SIGTERM the trial's process group, SIGKILL it after ``grace`` seconds; returns once it is gone."""
        if self.stop_requested is None:
            self.stop_requested = reason
        if self._proc is None:
            return
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self._proc.pid, signal.SIGTERM)
        try:
            self._proc.wait(timeout=grace)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(self._proc.pid, signal.SIGKILL)
            self._proc.wait()
        self.poll()

    def terminate(self) -> None:
        """SIGTERM the trial's process group without waiting (:meth:`stop` then waits for it)."""
        if self._proc is None:
            return
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self._proc.pid, signal.SIGTERM)

    # -- observing ----------------------------------------------------------------------------------
    def metric_snapshot(self) -> list[MetricPoint]:
        with self._lock:
            return list(self.metrics)

    def stderr_tail(self, lines: int = 10) -> str:
        with self._lock:
            return "\n".join(getattr(self, "_stderr_tail", [])[-lines:])

    def elapsed(self) -> float:
        return self.clock.monotonic() - self.started_at

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc else None
