"""Every example profile shipped in ``examples/`` is valid, lints clean and compiles to requests SageMaker's
own service model accepts: cold, warm-started (where the strategy allows it) and as a retraining job."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import botocore.session
import pytest
from botocore.validate import validate_parameters

from amtflow.errors import InvalidInputError
from amtflow.local.cli import main
from amtflow.preflight import LintContext, context_for_profile, lint_request
from amtflow.profile import (
    ModelProfile,
    Strategy,
    WarmStart,
    WarmStartType,
    compile_training_request,
    load_profile_file,
    midrange_hyperparameters,
    preview_tuning_request,
)

ROOT = Path(__file__).parents[3]
EXAMPLES = sorted((ROOT / "examples").rglob("profile*.y*ml"))
IDS = [str(p.relative_to(ROOT)) for p in EXAMPLES]
ROLE = "arn:aws:iam::123456789012:role/amtflow-sagemaker"


@pytest.fixture(scope="module")
def sagemaker_model() -> Any:
    return botocore.session.get_session().get_service_model("sagemaker")


def assert_valid(model: Any, operation: str, request: dict[str, Any]) -> None:
    validate_parameters(request, model.operation_model(operation).input_shape)


def test_the_examples_are_found_and_cover_bayesian_and_hyperband() -> None:
    strategies = {load_profile_file(p).tuning.strategy for p in EXAMPLES}
    assert len(EXAMPLES) >= 2
    assert {Strategy.BAYESIAN, Strategy.HYPERBAND} <= strategies


@pytest.mark.parametrize("path", EXAMPLES, ids=IDS)
def test_an_example_lints_clean_from_the_command_line(path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["lint", str(path)]) == 0
    out = capsys.readouterr().out
    assert out.rstrip().endswith(f"{path}: no findings.")


@pytest.mark.parametrize("path", EXAMPLES, ids=IDS)
def test_an_example_compiles_to_a_request_botocore_accepts(path: Path, sagemaker_model: Any) -> None:
    profile = load_profile_file(path)
    request = preview_tuning_request(profile, dataset_version="2026-11-01", bucket="my-data")
    assert_valid(sagemaker_model, "CreateHyperParameterTuningJob", request)
    config = request["HyperParameterTuningJobConfig"]
    if profile.tuning.strategy is Strategy.HYPERBAND:
        assert profile.tuning.hyperband is not None
        assert config["StrategyConfig"]["HyperbandStrategyConfig"] == {
            "MinResource": profile.tuning.hyperband.min_resource,
            "MaxResource": profile.tuning.hyperband.max_resource,
        }
        assert config["TrainingJobEarlyStoppingType"] == "Off"
    retrain = compile_training_request(
        profile,
        job_name="amtf-retrain-0a1b2c3d",
        hyperparameters=midrange_hyperparameters(profile),
        data_uri="s3://my-data/datasets/x/2026-11-01/",
        output_uri="s3://my-data/runs/x/amtf-retrain-0a1b2c3d/",
        role_arn=ROLE,
    )
    assert_valid(sagemaker_model, "CreateTrainingJob", retrain)


def _parent(profile: ModelProfile, name: str) -> dict[str, Any]:
    described = preview_tuning_request(profile, dataset_version="2026-10-01")
    described.pop("Tags")
    described.update(
        HyperParameterTuningJobName=name,
        HyperParameterTuningJobStatus="Completed",
        TrainingJobStatusCounters={"Completed": profile.tuning.limits.max_jobs or 1},
    )
    return described


@pytest.mark.parametrize("kind", list(WarmStartType))
@pytest.mark.parametrize("path", EXAMPLES, ids=IDS)
def test_a_warm_started_example_is_accepted_where_the_strategy_allows_it(
    path: Path, kind: WarmStartType, sagemaker_model: Any
) -> None:
    profile = load_profile_file(path)
    parents = ("amtf-parent-0a0b0c0d", "amtf-parent-1a1b1c1d")
    if profile.algorithms is not None:  # AMT offers warm start only when tuning a single algorithm
        with pytest.raises(InvalidInputError, match="single algorithm"):
            preview_tuning_request(profile, warm_start=WarmStart(kind, parents))
        return
    request = preview_tuning_request(profile, warm_start=WarmStart(kind, parents))
    assert_valid(sagemaker_model, "CreateHyperParameterTuningJob", request)
    assert request["WarmStartConfig"]["WarmStartType"] == kind.value
    described = {p: _parent(profile, p) for p in parents}
    report = lint_request(request, context_for_profile(profile, request, parents=described))
    if profile.tuning.strategy in (Strategy.BAYESIAN, Strategy.RANDOM):
        assert not report.has_errors, report.to_text()
    else:  # AMT documents warm start for Bayesian and Random search only
        assert [f.rule for f in report.errors] == ["AMT031"]


@pytest.mark.parametrize("path", EXAMPLES, ids=IDS)
def test_an_examples_sample_log_lines_match_every_metric(path: Path) -> None:
    profile = load_profile_file(path)
    assert profile.sample_log_lines, "an example shows what its script prints"
    request = preview_tuning_request(profile)
    context = LintContext(request=request, sample_logs={"sample": profile.sample_log_lines})
    assert lint_request(request, context).findings == ()


@pytest.mark.slow
@pytest.mark.parametrize("path", EXAMPLES, ids=IDS)
def test_an_examples_canary_on_its_own_data_lints_clean(
    path: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The regexes match what the example's script really prints (the canary runs the script)."""
    dataset = re.search(r"--dataset (\w+)", path.read_text(encoding="utf-8"))
    assert dataset, f"{path} says in its header which examples/data.py dataset it trains on"
    data = tmp_path / "data"
    script = str(ROOT / "examples" / "data.py")
    make_data = [sys.executable, script, "--dataset", dataset.group(1), "--out", str(data), "--seed", "1"]
    subprocess.run([*make_data, "--max-rows", "300"], check=True, capture_output=True)
    argv = ["lint", str(path), "--canary", "--data", str(data), "--canary-dir", str(tmp_path / "canary")]
    code = main([*argv, "--image-map", str(ROOT / "examples" / "image-map.yaml"), "--canary-seconds", "60"])
    out = capsys.readouterr().out
    assert code == 0, out
    assert ": Completed," in out
    assert out.rstrip().endswith(f"{path}: no findings.")
