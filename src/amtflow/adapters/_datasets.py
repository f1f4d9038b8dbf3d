"""A dataset version's objects in the data bucket, read as streams (the planner profiles them)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from amtflow.adapters._errors import aws_call
from amtflow.app import ReadableStream

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client


class S3DatasetReader:
    """Implements :class:`~amtflow.app.DatasetReader` over an injected S3 client.

    ``open`` returns the ``GetObject`` body, a stream: the profiler reads it in 1 MiB chunks, so a
    multi-gigabyte object never sits in memory.
    """

    def __init__(self, client: S3Client, bucket: str, prefix: str = "datasets/") -> None:
        self._s3 = client
        self._bucket = bucket
        self._prefix = prefix

    def channel_objects(self, model: str, version: str, channel: str) -> Sequence[str]:
        folder = f"{self._prefix}{model}/{version}/{channel}/"
        keys: list[str] = []
        with aws_call(f"listing s3://{self._bucket}/{folder}"):
            for page in self._s3.get_paginator("list_objects_v2").paginate(
                Bucket=self._bucket, Prefix=folder
            ):
                for item in page.get("Contents", []):
                    key = item["Key"]
                    if key.endswith("/") or int(item.get("Size", 0)) == 0:
                        continue
                    keys.append(key)
        return sorted(keys)

    def open(self, key: str) -> ReadableStream:
        with aws_call(f"reading s3://{self._bucket}/{key}"):
            return self._s3.get_object(Bucket=self._bucket, Key=key)["Body"]
