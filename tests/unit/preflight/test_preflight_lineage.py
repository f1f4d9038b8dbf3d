"""Evidence from the lineage: compatible earlier jobs, a parent's own parents, earlier runs' runtime."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta
from pathlib import Path

import pytest
from preflight_requests import base_request
from test_preflight_rule_pairs import T0, lineage_run, other_objective, warm

from amtflow.drift import TuningJobStatus
from amtflow.preflight import context_for_profile, lineage_evidence, lint_request
from amtflow.profile import load_profile_file, preview_tuning_request

EXAMPLE = Path(__file__).parents[3] / "examples" / "xgboost" / "profile.yaml"


def test_compatible_terminal_jobs_are_listed_most_recent_first() -> None:
    runs = [
        lineage_run("v1", days=0),
        lineage_run("v2", days=7, status=TuningJobStatus.STOPPED),
        lineage_run("v3", days=14, status=TuningJobStatus.IN_PROGRESS),
        lineage_run("v4", days=21, request=other_objective()),
        replace(lineage_run("v5", days=28, status=TuningJobStatus.FAILED), best_training_job=None),
        lineage_run("v6", days=35, status=TuningJobStatus.FAILED),
    ]
    assert lineage_evidence(base_request(), runs).compatible_parents == ("v6", "v2", "v1")


def test_the_job_being_linted_is_not_its_own_candidate() -> None:
    request = base_request()
    runs = [lineage_run(request["HyperParameterTuningJobName"].upper())]
    assert lineage_evidence(request, runs).compatible_parents == ()


def test_a_malformed_request_has_no_compatible_parents_and_does_not_raise() -> None:
    assert (
        lineage_evidence({"HyperParameterTuningJobConfig": "x"}, [lineage_run("v1")]).compatible_parents == ()
    )


def test_per_job_runtime_comes_from_the_consumed_wall_clock_and_this_jobs_parallelism() -> None:
    # 30 jobs, 3 at a time, 3000 s of wall clock: about 300 s per job
    runs = [lineage_run("v1", consumed_runtime_s=3000, training_jobs=30), lineage_run("v2", days=1)]
    assert lineage_evidence(base_request(), runs).earlier_runtimes_s == (300.0,)
    # a run with fewer jobs than the parallelism ran them all at once
    runs = [lineage_run("v1", consumed_runtime_s=500, training_jobs=2)]
    assert lineage_evidence(base_request(), runs).earlier_runtimes_s == (500.0,)


def test_the_lineage_lowers_the_expected_cost_and_says_so() -> None:
    profile = load_profile_file(EXAMPLE)
    request = preview_tuning_request(profile)
    blind = lint_request(request, context_for_profile(profile, request))
    runs = [lineage_run("v1", consumed_runtime_s=1200, training_jobs=30, request=request)]
    informed = lint_request(request, context_for_profile(profile, request, history=runs))
    assert blind.cost is not None
    assert informed.cost is not None
    # 30 jobs x (1200 s x 3 / 30 = 120 s) x $0.23/h
    assert informed.cost.expected_runtime_s == pytest.approx(120.0)
    assert informed.cost.expected_usd == pytest.approx(30 * 120 / 3600 * 0.23)
    assert informed.cost.expected_usd < (blind.cost.expected_usd or 0)
    assert any("median of 1 earlier" in a for a in informed.cost.assumptions)


def test_explicit_evidence_wins_over_the_lineage() -> None:
    profile = load_profile_file(EXAMPLE)
    request = preview_tuning_request(profile)
    runs = [lineage_run("v1", consumed_runtime_s=1200, training_jobs=30, request=request)]
    ctx = context_for_profile(profile, request, history=runs, earlier_runtimes_s=[600.0])
    assert ctx.extra["earlier_runtimes_s"] == [600.0]
    assert ctx.extra["compatible_parents"] == ["v1"]


def test_a_profile_run_through_the_lineage_warns_about_the_unused_parent_and_the_grandparent() -> None:
    profile = load_profile_file(EXAMPLE)
    request = preview_tuning_request(profile)
    runs = [lineage_run("v1", request=request), lineage_run("v2", days=7, parents=("v1",), request=request)]
    cold = lint_request(request, context_for_profile(profile, request, history=runs), from_profile=True)
    (unused,) = [f for f in cold.findings if f.rule == "AMT111"]
    assert "v2, v1" in unused.message
    assert [f["profileKey"] for f in cold.to_dict()["findings"] if f["rule"] == "AMT111"] == ["warm_start"]

    child = warm(["v2"], request)
    report = lint_request(child, context_for_profile(profile, child, history=runs))
    (inherited,) = [f for f in report.findings if f.rule == "AMT112"]
    assert "'v1' (a parent of 'v2')" in inherited.message
    assert "AMT111" not in {f.rule for f in report.findings}


def test_month_to_date_spend_comes_from_the_runs_of_this_month() -> None:
    profile = load_profile_file(EXAMPLE)  # max_usd_per_month: 100
    request = preview_tuning_request(profile)
    runs = [
        replace(lineage_run("v1", days=-5), cost_usd=500.0),  # October: not this month
        replace(lineage_run("v2", days=2), cost_usd=60.0),
        replace(lineage_run("v3", days=9), cost_estimate_usd=39.0),  # not finished: its estimate counts
    ]
    now = T0 + timedelta(days=10)
    assert lineage_evidence(request, runs, now=now).month_to_date_usd == pytest.approx(99.0)
    assert lineage_evidence(request, runs).month_to_date_usd is None
    report = lint_request(request, context_for_profile(profile, request, history=runs, now=now))
    (over,) = [f for f in report.findings if f.rule == "AMT204"]
    assert "$99.00 spent this month" in over.message
    given = context_for_profile(profile, request, history=runs, now=now, month_to_date_usd=1.0)
    assert "AMT204" not in {f.rule for f in lint_request(request, given).findings}
