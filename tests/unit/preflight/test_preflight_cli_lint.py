"""``amtflow lint``: exit codes, text and JSON output, profiles and raw requests."""

from __future__ import annotations

import csv
import io
import json
import time
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import boto3
import botocore.session
import pytest
import yaml
from botocore.stub import Stubber
from botocore.validate import validate_parameters
from moto import mock_aws
from preflight_requests import base_request

from amtflow.errors import (
    AmtflowError,
    ConfigurationError,
    NotFoundError,
    TransientError,
)
from amtflow.local import cli_lint, cli_trial_logs
from amtflow.local.cli import main
from amtflow.profile import load_profile

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
    assert "assumes expected runtime 50% of MaxRuntimeInSeconds (no earlier runs known)" in out


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


def test_json_findings_of_a_profile_name_the_profile_key(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = lint(
        capsys, str(write(tmp_path, "p.yaml", PROFILE.replace("GOAL", "Minimize"))), "--format", "json"
    )
    assert code == 1
    (finding,) = json.loads(out)
    assert finding["rule"] == "AMT107"
    assert finding["profileKey"] == "tuning.objective.goal"
    assert finding["fix"].startswith("Set Type to Maximize")


def test_csv_findings_are_a_table_with_the_profile_key(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = lint(
        capsys, str(write(tmp_path, "p.yaml", PROFILE.replace("GOAL", "Minimize"))), "--format", "csv"
    )
    assert code == 1
    (row,) = list(csv.DictReader(io.StringIO(out)))
    assert row["rule"] == "AMT107"
    assert row["profileKey"] == "tuning.objective.goal"
    assert row["severity"] == "error"


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


# --- logs from elsewhere: a canary run, a previous trial ------------------------------------------------

STAND_IN = """\
import sys, time
args = sys.argv[1:]
mode = "{mode}"
if mode == "silent":
    sys.exit(0)
print("args " + " ".join(args), flush=True)
if mode == "fail":
    print("loading data", flush=True)
    sys.stderr.write("ValueError: could not convert string to float: 'abc'\\n")
    sys.exit(1)
for i in range(3):
    print(f"[{{i}}]\\ttrain-auc:0.9{{i}}\\t{metric}:0.8{{i}}", flush=True)
if mode == "slow":
    time.sleep(60)
"""


def canary_setup(tmp_path: Path, *, mode: str = "ok", metric: str = "validation-auc") -> dict[str, Path]:
    script = write(tmp_path, "train.py", STAND_IN.format(mode=mode, metric=metric))
    image_map = write(tmp_path, "images.yaml", f'churn-train: "{{python}} {script}"\n')
    data = tmp_path / "data"
    for channel in ("train", "validation"):
        (data / channel).mkdir(parents=True)
        (data / channel / "part-0.csv").write_text("1,0.5\n0,0.1\n", encoding="utf-8")
    profile = write(tmp_path, "p.yaml", PROFILE.replace("GOAL", "Maximize").split("sample_log_lines")[0])
    return {"profile": profile, "images": image_map, "data": data, "state": tmp_path / "canary"}


def canary_args(paths: Mapping[str, Path], *extra: str) -> list[str]:
    return [
        str(paths["profile"]),
        "--canary",
        "--data",
        str(paths["data"]),
        "--image-map",
        str(paths["images"]),
        "--canary-dir",
        str(paths["state"]),
        *extra,
    ]


def test_a_canary_runs_one_trial_with_static_and_mid_range_values_and_its_log_passes(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    paths = canary_setup(tmp_path)
    code, out, _ = lint(capsys, *canary_args(paths))
    assert code == 0, out
    assert "canary trial churn-xgb-canary-" in out
    assert ": Completed, 4 log line(s)" in out
    # eta in [0.01, 0.5] on a log scale -> sqrt(0.005); max_depth in [2, 10] -> 6; num_round is static
    assert "--eta 0.0707106781" in out
    assert "--max_depth 6" in out
    assert "--num_round 100" in out
    assert "no findings" in out


def test_a_canary_whose_log_the_objective_regex_misses_is_an_error_with_the_nearest_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    paths = canary_setup(tmp_path, metric="valid-auc")
    code, out, _ = lint(capsys, *canary_args(paths))
    assert code == 1
    assert "ERROR   AMT123" in out
    assert "matches none of the 4 line(s) of canary trial churn-xgb-canary-" in out
    assert "valid-auc:0.8" in out  # the nearest line is shown


def test_a_failing_canary_is_an_error_with_its_reason(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    paths = canary_setup(tmp_path, mode="fail")
    code, out, _ = lint(capsys, *canary_args(paths), "--format", "json")
    assert code == 1
    findings = json.loads(out)
    (failed,) = [f for f in findings if f["rule"] == "AMT126"]
    assert "could not convert string to float" in failed["message"]
    assert failed["severity"] == "error"


@pytest.mark.slow
def test_a_canary_runs_no_longer_than_its_cap_and_its_log_still_counts(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    paths = canary_setup(tmp_path, mode="slow")
    code, out, _ = lint(capsys, *canary_args(paths, "--canary-seconds", "3"))
    assert code == 0, out
    assert ": Stopped, 4 log line(s); MaxRuntimeExceeded" in out
    assert "no findings" in out


def test_a_canary_that_prints_nothing_is_a_warning_that_nothing_was_tested(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    paths = canary_setup(tmp_path, mode="silent")
    code, out, _ = lint(capsys, *canary_args(paths))
    assert code == 0
    assert ": Completed, 0 log line(s)" in out
    assert "WARNING AMT126" in out
    assert "the metric regexes were not tested" in out


def test_a_canary_needs_data_and_a_profile(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    paths = canary_setup(tmp_path)
    code, _, err = lint(capsys, str(paths["profile"]), "--canary")
    assert code == 2
    assert "--canary needs --data DIR" in err
    code, _, err = lint(capsys, *canary_args({**paths, "data": tmp_path / "missing"}))
    assert code == 2
    assert "is not a folder" in err
    request = write(tmp_path, "r.json", json.dumps(base_request()))
    code, _, err = lint(capsys, *canary_args({**paths, "profile": request}))
    assert code == 2
    assert "--canary runs profiles only" in err
    assert "Traceback" not in err


def test_an_unmapped_image_stops_the_canary_with_the_engines_reason(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    paths = canary_setup(tmp_path)
    paths["images"].write_text("other-image: python other.py\n", encoding="utf-8")
    code, _, err = lint(capsys, *canary_args(paths))
    assert code == 2
    assert "no local command" in err


def test_from_job_reads_a_training_jobs_log_from_the_engine_state(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    paths = canary_setup(tmp_path, metric="valid-auc")
    lint(capsys, *canary_args(paths))
    (job,) = [p.stem for p in (paths["state"] / "training-jobs").glob("*.json")]
    code, out, _ = lint(capsys, str(paths["profile"]), "--from-job", job, "--state-dir", str(paths["state"]))
    assert code == 1
    assert f"matches none of the 4 line(s) of trial log of {job}" in out
    code, _, err = lint(
        capsys, str(paths["profile"]), "--from-job", "nope", "--state-dir", str(paths["state"])
    )
    assert code == 2
    assert "no training or tuning job named nope" in err
    code, _, err = lint(
        capsys, str(paths["profile"]), "--from-job", job, "--state-dir", str(tmp_path / "none")
    )
    assert code == 2
    assert "--aws" in err


class FakeSource:
    def __init__(self, trials: list[dict[str, Any]] | None, logs: dict[str, list[str]]) -> None:
        self.trials, self.logs = trials, logs

    def trials_of(self, tuning_job: str) -> list[Mapping[str, Any]] | None:
        return list(self.trials) if self.trials is not None and tuning_job == "tj" else None

    def status_of(self, training_job: str) -> tuple[str, str] | None:
        return ("Completed", "") if training_job in self.logs else None

    def log(self, training_job: str) -> list[str]:
        return self.logs[training_job]


def test_a_tuning_jobs_finished_trial_is_read_completed_first() -> None:
    trials = [
        {"TrainingJobName": "t1", "TrainingJobStatus": "Failed"},
        {"TrainingJobName": "t2", "TrainingJobStatus": "InProgress"},
        {"TrainingJobName": "t3", "TrainingJobStatus": "Completed"},
        {"TrainingJobName": "t4", "TrainingJobStatus": "Stopped"},
    ]
    source = FakeSource(trials, {name: [name] for name in ("t1", "t2", "t3", "t4")})
    assert cli_lint.read_trial_log(source, "tj", where="here").job == "t3"
    only_running = FakeSource(trials[1:2], {"t2": []})
    with pytest.raises(cli_lint._Unreadable, match="no finished trial"):
        cli_lint.read_trial_log(only_running, "tj", where="here")


LOG_GROUP = "/aws/sagemaker/TrainingJobs"


@pytest.fixture
def aws_logs() -> Iterator[Any]:
    with mock_aws():
        logs = boto3.client("logs", region_name="us-east-1")
        now_ms = int(time.time() * 1000)  # CloudWatch refuses events older than 14 days
        logs.create_log_group(logGroupName=LOG_GROUP)
        logs.create_log_stream(logGroupName=LOG_GROUP, logStreamName="tj-002-abc/algo-1-1700000000")
        logs.put_log_events(
            logGroupName=LOG_GROUP,
            logStreamName="tj-002-abc/algo-1-1700000000",
            logEvents=[{"timestamp": now_ms + i, "message": f"epoch={i} valid-auc:0.8{i}"} for i in range(3)],
        )
        yield logs


def stubbed_sagemaker(tuning_job_exists: bool) -> tuple[Any, Stubber]:
    client = boto3.client("sagemaker", region_name="us-east-1")
    stub = Stubber(client)
    if tuning_job_exists:
        stub.add_response(
            "list_training_jobs_for_hyper_parameter_tuning_job",
            {
                "TrainingJobSummaries": [
                    {
                        "TrainingJobName": name,
                        "TrainingJobArn": f"arn:aws:sagemaker:us-east-1:123456789012:training-job/{name}",
                        "CreationTime": "2026-11-01T10:00:00Z",
                        "TrainingJobStatus": status,
                        "TunedHyperParameters": {"eta": "0.1"},
                    }
                    for name, status in (("tj-001-abc", "Failed"), ("tj-002-abc", "Completed"))
                ]
            },
            {"HyperParameterTuningJobName": "tj"},
        )
    else:
        stub.add_client_error(
            "list_training_jobs_for_hyper_parameter_tuning_job",
            "ResourceNotFound",
            "Amazon SageMaker can't find a tuning job with name tj-002-abc",
        )
    stub.add_response(
        "describe_training_job",
        {
            "TrainingJobName": "tj-002-abc",
            "TrainingJobArn": "arn:aws:sagemaker:us-east-1:123456789012:training-job/tj-002-abc",
            "ModelArtifacts": {"S3ModelArtifacts": "s3://b/m.tar.gz"},
            "TrainingJobStatus": "Completed",
            "SecondaryStatus": "Completed",
            "AlgorithmSpecification": {"TrainingInputMode": "File"},
            "ResourceConfig": {"InstanceType": "ml.m5.xlarge", "InstanceCount": 1, "VolumeSizeInGB": 30},
            "StoppingCondition": {"MaxRuntimeInSeconds": 3600},
            "CreationTime": "2026-11-01T10:00:00Z",
        },
        {"TrainingJobName": "tj-002-abc"},
    )
    stub.activate()
    return client, stub


@pytest.mark.parametrize("name", ["tj", "tj-002-abc"])
def test_from_job_reads_cloudwatch_logs_against_aws(
    aws_logs: Any,
    name: str,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    sagemaker, stub = stubbed_sagemaker(tuning_job_exists=name == "tj")
    monkeypatch.setattr("amtflow.clients.sagemaker", lambda: sagemaker)
    monkeypatch.setattr("amtflow.clients.logs", lambda: aws_logs)
    profile = write(tmp_path, "p.yaml", PROFILE.replace("GOAL", "Maximize"))
    code, out, err = lint(capsys, str(profile), "--from-job", name, "--aws")
    assert code == 1, out + err
    assert "trial log of tj-002-abc (AWS): Completed, 3 log line(s)" in out
    assert "matches none of the 3 line(s) of trial log of tj-002-abc (AWS)" in out
    assert "epoch=" in out
    stub.assert_no_pending_responses()


def test_an_unreadable_cloudwatch_log_exits_2_with_the_reason(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    with mock_aws():
        logs = boto3.client("logs", region_name="us-east-1")  # no log group: ResourceNotFoundException
        sagemaker, _ = stubbed_sagemaker(tuning_job_exists=False)
        monkeypatch.setattr("amtflow.clients.sagemaker", lambda: sagemaker)
        monkeypatch.setattr("amtflow.clients.logs", lambda: logs)
        profile = write(tmp_path, "p.yaml", PROFILE.replace("GOAL", "Maximize"))
        code, _, err = lint(capsys, str(profile), "--from-job", "tj-002-abc", "--aws")
    assert code == 2
    assert "cannot read the log of tj-002-abc from CloudWatch Logs" in err
    assert "Traceback" not in err


def test_from_job_reads_a_finished_trial_of_a_tuning_job_in_the_engine_state(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    paths = canary_setup(tmp_path, metric="valid-auc")
    small = (
        paths["profile"]
        .read_text(encoding="utf-8")
        .replace("max_jobs: 20, max_parallel: 2", "max_jobs: 2, max_parallel: 1")
    )
    profile = write(tmp_path, "small.yaml", small)
    state = tmp_path / "engine"
    tune = ["tune", str(profile), "--state-dir", str(state), "--image-map", str(paths["images"])]
    assert main([*tune, "--data", str(paths["data"]), "--name", "churn-local-1", "--max-workers", "1"]) == 0
    capsys.readouterr()
    code, out, _ = lint(capsys, str(profile), "--from-job", "churn-local-1", "--state-dir", str(state))
    assert code == 1
    assert "trial log of churn-local-1-00" in out
    assert "matches none of the 4 line(s) of trial log of churn-local-1-00" in out


def test_a_canary_request_is_a_capped_on_demand_trial_botocore_accepts() -> None:
    text = PROFILE.replace("GOAL", "Maximize").replace(
        "  max_runtime_s: 1800\n", "  max_runtime_s: 1800\n  spot: {enabled: true, max_wait_s: 3600}\n"
    )
    request = cli_lint.canary_request(
        load_profile(text),
        job_name="churn-xgb-canary-0a1b2c3d",
        data_uri="file:///data/",
        output_uri="file:///out/",
        max_seconds=60,
    )
    assert request["StoppingCondition"] == {"MaxRuntimeInSeconds": 60}
    assert "EnableManagedSpotTraining" not in request
    assert request["HyperParameters"]["_tuning_objective_metric"] == "validation:auc"
    assert request["HyperParameters"]["num_round"] == "100"
    assert request["HyperParameters"]["max_depth"] == "6"
    model = botocore.session.get_session().get_service_model("sagemaker")
    validate_parameters(request, model.operation_model("CreateTrainingJob").input_shape)


@pytest.mark.parametrize(
    ("code", "name", "found"),
    [
        ("ResourceNotFound", "tj-gone", False),
        ("ValidationException", "tj-gone", False),  # SageMaker's answer in practice, worded any way
        ("ValidationException", "tj_not_a_job_name", None),  # a malformed name: the refusal is reported
        ("AccessDeniedException", "tj-gone", None),
    ],
)
def test_a_missing_aws_job_is_recognised_by_the_answers_code_not_its_words(
    code: str, name: str, found: bool | None
) -> None:
    client = boto3.client("sagemaker", region_name="us-east-1")
    stub = Stubber(client)
    stub.add_client_error("list_training_jobs_for_hyper_parameter_tuning_job", code, "request refused")
    stub.add_client_error("describe_training_job", code, "request refused")
    stub.activate()
    logs = cli_lint.AwsTrialLogs(client, boto3.client("logs", region_name="us-east-1"))
    if found is None:
        with pytest.raises(AmtflowError, match="cannot list the trials"):
            logs.trials_of(name)
        with pytest.raises(AmtflowError, match="cannot describe"):
            logs.status_of(name)
    else:
        assert logs.trials_of(name) is None
        assert logs.status_of(name) is None


def test_a_trial_without_a_log_stream_is_read_as_no_lines(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    with mock_aws():
        logs = boto3.client("logs", region_name="us-east-1")
        logs.create_log_group(logGroupName=LOG_GROUP)  # the group exists; the job wrote no stream
        sagemaker, _ = stubbed_sagemaker(tuning_job_exists=False)
        monkeypatch.setattr("amtflow.clients.sagemaker", lambda: sagemaker)
        monkeypatch.setattr("amtflow.clients.logs", lambda: logs)
        profile = write(tmp_path, "p.yaml", PROFILE.replace("GOAL", "Maximize"))
        code, out, err = lint(capsys, str(profile), "--from-job", "tj-002-abc", "--aws")
    assert code == 0, out + err
    assert "trial log of tj-002-abc (AWS): Completed, 0 log line(s)" in out


def test_a_cloudwatch_log_is_every_instances_stream_in_name_order_up_to_the_limit(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(cli_trial_logs, "MAX_LOG_LINES", 4)
    with mock_aws():
        logs = boto3.client("logs", region_name="us-east-1")
        logs.create_log_group(logGroupName=LOG_GROUP)
        now_ms = int(time.time() * 1000)
        for stream in ("tj-002-abc/algo-2-1700000000", "tj-002-abc/algo-1-1700000000"):
            instance = stream.split("/")[1][:6]
            logs.create_log_stream(logGroupName=LOG_GROUP, logStreamName=stream)
            logs.put_log_events(
                logGroupName=LOG_GROUP,
                logStreamName=stream,
                logEvents=[{"timestamp": now_ms + i, "message": f"{instance} {i}"} for i in range(3)],
            )
        reader = cli_lint.AwsTrialLogs(boto3.client("sagemaker", region_name="us-east-1"), logs)
        assert reader.log("tj-002-abc") == ["algo-1 0", "algo-1 1", "algo-1 2", "algo-2 0"]


@pytest.mark.parametrize(
    ("code", "error"),
    [
        ("ThrottlingException", TransientError),
        ("AccessDeniedException", ConfigurationError),
        ("ResourceNotFoundException", NotFoundError),  # no log group: AWS's answer, not a missing stream
    ],
)
def test_a_refused_cloudwatch_read_is_unreadable_and_keeps_its_typed_cause(
    code: str, error: type[AmtflowError]
) -> None:
    logs = boto3.client("logs", region_name="us-east-1")
    stub = Stubber(logs)
    stub.add_client_error("describe_log_streams", code, "request refused")
    stub.activate()
    reader = cli_lint.AwsTrialLogs(boto3.client("sagemaker", region_name="us-east-1"), logs)
    with pytest.raises(cli_lint._Unreadable, match="cannot read the log of tj-002-abc") as raised:
        reader.log("tj-002-abc")
    assert type(raised.value.__cause__) is error


MULTI_PROFILE = """\
schema: amtflow/v1
model: churn-multi
dataset:
  channels: {train: text/csv, validation: text/csv}
tuning:
  strategy: Random
  objective: {metric: "validation:auc", goal: Maximize}
  limits: {max_jobs: 20, max_parallel: 2, max_runtime_s: 7200}
algorithms:
  - name: xgb
    image: 123456789012.dkr.ecr.us-east-1.amazonaws.com/churn-train:1
    instance_type: ml.m5.xlarge
    max_runtime_s: 1800
    metrics:
      - {name: "validation:auc", regex: 'validation-auc:([0-9\\.]+)'}
    static_hyperparameters: {num_round: 100}
    ranges:
      max_depth: {min: 2, max: 10}
  - name: mlp
    image: 123456789012.dkr.ecr.us-east-1.amazonaws.com/churn-mlp:1
    instance_type: ml.m5.xlarge
    max_runtime_s: 1800
    metrics:
      - {name: "validation:auc", regex: 'val_auc=([0-9\\.]+)'}
    static_hyperparameters: {epochs: 3}
    ranges:
      hidden: {min: 8, max: 32}
budget: {max_usd_per_run: 10, max_usd_per_month: 50}
"""


def multi_canary_setup(tmp_path: Path, *, mlp_mode: str = "ok") -> dict[str, Path]:
    paths = canary_setup(tmp_path)
    script = write(tmp_path, "mlp.py", STAND_IN.format(mode=mlp_mode, metric="x").replace("\\t", " "))
    script.write_text(script.read_text().replace("x:0.8{i}", "val_auc=0.7{i}"), encoding="utf-8")
    images = paths["images"].read_text() + f'churn-mlp: "{{python}} {script}"\n'
    paths["images"].write_text(images, encoding="utf-8")
    paths["profile"] = write(tmp_path, "multi.yaml", MULTI_PROFILE)
    return paths


def test_a_multi_algorithm_canary_runs_one_trial_per_algorithm_with_its_own_ranges(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    paths = multi_canary_setup(tmp_path)
    code, out, _ = lint(capsys, *canary_args(paths))
    assert code == 0, out
    assert "canary trial churn-multi-xgb-canary-" in out
    assert "canary trial churn-multi-mlp-canary-" in out
    assert out.count(": Completed, 4 log line(s)") == 2
    # each algorithm gets its own static hyperparameters and the middle of its own ranges
    assert "args --num_round 100 --max_depth 6\n" in out
    assert "args --epochs 3 --hidden 20\n" in out
    assert "no findings" in out


def test_a_failing_canary_of_one_algorithm_is_an_error_naming_its_definition(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    paths = multi_canary_setup(tmp_path, mlp_mode="fail")
    code, out, _ = lint(capsys, *canary_args(paths), "--format", "json")
    assert code == 1
    (failed,) = [f for f in json.loads(out) if f["rule"] == "AMT126"]
    assert failed["field"] == "TrainingJobDefinitions[1]"
    assert "churn-multi-mlp-canary-" in failed["message"]
    assert "could not convert string to float" in failed["message"]


def test_lint_reports_a_field_error_and_cross_section_problems_of_a_profile_at_once(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    text = (
        PROFILE.replace("GOAL", "Maximize")
        .replace("instance_type: ml.m5.xlarge", "instance_type: ml.m5.xlarge\n  instance_count: many")
        .replace('objective: {metric: "validation:auc"', 'objective: {metric: "validation:f1"')
        .replace(
            "static_hyperparameters: {num_round: 100}", "static_hyperparameters: {num_round: 100, eta: 1}"
        )
    )
    code, _, err = lint(capsys, str(write(tmp_path, "p.yaml", text)))
    assert code == 2
    assert "(3 problems)" in err
    assert "training.instance_count:" in err
    assert "tuning.objective.metric: 'validation:f1' is not among training.metrics" in err
    assert "tuning.ranges.eta: also set in training.static_hyperparameters" in err
