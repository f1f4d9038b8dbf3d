"""examples/mlp/train.py: per-epoch metric lines for Hyperband and early stopping, checkpoints, failures."""

from __future__ import annotations

import json
import pickle
import re
from pathlib import Path

import pytest
from example_support import EXAMPLES, MlDir, load_example_module, write_dataset

from amtflow.profile import load_profile_file

TRAIN = load_example_module("mlp/train.py")
PROFILE = load_profile_file(EXAMPLES / "mlp" / "profile.yaml")
REGEXES = {m.name: re.compile(m.regex) for m in PROFILE.training.metrics}
SMALL = {"hidden_units": "16", "batch_size": "32", "learning_rate_init": "0.01"}


def metric_values(stdout: str, name: str) -> list[float]:
    return [float(m.group(1)) for line in stdout.splitlines() if (m := REGEXES[name].search(line))]


def test_prints_one_line_per_epoch_that_the_profile_regexes_match(ml_dir: MlDir) -> None:
    write_dataset(ml_dir, "digits", max_rows=300)
    ml_dir.write_hyperparameters({**SMALL, "epochs": "4", "_tuning_objective_metric": "validation:loss"})

    result = ml_dir.run("mlp/train.py", "--activation", "tanh")

    assert result.returncode == 0, result.stderr
    epochs = [line for line in result.stdout.splitlines() if line.startswith("epoch=")]
    assert [line.split()[0] for line in epochs] == ["epoch=1", "epoch=2", "epoch=3", "epoch=4"]
    loss = metric_values(result.stdout, "validation:loss")
    accuracy = metric_values(result.stdout, "validation:accuracy")
    assert len(loss) == len(accuracy) == len(metric_values(result.stdout, "train:loss")) == 4
    assert loss[-1] < loss[0]  # it learns
    assert all(0 <= a <= 1 for a in accuracy)
    model = pickle.loads((ml_dir.model / "model.pkl").read_bytes())
    assert set(model) == {"scaler", "network"}
    metadata = json.loads((ml_dir.model / "metadata.json").read_text())
    assert metadata["epochs"] == 4
    assert metadata["hyperparameters"]["activation"] == "tanh"
    assert metadata["classes"] == list(range(10))


def test_sample_log_line_of_the_profile_is_what_the_script_prints() -> None:
    line = PROFILE.sample_log_lines[0]
    assert re.fullmatch(
        r"epoch=\d+ validation_loss=[0-9.]+ validation_accuracy=[0-9.]+ train_loss=[0-9.]+", line
    )


def test_more_epochs_continue_from_the_checkpoint(
    ml_dir: MlDir, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    write_dataset(ml_dir, "digits", max_rows=200)
    ml_dir.checkpoints.mkdir()
    ml_dir.write_hyperparameters({**SMALL, "epochs": "2"})
    assert ml_dir.run_in_process(TRAIN, monkeypatch=monkeypatch) == 0
    first = capsys.readouterr().out

    code = ml_dir.run_in_process(TRAIN, "--epochs", "4", monkeypatch=monkeypatch)

    out = capsys.readouterr().out
    assert code == 0
    assert "resuming from checkpoint after epoch 2" in out
    assert [line.split()[0] for line in out.splitlines() if line.startswith("epoch=")] == [
        "epoch=3",
        "epoch=4",
    ]
    assert metric_values(first, "validation:loss")[-1] > metric_values(out, "validation:loss")[-1]


def test_a_checkpoint_of_other_hyperparameters_is_not_reused(
    ml_dir: MlDir, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    write_dataset(ml_dir, "digits", max_rows=200)
    ml_dir.checkpoints.mkdir()
    ml_dir.write_hyperparameters({**SMALL, "epochs": "2"})
    assert ml_dir.run_in_process(TRAIN, monkeypatch=monkeypatch) == 0
    capsys.readouterr()

    code = ml_dir.run_in_process(TRAIN, "--alpha", "0.01", monkeypatch=monkeypatch)

    out = capsys.readouterr().out
    assert code == 0
    assert "resuming" not in out
    assert [line.split()[0] for line in out.splitlines() if line.startswith("epoch=")] == [
        "epoch=1",
        "epoch=2",
    ]


def test_bad_hyperparameters_fail_with_every_reason(ml_dir: MlDir, monkeypatch: pytest.MonkeyPatch) -> None:
    write_dataset(ml_dir, "digits", max_rows=100)
    ml_dir.write_hyperparameters(
        {"epochs": "0", "activation": "gelu", "hidden_units": "16.5", "dropout": "0.1"}
    )

    code = ml_dir.run_in_process(TRAIN, monkeypatch=monkeypatch)

    assert code != 0
    failure = ml_dir.failure.read_text()
    assert failure.startswith("ClientError:")
    assert "'epochs' must be an integer in [1, 20000], got '0'" in failure
    assert "'activation' must be one of relu, tanh, logistic, got 'gelu'" in failure
    assert "'hidden_units' must be an integer, got '16.5'" in failure
    assert "unknown hyperparameter 'dropout'" in failure
    assert not (ml_dir.model / "model.pkl").exists()


def test_labels_that_are_not_class_numbers_are_refused(
    ml_dir: MlDir, monkeypatch: pytest.MonkeyPatch
) -> None:
    for channel in ("train", "validation"):
        ml_dir.channel(channel).mkdir(parents=True)
        (ml_dir.channel(channel) / "data.csv").write_text("0.5,1,2\n1.5,3,4\n")
    ml_dir.write_hyperparameters({"epochs": "1"})

    code = ml_dir.run_in_process(TRAIN, monkeypatch=monkeypatch)

    assert code != 0
    assert "integer class labels" in ml_dir.failure.read_text()


def test_a_csv_with_a_header_is_refused_with_the_convention(
    ml_dir: MlDir, monkeypatch: pytest.MonkeyPatch
) -> None:
    for channel in ("train", "validation"):
        ml_dir.channel(channel).mkdir(parents=True)
        (ml_dir.channel(channel) / "data.csv").write_text("label,a,b\n0,1,2\n1,3,4\n")
    ml_dir.write_hyperparameters({"epochs": "1"})

    code = ml_dir.run_in_process(TRAIN, monkeypatch=monkeypatch)

    assert code != 0
    assert "not a numeric CSV without header (label in the first column)" in ml_dir.failure.read_text()


def test_integers_written_as_floats_are_accepted() -> None:
    hp = TRAIN.parse_hyperparameters({"hidden_units": "64.0", "epochs": "3"})
    assert (hp["hidden_units"], hp["epochs"]) == (64, 3)


@pytest.mark.parametrize(("seconds_per_epoch", "saved_after"), [(0.0, [3]), (11.0, [1, 2, 3])])
def test_checkpoints_are_saved_every_ten_seconds_and_after_the_last_epoch(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, seconds_per_epoch: float, saved_after: list[int]
) -> None:
    data = load_example_module("data.py").make_version("digits", seed=1, max_rows=100)
    saved: list[int] = []
    monkeypatch.setattr(TRAIN, "save_checkpoint", lambda _folder, state: saved.append(state.epoch))
    ticks = iter(range(100))
    hp = TRAIN.parse_hyperparameters({**SMALL, "epochs": "3"})

    TRAIN.train_epochs(
        hp,
        (data.x_train, data.y_train),
        (data.x_validation, data.y_validation),
        out=lambda _line: None,
        checkpoint_dir=tmp_path,
        clock=lambda: next(ticks) * seconds_per_epoch,
    )

    assert saved == saved_after


def test_a_stopped_job_ends_after_the_epoch_in_progress_and_still_writes_its_model(ml_dir: MlDir) -> None:
    # A tuning job's early stop is a SIGTERM; the model trained so far is what SageMaker uploads.
    write_dataset(ml_dir, "digits", max_rows=300)
    ml_dir.write_hyperparameters({**SMALL, "epochs": "20000"})

    code, out = ml_dir.run_and_stop("mlp/train.py", after="epoch=2 ")

    assert code == 0, out
    stopped = re.search(r"stop requested \(SIGTERM\): training ends after epoch (\d+)", out)
    assert stopped is not None, out
    epochs = int(stopped.group(1))
    assert 2 <= epochs < 20000
    assert json.loads((ml_dir.model / "metadata.json").read_text())["epochs"] == epochs
    assert set(pickle.loads((ml_dir.model / "model.pkl").read_bytes())) == {"scaler", "network"}
    assert not ml_dir.failure.exists()
