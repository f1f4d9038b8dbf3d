"""Cost estimates and the budget rules (tag ``budget``)."""

from __future__ import annotations

from typing import Any

import pytest
from preflight_requests import base_request

from amtflow.preflight import (
    CostEstimate,
    Finding,
    LintContext,
    PriceTable,
    Severity,
    default_prices,
    estimate_cost,
    run_rules,
)

Request = dict[str, Any]


def budget(request: Request, **extra: Any) -> list[Finding]:
    return run_rules(LintContext(request=request, extra=extra), tags={"budget"})


def fired(request: Request, **extra: Any) -> set[str]:
    return {f.rule for f in budget(request, **extra)}


def test_the_shipped_price_table_is_dated_and_sourced() -> None:
    table = default_prices()
    assert table.region == "us-east-1"
    assert table.as_of[:2] == "20"
    assert "sagemaker/pricing" in table.source
    assert table.price("ml.m5.xlarge") == pytest.approx(0.23)
    assert all(k.startswith("ml.") and v > 0 for k, v in table.usd_per_hour.items())


def test_cost_of_the_base_request_by_hand() -> None:
    # ml.m5.xlarge at $0.23/h, 1 instance, 30 jobs of at most 3600 s (3 in parallel, tuning limit 1 day).
    # Upper bound: 30 x 3600 s = 30 h -> $6.90 (the 3 x 86400 s wall bound is looser).
    # Expected: half the limit per job -> 15 h -> $3.45.
    cost = estimate_cost(base_request())
    assert isinstance(cost, CostEstimate)
    assert cost.instance_type == "ml.m5.xlarge"
    assert cost.jobs == 30
    assert cost.upper_bound_usd == pytest.approx(6.90)
    assert cost.expected_usd == pytest.approx(3.45)
    assert cost.to_dict()["upperBoundUsd"] == 6.9
    assert "$3.45" in str(cost)


def test_instance_count_spot_and_earlier_runtimes_enter_the_estimate() -> None:
    req = base_request()
    req["TrainingJobDefinition"]["ResourceConfig"]["InstanceCount"] = 2
    req["TrainingJobDefinition"]["EnableManagedSpotTraining"] = True
    cost = estimate_cost(req, earlier_runtimes_s=[600, 1200, 900])
    # upper: 30 h x 2 x 0.23 = 13.80 (on-demand); expected: 30 x 900 s = 7.5 h x 2 x 0.23 x 0.3 = 1.035
    assert cost.upper_bound_usd == pytest.approx(13.80)
    assert cost.expected_usd == pytest.approx(1.035)
    assert any("median of 3" in a for a in cost.assumptions)


def test_the_tuning_runtime_limit_bounds_the_worst_case() -> None:
    req = base_request()
    req["HyperParameterTuningJobConfig"]["ResourceLimits"]["MaxRuntimeInSeconds"] = 7200
    cost = estimate_cost(req)
    # 3 parallel x 7200 s = 6 h x 0.23 = 1.38, tighter than 30 h; the expectation cannot exceed it.
    assert cost.upper_bound_usd == pytest.approx(1.38)
    assert cost.expected_usd == pytest.approx(1.38)


def test_price_overrides_and_explicit_runtime() -> None:
    cost = estimate_cost(base_request(), prices={"ml.m5.xlarge": 1.0}, expected_runtime_s=360)
    assert cost.upper_bound_usd == pytest.approx(30.0)
    assert cost.expected_usd == pytest.approx(3.0)
    table = PriceTable("2026-01-01", "us-east-1", "test", {"ml.m5.xlarge": 2.0})
    assert estimate_cost(base_request(), prices=table).upper_bound_usd == pytest.approx(60.0)


def test_grid_jobs_are_the_number_of_combinations() -> None:
    req = base_request()
    config = req["HyperParameterTuningJobConfig"]
    config["Strategy"] = "Grid"
    del config["ResourceLimits"]["MaxNumberOfTrainingJobs"]
    config["ParameterRanges"] = {"CategoricalParameterRanges": [{"Name": "a", "Values": ["1", "2", "3"]}]}
    assert estimate_cost(req).jobs == 3


def test_unknown_price_gives_no_totals_and_a_warning() -> None:
    req = base_request()
    req["TrainingJobDefinition"]["ResourceConfig"]["InstanceType"] = "ml.x9.mega"
    cost = estimate_cost(req)
    assert cost.upper_bound_usd is None
    assert cost.expected_usd is None
    (finding,) = budget(req)
    assert finding.rule == "AMT201"
    assert "ml.x9.mega" in finding.fix
    assert "AMT201" not in fired(req, prices={"ml.x9.mega": 1.5})


def test_expected_cost_over_the_run_cap_is_an_error() -> None:
    (finding,) = [f for f in budget(base_request(), max_usd_per_run=3.0) if f.rule == "AMT202"]
    assert finding.severity is Severity.ERROR
    assert "$3.45" in finding.message
    assert "$3.00" in finding.message
    assert "AMT202" not in fired(base_request(), max_usd_per_run=3.5)


def test_worst_case_over_the_run_cap_is_a_warning() -> None:
    assert "AMT203" in fired(base_request(), max_usd_per_run=5.0)
    assert "AMT203" not in fired(base_request(), max_usd_per_run=7.0)
    assert "AMT203" not in fired(base_request(), max_usd_per_run=3.0)  # then AMT202 speaks


def test_month_to_date_spend_counts_against_the_monthly_cap() -> None:
    assert "AMT204" in fired(base_request(), max_usd_per_month=100, month_to_date_usd=97)
    assert "AMT204" not in fired(base_request(), max_usd_per_month=100, month_to_date_usd=96)
    assert "AMT205" in fired(base_request(), max_usd_per_month=100, month_to_date_usd=95)
    assert "AMT205" not in fired(base_request(), max_usd_per_month=100, month_to_date_usd=93)


def test_an_unbounded_job_is_flagged() -> None:
    req = base_request()
    del req["HyperParameterTuningJobConfig"]["ResourceLimits"]["MaxNumberOfTrainingJobs"]
    assert "AMT206" not in fired(req)
    del req["HyperParameterTuningJobConfig"]["ResourceLimits"]["MaxRuntimeInSeconds"]
    assert "AMT206" in fired(req)
    assert estimate_cost(req).upper_bound_usd is None
    assert "AMT203" in fired(req, max_usd_per_run=1000)
