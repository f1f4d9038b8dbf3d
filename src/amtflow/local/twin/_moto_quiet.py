"""Moto's notices that are noise to the twin, silenced: its logs and warnings about resources it only stores.

Moto's CloudFormation parser logs "No Moto CloudFormation support for AWS::CloudWatch::Alarm" and warns
"Tried to parse AWS::CloudWatch::Alarm but it's not supported" for every resource type it stores without
modelling, at stack creation and again on calls that re-parse the stack (``DescribeStackResources``). The
twin models what it needs of those resources itself, so the notices would only tell its user about moto.
"""

from __future__ import annotations

import logging
import types
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any
from unittest import mock

_LOGGED = "No Moto CloudFormation support"
_WARNED = "Tried to parse AWS::"


@contextmanager
def quiet_logger(name: str, level: int = logging.CRITICAL) -> Iterator[None]:
    """Raise logger ``name``'s level for the block."""
    target = logging.getLogger(name)
    previous = target.level
    target.setLevel(level)
    try:
        yield
    finally:
        target.setLevel(previous)


def _parser_warnings() -> types.SimpleNamespace:
    """Stands for the ``warnings`` module in moto's CloudFormation parser: its notices about resources it
    only stores are dropped, any other warning goes on to ``warnings.warn``."""

    def warn(message: Any, *args: Any, **kwargs: Any) -> None:
        if not str(message).startswith(_WARNED):
            warnings.warn(message, *args, **{"stacklevel": 2, **kwargs})

    return types.SimpleNamespace(warn=warn)


@contextmanager
def unmodelled_resources_quiet() -> Iterator[None]:
    """Moto's notices about each resource it only stores (CloudWatch alarms...), logged or warned, dropped
    for the block (the twin's whole life)."""
    from moto.cloudformation import parsing

    def drop(record: logging.LogRecord) -> bool:  # a function of its own per block: nesting is safe
        return not str(record.msg).startswith(_LOGGED)

    logging.getLogger("moto").addFilter(drop)
    try:
        with mock.patch.object(parsing, "warnings", _parser_warnings()):
            yield
    finally:
        logging.getLogger("moto").removeFilter(drop)


@contextmanager
def warnings_silenced() -> Iterator[None]:
    """Moto's CloudFormation parser's warnings and logs about resources it only stores, silenced."""
    with (
        unmodelled_resources_quiet(),
        quiet_logger("moto.cloudformation.parsing", logging.ERROR),
        warnings.catch_warnings(),
    ):
        warnings.simplefilter("ignore")
        yield
