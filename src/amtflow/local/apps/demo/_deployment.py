"""The demo's deployment step: v1's champion is approved and served, a later champion rolls out by canary,
a deliberately broken model is rolled back while the previous one keeps serving.

moto's Model Registry sends no "SageMaker Model Package State Change" event: :func:`approve` updates the
package's approval, then puts the event SageMaker would send on the twin's bus.
"""

from __future__ import annotations

import io
import tarfile
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from botocore.exceptions import ClientError

from amtflow.adapters import DynamoDeploymentTable
from amtflow.local.apps.demo._timeline import Follower, Timeline
from amtflow.local.twin import Twin

DEPLOYMENT_SECTION: dict[str, Any] = {"canary": {"size_percent": 50, "wait_s": 2}, "keep_configs": 1}
"""The demo profile's ``deployment``: a canary of half the capacity baking for 2 seconds."""


def approve(twin: Twin, package_arn: str) -> None:
    """Approve a model package, and put the event SageMaker sends for it."""
    sm = twin.client("sagemaker")
    before = sm.describe_model_package(ModelPackageName=package_arn)
    # moto's update drops the metadata it is not given (SageMaker keeps it): hand it back
    sm.update_model_package(
        ModelPackageArn=package_arn,
        ModelApprovalStatus="Approved",
        CustomerMetadataProperties=before.get("CustomerMetadataProperties") or {},
    )
    described = sm.describe_model_package(ModelPackageName=package_arn)
    detail = {
        "ModelPackageGroupName": described["ModelPackageGroupName"],
        "ModelPackageVersion": described.get("ModelPackageVersion"),
        "ModelPackageArn": package_arn,
        "ModelPackageStatus": described.get("ModelPackageStatus", "Completed"),
        "ModelApprovalStatus": "Approved",
        "UpdatedModelPackageFields": ["ModelApprovalStatus"],
    }
    twin.put_events(
        [
            {
                "Source": "aws.sagemaker",
                "DetailType": "SageMaker Model Package State Change",
                "Resources": [package_arn],
                "Detail": detail,
            }
        ]
    )


def broken_archive() -> bytes:
    """A ``model.tar.gz`` whose ``xgboost-model`` is not a model: the container cannot start."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        data = b"this is not an XGBoost model"
        info = tarfile.TarInfo("xgboost-model")
        info.size = len(data)
        tar.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


@dataclass
class DeploymentStep:
    twin: Twin
    tl: Timeline
    follower: Follower
    timeout: float
    checks: list[tuple[str, bool]] = field(default_factory=list)
    deployments: list[dict[str, Any]] = field(default_factory=list)
    predictions: dict[str, str | None] = field(default_factory=dict)

    def run(self, model: str, group: str, endpoint: str, row: str) -> None:
        packages = self._packages(group)
        if not packages:
            self.checks.append(("deploy: v1's champion registered in the Model Registry", False))
            return
        first = packages[0]
        self.tl.line("registry", f"approve {first['ModelPackageArn']} (v1's champion)")
        approve(self.twin, first["ModelPackageArn"])
        self.follower.follow(self.timeout)
        self._outcome(model)
        prediction = self._predict(endpoint, row, first)
        self.tl.line("predict", f"InvokeEndpoint {endpoint} text/csv [{row[:40]}...] -> {prediction}")
        self.checks.append(
            (
                "deploy: v1's champion is InService and answers a prediction",
                self._serves(model, first, prediction),
            )
        )

        later = packages[-1] if len(packages) > 1 else self._copy(group, first)
        self.tl.line("registry", f"approve {later['ModelPackageArn']} (a later champion): canary rollout")
        approve(self.twin, later["ModelPackageArn"])
        self.follower.follow(self.timeout)
        self._outcome(model)
        prediction = self._predict(endpoint, row, later)
        self.tl.line("predict", f"InvokeEndpoint {endpoint} -> {prediction}")
        self.checks.append(
            (
                "deploy: a later champion rolled out by canary and serves",
                self._serves(model, later, prediction),
            )
        )

        broken = self._copy(
            group, first, model_data=broken_archive(), key=f"runs/{model}/broken/model.tar.gz"
        )
        self.tl.line("registry", f"approve {broken['ModelPackageArn']} (a deliberately broken model)")
        approve(self.twin, broken["ModelPackageArn"])
        self.follower.follow(self.timeout)
        self._outcome(model)
        prediction = self._predict(endpoint, row, None)
        self.tl.line("predict", f"InvokeEndpoint {endpoint} (the previous model) -> {prediction}")
        latest = self._latest(model)
        self.checks.append(
            (
                "deploy: the broken model rolled back, the previous model still serves",
                latest is not None and latest.outcome.value == "rolled_back" and prediction is not None,
            )
        )
        self._record(model, endpoint)

    # ------------------------------------------------------------------ helpers

    def _packages(self, group: str) -> list[Mapping[str, Any]]:
        sm = self.twin.client("sagemaker")
        try:
            listed = sm.list_model_packages(ModelPackageGroupName=group, MaxResults=100)
        except ClientError:  # no group: nothing was promoted
            return []
        return sorted(listed["ModelPackageSummaryList"], key=lambda p: p.get("ModelPackageVersion", 0))

    def _copy(
        self, group: str, package: Mapping[str, Any], *, model_data: bytes | None = None, key: str = ""
    ) -> Mapping[str, Any]:
        """A new version in ``group`` from ``package``'s container (``model_data`` replacing its model)."""
        sm = self.twin.client("sagemaker")
        described = sm.describe_model_package(ModelPackageName=package["ModelPackageArn"])
        spec = described["InferenceSpecification"]
        if model_data is not None:
            self.twin.put_object(key, model_data)
            bucket = self.twin.physical_id("DataBucket")
            spec = {**spec, "Containers": [{**spec["Containers"][0], "ModelDataUrl": f"s3://{bucket}/{key}"}]}
        arn = sm.create_model_package(
            ModelPackageGroupName=group,
            InferenceSpecification=spec,
            ModelApprovalStatus="PendingManualApproval",
            CustomerMetadataProperties=described.get("CustomerMetadataProperties", {}),
        )["ModelPackageArn"]
        return {"ModelPackageArn": arn}

    def _predict(self, endpoint: str, row: str, package: Mapping[str, Any] | None) -> str | None:
        """The endpoint's answer to ``row`` (kept as ``package``'s prediction)."""
        try:
            answer = self.twin.client("sagemaker-runtime").invoke_endpoint(
                EndpointName=endpoint, Body=row.encode(), ContentType="text/csv"
            )
        except ClientError as e:
            self.tl.line("predict", f"no prediction from {endpoint}: {type(e).__name__}")
            return None
        prediction = str(answer["Body"].read().decode()).strip()
        if package is not None:
            self.predictions[str(package["ModelPackageArn"])] = prediction
        return prediction

    def _deployment_table(self) -> DynamoDeploymentTable:
        return DynamoDeploymentTable(self.twin.client("dynamodb"), self.twin.physical_id("StateTable"))

    def _latest(self, model: str) -> Any:
        records = self._deployment_table().deployments(model)
        return records[0] if records else None

    def _outcome(self, model: str) -> None:
        """The latest deployment's outcome, with its reason when it has one (why a check fails)."""
        latest = self._latest(model)
        if latest is None:
            self.tl.line("deploy", "no deployment recorded")
            return
        reason = f": {latest.reason}" if latest.reason else ""
        self.tl.line("deploy", f"{latest.endpoint} {latest.outcome.value}{reason}")

    def _serves(self, model: str, package: Mapping[str, Any], prediction: str | None) -> bool:
        latest = self._latest(model)
        return (
            latest is not None
            and latest.package_arn == package["ModelPackageArn"]
            and latest.outcome.value == "deployed"
            and prediction is not None
        )

    def _record(self, model: str, endpoint: str) -> None:
        """The lineage's deployments, oldest first, with each deployed package's prediction."""
        for record in reversed(self._deployment_table().deployments(model)):
            self.deployments.append(
                {
                    "endpoint": record.endpoint,
                    "package": record.package_arn,
                    "status": record.outcome.value,
                    "servingConfig": record.serving_config,
                    "prediction": self.predictions.get(record.package_arn)
                    if record.outcome.value == "deployed"
                    else None,
                    "reason": record.reason,
                    "usdPerHour": record.usd_per_hour,
                    "startedAt": record.started_at.isoformat(),
                    "endedAt": record.ended_at.isoformat(),
                }
            )
        self.tl.line("deploy", f"{len(self.deployments)} deployments of {endpoint} recorded in the lineage")


def first_row(twin: Twin, model: str, version: str = "v1") -> str:
    """The first validation row of a dataset version without its label (what a caller sends)."""
    s3 = twin.client("s3")
    body = s3.get_object(
        Bucket=twin.physical_id("DataBucket"), Key=f"datasets/{model}/{version}/validation/data.csv"
    )
    line = str(body["Body"].read().decode()).splitlines()[0]
    return line.split(",", 1)[1]


def deployment_story(
    twin: Twin,
    tl: Timeline,
    follower: Follower,
    *,
    model: str,
    timeout: float,
    step: Callable[[str], None],
    check: Callable[[str, bool], None],
    job_prefix: str = "amtf",
) -> list[dict[str, Any]]:
    """Step 6 of the demo; returns the deployments for the report."""
    step(
        "v1's champion is approved -> its endpoint comes up and answers; a later champion rolls out by "
        "canary; a deliberately broken model is rolled back",
    )
    deployment = DeploymentStep(twin, tl, follower, timeout)
    name = f"{job_prefix}-{model}"
    deployment.run(model, name, name, first_row(twin, model))
    for text, ok in deployment.checks:
        check(text, ok)
    return deployment.deployments
