"""One contract suite for every ProfileStore: the in-memory fake and the S3 adapter (on moto)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber
from moto import mock_aws

from amtflow.adapters import S3ProfileStore
from amtflow.errors import ConfigurationError, InvalidInputError, ProfileNotFoundError, TransientError
from amtflow.profile import (
    InMemoryProfileStore,
    ProfileStore,
    ProfileValidationError,
    load_profile,
    profile_key,
)

BUCKET = "amtflow-data"


@pytest.fixture
def s3() -> Iterator[Any]:
    with mock_aws():
        client = boto3.client("s3", region_name="us-east-1")
        client.create_bucket(Bucket=BUCKET)
        yield client


@pytest.fixture(params=["memory", "s3"])
def store(request: pytest.FixtureRequest) -> ProfileStore:
    if request.param == "memory":
        return InMemoryProfileStore()
    return S3ProfileStore(request.getfixturevalue("s3"), BUCKET)


def other_profile(text: str, model: str) -> str:
    return text.replace("model: churn-xgb", f"model: {model}")


def test_put_then_get_round_trips(store: ProfileStore, xgb_text: str) -> None:
    put = store.put(xgb_text)
    assert put.model == "churn-xgb"
    assert store.get("churn-xgb") == load_profile(xgb_text)


def test_list_names_every_stored_model_sorted(store: ProfileStore, xgb_text: str) -> None:
    assert store.list() == []
    for model in ("zeta-model", "churn-xgb", "alpha"):
        store.put(other_profile(xgb_text, model))
    assert store.list() == ["alpha", "churn-xgb", "zeta-model"]


def test_put_replaces_the_previous_version(store: ProfileStore, xgb_text: str) -> None:
    store.put(xgb_text)
    store.put(xgb_text.replace("max_jobs: 30", "max_jobs: 12"))
    assert store.get("churn-xgb").tuning.limits.max_jobs == 12
    assert store.list() == ["churn-xgb"]


def test_get_of_an_unknown_model_names_the_model(store: ProfileStore, xgb_text: str) -> None:
    store.put(xgb_text)
    with pytest.raises(ProfileNotFoundError, match="'fraud-mlp'"):
        store.get("fraud-mlp")


def test_an_invalid_profile_is_never_stored(store: ProfileStore, xgb_text: str) -> None:
    with pytest.raises(ProfileValidationError, match="did you mean 'strategy'"):
        store.put(xgb_text.replace("strategy: Bayesian", "stratgy: Bayesian"))
    assert store.list() == []


def test_a_model_name_that_is_not_a_slug_is_rejected_before_any_lookup(store: ProfileStore) -> None:
    with pytest.raises(InvalidInputError, match="not a model name") as info:
        store.get("../secrets")
    assert info.value.field == "model"


def test_s3_layout_and_where_it_looked(s3: Any, xgb_text: str) -> None:
    store = S3ProfileStore(s3, BUCKET, prefix="cfg/profiles")
    store.put(xgb_text)
    body = s3.get_object(Bucket=BUCKET, Key="cfg/profiles/churn-xgb.yaml")["Body"].read().decode()
    assert body == xgb_text
    with pytest.raises(ProfileNotFoundError) as info:
        store.get("fraud-mlp")
    assert "s3://amtflow-data/cfg/profiles/fraud-mlp.yaml" in str(info.value)
    assert "amtflow profiles push" in str(info.value)


def test_s3_list_ignores_other_objects(s3: Any, xgb_text: str) -> None:
    store = S3ProfileStore(s3, BUCKET)
    store.put(xgb_text)
    s3.put_object(Bucket=BUCKET, Key="profiles/README.md", Body=b"x")
    s3.put_object(Bucket=BUCKET, Key="profiles/old/churn-xgb.yaml", Body=b"x")
    s3.put_object(Bucket=BUCKET, Key="datasets/churn-xgb/v1/_READY", Body=b"")
    assert store.list() == ["churn-xgb"]


def test_s3_reports_an_invalid_stored_profile_with_its_uri(s3: Any, xgb_text: str) -> None:
    s3.put_object(
        Bucket=BUCKET, Key="profiles/churn-xgb.yaml", Body=b"schema: amtflow/v1\nmodel: churn-xgb\n"
    )
    with pytest.raises(ProfileValidationError) as info:
        S3ProfileStore(s3, BUCKET).get("churn-xgb")
    assert str(info.value).startswith("s3://amtflow-data/profiles/churn-xgb.yaml is invalid")


def test_s3_refuses_a_profile_stored_under_another_models_key(s3: Any, xgb_text: str) -> None:
    s3.put_object(Bucket=BUCKET, Key="profiles/fraud-mlp.yaml", Body=xgb_text.encode())
    with pytest.raises(ProfileNotFoundError, match="holds the profile of model 'churn-xgb'"):
        S3ProfileStore(s3, BUCKET).get("fraud-mlp")


def test_s3_missing_bucket_is_a_configuration_error(s3: Any, xgb_text: str) -> None:
    store = S3ProfileStore(s3, "no-such-bucket")
    with pytest.raises(ConfigurationError, match="no-such-bucket"):
        store.put(xgb_text)
    with pytest.raises(ConfigurationError, match="no-such-bucket"):
        store.list()
    with pytest.raises(ConfigurationError, match="AMTFLOW_DATA_BUCKET"):
        S3ProfileStore(s3, "")


@pytest.mark.parametrize(
    ("code", "error"), [("SlowDown", TransientError), ("AccessDenied", ConfigurationError)]
)
def test_s3_error_codes_become_domain_errors(code: str, error: type[Exception]) -> None:
    client = boto3.client("s3", region_name="us-east-1")
    with Stubber(client) as stub:
        stub.add_client_error("get_object", service_error_code=code, http_status_code=503)
        with pytest.raises(error):
            S3ProfileStore(client, BUCKET).get("churn-xgb")


def test_profile_key() -> None:
    assert profile_key("churn-xgb") == "profiles/churn-xgb.yaml"
    assert profile_key("m1", "p") == "p/m1.yaml"
