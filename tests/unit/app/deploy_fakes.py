"""In-memory SageMaker hosting and the deployment's stores, for the deployment's use-case tests."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any

from app_fakes import T0

from amtflow.app import (
    ConfigSummary,
    DeploymentRecord,
    EndpointState,
    EndpointStatus,
    ModelPackage,
    ParkedDeployment,
)
from amtflow.errors import ConflictError, DeploymentBusyError, NotFoundError
from amtflow.messages import LockRef

PREFIX = "amtf"
GROUP = f"{PREFIX}-cancer-xgb"


def package_arn(version: int) -> str:
    return f"arn:aws:sagemaker:us-east-1:123456789012:model-package/{GROUP}/{version}"


@dataclass
class Hosting:
    """Models, endpoint configurations and endpoints as SageMaker keeps them; endpoints move only when a
    test says (:meth:`settle`)."""

    packages: dict[str, ModelPackage] = field(default_factory=dict)
    models: dict[str, Mapping[str, Any]] = field(default_factory=dict)
    configs: dict[str, Mapping[str, Any]] = field(default_factory=dict)
    created: dict[str, datetime] = field(default_factory=dict)
    endpoints: dict[str, EndpointState] = field(default_factory=dict)
    updates: list[Mapping[str, Any]] = field(default_factory=list)
    deleted: list[str] = field(default_factory=list)
    calls: list[str] = field(default_factory=list)

    def add_package(self, version: int, *, approval: str = "Approved", model: str = "cancer-xgb") -> str:
        arn = package_arn(version)
        self.packages[arn] = ModelPackage(
            arn=arn,
            group=GROUP,
            version=version,
            approval=approval,
            image="683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-xgboost:1.7-1",
            model_data_url=f"s3://bucket/runs/cancer-xgb/v{version}/model.tar.gz",
            metadata={"amtflow:model": model} if model else {},
        )
        return arn

    def describe_model_package(self, arn: str) -> ModelPackage:
        if arn not in self.packages:
            raise NotFoundError(f"model package {arn} does not exist")
        return self.packages[arn]

    def model_exists(self, name: str) -> bool:
        return name in self.models

    def create_model(self, request: Mapping[str, Any]) -> None:
        self.calls.append("CreateModel")
        if request["ModelName"] in self.models:
            raise ConflictError("Cannot create already existing model")
        self.models[request["ModelName"]] = request

    def config_exists(self, name: str) -> bool:
        return name in self.configs

    def create_endpoint_config(self, request: Mapping[str, Any]) -> None:
        self.calls.append("CreateEndpointConfig")
        name = request["EndpointConfigName"]
        if name in self.configs:
            raise ConflictError("Cannot create already existing endpoint configuration")
        self.configs[name] = request
        self.created[name] = T0 + timedelta(minutes=len(self.created))

    def describe_endpoint(self, name: str) -> EndpointState | None:
        return self.endpoints.get(name)

    def create_endpoint(self, request: Mapping[str, Any]) -> None:
        self.calls.append("CreateEndpoint")
        name = request["EndpointName"]
        if name in self.endpoints:
            raise ConflictError("Cannot create already existing endpoint")
        self.endpoints[name] = EndpointState(name, EndpointStatus.CREATING, request["EndpointConfigName"])

    def update_endpoint(self, request: Mapping[str, Any]) -> None:
        self.calls.append("UpdateEndpoint")
        current = self.endpoints[request["EndpointName"]]
        self.updates.append(request)
        self.endpoints[current.name] = replace(
            current, status=EndpointStatus.UPDATING, pending_config=request["EndpointConfigName"]
        )

    def settle(self, endpoint: str, *, rollback: str | None = None, fail: str | None = None) -> None:
        current = self.endpoints[endpoint]
        if fail is not None:
            self.endpoints[endpoint] = replace(current, status=EndpointStatus.FAILED, failure_reason=fail)
        elif rollback is not None:
            self.endpoints[endpoint] = replace(
                current, status=EndpointStatus.IN_SERVICE, failure_reason=rollback, pending_config=None
            )
        else:
            config = current.pending_config or current.config_name
            self.endpoints[endpoint] = EndpointState(endpoint, EndpointStatus.IN_SERVICE, config)

    def delete_endpoint(self, name: str) -> None:
        """The endpoint is Deleting until the test says it is gone (:meth:`gone`)."""
        self.calls.append("DeleteEndpoint")
        if name in self.endpoints:
            self.endpoints[name] = replace(self.endpoints[name], status=EndpointStatus.DELETING)

    def gone(self, endpoint: str) -> None:
        del self.endpoints[endpoint]

    def endpoint_configs(self, prefix: str) -> Sequence[ConfigSummary]:
        found = [ConfigSummary(n, self.created[n]) for n in self.configs if n.startswith(prefix)]
        return sorted(found, key=lambda c: c.created_at, reverse=True)

    def delete_endpoint_config(self, name: str) -> None:
        self.configs.pop(name, None)
        self.models.pop(name, None)
        self.deleted.append(name)


@dataclass
class Alarms:
    existing: set[str] = field(default_factory=set)
    put_requests: list[Mapping[str, Any]] = field(default_factory=list)

    def missing(self, names: Sequence[str]) -> Sequence[str]:
        return [n for n in names if n not in self.existing]

    def put(self, request: Mapping[str, Any]) -> None:
        self.put_requests.append(request)
        self.existing.add(request["AlarmName"])


@dataclass
class Tokens:
    items: dict[str, ParkedDeployment] = field(default_factory=dict)

    def park(self, parked: ParkedDeployment) -> None:
        self.items[parked.endpoint] = parked

    def claim(self, endpoint: str) -> ParkedDeployment | None:
        return self.items.pop(endpoint, None)

    def parked(self) -> Sequence[ParkedDeployment]:
        return list(self.items.values())


@dataclass
class Locks:
    held: dict[str, tuple[str, datetime]] = field(default_factory=dict)

    def acquire(self, model: str, owner: str, *, now: datetime, until: datetime) -> LockRef:
        holder = self.held.get(model)
        if holder is not None and holder[0] != owner and holder[1] > now:
            raise DeploymentBusyError(f"a deployment of {model} ({holder[0]}) is in progress")
        self.held[model] = (owner, until)
        return LockRef(pk=f"MODEL#{model}", sk="DEPLOYMENT", owner=owner)

    def release(self, model: str, owner: str) -> None:
        if self.held.get(model, ("", T0))[0] == owner:
            del self.held[model]


@dataclass
class Ledger:
    records: dict[str, DeploymentRecord] = field(default_factory=dict)

    def record(self, record: DeploymentRecord) -> None:
        self.records[record.execution] = record

    def deployments(self, model: str) -> Sequence[DeploymentRecord]:
        found = [r for r in self.records.values() if r.model == model]
        return sorted(found, key=lambda r: r.started_at, reverse=True)
