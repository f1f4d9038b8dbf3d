"""Hosting records: models, endpoint configurations, endpoints and the fleets that serve them.

A :class:`Fleet` is the serving processes of one endpoint configuration (one process per production
variant). An :class:`Endpoint` has the fleet in service and, while an update moves to a new configuration,
the new fleet with the share of the traffic it already takes. Answers are the JSON the service sends
(timestamps as epoch seconds); ARNs hold the names lower-cased, as SageMaker's do.
"""

from __future__ import annotations

import random
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from amtflow.local.engine._model import ACCOUNT_ID
from amtflow.local.engine._serving import ServingProcess

#: The hosting operations of the ``sagemaker`` API the engine serves.
HOSTING_OPERATIONS = frozenset(
    {
        "CreateModel",
        "DescribeModel",
        "DeleteModel",
        "ListModels",
        "CreateEndpointConfig",
        "DescribeEndpointConfig",
        "DeleteEndpointConfig",
        "ListEndpointConfigs",
        "CreateEndpoint",
        "DescribeEndpoint",
        "UpdateEndpoint",
        "DeleteEndpoint",
        "ListEndpoints",
    }
)


class EndpointStatus(StrEnum):
    CREATING = "Creating"
    UPDATING = "Updating"
    IN_SERVICE = "InService"
    DELETING = "Deleting"
    FAILED = "Failed"

    def event_spelling(self) -> str:
        """The status as the state-change events spell it (``IN_SERVICE``)."""
        return {"InService": "IN_SERVICE"}.get(self.value, self.value.upper())


def hosting_arn(region: str, kind: str, name: str) -> str:
    return f"arn:aws:sagemaker:{region or 'us-east-1'}:{ACCOUNT_ID}:{kind}/{name.lower()}"


@dataclass
class Model:
    name: str
    arn: str
    request: dict[str, Any]
    creation_time: float

    @property
    def container(self) -> dict[str, Any]:
        return dict(self.request.get("PrimaryContainer") or {})

    def to_api(self) -> dict[str, Any]:
        out = {k: v for k, v in self.request.items() if k != "Tags"}
        return {**out, "ModelArn": self.arn, "CreationTime": self.creation_time}

    def to_doc(self) -> dict[str, Any]:
        """The document kept in the state folder: the request (tags included), the ARN, the time."""
        return {**self.request, "ModelArn": self.arn, "CreationTime": self.creation_time}

    @classmethod
    def from_doc(cls, doc: dict[str, Any]) -> Model:
        request = {k: v for k, v in doc.items() if k not in ("ModelArn", "CreationTime")}
        return cls(str(doc["ModelName"]), str(doc["ModelArn"]), request, float(doc["CreationTime"]))


@dataclass
class EndpointConfig:
    name: str
    arn: str
    request: dict[str, Any]
    creation_time: float

    @property
    def variants(self) -> list[dict[str, Any]]:
        return list(self.request["ProductionVariants"])

    def to_api(self) -> dict[str, Any]:
        out = {k: v for k, v in self.request.items() if k != "Tags"}
        return {**out, "EndpointConfigArn": self.arn, "CreationTime": self.creation_time}

    def to_doc(self) -> dict[str, Any]:
        return {**self.request, "EndpointConfigArn": self.arn, "CreationTime": self.creation_time}

    @classmethod
    def from_doc(cls, doc: dict[str, Any]) -> EndpointConfig:
        request = {k: v for k, v in doc.items() if k not in ("EndpointConfigArn", "CreationTime")}
        if not isinstance(request.get("ProductionVariants"), list):
            raise ValueError("ProductionVariants is not a list")
        name = str(doc["EndpointConfigName"])
        return cls(name, str(doc["EndpointConfigArn"]), request, float(doc["CreationTime"]))


@dataclass
class Fleet:
    """The serving processes of one endpoint configuration, by variant name, and how traffic splits."""

    config: EndpointConfig
    images: dict[str, str]  # variant name -> the model's image
    processes: dict[str, ServingProcess] = field(default_factory=dict)
    started: float = 0.0
    _random: random.Random = field(default_factory=lambda: random.Random(0))  # noqa: S311 (routing)

    def weights(self) -> dict[str, float]:
        return {v["VariantName"]: float(v.get("InitialVariantWeight", 1.0)) for v in self.config.variants}

    def pick(self, target: str | None) -> tuple[str, ServingProcess] | None:
        """The variant a call goes to: the target variant when named, else by the variants' weights."""
        if target is not None:
            process = self.processes.get(target)
            return (target, process) if process is not None else None
        weights = self.weights()
        names = [n for n in weights if n in self.processes]
        if not names:
            return None
        total = sum(weights[n] for n in names)
        name = names[0] if total <= 0 else self._random.choices(names, [weights[n] for n in names])[0]
        return name, self.processes[name]

    def died(self) -> str | None:
        """Why one of the fleet's processes is gone, or None while all run."""
        for process in self.processes.values():
            reason = process.died()
            if reason is not None:
                return reason
        return None

    def stop(self, grace: float) -> None:
        for process in self.processes.values():
            process.stop(grace)

    def summary(self, share: float, pending: str | None = None, since: float = 0.0) -> list[dict[str, Any]]:
        """``ProductionVariants`` of DescribeEndpoint (``share``: this fleet's part of the traffic)."""
        weights = self.weights()
        rows = []
        for variant in self.config.variants:
            name = variant["VariantName"]
            count = int(variant.get("InitialInstanceCount", 1))
            row: dict[str, Any] = {
                "VariantName": name,
                "DeployedImages": [
                    {
                        "SpecifiedImage": self.images.get(name, ""),
                        "ResolvedImage": self.images.get(name, ""),
                        "ResolutionTime": self.started,
                    }
                ],
                "CurrentWeight": weights[name] * share,
                "DesiredWeight": weights[name],
                "CurrentInstanceCount": count,
                "DesiredInstanceCount": count,
            }
            if pending is not None:
                row["VariantStatus"] = [{"Status": pending, "StartTime": since}]
            rows.append(row)
        return rows


@dataclass
class Endpoint:
    name: str
    arn: str
    region: str
    config_name: str
    creation_time: float
    last_modified_time: float
    status: EndpointStatus = EndpointStatus.CREATING
    failure_reason: str | None = None
    tags: list[dict[str, Any]] = field(default_factory=list)
    deployment_config: dict[str, Any] | None = None
    #: the production variants of the configuration in service (or being created)
    variants: list[dict[str, Any]] = field(default_factory=list)
    fleet: Fleet | None = None
    #: while an update runs: the new configuration's fleet, the share of calls it takes, what it does
    pending: Fleet | None = None
    pending_config: str | None = None
    pending_share: float = 0.0
    pending_status: str = "Creating"
    pending_since: float = 0.0
    #: the configuration and models the fleet in service was started from (what a restart serves again)
    deployed: dict[str, Any] | None = None
    calls: int = 0
    cancel: threading.Event = field(default_factory=threading.Event)

    def deploy(self, config: EndpointConfig, models: Mapping[str, Model]) -> None:
        """Remember ``config`` and its ``models`` as what the endpoint serves (deleting them later does not
        take the endpoint down, as on SageMaker)."""
        self.deployed = {
            "EndpointConfig": config.to_doc(),
            "Models": [model.to_doc() for model in models.values()],
        }

    def deployment(self) -> tuple[EndpointConfig, dict[str, Model]] | None:
        """The configuration and models of :meth:`deploy`, or None if none were kept."""
        if not self.deployed:
            return None
        config = EndpointConfig.from_doc(dict(self.deployed["EndpointConfig"]))
        models = [Model.from_doc(dict(doc)) for doc in self.deployed["Models"]]
        return config, {model.name.lower(): model for model in models}

    def to_doc(self) -> dict[str, Any]:
        """The document kept in the state folder (an update in progress is not kept: a restart serves the
        configuration that was in service)."""
        return {
            "EndpointName": self.name,
            "EndpointArn": self.arn,
            "Region": self.region,
            "EndpointConfigName": self.config_name,
            "CreationTime": self.creation_time,
            "LastModifiedTime": self.last_modified_time,
            "EndpointStatus": self.status.value,
            "FailureReason": self.failure_reason,
            "Tags": self.tags,
            "LastDeploymentConfig": self.deployment_config,
            "ProductionVariants": self.variants,
            "PendingEndpointConfigName": self.pending_config,
            "Deployed": self.deployed,
        }

    @classmethod
    def from_doc(cls, doc: dict[str, Any]) -> Endpoint:
        return cls(
            str(doc["EndpointName"]),
            str(doc["EndpointArn"]),
            str(doc.get("Region") or "us-east-1"),
            str(doc["EndpointConfigName"]),
            float(doc["CreationTime"]),
            float(doc["LastModifiedTime"]),
            status=EndpointStatus(doc["EndpointStatus"]),
            failure_reason=doc.get("FailureReason"),
            tags=list(doc.get("Tags") or []),
            deployment_config=doc.get("LastDeploymentConfig"),
            variants=list(doc.get("ProductionVariants") or []),
            deployed=doc.get("Deployed"),
            pending_config=doc.get("PendingEndpointConfigName"),
        )

    def route(self, target: str | None) -> tuple[str, ServingProcess] | None:
        """Where the next call goes. While traffic shifts, calls alternate so that the new fleet takes
        exactly its share (of every run of calls), the rest stays on the fleet in service."""
        self.calls += 1
        share = self.pending_share if self.pending is not None else 0.0
        to_new = int(self.calls * share) > int((self.calls - 1) * share)
        fleet = self.pending if to_new and self.pending is not None else self.fleet
        return fleet.pick(target) if fleet is not None else None

    def to_api(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "EndpointName": self.name,
            "EndpointArn": self.arn,
            "EndpointConfigName": self.config_name,
            "EndpointStatus": self.status.value,
            "CreationTime": self.creation_time,
            "LastModifiedTime": self.last_modified_time,
        }
        if self.fleet is not None:
            share = 1.0 - (self.pending_share if self.pending is not None else 0.0)
            out["ProductionVariants"] = self.fleet.summary(share)
        if self.failure_reason:
            out["FailureReason"] = self.failure_reason
        if self.deployment_config:
            out["LastDeploymentConfig"] = self.deployment_config
        if self.pending_config is not None:
            fleet = self.pending
            out["PendingDeploymentSummary"] = {
                "EndpointConfigName": self.pending_config,
                "StartTime": self.pending_since,
                **(
                    {
                        "ProductionVariants": fleet.summary(
                            self.pending_share, self.pending_status, self.pending_since
                        )
                    }
                    if fleet is not None
                    else {}
                ),
            }
        return out

    def event_detail(self) -> dict[str, Any]:
        """The detail of a "SageMaker Endpoint State Change" event (times in epoch milliseconds)."""
        variants = self.variants
        detail: dict[str, Any] = {
            "EndpointName": self.name,
            "EndpointArn": self.arn,
            "EndpointConfigName": self.config_name,
            "ProductionVariants": [
                {
                    "VariantName": v["VariantName"],
                    "DesiredWeight": float(v.get("InitialVariantWeight", 1.0)),
                    "DesiredInstanceCount": float(v.get("InitialInstanceCount", 1)),
                }
                for v in variants
            ],
            "EndpointStatus": self.status.event_spelling(),
            "CreationTime": float(int(self.creation_time * 1000)),
            "LastModifiedTime": float(int(self.last_modified_time * 1000)),
            "Tags": {t["Key"]: t.get("Value", "") for t in self.tags},
        }
        if self.failure_reason:
            detail["FailureReason"] = self.failure_reason
        return detail
