"""Metric-definition rules: regexes compile, capture one number and match the sample log."""

from __future__ import annotations

from typing import Any

import pytest
from preflight_requests import base_request

from amtflow.preflight import Finding, LintContext, Severity, run_rules
from amtflow.preflight._metrics import first_group_source, nearest_line

Request = dict[str, Any]

LOG = [
    "[0]\ttrain-auc:0.81\tvalidation-auc:0.78",
    "[1]\ttrain-auc:0.85\tvalidation-auc:0.80",
    "[2]\ttrain-auc:0.88\tvalidation-auc:0.83",
]


def practice(request: Request, **context: Any) -> list[Finding]:
    return run_rules(LintContext(request=request, **context), tags={"practice"})


def with_regex(regex: str, metric: int = 0) -> Request:
    req = base_request()
    req["TrainingJobDefinition"]["AlgorithmSpecification"]["MetricDefinitions"][metric]["Regex"] = regex
    return req


def rules(findings: list[Finding]) -> set[str]:
    return {f.rule for f in findings}


def test_the_base_request_matches_its_sample_log() -> None:
    assert practice(base_request(), sample_logs={"sample": LOG}) == []


def test_a_regex_that_does_not_compile_is_an_error() -> None:
    found = [f for f in practice(with_regex(r"validation-auc:([0-9\.]+")) if f.rule == "AMT120"]
    assert found
    assert found[0].severity is Severity.ERROR
    assert "missing )" in found[0].message
    assert "AMT120" not in rules(practice(with_regex(r"validation-auc:([0-9\.]+)")))


@pytest.mark.parametrize(
    ("regex", "fires"),
    [
        (r"validation-auc:[0-9\.]+", True),
        (r"(validation)-auc:([0-9\.]+)", True),
        (r"(?:validation)-auc:([0-9\.]+)", False),
        (r"validation-auc:(?P<value>[0-9\.]+)", False),
    ],
)
def test_exactly_one_capture_group(regex: str, fires: bool) -> None:
    assert ("AMT121" in rules(practice(with_regex(regex)))) is fires


def test_a_capture_group_that_cannot_be_a_number_is_an_error() -> None:
    found = [f for f in practice(with_regex(r"validation-(auc):")) if f.rule == "AMT122"]
    assert found
    assert "(auc)" in found[0].message
    assert "AMT122" not in rules(practice(with_regex(r"validation-auc:(\S+)")))


def test_a_capture_that_takes_text_from_the_sample_log_is_an_error() -> None:
    req = with_regex(r"train-auc:(\S+)\s", metric=1)
    log = ["[0]\ttrain-auc:n/a\tvalidation-auc:0.78"]
    found = [f for f in practice(req, sample_logs={"canary": log}) if f.rule == "AMT122"]
    assert found
    assert "'n/a'" in found[0].message
    assert "canary" in found[0].message
    assert "AMT122" not in rules(practice(req, sample_logs={"canary": LOG}))


def test_an_objective_regex_that_matches_no_line_shows_the_nearest_line() -> None:
    req = with_regex(r"validation_auc=([0-9\.]+)")
    (finding,) = [f for f in practice(req, sample_logs={"trial-001": LOG}) if f.rule == "AMT123"]
    assert finding.severity is Severity.ERROR
    assert "trial-001" in finding.message
    assert "validation-auc:0.78" in finding.message or "validation-auc:0.8" in finding.message
    assert finding.field.endswith("MetricDefinitions[0].Regex")


def test_regexes_are_not_tried_without_sample_logs() -> None:
    assert "AMT123" not in rules(practice(with_regex(r"validation_auc=([0-9\.]+)")))


def test_an_unmatched_secondary_metric_is_a_warning() -> None:
    req = with_regex(r"training-auc:([0-9\.]+)", metric=1)
    found = [f for f in practice(req, sample_logs={"sample": LOG}) if f.rule == "AMT124"]
    assert [f.severity for f in found] == [Severity.WARNING]
    assert "AMT124" not in rules(practice(base_request(), sample_logs={"sample": LOG}))


def test_early_stopping_with_an_objective_reported_once_is_flagged() -> None:
    req = base_request()
    req["HyperParameterTuningJobConfig"]["TrainingJobEarlyStoppingType"] = "Auto"
    once = ["training...", "validation-auc:0.91"]
    (finding,) = [f for f in practice(req, sample_logs={"s": once}) if f.rule == "AMT125"]
    assert finding.field == "HyperParameterTuningJobConfig.TrainingJobEarlyStoppingType"
    assert "AMT125" not in rules(practice(req, sample_logs={"s": LOG}))
    req["HyperParameterTuningJobConfig"]["TrainingJobEarlyStoppingType"] = "Off"
    assert "AMT125" not in rules(practice(req, sample_logs={"s": once}))


def test_first_group_source_skips_classes_escapes_and_non_capturing_groups() -> None:
    assert first_group_source(r"a[(]b\(c(?:x)(\d+(?:\.\d+)?)") == r"\d+(?:\.\d+)?"
    assert first_group_source(r"(?P<v>[0-9.]+)") == "[0-9.]+"
    assert first_group_source(r"no groups") is None


def test_nearest_line_prefers_the_most_similar_line() -> None:
    lines = ["epoch 1 done", "valid-auc = 0.9", "writing model"]
    assert nearest_line(r"validation-auc:([0-9.]+)", lines) == "valid-auc = 0.9"
    assert nearest_line("x", []) is None
