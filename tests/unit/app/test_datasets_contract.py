"""One contract, two implementations each: the in-memory dataset catalog and dataset files behave like the S3
adapters (moto) on which version is the newest complete one and on what a version's channel holds."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from app_fakes import DatasetFiles, Datasets
from botocore.stub import Stubber
from moto import mock_aws

from amtflow.adapters import S3DatasetCatalog, S3DatasetReader
from amtflow.errors import ConfigurationError, NotFoundError, TransientError

BUCKET = "amtflow-data"
MODEL = "cancer-xgb"


@pytest.fixture
def s3() -> Iterator[Any]:
    with mock_aws():
        client = boto3.client("s3", region_name="us-east-1")
        client.create_bucket(Bucket=BUCKET)
        yield client


class Catalog:
    """The catalog under test and how a dataset version is written (its objects, then its marker)."""

    def __init__(self, catalog: Any, write: Any) -> None:
        self.catalog = catalog
        self.write = write


@pytest.fixture(params=["in-memory", "s3"])
def catalog(request: pytest.FixtureRequest) -> Catalog:
    if request.param == "in-memory":
        fake = Datasets()

        def remember(model: str, version: str, marker: str | None = "_READY") -> None:
            if marker is not None:
                fake.versions[model] = version
                fake.markers[model] = marker

        return Catalog(fake, remember)
    s3 = request.getfixturevalue("s3")

    def write(model: str, version: str, marker: str | None = "_READY") -> None:
        s3.put_object(Bucket=BUCKET, Key=f"datasets/{model}/{version}/train/part-0.csv", Body=b"1,0.5\n")
        if marker is not None:
            s3.put_object(Bucket=BUCKET, Key=f"datasets/{model}/{version}/{marker}", Body=b"")

    return Catalog(S3DatasetCatalog(s3, BUCKET), write)


def test_a_model_without_a_complete_version_has_none(catalog: Catalog) -> None:
    assert catalog.catalog.latest_version(MODEL, "_READY") is None
    catalog.write(MODEL, "2026-11-01", marker=None)  # still uploading: no marker yet
    assert catalog.catalog.latest_version(MODEL, "_READY") is None


def test_the_newest_complete_version_is_the_latest(catalog: Catalog) -> None:
    catalog.write(MODEL, "2026-11-01")
    assert catalog.catalog.latest_version(MODEL, "_READY") == "2026-11-01"
    catalog.write(MODEL, "2026-11-08")
    catalog.write(MODEL, "2026-11-15", marker=None)
    assert catalog.catalog.latest_version(MODEL, "_READY") == "2026-11-08"


def test_a_version_is_complete_only_for_the_marker_it_was_completed_with(catalog: Catalog) -> None:
    catalog.write(MODEL, "2026-11-01", marker="_SUCCESS")
    assert catalog.catalog.latest_version(MODEL, "_READY") is None
    assert catalog.catalog.latest_version(MODEL, "_SUCCESS") == "2026-11-01"


def test_models_whose_names_share_a_prefix_do_not_mix(catalog: Catalog) -> None:
    catalog.write(f"{MODEL}-2", "2026-11-01")
    assert catalog.catalog.latest_version(MODEL, "_READY") is None
    assert catalog.catalog.latest_version(f"{MODEL}-2", "_READY") == "2026-11-01"


class Files:
    """The reader under test and how a version's channel objects are written."""

    def __init__(self, reader: Any, write: Any) -> None:
        self.reader = reader
        self.write = write


@pytest.fixture(params=["in-memory", "s3"])
def files(request: pytest.FixtureRequest) -> Files:
    if request.param == "in-memory":
        fake = DatasetFiles(default=b"")

        def put(version: str, *parts: bytes, channel: str = "train") -> None:
            fake.put(version, *parts, channel=channel)

        return Files(fake, put)
    s3 = request.getfixturevalue("s3")

    def write(version: str, *parts: bytes, channel: str = "train") -> None:
        for i, body in enumerate(parts):
            s3.put_object(Bucket=BUCKET, Key=f"datasets/{MODEL}/{version}/{channel}/part-{i}.csv", Body=body)

    return Files(S3DatasetReader(s3, BUCKET), write)


def test_a_channel_lists_its_objects_sorted_by_key_without_empty_ones(files: Files) -> None:
    parts = [f"{i},0.{i}\n".encode() for i in range(12)]
    parts[3] = b""
    files.write("v1", *parts)
    keys = files.reader.channel_objects(MODEL, "v1", "train")
    expected = [f"datasets/{MODEL}/v1/train/part-{i}.csv" for i in range(12) if i != 3]
    assert list(keys) == sorted(expected)
    assert keys[:3] == [f"datasets/{MODEL}/v1/train/part-{i}.csv" for i in (0, 1, 10)]


def test_a_channel_without_objects_lists_nothing(files: Files) -> None:
    files.write("v1", b"1,0.5\n")
    assert list(files.reader.channel_objects(MODEL, "v1", "validation")) == []
    assert list(files.reader.channel_objects(MODEL, "v2", "train")) == []


def test_an_object_opens_as_a_stream_of_its_bytes(files: Files) -> None:
    body = b"".join(f"{i % 2},{i / 10:.1f}\n".encode() for i in range(1000))
    files.write("v1", body, channel="validation")
    [key] = files.reader.channel_objects(MODEL, "v1", "validation")
    stream = files.reader.open(key)
    head = stream.read(10)
    assert head == body[:10]
    assert head + stream.read() == body


def test_an_object_that_does_not_exist_is_not_found(files: Files) -> None:
    files.write("v1", b"1,0.5\n")
    with pytest.raises(NotFoundError):
        files.reader.open(f"datasets/{MODEL}/v1/train/part-7.csv")


@pytest.mark.parametrize(
    ("code", "status", "error"),
    [
        ("SlowDown", 503, TransientError),
        ("InternalError", 500, TransientError),
        ("AccessDenied", 403, ConfigurationError),
        ("NoSuchBucket", 404, NotFoundError),
    ],
)
def test_a_listing_s3_refuses_is_a_domain_error(code: str, status: int, error: type[Exception]) -> None:
    client = boto3.client("s3", region_name="us-east-1")
    with Stubber(client) as stub:
        stub.add_client_error("list_objects_v2", service_error_code=code, http_status_code=status)
        stub.add_client_error("list_objects_v2", service_error_code=code, http_status_code=status)
        with pytest.raises(error):
            S3DatasetCatalog(client, BUCKET).latest_version(MODEL, "_READY")
        with pytest.raises(error):
            S3DatasetReader(client, BUCKET).channel_objects(MODEL, "v1", "train")


def test_listings_read_every_page() -> None:
    """ListObjectsV2 answers at most 1000 keys a page: a version's marker or parts on a later page count."""
    client = boto3.client("s3", region_name="us-east-1")
    first = {"IsTruncated": True, "NextContinuationToken": "page-2", "KeyCount": 1}
    with Stubber(client) as stub:
        stub.add_response(
            "list_objects_v2",
            {**first, "Contents": [{"Key": f"datasets/{MODEL}/v1/train/part-1.csv", "Size": 5}]},
            {"Bucket": BUCKET, "Prefix": f"datasets/{MODEL}/v1/train/"},
        )
        stub.add_response(
            "list_objects_v2",
            {
                "IsTruncated": False,
                "KeyCount": 1,
                "Contents": [{"Key": f"datasets/{MODEL}/v1/train/part-0.csv", "Size": 5}],
            },
            {"Bucket": BUCKET, "Prefix": f"datasets/{MODEL}/v1/train/", "ContinuationToken": "page-2"},
        )
        keys = S3DatasetReader(client, BUCKET).channel_objects(MODEL, "v1", "train")
    assert keys == [f"datasets/{MODEL}/v1/train/part-{i}.csv" for i in (0, 1)]
