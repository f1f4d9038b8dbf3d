"""The twin's patches of moto: each replaced attribute still exists, with the parameters the patch relies on.

A moto upgrade that moves or reshapes one of them fails here, by name, instead of quietly changing a run.
"""

from __future__ import annotations

import importlib
import inspect
import warnings
from typing import Any

import pytest

from amtflow.local.twin import _moto_quiet, _moto_seam

PATCHES = sorted(_moto_seam.PATCHED)


def _resolve(module: str, attribute: str) -> Any:
    target: Any = importlib.import_module(module)
    for part in attribute.split("."):
        assert hasattr(target, part), f"moto moved {module}.{attribute}: {part!r} is gone"
        target = getattr(target, part)
    return target


@pytest.mark.parametrize("patch", PATCHES)
def test_the_attributes_a_patch_replaces_still_exist_with_a_compatible_signature(patch: str) -> None:
    for module, attribute, parameters in _moto_seam.PATCHED[patch]:
        target = _resolve(module, attribute)
        if not parameters:  # a module attribute (retrier_decl.time): its use is checked below
            continue
        names = tuple(inspect.signature(target).parameters)
        assert names[: len(parameters)] == parameters, f"{module}.{attribute} now takes {names}"


def test_retries_still_sleep_through_the_retrier_modules_time() -> None:
    from moto.stepfunctions.parser.asl.component.common.retry import retrier_decl

    assert "time.sleep(" in inspect.getsource(retrier_decl)


def test_fail_states_still_name_their_error_through_the_modules_custom_error_name() -> None:
    from moto.stepfunctions.parser.asl.component.state.fail import state_fail

    assert "CustomErrorName(error_value)" in inspect.getsource(state_fail)


def test_every_patch_function_is_listed_and_applied_by_install() -> None:
    patch_functions = {
        name
        for name, value in vars(_moto_seam).items()
        if inspect.isfunction(value)
        and value.__module__ == _moto_seam.__name__
        and "mock.patch.object" in inspect.getsource(value)
    }
    assert patch_functions == set(_moto_seam.PATCHED)
    install = inspect.getsource(_moto_seam.install)
    assert all(f"{name}(" in install for name in patch_functions)


def test_the_plain_state_machine_backend_still_describes_by_arn() -> None:
    from moto.stepfunctions.models import StepFunctionBackend

    assert tuple(inspect.signature(StepFunctionBackend.describe_state_machine).parameters) == ("self", "arn")


@pytest.mark.parametrize(
    ("url", "served"),
    [
        ("https://api.sagemaker.us-east-1.amazonaws.com/", True),
        ("https://events.us-east-1.amazonaws.com/", True),
        ("https://my-bucket.s3.amazonaws.com/key?versionId=1", True),
        ("https://braket.us-east-1.amazonaws.com/devices", False),
    ],
)
def test_serves_tells_the_urls_moto_answers(url: str, served: bool) -> None:
    assert _moto_seam.serves("any", "Op", url) is served


def test_deploying_a_stack_with_resources_moto_does_not_model_prints_no_notice(
    caplog: pytest.LogCaptureFixture,
) -> None:
    import json
    import logging

    import boto3
    from moto import mock_aws

    template = {
        "Resources": {
            "Alarm": {
                "Type": "AWS::CloudWatch::Alarm",
                "Properties": {
                    "MetricName": "Errors",
                    "Namespace": "amtflow",
                    "Statistic": "Sum",
                    "Period": 60,
                    "EvaluationPeriods": 1,
                    "Threshold": 1,
                    "ComparisonOperator": "GreaterThanOrEqualToThreshold",
                },
            }
        }
    }
    with caplog.at_level(logging.WARNING, logger="moto"), mock_aws():
        cfn = boto3.client("cloudformation", region_name="us-east-1")
        with _moto_quiet.warnings_silenced():
            cfn.create_stack(StackName="s", TemplateBody=json.dumps(template))
        assert not [r for r in caplog.records if "No Moto CloudFormation support" in r.getMessage()]
        caplog.clear()
        cfn.create_stack(StackName="t", TemplateBody=json.dumps(template))  # outside: moto's notice stays

    assert [r for r in caplog.records if "No Moto CloudFormation support" in r.getMessage()]


def test_a_twin_starts_without_moto_notices_about_the_resources_it_only_stores(
    caplog: pytest.LogCaptureFixture, no_sagemaker: Any
) -> None:
    import logging
    from pathlib import Path

    from amtflow.local.twin import Twin

    root = Path(__file__).resolve().parents[3]
    with (
        warnings.catch_warnings(record=True) as warned,
        caplog.at_level(logging.WARNING, logger="moto"),
        Twin.start(root, sagemaker=no_sagemaker) as twin,
    ):
        warnings.simplefilter("always")
        # A call that has moto parse the stack's resources again, after its creation.
        twin.client("cloudformation").describe_stack_resources(StackName="amtflow")

    assert not [r for r in caplog.records if "No Moto CloudFormation support" in r.getMessage()]
    assert not [w for w in warned if "not supported by moto" in str(w.message)]
    # Outside the twin, moto's other warnings reach warnings.warn as before.
    from moto.cloudformation import parsing

    with warnings.catch_warnings(record=True) as later:
        warnings.simplefilter("always")
        parsing.warnings.warn("another notice")
    assert [str(w.message) for w in later] == ["another notice"]
