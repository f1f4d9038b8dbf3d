"""The demo's report: tuning runs read back through the SageMaker API, as HTML with plots and as JSON.

Per run: its convergence, leaderboard and hyperparameter effects as plots, its warm start (from SageMaker),
and, when the caller attaches them, the plan that started it (the decision, its reason and the drift
scores) and its evaluation (outcome, promotion). Plots are drawn with matplotlib's object API (no global
pyplot state) and embedded as PNG data URIs, so ``index.html`` is one self-contained file; ``report.json``
holds the same data.
"""

from __future__ import annotations

import base64
import html
import io
import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from amtflow.app import StatusView, render_status


@dataclass(frozen=True)
class Trial:
    """One training job of a tuning job."""

    name: str
    status: str
    objective: float | None
    hyperparameters: Mapping[str, str]
    seconds: float | None


@dataclass
class TuningRun:
    """One tuning job and its trials, in creation order.

    ``plan`` and ``evaluation`` are the application's documents for the run (``amtflow.messages.Plan`` and
    ``Evaluation`` as JSON), attached by the caller when it knows them.
    """

    job_name: str
    strategy: str
    metric: str
    goal: str
    status: str
    best_job: str | None
    best_objective: float | None
    trials: list[Trial] = field(default_factory=list)
    warm_start_type: str | None = None
    parents: list[str] = field(default_factory=list)
    plan: Mapping[str, Any] | None = None
    evaluation: Mapping[str, Any] | None = None

    def leaderboard(self, size: int = 10) -> list[Trial]:
        scored = [t for t in self.trials if t.objective is not None]
        return sorted(scored, key=lambda t: t.objective or 0.0, reverse=self.goal == "Maximize")[:size]

    def best_so_far(self) -> list[float | None]:
        best: float | None = None
        out: list[float | None] = []
        for t in self.trials:
            if t.objective is not None and (
                best is None or (t.objective > best if self.goal == "Maximize" else t.objective < best)
            ):
                best = t.objective
            out.append(best)
        return out


def collect_runs(sagemaker: Any) -> list[TuningRun]:
    """Every tuning job the SageMaker API lists, with its trials."""
    runs: list[TuningRun] = []
    summaries = sagemaker.list_hyper_parameter_tuning_jobs(MaxResults=100)["HyperParameterTuningJobSummaries"]
    for summary in sorted(summaries, key=lambda s: s["CreationTime"]):
        name = summary["HyperParameterTuningJobName"]
        job = sagemaker.describe_hyper_parameter_tuning_job(HyperParameterTuningJobName=name)
        config = job["HyperParameterTuningJobConfig"]
        objective = config.get("HyperParameterTuningJobObjective", {})
        best = job.get("BestTrainingJob") or {}
        warm = job.get("WarmStartConfig") or {}
        runs.append(
            TuningRun(
                job_name=name,
                strategy=str(config.get("Strategy", "")),
                metric=str(objective.get("MetricName", "")),
                goal=str(objective.get("Type", "Maximize")),
                status=str(job["HyperParameterTuningJobStatus"]),
                best_job=best.get("TrainingJobName"),
                best_objective=_objective(best),
                trials=_trials(sagemaker, name),
                warm_start_type=warm.get("WarmStartType"),
                parents=[
                    p["HyperParameterTuningJobName"] for p in warm.get("ParentHyperParameterTuningJobs", [])
                ],
            )
        )
    return runs


def _objective(summary: Mapping[str, Any]) -> float | None:
    metric = summary.get("FinalHyperParameterTuningJobObjectiveMetric")
    return float(metric["Value"]) if metric else None


def _trials(sagemaker: Any, job_name: str) -> list[Trial]:
    rows: list[dict[str, Any]] = []
    kwargs: dict[str, Any] = {"HyperParameterTuningJobName": job_name, "MaxResults": 100}
    while True:
        page = sagemaker.list_training_jobs_for_hyper_parameter_tuning_job(**kwargs)
        rows.extend(page["TrainingJobSummaries"])
        if not page.get("NextToken"):
            break
        kwargs["NextToken"] = page["NextToken"]
    rows.sort(key=lambda r: (r["CreationTime"], r["TrainingJobName"]))
    trials = []
    for r in rows:
        start, end = r.get("TrainingStartTime"), r.get("TrainingEndTime")
        seconds = (
            (end - start).total_seconds()
            if isinstance(start, datetime) and isinstance(end, datetime)
            else None
        )
        trials.append(
            Trial(
                name=r["TrainingJobName"],
                status=str(r["TrainingJobStatus"]),
                objective=_objective(r),
                hyperparameters={k: str(v) for k, v in r.get("TunedHyperParameters", {}).items()},
                seconds=seconds,
            )
        )
    return trials


def write_report(
    out_dir: Path,
    *,
    title: str,
    runs: Sequence[TuningRun],
    timeline: Sequence[str],
    notifications: Sequence[Mapping[str, Any]],
    executions: Sequence[Mapping[str, Any]],
    checks: Sequence[tuple[str, bool]] = (),
    deployments: Sequence[Mapping[str, Any]] = (),
    status: StatusView | None = None,
) -> Path:
    """Write ``index.html`` and ``report.json`` into ``out_dir``; return the HTML path. ``deployments``:
    ``{endpoint, package, status, prediction, reason, ...}`` per deployment, oldest first; ``status`` is the
    status view at the end (what ``amtflow status`` prints), shown after the checks."""
    out_dir.mkdir(parents=True, exist_ok=True)
    data = {
        "title": title,
        "checks": [{"check": text, "ok": ok} for text, ok in checks],
        "runs": [_run_json(r) for r in runs],
        "executions": list(executions),
        "notifications": list(notifications),
        "timeline": list(timeline),
        "deployments": list(deployments),
        "status": status.to_document() if status is not None else None,
    }
    (out_dir / "report.json").write_text(json.dumps(data, indent=2, default=str), encoding="utf-8")
    page = out_dir / "index.html"
    body = _html(title, runs, timeline, notifications, executions, checks, deployments)
    if status is not None:
        section = f"<h2>Status (amtflow status)</h2><pre>{html.escape(render_status(status))}</pre>"
        body = body.replace("<h2>Executions</h2>", section + "<h2>Executions</h2>", 1)
    page.write_text(body, encoding="utf-8")
    return page


def decision_text(plan: Mapping[str, Any] | None) -> str:
    """The plan's decision in one line: action, warm start and parents, budget, drift scores, reason."""
    if not plan:
        return ""
    parts = [str(plan.get("action", "?"))]
    warm = plan.get("warmStart")
    if warm and str(warm).lower() != "cold":
        parents = ", ".join(str(p) for p in plan.get("parents") or []) or "no parent"
        parts.append(f"{warm} warm start from {parents}")
    elif plan.get("action") == "tune":
        parts.append("cold start")
    if plan.get("maxJobs"):
        parts.append(f"budget {plan['maxJobs']} training jobs")
    drift = drift_text(plan.get("drift"))
    if drift:
        parts.append(drift)
    text = "; ".join(parts)
    return f"{text} - {plan['reason']}" if plan.get("reason") else text


def drift_text(drift: Mapping[str, Any] | None) -> str:
    """Drift scores in one line: severity, the largest PSI, the columns that drove it, schema changes."""
    if not drift:
        return ""
    baseline = drift.get("baselineDatasetVersion")
    head = f"drift {drift.get('severity') or 'not measured'}"
    if baseline:
        head += f" vs {baseline}"
    if drift.get("maxPsi") is not None:
        head += f", max PSI {float(drift['maxPsi']):.3f}"
    drivers = [
        f"{d.get('column')} {float(d['psi']):.3f}"
        for d in drift.get("drivers") or []
        if d.get("psi") is not None
    ]
    if drivers:
        head += f" ({', '.join(drivers)})"
    if drift.get("schemaChanges"):
        head += f"; schema: {', '.join(str(c) for c in drift['schemaChanges'])}"
    if drift.get("externalSeverity"):
        head += f"; reported: {drift['externalSeverity']}"
    return head


def promotion_text(evaluation: Mapping[str, Any] | None) -> str:
    """The evaluation's promotion in one line (empty when there was none)."""
    promotion = (evaluation or {}).get("promotion")
    if not promotion:
        return ""
    text = str(promotion.get("outcome", "?")).replace("_", " ")
    if promotion.get("reason"):
        text += f" - {promotion['reason']}"
    return text


def _run_json(run: TuningRun) -> dict[str, Any]:
    return {
        "jobName": run.job_name,
        "strategy": run.strategy,
        "metric": run.metric,
        "goal": run.goal,
        "status": run.status,
        "bestJob": run.best_job,
        "bestObjective": run.best_objective,
        "trials": [asdict(t) for t in run.trials],
        "leaderboard": [t.name for t in run.leaderboard()],
        "bestSoFar": run.best_so_far(),
        "warmStart": {"type": run.warm_start_type, "parents": list(run.parents)}
        if run.warm_start_type
        else None,
        "plan": dict(run.plan) if run.plan else None,
        "decision": decision_text(run.plan),
        "driftScores": (run.plan or {}).get("drift"),
        "evaluation": dict(run.evaluation) if run.evaluation else None,
        "promotion": promotion_text(run.evaluation),
    }


def _png(fig: Any) -> str:
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    FigureCanvasAgg(fig)
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110, bbox_inches="tight")
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode("ascii")


def _convergence(run: TuningRun) -> str:
    from matplotlib.figure import Figure

    fig = Figure(figsize=(6.4, 3.2))
    ax = fig.add_subplot()
    xs = [i + 1 for i, t in enumerate(run.trials) if t.objective is not None]
    ys = [t.objective for t in run.trials if t.objective is not None]
    ax.scatter(xs, ys, s=18, color="#4c72b0", label="trial objective")
    best = run.best_so_far()
    ax.step(
        range(1, len(best) + 1),
        [b if b is not None else math.nan for b in best],
        where="post",
        color="#dd8452",
        label="best so far",
    )
    from matplotlib.ticker import MaxNLocator

    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_xlabel("trial (launch order)")
    ax.set_ylabel(run.metric)
    ax.set_title(f"Convergence — {run.job_name} ({run.strategy})")
    ax.legend(loc="lower right" if run.goal == "Maximize" else "upper right", fontsize=8)
    return _png(fig)


def _leaderboard_plot(run: TuningRun) -> str:
    from matplotlib.figure import Figure

    board = run.leaderboard()
    fig = Figure(figsize=(6.4, 0.35 * max(len(board), 2) + 0.8))
    ax = fig.add_subplot()
    names = [t.name.rsplit("-", 2)[-2] if t.name.count("-") >= 2 else t.name for t in board][::-1]
    ax.barh(names, [t.objective or 0.0 for t in board][::-1], color="#55a868")
    values = [t.objective for t in board if t.objective is not None]
    if values:
        spread = max(values) - min(values)
        ax.set_xlim(min(values) - spread - 1e-9, max(values) + spread * 0.2 + 1e-9)
    ax.set_xlabel(run.metric)
    ax.set_title(f"Leaderboard — top {len(board)} ({run.goal})")
    return _png(fig)


def _effects(run: TuningRun) -> str | None:
    from matplotlib.figure import Figure

    names = sorted({k for t in run.trials for k in t.hyperparameters})
    scored = [(t, t.objective) for t in run.trials if t.objective is not None]
    if not names or not scored:
        return None
    cols = min(4, len(names))
    rows = math.ceil(len(names) / cols)
    fig = Figure(figsize=(3.0 * cols, 2.4 * rows))
    for i, name in enumerate(names):
        ax = fig.add_subplot(rows, cols, i + 1)
        pairs = [(_number(t.hyperparameters.get(name)), y) for t, y in scored]
        numeric = [(x, y) for x, y in pairs if x is not None]
        if numeric:
            xs = [x for x, _ in numeric]
            ax.scatter(xs, [y for _, y in numeric], s=14, color="#8172b3")
            if min(xs) > 0 and max(xs) / min(xs) > 100:
                ax.set_xscale("log")
        else:
            labels = [str(t.hyperparameters.get(name)) for t, _ in scored]
            ax.scatter(labels, [y for _, y in scored], s=14, color="#8172b3")
        ax.set_title(name, fontsize=9)
        ax.tick_params(labelsize=7)
    fig.suptitle(f"Hyperparameter effects on {run.metric}", fontsize=10)
    fig.tight_layout()
    return _png(fig)


def _number(value: str | None) -> float | None:
    try:
        return float(value) if value is not None else None
    except ValueError:
        return None


def _deployments_html(deployments: Sequence[Mapping[str, Any]]) -> str:
    """The deployments' table: endpoint, package, status, the prediction it answered or why not."""
    if not deployments:
        return ""
    e = html.escape

    def said(d: Mapping[str, Any]) -> str:
        return str(d["prediction"] if d.get("prediction") is not None else d.get("reason") or "")

    rows = "".join(
        f"<tr><td>{e(str(d.get('endpoint')))}</td><td>{e(str(d.get('package')))}</td>"
        f"<td>{e(str(d.get('status')))}</td><td>{e(said(d))}</td></tr>"
        for d in deployments
    )
    return (
        "<h2>Deployments</h2><table><tr><th>endpoint</th><th>package</th><th>status</th>"
        f"<th>prediction or reason</th></tr>{rows}</table>"
    )


def _html(
    title: str,
    runs: Sequence[TuningRun],
    timeline: Sequence[str],
    notifications: Sequence[Mapping[str, Any]],
    executions: Sequence[Mapping[str, Any]],
    checks: Sequence[tuple[str, bool]] = (),
    deployments: Sequence[Mapping[str, Any]] = (),
) -> str:
    e = html.escape
    parts = [
        "<!doctype html><html><head><meta charset='utf-8'>",
        f"<title>{e(title)}</title>",
        "<style>body{font-family:system-ui,sans-serif;max-width:1100px;margin:2em auto;color:#222}"
        "table{border-collapse:collapse;font-size:13px}td,th{border:1px solid #ccc;padding:3px 8px;"
        "text-align:left}pre{background:#f6f6f6;padding:8px;overflow-x:auto;font-size:12px}"
        "img{max-width:100%}</style></head><body>",
        f"<h1>{e(title)}</h1>",
        *(["<h2>What the story showed</h2><ul>"] if checks else []),
        *(f"<li>{'✔' if ok else '✘ FAILED:'} {e(text)}</li>" for text, ok in checks),
        *(["</ul>"] if checks else []),
        "<h2>Executions</h2><table><tr><th>name</th><th>status</th><th>states</th><th>Lambda calls</th></tr>",
    ]
    for x in executions:
        parts.append(
            f"<tr><td>{e(str(x.get('name')))}</td><td>{e(str(x.get('status')))}</td>"
            f"<td>{e(' → '.join(x.get('states', [])))}</td><td>{x.get('lambdaInvocations', '')}</td></tr>"
        )
    parts.append("</table>")
    for run in runs:
        best = f"{run.best_objective:.5f}" if run.best_objective is not None else "n/a"
        parts.append(f"<h2>Tuning job {e(run.job_name)}</h2>")
        parts.append(
            f"<p>{e(run.strategy)} search, {e(run.goal)} <code>{e(run.metric)}</code>; status "
            f"<b>{e(run.status)}</b>; {len(run.trials)} trials; best {e(str(run.best_job))} = {best}</p>"
        )
        if run.warm_start_type:
            parents = ", ".join(run.parents)
            parts.append(f"<p>Warm start (SageMaker): {e(run.warm_start_type)} from {e(parents)}</p>")
        if run.plan:
            parts.append(f"<p>Decision: {e(decision_text(run.plan))}</p>")
            drift = drift_text(run.plan.get("drift"))
            if drift:
                parts.append(f"<p>Drift scores: {e(drift)}</p>")
        if promotion_text(run.evaluation):
            parts.append(f"<p>Promotion: {e(promotion_text(run.evaluation))}</p>")
        if run.trials:
            parts.append(f"<img alt='convergence' src='{_convergence(run)}'>")
            parts.append(f"<img alt='leaderboard' src='{_leaderboard_plot(run)}'>")
            effects = _effects(run)
            if effects:
                parts.append(f"<img alt='hyperparameter effects' src='{effects}'>")
        keys = sorted({k for t in run.trials for k in t.hyperparameters})
        parts.append("<h3>Leaderboard</h3><table><tr><th>#</th><th>trial</th><th>objective</th><th>s</th>")
        parts.extend(f"<th>{e(k)}</th>" for k in keys)
        parts.append("</tr>")
        for rank, t in enumerate(run.leaderboard(), 1):
            secs = f"{t.seconds:.1f}" if t.seconds is not None else ""
            parts.append(f"<tr><td>{rank}</td><td>{e(t.name)}</td><td>{t.objective:.5f}</td><td>{secs}</td>")
            parts.extend(f"<td>{e(_short(t.hyperparameters.get(k, '')))}</td>" for k in keys)
            parts.append("</tr>")
        parts.append("</table>")
    parts.append("<h2>Notifications (as a subscriber received them)</h2>")
    for n in notifications:
        parts.append(f"<h3>{e(str(n.get('subject')))}</h3><pre>{e(_pretty(str(n.get('message', ''))))}</pre>")
        parts.append(f"<p>attributes: {e(json.dumps(n.get('attributes', {})))}</p>")
    parts.append(_deployments_html(deployments))
    parts.append("<h2>Timeline</h2><pre>" + e("\n".join(timeline)) + "</pre></body></html>")
    return "".join(parts)


def _short(value: str) -> str:
    number = _number(value)
    if number is None or number.is_integer():
        return value
    return f"{number:.4g}"


def _pretty(message: str) -> str:
    try:
        return json.dumps(json.loads(message), indent=2)
    except ValueError:
        return message
