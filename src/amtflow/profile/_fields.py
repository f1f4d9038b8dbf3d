"""The building blocks of the model profile: names and service limits, the shared validators and field
types, and the base of every section."""

from __future__ import annotations

import math
import re
from collections.abc import Iterable
from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, ConfigDict
from pydantic_core import PydanticCustomError

from amtflow.profile._enums import (
    EarlyStopping,
    coerce_enum,
)

SCHEMA_VERSION = "amtflow/v1"

_INSTANCE_TYPE = re.compile(r"^ml\.[a-z0-9-]+\.[a-z0-9]+$")
_ENV_KEY = re.compile(r"^[a-zA-Z_][a-zA-Z0-9_]*$")
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_RATE = re.compile(r"^rate\((\d+) ([a-z]+)\)$")
_CRON = re.compile(r"^cron\((.+)\)$")
_RATE_UNITS = {"minute", "minutes", "hour", "hours", "day", "days"}
_EPOCH_KEYS = ("epochs", "numepochs", "n-epochs", "n_epochs", "num_epochs")

# Service limits (aws-facts §1.2, §1.3, §1.7; the limits page where it is stricter than the API model).
MAX_TUNABLE = 30
MAX_CATEGORICAL_VALUES = 30
MAX_HYPERPARAMETERS = 99  # 100 in total, one taken by AMT's _tuning_objective_metric
MAX_METRICS = 20
MAX_GRID_JOBS = 750
MAX_TUNING_RUNTIME_S = 2_592_000
MAX_TRAINING_RUNTIME_S = 2_419_200
MAX_PARENTS = 5

Scalar = str | int | float | bool


def _fail(issues: Iterable[tuple[str, str]]) -> None:
    """Raise every ``(relative key path, message)`` issue at once (no-op when there is none)."""
    found = list(issues)
    if found:
        raise PydanticCustomError(
            "amtflow_issues",
            "{summary}",
            {"summary": "; ".join(f"{p}: {m}" if p else m for p, m in found), "issues": found},
        )


def _enum(enum_cls: Any) -> BeforeValidator:
    return BeforeValidator(lambda v: coerce_enum(enum_cls, v))


def _early_stopping(value: Any) -> Any:
    # YAML 1.1 reads a bare Off/On as a boolean.
    if value is False:
        return EarlyStopping.OFF
    if value is True:
        return EarlyStopping.AUTO
    return coerce_enum(EarlyStopping, value)


def render_scalar(value: Scalar) -> str:
    """A hyperparameter value as the string SageMaker passes to the training container."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return repr(int(value)) if value.is_integer() and abs(value) < 1e15 else repr(value)
    return str(value)


def _is_scalar(value: Any) -> bool:
    return isinstance(value, str | int | float | bool) and not (
        isinstance(value, float) and not math.isfinite(value)
    )


def _number(value: Any) -> int | float:
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise PydanticCustomError("amtflow_number", "expected a number")
    if isinstance(value, str):
        try:
            return int(value)
        except ValueError:
            try:
                return float(value)
            except ValueError:
                raise PydanticCustomError("amtflow_number", "expected a number") from None
    return value


Number = Annotated[int | float, BeforeValidator(_number)]


def _not_bool(value: Any) -> Any:
    # pydantic would read true as 1; in YAML that is often a slip (yes/no/on/off are booleans too).
    if isinstance(value, bool):
        raise PydanticCustomError(
            "amtflow_not_bool", "expected a number, not true/false (YAML reads yes, no, on, off as booleans)"
        )
    return value


Int = Annotated[int, BeforeValidator(_not_bool)]
Float = Annotated[float, BeforeValidator(_not_bool)]


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)
