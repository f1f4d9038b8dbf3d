"""Register a promoted model in the SageMaker Model Registry.

:func:`build_model_package_request` is pure: it builds the exact ``CreateModelPackage`` request — one model
package group per model, the objective and the lineage in ``CustomerMetadataProperties`` (values cleaned to
the characters the API accepts and cut to 256), the approval status from the model's profile, and a
deterministic ``ClientToken`` (uuid5 of the tuning job) so a retried registration creates nothing twice.
:func:`amtflow.adapters.register_model_package` sends it with an injected SageMaker client.
"""

from __future__ import annotations

import re
import unicodedata
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from amtflow.errors import InvalidInputError
from amtflow.lineage._promotion import Challenger
from amtflow.vocabulary import ApprovalStatus as ApprovalStatus

CLIENT_TOKEN_NAMESPACE = uuid.uuid5(uuid.NAMESPACE_URL, "amtflow:model-package")
_GROUP_RE = re.compile(r"[a-zA-Z0-9]([a-zA-Z0-9-]){0,62}(?<!-)")
_METADATA_EXTRA = frozenset("_.:/=+-@")
_MAX_METADATA = 50


@dataclass(frozen=True)
class RegistryConfig:
    """Registration settings from the model's profile. ``group_name`` defaults to one derived from the model
    name (and ``group_prefix``); ``inference_image`` defaults to the training image (true for the built-in
    algorithms)."""

    approval_status: ApprovalStatus = ApprovalStatus.PENDING_MANUAL_APPROVAL
    group_name: str | None = None
    group_prefix: str = ""
    content_types: tuple[str, ...] = ("text/csv",)
    response_types: tuple[str, ...] = ("text/csv",)
    inference_image: str | None = None


def model_package_group_name(model: str, prefix: str = "") -> str:
    """A valid model package group name for ``model``: letters, digits and single hyphens, at most 63."""
    raw = f"{prefix}-{model}" if prefix else model
    slug = re.sub(r"[^a-zA-Z0-9]+", "-", raw).strip("-")[:63].rstrip("-")
    if not slug or not _GROUP_RE.fullmatch(slug):
        raise InvalidInputError(
            f"cannot derive a model package group name from model {model!r}; use letters and digits in the "
            "model name.",
            field="model",
        )
    return slug


def client_token(tuning_job: str) -> str:
    """The idempotency token of a tuning job's registration (36 characters, ``[a-zA-Z0-9-]``)."""
    return str(uuid.uuid5(CLIENT_TOKEN_NAMESPACE, tuning_job))


def metadata_value(text: str, limit: int = 256) -> str:
    """``text`` with every character the API rejects in metadata replaced by ``-``, cut to ``limit``."""
    out = []
    for ch in text:
        ok = (
            ch.isalpha()
            or ch.isnumeric()
            or unicodedata.category(ch).startswith("Z")
            or ch in _METADATA_EXTRA
        )
        out.append(ch if ok else "-")
    cleaned = "".join(out)[:limit]
    return cleaned or "-"


def build_model_package_request(
    challenger: Challenger,
    config: RegistryConfig | None = None,
    *,
    parents: Sequence[str] = (),
    warm_start_type: str | None = None,
    reason: str = "",
    generated_by: str = "",
    extra_metadata: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """The ``CreateModelPackage`` request registering ``challenger`` in its model's group."""
    cfg = config or RegistryConfig()
    if not challenger.model_artifact.startswith("s3://"):
        raise InvalidInputError(
            f"model artifact {challenger.model_artifact!r} is not an S3 URI; pass the training job's "
            "ModelArtifacts.S3ModelArtifacts.",
            field="challenger.model_artifact",
        )
    if cfg.group_name is not None and not _GROUP_RE.fullmatch(cfg.group_name):
        raise InvalidInputError(
            f"model package group {cfg.group_name!r} is not a valid name: use letters, digits and hyphens, "
            "at most 63 characters, starting and ending with a letter or digit.",
            field="promotion.model_package_group",
        )
    metadata: dict[str, str] = {
        "amtflow:model": challenger.model,
        "amtflow:objective-metric": challenger.objective_metric,
        "amtflow:objective-type": challenger.objective_type.value,
        "amtflow:objective-value": repr(challenger.objective_value),
        "amtflow:tuning-job": challenger.tuning_job,
        "amtflow:training-job": challenger.training_job,
        "amtflow:dataset-version": challenger.dataset_version,
        "amtflow:data-fingerprint": challenger.data_fingerprint,
    }
    if challenger.run_id:
        metadata["amtflow:run-id"] = challenger.run_id
    if warm_start_type:
        metadata["amtflow:warm-start-type"] = warm_start_type
    if parents:
        metadata["amtflow:parents"] = " ".join(parents)
    if reason:
        metadata["amtflow:reason"] = reason
    for key, value in (extra_metadata or {}).items():
        metadata[key] = value
    if len(metadata) > _MAX_METADATA:
        raise InvalidInputError(
            f"{len(metadata)} metadata properties exceed the Model Registry's {_MAX_METADATA}; pass fewer "
            "extra_metadata entries.",
            field="extra_metadata",
        )
    request: dict[str, Any] = {
        "ModelPackageGroupName": (
            cfg.group_name or model_package_group_name(challenger.model, cfg.group_prefix)
        ),
        "ModelPackageDescription": metadata_value(
            f"{challenger.model} best of {challenger.tuning_job}: {challenger.objective_metric} "
            f"{challenger.objective_value:.6g} on dataset {challenger.dataset_version}",
            1024,
        ),
        "InferenceSpecification": {
            "Containers": [
                {
                    "Image": cfg.inference_image or challenger.training_image,
                    "ModelDataUrl": challenger.model_artifact,
                }
            ],
            "SupportedContentTypes": list(cfg.content_types),
            "SupportedResponseMIMETypes": list(cfg.response_types),
        },
        "ModelApprovalStatus": cfg.approval_status.value,
        "CustomerMetadataProperties": {
            metadata_value(k, 128): metadata_value(v) for k, v in metadata.items()
        },
        "ClientToken": client_token(challenger.tuning_job),
    }
    if generated_by:
        request["MetadataProperties"] = {"GeneratedBy": generated_by[:1024]}
    return request
