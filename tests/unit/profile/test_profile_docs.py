"""The examples in docs/profiles.md are real: the profile compiles, the error text is what users see."""

from __future__ import annotations

import re
from pathlib import Path

import botocore.session
import pytest
from botocore.validate import validate_parameters

from amtflow.profile import ProfileValidationError, load_profile, preview_tuning_request

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
