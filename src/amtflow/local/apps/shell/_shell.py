"""``amtflow local up``: keep the twin running and explore it with one-line commands.

Commands (``help`` lists them): ``put KEY FILE`` / ``put KEY --text TEXT``, ``dataset MODEL VERSION
[DATASET] [SEED]`` (an example dataset version with its marker), ``profile FILE``, ``start JSON [NAME]``,
``advance DURATION`` (``90``, ``15m``, ``2h``, ``1d``), ``wait [SECONDS]``, ``executions``, ``jobs``,
``lineage [MODEL]``, ``status``, ``notifications``, ``errors``, ``outputs``, ``quit``.
"""

from __future__ import annotations

import json
import re
import shlex
import tempfile
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

import yaml

from amtflow.app import StatusView
from amtflow.errors import AmtflowError, InvalidInputError

if TYPE_CHECKING:
    from amtflow.local.twin import Twin

_DURATION = re.compile(r"^(\d+(?:\.\d+)?)([smhd]?)$")
_UNITS = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400}


def parse_duration(text: str) -> float:
    """Seconds in ``90``, ``90s``, ``15m``, ``2h`` or ``1d``."""
    match = _DURATION.match(text.strip())
    if not match:
        raise InvalidInputError(f"duration {text!r} must look like 90, 15m, 2h or 1d", field="duration")
    return float(match.group(1)) * _UNITS[match.group(2)]


COMMANDS: tuple[tuple[str, str], ...] = (
    ("help", "list the commands"),
    ("put", "put KEY FILE | put KEY --text TEXT - put an object into the data bucket"),
    ("profile", "profile FILE - put a model profile at profiles/<model>.yaml"),
    ("dataset", "dataset MODEL VERSION [DATASET] [SEED] - upload an example dataset version and its marker"),
    ("start", 'start JSON [NAME] - start an execution with this input, e.g. start {"model": "churn-xgb"}'),
    ("advance", "advance DURATION - move the clock (90, 15m, 2h, 1d), firing schedules"),
    ("wait", "wait [SECONDS] - wait until deliveries and executions are done"),
    ("executions", "list executions with status and states"),
    ("jobs", "list tuning jobs and their trials"),
    ("lineage", "lineage [MODEL] - recorded runs and the champion per model"),
    ("status", "every model's last run, champion, running jobs, spend; alarms"),
    ("notifications", "messages received on the notification topic"),
    ("errors", "failures of event-driven invocations and deliveries"),
    ("outputs", "the stack outputs"),
    ("quit", "stop the twin"),
)
"""The commands with their one-line help (``help`` prints them, so does ``amtflow local up --help``)."""


def commands_help() -> str:
    """The commands as an indented two-column list."""
    return "\n".join(f"  {name:<14} {text}" for name, text in COMMANDS)


def split_command(line: str) -> list[str]:
    """The words of a command line, shell-quoted; a JSON argument of ``start`` may be typed unquoted
    (``start {"model": "churn-xgb"} NAME``) and is kept whole as the first argument."""
    head, _, rest = line.strip().partition(" ")
    rest = rest.strip()
    if head.lower() == "start" and rest[:1] in ("{", "["):
        try:
            document, end = json.JSONDecoder().raw_decode(rest)
        except ValueError:
            pass  # not JSON as typed: read it as shell words (a quoted argument)
        else:
            return [head, json.dumps(document), *shlex.split(rest[end:])]
    return shlex.split(line)


def twin_status(twin: Twin) -> StatusView:
    """The status view of the twin's stack (what ``amtflow status --stack`` prints for a deployed one)."""
    from amtflow.adapters import CloudWatchAlarms
    from amtflow.local.cli_status import status_of

    stacks = twin.client("cloudformation").describe_stacks().get("Stacks", [])
    stack = str(stacks[0]["StackName"]) if stacks else "amtflow"
    return status_of(
        dynamodb=twin.client("dynamodb"),
        table=twin.physical_id("StateTable"),
        s3=twin.client("s3"),
        bucket=twin.outputs.get("DataBucketName", ""),
        alarms=CloudWatchAlarms(twin.client("cloudwatch"), stack),
        now=twin.now(),
    )


class Shell:
    """Parses and runs one command line at a time against a running :class:`Twin`."""

    def __init__(self, twin: Twin, out: TextIO, *, examples_data: Callable[[], Any] | None = None) -> None:
        self.twin = twin
        self.out = out
        self._examples_data = examples_data
        self._commands: dict[str, Callable[[list[str]], None]] = {
            name: getattr(self, f"_{name}") for name, _ in COMMANDS if name != "quit"
        }

    def say(self, text: str) -> None:
        print(text, file=self.out, flush=True)

    def handle(self, line: str) -> bool:
        """Run one command; return False when the user asked to quit."""
        try:
            words = split_command(line)
        except ValueError as e:
            self.say(f"error: {e}")
            return True
        if not words:
            return True
        name, args = words[0].lower(), words[1:]
        if name in ("quit", "exit"):
            return False
        if name not in self._commands:
            self.say(f"unknown command {name!r}; type 'help' for the list")
            return True
        try:
            self._commands[name](args)
        except AmtflowError as e:
            self.say(f"error: {e}")
        except (OSError, ValueError, KeyError) as e:
            self.say(f"error: {type(e).__name__}: {e}")
        return True

    def run(self, lines: Iterable[str], *, prompt: str = "amtflow> ") -> None:
        """Read commands until ``quit`` or the end of input."""
        self.say("local twin is up; type 'help' for commands, 'quit' to stop")
        self.out.write(prompt)
        self.out.flush()
        for line in lines:
            if not self.handle(line):
                return
            self.out.write(prompt)
            self.out.flush()
        self.say("")

    def _need(self, args: list[str], count: int, usage: str) -> None:
        if len(args) < count:
            raise InvalidInputError(f"usage: {usage}", field="command")

    def _help(self, args: list[str]) -> None:
        self.say(commands_help())

    def _put(self, args: list[str]) -> None:
        self._need(args, 2, "put KEY FILE | put KEY --text TEXT")
        key = args[0]
        body = " ".join(args[2:]).encode() if args[1] == "--text" else Path(args[1]).read_bytes()
        self.twin.put_object(key, body)
        self.twin.wait_idle()
        self.say(f"put s3://{self.twin.outputs.get('DataBucketName', '?')}/{key} ({len(body)} bytes)")

    def _profile(self, args: list[str]) -> None:
        self._need(args, 1, "profile FILE")
        text = Path(args[0]).read_text(encoding="utf-8")
        model = (yaml.safe_load(text) or {}).get("model")
        if not model:
            raise InvalidInputError(f"{args[0]} has no 'model' key", field="model")
        self.twin.put_object(f"profiles/{model}.yaml", text)
        self.say(f"put profiles/{model}.yaml")

    def _dataset(self, args: list[str]) -> None:
        self._need(args, 2, "dataset MODEL VERSION [DATASET] [SEED]")
        if self._examples_data is None:
            raise InvalidInputError(
                "example datasets are not available here (examples/data.py)", field="dataset"
            )
        model, version = args[0], args[1]
        dataset = args[2] if len(args) > 2 else "breast_cancer"
        seed = int(args[3]) if len(args) > 3 else 1
        data = self._examples_data()
        with tempfile.TemporaryDirectory() as tmp:
            files = data.write_version(data.make_version(dataset, seed=seed), tmp)
            for channel, path in sorted(files.items()):
                self.twin.put_object(
                    f"datasets/{model}/{version}/{channel}/data.csv", Path(path).read_bytes()
                )
        self.twin.put_object(f"datasets/{model}/{version}/_READY", b"")
        self.twin.wait_idle()
        self.say(f"uploaded {dataset} (seed {seed}) as datasets/{model}/{version}/ with its _READY marker")

    def _start(self, args: list[str]) -> None:
        self._need(args, 1, "start JSON [NAME]")
        try:
            document = json.loads(args[0])
        except ValueError as e:
            raise InvalidInputError(f"the execution input is not JSON: {e}", field="input") from e
        arn = self.twin.start_execution(document, name=args[1] if len(args) > 1 else None)
        self.say(f"started {arn}")

    def _advance(self, args: list[str]) -> None:
        self._need(args, 1, "advance DURATION")
        fired = self.twin.advance(parse_duration(args[0]), wait=False)
        self.twin.wait_idle()
        self.say(f"clock now {self.twin.now():%Y-%m-%d %H:%M:%S}Z; {len(fired)} schedule firing(s)")
        for item in fired:
            self.say(f"  {item}")

    def _wait(self, args: list[str]) -> None:
        timeout = parse_duration(args[0]) if args else 600.0
        done = self.twin.wait_for_executions(timeout=timeout)
        self.say(f"idle; {len(done)} execution(s)")

    def _executions(self, args: list[str]) -> None:
        executions = self.twin.executions()
        if not executions:
            self.say("no executions yet")
        for e in executions:
            tail = f" {e.error}: {(e.cause or '')[:160]}" if e.error else ""
            self.say(f"{e.name:<40} {e.status.value:<10} {' > '.join(e.states)}{tail}")

    def _jobs(self, args: list[str]) -> None:
        sm = self.twin.client("sagemaker")
        jobs = sm.list_hyper_parameter_tuning_jobs(MaxResults=100)["HyperParameterTuningJobSummaries"]
        if not jobs:
            self.say("no tuning jobs yet")
        for job in jobs:
            name = job["HyperParameterTuningJobName"]
            described = sm.describe_hyper_parameter_tuning_job(HyperParameterTuningJobName=name)
            best = described.get("BestTrainingJob") or {}
            metric = best.get("FinalHyperParameterTuningJobObjectiveMetric") or {}
            counters = job.get("TrainingJobStatusCounters", {})
            self.say(
                f"{name:<34} {job['HyperParameterTuningJobStatus']:<10} {job.get('Strategy')} "
                f"completed={counters.get('Completed', 0)} running={counters.get('InProgress', 0)} "
                f"best={best.get('TrainingJobName', '-')} "
                f"{metric.get('MetricName', '')}={metric.get('Value', '-')}"
            )

    def _lineage(self, args: list[str]) -> None:
        from amtflow.adapters import DynamoDBLineageStore
        from amtflow.local.cli_lineage import render_lineage

        store = DynamoDBLineageStore(self.twin.client("dynamodb"), self.twin.physical_id("StateTable"))
        models = args or self._models()
        if not models:
            self.say("no models yet (put a profile first)")
        for model in models:
            self.say(render_lineage(store, model))

    def _status(self, args: list[str]) -> None:
        from amtflow.app import render_status

        self.say(render_status(twin_status(self.twin)))

    def _models(self) -> list[str]:
        bucket = self.twin.outputs.get("DataBucketName")
        if not bucket:
            return []
        listed = self.twin.client("s3").list_objects_v2(Bucket=bucket, Prefix="profiles/").get("Contents", [])
        return sorted(Path(o["Key"]).stem for o in listed if o["Key"].endswith((".yaml", ".yml")))

    def _notifications(self, args: list[str]) -> None:
        notes = self.twin.notifications()
        if not notes:
            self.say("no notifications yet")
        for n in notes:
            attrs = " ".join(f"{k}={v}" for k, v in sorted(n.attributes.items()))
            self.say(f"{n.timestamp} {n.subject} [{attrs}]")
            self.say("  " + n.message[:400])

    def _errors(self, args: list[str]) -> None:
        errors = self.twin.errors()
        self.say("\n".join(errors) if errors else "no errors")

    def _outputs(self, args: list[str]) -> None:
        for key, value in sorted(self.twin.outputs.items()):
            self.say(f"{key:<28} {value}")
