"""One contract, two implementations: the profile catalog the use-case tests build (``profiles(...)``, over an
in-memory store) behaves like the catalog over the data bucket (S3 on moto): the model's spec with overrides
applied, the stored budget whatever the overrides say, and the errors for a model without a profile or
overrides the profile refuses. (The stores themselves have their own contract in tests/unit/profile.)"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from app_fakes import MODEL, XGB_PROFILE, profile_text, profiles
from moto import mock_aws

from amtflow.adapters import S3ProfileStore, StoreProfileCatalog
from amtflow.errors import InvalidInputError, ProfileError, ProfileNotFoundError

BUCKET = "amtflow-data"
OTHER = profile_text(model="churn-xgb")


@pytest.fixture(params=["in-memory", "s3"])
def catalog(request: pytest.FixtureRequest) -> Iterator[Any]:
    if request.param == "in-memory":
        yield profiles(XGB_PROFILE, OTHER)
        return
    with mock_aws():
        client = boto3.client("s3", region_name="us-east-1")
        client.create_bucket(Bucket=BUCKET)
        store = S3ProfileStore(client, BUCKET)
        for text in (XGB_PROFILE, OTHER):
            store.put(text)
        yield StoreProfileCatalog(store)


def test_every_stored_model_is_listed(catalog: Any) -> None:
    assert sorted(catalog.models()) == sorted([MODEL, "churn-xgb"])


def test_a_model_s_spec_is_its_stored_profile(catalog: Any) -> None:
    spec = catalog.get(MODEL)
    assert (spec.model, spec.marker) == (MODEL, "_READY")
    assert spec.profile.model == MODEL
    assert spec.budget == spec.profile.budget


def test_overrides_apply_to_the_spec_but_never_to_the_budget(catalog: Any) -> None:
    stored = catalog.get(MODEL)
    spec = catalog.get(MODEL, {"tuning": {"limits": {"max_jobs": 3, "max_parallel": 1}}})
    assert spec.profile.tuning.limits.max_jobs == 3
    assert stored.profile.tuning.limits.max_jobs != 3
    assert spec.budget == stored.budget


def test_a_model_without_a_profile_is_not_found_and_named(catalog: Any) -> None:
    with pytest.raises(ProfileNotFoundError, match="fraud-mlp"):
        catalog.get("fraud-mlp")


def test_an_override_outside_the_allow_list_is_refused_naming_the_key(catalog: Any) -> None:
    with pytest.raises(InvalidInputError, match=r"overrides\.tuning\.stratgy"):
        catalog.get(MODEL, {"tuning": {"stratgy": "Random"}})


def test_an_override_with_an_invalid_value_is_a_profile_error(catalog: Any) -> None:
    with pytest.raises(ProfileError):
        catalog.get(MODEL, {"tuning": {"strategy": "Annealing"}})
