"""Training health after a run (AMT301-AMT304): the pure judgements on synthetic series, the series reader,
the bounds on what is read, and the findings through ``diagnose``."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any, overload

import pytest
from preflight_requests import base_request, parent_description

from amtflow.preflight import Finding, Severity, diagnose
from amtflow.preflight._health import MAX_LINES_PER_TRIAL, MAX_TRIALS_EXAMINED, choose_trials, collect_health
from amtflow.preflight._health_series import (
    MIN_POINTS,
    Degeneracy,
    degenerate,
    metric_series,
    not_improving,
    overfitting,
    series_regex,
    slow_trials,
    train_metric,
)

# ----------------------------------------------------------------------------- synthetic series (pure rules)

DECREASING = [1.0, 0.8, 0.6, 0.5, 0.4, 0.35, 0.3, 0.27, 0.25]
U_SHAPED = [1.0, 0.7, 0.5, 0.4, 0.38, 0.42, 0.5, 0.6, 0.7]  # validation loss: best at epoch 5, then worse


def test_overfitting_is_train_improving_while_the_objective_worsens_at_the_end() -> None:
    sign = overfitting(DECREASING, U_SHAPED, train_maximize=False, objective_maximize=False)
    assert sign is not None
    assert (sign.best, sign.last) == (0.38, 0.7)
    # maximised metrics (AUC): train AUC rising, validation AUC falling at the end
    train_auc = [0.7, 0.8, 0.85, 0.9, 0.93, 0.95, 0.97, 0.98, 0.99]
    val_auc = [0.7, 0.78, 0.82, 0.84, 0.85, 0.84, 0.82, 0.8, 0.78]
    assert overfitting(train_auc, val_auc, train_maximize=True, objective_maximize=True) is not None


def test_no_overfitting_when_both_improve_or_the_dip_is_noise() -> None:
    assert overfitting(DECREASING, DECREASING, train_maximize=False, objective_maximize=False) is None
    # early stopping's last rounds: validation a hair worse than its best, far below 10% of its span
    noisy = [0.9, 0.95, 0.97, 0.98, 0.981, 0.9808, 0.9807, 0.9806, 0.9805]
    rising = [0.9, 0.95, 0.97, 0.98, 0.985, 0.99, 0.992, 0.994, 0.996]
    assert overfitting(rising, noisy, train_maximize=True, objective_maximize=True) is None
    # the train metric worsening too is not overfitting
    assert overfitting(U_SHAPED, U_SHAPED, train_maximize=False, objective_maximize=False) is None
    # too short to judge
    assert overfitting(DECREASING[:3], U_SHAPED[-3:], train_maximize=False, objective_maximize=False) is None


def test_a_loss_that_does_not_decrease_is_flagged() -> None:
    flat_ish = [0.6931, 0.6932, 0.6931, 0.6933, 0.6932, 0.6931, 0.6932, 0.6933]
    stall = not_improving(flat_ish, maximize=False)
    assert stall is not None
    assert stall.last == pytest.approx(0.69320, abs=1e-4)
    rising = [0.5, 0.6, 0.7, 0.8, 0.9, 1.0]
    assert not_improving(rising, maximize=False) is not None
    assert not_improving(rising, maximize=True) is None  # an AUC rising is progress


def test_a_loss_that_decreases_is_not_flagged() -> None:
    assert not_improving(DECREASING, maximize=False) is None
    assert not_improving(U_SHAPED, maximize=False) is None  # it did improve (overfitting is AMT301's)
    assert not_improving([0.5] * 8, maximize=False) is None  # constant is AMT303's
    assert not_improving([1.0] * 8, maximize=True) is None  # saturated: nothing left to improve
    assert not_improving([1.0, 0.9], maximize=False) is None  # too short


def test_constant_and_non_finite_series_are_degenerate() -> None:
    assert degenerate([0.5] * MIN_POINTS) is Degeneracy.CONSTANT
    assert degenerate([0.5, float("nan")]) is Degeneracy.NON_FINITE
    assert degenerate([0.5, 0.4, float("inf")]) is Degeneracy.NON_FINITE


def test_moving_or_short_series_are_not_degenerate() -> None:
    assert degenerate(DECREASING) is None
    assert degenerate([0.5] * (MIN_POINTS - 1)) is None
    assert degenerate([1.0] * 20) is None  # a train AUC saturated at 1: a perfect fit
    assert degenerate([0.0] * 20) is None  # a train error of 0
    assert degenerate([]) is None


def test_a_trial_far_slower_than_the_median_is_slow() -> None:
    durations = {"a": 100.0, "b": 110.0, "c": 95.0, "d": 105.0, "e": 900.0}
    (slow,) = slow_trials(durations)
    assert slow.name == "e"
    assert slow.median_seconds == 105.0
    assert slow.ratio > 8
    assert not slow.per_step


def test_peers_of_similar_speed_or_too_few_peers_are_not_slow() -> None:
    assert slow_trials({"a": 100.0, "b": 110.0, "c": 95.0, "d": 250.0}) == []  # 2.4x: under the factor
    assert slow_trials({"a": 10.0, "b": 11.0, "c": 9.0, "d": 60.0}) == []  # 6x but only 50 s more
    assert slow_trials({"a": 100.0, "b": 110.0, "e": 900.0}) == []  # three trials: no meaningful median


def test_more_epochs_are_not_slowness_but_slow_epochs_are() -> None:
    durations = {"a": 100.0, "b": 110.0, "c": 95.0, "d": 105.0, "e": 900.0}
    # e ran 30 epochs where the others ran 3 (Hyperband): the same time per epoch
    assert slow_trials(durations, {"a": 3, "b": 3, "c": 3, "d": 3, "e": 30}) == []
    (slow,) = slow_trials(durations, {"a": 3, "b": 3, "c": 3, "d": 3, "e": 3})
    assert slow.per_step


def test_the_train_metric_is_the_objective_s_training_counterpart() -> None:
    assert train_metric("validation:auc", ["validation:auc", "train:auc"]) == "train:auc"
    mlp = ["validation:loss", "validation:accuracy", "train:loss"]
    assert train_metric("validation:loss", mlp) == "train:loss"
    assert train_metric("validation:loss", ["validation:loss", "train:accuracy"]) == "train:accuracy"
    assert train_metric("validation:loss", ["validation:loss", "trainer:steps"]) is None
    assert train_metric("validation:loss", ["validation:loss", "train:speed"]) is None  # direction unknown


# ----------------------------------------------------------------------------------------- the series reader


def test_the_series_reader_applies_every_regex_to_every_line_in_order() -> None:
    regexes = [
        r
        for r in (
            series_regex("validation:auc", r"validation-auc:([0-9\.]+)"),
            series_regex("train:auc", r"train-auc:([0-9\.]+)"),
        )
        if r is not None
    ]
    lines = [
        "[0]\ttrain-auc:0.81\tvalidation-auc:0.78",
        "noise",
        "[1]\ttrain-auc:0.85\tvalidation-auc:nan",
        "[2]\ttrain-auc:inf\tvalidation-auc:0.80",
    ]
    series = metric_series(lines, regexes)
    assert series["train:auc"][:2] == [0.81, 0.85]
    assert series["train:auc"][2] == float("inf")  # caught by the nan/inf probe: [0-9.]+ takes no "inf"
    assert series["validation:auc"][0] == 0.78
    assert str(series["validation:auc"][1]) == "nan"
    assert series["validation:auc"][2] == 0.80


def test_a_regex_that_does_not_compile_or_captures_nothing_reads_no_series() -> None:
    assert series_regex("m", "loss=([0-9") is None
    assert series_regex("m", "loss=[0-9]+") is None


# --------------------------------------------------------------------------------------- through diagnose

NAME = "churn-xgb-2026-11"


def describe() -> dict[str, Any]:
    return parent_description(NAME, base_request())


def trial(i: int, value: float | None = 0.8, seconds: int | None = None, **hps: str) -> dict[str, Any]:
    job: dict[str, Any] = {
        "TrainingJobName": f"{NAME}-{i:03d}-abcdef12",
        "TrainingJobArn": f"arn:aws:sagemaker:us-east-1:123456789012:training-job/t{i}",
        "CreationTime": "2026-11-01T10:00:00+00:00",
        "TrainingJobStatus": "Completed",
        "TunedHyperParameters": {"eta": "0.1", "max_depth": "5", **hps},
    }
    if value is not None:
        job["FinalHyperParameterTuningJobObjectiveMetric"] = {"MetricName": "validation:auc", "Value": value}
    if seconds is not None:
        job["TrainingStartTime"] = "2026-11-01T10:00:00+00:00"
        job["TrainingEndTime"] = (
            f"2026-11-01T{10 + seconds // 3600:02d}:{seconds % 3600 // 60:02d}:{seconds % 60:02d}+00:00"
        )
    return job


def xgb_log(train: Sequence[float], validation: Sequence[float]) -> list[str]:
    return [
        f"[{i}]\ttrain-auc:{t}\tvalidation-auc:{v}"
        for i, (t, v) in enumerate(zip(train, validation, strict=True))
    ]


HEALTHY = xgb_log(
    [0.7, 0.8, 0.85, 0.9, 0.93, 0.95, 0.97, 0.98, 0.99], [0.7, 0.76, 0.8, 0.83, 0.85, 0.86, 0.87, 0.875, 0.88]
)
OVERFIT = xgb_log(
    [0.7, 0.8, 0.85, 0.9, 0.93, 0.95, 0.97, 0.98, 0.99], [0.7, 0.78, 0.82, 0.84, 0.85, 0.84, 0.82, 0.8, 0.78]
)


def by_rule(findings: list[Finding], rule_id: str) -> list[Finding]:
    return [f for f in findings if f.rule == rule_id]


def test_a_healthy_run_raises_no_health_finding() -> None:
    jobs = [trial(i, 0.8 + i / 100, seconds=100 + i) for i in range(1, 6)]
    found = diagnose(describe(), jobs, lambda name: HEALTHY)
    assert [f for f in found if f.rule.startswith("AMT3")] == []


def test_overfitting_trials_are_named_with_the_fix() -> None:
    jobs = [trial(1, 0.85), trial(2, 0.84), trial(3, 0.83, max_depth="10")]
    logs = {jobs[0]["TrainingJobName"]: HEALTHY}
    found = diagnose(describe(), jobs, lambda name: logs.get(name, OVERFIT))
    (f,) = by_rule(found, "AMT301")
    assert f.severity is Severity.WARNING
    assert f"{NAME}-002-abcdef12" in f.message
    assert f"{NAME}-003-abcdef12" in f.message
    assert f"{NAME}-001-abcdef12" not in f.message
    assert "2 of the 3 trial(s) examined" in f.message
    assert "train:auc" in f.message
    assert "0.85" in f.message
    assert "0.78" in f.message
    assert "early stopping" in f.fix
    assert "alpha/lambda" in f.fix
    assert "max_depth" in f.fix
    assert f.field.endswith("MetricDefinitions[0].Regex")


def test_a_stalled_objective_is_named_with_its_hyperparameters() -> None:
    stuck = xgb_log([0.5] * 3 + [0.51, 0.5, 0.52, 0.5, 0.51], [0.5, 0.51, 0.5, 0.5, 0.51, 0.5, 0.5, 0.505])
    jobs = [trial(1, 0.88), trial(2, 0.5, eta="0.0001")]
    logs = {jobs[0]["TrainingJobName"]: HEALTHY}
    found = by_rule(diagnose(describe(), jobs, lambda name: logs.get(name, stuck)), "AMT302")
    (objective,) = [f for f in found if "validation:auc" in f.message]
    assert f"{NAME}-002-abcdef12" in objective.message
    assert "eta=0.0001" in objective.message
    assert "learning rate" in objective.fix


def test_nan_values_the_regex_cannot_capture_are_reported() -> None:
    diverged = [*HEALTHY[:4], "[4]\ttrain-auc:nan\tvalidation-auc:nan"]
    (f,) = by_rule(diagnose(describe(), [trial(1, eta="0.9")], lambda name: diverged), "AMT303")
    assert f.field.endswith("MetricDefinitions[0].Regex")  # the objective's
    assert "nan/inf values" in f.message
    assert f"validation:auc in 1 ({NAME}-001-abcdef12)" in f.message
    assert f"train:auc in 1 ({NAME}-001-abcdef12)" in f.message
    assert "eta=0.9" in f.message
    assert "learning rate" in f.fix


def test_a_constant_metric_is_reported() -> None:
    flat = xgb_log([0.5] * 8, [0.5] * 8)
    (f,) = by_rule(diagnose(describe(), [trial(1)], lambda name: flat), "AMT303")
    assert "stayed constant" in f.message
    assert "validation:auc in 1" in f.message
    assert "train:auc in 1" in f.message
    assert "AMT302" not in {f.rule for f in diagnose(describe(), [trial(1)], lambda name: flat)}


def test_a_runaway_trial_is_named_with_its_hyperparameters() -> None:
    jobs = [trial(i, 0.8, seconds=100 + i) for i in range(1, 5)]
    jobs.append(trial(5, 0.8, seconds=1200, max_depth="10"))
    (f,) = by_rule(diagnose(describe(), jobs, lambda name: ()), "AMT304")
    assert f"{NAME}-005-abcdef12" in f.message
    assert "1200 s" in f.message
    assert "max_depth=10" in f.message
    assert f.field == "TrainingJobDefinition.StoppingCondition.MaxRuntimeInSeconds"
    assert "MaxRuntimeInSeconds" in f.fix


# ----------------------------------------------------------------------------------------------- the bounds


class HugeLog(Sequence[str]):
    """A log of a billion lines that counts the lines taken from it."""

    def __init__(self) -> None:
        self.taken = 0

    def __len__(self) -> int:
        return 1_000_000_000

    @overload
    def __getitem__(self, index: int) -> str: ...

    @overload
    def __getitem__(self, index: slice) -> Sequence[str]: ...

    def __getitem__(self, index: int | slice) -> str | Sequence[str]:
        if isinstance(index, slice):
            raise AssertionError("the whole log was sliced")
        return f"[{index}]\ttrain-auc:0.9\tvalidation-auc:0.8"

    def __iter__(self) -> Iterator[str]:
        for i in range(len(self)):
            self.taken += 1
            yield self[i]


def test_a_huge_log_is_read_bounded() -> None:
    log = HugeLog()
    evidence = collect_health(describe(), [trial(1)], lambda name: log)
    assert evidence is not None
    assert log.taken <= MAX_LINES_PER_TRIAL + 1
    (examined,) = evidence.trials
    assert examined.lines_read == MAX_LINES_PER_TRIAL
    assert len(examined.series["validation:auc"]) == MAX_LINES_PER_TRIAL


def test_at_most_the_bounded_number_of_trials_is_read_best_first() -> None:
    jobs = [trial(i, value=i / 100, seconds=100 + (i % 7)) for i in range(1, 41)]
    read: list[str] = []

    def reader(name: str) -> list[str]:
        read.append(name)
        return HEALTHY

    evidence = collect_health(describe(), jobs, reader)
    assert evidence is not None
    assert len(read) == MAX_TRIALS_EXAMINED
    assert read[:3] == [f"{NAME}-{i:03d}-abcdef12" for i in (40, 39, 38)]  # Maximize: the best first
    assert evidence.candidates == 40
    assert set(evidence.durations) == {j["TrainingJobName"] for j in jobs}  # durations of every trial
    # the same choice on a retried evaluation
    assert [j["TrainingJobName"] for j in choose_trials(jobs, maximize=True)] == read


def test_reading_stops_at_the_time_budget_and_skips_unreadable_logs() -> None:
    jobs = [trial(i, value=i / 10) for i in range(1, 6)]
    ticks = iter(range(100))
    evidence = collect_health(
        describe(), jobs, lambda name: HEALTHY, budget_seconds=2.5, clock=lambda: float(next(ticks))
    )
    assert evidence is not None
    assert len(evidence.trials) == 2
    assert len(evidence.unread) == 3

    def broken(name: str) -> list[str]:
        raise FileNotFoundError(name)

    evidence = collect_health(describe(), jobs, broken)
    assert evidence is not None
    assert evidence.trials == ()
    assert len(evidence.unread) == 5


def test_trials_that_reported_no_objective_are_not_read() -> None:
    read: list[str] = []
    collect_health(describe(), [trial(1, value=None)], lambda name: read.append(name) or ())
    assert read == []


@pytest.mark.parametrize("objective", ["", "unknown:metric"])
def test_no_health_evidence_without_an_objective_definition(objective: str) -> None:
    d = describe()
    d["HyperParameterTuningJobConfig"]["HyperParameterTuningJobObjective"]["MetricName"] = objective
    assert collect_health(d, [trial(1)], lambda name: HEALTHY) is None
