"""The examples in docs/profiles.md are real: the profile compiles, the error text is what users see."""

from __future__ import annotations

import re
import types
import typing
from pathlib import Path
from typing import Any

import botocore.session
import pytest
from botocore.validate import validate_parameters
from pydantic import BaseModel

from amtflow.profile import ModelProfile, ProfileValidationError, load_profile, preview_tuning_request

DOC = Path(__file__).resolve().parents[3] / "docs" / "profiles.md"


def doc_example() -> str:
    blocks = re.findall(r"```yaml\n(.*?)```", DOC.read_text(), flags=re.S)
    assert blocks, "docs/profiles.md has no yaml example"
    return blocks[0]


def test_the_documented_profile_validates_and_compiles() -> None:
    profile = load_profile(doc_example(), source="docs/profiles.md")
    assert profile.model == "churn-xgb"
    assert profile.objective_metric == "validation:auc"
    request = preview_tuning_request(profile)
    shape = botocore.session.get_session().get_service_model("sagemaker")
    validate_parameters(request, shape.operation_model("CreateHyperParameterTuningJob").input_shape)


def test_the_documented_error_message_is_the_real_one() -> None:
    text = (
        doc_example().replace("max_parallel: 3", "max_paralel: 3").replace("scaling: log}", "scaling: logg}")
    )
    with pytest.raises(ProfileValidationError) as info:
        load_profile(text, source="examples/churn.yaml")
    documented = re.search(r"```\n(examples/churn\.yaml is invalid.*?)```", DOC.read_text(), flags=re.S)
    assert documented is not None
    assert str(info.value).strip() == documented.group(1).strip()


def _keys_of(model: type[BaseModel], prefix: str = "") -> set[str]:
    """Every key path a profile may hold (``tuning.limits.max_jobs``), mappings' keys as ``<name>``."""
    keys: set[str] = set()
    for name, info in model.model_fields.items():
        path = f"{prefix}{info.alias or name}"
        keys.add(path)
        for inner in _models_in(info.annotation):
            keys |= _keys_of(inner, f"{path}.")
        if typing.get_origin(_bare(info.annotation)) is dict:
            keys.add(f"{path}.<name>")
            for inner in _models_in(typing.get_args(_bare(info.annotation))[-1]):
                keys |= _keys_of(inner, f"{path}.<name>.")
    return keys


def _bare(annotation: Any) -> Any:
    while typing.get_origin(annotation) is typing.Annotated:
        annotation = typing.get_args(annotation)[0]
    return annotation


def _models_in(annotation: Any) -> list[type[BaseModel]]:
    annotation = _bare(annotation)
    found = [annotation] if isinstance(annotation, type) and issubclass(annotation, BaseModel) else []
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        found = [a for a in typing.get_args(annotation) if isinstance(a, type) and issubclass(a, BaseModel)]
    return found


def test_every_profile_key_in_the_sdk_table_exists() -> None:
    table = DOC.read_text().split("### From the SageMaker Python SDK", 1)[1].split("\n## ", 1)[0]
    named = {
        key
        for row in table.splitlines()
        if row.startswith("| `")
        for key in re.findall(r"`((?:dataset|training|tuning)\.[a-z_.<>]+)", row.split(" | ", 1)[1])
    }
    assert len(named) > 20
    assert sorted(named - _keys_of(ModelProfile)) == []
