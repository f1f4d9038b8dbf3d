"""Multi-algorithm tuning jobs (TrainingJobDefinitions) in the local engine."""

from __future__ import annotations

import copy
from typing import Any

import pytest
from botocore.exceptions import ClientError
from conftest import IMAGE, Harness

from amtflow.local.engine._multi import DEFINITION_KEY, make_multi_strategy
from amtflow.local.engine._strategies import Decision


def multi_request(harness: Harness, name: str = "multi-1", **config: Any) -> dict[str, Any]:
    """Two definitions of the quad script: 'left' tunes x (kind a), 'right' tunes y (kind c, +1.0 loss),
    so every 'left' trial beats every 'right' one."""
    req = harness.request(name)
    single = req.pop("TrainingJobDefinition")
    tuning = req["HyperParameterTuningJobConfig"]
    objective = tuning.pop("HyperParameterTuningJobObjective")
    tuning.pop("ParameterRanges")
    tuning["ResourceLimits"] = {"MaxNumberOfTrainingJobs": 6, "MaxParallelTrainingJobs": 2}
    tuning.update(config)

    def definition(def_name: str, hp: str, kind: str, image: str) -> dict[str, Any]:
        out = copy.deepcopy(single)
        out["DefinitionName"] = def_name
        out["TuningObjective"] = objective
        out["StaticHyperParameters"] = {"epochs": "2", "kind": kind}
        out["AlgorithmSpecification"]["TrainingImage"] = image
        out["HyperParameterRanges"] = {
            "ContinuousParameterRanges": [
                {"Name": hp, "MinValue": "0", "MaxValue": "1", "ScalingType": "Linear"}
            ]
        }
        return out

    req["TrainingJobDefinitions"] = [
        definition("left", "x", "a", IMAGE),
        definition("right", "y", "c", IMAGE.replace(":1", ":2")),
    ]
    return req


def test_a_multi_algorithm_job_runs_every_definition_and_picks_the_best_across_them(
    harness: Harness,
) -> None:
    described = harness.run(multi_request(harness))
    assert described["HyperParameterTuningJobStatus"] == "Completed"
    shown = described["TrainingJobDefinitions"]
    assert [d["DefinitionName"] for d in shown] == ["left", "right"]
    assert shown[0]["StaticHyperParameters"]["_tuning_objective_metric"] == "loss"
    assert "TrainingJobDefinition" not in described
    trials = harness.trials("multi-1")
    assert len(trials) == 6
    by_definition = {t["TrainingJobName"]: t["TrainingJobDefinitionName"] for t in trials}
    assert sorted(by_definition.values()) == ["left"] * 3 + ["right"] * 3  # Random: they take turns
    for t in trials:
        own = {"left": "x", "right": "y"}[t["TrainingJobDefinitionName"]]
        assert set(t["TunedHyperParameters"]) == {own}
        job = harness.sm.describe_training_job(TrainingJobName=t["TrainingJobName"])
        image = job["AlgorithmSpecification"]["TrainingImage"]
        assert image.endswith(":1" if own == "x" else ":2")
        assert job["HyperParameters"]["kind"] == ("a" if own == "x" else "c")
    best = described["BestTrainingJob"]
    assert best["TrainingJobDefinitionName"] == "left"
    values = [t["FinalHyperParameterTuningJobObjectiveMetric"]["Value"] for t in trials]
    assert best["FinalHyperParameterTuningJobObjectiveMetric"]["Value"] == min(values)


def test_a_multi_algorithm_jobs_events_carry_its_definitions_as_describe_does(harness: Harness) -> None:
    harness.run(multi_request(harness))
    harness.engine.events.flush()
    details = [
        e["detail"]
        for e in harness.events
        if e["detail-type"] == "SageMaker HyperParameter Tuning Job State Change"
    ]
    assert [d["HyperParameterTuningJobStatus"] for d in details][-1] == "Completed"
    for detail in details:
        assert "TrainingJobDefinition" not in detail
        assert [d["DefinitionName"] for d in detail["TrainingJobDefinitions"]] == ["left", "right"]
        assert detail["TrainingJobDefinitions"][1]["StaticHyperParameters"]["kind"] == "c"


def test_a_single_algorithm_jobs_events_carry_its_one_definition(harness: Harness) -> None:
    harness.run(harness.request("single-1"))
    harness.engine.events.flush()
    details = [
        e["detail"]
        for e in harness.events
        if e["detail-type"] == "SageMaker HyperParameter Tuning Job State Change"
    ]
    assert details
    for detail in details:
        assert "TrainingJobDefinitions" not in detail
        assert detail["TrainingJobDefinition"]["AlgorithmSpecification"]["TrainingImage"] == IMAGE


@pytest.mark.parametrize(
    ("change", "needle"),
    [
        (lambda r: r["TrainingJobDefinitions"][1].update(DefinitionName="LEFT"), "also the name"),
        (
            lambda r: r["HyperParameterTuningJobConfig"].update(TrainingJobEarlyStoppingType="Auto"),
            "early stopping",
        ),
        (
            lambda r: r["HyperParameterTuningJobConfig"].update(
                ParameterRanges=r["TrainingJobDefinitions"][0]["HyperParameterRanges"]
            ),
            "move the ranges into the definitions",
        ),
        (
            lambda r: r["TrainingJobDefinitions"][1].update(
                TuningObjective={"Type": "Maximize", "MetricName": "loss"}
            ),
            "mix Maximize and Minimize",
        ),
        (
            lambda r: r["TrainingJobDefinitions"][1]["AlgorithmSpecification"].update(
                MetricDefinitions=[{"Name": "other", "Regex": "other=([0-9.]+)"}]
            ),
            "MetricDefinitions",
        ),
    ],
)
def test_invalid_multi_algorithm_requests_are_refused_naming_the_field(
    harness: Harness, change: Any, needle: str
) -> None:
    req = multi_request(harness)
    change(req)
    with pytest.raises(ClientError) as info:
        harness.sm.create_hyper_parameter_tuning_job(**req)
    assert info.value.response["Error"]["Code"] == "ValidationException"
    assert needle in info.value.response["Error"]["Message"]
    assert harness.sm.list_hyper_parameter_tuning_jobs()["HyperParameterTuningJobSummaries"] == []


def _definitions(kind: str = "Continuous") -> list[dict[str, Any]]:
    def ranges(name: str) -> dict[str, Any]:
        if kind == "Categorical":
            return {"CategoricalParameterRanges": [{"Name": name, "Values": ["1", "2"]}]}
        return {"ContinuousParameterRanges": [{"Name": name, "MinValue": "0", "MaxValue": "1"}]}

    return [{"DefinitionName": n, "HyperParameterRanges": ranges(n)} for n in ("a", "b", "c")]


def _config(strategy: str) -> dict[str, Any]:
    return {"Strategy": strategy, "HyperParameterTuningJobObjective": {"Type": "Minimize", "MetricName": "m"}}


def test_bayesian_favours_the_best_definition_after_each_has_had_its_warm_up_trials() -> None:
    strategy = make_multi_strategy(_config("Bayesian"), _definitions(), seed=3)
    chosen = []
    for _ in range(21):
        config = strategy.suggest()
        assert config is not None
        name = str(config[DEFINITION_KEY])
        chosen.append(name)
        strategy.on_result(config, {"a": 5.0, "b": 1.0, "c": 9.0}[name] + float(config[name]))
    assert sorted(chosen[:9]) == ["a"] * 3 + ["b"] * 3 + ["c"] * 3
    later = chosen[9:]
    assert later.count("b") == 8  # two of every three
    assert {"a", "c"} <= set(later)  # the others are still explored


def test_grid_runs_every_definition_grid_once_and_then_ends() -> None:
    strategy = make_multi_strategy(_config("Grid"), _definitions("Categorical"), seed=1)
    assert strategy.size == 6
    seen = []
    while (config := strategy.suggest()) is not None:
        seen.append((config[DEFINITION_KEY], dict(config)))
    assert len(seen) == 6
    assert sorted(n for n, _ in seen) == ["a", "a", "b", "b", "c", "c"]


def test_hyperband_compares_a_trial_only_with_trials_of_its_own_definition() -> None:
    config = {**_config("Hyperband"), "StrategyConfig": {"HyperbandStrategyConfig": {"MinResource": 1}}}
    definitions = [dict(d, StaticHyperParameters={"epochs": "9"}) for d in _definitions()[:2]]
    strategy = make_multi_strategy(config, definitions, seed=5)
    rungs = {name: s.rungs(0) for name, s in strategy.strategies.items()}  # type: ignore[attr-defined]
    assert rungs == {"a": [1, 3], "b": [1, 3]}
    for name, s in strategy.strategies.items():  # every trial in bracket 0: first rung at 1 epoch
        s.assign_bracket(f"{name}-good", 0)  # type: ignore[attr-defined]
        s.assign_bracket(f"{name}-bad", 0)  # type: ignore[attr-defined]
    for trial, definition in (("a-good", "a"), ("b-good", "b"), ("a-bad", "a"), ("b-bad", "b")):
        strategy.on_trial_start(trial, {DEFINITION_KEY: definition, definition: 0.5})
    # 'a' trials report small values, 'b' trials large ones: each is judged within its own definition
    assert strategy.on_report("a-good", 1, 0.1) is Decision.CONTINUE
    assert strategy.on_report("b-good", 1, 5.0) is Decision.CONTINUE  # first at its rung for 'b'
    assert strategy.on_report("a-bad", 1, 0.9) is Decision.STOP
    assert strategy.on_report("b-bad", 1, 9.0) is Decision.STOP
    assert strategy.on_report("unknown", 1, 0.0) is Decision.CONTINUE
