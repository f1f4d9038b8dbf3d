"""``amtflow tune`` / ``jobs`` / ``describe`` on the fast analytic script."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest import IMAGE_MAP, tuning_request

from amtflow.local.cli import main


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
    assert "Completed  running 0 | completed 4" in out
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
    assert json.loads(capsys.readouterr().out)["HyperParameterTuningJobStatus"] == "Completed"


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
