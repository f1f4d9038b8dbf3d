"""Requests with several training definitions: what AMT refuses beyond each definition's own rules."""

from __future__ import annotations

import copy
from typing import Any

import pytest
from preflight_requests import base_request

from amtflow.preflight import Finding, LintContext, estimate_cost, run_rules

Request = dict[str, Any]


def two_definitions() -> Request:
    req = base_request()
    single = req.pop("TrainingJobDefinition")
    config = req["HyperParameterTuningJobConfig"]
    objective = config.pop("HyperParameterTuningJobObjective")
    rng = config.pop("ParameterRanges")
    config["TrainingJobEarlyStoppingType"] = "Off"
    req["TrainingJobDefinitions"] = [
        {
            **copy.deepcopy(single),
            "DefinitionName": name,
            "TuningObjective": objective,
            "HyperParameterRanges": copy.deepcopy(rng),
        }
        for name in ("xgb", "mlp")
    ]
    return req


def errors(req: Request) -> list[Finding]:
    return [f for f in run_rules(LintContext(request=req), tags={"service"}) if f.is_error]


def test_two_distinct_definitions_pass() -> None:
    assert errors(two_definitions()) == []


def test_a_repeated_definition_name_is_refused_naming_the_second() -> None:
    req = two_definitions()
    req["TrainingJobDefinitions"][1]["DefinitionName"] = "XGB"
    (finding,) = errors(req)
    assert finding.rule == "AMT002"
    assert finding.field == "TrainingJobDefinitions[1].DefinitionName"
    assert "TrainingJobDefinitions[0]" in finding.message


def test_warm_start_and_early_stopping_are_refused_with_several_definitions() -> None:
    req = two_definitions()
    req["WarmStartConfig"] = {
        "ParentHyperParameterTuningJobs": [{"HyperParameterTuningJobName": "parent-1"}],
        "WarmStartType": "TransferLearning",
    }
    req["HyperParameterTuningJobConfig"]["TrainingJobEarlyStoppingType"] = "Auto"
    fields = {f.field for f in errors(req) if f.rule == "AMT002"}
    assert fields == {"WarmStartConfig", "HyperParameterTuningJobConfig.TrainingJobEarlyStoppingType"}


def test_more_than_ten_definitions_are_refused() -> None:
    req = two_definitions()
    first = req["TrainingJobDefinitions"][0]
    req["TrainingJobDefinitions"] = [dict(first, DefinitionName=f"d{i}") for i in range(11)]
    assert any(f.field == "TrainingJobDefinitions" for f in errors(req))


def test_the_expected_cost_prices_each_definition_on_its_own_instance() -> None:
    req = two_definitions()
    req["HyperParameterTuningJobConfig"]["ResourceLimits"]["MaxNumberOfTrainingJobs"] = 10
    req["HyperParameterTuningJobConfig"]["ResourceLimits"].pop("MaxRuntimeInSeconds", None)
    xgb, mlp = req["TrainingJobDefinitions"]
    xgb["ResourceConfig"] = {"InstanceType": "ml.m5.xlarge", "InstanceCount": 1, "VolumeSizeInGB": 30}
    mlp["ResourceConfig"] = {"InstanceType": "ml.m5.large", "InstanceCount": 1, "VolumeSizeInGB": 30}
    for d in (xgb, mlp):
        d["StoppingCondition"] = {"MaxRuntimeInSeconds": 3600}
        d.pop("EnableManagedSpotTraining", None)
    prices = {"ml.m5.xlarge": 2.0, "ml.m5.large": 1.0}
    estimate = estimate_cost(req, prices=prices, expected_runtime_s=1800)
    # 5 jobs of half an hour on each: 5 * 0.5 * 2.0 + 5 * 0.5 * 1.0
    assert estimate.expected_usd == pytest.approx(7.5)
    assert estimate.upper_bound_usd == pytest.approx(10 * 1.0 * 2.0)  # every job on the dearest
    assert any("xgb on 1 x ml.m5.xlarge" in a and "mlp on 1 x ml.m5.large" in a for a in estimate.assumptions)


def test_a_log_of_one_definition_is_not_held_against_the_other() -> None:
    req = two_definitions()
    xgb, mlp = req["TrainingJobDefinitions"]
    objective = xgb["TuningObjective"]["MetricName"]
    xgb["AlgorithmSpecification"]["MetricDefinitions"] = [
        {"Name": objective, "Regex": r"xgb-score:([0-9.]+)"}
    ]
    mlp["AlgorithmSpecification"]["MetricDefinitions"] = [
        {"Name": objective, "Regex": r"mlp_score=([0-9.]+)"}
    ]

    def unmatched(logs: dict[str, list[str]]) -> set[str]:
        context = LintContext(request=req, sample_logs=logs)
        return {f.field for f in run_rules(context) if f.rule == "AMT123"}

    assert unmatched({"canary of xgb": ["[3] xgb-score:0.9"], "canary of mlp": ["mlp_score=0.8"]}) == set()
    # a log that neither definition reads is checked against both
    assert unmatched({"typo": ["mlp-score=0.8"]}) == {
        "TrainingJobDefinitions[0].AlgorithmSpecification.MetricDefinitions[0].Regex",
        "TrainingJobDefinitions[1].AlgorithmSpecification.MetricDefinitions[0].Regex",
    }
