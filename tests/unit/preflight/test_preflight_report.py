"""lint_request / LintReport, the profile context, the catalogue and its documentation."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from preflight_requests import base_request, parent_description

from amtflow.preflight import (
    LintContext,
    LintReport,
    Severity,
    catalogue,
    context_for_profile,
    lint_request,
    render_catalogue,
    run_rules,
)
from amtflow.profile import (
    OverridesRefusedError,
    apply_overrides,
    load_profile,
    preview_tuning_request,
)

DOCS = Path(__file__).resolve().parents[3] / "docs" / "preflight.md"


def test_a_clean_request_gives_an_empty_report_with_a_cost() -> None:
    report = lint_request(base_request())
    assert isinstance(report, LintReport)
    assert report.findings == ()
    assert not report.has_errors
    assert report.cost is not None
    assert report.cost.expected_usd is not None
    assert "no findings" in report.to_text()


def test_the_report_renders_errors_first_for_people_and_for_notifications() -> None:
    req = base_request()
    req["HyperParameterTuningJobConfig"]["ResourceLimits"]["MaxParallelTrainingJobs"] = 10
    req["HyperParameterTuningJobName"] = "x" * 40
    report = lint_request(req, source="churn.yaml")
    assert report.has_errors
    assert [f.rule for f in report.errors] == ["AMT001"]
    assert "AMT101" in {f.rule for f in report.warnings}
    text = report.to_text()
    assert text.index("AMT001") < text.index("AMT101")
    assert text.endswith("churn.yaml: 1 error(s), 1 warning(s).")
    data = report.to_dict()
    assert data["hasErrors"] is True
    assert data["errors"] == 1
    assert data["findings"][0]["rule"] == "AMT001"
    assert data["cost"]["instanceType"] == "ml.m5.xlarge"


def test_lint_request_uses_the_evidence_but_not_the_request_of_the_context() -> None:
    evidence = LintContext(request={"ignored": True}, extra={"max_usd_per_run": 1.0})
    report = lint_request(base_request(), evidence)
    assert [f.rule for f in report.errors] == ["AMT202"]


def test_lint_request_does_not_run_diagnosis_rules() -> None:
    assert all(
        "diagnosis" not in s.tags for s in catalogue() if s.id in {f.rule for f in lint_request({}).findings}
    )


PROFILE = """\
schema: amtflow/v1
model: churn-xgb
dataset:
  channels: {train: text/csv}
training:
  image: 123456789012.dkr.ecr.us-east-1.amazonaws.com/churn-train:1
  instance_type: ml.x9.custom
  max_runtime_s: 3600
  metrics:
    - {name: "validation:auc", regex: 'validation-auc:([0-9\\.]+)'}
tuning:
  strategy: Bayesian
  objective: {metric: "validation:auc", goal: Maximize}
  ranges:
    eta: {min: 0.01, max: 0.5, scaling: log}
  limits: {max_jobs: 20, max_parallel: 2}
budget: {max_usd_per_run: 5, max_usd_per_month: 50, prices: {ml.x9.custom: 2.0}}
sample_log_lines: ["validation_auc 0.9"]
"""


def test_context_for_profile_carries_caps_prices_and_sample_lines() -> None:
    profile = load_profile(PROFILE)
    request = preview_tuning_request(profile)
    ctx = context_for_profile(profile, request, month_to_date_usd=3.0, earlier_runtimes_s=[600.0])
    assert ctx.extra["max_usd_per_run"] == 5
    assert ctx.extra["prices"] == {"ml.x9.custom": 2.0}
    report = lint_request(request, ctx)
    rules = {f.rule for f in report.findings}
    # price known through the override: 20 jobs x 600 s x $2/h = $6.67 expected > $5 cap
    assert "AMT201" not in rules
    assert "AMT202" in rules
    assert report.cost is not None
    assert round(report.cost.expected_usd or 0, 2) == 6.67
    assert "AMT123" in rules  # the sample line does not match the regex


def test_rule_ids_are_stable_unique_and_grouped_by_area() -> None:
    specs = catalogue()
    assert len({s.id for s in specs}) == len(specs)
    area = {
        "service": "AMT0",
        "practice": "AMT1",
        "budget": "AMT2",
        "health": "AMT3",
        "diagnosis": "AMT4",
        "deployment": "AMT5",
        "monitoring": "AMT6",
    }
    for spec in specs:
        assert re.fullmatch(r"AMT\d{3}", spec.id)
        (tag,) = spec.tags
        assert spec.id.startswith(area[tag]), spec.id
        assert spec.title
        assert spec.fn.__doc__, f"{spec.id} needs a docstring for the catalogue"


def test_the_documented_catalogue_matches_the_code() -> None:
    text = DOCS.read_text(encoding="utf-8")
    start = text.index("-->\n", text.index("<!-- catalogue:start")) + len("-->\n")
    end = text.index("<!-- catalogue:end -->")
    assert text[start:end] == render_catalogue(), "regenerate with: amtflow lint --catalogue"


json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-5, 10**6) | st.floats(allow_nan=True) | st.text(max_size=8),
    lambda children: (
        st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=6), children, max_size=3)
    ),
    max_leaves=12,
)


def _mutations() -> st.SearchStrategy[tuple[list[str], Any]]:
    paths = [
        ["HyperParameterTuningJobName"],
        ["HyperParameterTuningJobConfig"],
        ["HyperParameterTuningJobConfig", "Strategy"],
        ["HyperParameterTuningJobConfig", "ResourceLimits"],
        ["HyperParameterTuningJobConfig", "ResourceLimits", "MaxNumberOfTrainingJobs"],
        ["HyperParameterTuningJobConfig", "ParameterRanges"],
        ["HyperParameterTuningJobConfig", "ParameterRanges", "ContinuousParameterRanges"],
        ["HyperParameterTuningJobConfig", "HyperParameterTuningJobObjective"],
        ["HyperParameterTuningJobConfig", "StrategyConfig"],
        ["TrainingJobDefinition"],
        ["TrainingJobDefinition", "StaticHyperParameters"],
        ["TrainingJobDefinition", "AlgorithmSpecification", "MetricDefinitions"],
        ["TrainingJobDefinition", "StoppingCondition"],
        ["TrainingJobDefinition", "ResourceConfig"],
        ["TrainingJobDefinition", "EnableManagedSpotTraining"],
        ["WarmStartConfig"],
        ["TrainingJobDefinitions"],
    ]
    return st.tuples(st.sampled_from(paths), json_values)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    mutations=st.lists(_mutations(), min_size=1, max_size=4),
    logs=st.lists(st.text(max_size=20), max_size=3),
    parent_mutations=st.lists(_mutations(), max_size=3),
)
def test_no_rule_raises_on_malformed_requests(
    mutations: list[tuple[list[str], Any]], logs: list[str], parent_mutations: list[tuple[list[str], Any]]
) -> None:
    req: dict[str, Any] = base_request()
    req["WarmStartConfig"] = {
        "ParentHyperParameterTuningJobs": [{"HyperParameterTuningJobName": "p1"}],
        "WarmStartType": "TransferLearning",
    }
    parent = parent_description("p1", WarmStartConfig={"ParentHyperParameterTuningJobs": ["x", {"a": 1}]})
    _apply(parent, parent_mutations)
    _apply(req, mutations)
    context = LintContext(
        request=req, sample_logs={"s": logs}, parents={"p1": parent}, extra={"prices": {"x": "y"}}
    )
    for f in run_rules(context):
        assert isinstance(f.severity, Severity)
        assert f.rule
        assert isinstance(f.message, str)


def _apply(req: dict[str, Any], mutations: list[tuple[list[str], Any]]) -> None:
    for path, value in mutations:
        node: Any = req
        for key in path[:-1]:
            if not isinstance(node, dict):
                break
            node = node.setdefault(key, {})
        if isinstance(node, dict):
            node[path[-1]] = value


def test_a_manual_runs_overrides_pass_the_schema_and_then_the_same_rules() -> None:
    profile = load_profile(PROFILE.replace("eta: {min: 0.01,", "eta: {min: 0.0001,"))
    # allowed and well-typed, so accepted; but Bayesian at 2 of 10 jobs at once, eta linear over 3 decades
    broken = apply_overrides(
        profile, {"tuning": {"limits": {"max_jobs": 10}, "ranges": {"eta": {"scaling": "linear"}}}}
    )
    request = preview_tuning_request(broken)
    report = lint_request(request, context_for_profile(broken, request), from_profile=True)
    keys = {f["rule"]: f.get("profileKey") for f in report.to_dict()["findings"]}
    assert keys["AMT101"] == "tuning.limits.max_parallel"
    assert keys["AMT105"] == "tuning.ranges.eta.scaling"
    with pytest.raises(OverridesRefusedError) as info:
        apply_overrides(profile, {"tuning": {"limits": {"max_paralel": 10}}})
    assert (
        "overrides.tuning.limits.max_paralel: unknown key 'max_paralel'; did you mean 'max_parallel'?"
        in str(info.value)
    )
