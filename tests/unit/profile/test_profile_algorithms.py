"""Multi-algorithm profiles (``algorithms:``): validation, compiling to TrainingJobDefinitions, retraining."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from amtflow.errors import InvalidInputError
from amtflow.preflight import LintContext, run_rules
from amtflow.profile import (
    OverridesRefusedError,
    ProfileValidationError,
    WarmStart,
    WarmStartType,
    apply_overrides,
    compile_training_request,
    dump_profile,
    load_profile,
    parse_profile,
    preview_tuning_request,
)

XGB = "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-xgboost:1.7-1"
MLP = "123456789012.dkr.ecr.us-east-1.amazonaws.com/amtflow-mlp:1.0"


def multi_doc() -> dict[str, Any]:
    return copy.deepcopy(
        {
            "schema": "amtflow/v1",
            "model": "cancer-multi",
            "dataset": {"channels": {"train": "text/csv", "validation": "text/csv"}},
            "tuning": {
                "strategy": "Bayesian",
                "objective": {"metric": "validation:accuracy", "goal": "Maximize"},
                "limits": {"max_jobs": 6, "max_parallel": 2},
            },
            "algorithms": [
                {
                    "name": "xgboost",
                    "image": XGB,
                    "instance_type": "ml.m5.xlarge",
                    "metrics": [{"name": "validation:accuracy", "regex": r"validation-acc:([0-9.]+)"}],
                    "static_hyperparameters": {"num_round": 50},
                    "ranges": {"eta": {"min": 0.01, "max": 0.5, "scaling": "log"}},
                },
                {
                    "name": "mlp",
                    "image": MLP,
                    "instance_type": "ml.m5.large",
                    "metrics": [{"name": "val_acc", "regex": r"validation_accuracy=([0-9.]+)"}],
                    "objective_metric": "val_acc",
                    "static_hyperparameters": {"epochs": 10},
                    "ranges": {"alpha": {"min": 1e-6, "max": 0.1, "scaling": "log"}},
                },
            ],
        }
    )


def problems(doc: dict[str, Any]) -> dict[str, str]:
    with pytest.raises(ProfileValidationError) as info:
        parse_profile(doc, source="test.yaml")
    text = str(info.value)
    assert "pydantic" not in text
    assert "Traceback" not in text
    return {p.path: p.message for p in info.value.problems}


def test_a_multi_algorithm_profile_compiles_to_one_definition_per_algorithm() -> None:
    request = preview_tuning_request(parse_profile(multi_doc()))
    assert "TrainingJobDefinition" not in request
    config = request["HyperParameterTuningJobConfig"]
    assert "ParameterRanges" not in config
    xgb, mlp = request["TrainingJobDefinitions"]
    assert xgb["DefinitionName"] == "xgboost"
    assert xgb["TuningObjective"] == {"Type": "Maximize", "MetricName": "validation:accuracy"}
    assert xgb["HyperParameterRanges"]["ContinuousParameterRanges"][0]["Name"] == "eta"
    assert xgb["StaticHyperParameters"] == {"num_round": "50"}
    assert xgb["AlgorithmSpecification"]["TrainingImage"] == XGB
    assert mlp["DefinitionName"] == "mlp"
    assert mlp["TuningObjective"] == {"Type": "Maximize", "MetricName": "val_acc"}
    assert mlp["ResourceConfig"]["InstanceType"] == "ml.m5.large"
    assert mlp["AlgorithmSpecification"]["TrainingImage"] == MLP
    assert mlp["InputDataConfig"] == xgb["InputDataConfig"]  # the same data
    service = [f for f in run_rules(LintContext(request=request), tags={"service"}) if f.is_error]
    assert service == []


def test_a_multi_algorithm_profile_round_trips_without_the_filled_sections() -> None:
    profile = parse_profile(multi_doc())
    assert profile.training.image == XGB  # code that needs one definition sees the first algorithm
    text = dump_profile(profile)
    assert "training:" not in text.replace("static_hyperparameters", "")
    again = load_profile(text)
    assert preview_tuning_request(again) == preview_tuning_request(profile)


def test_retraining_uses_the_named_algorithm() -> None:
    profile = parse_profile(multi_doc())
    request = compile_training_request(
        profile,
        job_name="retrain-1",
        hyperparameters={"alpha": "0.01", "_tuning_objective_metric": "val_acc"},
        data_uri="s3://b/datasets/cancer-multi/v1/",
        output_uri="s3://b/runs/cancer-multi/retrain-1/",
        role_arn="arn:aws:iam::123456789012:role/r",
        definition="mlp",
    )
    assert request["AlgorithmSpecification"]["TrainingImage"] == MLP
    assert request["HyperParameters"] == {"epochs": "10", "alpha": "0.01"}
    with pytest.raises(InvalidInputError) as info:
        compile_training_request(
            profile,
            job_name="retrain-1",
            hyperparameters={},
            data_uri="s3://b/d/",
            output_uri="s3://b/o/",
            role_arn="arn:aws:iam::123456789012:role/r",
            definition="lightgbm",
        )
    assert info.value.field == "definition"
    assert "xgboost, mlp" in str(info.value)


def test_warm_start_is_refused_for_several_algorithms() -> None:
    profile = parse_profile(multi_doc())
    with pytest.raises(InvalidInputError) as info:
        preview_tuning_request(profile, warm_start=WarmStart(WarmStartType.TRANSFER_LEARNING, ("parent-1",)))
    assert info.value.field == "warm_start"
    assert "single algorithm" in str(info.value)


def test_duplicate_algorithm_names_are_refused() -> None:
    doc = multi_doc()
    doc["algorithms"][1]["name"] = "XGBoost"
    found = problems(doc)
    assert "also the name of algorithms[0]" in found["algorithms[1].name"]


def test_more_than_ten_algorithms_are_refused() -> None:
    doc = multi_doc()
    base = doc["algorithms"][1]
    doc["algorithms"] = [doc["algorithms"][0]] + [dict(base, name=f"mlp{i}") for i in range(10)]
    assert "list 2 to 10" in problems(doc)["algorithms"]


def test_one_algorithm_is_refused_with_the_single_definition_form_as_the_fix() -> None:
    doc = multi_doc()
    doc["algorithms"] = doc["algorithms"][:1]
    assert "tuning.ranges" in problems(doc)["algorithms"]


def test_ranges_outside_an_algorithm_are_refused() -> None:
    doc = multi_doc()
    doc["tuning"]["ranges"] = {"eta": {"min": 0.01, "max": 0.5}}
    assert "algorithms[i].ranges" in problems(doc)["tuning.ranges"]


def test_a_training_section_next_to_algorithms_is_refused() -> None:
    doc = multi_doc()
    doc["training"] = {"image": XGB}
    assert "each algorithm carries its own" in problems(doc)["training"]


def test_an_objective_metric_an_algorithm_does_not_report_is_named() -> None:
    doc = multi_doc()
    doc["algorithms"][1]["objective_metric"] = "validation:loss"
    assert "'validation:loss'" in problems(doc)["algorithms[1].objective_metric"]
    doc = multi_doc()
    del doc["algorithms"][1]["objective_metric"]
    assert "'validation:accuracy'" in problems(doc)["algorithms[1].metrics"]


def test_early_stopping_and_grid_are_refused_with_several_algorithms() -> None:
    doc = multi_doc()
    doc["tuning"]["early_stopping"] = "Auto"
    assert "single algorithm" in problems(doc)["tuning.early_stopping"]
    doc = multi_doc()
    doc["tuning"]["strategy"] = "Grid"
    assert "Bayesian or Random" in problems(doc)["tuning.strategy"]


def test_a_bad_algorithm_is_reported_once_under_its_own_key() -> None:
    doc = multi_doc()
    doc["algorithms"][0]["name"] = "bad name"
    doc["algorithms"][0]["ranges"] = {}
    found = problems(doc)
    assert set(found) == {"algorithms[0].name", "algorithms[0].ranges"}


def test_retraining_without_a_name_picks_the_algorithm_whose_hyperparameters_it_was_given() -> None:
    profile = parse_profile(multi_doc())
    common = {
        "job_name": "retrain-2",
        "data_uri": "s3://b/datasets/cancer-multi/v1/",
        "output_uri": "s3://b/runs/cancer-multi/retrain-2/",
        "role_arn": "arn:aws:iam::123456789012:role/r",
    }
    champion = {"epochs": "10", "alpha": "0.01", "_tuning_objective_metric": "val_acc"}
    mlp = compile_training_request(profile, hyperparameters=champion, **common)
    assert mlp["AlgorithmSpecification"]["TrainingImage"] == MLP
    xgb = compile_training_request(profile, hyperparameters={"num_round": "50", "eta": "0.1"}, **common)
    assert xgb["AlgorithmSpecification"]["TrainingImage"] == XGB


def test_the_planner_never_warm_starts_a_multi_algorithm_profile() -> None:
    from amtflow.drift import decision_policy_from_profile

    assert decision_policy_from_profile(parse_profile(multi_doc())).warm_start_allowed == frozenset()


def test_a_multi_algorithm_signature_has_every_definitions_hyperparameters_and_images() -> None:
    from amtflow.drift import TuningJobSignature

    signature = TuningJobSignature.from_request(preview_tuning_request(parse_profile(multi_doc())))
    assert signature.objective_metric == "validation:accuracy"
    assert set(signature.hyperparameters) == {"num_round", "eta", "epochs", "alpha"}
    assert signature.training_image == f"{XGB},{MLP}"
    assert TuningJobSignature.from_dict(signature.to_dict()) == signature
    doc = multi_doc()
    single_doc = {**doc, "training": doc["algorithms"][0], "tuning": dict(doc["tuning"])}
    del single_doc["algorithms"]
    single_doc["training"] = {k: v for k, v in single_doc["training"].items() if k not in ("name", "ranges")}
    single_doc["tuning"]["ranges"] = doc["algorithms"][0]["ranges"]
    single = TuningJobSignature.from_request(preview_tuning_request(parse_profile(single_doc)))
    for child, parent in ((single, signature), (signature, single), (signature, signature)):
        why = child.incompatibility(parent, identical=False)
        assert why is not None
        assert "single algorithm" in why


@pytest.mark.parametrize(
    ("overrides", "key"),
    [
        ({"training": {"instance_type": "ml.m5.xlarge"}}, "overrides.training"),
        ({"tuning": {"ranges": {"eta": {"min": 0.05, "max": 0.3}}}}, "overrides.tuning.ranges"),
    ],
)
def test_overrides_of_a_multi_algorithm_profile_keep_to_the_shared_search_limits(
    overrides: dict[str, Any], key: str
) -> None:
    profile = parse_profile(multi_doc())
    assert apply_overrides(profile, {"tuning": {"limits": {"max_jobs": 4}}}).tuning.limits.max_jobs == 4
    with pytest.raises(OverridesRefusedError) as info:
        apply_overrides(profile, overrides)
    assert key in {p.path for p in info.value.problems}
    assert "several algorithms" in str(info.value)
