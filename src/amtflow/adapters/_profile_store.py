"""The S3 :class:`~amtflow.profile.ProfileStore`: ``s3://<bucket>/<prefix><model>.yaml``, the text exactly
as written."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from amtflow.adapters._errors import ErrorFor, aws_call
from amtflow.errors import ConfigurationError, ProfileNotFoundError
from amtflow.profile import MODEL_NAME_PATTERN, ModelProfile, load_profile, profile_key

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

_MODEL = re.compile(MODEL_NAME_PATTERN)
_SUFFIX = ".yaml"
_NO_SUCH_KEY = ("NoSuchKey", "404", "NotFound")
_ACCESS_DENIED = ("AccessDenied", "403", "Forbidden")


def _folder(prefix: str) -> str:
    return prefix if not prefix or prefix.endswith("/") else prefix + "/"


class S3ProfileStore:
    """A :class:`ProfileStore` on S3 (``s3://<bucket>/<prefix><model>.yaml``); the client is injected."""

    def __init__(self, client: S3Client, bucket: str, prefix: str = "profiles/") -> None:
        if not bucket:
            raise ConfigurationError("the profile store needs a bucket; set AMTFLOW_DATA_BUCKET")
        self._s3 = client
        self._bucket = bucket
        self._prefix = _folder(prefix)

    def uri(self, model: str) -> str:
        return f"s3://{self._bucket}/{profile_key(model, self._prefix)}"

    def get(self, model: str) -> ModelProfile:
        key = profile_key(model, self._prefix)
        uri = f"s3://{self._bucket}/{key}"
        missing = ProfileNotFoundError(
            f"no profile for model {model!r}: looked at {uri}; push one with "
            f"`amtflow profiles push <file> --bucket {self._bucket}`"
        )
        errors = {**self._errors(uri), **dict.fromkeys(_NO_SUCH_KEY, lambda e: missing)}
        with aws_call(f"reading {uri}", errors=errors):
            body = self._s3.get_object(Bucket=self._bucket, Key=key)["Body"].read()
        profile = load_profile(body, source=uri)
        if profile.model != model:
            raise ProfileNotFoundError(
                f"{uri} holds the profile of model {profile.model!r}, not {model!r}; "
                f"push it again so the key matches its 'model'"
            )
        return profile

    def list(self) -> list[str]:
        models: list[str] = []
        uri = f"s3://{self._bucket}/{self._prefix}"
        with aws_call(f"listing {uri}", errors=self._errors(uri)):
            paginator = self._s3.get_paginator("list_objects_v2")
            for page in paginator.paginate(Bucket=self._bucket, Prefix=self._prefix):
                for obj in page.get("Contents", []):
                    rest = obj["Key"][len(self._prefix) :]
                    if "/" in rest or not rest.endswith(_SUFFIX):
                        continue
                    name = rest[: -len(_SUFFIX)]
                    if _MODEL.fullmatch(name):
                        models.append(name)
        return sorted(models)

    def put(self, profile_text: str) -> ModelProfile:
        profile = load_profile(profile_text)
        key = profile_key(profile.model, self._prefix)
        uri = f"s3://{self._bucket}/{key}"
        with aws_call(f"writing {uri}", errors=self._errors(uri)):
            self._s3.put_object(
                Bucket=self._bucket,
                Key=key,
                Body=profile_text.encode("utf-8"),
                ContentType="application/yaml",
            )
        return profile

    def _errors(self, uri: str) -> dict[str, ErrorFor]:
        """A missing bucket and a refused access are the store's configuration, named for the user."""
        no_bucket = ConfigurationError(
            f"bucket {self._bucket!r} does not exist ({uri}); check AMTFLOW_DATA_BUCKET or --bucket"
        )
        denied = ConfigurationError(f"access denied to {uri}; grant s3:GetObject/PutObject/ListBucket on it")
        return {"NoSuchBucket": lambda e: no_bucket, **dict.fromkeys(_ACCESS_DENIED, lambda e: denied)}
