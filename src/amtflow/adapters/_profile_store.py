"""The S3 :class:`~amtflow.profile.ProfileStore`: ``s3://<bucket>/<prefix><model>.yaml``, the text exactly
as written."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from botocore.exceptions import BotoCoreError, ClientError

from amtflow.errors import (
    AmtflowError,
    ConfigurationError,
    ProfileNotFoundError,
    TransientError,
)
from amtflow.profile import MODEL_NAME_PATTERN, ModelProfile, load_profile, profile_key

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

_MODEL = re.compile(MODEL_NAME_PATTERN)
_SUFFIX = ".yaml"
_THROTTLING = frozenset(
    {"SlowDown", "Throttling", "ThrottlingException", "RequestTimeout", "ServiceUnavailable"}
)


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
        try:
            body = self._s3.get_object(Bucket=self._bucket, Key=key)["Body"].read()
        except ClientError as e:
            code = e.response.get("Error", {}).get("Code", "")
            if code in ("NoSuchKey", "404", "NotFound"):
                raise ProfileNotFoundError(
                    f"no profile for model {model!r}: looked at {uri}; push one with "
                    f"`amtflow profiles push <file> --bucket {self._bucket}`"
                ) from e
            raise self._translate(e, uri) from e
        except BotoCoreError as e:
            raise TransientError(f"could not read {uri}: {e}; retry") from e
        profile = load_profile(body, source=uri)
        if profile.model != model:
            raise ProfileNotFoundError(
                f"{uri} holds the profile of model {profile.model!r}, not {model!r}; "
                f"push it again so the key matches its 'model'"
            )
        return profile

    def list(self) -> list[str]:
        models: list[str] = []
        try:
            paginator = self._s3.get_paginator("list_objects_v2")
            for page in paginator.paginate(Bucket=self._bucket, Prefix=self._prefix):
                for obj in page.get("Contents", []):
                    rest = obj["Key"][len(self._prefix) :]
                    if "/" in rest or not rest.endswith(_SUFFIX):
                        continue
                    name = rest[: -len(_SUFFIX)]
                    if _MODEL.fullmatch(name):
                        models.append(name)
        except ClientError as e:
            raise self._translate(e, f"s3://{self._bucket}/{self._prefix}") from e
        except BotoCoreError as e:
            raise TransientError(f"could not list s3://{self._bucket}/{self._prefix}: {e}; retry") from e
        return sorted(models)

    def put(self, profile_text: str) -> ModelProfile:
        profile = load_profile(profile_text)
        key = profile_key(profile.model, self._prefix)
        try:
            self._s3.put_object(
                Bucket=self._bucket,
                Key=key,
                Body=profile_text.encode("utf-8"),
                ContentType="application/yaml",
            )
        except ClientError as e:
            raise self._translate(e, f"s3://{self._bucket}/{key}") from e
        except BotoCoreError as e:
            raise TransientError(f"could not write s3://{self._bucket}/{key}: {e}; retry") from e
        return profile

    def _translate(self, error: ClientError, uri: str) -> Exception:
        code = error.response.get("Error", {}).get("Code", "")
        if code == "NoSuchBucket":
            return ConfigurationError(
                f"bucket {self._bucket!r} does not exist ({uri}); check AMTFLOW_DATA_BUCKET or --bucket"
            )
        if code in ("AccessDenied", "403", "Forbidden"):
            return ConfigurationError(
                f"access denied to {uri}; grant s3:GetObject/PutObject/ListBucket on it"
            )
        if code in _THROTTLING or code.startswith("5"):
            return TransientError(f"S3 is busy ({code}) for {uri}; retry")
        return AmtflowError(f"S3 error {code or 'unknown'} for {uri}: {error}")
