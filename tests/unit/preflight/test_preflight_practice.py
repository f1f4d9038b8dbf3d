"""Best-practice rules (tag ``practice``): each fires on a wasteful request and not on a near miss."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from preflight_requests import base_request, parent_description

from amtflow.preflight import Finding, LintContext, Severity, run_rules

Request = dict[str, Any]


def practice(request: Request, **context: Any) -> list[Finding]:
    return run_rules(LintContext(request=request, **context), tags={"practice"})


def fired(request: Request, **context: Any) -> set[str]:
    return {f.rule for f in practice(request, **context)}


def config(req: Request) -> Request:
    return req["HyperParameterTuningJobConfig"]  # type: ignore[no-any-return]


def limits(req: Request) -> Request:
    return config(req)["ResourceLimits"]  # type: ignore[no-any-return]


def ranges(req: Request) -> Request:
    return config(req)["ParameterRanges"]  # type: ignore[no-any-return]


def definition(req: Request) -> Request:
    return req["TrainingJobDefinition"]  # type: ignore[no-any-return]


def mutate(fn: Callable[[Request], object]) -> Request:
    req = base_request()
    fn(req)
    return req


def test_the_base_request_follows_every_practice() -> None:
    assert practice(base_request()) == []


def _grid(req: Request, sizes: list[int]) -> None:
    config(req).update(Strategy="Grid")
    limits(req).pop("MaxNumberOfTrainingJobs", None)
    ranges(req).clear()
    ranges(req)["CategoricalParameterRanges"] = [
        {"Name": f"c{i}", "Values": [str(v) for v in range(n)]} for i, n in enumerate(sizes)
    ]


def _random_dims(req: Request, dims: int, jobs: int) -> None:
    config(req).update(Strategy="Random")
    limits(req).update(MaxNumberOfTrainingJobs=jobs)
    ranges(req).clear()
    ranges(req)["IntegerParameterRanges"] = [
        {"Name": f"p{i}", "MinValue": "1", "MaxValue": "9", "ScalingType": "Linear"} for i in range(dims)
    ]


def _eta(req: Request, low: str, high: str, scaling: str | None) -> None:
    eta = ranges(req)["ContinuousParameterRanges"][0]
    eta.update(MinValue=low, MaxValue=high)
    eta.pop("ScalingType")
    if scaling:
        eta["ScalingType"] = scaling


CASES: list[tuple[str, Callable[[Request], object], Callable[[Request], object]]] = [
    (
        "AMT101",
        lambda r: limits(r).update(MaxNumberOfTrainingJobs=30, MaxParallelTrainingJobs=4),
        lambda r: limits(r).update(MaxNumberOfTrainingJobs=30, MaxParallelTrainingJobs=3),
    ),
    (
        "AMT102",
        lambda r: limits(r).update(MaxNumberOfTrainingJobs=9, MaxParallelTrainingJobs=1),
        lambda r: limits(r).update(MaxNumberOfTrainingJobs=10, MaxParallelTrainingJobs=1),
    ),
    ("AMT103", lambda r: _grid(r, [5, 5, 5]), lambda r: _grid(r, [5, 5, 4])),
    ("AMT103", lambda r: _grid(r, [2] * 6), lambda r: _grid(r, [2] * 5)),
    ("AMT104", lambda r: _random_dims(r, 10, 19), lambda r: _random_dims(r, 10, 20)),
    ("AMT104", lambda r: _random_dims(r, 10, 19), lambda r: _random_dims(r, 9, 10)),
    ("AMT105", lambda r: _eta(r, "0.001", "0.1", "Linear"), lambda r: _eta(r, "0.0011", "0.1", "Linear")),
    ("AMT105", lambda r: _eta(r, "0.001", "0.1", "Linear"), lambda r: _eta(r, "0.001", "0.1", "Logarithmic")),
    ("AMT106", lambda r: _eta(r, "0.001", "0.1", None), lambda r: _eta(r, "0.001", "0.1", "Logarithmic")),
    (
        "AMT105",
        lambda r: ranges(r)["ContinuousParameterRanges"].append(
            {"Name": "reg_lambda", "MinValue": "0.01", "MaxValue": "10", "ScalingType": "Linear"}
        ),
        lambda r: ranges(r)["ContinuousParameterRanges"].append(
            {"Name": "colsample_bytree", "MinValue": "0.001", "MaxValue": "1", "ScalingType": "Linear"}
        ),
    ),
    (
        "AMT107",
        lambda r: config(r)["HyperParameterTuningJobObjective"].update(Type="Minimize"),
        lambda r: config(r)["HyperParameterTuningJobObjective"].update(Type="Maximize"),
    ),
    (
        "AMT107",
        lambda r: (
            config(r)["HyperParameterTuningJobObjective"].update(MetricName="validation:rmse")
            or definition(r)["AlgorithmSpecification"]["MetricDefinitions"].append(
                {"Name": "validation:rmse", "Regex": "rmse=([0-9.]+)"}
            )
        ),
        lambda r: config(r)["HyperParameterTuningJobObjective"].update(
            MetricName="validation:rmse", Type="Minimize"
        ),
    ),
    (
        "AMT108",
        lambda r: ranges(r)["CategoricalParameterRanges"][0].update(Values=["hist", "approx", "hist"]),
        lambda r: ranges(r)["CategoricalParameterRanges"][0].update(Values=["hist", "approx", "Hist"]),
    ),
    (
        "AMT109",
        lambda r: (
            definition(r).update(EnableManagedSpotTraining=True)
            or definition(r)["StoppingCondition"].update(MaxRuntimeInSeconds=3601, MaxWaitTimeInSeconds=7200)
        ),
        lambda r: (
            definition(r).update(EnableManagedSpotTraining=True)
            or definition(r)["StoppingCondition"].update(MaxRuntimeInSeconds=3600, MaxWaitTimeInSeconds=7200)
        ),
    ),
    (
        "AMT109",
        lambda r: (
            definition(r).update(EnableManagedSpotTraining=True)
            or definition(r)["StoppingCondition"].update(MaxRuntimeInSeconds=7200, MaxWaitTimeInSeconds=9000)
        ),
        lambda r: (
            definition(r).update(EnableManagedSpotTraining=True, CheckpointConfig={"S3Uri": "s3://b/c/"})
            or definition(r)["StoppingCondition"].update(MaxRuntimeInSeconds=7200, MaxWaitTimeInSeconds=9000)
        ),
    ),
    (
        "AMT110",
        lambda r: limits(r).update(MaxNumberOfTrainingJobs=100, MaxParallelTrainingJobs=10),
        lambda r: (
            limits(r).update(MaxNumberOfTrainingJobs=100, MaxParallelTrainingJobs=10)
            or config(r).update(
                TuningJobCompletionCriteria={
                    "BestObjectiveNotImproving": {"MaxNumberOfTrainingJobsNotImproving": 10}
                }
            )
        ),
    ),
]


@pytest.mark.parametrize(
    ("rule_id", "trigger", "near_miss"), CASES, ids=[f"{c[0]}-{i}" for i, c in enumerate(CASES)]
)
def test_rule_fires_on_the_violation_and_not_on_the_near_miss(
    rule_id: str, trigger: Callable[[Request], object], near_miss: Callable[[Request], object]
) -> None:
    found = [f for f in practice(mutate(trigger)) if f.rule == rule_id]
    assert found, f"{rule_id} did not fire"
    for f in found:
        assert f.field
        assert f.message
        assert f.why
        assert f.fix
    assert rule_id not in fired(mutate(near_miss))


def test_a_contradicted_direction_is_an_error_naming_the_expected_type() -> None:
    req = base_request()
    config(req)["HyperParameterTuningJobObjective"]["Type"] = "Minimize"
    (finding,) = [f for f in practice(req) if f.rule == "AMT107"]
    assert finding.severity is Severity.ERROR
    assert finding.field == "HyperParameterTuningJobConfig.HyperParameterTuningJobObjective.Type"
    assert "Maximize" in finding.fix


@pytest.mark.parametrize(
    ("metric", "direction", "contradicts"),
    [
        ("validation:accuracy", "Minimize", True),
        ("val_loss", "Maximize", True),
        ("test-mape", "Maximize", True),
        ("validation:logloss", "Maximize", True),
        ("validation:ndcg", "Minimize", True),
        ("r2", "Minimize", True),
        ("validation:error", "Minimize", False),
        ("validation:f1", "Maximize", False),
        ("score", "Minimize", False),
        ("auc_loss", "Minimize", False),
    ],
)
def test_metric_names_imply_a_direction(metric: str, direction: str, contradicts: bool) -> None:
    req = base_request()
    config(req)["HyperParameterTuningJobObjective"] = {"Type": direction, "MetricName": metric}
    assert ("AMT107" in fired(req)) is contradicts


def test_a_grid_larger_than_the_given_budget_is_flagged() -> None:
    req = base_request()
    _grid(req, [3, 3])
    assert "AMT103" not in fired(req)
    assert "AMT103" in fired(req, extra={"max_training_jobs_budget": 8})


def test_a_cold_start_with_compatible_earlier_jobs_is_flagged() -> None:
    req = base_request()
    assert "AMT111" in fired(req, extra={"compatible_parents": ["churn-xgb-old"]})
    assert "AMT111" not in fired(req, extra={"compatible_parents": []})
    req["WarmStartConfig"] = {
        "ParentHyperParameterTuningJobs": [{"HyperParameterTuningJobName": "churn-xgb-old"}],
        "WarmStartType": "TransferLearning",
    }
    assert "AMT111" not in fired(req, extra={"compatible_parents": ["churn-xgb-old"]})


def test_a_parents_own_parent_is_named_as_not_inherited() -> None:
    child = base_request()
    child["WarmStartConfig"] = {
        "ParentHyperParameterTuningJobs": [{"HyperParameterTuningJobName": "p1"}],
        "WarmStartType": "TransferLearning",
    }
    parent = parent_description(
        "p1",
        WarmStartConfig={
            "ParentHyperParameterTuningJobs": [{"HyperParameterTuningJobName": "p0"}],
            "WarmStartType": "TransferLearning",
        },
    )
    (finding,) = [f for f in practice(child, parents={"p1": parent}) if f.rule == "AMT112"]
    assert "'p0'" in finding.message
    assert "'p1'" in finding.message
    child["WarmStartConfig"]["ParentHyperParameterTuningJobs"].append({"HyperParameterTuningJobName": "p0"})
    assert "AMT112" not in fired(child, parents={"p1": parent})
