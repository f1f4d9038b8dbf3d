"""The functions' log format: Powertools' structured JSON, redacted.

Every handler's ``Logger`` uses :class:`RedactingFormatter`, so every record the functions write (their own,
the core's ``amtflow.*`` loggers', which propagate to the same handler, and exceptions with their traces)
has credential-like strings masked by :func:`amtflow.redaction.redact` before it is written.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from aws_lambda_powertools.logging.formatter import LambdaPowertoolsFormatter

from amtflow.redaction import redact_value

if TYPE_CHECKING:
    from aws_lambda_powertools.logging.types import LogRecord


class RedactingFormatter(LambdaPowertoolsFormatter):
    """:class:`LambdaPowertoolsFormatter` that redacts every value of the record before serialising it."""

    def serialize(self, log: LogRecord) -> str:
        redacted: dict[str, object] = redact_value(dict(log))
        return super().serialize(redacted)
