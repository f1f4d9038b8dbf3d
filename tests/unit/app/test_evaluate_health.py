"""EvaluateRun: the trials' training health joins the diagnosis; the notification shows it with its fix."""

from __future__ import annotations

from typing import Any

from test_evaluate_promotion import JOB, TUNING, Evidence, World, notification_text, plan

from amtflow.messages import Outcome

VALIDATION_REGEX = r"validation-auc:([0-9\.]+)"
TRAIN_REGEX = r"train-auc:([0-9\.]+)"


def describe() -> dict[str, Any]:
    return {
        "HyperParameterTuningJobName": JOB,
        "HyperParameterTuningJobStatus": "Completed",
        "HyperParameterTuningJobConfig": {
            "Strategy": "Random",
            "HyperParameterTuningJobObjective": {"Type": "Maximize", "MetricName": "validation:auc"},
            "ResourceLimits": {"MaxNumberOfTrainingJobs": 2, "MaxParallelTrainingJobs": 1},
        },
        "TrainingJobDefinition": {
            "AlgorithmSpecification": {
                "TrainingImage": "xgboost:1",
                "TrainingInputMode": "File",
                "MetricDefinitions": [
                    {"Name": "validation:auc", "Regex": VALIDATION_REGEX},
                    {"Name": "train:auc", "Regex": TRAIN_REGEX},
                ],
            },
            "StoppingCondition": {"MaxRuntimeInSeconds": 3600},
        },
    }


def summary(name: str, value: float, max_depth: str) -> dict[str, Any]:
    return {
        "TrainingJobName": name,
        "TrainingJobStatus": "Completed",
        "TunedHyperParameters": {"max_depth": max_depth},
        "FinalHyperParameterTuningJobObjectiveMetric": {"MetricName": "validation:auc", "Value": value},
    }


def log(train: list[float], validation: list[float]) -> list[str]:
    return [
        f"[{i}]\ttrain-auc:{t}\tvalidation-auc:{v}"
        for i, (t, v) in enumerate(zip(train, validation, strict=True))
    ]


TRAIN = [0.7, 0.8, 0.85, 0.9, 0.93, 0.95, 0.97, 0.98, 0.99]
IMPROVING = [0.7, 0.8, 0.85, 0.88, 0.9, 0.92, 0.93, 0.94, 0.95]
PEAKING = [0.7, 0.8, 0.86, 0.9, 0.92, 0.91, 0.9, 0.88, 0.86]


def test_an_overfitting_trial_is_in_the_diagnosis_and_the_notification_with_its_fix() -> None:
    world = World()
    world.data("v2", "sha256:v2")
    best, other = f"{JOB}-002-00000002", f"{JOB}-1"
    world.evidence = Evidence(
        describe=describe(), trials=[summary(best, 0.95, "4"), summary(other, 0.9, "10")]
    )
    world.logs[best] = log(TRAIN, IMPROVING)
    world.logs[other] = log(TRAIN, PEAKING)

    evaluation = world.run().evaluate(plan(), TUNING)

    assert evaluation.outcome is Outcome.SUCCEEDED  # a health finding informs, it does not block
    (finding,) = [f for f in evaluation.diagnosis if f.rule == "AMT301"]
    assert finding.severity == "warning"
    assert other in finding.message
    assert best not in finding.message
    assert "early stopping" in finding.fix
    text, _ = notification_text(evaluation, plan())
    assert "AMT301 TrainingJobDefinition.AlgorithmSpecification.MetricDefinitions[0].Regex: 1 of" in text
    assert other in text
    assert "fix: Add early stopping" in text
    assert "alpha/lambda" in text


def test_a_healthy_run_adds_nothing_to_the_notification() -> None:
    world = World()
    world.data("v2", "sha256:v2")
    best = f"{JOB}-002-00000002"
    world.evidence = Evidence(describe=describe(), trials=[summary(best, 0.95, "4")])
    world.logs[best] = log(TRAIN, IMPROVING)
    evaluation = world.run().evaluate(plan(), TUNING)
    assert evaluation.diagnosis == []
    text, _ = notification_text(evaluation, plan())
    assert "Diagnosis" not in text
