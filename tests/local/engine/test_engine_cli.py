"""``amtflow tune`` / ``jobs`` / ``describe`` on the fast analytic script."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest
from conftest import IMAGE, IMAGE_MAP, tuning_request

from amtflow.local.cli import main
from amtflow.local.cli_results import Progress, progress_line
from amtflow.profile import compile_tuning_request, load_profile


@pytest.fixture
def files(tmp_path: Path) -> tuple[Path, Path]:
    image_map = tmp_path / "image-map.yaml"
    image_map.write_text("".join(f'"{k}": "{v}"\n' for k, v in IMAGE_MAP.items()))
    data = tmp_path / "data" / "train"
    data.mkdir(parents=True)
    (data / "d.csv").write_text("5,5\n")
    request = tuning_request(
        "cli-1",
        **{
            "TrainingJobDefinition__StaticHyperParameters": {"epochs": "2", "data": "1"},
            "TrainingJobDefinition__InputDataConfig": [
                {
                    "ChannelName": "train",
                    "DataSource": {
                        "S3DataSource": {"S3DataType": "S3Prefix", "S3Uri": "s3://not-used/train/"}
                    },
                }
            ],
            "TrainingJobDefinition__OutputDataConfig__S3OutputPath": "s3://not-used/out",
        },
    )
    path = tmp_path / "request.json"
    path.write_text(json.dumps(request))
    return path, image_map


def test_tune_then_jobs_then_describe(
    files: tuple[Path, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    request, image_map = files
    state = tmp_path / "state"
    code = main(
        [
            "tune",
            str(request),
            "--state-dir",
            str(state),
            "--image-map",
            str(image_map),
            "--data",
            str(tmp_path / "data"),
        ]
    )
    out = capsys.readouterr().out
    assert code == 0, out
    assert "tuning job cli-1: Random search" in out
    assert "Completed  done 4/4 | running 0 | completed 4" in out
    assert "leaderboard (top 4 by loss):" in out
    # models went to the local output folder, never to S3
    assert len(list((state / "output").rglob("model.tar.gz"))) == 4

    assert main(["jobs", "--state-dir", str(state)]) == 0
    listing = capsys.readouterr().out
    assert listing.splitlines()[1].split()[:4] == ["cli-1", "Completed", "Random", "4"]

    assert main(["describe", "CLI-1", "--state-dir", str(state)]) == 0
    shown = capsys.readouterr().out
    assert "minimize loss" in shown
    assert "  1. " in shown

    assert main(["describe", "cli-1", "--json", "--state-dir", str(state)]) == 0
    captured = capsys.readouterr()
    assert json.loads(captured.out)["HyperParameterTuningJobStatus"] == "Completed"
    assert "--json is deprecated; use --format json" in captured.err

    assert main(["describe", "cli-1", "--format", "json", "--state-dir", str(state)]) == 0
    described = json.loads(capsys.readouterr().out)
    trials = described["TrainingJobSummaries"]
    assert len(trials) == 4
    values = [t["FinalHyperParameterTuningJobObjectiveMetric"]["Value"] for t in trials]
    assert values == sorted(values)  # best (lowest loss) first

    assert main(["describe", "cli-1", "--format", "csv", "--state-dir", str(state)]) == 0
    rows = list(csv.DictReader(io.StringIO(capsys.readouterr().out)))
    assert [r["rank"] for r in rows] == ["1", "2", "3", "4"]
    assert set(json.loads(rows[0]["hyperparameters"])) == {"x", "kind"}

    assert main(["jobs", "--format", "csv", "--state-dir", str(state)]) == 0
    (job,) = list(csv.DictReader(io.StringIO(capsys.readouterr().out)))
    assert (job["name"], job["status"], job["trials"]) == ("cli-1", "Completed", "4")


def test_image_map_from_the_environment(
    files: tuple[Path, Path],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    request, image_map = files
    monkeypatch.setenv("AMTFLOW_IMAGE_MAP", str(image_map))
    code = main(
        [
            "tune",
            str(request),
            "--state-dir",
            str(tmp_path / "s"),
            "--data",
            str(tmp_path / "data"),
            "--name",
            "cli-env",
        ]
    )
    assert code == 0, capsys.readouterr().out


def test_unmapped_image_and_unknown_job_are_clear_errors(
    files: tuple[Path, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    request, _ = files
    state = tmp_path / "state"
    code = main(["tune", str(request), "--state-dir", str(state), "--data", str(tmp_path / "data")])
    assert code == 2
    err = capsys.readouterr().err
    assert "ValidationException" in err
    assert "has no local command" in err
    assert "quad" in err
    assert "Traceback" not in err
    assert main(["describe", "ghost", "--state-dir", str(state)]) == 2
    assert "can't find a tuning job with name ghost" in capsys.readouterr().err
    assert main(["jobs", "--state-dir", str(tmp_path / "nowhere")]) == 2


def test_tune_jobs_and_describe_refuse_a_state_dir_a_running_service_holds(
    files: tuple[Path, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from amtflow.local.server import _own

    request, image_map = files
    state = tmp_path / "state"
    commands = [
        _tune_args(request, tmp_path, image_map),
        ["jobs", "--state-dir", str(state)],
        ["describe", "cli-1", "--state-dir", str(state)],
    ]
    with _own(state):  # what amtflow local serve holds while it runs
        for args in commands:
            assert main(args) == 2, args
            err = capsys.readouterr().err
            assert "amtflow local serve" in err
            assert str(state / "serve.lock") in err
            assert f"amtflow {args[0]}" in err
            assert "Traceback" not in err
    assert not list(state.glob("*/")), "nothing was created behind the service's back"
    assert main(["jobs", "--state-dir", str(state)]) == 0  # the service stopped: the directory is free


PROFILE = f"""\
schema: amtflow/v1
model: quad-cli
dataset:
  channels: {{train: text/csv}}
training:
  image: {IMAGE}
  instance_type: ml.m5.large
  max_runtime_s: 60
  metrics:
    - {{name: loss, regex: 'loss=([0-9.]+)'}}
  static_hyperparameters: {{epochs: 2, data: 1}}
tuning:
  strategy: Bayesian
  objective: {{metric: loss, goal: Minimize}}
  ranges:
    x: {{min: 0.0, max: 1.0}}
  limits: {{max_jobs: 6, max_parallel: 2}}
"""


def _tune_args(source: Path, tmp_path: Path, image_map: Path, *extra: str) -> list[str]:
    return [
        "tune",
        str(source),
        "--state-dir",
        str(tmp_path / "state"),
        "--image-map",
        str(image_map),
        "--data",
        str(tmp_path / "data"),
        *extra,
    ]


def test_tune_takes_a_trial_budget_and_strategy_for_a_profile(
    files: tuple[Path, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _, image_map = files
    profile = tmp_path / "profile.yaml"
    profile.write_text(PROFILE)
    args = _tune_args(profile, tmp_path, image_map, "--max-jobs", "2", "--max-parallel", "1")
    assert main([*args, "--strategy", "Random", "--format", "json"]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["strategy"] == "Random"
    assert sum(summary["counters"].values()) == 2
    assert len(summary["trials"]) == 2
    assert summary["trials"][0]["rank"] == 1


def test_a_budget_above_the_profile_is_refused_through_the_overrides_rules(
    files: tuple[Path, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _, image_map = files
    profile = tmp_path / "profile.yaml"
    profile.write_text(PROFILE)
    assert main(_tune_args(profile, tmp_path, image_map, "--max-jobs", "50")) == 2
    err = capsys.readouterr().err
    assert "overrides.tuning.limits.max_jobs" in err
    assert "above the stored profile's 6" in err
    assert "Traceback" not in err


def test_tune_overrides_a_request_budget(
    files: tuple[Path, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    request, image_map = files
    assert main(_tune_args(request, tmp_path, image_map, "--max-jobs", "1", "--format", "json")) == 0
    captured = capsys.readouterr()
    summary = json.loads(captured.out)
    assert summary["counters"]["Completed"] == 1
    assert "tuning job cli-1" in captured.err  # progress and notes on stderr with --format json


@pytest.mark.parametrize("kind", ["profile", "request"])
def test_running_the_same_tune_twice_takes_a_fresh_name(
    kind: str, files: tuple[Path, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    request, image_map = files
    source = request
    if kind == "profile":
        source = tmp_path / "profile.yaml"
        source.write_text(PROFILE)
    args = _tune_args(source, tmp_path, image_map, "--max-jobs", "1", "--max-parallel", "1")
    assert main(args) == 0
    first = capsys.readouterr().out
    assert main(args) == 0
    second = capsys.readouterr()
    assert "ResourceInUse" not in second.err
    name = first.split("tuning job ", 1)[1].split(":", 1)[0]
    renamed = second.out.split("tuning job ", 1)[1].split(":", 1)[0]
    assert renamed != name
    assert f"{name} already exists" in second.out
    assert main(["jobs", "--state-dir", str(tmp_path / "state"), "--format", "json"]) == 0
    assert {row["name"] for row in json.loads(capsys.readouterr().out)} == {name, renamed}


def test_a_taken_name_given_with_name_is_a_clear_error(
    files: tuple[Path, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    request, image_map = files
    args = _tune_args(request, tmp_path, image_map, "--max-jobs", "1", "--name", "mine")
    assert main(args) == 0
    capsys.readouterr()
    assert main(args) == 2
    err = capsys.readouterr().err
    assert "a tuning job named mine already exists" in err
    assert "--name" in err
    assert "Traceback" not in err


def test_a_job_whose_trials_cannot_read_their_data_is_not_blamed_on_the_metric(
    files: tuple[Path, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    request, image_map = files
    empty = tmp_path / "empty"
    empty.mkdir()
    code = main(_tune_args(request, tmp_path, image_map, "--data", str(empty)))
    assert code == 1
    out = capsys.readouterr().out
    assert "no trial reported the objective" not in out
    assert "no trial finished (4 failed; first failure: InputDataConfig[0]" in out
    assert "does not exist on this machine" in out


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_progress_is_one_line_rewritten_on_a_terminal_and_plain_lines_otherwise() -> None:
    describe = {
        "HyperParameterTuningJobStatus": "InProgress",
        "HyperParameterTuningJobConfig": {"ResourceLimits": {"MaxNumberOfTrainingJobs": 8}},
        "TrainingJobStatusCounters": {
            "Completed": 2,
            "InProgress": 2,
            "RetryableError": 0,
            "NonRetryableError": 1,
            "Stopped": 0,
        },
        "BestTrainingJob": {
            "TrainingJobName": "t-001",
            "FinalHyperParameterTuningJobObjectiveMetric": {"MetricName": "loss", "Value": 0.25},
        },
    }
    line = progress_line(describe, 12.5)
    assert "done 3/8 | running 2" in line
    assert "best loss=0.25 (t-001)" in line
    assert "12.5s" in line

    terminal = _Terminal()
    progress = Progress(terminal)
    progress.show(progress_line(describe, 1.0))
    progress.show(progress_line(describe, 2.0))
    progress.close()
    assert terminal.getvalue().count("\r") == 2
    assert terminal.getvalue().count("\n") == 1

    plain = io.StringIO()
    progress = Progress(plain)
    progress.show(progress_line(describe, 1.0))
    progress.show(progress_line(describe, 2.0))  # nothing changed but the time: no new line
    progress.close()
    assert "\r" not in plain.getvalue()
    assert plain.getvalue().count("\n") == 1


def test_profiles_import_from_a_local_job_compiles_back_to_its_request(
    files: tuple[Path, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    request, image_map = files
    assert main(_tune_args(request, tmp_path, image_map, "--max-jobs", "1", "--max-parallel", "1")) == 0
    capsys.readouterr()
    state = str(tmp_path / "state")
    argv = ["profiles", "import", "--from-job", "cli-1", "--state-dir", state, "--model", "quad"]
    assert main(argv) == 0
    profile = load_profile(capsys.readouterr().out)
    compiled = compile_tuning_request(
        profile,
        job_name="cli-1",
        data_uri="s3://not-used/",
        output_uri="s3://not-used/out/",
        role_arn="arn:aws:iam::123456789012:role/SageMakerRole",
    )
    original = json.loads(request.read_text())
    assert compiled["HyperParameterTuningJobConfig"]["ParameterRanges"] == {
        "ContinuousParameterRanges": [
            {"Name": "x", "MinValue": "0.0", "MaxValue": "1.0", "ScalingType": "Linear"}
        ],
        "CategoricalParameterRanges": [{"Name": "kind", "Values": ["a", "b"]}],
    }
    assert compiled["HyperParameterTuningJobConfig"]["ResourceLimits"]["MaxNumberOfTrainingJobs"] == 1
    assert (
        compiled["TrainingJobDefinition"]["StaticHyperParameters"]
        == original["TrainingJobDefinition"]["StaticHyperParameters"]
    )
    assert main(["profiles", "import", "--from-job", "ghost", "--state-dir", state]) == 2
    assert "ghost" in capsys.readouterr().err
