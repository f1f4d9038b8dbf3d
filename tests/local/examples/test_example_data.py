"""examples/data.py: deterministic dataset versions with moderate and severe drift."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from example_support import load_example_module
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

DATA = load_example_module("data.py")


def max_psi(base: np.ndarray, new: np.ndarray) -> float:
    """Largest per-feature PSI (10 quantile bins of the base), computed independently of data.py."""
    scores = []
    for j in range(base.shape[1]):
        if base[:, j].std() == 0:
            continue
        edges = np.unique(np.quantile(base[:, j], np.linspace(0.1, 0.9, 9)))
        b = np.bincount(np.searchsorted(edges, base[:, j], side="right"), minlength=len(edges) + 1) / len(
            base
        )
        n = np.bincount(np.searchsorted(edges, new[:, j], side="right"), minlength=len(edges) + 1) / len(new)
        b, n = np.clip(b, 1e-4, None), np.clip(n, 1e-4, None)
        scores.append(float(np.sum((n - b) * np.log(n / b))))
    return max(scores)


def test_writes_label_first_csv_channels_without_header(tmp_path: Path) -> None:
    assert DATA.main(["--dataset", "breast_cancer", "--out", str(tmp_path), "--seed", "3"]) == 0

    train = np.loadtxt(tmp_path / "train" / "data.csv", delimiter=",")
    validation = np.loadtxt(tmp_path / "validation" / "data.csv", delimiter=",")
    assert train.shape[1] == validation.shape[1] == 31  # label + 30 features
    assert len(train) + len(validation) == 569
    assert set(np.unique(train[:, 0])) == {0.0, 1.0}
    assert not (tmp_path / "train" / "data.csv").read_text().startswith("label")


def test_same_seed_same_bytes_other_seed_other_split(tmp_path: Path) -> None:
    for name, seed in (("a", 5), ("b", 5), ("c", 6)):
        DATA.write_version(DATA.make_version("digits", seed=seed, drift="moderate"), tmp_path / name)

    def read(name: str) -> bytes:
        return (tmp_path / name / "train" / "data.csv").read_bytes()

    assert read("a") == read("b")
    assert read("a") != read("c")


@pytest.mark.parametrize("dataset", ["breast_cancer", "digits"])
def test_drift_levels_land_in_the_psi_bands(dataset: str) -> None:
    base = DATA.make_version(dataset, seed=0)
    for seed in range(1, 6):
        same = DATA.make_version(dataset, seed=seed)
        moderate = DATA.make_version(dataset, seed=seed, drift="moderate")
        severe = DATA.make_version(dataset, seed=seed, drift="severe")
        assert max_psi(base.x_train, same.x_train) < 0.1
        assert 0.1 <= max_psi(base.x_train, moderate.x_train) <= 0.25, seed
        assert max_psi(base.x_train, severe.x_train) > 0.25


def test_moderate_drift_keeps_rows_and_labels_severe_drift_changes_the_labels() -> None:
    x, y = DATA.load_dataset("breast_cancer")
    labels_of = {row.tobytes(): label for row, label in zip(x, y, strict=True)}
    moderate = DATA.make_version("breast_cancer", seed=2, drift="moderate")
    assert all(
        labels_of[row.tobytes()] == label
        for row, label in zip(moderate.x_train, moderate.y_train, strict=True)
    )

    base = DATA.make_version("breast_cancer", seed=2)
    severe = DATA.make_version("breast_cancer", seed=2, drift="severe")
    model = make_pipeline(StandardScaler(), LogisticRegression(max_iter=500)).fit(base.x_train, base.y_train)
    # A model of the old data still works after moderate drift and fails after severe drift.
    assert model.score(moderate.x_validation, moderate.y_validation) > 0.9
    assert model.score(severe.x_validation, severe.y_validation) < 0.7
    # ...while a model retrained on the severe version learns its new relationship.
    retrained = make_pipeline(StandardScaler(), LogisticRegression(max_iter=500)).fit(
        severe.x_train, severe.y_train
    )
    assert retrained.score(severe.x_train, severe.y_train) > model.score(severe.x_train, severe.y_train)


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (
            ["--dataset", "mnist"],
            "--dataset: unknown dataset 'mnist'; choose one of breast_cancer, digits, synthetic, wine",
        ),
        (["--drift", "extreme"], "--drift: unknown drift 'extreme'; choose one of none, moderate, severe"),
        (["--validation-fraction", "0.9"], "--validation-fraction must be between 0.05 and 0.5"),
        (["--max-rows", "5"], "--max-rows must be at least 20"),
    ],
)
def test_bad_options_are_named_without_a_traceback(
    argv: list[str], message: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert DATA.main([*argv, "--out", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert message in err
    assert "Traceback" not in err
    assert not any(tmp_path.iterdir())
