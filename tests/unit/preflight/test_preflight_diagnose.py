"""Diagnosis of finished tuning jobs, each on a crafted Describe response and trial list."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from preflight_requests import base_request, parent_description

from amtflow.preflight import Finding, LintContext, Severity, diagnose, run_rules

LOG_OK = ["[0]\ttrain-auc:0.81\tvalidation-auc:0.78", "[1]\ttrain-auc:0.85\tvalidation-auc:0.80"]
LOG_RENAMED = ["[0]\ttrain-auc:0.81\tvalid-auc:0.78", "[1]\ttrain-auc:0.85\tvalid-auc:0.80"]


def describe(**overrides: Any) -> dict[str, Any]:
    return parent_description("churn-xgb-2026-11", base_request(), **overrides)


def trial(i: int, status: str = "Completed", value: float | None = None, **extra: Any) -> dict[str, Any]:
    job: dict[str, Any] = {
        "TrainingJobName": f"churn-xgb-2026-11-{i:03d}-abcdef12",
        "TrainingJobArn": f"arn:aws:sagemaker:us-east-1:123456789012:training-job/t{i}",
        "CreationTime": f"2026-11-01T10:{i:02d}:00+00:00",
        "TrainingJobStatus": status,
        "TunedHyperParameters": {"eta": "0.1", "max_depth": "5", "subsample": "0.8", "tree_method": '"hist"'},
    }
    if value is not None:
        job["FinalHyperParameterTuningJobObjectiveMetric"] = {"MetricName": "validation:auc", "Value": value}
    job.update(extra)
    return job


def logs_of(lines: Sequence[str]) -> Any:
    read: list[str] = []

    def reader(name: str) -> list[str]:
        read.append(name)
        return list(lines)

    reader.read = read  # type: ignore[attr-defined]
    return reader


def rules(findings: list[Finding]) -> set[str]:
    return {f.rule for f in findings}


def test_a_healthy_run_has_no_diagnosis() -> None:
    jobs = [trial(1, value=0.8), trial(2, value=0.83), trial(3, value=0.81), trial(4, value=0.79)]
    assert diagnose(describe(), jobs, logs_of(LOG_OK)) == []


def test_empty_leaderboard_reads_a_trial_log_and_shows_the_nearest_line() -> None:
    jobs = [trial(1), trial(2, status="Stopped")]
    reader = logs_of(LOG_RENAMED)
    found = diagnose(describe(), jobs, reader)
    (objective,) = [f for f in found if f.rule == "AMT401" and f.is_error]
    assert reader.read == ["churn-xgb-2026-11-001-abcdef12"]
    assert "validation-auc:" in objective.message
    assert "valid-auc:0.8" in objective.message or "valid-auc:0.78" in objective.message
    assert objective.field.endswith("MetricDefinitions[0].Regex")
    # the other metric matched: no finding about it
    assert all("train:auc" not in f.message for f in found)


def test_empty_leaderboard_with_a_matching_regex_says_the_capture_is_the_problem() -> None:
    req = base_request()
    req["TrainingJobDefinition"]["AlgorithmSpecification"]["MetricDefinitions"][0]["Regex"] = (
        r"validation-auc:(\S*)x"
    )
    found = diagnose(parent_description("j", req), [trial(1)], logs_of(["validation-auc:nanx"]))
    (f,) = [f for f in found if f.rule == "AMT401" and f.is_error]
    assert "captured 'nan'" in f.message


def test_an_unreadable_log_is_reported_not_raised() -> None:
    def broken(name: str) -> list[str]:
        raise FileNotFoundError(name)

    (f,) = [f for f in diagnose(describe(), [trial(1)], broken) if f.rule == "AMT401"]
    assert "could not be read" in f.message
    assert "FileNotFoundError" in f.message


def test_all_trials_failed_groups_the_reasons() -> None:
    jobs = [
        trial(1, "Failed", FailureReason="AlgorithmError: ModuleNotFoundError: No module named 'lightgbm'"),
        trial(2, "Failed", FailureReason="AlgorithmError: ModuleNotFoundError: No module named 'lightgbm'"),
        trial(3, "Failed", FailureReason="ClientError: Data download failed"),
    ]
    found = diagnose(describe(), jobs, logs_of([]))
    (f,) = [f for f in found if f.rule == "AMT402"]
    assert f.severity is Severity.ERROR
    assert "all 3 trials failed" in f.message
    assert f.message.index("2 x AlgorithmError") < f.message.index("1 x ClientError")
    assert "AMT401" not in rules(found)
    assert "AMT402" not in rules(diagnose(describe(), [*jobs, trial(4, value=0.7)], logs_of(LOG_OK)))


def test_best_value_at_a_bound_suggests_widening() -> None:
    best = trial(2, value=0.9)
    best["TunedHyperParameters"]["max_depth"] = "10"
    best["TunedHyperParameters"]["eta"] = "0.0102"  # log scale: within 2% of 0.01
    d = describe(BestTrainingJob=best)
    found = [f for f in diagnose(d, [trial(1, value=0.8), best], logs_of(LOG_OK)) if f.rule == "AMT403"]
    assert {f.field.rsplit(".", 1)[-1] for f in found} == {"MaxValue", "MinValue"}
    assert any("max_depth = 10" in f.message and "upper" in f.message for f in found)
    assert any("eta" in f.message and "lower" in f.message for f in found)

    inner = trial(2, value=0.9)
    assert "AMT403" not in rules(diagnose(describe(BestTrainingJob=inner), [inner], logs_of(LOG_OK)))


def test_best_job_is_found_from_the_trials_when_describe_lacks_it() -> None:
    low = trial(1, value=0.6)
    low["TunedHyperParameters"]["max_depth"] = "2"
    high = trial(2, value=0.9)
    found = [f for f in diagnose(describe(), [low, high], logs_of(LOG_OK)) if f.rule == "AMT403"]
    assert found == []  # the best (0.9) is inside the range; the boundary trial is the worst


def test_a_bayesian_job_that_ran_fully_parallel_is_flagged() -> None:
    jobs = [
        trial(
            i,
            value=0.8,
            TrainingStartTime=f"2026-11-01T10:0{i}:00Z",
            TrainingEndTime=f"2026-11-01T11:0{i}:00Z",
        )
        for i in range(1, 4)
    ]
    (f,) = [f for f in diagnose(describe(), jobs, logs_of(LOG_OK)) if f.rule == "AMT404"]
    assert "all 3 trials" in f.message
    sequential = [
        trial(
            i,
            value=0.8,
            TrainingStartTime=f"2026-11-01T1{i}:00:00Z",
            TrainingEndTime=f"2026-11-01T1{i}:30:00Z",
        )
        for i in range(1, 5)
    ]
    assert "AMT404" not in rules(diagnose(describe(), sequential, logs_of(LOG_OK)))
    # without timestamps, a parallelism limit at least the number of trials decides
    assert "AMT404" in rules(
        diagnose(describe(), [trial(1, value=0.8), trial(2, value=0.7)], logs_of(LOG_OK))
    )
    random = describe()
    random["HyperParameterTuningJobConfig"]["Strategy"] = "Random"
    assert "AMT404" not in rules(diagnose(random, jobs, logs_of(LOG_OK)))


def test_diagnosis_rules_are_silent_in_a_pre_launch_lint() -> None:
    assert run_rules(LintContext(request=base_request()), tags={"diagnosis"}) == []


DB_PASSWORD = "hunter2-Sup3r-Secret"


def describe_with_environment() -> dict[str, Any]:
    req = base_request()
    req["TrainingJobDefinition"]["Environment"] = {"DB_PASSWORD": DB_PASSWORD}
    return parent_description("churn-xgb-2026-11", req)


def test_a_megabyte_log_line_is_quoted_cut_and_on_one_line() -> None:
    huge = "[0]\ttrain-auc:0.81\tvalid-auc:0.78 " + "x" * 1_000_000
    found = diagnose(describe(), [trial(1)], logs_of([huge, f"{huge}\nsecond line"]))
    (objective,) = [f for f in found if f.rule == "AMT401" and f.is_error]
    assert "valid-auc:0.78" in objective.message
    assert len(objective.message) < 1000
    assert "…" in objective.message
    assert "\n" not in objective.message

    matching = "[0]\ttrain-auc:0.81\tvalidation-auc:0.78 " + "x" * 1_000_000
    found = diagnose(describe(), [trial(1)], logs_of([matching]))
    (objective,) = [f for f in found if f.rule == "AMT401" and f.is_error]
    assert "validation-auc:0.78" in objective.message
    assert len(objective.message) < 1000


def test_quoted_log_lines_and_failure_reasons_carry_no_secret() -> None:
    line = f"[0]\tvalid-auc:0.78 connecting with {DB_PASSWORD} key AKIAIOSFODNN7EXAMPLE"
    found = diagnose(describe_with_environment(), [trial(1)], logs_of([line]))
    (objective,) = [f for f in found if f.rule == "AMT401" and f.is_error]
    assert "valid-auc:0.78" in objective.message
    assert DB_PASSWORD not in objective.message
    assert "AKIAIOSFODNN7EXAMPLE" not in objective.message

    reason = f"AlgorithmError: login failed for password={DB_PASSWORD} (ASIAY34FZKBOKMUTVV7A)"
    failed = diagnose(describe_with_environment(), [trial(1, "Failed", FailureReason=reason)], logs_of([]))
    (f,) = [f for f in failed if f.rule == "AMT402"]
    assert "login failed for password=***" in f.message
    assert DB_PASSWORD not in f.message
    assert "ASIAY34FZKBOKMUTVV7A" not in f.message


def test_an_unreadable_log_s_error_is_quoted_bounded() -> None:
    def broken(name: str) -> list[str]:
        raise OSError("token=abcdef0123 " + "y" * 100_000)

    (f,) = [f for f in diagnose(describe(), [trial(1)], broken) if f.rule == "AMT401"]
    assert "abcdef0123" not in f.message
    assert len(f.message) < 1000
