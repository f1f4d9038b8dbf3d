"""``amtflow demo``: a scripted story told by the application itself, running in the twin with real training.

The project's template is deployed into the twin and a model profile lands in the data bucket; then, in the
order of the story:

1. dataset version v1 lands: its marker object starts a run (router → state machine → plan → tuning job
   with real trials in the local AMT engine → the job's EventBridge event closes the callback → evaluate →
   notify), a cold start;
2. v2 lands with a moderate drift: the plan measures it against v1's data and warm-starts a
   ``TransferLearning`` tuning job from v1's job, with a reduced budget;
3. the clock moves on an hour and the scheduled router tick finds nothing to do;
4. a console execution whose overrides try to lift the budget (caps removed, a big GPU priced at nothing) is
   refused before anything is planned, naming each key it may not change;
5. v3 lands with a severe drift (a cold start) and the tuning job's completion event is lost: the execution
   waits until the reconciler's next sweep closes its callback;
6. v1's champion is approved and deployed (a prediction is printed), a later champion rolls out by canary,
   and a deliberately broken model is rolled back (``_deployment``).
7. a second model with deep, unregularised trees overfits, and its notification names AMT301
   (``_health``); the report ends with the status view (``amtflow status``).

Every step prints a timeline line as it happens; SNS messages are printed as a subscriber receives them; a
report (HTML with plots, and JSON) is written to the output folder.
"""

from __future__ import annotations

import importlib.util
import json
import sys
import tempfile
import threading
import warnings
from collections.abc import Callable, Mapping
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TextIO

import yaml

from amtflow.errors import ConfigurationError
from amtflow.local.apps.demo._deployment import DEPLOYMENT_SECTION, deployment_story
from amtflow.local.apps.demo._health import overfitting_run
from amtflow.local.apps.demo._timeline import Follower, Timeline, compact
from amtflow.local.apps.report import Trial, TuningRun, collect_runs, write_report
from amtflow.local.apps.shell import twin_status
from amtflow.local.twin import EventSink, Execution, ExecutionStatus, ManualClock, Twin
from amtflow.vocabulary import TuningJobStatus

DEMO_START = datetime(2026, 11, 4, 22, 0, tzinfo=UTC)
_QUIET = {"POWERTOOLS_LOG_LEVEL": "ERROR", "POWERTOOLS_METRICS_DISABLED": "true"}


@dataclass(frozen=True)
class DemoOptions:
    """What to run: ``quick`` trims the tuning budget so the whole story takes about a minute."""

    project_root: Path
    out_dir: Path
    quick: bool = False
    seed: int = 1
    built: bool = False  # run the functions as `make build` packaged them (Twin.start(built=True))

    @property
    def trials(self) -> int:
        return 4 if self.quick else 16

    @property
    def rounds(self) -> int:
        return 40 if self.quick else 200

    @property
    def timeout(self) -> float:
        return 75.0 if self.quick else 270.0


@dataclass
class DemoResult:
    """What the demo showed (the tests assert on it)."""

    report: Path
    executions: list[Execution]
    notifications: list[dict[str, Any]]
    runs: list[TuningRun]
    schedule_outcome: str
    checks: list[tuple[str, bool]]
    timeline: list[str] = field(default_factory=list)

    @property
    def succeeded(self) -> bool:
        """Every step turned out as the story says."""
        return bool(self.checks) and all(ok for _, ok in self.checks)


def load_examples_data(root: Path) -> Any:
    path = root / "examples" / "data.py"
    spec = importlib.util.spec_from_file_location("amtflow_examples_data", path)
    if spec is None or spec.loader is None or not path.is_file():
        raise ConfigurationError(
            f"the demo needs {path} (the examples' dataset builder); run it from the checkout"
        )
    if spec.name in sys.modules:
        return sys.modules[spec.name]
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while the class is built
    spec.loader.exec_module(module)
    return module


def _demo_profile(root: Path, options: DemoOptions) -> dict[str, Any]:
    path = root / "examples" / "xgboost" / "profile.yaml"
    if not path.is_file():
        raise ConfigurationError(f"the demo needs the example profile {path}")
    profile: dict[str, Any] = yaml.safe_load(path.read_text(encoding="utf-8"))
    profile["tuning"]["limits"] = {"max_jobs": options.trials, "max_parallel": 2, "max_runtime_s": 1800}
    profile["tuning"].pop("completion", None)
    profile["training"]["static_hyperparameters"]["num_round"] = options.rounds
    profile["deployment"] = DEPLOYMENT_SECTION
    return profile


def _trial_logs_client() -> Any:
    """CloudWatch Logs of the twin (moto), where the trials' logs go as on SageMaker: Evaluate's
    training-health rules read them (the overfitting run)."""
    import boto3

    return boto3.client("logs", region_name="us-east-1")


class _LostEvents:
    """Wraps the engine's event sink; drops the next terminal tuning-job event when armed."""

    _TERMINAL = frozenset(s.value for s in TuningJobStatus if s.is_terminal())

    def __init__(self, timeline: Timeline) -> None:
        self._tl = timeline
        self._lock = threading.Lock()
        self.armed = False
        self.dropped: list[str] = []

    def wrap(self, sink: EventSink) -> EventSink:
        def deliver(entry: Mapping[str, Any]) -> None:
            kind = entry.get("detail-type", entry.get("DetailType"))
            if kind == "SageMaker HyperParameter Tuning Job State Change":
                raw = entry.get("detail", entry.get("Detail", "{}"))
                detail = json.loads(raw) if isinstance(raw, str) else dict(raw)
                status = detail.get("HyperParameterTuningJobStatus")
                with self._lock:
                    drop = self.armed and status in self._TERMINAL
                    if drop:
                        self.armed = False
                        self.dropped.append(str(detail.get("HyperParameterTuningJobName")))
                if drop:
                    self._tl.line(
                        "event",
                        f"LOST on purpose: tuning job {detail.get('HyperParameterTuningJobName')} {status} "
                        "(SageMaker events are best effort)",
                    )
                    return
            sink(entry)

        return deliver


BUDGET_OVERRIDES: dict[str, Any] = {
    "budget": {"max_usd_per_run": None, "max_usd_per_month": None, "prices": {"ml.p4d.24xlarge": 0.0001}},
    "training": {"instance_type": "ml.p4d.24xlarge"},
}
"""A console user's overrides that would lift the budget: no caps, and a GPU instance priced at nothing."""


def run_demo(options: DemoOptions, *, out: TextIO) -> DemoResult:
    """Tell the story; return what happened (and whether every step turned out as the story says)."""
    root = options.project_root.resolve()
    tl = Timeline(out)
    examples = load_examples_data(root)
    profile = _demo_profile(root, options)
    model = str(profile["model"])
    tl.line(
        "demo",
        f"amtflow demo{' --quick' if options.quick else ''}: {root / 'template.yaml'} in the local twin",
    )
    lost = _LostEvents(tl)
    with tempfile.TemporaryDirectory(prefix="amtflow-demo-") as work, warnings.catch_warnings():
        # With metrics switched off Powertools never flushes, so a warm handler's dimensions pile up.
        warnings.filterwarnings("ignore", message="Dimension .* has already been added")

        def engine(sink: EventSink) -> AbstractContextManager[object]:
            from amtflow.local.engine import sagemaker as local_engine

            return local_engine(
                state_dir=Path(work) / "engine",
                image_map=root / "examples" / "image-map.yaml",
                event_sink=lost.wrap(sink),
                max_workers=2,
                logs_client=_trial_logs_client(),
            )

        with Twin.start(
            root,
            sagemaker=engine,
            clock=ManualClock(DEMO_START),
            work_dir=work,
            environment=_QUIET,
            seed=options.seed,
            built=options.built,
        ) as twin:
            tl.line(
                "deploy",
                f"stack deployed: {len(twin.resources('AWS::Lambda::Function'))} functions, "
                f"{len(twin.resources('AWS::StepFunctions::StateMachine'))} state machines, "
                f"{len(twin.resources('AWS::Events::Rule'))} EventBridge rules; "
                f"clock at {twin.now():%Y-%m-%d %H:%M}Z",
            )
            story = _Story(twin, tl, Follower(twin, tl), examples, options, Path(work), lost)
            story.put_profile(profile)
            story.cold_start(model)
            story.drift_warm_start(model)
            schedule_outcome = story.idle_tick()
            story.budget_override(model)
            story.lost_event(model, "v3")
            deployments = deployment_story(
                twin,
                tl,
                story.follower,
                model=model,
                timeout=options.timeout,
                step=story.step,
                check=story.check,
            )
            overfitting_run(story, profile, seed=options.seed)
            status = twin_status(twin)

            executions = twin.executions()
            details = [_execution_json(twin, e) for e in executions]
            runs = collect_runs(twin.client("sagemaker"))
            _attach_documents(runs, details)
            notifications = [
                {
                    "topic": n.topic_arn,
                    "subject": n.subject,
                    "message": n.message,
                    "attributes": dict(n.attributes),
                }
                for n in twin.notifications()
            ]
    for run_ in runs:
        tl.line("result", _run_summary(run_))
    for text, ok in story.checks:
        tl.line("check", f"{'ok  ' if ok else 'FAIL'} {text}")
    report = write_report(
        options.out_dir,
        title=f"amtflow demo - {model}",
        runs=runs,
        timeline=tl.lines,
        notifications=notifications,
        executions=details,
        checks=story.checks,
        deployments=deployments,
        status=status,
    )
    tl.line("report", f"{report} (and report.json)")
    return DemoResult(report, executions, notifications, runs, schedule_outcome, story.checks, tl.lines)


class _Story:
    """The demo's moves: put a profile, land a dataset version, advance the clock; each followed live."""

    def __init__(
        self,
        twin: Twin,
        tl: Timeline,
        follower: Follower,
        examples: Any,
        options: DemoOptions,
        work: Path,
        lost: _LostEvents,
    ) -> None:
        self.twin, self.tl, self.follower = twin, tl, follower
        self.examples, self.options, self.work, self.lost = examples, options, work, lost
        self.checks: list[tuple[str, bool]] = []
        self.steps = 0

    def step(self, text: str) -> None:
        self.steps += 1
        self.tl.line("step", f"{self.steps}. {text}")

    def check(self, text: str, ok: bool) -> None:
        self.checks.append((f"{self.steps}. {text}", ok))

    # ------------------------------------------------------------------ the five steps

    def cold_start(self, model: str) -> None:
        self.step("dataset version v1 lands -> cold start, Bayesian tuning with real trials")
        run = self.land_version(model, "v1", seed=self.options.seed)
        plan = _state_document(self.twin, run, "Plan", "plan") if run else None
        self.check(
            "v1: cold-start tuning, evaluated and notified",
            run is not None
            and run.status is ExecutionStatus.SUCCEEDED
            and plan is not None
            and plan.get("action") == "tune"
            and str(plan.get("warmStart", "cold")).lower() == "cold",
        )

    def drift_warm_start(self, model: str) -> None:
        self.step(
            "dataset version v2 lands with a moderate drift -> TransferLearning warm start from v1's job",
        )
        parent = self.job_for(model, "v1")
        run = self.land_version(model, "v2", seed=self.options.seed + 1, drift="moderate")
        plan = _state_document(self.twin, run, "Plan", "plan") if run else None
        job = self.job_for(model, "v2")
        warm = _warm_start(self.twin, job) if job else None
        self.tl.line("result", _reached_text(self.twin, parent, job))
        self.check(
            "v2: moderate drift measured, TransferLearning warm start from v1's job",
            run is not None
            and run.status is ExecutionStatus.SUCCEEDED
            and plan is not None
            and (plan.get("drift") or {}).get("severity") == "moderate"
            and warm == ("TransferLearning", [parent]),
        )

    def idle_tick(self) -> str:
        self.step("an hour passes -> the scheduled router tick finds no new data")
        executions_before = len(self.twin.executions())
        invocations_before = len(self.twin.invocations())
        self.advance(3600)
        outcome = _schedule_outcome(self.twin, executions_before, invocations_before)
        self.tl.line("schedule", outcome)
        self.check("idle schedule tick skipped", outcome.startswith("scheduled tick with no new data"))
        return outcome

    def budget_override(self, model: str) -> None:
        self.step(
            "a console execution whose overrides lift the budget -> refused at Plan, nothing is launched",
        )
        request = {"model": model, "action": "tune", "trigger": "manual", "overrides": BUDGET_OVERRIDES}
        jobs_before = self.job_names()
        self.tl.line(
            "console", f"StartExecution (no name: the console generates one), input {compact(request, 400)}"
        )
        arn = self.twin.start_execution(request)
        self.follower.follow(self.options.timeout)
        run = next((e for e in self.twin.executions() if e.arn == arn), None)
        self.check(
            "overrides outside the allow-list refused, naming each key, no tuning job created",
            run is not None
            and run.status is ExecutionStatus.FAILED
            and run.error == "OverridesRefusedError"
            and all(
                key in str(run.cause)
                for key in (
                    "overrides.budget.max_usd_per_run: not overridable",
                    "overrides.budget.prices: not overridable",
                    "overrides.training.instance_type: 'ml.p4d.24xlarge' is not an instance type",
                )
            )
            and self.job_names() == jobs_before,
        )

    def lost_event(self, model: str, version: str) -> None:
        self.step(
            f"dataset version {version} lands with a severe drift -> cold start; its job's completion event "
            "is lost -> the reconciler closes the run",
        )
        self.lost.armed = True
        run = self.land_version(
            model,
            version,
            seed=self.options.seed + 2,
            drift="severe",
            stop=lambda: bool(self.lost.dropped) and self.twin.pending_deliveries() == 0,
        )
        if self.lost.dropped:
            self.tl.line(
                "clock", "the execution waits at its callback; advance 15 minutes to the next reconcile sweep"
            )
            self.advance(900)
            run = self.execution_for(model, version)
        self.check(
            f"{version}: lost completion event recovered by the reconciler, run succeeded",
            bool(self.lost.dropped) and run is not None and run.status is ExecutionStatus.SUCCEEDED,
        )

    # ------------------------------------------------------------------ moves

    def put_profile(self, profile: Mapping[str, Any]) -> None:
        model = profile["model"]
        limits = profile["tuning"]["limits"]
        self.twin.put_object(f"profiles/{model}.yaml", yaml.safe_dump(dict(profile), sort_keys=False))
        self.tl.line(
            "s3",
            f"put profiles/{model}.yaml ({profile['tuning']['strategy']} search on "
            f"{profile['tuning']['objective']['metric']}, {limits['max_jobs']} trials, "
            f"{limits['max_parallel']} at a time, {profile['training']['instance_type']}, "
            f"budget ${profile['budget']['max_usd_per_run']}/run)",
        )

    def land_version(
        self,
        model: str,
        version: str,
        *,
        seed: int,
        drift: str = "none",
        stop: Callable[[], bool] | None = None,
    ) -> Execution | None:
        """Upload an example dataset version, then its marker; follow until idle (or until ``stop()``)."""
        data = self.examples.make_version("breast_cancer", seed=seed, drift=drift)
        files = self.examples.write_version(data, self.work / model / version)
        how = "" if drift == "none" else f", {drift} drift"
        for channel, path in sorted(files.items()):
            key = f"datasets/{model}/{version}/{channel}/data.csv"
            body = Path(path).read_bytes()
            self.twin.put_object(key, body)
            rows = body.count(b"\n")
            self.tl.line("s3", f"put {key} ({rows} rows{how})")
        self.twin.wait_idle()
        self.follower.poll()
        self.twin.put_object(f"datasets/{model}/{version}/_READY", b"")
        self.tl.line("s3", f"put datasets/{model}/{version}/_READY - dataset version {version} is complete")
        self.follower.follow(self.options.timeout, stop=stop)
        return self.execution_for(model, version)

    def execution_for(self, model: str, version: str) -> Execution | None:
        found = [
            e
            for e in self.twin.executions()
            if isinstance(e.input, Mapping)
            and e.input.get("model") == model
            and e.input.get("datasetVersion") == version
        ]
        return found[-1] if found else None

    def job_for(self, model: str, version: str) -> str | None:
        """The tuning job the run of ``model``'s dataset ``version`` planned (None if it planned none)."""
        run = self.execution_for(model, version)
        plan = _state_document(self.twin, run, "Plan", "plan") if run else None
        name = (plan or {}).get("jobName")
        return str(name) if name and name in self.job_names() else None

    def job_names(self) -> set[str]:
        sm = self.twin.client("sagemaker")
        jobs = sm.list_hyper_parameter_tuning_jobs(MaxResults=100)["HyperParameterTuningJobSummaries"]
        return {j["HyperParameterTuningJobName"] for j in jobs}

    def advance(self, seconds: float) -> None:
        self.tl.line("clock", f"advance {seconds / 60:.0f} minutes (schedules fire on the twin's clock)")
        fired = self.twin.advance(seconds, wait=False)
        counts: dict[str, int] = {}
        for item in fired:
            name = item.split(" ", 1)[1]
            counts[name] = counts.get(name, 0) + 1
        self.tl.line(
            "clock",
            f"now {self.twin.now():%Y-%m-%d %H:%M}Z; fired "
            + ", ".join(f"{n} x{c}" for n, c in counts.items()),
        )
        self.follower.follow(self.options.timeout)


def _state_document(
    twin: Twin, execution: Execution | None, state: str | None, key: str
) -> dict[str, Any] | None:
    """``$.<key>`` of the state document as ``state`` (any state when None) last left it, or None."""
    if execution is None:
        return None
    events = twin.client("stepfunctions").get_execution_history(executionArn=execution.arn, maxResults=1000)
    found: dict[str, Any] | None = None
    for event in events["events"]:
        details = event.get("stateExitedEventDetails")
        if not details or (state is not None and details.get("name") != state):
            continue
        try:
            doc = json.loads(details.get("output") or "null")
        except ValueError:
            continue
        if isinstance(doc, dict) and isinstance(doc.get(key), dict):
            found = doc[key]
    return found


def _warm_start(twin: Twin, job: str) -> tuple[str, list[str]] | None:
    """The tuning job's ``WarmStartConfig`` as SageMaker describes it: ``(type, parents)``, or None."""
    described = twin.client("sagemaker").describe_hyper_parameter_tuning_job(HyperParameterTuningJobName=job)
    config = described.get("WarmStartConfig")
    if not config:
        return None
    parents = [p["HyperParameterTuningJobName"] for p in config.get("ParentHyperParameterTuningJobs", [])]
    return str(config["WarmStartType"]), parents


def _reached_text(twin: Twin, parent: str | None, child: str | None) -> str:
    """How many trials the warm-started job needed to reach the parent's best, against the parent's own."""
    if parent is None or child is None:
        return "no tuning job to compare (the run planned none)"
    runs = {r.job_name: r for r in collect_runs(twin.client("sagemaker")) if r.job_name in (parent, child)}
    first, second = runs.get(parent), runs.get(child)
    if first is None or second is None or first.best_objective is None:
        return "no best objective to compare"
    target = first.best_objective
    maximize = first.goal == "Maximize"

    def better(value: float) -> bool:
        return value >= target if maximize else value <= target

    needed_parent = next(
        (i for i, t in enumerate(first.trials, 1) if t.objective == target), len(first.trials)
    )
    needed = next(
        (i for i, t in enumerate(second.trials, 1) if t.objective is not None and better(t.objective)), None
    )
    if needed is None:
        best = f"{second.best_objective:.5f}" if second.best_objective is not None else "none"
        return (
            f"{child} did not reach v1's best {first.metric}={target:.5f} in its {len(second.trials)} trials "
            f"(its best: {best}; v1 reached it at trial {needed_parent})"
        )
    return (
        f"{child} reached v1's best {first.metric}={target:.5f} at trial {needed} of {len(second.trials)}; "
        f"the cold start needed {needed_parent} of {len(first.trials)}"
    )


def _attach_documents(runs: list[TuningRun], executions: list[dict[str, Any]]) -> None:
    """Give each tuning run the plan that started it and the evaluation that judged it."""
    by_job = {
        str(x["plan"]["jobName"]): x
        for x in executions
        if isinstance(x.get("plan"), dict) and x["plan"].get("jobName")
    }
    for run in runs:
        found = by_job.get(run.job_name)
        if found is not None:
            run.plan = found["plan"]
            run.evaluation = found.get("evaluation")


def _schedule_outcome(twin: Twin, executions_before: int, invocations_before: int) -> str:
    ticks = [i for i in twin.invocations()[invocations_before:] if i.function == "StartRunFunction"]
    scheduled = [i for i in ticks if isinstance(i.result, Mapping) and not i.result.get("executions")]
    new_runs = twin.executions()[executions_before:]
    if new_runs:
        names = ", ".join(f"{e.name} ({e.status.value})" for e in new_runs)
        return f"the scheduled tick started {names}"
    reasons = {str(i.result.get("ignored")) for i in scheduled if isinstance(i.result, Mapping)}
    reason = "; ".join(sorted(r for r in reasons if r)) or "nothing to do"
    return f"scheduled tick with no new data: skipped - {reason}"


def _execution_json(twin: Twin, e: Execution) -> dict[str, Any]:
    return {
        "name": e.name,
        "status": e.status.value,
        "states": list(e.states),
        "lambdaInvocations": e.lambda_invocations,
        "error": e.error,
        "cause": e.cause,
        "input": e.input,
        "plan": _state_document(twin, e, "Plan", "plan"),
        "evaluation": _state_document(twin, e, None, "evaluation"),  # as promotion left it
    }


def _run_summary(run: TuningRun) -> str:
    done = [t for t in run.trials if t.objective is not None]
    best: Trial | None = run.leaderboard(1)[0] if done else None
    start = (
        f", {run.warm_start_type} from {', '.join(run.parents)}" if run.warm_start_type else ", cold start"
    )
    if best is None and run.trials and not any(t.status in ("Completed", "Stopped") for t in run.trials):
        return f"{run.job_name}: {run.status}{start}, no trial finished ({len(run.trials)} failed)"
    if best is None:
        return f"{run.job_name}: {run.status}{start}, no trial reported {run.metric}"
    return (
        f"{run.job_name}: {run.status}{start}, {len(run.trials)} trials, best {best.name} "
        f"{run.metric}={best.objective:.5f}"
    )
