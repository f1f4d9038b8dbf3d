"""``amtflow lineage MODEL``: a model's dataset versions, runs and champion, from the state table's lineage.

- ``amtflow lineage MODEL --table NAME`` reads the state table named (default ``AMTFLOW_STATE_TABLE``);
  ``--stack NAME`` takes the table from the stack's ``StateTableName`` output.
- ``--format json`` prints the same as a JSON document; ``--format csv`` prints the runs table (one row per
  run, newest first: :data:`RUN_COLUMNS`) for a spreadsheet.

Every run shows its cost estimate next to its actual cost (the billable time of its training jobs, once its
job ended) and what it counts towards the month; the month-to-date figure is
:meth:`~amtflow.lineage.LineageStore.month_to_date_spend`, the very figure preflight checks against the
profile's ``budget.max_usd_per_month`` (AMT204/AMT205).

The twin's shell (``amtflow local up``, command ``lineage``) prints the same text through
:func:`render_lineage`.
"""

from __future__ import annotations

import argparse
import json
import sys
from datetime import UTC, datetime
from typing import Any

from amtflow import clients
from amtflow.adapters import DynamoDBLineageStore, aws_call
from amtflow.errors import ConfigurationError
from amtflow.lineage import (
    DatasetVersion,
    LineageStore,
    RunOutcome,
    RunRecord,
    SpendBasis,
    month_start,
)
from amtflow.local.cli_format import CSV, JSON, add_format, write_csv
from amtflow.settings import load_settings


def register(subparsers: Any) -> None:
    """Add ``amtflow lineage MODEL`` to the CLI."""
    parser = subparsers.add_parser("lineage", help="a model's dataset versions, runs and champion")
    parser.add_argument("model", metavar="MODEL")
    where = parser.add_mutually_exclusive_group()
    where.add_argument("--table", default=None, help="state table (default AMTFLOW_STATE_TABLE)")
    where.add_argument("--stack", default=None, help="read the table name from this stack's outputs")
    add_format(parser, table=True)
    parser.set_defaults(func=_lineage)


def _table(args: argparse.Namespace) -> str:
    if args.stack:
        with aws_call(f"reading the outputs of stack {args.stack}", field="--stack"):
            stacks = clients.cloudformation().describe_stacks(StackName=args.stack).get("Stacks", [])
        outputs = {o["OutputKey"]: o["OutputValue"] for s in stacks for o in s.get("Outputs", [])}
        if "StateTableName" not in outputs:
            raise ConfigurationError(f"stack {args.stack} has no StateTableName output: pass --table instead")
        return str(outputs["StateTableName"])
    table = args.table or load_settings().state_table
    if not table:
        raise ConfigurationError(
            "no state table: pass --table NAME or --stack NAME, or set AMTFLOW_STATE_TABLE"
        )
    return str(table)


def _lineage(args: argparse.Namespace) -> int:
    store = DynamoDBLineageStore(clients.dynamodb(), _table(args))
    if args.format == JSON:
        print(json.dumps(lineage_document(store, args.model), indent=2))
    elif args.format == CSV:
        write_csv(run_rows(store, args.model), RUN_COLUMNS, sys.stdout)
    else:
        print(render_lineage(store, args.model))
    return 0


def lineage_document(store: LineageStore, model: str, *, now: datetime | None = None) -> dict[str, Any]:
    """The model's lineage as one JSON document (dataset profiles summarised, not included). Each run adds
    ``spend_usd`` and ``spend_basis`` (what it counts towards the month: ``actual``, ``estimate`` or
    ``none``) to its record; ``month_to_date`` is the spend preflight checks against the monthly cap."""
    now = now or datetime.now(UTC)
    champion = store.get_champion(model)
    return {
        "model": model,
        "datasets": [_dataset(d) for d in store.list_dataset_versions(model)],
        "runs": [
            {**r.to_dict(), "spend_usd": r.spend_usd, "spend_basis": r.spend_basis.value}
            for r in store.list_runs(model)
        ],
        "champion": champion.to_dict() if champion is not None else None,
        "month_to_date": {
            "month": f"{month_start(now):%Y-%m}",
            "as_of": now.astimezone(UTC).isoformat(),
            "usd": store.month_to_date_spend(model, now),
        },
    }


#: The columns of ``amtflow lineage --format csv``: one row per run.
RUN_COLUMNS = (
    "run_id",
    "started_at",
    "trigger",
    "dataset_version",
    "action",
    "warm_start_type",
    "parents",
    "max_jobs",
    "rule",
    "reason",
    "drift_severity",
    "tuning_job",
    "job_status",
    "outcome",
    "best_training_job",
    "best_objective",
    "consumed_runtime_s",
    "cost_estimate_usd",
    "cost_usd",
    "billable_s",
    "spend_usd",
    "spend_basis",
    "finished_at",
)


def run_rows(store: LineageStore, model: str) -> list[dict[str, Any]]:
    """The model's runs, newest first, as flat rows of :data:`RUN_COLUMNS` (the decision spread out)."""
    rows = []
    for run in store.list_runs(model):
        record = run.to_dict()
        decision = run.decision
        record.update(
            action=decision.action.value,
            warm_start_type=decision.warm_start_type.value if decision.warm_start_type else None,
            parents=" ".join(decision.parents),
            max_jobs=decision.max_jobs,
            rule=decision.rule.value,
            reason=decision.reason,
            spend_usd=run.spend_usd,
            spend_basis=run.spend_basis.value,
        )
        rows.append({c: record.get(c) for c in RUN_COLUMNS})
    return rows


def _dataset(d: DatasetVersion) -> dict[str, Any]:
    return {
        "version": d.version,
        "fingerprint": d.fingerprint,
        "recordedAt": d.recorded_at.isoformat(),
        "uri": d.uri,
        "rows": d.profile.rows if d.profile is not None else None,
        "columns": len(d.profile.columns) if d.profile is not None else None,
    }


def render_lineage(store: LineageStore, model: str, *, now: datetime | None = None) -> str:
    """The readable lineage: datasets with fingerprints, runs with their decision, drift, job, parents,
    outcome and cost (estimate, actual, what it counts), the month-to-date spend and the champion."""
    now = now or datetime.now(UTC)
    lines = [f"model {model}"]
    datasets = store.list_dataset_versions(model)
    lines.append(f"datasets ({len(datasets)}):")
    for d in datasets:
        rows = f"{d.profile.rows} rows, {len(d.profile.columns)} columns" if d.profile is not None else "-"
        lines.append(
            f"  {d.version:<20} {d.fingerprint[:23]}  {rows}  recorded {d.recorded_at:%Y-%m-%d %H:%M}Z"
        )
    runs = store.list_runs(model)
    lines.append(f"runs ({len(runs)}, newest first):")
    for run in runs:
        lines.extend(_run_lines(run))
    lines.append(
        f"month to date ({month_start(now):%Y-%m}): ${store.month_to_date_spend(model, now):.2f} "
        "(what preflight checks against budget.max_usd_per_month)"
    )
    champion = store.get_champion(model)
    if champion is None:
        lines.append("champion: none")
    else:
        lines.append(
            f"champion: {champion.training_job} {champion.objective_metric}={champion.objective_value:g} "
            f"(data {champion.dataset_version}, {champion.data_fingerprint[:23]}; tuning job "
            f"{champion.tuning_job}; promoted {champion.promoted_at:%Y-%m-%d %H:%M}Z)"
        )
    return "\n".join(lines)


def _run_lines(run: RunRecord) -> list[str]:
    d = run.decision
    kind = d.action.value
    if d.warm_start_type is not None and d.parents:
        kind += f" ({d.warm_start_type.value} from {', '.join(d.parents)})"
    elif d.action.value == "tune":
        kind += " (cold start)"
    best = f" best {run.best_training_job} = {run.best_objective:g}" if run.best_objective is not None else ""
    runtime = f" {run.consumed_runtime_s}s" if run.consumed_runtime_s is not None else ""
    drift = ", ".join(f"{c} {v:.3f}" for c, v in sorted(run.drift_scores.items(), key=lambda kv: -kv[1])[:3])
    severity = run.drift_severity.value if run.drift_severity is not None else "not measured"
    return [
        f"  {run.started_at:%Y-%m-%d %H:%M}Z {run.run_id} [{run.trigger.value}] data {run.dataset_version}: "
        f"{kind}, budget {d.max_jobs} -> {run.outcome.value}",
        f"      why: {d.reason} [{d.rule.value}]",
        f"      drift: {severity}{' (' + drift + ')' if drift else ''}",
        f"      job: {run.tuning_job or '-'}{runtime}{best}",
        f"      cost: estimate ${run.cost_estimate_usd:.2f}, actual {_actual(run)}; counts {_counts(run)}",
    ]


def _actual(run: RunRecord) -> str:
    billed = f" for {run.billable_s}s billable" if run.billable_s is not None else ""
    if run.cost_usd is not None:
        return f"${run.cost_usd:.2f}{billed}"
    if run.outcome is RunOutcome.SKIPPED:
        return "$0.00 (skipped)"
    if run.spend_basis is SpendBasis.NONE:
        return "$0.00 (no job ran)" if run.outcome is not RunOutcome.PENDING else "$0.00 (not launched)"
    if run.outcome is RunOutcome.PENDING:
        return "- (job not ended)"
    return f"unknown{billed} (not priced)"


def _counts(run: RunRecord) -> str:
    return f"${run.spend_usd:.2f} ({run.spend_basis.value})"
