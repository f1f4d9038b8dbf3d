"""``amtflow status``: every model's last run and outcome, its champion, its running jobs and its spend this
month against the cap, and the stack's alarms in ALARM.

- ``--stack NAME`` reads the state table and the data bucket from the stack's outputs (``StateTableName``,
  ``DataBucketName``) and lists the stack's alarms (named ``NAME-...``) that are in ALARM;
- ``--table NAME`` reads that state table (the profiles, for the monthly caps, from ``AMTFLOW_DATA_BUCKET``
  when set; alarms are not checked); with neither, ``AMTFLOW_STATE_TABLE``.
- ``--format json`` prints the same view as one JSON document.

Exit status: 0 when nothing needs attention, 1 when something does (an alarm in ALARM, a last run that
failed or was stopped, a monthly cap reached, a model whose status could not be read), 2 on an error
(printed on stderr: no table, no credentials, access denied).
"""

from __future__ import annotations

import argparse
import json
from datetime import datetime
from typing import Any

from amtflow import clients
from amtflow.adapters import (
    CloudWatchAlarms,
    DynamoDBLineageStore,
    DynamoStateTable,
    S3ProfileStore,
    StoreProfileCatalog,
    aws_call,
    models_in_table,
)
from amtflow.app import AlarmSource, StatusView, build_status, render_status
from amtflow.errors import ConfigurationError
from amtflow.settings import load_settings


def register(subparsers: Any) -> None:
    """Add ``amtflow status`` to the CLI."""
    parser = subparsers.add_parser(
        "status", help="models' last runs, champions, running jobs, spend against the cap, alarms"
    )
    where = parser.add_mutually_exclusive_group()
    where.add_argument("--stack", default=None, help="read the table, bucket and alarms of this stack")
    where.add_argument("--table", default=None, help="state table (default AMTFLOW_STATE_TABLE)")
    parser.add_argument("--format", choices=("text", "json"), default="text")
    parser.set_defaults(func=_status)


def _stack_outputs(stack: str) -> dict[str, str]:
    with aws_call(f"reading the outputs of stack {stack}"):
        stacks = clients.cloudformation().describe_stacks(StackName=stack).get("Stacks", [])
    return {str(o["OutputKey"]): str(o["OutputValue"]) for s in stacks for o in s.get("Outputs", [])}


def status_view(args: argparse.Namespace) -> StatusView:
    """The view the arguments ask for (raises :class:`~amtflow.errors.AmtflowError` when it cannot)."""
    settings = load_settings()
    if args.stack:
        outputs = _stack_outputs(args.stack)
        if "StateTableName" not in outputs:
            raise ConfigurationError(f"stack {args.stack} has no StateTableName output: pass --table instead")
        table, bucket = outputs["StateTableName"], outputs.get("DataBucketName", "")
    else:
        table, bucket = args.table or settings.state_table, settings.data_bucket
        if not table:
            raise ConfigurationError(
                "no state table: pass --stack NAME or --table NAME, or set AMTFLOW_STATE_TABLE"
            )
    return status_of(
        dynamodb=clients.dynamodb(),
        table=table,
        s3=clients.s3() if bucket else None,
        bucket=bucket,
        profiles_prefix=settings.profiles_prefix,
        alarms=CloudWatchAlarms(clients.cloudwatch(), args.stack) if args.stack else None,
    )


def status_of(
    *,
    dynamodb: Any,
    table: str,
    s3: Any = None,
    bucket: str = "",
    profiles_prefix: str = "profiles/",
    alarms: AlarmSource | None = None,
    now: datetime | None = None,
) -> StatusView:
    """The status view over these clients: the models of the table and of the bucket's profiles (their
    caps), the parked jobs, and the alarms of ``alarms`` (the twin's shell and report call this too)."""
    models = set(models_in_table(dynamodb, table))
    profiles = None
    if bucket and s3 is not None:
        catalog = StoreProfileCatalog(S3ProfileStore(s3, bucket, profiles_prefix))
        models |= set(catalog.models())
        profiles = lambda model: catalog.get(model).profile  # noqa: E731
    return build_status(
        models=sorted(models),
        lineage=DynamoDBLineageStore(dynamodb, table),
        parked=DynamoStateTable(dynamodb, table).parked(),
        profiles=profiles,
        alarms=alarms,
        now=now,
    )


def _status(args: argparse.Namespace) -> int:
    view = status_view(args)
    if args.format == "json":
        print(json.dumps(view.to_document(), indent=2))
    else:
        print(render_status(view))
    return 1 if view.attention() else 0
