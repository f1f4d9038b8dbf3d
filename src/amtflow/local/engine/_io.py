"""Data in and out of a trial: channels fetched from S3 or ``file://``, the model packed and uploaded.

``s3://`` URIs are read and written with the S3 client the engine was given (the process's boto3 client
by default, so moto serves them in tests and in the twin). ``file://`` URIs are a local extension: a
channel's ``file://DIR`` is linked into the trial as is, and a ``file://DIR`` output path receives the
``model.tar.gz`` on the local disk. URIs are checked (:func:`~amtflow.local.engine._paths.check_uri`) and
every local path is built with :func:`~amtflow.local.engine._paths.inside`: an S3 object whose key leads
out of the channel's folder, or a model that would land outside the ``file://`` output folder, is refused.
"""

from __future__ import annotations

import os
import shutil
import tarfile
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlparse

from amtflow.local.engine._model import ServiceError, validation
from amtflow.local.engine._paths import check_uri, inside, local_path

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client


def _split_s3(uri: str) -> tuple[str, str]:
    parsed = urlparse(uri)
    return parsed.netloc, parsed.path.lstrip("/")


def fetch_channel(uri: str, dest: Path, s3: S3Client | None, *, field: str) -> Path:
    """Make the channel's data available at ``dest`` (a directory) and return the directory to use.

    ``file://`` channels are used in place (no copy); ``s3://`` prefixes are downloaded once into ``dest``.
    """
    scheme = urlparse(uri).scheme
    check_uri(uri, field)
    if scheme == "file":
        path = local_path(uri)
        if not path.exists():
            raise validation(f"{field}: {uri} does not exist on this machine; point it at a data folder.")
        return path
    if scheme != "s3":
        raise validation(f"{field}: {uri!r} must be an s3:// URI (or file:// for local data).")
    if s3 is None:
        raise validation(f"{field}: no S3 client is available to fetch {uri}.")
    if dest.exists():
        return dest
    bucket, prefix = _split_s3(uri)
    tmp = inside(dest.parent, dest.name + ".partial", follow_last=False, what="the channel's folder")
    if tmp.is_symlink():
        tmp.unlink()
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    found = 0
    try:
        for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
            for obj in page.get("Contents", []):
                key = obj["Key"]
                if key.endswith("/"):
                    continue
                rel = (
                    key[len(prefix) :].lstrip("/")
                    if prefix and not prefix.endswith("/")
                    else key[len(prefix) :]
                )
                target = _object_path(tmp, rel or key.rsplit("/", 1)[-1], uri, key, field)
                target.parent.mkdir(parents=True, exist_ok=True)
                s3.download_file(bucket, key, str(target))
                found += 1
    except ServiceError:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    except Exception as e:  # botocore errors: a missing bucket, no access
        shutil.rmtree(tmp, ignore_errors=True)
        raise validation(f"{field}: cannot read {uri}: {e}") from e
    if not found:
        shutil.rmtree(tmp, ignore_errors=True)
        raise validation(f"{field}: no objects under {uri}; upload the channel's data or fix the S3Uri.")
    os.replace(tmp, dest)
    return dest


def _object_path(folder: Path, rel: str, uri: str, key: str, field: str) -> Path:
    """Where the object ``key`` goes below ``folder``: refused when its key has ``.``/``..`` segments."""
    parts = [p for p in rel.split("/") if p]
    if not parts or any(p in (".", "..") for p in parts) or "\x00" in rel:
        raise validation(
            f"{field}: the object key {key!r} under {uri} has '.' or '..' segments (or no name), so it "
            "would be written outside the channel's folder; rename the object."
        )
    return inside(folder, *parts, what="the channel's folder")


def pack_model(model_dir: Path, archive: Path) -> Path:
    """``model_dir``'s contents as ``model.tar.gz`` (members relative to the directory, as SageMaker does)."""
    archive.parent.mkdir(parents=True, exist_ok=True)
    # Level 1: model weights barely compress, and level 9 spends ~0.1 s per megabyte on every trial.
    with tarfile.open(archive, "w:gz", compresslevel=1) as tar:
        for item in sorted(model_dir.iterdir()) if model_dir.exists() else []:
            tar.add(item, arcname=item.name)
    return archive


def output_uri(s3_output_path: str, job_name: str) -> str:
    """``<S3OutputPath>/<job>/output/model.tar.gz``."""
    return f"{s3_output_path.rstrip('/')}/{job_name}/output/model.tar.gz"


def upload(archive: Path, s3_output_path: str, job_name: str, s3: Any) -> None:
    """Put ``archive`` at :func:`output_uri` (a ``file://`` target stays inside the output folder)."""
    check_uri(s3_output_path, "OutputDataConfig.S3OutputPath")
    uri = output_uri(s3_output_path, job_name)
    if urlparse(uri).scheme == "file":
        base = local_path(s3_output_path)
        base.mkdir(parents=True, exist_ok=True)
        target = inside(base, job_name, "output", "model.tar.gz", what="the output folder")
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(archive, target)
        return
    bucket, key = _split_s3(uri)
    s3.upload_file(str(archive), bucket, key)
