"""The median early-stopping rule and the completion criteria, on hand-computed cases."""

from __future__ import annotations

import pytest

from amtflow.local.engine import CompletionReason, CompletionTracker, Decision, MedianStoppingRule


def finished(rule: MedianStoppingRule, trial: str, values: list[float]) -> None:
    for step, v in enumerate(values, start=1):
        rule.on_report(trial, step, v)
    rule.on_trial_end(trial)


def test_median_rule_on_a_hand_computed_case() -> None:
    rule = MedianStoppingRule(maximize=False)
    finished(rule, "a", [1.0, 0.8, 0.6])  # running averages: 1.0, 0.9, 0.8
    finished(rule, "b", [2.0, 1.0, 0.9])  # 2.0, 1.5, 1.3
    finished(rule, "c", [0.5, 0.5, 0.5])  # 0.5, 0.5, 0.5
    # medians of the running averages: step 1 -> 1.0, step 2 -> 0.9, step 3 -> 0.8
    assert rule.median_at(1) == 1.0
    assert rule.median_at(2) == pytest.approx(0.9)
    assert rule.median_at(3) == pytest.approx(0.8)
    # trial d: step 1 value 0.9 <= 1.0 continue; step 2 value 1.0 > 0.9 stop
    assert rule.on_report("d", 1, 0.9) is Decision.CONTINUE
    assert rule.on_report("d", 2, 1.0) is Decision.STOP
    # trial e: value at step 2 is exactly the median 0.9 -> not worse -> continue
    assert rule.on_report("e", 1, 1.0) is Decision.CONTINUE
    assert rule.on_report("e", 2, 0.9) is Decision.CONTINUE
    # trial f: its current value is what counts, not its own running average: at step 2 its value 0.85
    # beats the median 0.9 although its average (0.99 + 0.85) / 2 = 0.92 does not
    assert rule.on_report("f", 1, 0.99) is Decision.CONTINUE
    assert rule.on_report("f", 2, 0.85) is Decision.CONTINUE
    # at step 3 a value of 0.81 is worse than the median 0.8
    assert rule.on_report("f", 3, 0.81) is Decision.STOP


def test_median_rule_maximising_stops_the_lower_trial() -> None:
    rule = MedianStoppingRule(maximize=True)
    for name, v in (("a", 0.7), ("b", 0.8), ("c", 0.9)):
        finished(rule, name, [v, v])
    assert rule.on_report("d", 1, 0.75) is Decision.STOP  # 0.75 < median 0.8
    assert rule.on_report("e", 1, 0.85) is Decision.CONTINUE


def test_median_rule_waits_for_enough_finished_trials() -> None:
    rule = MedianStoppingRule(maximize=False)
    finished(rule, "a", [0.1])
    finished(rule, "b", [0.1])
    assert rule.on_report("c", 1, 100.0) is Decision.CONTINUE  # only 2 finished trials reached step 1
    # a step no finished trial reached never stops
    finished(rule, "d", [0.1])
    assert rule.on_report("e", 1, 0.1) is Decision.CONTINUE
    assert rule.on_report("e", 2, 100.0) is Decision.CONTINUE


def test_slow_start_aware_rule_compares_values_at_the_same_step() -> None:
    rule = MedianStoppingRule.slow_start_aware(maximize=False)
    finished(rule, "a", [1.0, 0.4, 0.4])
    finished(rule, "b", [2.0, 0.6, 0.6])
    finished(rule, "c", [0.5, 0.5, 0.5])
    # values at step 2: 0.4, 0.6, 0.5 -> median 0.5 (the running averages' median would be 0.7)
    assert rule.median_at(2) == pytest.approx(0.5)
    assert rule.on_report("d", 1, 9.0) is Decision.CONTINUE  # never at the first value
    assert rule.on_report("d", 2, 9.0) is Decision.STOP  # no improvement to credit: 9.0 > 0.5


def test_slow_start_aware_rule_credits_a_trial_still_improving_fast() -> None:
    rule = MedianStoppingRule.slow_start_aware(maximize=False)
    for name in ("a", "b", "c"):
        finished(rule, name, [0.5, 0.4, 0.35, 0.33])
    # a slow starter: 0.9 then 0.6 at step 2 (median 0.4); credited with its last gain 0.3 -> 0.3: continues
    assert rule.on_report("slow", 1, 0.9) is Decision.CONTINUE
    assert rule.on_report("slow", 2, 0.6) is Decision.CONTINUE
    # at step 3 it gains 0.2 -> 0.4 - 0.2 = 0.2 <= median 0.35: continues
    assert rule.on_report("slow", 3, 0.4) is Decision.CONTINUE
    # at step 4 it stalls: 0.39 - 0.01 = 0.38 > median 0.33: stopped
    assert rule.on_report("slow", 4, 0.39) is Decision.STOP
    # a trial just as far behind but on a plateau gets no credit
    assert rule.on_report("flat", 1, 0.6) is Decision.CONTINUE
    assert rule.on_report("flat", 2, 0.6) is Decision.STOP


def test_slow_start_aware_rule_maximising_credits_a_rising_trial() -> None:
    rule = MedianStoppingRule.slow_start_aware(maximize=True)
    for name in ("a", "b", "c"):
        finished(rule, name, [0.8, 0.85])
    assert rule.on_report("rising", 1, 0.5) is Decision.CONTINUE
    assert rule.on_report("rising", 2, 0.7) is Decision.CONTINUE  # 0.7 + 0.2 = 0.9 >= median 0.85
    assert rule.on_report("falling", 1, 0.8) is Decision.CONTINUE
    assert rule.on_report("falling", 2, 0.75) is Decision.STOP  # no credit for getting worse


def test_target_objective_value() -> None:
    t = CompletionTracker(maximize=True, criteria={"TargetObjectiveMetricValue": 0.9})
    assert t.observe(0.85) is None
    assert t.observe(0.9) is CompletionReason.TARGET_REACHED
    low = CompletionTracker(maximize=False, criteria={"TargetObjectiveMetricValue": 0.1})
    assert low.observe(0.2) is None
    assert low.observe(0.05) is CompletionReason.TARGET_REACHED


def test_best_objective_not_improving_uses_the_one_percent_rule() -> None:
    t = CompletionTracker(
        maximize=False, criteria={"BestObjectiveNotImproving": {"MaxNumberOfTrainingJobsNotImproving": 3}}
    )
    assert t.observe(1.0) is None
    assert t.observe(0.995) is None  # better, but by 0.5% -> not an improvement (count 1)
    assert t.not_improving == 1
    assert t.best == 0.995
    assert t.observe(0.95) is None  # 4.5% better than 0.995 -> improvement, count resets
    assert t.not_improving == 0
    assert t.observe(2.0) is None
    assert t.observe(0.949) is None
    assert t.observe(0.96) is CompletionReason.NOT_IMPROVING
    assert t.not_improving == 3


def test_failed_trials_do_not_count_as_not_improving() -> None:
    t = CompletionTracker(
        maximize=True, criteria={"BestObjectiveNotImproving": {"MaxNumberOfTrainingJobsNotImproving": 3}}
    )
    t.observe(0.5)
    for _ in range(5):
        assert t.observe(None) is None
    assert t.not_improving == 0


def test_convergence_detected_after_a_flat_window() -> None:
    t = CompletionTracker(
        maximize=False, criteria={"ConvergenceDetected": {"CompleteOnConvergence": "Enabled"}}
    )
    reasons = [t.observe(10.0 / (i + 1)) for i in range(10)]  # steady improvement
    assert all(r is None for r in reasons)
    # 20 trials finished and the last 10 brought no improvement of 1% -> converged on the 10th flat one
    flat = [t.observe(5.0) for _ in range(10)]
    assert flat[:-1] == [None] * 9
    assert flat[-1] is CompletionReason.CONVERGED
    disabled = CompletionTracker(
        maximize=False, criteria={"ConvergenceDetected": {"CompleteOnConvergence": "Disabled"}}
    )
    assert all(disabled.observe(1.0) is None for _ in range(40))
