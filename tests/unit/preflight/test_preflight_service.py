"""Service constraints (tag ``service``): each rule fires on a violating request and not on a near miss."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from preflight_requests import base_request, parent_description

from amtflow.preflight import Finding, LintContext, Severity, catalogue, run_rules, service_error_code

Request = dict[str, Any]


def service(request: Request, **context: Any) -> list[Finding]:
    return run_rules(LintContext(request=request, **context), tags={"service"})


def fired(request: Request, **context: Any) -> set[str]:
    return {f.rule for f in service(request, **context)}


def config(req: Request) -> Request:
    return req["HyperParameterTuningJobConfig"]  # type: ignore[no-any-return]


def ranges(req: Request) -> Request:
    return config(req)["ParameterRanges"]  # type: ignore[no-any-return]


def definition(req: Request) -> Request:
    return req["TrainingJobDefinition"]  # type: ignore[no-any-return]


def test_the_base_request_passes_every_service_rule() -> None:
    assert service(base_request()) == []


def test_every_service_rule_is_an_error() -> None:
    specs = [s for s in catalogue() if "service" in s.tags]
    assert len(specs) >= 25
    assert all(s.severity is Severity.ERROR for s in specs)


def mutate(fn: Callable[[Request], object]) -> Request:
    req = base_request()
    fn(req)
    return req


# (rule, mutation that triggers it, near miss that does not)
CASES: list[tuple[str, Callable[[Request], object], Callable[[Request], object]]] = [
    (
        "AMT001",
        lambda r: r.update(HyperParameterTuningJobName="churn_xgb"),
        lambda r: r.update(HyperParameterTuningJobName="churn--xgb"),
    ),
    (
        "AMT001",
        lambda r: r.update(HyperParameterTuningJobName="a" * 33),
        lambda r: r.update(HyperParameterTuningJobName="a" * 32),
    ),
    ("AMT001", lambda r: r.pop("HyperParameterTuningJobName"), lambda r: None),
    (
        "AMT001",
        lambda r: r.update(HyperParameterTuningJobName="churn-xgb\n"),  # '$' alone would let it through
        lambda r: r.update(HyperParameterTuningJobName="churn-xgb"),
    ),
    (
        "AMT002",
        lambda r: config(r).update(Strategy="Bayes"),
        lambda r: config(r).update(Strategy="Random"),
    ),
    (
        "AMT002",
        lambda r: config(r)["ResourceLimits"].update(MaxParallelTrainingJobs="3"),
        lambda r: config(r)["ResourceLimits"].update(MaxParallelTrainingJobs=1),
    ),
    ("AMT002", lambda r: definition(r).pop("RoleArn"), lambda r: definition(r).pop("InputDataConfig")),
    (
        "AMT002",
        lambda r: definition(r)["AlgorithmSpecification"].update(AlgorithmName="my-algo"),
        lambda r: None,
    ),
    (
        "AMT002",
        lambda r: ranges(r)["IntegerParameterRanges"][0].update(MinValue=2),
        lambda r: ranges(r)["IntegerParameterRanges"][0].update(MinValue="3"),
    ),
    (
        "AMT002",
        lambda r: ranges(r)["ContinuousParameterRanges"][0].update(ScalingType="Log"),
        lambda r: ranges(r)["ContinuousParameterRanges"][0].update(ScalingType="Auto"),
    ),
    (
        "AMT003",
        lambda r: ranges(r)["IntegerParameterRanges"].extend(
            {"Name": f"p{i}", "MinValue": "1", "MaxValue": "5"} for i in range(27)
        ),
        lambda r: ranges(r)["IntegerParameterRanges"].extend(
            {"Name": f"p{i}", "MinValue": "1", "MaxValue": "5"} for i in range(26)
        ),
    ),
    (
        "AMT004",
        lambda r: ranges(r)["CategoricalParameterRanges"][0].update(Values=[str(i) for i in range(31)]),
        lambda r: ranges(r)["CategoricalParameterRanges"][0].update(Values=[str(i) for i in range(30)]),
    ),
    (
        "AMT005",
        lambda r: definition(r).update(StaticHyperParameters={f"s{i}": "1" for i in range(96)}),
        lambda r: (
            definition(r).update(StaticHyperParameters={f"s{i}": "1" for i in range(96)})
            or ranges(r).pop("CategoricalParameterRanges")
        ),
    ),
    (
        "AMT006",
        lambda r: definition(r)["AlgorithmSpecification"]["MetricDefinitions"].extend(
            {"Name": f"m{i}", "Regex": f"m{i}=([0-9.]+)"} for i in range(19)
        ),
        lambda r: definition(r)["AlgorithmSpecification"]["MetricDefinitions"].extend(
            {"Name": f"m{i}", "Regex": f"m{i}=([0-9.]+)"} for i in range(18)
        ),
    ),
    (
        "AMT007",
        lambda r: config(r)["ResourceLimits"].update(MaxParallelTrainingJobs=11, MaxNumberOfTrainingJobs=200),
        lambda r: config(r)["ResourceLimits"].update(MaxParallelTrainingJobs=10, MaxNumberOfTrainingJobs=200),
    ),
    (
        "AMT008",
        lambda r: config(r)["ResourceLimits"].update(MaxNumberOfTrainingJobs=751),
        lambda r: config(r)["ResourceLimits"].update(MaxNumberOfTrainingJobs=750),
    ),
    (
        "AMT009",
        lambda r: ranges(r)["CategoricalParameterRanges"].append({"Name": "max_depth", "Values": ["3", "4"]}),
        lambda r: ranges(r)["CategoricalParameterRanges"].append({"Name": "booster", "Values": ["gbtree"]}),
    ),
    (
        "AMT010",
        lambda r: ranges(r)["IntegerParameterRanges"][0].update(MaxValue="10.5"),
        lambda r: ranges(r)["ContinuousParameterRanges"][0].update(MaxValue="1e-1"),
    ),
    (
        "AMT010",
        lambda r: ranges(r)["IntegerParameterRanges"][0].update(MinValue="10"),
        lambda r: ranges(r)["IntegerParameterRanges"][0].update(MinValue="9"),
    ),
    (
        "AMT010",
        lambda r: ranges(r)["ContinuousParameterRanges"][0].update(MinValue="nan"),
        lambda r: ranges(r)["ContinuousParameterRanges"][0].update(MinValue="0.001"),
    ),
    (
        "AMT011",
        lambda r: ranges(r)["ContinuousParameterRanges"][0].update(MinValue="0"),
        lambda r: ranges(r)["ContinuousParameterRanges"][0].update(MinValue="0", ScalingType="Linear"),
    ),
    (
        "AMT012",
        lambda r: ranges(r)["ContinuousParameterRanges"][1].update(MaxValue="1.0"),
        lambda r: ranges(r)["ContinuousParameterRanges"][1].update(MaxValue="0.999"),
    ),
    (
        "AMT012",
        lambda r: ranges(r)["IntegerParameterRanges"][0].update(ScalingType="ReverseLogarithmic"),
        lambda r: ranges(r)["IntegerParameterRanges"][0].update(ScalingType="Logarithmic"),
    ),
    (
        "AMT013",
        lambda r: (
            config(r).update(Strategy="Grid") or config(r)["ResourceLimits"].pop("MaxNumberOfTrainingJobs")
        ),
        lambda r: (
            config(r).update(Strategy="Grid"),
            config(r)["ResourceLimits"].pop("MaxNumberOfTrainingJobs"),
            ranges(r).pop("IntegerParameterRanges"),
            ranges(r).pop("ContinuousParameterRanges"),
        ),
    ),
    (
        "AMT014",
        lambda r: _grid(r, [10, 10, 8]),
        lambda r: _grid(r, [10, 15, 5]),
    ),
    (
        "AMT014",
        lambda r: _grid(r, [2, 3]) or config(r)["ResourceLimits"].update(MaxNumberOfTrainingJobs=5),
        lambda r: _grid(r, [2, 3]) or config(r)["ResourceLimits"].update(MaxNumberOfTrainingJobs=6),
    ),
    (
        "AMT015",
        lambda r: _hyperband(r) or config(r).update(TrainingJobEarlyStoppingType="Auto"),
        lambda r: _hyperband(r),
    ),
    (
        "AMT016",
        lambda r: config(r).update(StrategyConfig={"HyperbandStrategyConfig": {"MaxResource": 10}}),
        lambda r: _hyperband(r),
    ),
    (
        "AMT017",
        lambda r: _hyperband(r) or config(r).pop("StrategyConfig"),
        lambda r: (
            _hyperband(r),
            config(r).pop("StrategyConfig"),
            definition(r)["StaticHyperParameters"].update(num_epochs="50"),
        ),
    ),
    (
        "AMT017",
        lambda r: _hyperband(r, max_resource=20001),
        lambda r: _hyperband(r, max_resource=20000),
    ),
    (
        "AMT017",
        lambda r: _hyperband(r, max_resource=10, min_resource=11),
        lambda r: _hyperband(r, max_resource=10, min_resource=10),
    ),
    (
        "AMT018",
        lambda r: config(r)["ResourceLimits"].update(MaxRuntimeInSeconds=2_592_001),
        lambda r: config(r)["ResourceLimits"].update(MaxRuntimeInSeconds=2_592_000),
    ),
    (
        "AMT018",
        lambda r: config(r)["ResourceLimits"].update(MaxRuntimeInSeconds=119),
        lambda r: config(r)["ResourceLimits"].update(MaxRuntimeInSeconds=120),
    ),
    (
        "AMT019",
        lambda r: definition(r)["StoppingCondition"].update(MaxRuntimeInSeconds=28 * 86400 + 1),
        lambda r: definition(r)["StoppingCondition"].update(MaxRuntimeInSeconds=28 * 86400),
    ),
    (
        "AMT019",
        lambda r: definition(r)["StoppingCondition"].update(MaxRuntimeInSeconds=0),
        lambda r: definition(r)["StoppingCondition"].update(MaxRuntimeInSeconds=1),
    ),
    (
        "AMT020",
        lambda r: definition(r).update(EnableManagedSpotTraining=True),
        lambda r: (
            definition(r).update(EnableManagedSpotTraining=True)
            or definition(r)["StoppingCondition"].update(MaxWaitTimeInSeconds=3600)
        ),
    ),
    (
        "AMT020",
        lambda r: (
            definition(r).update(EnableManagedSpotTraining=True)
            or definition(r)["StoppingCondition"].update(MaxWaitTimeInSeconds=3599)
        ),
        lambda r: (
            definition(r).update(EnableManagedSpotTraining=False)
            or definition(r)["StoppingCondition"].update(MaxWaitTimeInSeconds=3599)
        ),
    ),
    (
        "AMT021",
        lambda r: config(r)["HyperParameterTuningJobObjective"].update(MetricName="validation:f1"),
        lambda r: config(r)["HyperParameterTuningJobObjective"].update(MetricName="train:auc"),
    ),
    (
        "AMT021",
        lambda r: definition(r)["AlgorithmSpecification"].pop("MetricDefinitions"),
        lambda r: (
            definition(r)["AlgorithmSpecification"].pop("MetricDefinitions")
            and definition(r)["AlgorithmSpecification"].update(
                TrainingImage="683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-xgboost:1.7-1"
            )
        ),
    ),
    (
        "AMT002",
        lambda r: config(r).update(
            TuningJobCompletionCriteria={
                "BestObjectiveNotImproving": {"MaxNumberOfTrainingJobsNotImproving": 2}
            }
        ),
        lambda r: config(r).update(
            TuningJobCompletionCriteria={
                "BestObjectiveNotImproving": {"MaxNumberOfTrainingJobsNotImproving": 3}
            }
        ),
    ),
    (
        "AMT002",
        lambda r: config(r).update(TuningJobCompletionCriteria={"TargetObjectiveMetricValue": "0.95"}),
        lambda r: config(r).update(TuningJobCompletionCriteria={"TargetObjectiveMetricValue": 0.95}),
    ),
    (
        "AMT002",
        lambda r: config(r).update(
            TuningJobCompletionCriteria={"ConvergenceDetected": {"CompleteOnConvergence": "On"}}
        ),
        lambda r: config(r).update(
            TuningJobCompletionCriteria={"ConvergenceDetected": {"CompleteOnConvergence": "Enabled"}}
        ),
    ),
    ("AMT002", lambda r: config(r).update(RandomSeed=-1), lambda r: config(r).update(RandomSeed=0)),
    (
        "AMT022",
        lambda r: definition(r)["StaticHyperParameters"].update(eta="0.1"),
        lambda r: definition(r)["StaticHyperParameters"].update(gamma="0.1"),
    ),
    (
        "AMT030",
        lambda r: r.update(
            WarmStartConfig={"ParentHyperParameterTuningJobs": [], "WarmStartType": "TransferLearning"}
        ),
        lambda r: _warm(r, ["p1"]),
    ),
    (
        "AMT030",
        lambda r: _warm(r, [f"p{i}" for i in range(6)]),
        lambda r: _warm(r, [f"p{i}" for i in range(5)]),
    ),
    (
        "AMT030",
        lambda r: _warm(r, ["p1"], kind="TRANSFER_LEARNING"),
        lambda r: _warm(r, ["p1"], kind="IdenticalDataAndAlgorithm"),
    ),
    (
        "AMT031",
        lambda r: _warm(r, ["p1"]) or _grid(r, [2, 2]),
        lambda r: _warm(r, ["p1"]) or config(r).update(Strategy="Random"),
    ),
]


def _grid(req: Request, sizes: list[int]) -> None:
    config(req).update(Strategy="Grid")
    config(req)["ResourceLimits"].pop("MaxNumberOfTrainingJobs", None)
    ranges(req).clear()
    ranges(req)["CategoricalParameterRanges"] = [
        {"Name": f"c{i}", "Values": [str(v) for v in range(n)]} for i, n in enumerate(sizes)
    ]


def _hyperband(req: Request, max_resource: int = 50, min_resource: int = 1) -> None:
    config(req).update(
        Strategy="Hyperband",
        StrategyConfig={
            "HyperbandStrategyConfig": {"MinResource": min_resource, "MaxResource": max_resource}
        },
        TrainingJobEarlyStoppingType="Off",
    )


def _warm(req: Request, parents: list[str], kind: str = "TransferLearning") -> None:
    req["WarmStartConfig"] = {
        "ParentHyperParameterTuningJobs": [{"HyperParameterTuningJobName": p} for p in parents],
        "WarmStartType": kind,
    }


@pytest.mark.parametrize(
    ("rule_id", "trigger", "near_miss"), CASES, ids=[f"{c[0]}-{i}" for i, c in enumerate(CASES)]
)
def test_rule_fires_on_the_violation_and_not_on_the_near_miss(
    rule_id: str, trigger: Callable[[Request], object], near_miss: Callable[[Request], object]
) -> None:
    found = [f for f in service(mutate(trigger)) if f.rule == rule_id]
    assert found, f"{rule_id} did not fire"
    for f in found:
        assert f.severity is Severity.ERROR
        assert f.field
        assert f.message
        assert f.why
        assert f.fix
    assert rule_id not in fired(mutate(near_miss))


def test_a_findings_field_is_the_dotted_path_of_the_offending_member() -> None:
    req = base_request()
    ranges(req)["ContinuousParameterRanges"][0]["MinValue"] = "-1"
    (finding,) = [f for f in service(req) if f.rule == "AMT011"]
    assert (
        finding.field
        == "HyperParameterTuningJobConfig.ParameterRanges.ContinuousParameterRanges[0].ScalingType"
    )
    assert "eta" in finding.message
    assert "'-1'" in finding.message


def test_a_raised_parallel_quota_is_honoured_up_to_100() -> None:
    req = base_request()
    config(req)["ResourceLimits"].update(MaxParallelTrainingJobs=50, MaxNumberOfTrainingJobs=500)
    assert "AMT007" in fired(req)
    assert "AMT007" not in fired(req, extra={"max_parallel_training_jobs_quota": 50})
    config(req)["ResourceLimits"]["MaxParallelTrainingJobs"] = 101
    assert "AMT007" in fired(req, extra={"max_parallel_training_jobs_quota": 500})


def test_random_search_may_run_up_to_10000_jobs_with_a_raised_quota() -> None:
    req = base_request()
    config(req).update(Strategy="Random")
    config(req)["ResourceLimits"]["MaxNumberOfTrainingJobs"] = 2000
    (finding,) = [f for f in service(req) if f.rule == "AMT008"]
    assert "up to 10,000 with a raised quota" in finding.message
    assert "AMT008" not in fired(req, extra={"max_training_jobs_quota": 2000})
    assert "AMT008" in fired(req, extra={"max_training_jobs_quota": 1999})
    config(req)["ResourceLimits"]["MaxNumberOfTrainingJobs"] = 10_001
    assert "AMT008" in fired(req, extra={"max_training_jobs_quota": 50_000})
    config(req).update(Strategy="Bayesian")
    config(req)["ResourceLimits"]["MaxNumberOfTrainingJobs"] = 751
    assert "AMT008" in fired(req, extra={"max_training_jobs_quota": 2000})  # Bayesian stays at 750


def test_quota_violation_maps_to_resource_limit_exceeded() -> None:
    assert service_error_code("AMT007") == "ResourceLimitExceeded"
    assert service_error_code("AMT001") == "ValidationException"


def test_grid_without_max_jobs_and_a_small_grid_passes() -> None:
    req = base_request()
    _grid(req, [2, 3, 5])
    assert service(req) == []


def test_multi_definition_requests_are_read_per_definition() -> None:
    req = base_request()
    single = req.pop("TrainingJobDefinition")
    objective = config(req).pop("HyperParameterTuningJobObjective")
    rng = config(req).pop("ParameterRanges")
    req["TrainingJobDefinitions"] = [
        {**single, "DefinitionName": "xgb", "TuningObjective": objective, "HyperParameterRanges": rng}
    ]
    assert service(req) == []
    req["TrainingJobDefinitions"][0]["HyperParameterRanges"]["IntegerParameterRanges"][0]["MinValue"] = "x"
    (finding,) = [f for f in service(req) if f.rule == "AMT010"]
    assert finding.field.startswith(
        "TrainingJobDefinitions[0].HyperParameterRanges.IntegerParameterRanges[0]"
    )


# --- warm start against described parents


def warm_request(*parents: str) -> Request:
    req = base_request()
    _warm(req, list(parents))
    return req


def test_parents_that_are_missing_or_still_running_are_rejected() -> None:
    req = warm_request("p1", "p2")
    parents = {"p1": parent_description("p1", HyperParameterTuningJobStatus="InProgress")}
    found = [f for f in service(req, parents=parents) if f.rule == "AMT032"]
    assert {f.field for f in found} == {
        "WarmStartConfig.ParentHyperParameterTuningJobs[0].HyperParameterTuningJobName",
        "WarmStartConfig.ParentHyperParameterTuningJobs[1].HyperParameterTuningJobName",
    }
    assert any("InProgress" in f.message for f in found)
    assert any("does not exist" in f.message for f in found)
    ok = {
        "p1": parent_description("p1"),
        "P2": parent_description("P2", HyperParameterTuningJobStatus="Stopped"),
    }
    assert "AMT032" not in fired(req, parents=ok)


def test_parent_rules_are_silent_without_descriptions() -> None:
    assert service(warm_request("p1")) == []


def test_a_different_objective_than_the_parent_is_rejected() -> None:
    parent_req = base_request()
    config(parent_req)["HyperParameterTuningJobObjective"]["MetricName"] = "train:auc"
    assert "AMT033" in fired(warm_request("p1"), parents={"p1": parent_description("p1", parent_req)})
    assert "AMT033" not in fired(warm_request("p1"), parents={"p1": parent_description("p1")})


def test_a_changed_hyperparameter_set_or_type_is_rejected() -> None:
    parent_req = base_request()
    definition(parent_req)["StaticHyperParameters"]["gamma"] = "0"
    found = [f for f in service(warm_request("p1"), parents={"p1": parent_description("p1", parent_req)})]
    assert any(f.rule == "AMT034" and "missing: gamma" in f.message for f in found)

    parent_req = base_request()
    rng = ranges(parent_req)["IntegerParameterRanges"].pop()
    ranges(parent_req)["ContinuousParameterRanges"].append({**rng, "ScalingType": "Linear"})
    found = [f for f in service(warm_request("p1"), parents={"p1": parent_description("p1", parent_req)})]
    assert any(f.rule == "AMT034" and "max_depth" in f.message and "continuous" in f.message for f in found)

    # moving a hyperparameter from tunable to static keeps the set: no AMT034
    child = warm_request("p1")
    ranges(child)["IntegerParameterRanges"].clear()
    definition(child)["StaticHyperParameters"]["max_depth"] = "6"
    assert "AMT034" not in fired(child, parents={"p1": parent_description("p1")})


def test_more_than_ten_warm_start_changes_are_rejected() -> None:
    parent_req = base_request()
    definition(parent_req)["StaticHyperParameters"].update({f"s{i}": "1" for i in range(9)})
    ranges(parent_req)["CategoricalParameterRanges"][0]["Values"] = ["hist", "approx"]
    child = warm_request("p1")
    definition(child)["StaticHyperParameters"].update({f"s{i}": "2" for i in range(9)})  # 9 changes
    ranges(child).pop("CategoricalParameterRanges")
    definition(child)["StaticHyperParameters"]["tree_method"] = "hist"  # categorical of 2 values: 2 changes
    parents = {"p1": parent_description("p1", parent_req)}
    assert "AMT035" in fired(child, parents=parents)
    definition(child)["StaticHyperParameters"]["s0"] = "1"  # back to 10 changes
    assert "AMT035" not in fired(child, parents=parents)


def test_parents_jobs_count_against_the_750_limit() -> None:
    busy = parent_description("p1")
    busy["TrainingJobStatusCounters"] = {"Completed": 700, "Stopped": 21, "NonRetryableError": 0}
    req = warm_request("p1")
    assert "AMT036" in fired(req, parents={"p1": busy})
    busy["TrainingJobStatusCounters"] = {"Completed": 700, "Stopped": 20}
    assert "AMT036" not in fired(req, parents={"p1": busy})


@pytest.mark.parametrize(
    "request_value",
    [
        {},
        {"HyperParameterTuningJobConfig": []},
        {"HyperParameterTuningJobConfig": {"ParameterRanges": {"IntegerParameterRanges": ["x", None, 3]}}},
        {"TrainingJobDefinitions": "nope", "HyperParameterTuningJobConfig": {"Strategy": "Grid"}},
        {
            "TrainingJobDefinition": {
                "StaticHyperParameters": ["a"],
                "StoppingCondition": {"MaxRuntimeInSeconds": "x"},
            }
        },
        {
            "WarmStartConfig": "x",
            "HyperParameterTuningJobConfig": {"Strategy": "Hyperband", "StrategyConfig": 3},
        },
    ],
)
def test_malformed_requests_become_findings_not_exceptions(request_value: Request) -> None:
    found = service(request_value, parents={"x": {"HyperParameterTuningJobStatus": None}})
    assert any(f.rule == "AMT002" for f in found)


def test_absurdly_large_numbers_are_findings_with_short_messages() -> None:
    req = base_request()
    ranges(req)["IntegerParameterRanges"][0]["MaxValue"] = "1" + "0" * 400
    config(req)["ResourceLimits"]["MaxNumberOfTrainingJobs"] = 10**400
    definition(req)["StoppingCondition"]["MaxRuntimeInSeconds"] = 10**400
    found = service(req)
    assert {"AMT002", "AMT010", "AMT019"} <= {f.rule for f in found}
    assert all(len(f.message) < 300 for f in found)


def test_a_warm_start_environment_change_names_the_variables_never_their_values() -> None:
    parent_request = base_request()
    definition(parent_request)["Environment"] = {"DB_CONN": "old-conn-0042", "THREADS": "4"}
    req = base_request()
    definition(req)["Environment"] = {"DB_CONN": "new-conn-0042", "THREADS": "4", "EXTRA": "x-value-9"}
    req["WarmStartConfig"] = {
        "ParentHyperParameterTuningJobs": [{"HyperParameterTuningJobName": "p1"}],
        "WarmStartType": "TransferLearning",
    }
    found = service(req, parents={"p1": parent_description("p1", parent_request)})
    (f,) = [f for f in found if f.rule == "AMT037"]
    assert "DB_CONN, EXTRA" in f.message
    for value in ("old-conn-0042", "new-conn-0042", "x-value-9"):
        assert value not in f.message
