"""The example profiles load, compile, lint clean, and their images map to the example scripts."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml
from example_support import EXAMPLES

from amtflow.preflight import LintContext, Severity, run_rules
from amtflow.profile import TrainingSpec, compile_tuning_request, load_profile_file

PROFILES = sorted(EXAMPLES.glob("*/profile.yaml"))
IMAGE_MAP = yaml.safe_load((EXAMPLES / "image-map.yaml").read_text())


def test_there_is_a_profile_per_example() -> None:
    assert {p.parent.name for p in PROFILES} == {"xgboost", "mlp", "xgboost-vs-mlp"}


def _trainings(path: Path) -> list[TrainingSpec]:
    """The profile's training definitions: its algorithms, or its one training section."""
    profile = load_profile_file(path)
    return list(profile.algorithms) if profile.algorithms else [profile.training]


@pytest.mark.parametrize("path", PROFILES, ids=lambda p: p.parent.name)
def test_profile_compiles_and_lints_without_errors(path: Path) -> None:
    profile = load_profile_file(path)
    request = compile_tuning_request(
        profile,
        job_name=f"amtflow-{profile.model}-0a1b2c3d"[:32].rstrip("-"),
        data_uri=f"s3://amtflow-data/datasets/{profile.model}/v1/",
        output_uri=f"s3://amtflow-data/runs/{profile.model}/job/",
        role_arn="arn:aws:iam::123456789012:role/amtflow-sagemaker",
    )
    findings = run_rules(LintContext(request=request, sample_logs={"profile": profile.sample_log_lines}))
    assert [f for f in findings if f.severity is Severity.ERROR] == []


@pytest.mark.parametrize("path", PROFILES, ids=lambda p: p.parent.name)
def test_every_metric_regex_matches_a_sample_log_line(path: Path) -> None:
    profile = load_profile_file(path)
    for metric in (m for training in _trainings(path) for m in training.metrics):
        matches = [re.search(metric.regex, line) for line in profile.sample_log_lines]
        assert any(m is not None for m in matches), metric.name
        assert all(float(m.group(1)) >= 0 for m in matches if m is not None)


@pytest.mark.parametrize("path", PROFILES, ids=lambda p: p.parent.name)
def test_the_image_maps_to_the_example_script(path: Path) -> None:
    for training in _trainings(path):
        repository = training.image.rsplit("/", 1)[-1].split(":")[0]
        command = IMAGE_MAP[repository]
        script = command.split()[-1].replace("{examples}", str(EXAMPLES))
        own = "xgboost" if repository == "sagemaker-xgboost" else "mlp"
        assert Path(script) == EXAMPLES / own / "train.py"
        assert path.parent.name in (own, "xgboost-vs-mlp")
        assert command.startswith("{python} ")
