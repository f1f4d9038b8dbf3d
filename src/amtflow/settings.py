"""The one place that reads settings.

Order of precedence: an explicit argument, then the environment variable (``AMTFLOW_`` prefix), then the
default. Handlers call :func:`load_settings` once per invocation; the core receives a :class:`Settings`
and never reads ``os.environ`` itself.

The environment is ``os.environ``, unless a caller running a function in-process (the local twin) set the
invocation's own variables with :func:`invocation_environment`: those are read first, in the current
context only (a ``contextvars`` variable), so one function's settings are never visible to another's.
"""

from __future__ import annotations

import os
import re
from collections import ChainMap
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field, fields, replace
from typing import Any

from amtflow.errors import ConfigurationError

ENV_PREFIX = "AMTFLOW_"
# SageMaker's VpcConfig pattern for subnet and security-group IDs.
_NETWORK_ID = re.compile(r"[-0-9a-zA-Z]{1,32}")
# The variables of the invocation running in this context (set by an in-process runtime), read before
# os.environ.
_INVOCATION_ENVIRON: ContextVar[Mapping[str, str] | None] = ContextVar(
    "amtflow_invocation_environ", default=None
)


@dataclass(frozen=True)
class Settings:
    """Deployment settings. Each field ``x`` is read from ``AMTFLOW_X``."""

    data_bucket: str = ""
    state_table: str = ""
    idempotency_table: str = ""
    topic_arn: str = ""
    sagemaker_role_arn: str = ""
    state_machine_arn: str = ""
    deployment_state_machine_arn: str = ""
    """The deployment state machine (started per approved model package)."""
    job_prefix: str = "amtf"
    profiles_prefix: str = "profiles/"
    datasets_prefix: str = "datasets/"
    output_prefix: str = "runs/"
    region: str = ""
    leaderboard_size: int = 10
    training_network_isolation: bool = False
    """``EnableNetworkIsolation`` of every training job (template parameter ``TrainingNetworkIsolation``)."""
    training_subnet_ids: tuple[str, ...] = ()
    """``VpcConfig.Subnets`` of every training job, comma-separated in the environment; with
    :attr:`training_security_group_ids`, or neither."""
    training_security_group_ids: tuple[str, ...] = ()
    """``VpcConfig.SecurityGroupIds`` of every training job, comma-separated in the environment."""
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


@contextmanager
def invocation_environment(environ: Mapping[str, str]) -> Iterator[None]:
    """Within the block, in this context only, :func:`load_settings` reads ``environ`` before ``os.environ``.

    For a runtime that runs functions in-process (the local twin): each invocation's variables reach its
    settings without being put into the process environment, where every other thread would see them.
    """
    token = _INVOCATION_ENVIRON.set(dict(environ))
    try:
        yield
    finally:
        _INVOCATION_ENVIRON.reset(token)


def load_settings(environ: Mapping[str, str] | None = None, **overrides: Any) -> Settings:
    """Build :class:`Settings` from explicit ``overrides``, then ``environ`` (default: the invocation's
    variables if :func:`invocation_environment` set them, then ``os.environ``)."""
    env = _default_environ() if environ is None else environ
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
        elif f.type in ("bool", bool):
            values[f.name] = _flag(f.name, raw)
        elif f.type == "tuple[str, ...]":
            values[f.name] = tuple(item.strip() for item in raw.split(",") if item.strip())
        else:
            values[f.name] = raw
    extra = {k[len(ENV_PREFIX) :].lower(): v for k, v in env.items() if k.startswith(ENV_PREFIX)}
    settings = Settings(**values)
    _check_training_vpc(settings)
    return replace(settings, extra=extra)


def _default_environ() -> Mapping[str, str]:
    invocation = _INVOCATION_ENVIRON.get()
    return os.environ if invocation is None else ChainMap(dict(invocation), os.environ)


def _flag(name: str, raw: str) -> bool:
    value = raw.strip().lower()
    if value not in ("true", "false"):
        raise ConfigurationError(f"{ENV_PREFIX}{name.upper()} must be true or false, got {raw!r}")
    return value == "true"


def _check_training_vpc(settings: Settings) -> None:
    """A training job's VPC needs subnets and security groups: both, or neither."""
    subnets, groups = settings.training_subnet_ids, settings.training_security_group_ids
    if bool(subnets) != bool(groups):
        given, missing = (
            ("TRAINING_SUBNET_IDS", "TRAINING_SECURITY_GROUP_IDS")
            if subnets
            else ("TRAINING_SECURITY_GROUP_IDS", "TRAINING_SUBNET_IDS")
        )
        raise ConfigurationError(
            f"{ENV_PREFIX}{given} is set but {ENV_PREFIX}{missing} is empty: training jobs run in a VPC "
            "only with both. Set the stack parameters TrainingSubnetIds and TrainingSecurityGroupIds "
            "together, or neither."
        )
    for name, ids, most in (
        ("TRAINING_SUBNET_IDS", subnets, 16),
        ("TRAINING_SECURITY_GROUP_IDS", groups, 5),
    ):
        if len(ids) > most:
            raise ConfigurationError(
                f"{ENV_PREFIX}{name} lists {len(ids)} IDs; SageMaker accepts at most {most}"
            )
        bad = [i for i in ids if not _NETWORK_ID.fullmatch(i)]
        if bad:
            raise ConfigurationError(
                f"{ENV_PREFIX}{name} has {', '.join(repr(b) for b in bad)}: give IDs such as "
                "subnet-0abc123 or sg-0abc123, comma-separated"
            )
