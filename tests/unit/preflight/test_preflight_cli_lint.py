"""``amtflow lint``: exit codes, text and JSON output, profiles and raw requests."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from preflight_requests import base_request

from amtflow.local.cli import main

PROFILE = """\
schema: amtflow/v1
model: churn-xgb
dataset:
  channels: {train: text/csv, validation: text/csv}
training:
  image: 123456789012.dkr.ecr.us-east-1.amazonaws.com/churn-train:1
  instance_type: ml.m5.xlarge
  max_runtime_s: 1800
  metrics:
    - {name: "validation:auc", regex: 'validation-auc:([0-9\\.]+)'}
  static_hyperparameters: {num_round: 100}
tuning:
  strategy: Bayesian
  objective: {metric: "validation:auc", goal: GOAL}
  ranges:
    eta: {min: 0.01, max: 0.5, scaling: log}
    max_depth: {min: 2, max: 10}
  limits: {max_jobs: 20, max_parallel: 2, max_runtime_s: 7200}
budget: {max_usd_per_run: 10, max_usd_per_month: 50}
sample_log_lines:
  - "[0]\\ttrain-auc:0.9\\tvalidation-auc:0.88"
"""


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def lint(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(["lint", *argv])
    out, err = capsys.readouterr()
    return code, out, err


def test_a_clean_profile_exits_0_and_shows_the_cost(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = lint(capsys, str(write(tmp_path, "p.yaml", PROFILE.replace("GOAL", "Maximize"))))
    assert code == 0
    assert "no findings" in out
    assert "cost: expected $" in out


def test_an_error_finding_exits_1_with_a_readable_report(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = lint(capsys, str(write(tmp_path, "p.yaml", PROFILE.replace("GOAL", "Minimize"))))
    assert code == 1
    assert "ERROR   AMT107  HyperParameterTuningJobConfig.HyperParameterTuningJobObjective.Type" in out
    assert "fix: Set Type to Maximize" in out
    assert "1 error(s)" in out


def test_json_output_is_a_list_of_findings(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    req = base_request()
    req["HyperParameterTuningJobName"] = "bad_name"
    req["HyperParameterTuningJobConfig"]["ResourceLimits"]["MaxParallelTrainingJobs"] = 20
    code, out, _ = lint(capsys, str(write(tmp_path, "r.json", json.dumps(req))), "--format", "json")
    assert code == 1
    findings = json.loads(out)
    assert isinstance(findings, list)
    assert {"AMT001", "AMT007", "AMT101"} <= {f["rule"] for f in findings}
    for f in findings:
        assert set(f) == {"rule", "severity", "field", "message", "why", "fix"}
    assert findings[0]["severity"] == "error"
    assert findings[-1]["severity"] == "warning"


def test_a_raw_request_in_yaml_with_only_warnings_exits_0(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    req = base_request()
    req["HyperParameterTuningJobConfig"]["ResourceLimits"]["MaxParallelTrainingJobs"] = 10
    code, out, _ = lint(capsys, str(write(tmp_path, "r.yaml", yaml.safe_dump(req))))
    assert code == 0
    assert "WARNING AMT101" in out


def test_sample_logs_from_files_are_checked(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    log = write(tmp_path, "trial.log", "epoch 1\nvalid_auc=0.91\n")
    req = write(tmp_path, "r.json", json.dumps(base_request()))
    code, out, _ = lint(capsys, str(req), "--sample-log", str(log))
    assert code == 1
    assert "AMT123" in out
    assert "valid_auc=0.91" in out


@pytest.mark.parametrize(
    ("name", "text", "reason"),
    [
        ("missing.yaml", None, "cannot read"),
        ("bad.json", '{"HyperParameterTuningJobName": ', "not valid JSON"),
        ("bad.yaml", "a: [1, 2\nb: c", "not valid YAML"),
        ("list.yaml", "- 1\n- 2\n", "holds a list, not a mapping"),
        ("p.yaml", PROFILE.replace("GOAL", "Sideways"), "not a valid profile"),
    ],
)
def test_unreadable_input_exits_2_with_the_reason(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], name: str, text: str | None, reason: str
) -> None:
    path = tmp_path / name if text is None else write(tmp_path, name, text)
    code, out, err = lint(capsys, str(path))
    assert code == 2
    assert out == ""
    assert reason in err
    assert "Traceback" not in err


def test_an_invalid_profile_names_the_key(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _, _, err = lint(capsys, str(write(tmp_path, "p.yaml", PROFILE.replace("GOAL", "Sideways"))))
    assert "tuning.objective.goal" in err


def test_month_to_date_spend_is_checked_against_the_profiles_cap(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = str(write(tmp_path, "p.yaml", PROFILE.replace("GOAL", "Maximize")))
    code, out, _ = lint(capsys, path, "--month-to-date-usd", "49.9")
    assert code == 1
    assert "AMT204" in out
