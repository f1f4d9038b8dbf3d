"""Findings on a compiled profile also name the profile key the field came from."""

from __future__ import annotations

import pytest
from preflight_requests import base_request

from amtflow.preflight import lint_request
from amtflow.preflight._profile_keys import profile_key

RANGES = "HyperParameterTuningJobConfig.ParameterRanges"


@pytest.mark.parametrize(
    ("field", "key"),
    [
        (f"{RANGES}.ContinuousParameterRanges[0].ScalingType", "tuning.ranges.eta.scaling"),
        (f"{RANGES}.IntegerParameterRanges[0].MinValue", "tuning.ranges.max_depth.min"),
        (f"{RANGES}.CategoricalParameterRanges[0].Values", "tuning.ranges.tree_method.values"),
        (f"{RANGES}.ContinuousParameterRanges[1]", "tuning.ranges.subsample"),
        (f"{RANGES}.ContinuousParameterRanges[9].MinValue", "tuning.ranges"),
        ("HyperParameterTuningJobConfig.HyperParameterTuningJobObjective.Type", "tuning.objective.goal"),
        (
            "HyperParameterTuningJobConfig.ResourceLimits.MaxParallelTrainingJobs",
            "tuning.limits.max_parallel",
        ),
        (
            "TrainingJobDefinition.AlgorithmSpecification.MetricDefinitions[1].Regex",
            "training.metrics[1].regex",
        ),
        (
            "TrainingJobDefinition.StaticHyperParameters.num_round",
            "training.static_hyperparameters.num_round",
        ),
        ("TrainingJobDefinition.StoppingCondition.MaxWaitTimeInSeconds", "training.spot.max_wait_s"),
        ("WarmStartConfig.ParentHyperParameterTuningJobs[0]", "warm_start"),
        ("TrainingJobDefinition.Environment", "training.environment"),
        ("TrainingJobDefinition.RetryStrategy", "training.retry_attempts"),
        (
            "HyperParameterTuningJobConfig.TuningJobCompletionCriteria.BestObjectiveNotImproving."
            "MaxNumberOfTrainingJobsNotImproving",
            "tuning.completion.not_improving",
        ),
        ("HyperParameterTuningJobName", None),
    ],
)
def test_request_fields_map_to_profile_keys(field: str, key: str | None) -> None:
    assert profile_key(field, base_request()) == key


def test_the_report_names_profile_keys_only_for_profiles() -> None:
    req = base_request()
    req["HyperParameterTuningJobConfig"]["HyperParameterTuningJobObjective"]["Type"] = "Minimize"
    report = lint_request(req, from_profile=True)
    assert "(profile: tuning.objective.goal)" in report.to_text()
    assert report.to_dict()["findings"][0]["profileKey"] == "tuning.objective.goal"
    plain = lint_request(req)
    assert "profile:" not in plain.to_text()
    assert "profileKey" not in plain.to_dict()["findings"][0]
