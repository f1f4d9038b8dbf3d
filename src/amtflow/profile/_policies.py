"""The profile's policies: drift thresholds, warm start, promotion, budget, notifications and the schedule."""

from __future__ import annotations

import math
from typing import Annotated

from pydantic import Field, model_validator

from amtflow.profile._enums import (
    Approval,
    CrossDataset,
    Outcome,
)
from amtflow.profile._fields import (
    _CRON,
    _EMAIL,
    _INSTANCE_TYPE,
    _RATE,
    _RATE_UNITS,
    MAX_PARENTS,
    Float,
    Int,
    _enum,
    _fail,
    _Section,
)
from amtflow.vocabulary import MODEL_PACKAGE_GROUP_NAME_PATTERN, NoDriftAction, WarmStartType

# --- policies --------------------------------------------------------------------------------------------


class DriftThresholds(_Section):
    """Drift scores (e.g. PSI) at which drift counts as moderate and as severe."""

    moderate: Float = Field(default=0.1, ge=0)
    severe: Float = Field(default=0.25, ge=0)

    @model_validator(mode="after")
    def _check(self) -> DriftThresholds:
        if self.moderate >= self.severe:
            _fail([("severe", f"must be greater than moderate ({self.moderate})")])
        return self


class WarmStartPolicy(_Section):
    """When and how a run may warm-start from earlier tuning jobs of the same model."""

    enabled: bool = True
    allowed: list[Annotated[WarmStartType, _enum(WarmStartType)]] = Field(
        default_factory=lambda: list(WarmStartType)
    )
    max_parents: Int = Field(default=MAX_PARENTS, ge=1, le=MAX_PARENTS)
    drift: DriftThresholds = DriftThresholds()
    transfer_budget_fraction: Float = Field(default=0.5, gt=0, le=1)
    on_no_drift: Annotated[NoDriftAction, _enum(NoDriftAction)] = NoDriftAction.RETRAIN


class PromotionRule(_Section):
    """When a challenger replaces the champion, and with which approval status it is registered."""

    metric: str | None = Field(default=None, min_length=1, max_length=255)
    min_improvement: Float = Field(default=0.0, ge=0)
    threshold: Float | None = None
    approval: Annotated[Approval, _enum(Approval)] = Approval.PENDING_MANUAL_APPROVAL
    cross_dataset: Annotated[CrossDataset, _enum(CrossDataset)] = CrossDataset.EVALUATE
    model_package_group: str | None = Field(default=None, pattern=MODEL_PACKAGE_GROUP_NAME_PATTERN)

    @model_validator(mode="after")
    def _check(self) -> PromotionRule:
        if self.cross_dataset is CrossDataset.THRESHOLD and self.threshold is None:
            _fail([("threshold", "required when cross_dataset is 'threshold'; e.g. threshold: 0.8")])
        return self


class Budget(_Section):
    """Spending limits in USD; ``prices`` overrides the on-demand price per instance type and hour."""

    max_usd_per_run: Float | None = Field(default=None, gt=0)
    max_usd_per_month: Float | None = Field(default=None, gt=0)
    prices: dict[str, Float] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _check(self) -> Budget:
        issues: list[tuple[str, str]] = []
        for itype, price in self.prices.items():
            if not _INSTANCE_TYPE.fullmatch(itype):
                issues.append((f"prices.{itype}", "keys are ML instance types, e.g. ml.m5.xlarge"))
            if not (price > 0 and math.isfinite(price)):
                issues.append((f"prices.{itype}", "a price is a positive number of USD per hour"))
        if (
            self.max_usd_per_run is not None
            and self.max_usd_per_month is not None
            and self.max_usd_per_run > self.max_usd_per_month
        ):
            issues.append(("max_usd_per_run", "exceeds max_usd_per_month; lower it or raise the monthly cap"))
        _fail(issues)
        return self


class Notifications(_Section):
    """Which run outcomes are announced, and an optional e-mail subscriber."""

    outcomes: list[Annotated[Outcome, _enum(Outcome)]] = Field(default_factory=lambda: list(Outcome))
    email: str | None = None

    @model_validator(mode="after")
    def _check(self) -> Notifications:
        if self.email is not None and not _EMAIL.fullmatch(self.email):
            _fail([("email", f"{self.email!r} is not an e-mail address")])
        return self


def schedule_problem(expression: str) -> str | None:
    """Why ``expression`` is not an EventBridge ``rate(...)``/``cron(...)`` expression, or ``None``."""
    rate = _RATE.fullmatch(expression)
    if rate:
        value, unit = int(rate.group(1)), rate.group(2)
        if unit not in _RATE_UNITS or value < 1:
            return "write rate(<n> minutes|hours|days) with n ≥ 1, e.g. rate(7 days)"
        if (value == 1) != (not unit.endswith("s")):
            return "use the singular unit for 1 and the plural otherwise: rate(1 day), rate(2 days)"
        return None
    cron = _CRON.fullmatch(expression)
    if cron:
        fields = cron.group(1).split()
        if len(fields) != 6:
            return (
                "cron takes 6 fields (minutes hours day-of-month month day-of-week year), "
                "e.g. cron(0 3 * * ? *)"
            )
        if "?" not in (fields[2], fields[4]):
            return "one of day-of-month or day-of-week must be '?', e.g. cron(0 3 * * ? *)"
        return None
    return "expected rate(...) or cron(...), e.g. rate(7 days) or cron(0 3 ? * MON *)"


def _check_schedule(expression: str) -> str:
    problem = schedule_problem(expression)
    if problem:
        _fail([("", f"{expression!r}: {problem}")])
    return expression
