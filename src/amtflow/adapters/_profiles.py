"""Model profiles and dataset versions, read from the data bucket.

:class:`ProfileSpec` adapts an :class:`amtflow.profile.ModelProfile` to the application's
:class:`~amtflow.app.ModelSpec` port; :class:`StoreProfileCatalog` reads profiles from a
:class:`~amtflow.profile.ProfileStore`;
:class:`S3DatasetCatalog` finds the newest complete dataset version (the one whose marker object exists).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any

from amtflow.adapters._errors import aws_call
from amtflow.app import schedule_due
from amtflow.lineage import RunRecord
from amtflow.preflight import Finding, context_for_profile, lint_request
from amtflow.profile import (
    Budget,
    ModelProfile,
    ProfileStore,
    TrainingNetwork,
    apply_overrides,
    compile_tuning_request,
)

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client


class ProfileSpec:
    """A validated profile (overrides applied) as the application sees it.

    ``stored`` is the profile as pushed (``profile`` itself when there are no overrides): the budget caps
    and prices come from it, whatever the overrides say.
    """

    def __init__(self, profile: ModelProfile, stored: ModelProfile | None = None) -> None:
        self.profile = profile
        self.stored = stored if stored is not None else profile

    @property
    def budget(self) -> Budget:
        return self.stored.budget

    @property
    def model(self) -> str:
        return self.profile.model

    @property
    def marker(self) -> str:
        return self.profile.dataset.marker

    def schedule_due(self, now: datetime, since: datetime) -> bool:
        if not self.profile.schedule:
            return False
        return schedule_due(self.profile.schedule, now, since)

    def compile(
        self,
        *,
        job_name: str,
        data_uri: str,
        output_uri: str,
        role_arn: str,
        tags: Mapping[str, str],
        network: TrainingNetwork | None = None,
    ) -> dict[str, Any]:
        return compile_tuning_request(
            self.profile,
            job_name=job_name,
            data_uri=data_uri,
            output_uri=output_uri,
            role_arn=role_arn,
            tags=tags,
            network=network,
        )

    def preflight(
        self,
        request: Mapping[str, Any],
        *,
        month_to_date_usd: float | None = None,
        history: Sequence[RunRecord] = (),
        now: datetime | None = None,
    ) -> Sequence[Finding]:
        context = context_for_profile(
            self.profile,
            request,
            month_to_date_usd=month_to_date_usd,
            history=history,
            now=now,
            budget=self.budget,
        )
        return lint_request(request, context, source=f"profile {self.model}", from_profile=True).findings


class StoreProfileCatalog:
    """Implements :class:`~amtflow.app.ProfileCatalog` over a :class:`~amtflow.profile.ProfileStore`
    (S3 in production, in memory in tests)."""

    def __init__(self, store: ProfileStore) -> None:
        self._store = store

    def get(self, model: str, overrides: Mapping[str, Any] | None = None) -> ProfileSpec:
        stored = self._store.get(model)
        return ProfileSpec(apply_overrides(stored, overrides), stored)

    def models(self) -> Sequence[str]:
        return self._store.list()


class S3DatasetCatalog:
    """Implements :class:`~amtflow.app.DatasetCatalog`: versions are folders under ``datasets/<model>/``;
    the newest complete one is the one whose marker object was written last."""

    def __init__(self, client: S3Client, bucket: str, prefix: str = "datasets/") -> None:
        self._s3 = client
        self._bucket = bucket
        self._prefix = prefix

    def latest_version(self, model: str, marker: str) -> str | None:
        root = f"{self._prefix}{model}/"
        newest: tuple[datetime, str] | None = None
        with aws_call(f"listing s3://{self._bucket}/{root}"):
            for page in self._s3.get_paginator("list_objects_v2").paginate(Bucket=self._bucket, Prefix=root):
                for item in page.get("Contents", []):
                    parts = item["Key"][len(root) :].split("/")
                    if len(parts) == 2 and parts[1] == marker and parts[0]:
                        candidate = (item["LastModified"], parts[0])
                        if newest is None or candidate > newest:
                            newest = candidate
        return newest[1] if newest else None
