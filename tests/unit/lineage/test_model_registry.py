"""The CreateModelPackage request, checked against botocore's service model, and the adapter's errors."""

from __future__ import annotations

import re
import unicodedata
from typing import Any

import boto3
import botocore.session
import pytest
from botocore.stub import Stubber
from botocore.validate import ParamValidator
from moto import mock_aws

from amtflow.adapters import ensure_model_package_group, register_model_package
from amtflow.errors import ConflictError, InvalidInputError, QuotaExceededError, TransientError
from amtflow.lineage import (
    ApprovalStatus,
    Challenger,
    ObjectiveType,
    RegistryConfig,
    build_model_package_request,
    client_token,
    metadata_value,
    model_package_group_name,
)

CHALLENGER = Challenger(
    model="churn_xgb",
    tuning_job="amtf-churn-xgb-1a2b3c4d",
    training_job="amtf-churn-xgb-1a2b3c4d-011-bbbbbbbb",
    objective_metric="validation:auc",
    objective_type=ObjectiveType.MAXIMIZE,
    objective_value=0.9312,
    dataset_version="2026-11-01",
    data_fingerprint="sha256:" + "b" * 64,
    model_artifact="s3://bucket/runs/churn_xgb/amtf-churn-xgb-1a2b3c4d/output/model.tar.gz",
    training_image="683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-xgboost:1.7-1",
    hyperparameters={"eta": "0.1"},
    run_id="churn-2026-11-01-abcd1234",
)


def _input_shape() -> Any:
    model = botocore.session.get_session().get_service_model("sagemaker")
    return model.operation_model("CreateModelPackage").input_shape


def _metadata_char_ok(ch: str) -> bool:
    # botocore's pattern ([\p{L}\p{Z}\p{N}_.:\/=+\-@]*) spelled with unicodedata.
    cat = unicodedata.category(ch)
    return cat[0] in "LZN" or ch in "_.:/=+-@"


def _request(**kw: Any) -> dict[str, Any]:
    return build_model_package_request(
        CHALLENGER,
        parents=("amtf-churn-xgb-00000001", "amtf-churn-xgb-00000002"),
        warm_start_type="TransferLearning",
        reason="moderate drift (tenure PSI 0.180, 3 columns): TransferLearning warm start, 20 jobs",
        generated_by="arn:aws:states:us-east-1:123456789012:execution:tuning:churn-2026-11-01-abcd1234",
        **kw,
    )


def test_request_is_valid_for_the_service_model() -> None:
    request = _request()
    shape = _input_shape()
    report = ParamValidator().validate(request, shape)
    assert not report.has_errors(), report.generate_report()
    # botocore checks types and lengths client-side but not patterns: check those against the model too.
    meta = shape.members["CustomerMetadataProperties"]
    assert meta.key.metadata["pattern"] == r"([\p{L}\p{Z}\p{N}_.:\/=+\-@]*)${1,128}"
    assert meta.value.metadata["pattern"] == r"([\p{L}\p{Z}\p{N}_.:\/=+\-@]*)${1,256}"
    for key, value in request["CustomerMetadataProperties"].items():
        assert 1 <= len(key) <= 128, key
        assert all(map(_metadata_char_ok, key)), key
        assert 1 <= len(value) <= 256, value
        assert all(map(_metadata_char_ok, value)), value
    group_pattern = shape.members["ModelPackageGroupName"].metadata["pattern"]
    assert re.fullmatch(group_pattern, request["ModelPackageGroupName"])
    token_pattern = shape.members["ClientToken"].metadata["pattern"]
    assert re.fullmatch(token_pattern, request["ClientToken"])
    assert len(request["ClientToken"]) <= shape.members["ClientToken"].metadata["max"]
    assert request["ModelApprovalStatus"] in shape.members["ModelApprovalStatus"].enum


def test_request_carries_metrics_lineage_and_approval() -> None:
    request = _request(config=RegistryConfig(approval_status=ApprovalStatus.APPROVED, group_prefix="amtf"))
    assert request["ModelPackageGroupName"] == "amtf-churn-xgb"
    assert request["ModelApprovalStatus"] == "Approved"
    meta = request["CustomerMetadataProperties"]
    assert meta["amtflow:objective-metric"] == "validation:auc"
    assert meta["amtflow:objective-value"] == "0.9312"
    assert meta["amtflow:tuning-job"] == CHALLENGER.tuning_job
    assert meta["amtflow:dataset-version"] == "2026-11-01"
    assert meta["amtflow:parents"] == "amtf-churn-xgb-00000001 amtf-churn-xgb-00000002"
    # Characters the API rejects (parentheses, commas) are replaced, not sent.
    assert meta["amtflow:reason"].startswith("moderate drift -tenure PSI 0.180- 3 columns-")
    container = request["InferenceSpecification"]["Containers"][0]
    assert container == {"Image": CHALLENGER.training_image, "ModelDataUrl": CHALLENGER.model_artifact}
    assert request["MetadataProperties"]["GeneratedBy"].startswith("arn:aws:states:")
    assert _request()["ModelApprovalStatus"] == "PendingManualApproval"


def test_client_token_is_deterministic_per_tuning_job() -> None:
    assert _request()["ClientToken"] == _request()["ClientToken"] == client_token(CHALLENGER.tuning_job)
    assert client_token("job-a") != client_token("job-b")
    assert len(client_token("job-a")) == 36


def test_names_and_values_are_cleaned() -> None:
    assert model_package_group_name("Churn XGB / v2") == "Churn-XGB-v2"
    assert len(model_package_group_name("m" * 100)) == 63
    with pytest.raises(InvalidInputError) as err:
        model_package_group_name("!!!")
    assert err.value.field == "model"
    assert metadata_value("a,b#c") == "a-b-c"
    assert len(metadata_value("x" * 400)) == 256
    assert metadata_value("") == "-"


def test_bad_artifact_and_too_much_metadata_are_rejected() -> None:
    from dataclasses import replace

    with pytest.raises(InvalidInputError) as err:
        build_model_package_request(replace(CHALLENGER, model_artifact="/tmp/model.tar.gz"))
    assert err.value.field == "challenger.model_artifact"
    with pytest.raises(InvalidInputError) as err:
        build_model_package_request(CHALLENGER, extra_metadata={f"k{i}": "v" for i in range(50)})
    assert err.value.field == "extra_metadata"


def test_registers_in_moto_and_creates_the_group_once() -> None:
    with mock_aws():
        sm = boto3.client("sagemaker", region_name="us-east-1")
        request = _request()
        group = request["ModelPackageGroupName"]
        ensure_model_package_group(sm, group)
        ensure_model_package_group(sm, group)
        assert sm.describe_model_package_group(ModelPackageGroupName=group)["ModelPackageGroupName"] == group
        arn = register_model_package(sm, request)
        assert ":model-package/" in arn
        described = sm.describe_model_package(ModelPackageName=arn)
        assert described["ModelPackageGroupName"] == group
        assert described["CustomerMetadataProperties"]["amtflow:tuning-job"] == CHALLENGER.tuning_job


@pytest.mark.parametrize(
    ("code", "error"),
    [
        ("ConflictException", ConflictError),
        ("ResourceLimitExceeded", QuotaExceededError),
        ("ThrottlingException", TransientError),
        ("ValidationException", InvalidInputError),
    ],
)
def test_registry_errors_become_amtflow_errors(code: str, error: type[Exception]) -> None:
    sm = boto3.client("sagemaker", region_name="us-east-1")
    with Stubber(sm) as stub:
        stub.add_client_error("create_model_package", code, "nope", http_status_code=400)
        with pytest.raises(error) as err:
            register_model_package(sm, _request())
    assert "churn-xgb" in str(err.value)
