"""The one place that reads settings.

Order of precedence: an explicit argument, then the environment variable (``AMTFLOW_`` prefix), then the
default. Handlers call :func:`load_settings` once per invocation; the core receives a :class:`Settings`
and never reads ``os.environ`` itself.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from typing import Any

from amtflow.errors import ConfigurationError

ENV_PREFIX = "AMTFLOW_"


@dataclass(frozen=True)
class Settings:
    """Deployment settings. Each field ``x`` is read from ``AMTFLOW_X``."""

    data_bucket: str = ""
    state_table: str = ""
    idempotency_table: str = ""
    topic_arn: str = ""
    sagemaker_role_arn: str = ""
    state_machine_arn: str = ""
    job_prefix: str = "amtf"
    profiles_prefix: str = "profiles/"
    datasets_prefix: str = "datasets/"
    output_prefix: str = "runs/"
    region: str = ""
    leaderboard_size: int = 10
    reconcile_schedule: str = "rate(15 minutes)"
    extra: Mapping[str, str] = field(default_factory=dict)

    def require(self, *names: str) -> None:
        """Raise :class:`ConfigurationError` naming every listed setting that is empty."""
        missing = [n for n in names if not getattr(self, n)]
        if missing:
            env = ", ".join(ENV_PREFIX + n.upper() for n in missing)
            raise ConfigurationError(
                f"missing setting(s): {env}. Set them in the function's environment (template.yaml) "
                "or pass them explicitly."
            )


def load_settings(environ: Mapping[str, str] | None = None, **overrides: Any) -> Settings:
    """Build :class:`Settings` from explicit ``overrides``, then ``environ`` (default ``os.environ``)."""
    env = os.environ if environ is None else environ
    values: dict[str, Any] = {}
    for f in fields(Settings):
        if f.name == "extra":
            continue
        if f.name in overrides:
            values[f.name] = overrides[f.name]
            continue
        raw = env.get(ENV_PREFIX + f.name.upper())
        if raw is None and f.name == "region":
            raw = env.get("AWS_REGION") or env.get("AWS_DEFAULT_REGION")
        if raw is None or raw == "":
            continue
        if f.type in ("int", int):
            try:
                values[f.name] = int(raw)
            except ValueError as e:
                raise ConfigurationError(
                    f"{ENV_PREFIX}{f.name.upper()} must be an integer, got {raw!r}"
                ) from e
        else:
            values[f.name] = raw
    extra = {k[len(ENV_PREFIX) :].lower(): v for k, v in env.items() if k.startswith(ENV_PREFIX)}
    settings = Settings(**values)
    return replace(settings, extra=extra)
