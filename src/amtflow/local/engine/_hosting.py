"""SageMaker hosting served by the engine: models, endpoint configurations, endpoints and InvokeEndpoint.

Requests are checked against botocore's model of the operation (names, lengths, ranges) and then as the
service checks them: a duplicate name is ``ValidationException: Cannot create already existing model
"<arn>"``, an unknown one ``Could not find endpoint "<arn>"`` (also ``model``, ``endpoint configuration``),
an endpoint that is being created, updated or deleted refuses UpdateEndpoint and DeleteEndpoint
(``Cannot update in-progress endpoint "<arn>"``) and a ``Failed`` one can only be deleted. Every status
change of an endpoint is a "SageMaker Endpoint State Change" event. The deployments themselves run in
:mod:`._rollout`; InvokeEndpoint is answered by the endpoint's serving processes (:mod:`._serving`).
"""

from __future__ import annotations

import copy
import threading
from collections.abc import Callable, Mapping
from typing import Any
from urllib.parse import urlparse

from amtflow.local.engine._endpoints import (
    Endpoint,
    EndpointConfig,
    EndpointStatus,
    Model,
    hosting_arn,
)
from amtflow.local.engine._events import EventPublisher
from amtflow.local.engine._images import ImageMap
from amtflow.local.engine._model import ACCOUNT_ID, Clock, ErrorCode, ServiceError, validation
from amtflow.local.engine._paths import check_environment, check_uri, local_path
from amtflow.local.engine._rollout import Rollout
from amtflow.local.engine._service import MAX_TAGS, page
from amtflow.local.engine._store import Store
from amtflow.local.engine._validation import check_shape

MAX_BODY_BYTES = 6_291_456  # InvokeEndpoint's payload limit, each way
#: InvokeEndpoint's request headers a container receives.
_FORWARDED = frozenset({"content-type", "accept", "x-amzn-sagemaker-custom-attributes"})
_IN_PROGRESS = (EndpointStatus.CREATING, EndpointStatus.UPDATING, EndpointStatus.DELETING)

Handler = Callable[[Mapping[str, Any], str], dict[str, Any]]


def _not_found(kind: str, region: str, name: str) -> ServiceError:
    label = {"endpoint-config": "endpoint configuration"}.get(kind, kind)
    return validation(f'Could not find {label} "{hosting_arn(region, kind, name)}".')


class Hosting:
    """The engine's models, endpoint configurations and endpoints, each saved in the state folder on every
    change (a restart serves them again: :mod:`._restart`)."""

    def __init__(
        self,
        *,
        store: Store,
        clock: Clock,
        events: EventPublisher,
        image_map: ImageMap,
        s3: Callable[[], Any],
        cloudwatch: Any = None,
        stop_grace_seconds: float = 2.0,
        startup_seconds: float | None = None,
    ) -> None:
        self.lock = threading.RLock()
        self.store = store
        self.clock = clock
        self.events = events
        self.image_map = image_map
        self.models: dict[str, Model] = {}
        self.configs: dict[str, EndpointConfig] = {}
        self.endpoints: dict[str, Endpoint] = {}
        self.grace = stop_grace_seconds
        self.s3 = s3
        self.rollout = Rollout(
            lock=self.lock,
            clock=clock,
            image_map=image_map,
            root=store.path("endpoints"),
            s3=s3,
            cloudwatch=cloudwatch,
            changed=self._changed,
            stop_grace_seconds=stop_grace_seconds,
            **({"startup_seconds": startup_seconds} if startup_seconds is not None else {}),
        )

    def handlers(self) -> dict[str, Handler]:
        return {
            "CreateModel": self.create_model,
            "DescribeModel": lambda p, r: self._model(p["ModelName"], r).to_api(),
            "DeleteModel": self.delete_model,
            "ListModels": lambda p, _: self._list(p, self.models, "Models", "Model"),
            "CreateEndpointConfig": self.create_endpoint_config,
            "DescribeEndpointConfig": lambda p, r: self._config(p["EndpointConfigName"], r).to_api(),
            "DeleteEndpointConfig": self.delete_endpoint_config,
            "ListEndpointConfigs": lambda p, _: self._list(
                p, self.configs, "EndpointConfigs", "EndpointConfig"
            ),
            "CreateEndpoint": self.create_endpoint,
            "DescribeEndpoint": self.describe_endpoint,
            "UpdateEndpoint": self.update_endpoint,
            "DeleteEndpoint": self.delete_endpoint,
            "ListEndpoints": self.list_endpoints,
        }

    def _changed(self, endpoint: Endpoint) -> None:
        """Save the endpoint and queue its state-change event, under the lock: once DescribeEndpoint shows
        a status, its event is queued (``events.flush()`` delivers it), and events keep the changes' order."""
        with self.lock:
            if self.endpoints.get(endpoint.name.lower()) is endpoint:
                self.save(endpoint)
            self.events.endpoint_changed(endpoint.arn, endpoint.region, endpoint.event_detail())

    def save(self, record: Model | EndpointConfig | Endpoint) -> None:
        """Keep ``record``'s document in the state folder (the caller holds the lock)."""
        kind = {Model: "models", EndpointConfig: "endpoint-configs", Endpoint: "endpoints"}[type(record)]
        self.store.save_hosting(kind, record.name, record.to_doc())

    def _now(self) -> float:
        return self.clock.now().timestamp()

    # ---------------------------------------------------------------- lookups
    def _model(self, name: str, region: str) -> Model:
        with self.lock:
            model = self.models.get(name.lower())
        if model is None:
            raise _not_found("model", region, name)
        return model

    def _config(self, name: str, region: str) -> EndpointConfig:
        with self.lock:
            config = self.configs.get(name.lower())
        if config is None:
            raise _not_found("endpoint-config", region, name)
        return config

    def _endpoint(self, name: str, region: str) -> Endpoint:
        with self.lock:
            endpoint = self.endpoints.get(name.lower())
        if endpoint is None:
            raise _not_found("endpoint", region, name)
        return endpoint

    def _models_of(self, config: EndpointConfig, region: str) -> dict[str, Model]:
        return {v["ModelName"].lower(): self._model(v["ModelName"], region) for v in config.variants}

    # ---------------------------------------------------------------- models
    def create_model(self, params: Mapping[str, Any], region: str) -> dict[str, Any]:
        req: dict[str, Any] = copy.deepcopy(dict(params))
        check_shape("CreateModel", req)
        name = str(req.get("ModelName") or "")
        if req.get("Containers") or req.get("InferenceExecutionConfig"):
            raise validation(
                f"CreateModel {name}: inference pipelines (Containers) are not served by the local engine; "
                "give one PrimaryContainer."
            )
        container = req.get("PrimaryContainer")
        if not isinstance(container, Mapping) or not container.get("Image"):
            raise validation(
                f"CreateModel {name}: PrimaryContainer.Image is required (the image whose serving command "
                "the image map names)."
            )
        self.image_map.command(str(container["Image"]), field="PrimaryContainer.Image")
        if container.get("ModelDataUrl"):
            self._check_model_data(str(container["ModelDataUrl"]))
        check_environment(container.get("Environment") or {}, "PrimaryContainer.Environment")
        arn = hosting_arn(region, "model", name)
        with self.lock:
            if name.lower() in self.models:
                raise validation(f'Cannot create already existing model "{arn}".')
            self.models[name.lower()] = model = Model(name, arn, req, self._now())
            self.save(model)
        return {"ModelArn": arn}

    def _check_model_data(self, url: str) -> None:
        """The model's archive must be readable when the model is created, as SageMaker checks it."""
        check_uri(url, "PrimaryContainer.ModelDataUrl")
        parsed = urlparse(url)
        try:
            if parsed.scheme == "file":
                if not local_path(url).is_file():
                    raise FileNotFoundError("no such file on this machine")
            else:
                self.s3().head_object(Bucket=parsed.netloc, Key=parsed.path.lstrip("/"))
        except Exception as e:  # botocore's errors: no such bucket or key, no access
            raise validation(
                f"Could not access model data at {url} ({type(e).__name__}: {e}); give the URI of the "
                "model.tar.gz a training job wrote."
            ) from None

    def delete_model(self, params: Mapping[str, Any], region: str) -> dict[str, Any]:
        model = self._model(params["ModelName"], region)
        with self.lock:
            self.models.pop(model.name.lower(), None)
            self.store.delete_hosting("models", model.name)
        return {}

    # ---------------------------------------------------------------- endpoint configurations
    def create_endpoint_config(self, params: Mapping[str, Any], region: str) -> dict[str, Any]:
        req: dict[str, Any] = copy.deepcopy(dict(params))
        check_shape("CreateEndpointConfig", req)
        name = str(req.get("EndpointConfigName") or "")
        variants = req.get("ProductionVariants") or []
        names = [v.get("VariantName") for v in variants]
        if len(set(names)) != len(names):
            raise validation(
                f"EndpointConfig {name}: variant names must be unique; {names} repeats one. Name each "
                "ProductionVariant differently."
            )
        for i, variant in enumerate(variants):
            if not variant.get("ModelName"):
                raise validation(
                    f"ProductionVariants[{i}].ModelName is required by the local engine (inference "
                    "components are not served); name the model this variant serves."
                )
            self._model(variant["ModelName"], region)
        arn = hosting_arn(region, "endpoint-config", name)
        with self.lock:
            if name.lower() in self.configs:
                raise validation(f'Cannot create already existing endpoint configuration "{arn}".')
            self.configs[name.lower()] = config = EndpointConfig(name, arn, req, self._now())
            self.save(config)
        return {"EndpointConfigArn": arn}

    def delete_endpoint_config(self, params: Mapping[str, Any], region: str) -> dict[str, Any]:
        config = self._config(params["EndpointConfigName"], region)
        with self.lock:
            self.configs.pop(config.name.lower(), None)
            self.store.delete_hosting("endpoint-configs", config.name)
        return {}

    # ---------------------------------------------------------------- endpoints
    def create_endpoint(self, params: Mapping[str, Any], region: str) -> dict[str, Any]:
        req: dict[str, Any] = copy.deepcopy(dict(params))
        check_shape("CreateEndpoint", req)
        name = str(req.get("EndpointName") or "")
        config = self._config(str(req.get("EndpointConfigName") or ""), region)
        models = self._models_of(config, region)
        arn = hosting_arn(region, "endpoint", name)
        now = self._now()
        with self.lock:
            if name.lower() in self.endpoints:
                raise validation(f'Cannot create already existing endpoint "{arn}".')
            endpoint = Endpoint(
                name,
                arn,
                region,
                config.name,
                now,
                now,
                tags=list(req.get("Tags") or []),
                variants=config.variants,
            )
            endpoint.deploy(config, models)
            self.endpoints[name.lower()] = endpoint
            self._changed(endpoint)
        self.rollout.start(self.rollout.create, endpoint, config, models)
        return {"EndpointArn": arn}

    def describe_endpoint(self, params: Mapping[str, Any], region: str) -> dict[str, Any]:
        endpoint = self._endpoint(params["EndpointName"], region)
        with self.lock:
            return endpoint.to_api()

    def update_endpoint(self, req: Mapping[str, Any], region: str) -> dict[str, Any]:
        endpoint = self._endpoint(req["EndpointName"], region)
        config = self._config(req["EndpointConfigName"], region)
        models = self._models_of(config, region)
        deployment = copy.deepcopy(dict(req.get("DeploymentConfig") or {}))
        _check_deployment(deployment)
        with self.lock:
            if endpoint.status in _IN_PROGRESS:
                raise validation(f'Cannot update in-progress endpoint "{endpoint.arn}".')
            if endpoint.status is EndpointStatus.FAILED:
                raise validation(
                    f'Cannot update endpoint "{endpoint.arn}": it is Failed, and DeleteEndpoint is the '
                    "only operation a Failed endpoint accepts. Delete it and create it again."
                )
            endpoint.status = EndpointStatus.UPDATING
            endpoint.failure_reason = None
            endpoint.pending_config = config.name
            endpoint.pending_status = "Creating"
            endpoint.pending_since = endpoint.last_modified_time = self._now()
            self._changed(endpoint)
        self.rollout.start(self.rollout.update, endpoint, config, models, deployment)
        return {"EndpointArn": endpoint.arn}

    def delete_endpoint(self, params: Mapping[str, Any], region: str) -> dict[str, Any]:
        endpoint = self._endpoint(params["EndpointName"], region)
        with self.lock:
            if endpoint.status in _IN_PROGRESS:
                raise validation(f'Cannot update in-progress endpoint "{endpoint.arn}".')
            endpoint.status = EndpointStatus.DELETING
            endpoint.last_modified_time = self._now()
            endpoint.cancel.set()
            self._changed(endpoint)

        def remove() -> None:
            for fleet in (endpoint.fleet, endpoint.pending):
                if fleet is not None:
                    fleet.stop(self.grace)
            with self.lock:
                if self.endpoints.get(endpoint.name.lower()) is endpoint:
                    del self.endpoints[endpoint.name.lower()]
                    self.store.delete_hosting("endpoints", endpoint.name)

        self.rollout.start(lambda _endpoint: remove(), endpoint)
        return {}

    def list_endpoints(self, params: Mapping[str, Any], region: str) -> dict[str, Any]:
        with self.lock:
            rows = [
                {
                    "EndpointName": e.name,
                    "EndpointArn": e.arn,
                    "CreationTime": e.creation_time,
                    "LastModifiedTime": e.last_modified_time,
                    "EndpointStatus": e.status.value,
                }
                for e in self.endpoints.values()
                if not params.get("StatusEquals") or e.status.value == params["StatusEquals"]
            ]
        return _sorted_page(rows, params, "Endpoints", "Endpoint")

    def _list(
        self, params: Mapping[str, Any], records: Mapping[str, Any], key: str, kind: str
    ) -> dict[str, Any]:
        with self.lock:
            rows = [
                {f"{kind}Name": r.name, f"{kind}Arn": r.arn, "CreationTime": r.creation_time}
                for r in records.values()
            ]
        return _sorted_page(rows, params, key, kind)

    # ---------------------------------------------------------------- tags
    def tags(self, params: Mapping[str, Any], action: str) -> dict[str, Any] | None:
        """AddTags (``add``), ListTags (``list``), DeleteTags (``delete``) of a model, endpoint configuration
        or endpoint; None for another kind of resource. An unknown one of these is ResourceNotFound."""
        arn = str(params.get("ResourceArn") or "")
        kind, _, name = arn.split(":", 5)[-1].partition("/")
        kinds: dict[str, Mapping[str, Model | EndpointConfig | Endpoint]] = {
            "model": self.models,
            "endpoint-config": self.configs,
            "endpoint": self.endpoints,
        }
        records = kinds.get(kind)
        if records is None:
            return None
        with self.lock:
            record = records.get(name.lower())
            if record is None or record.arn != arn:
                raise ServiceError(
                    ErrorCode.RESOURCE_NOT_FOUND, f"ResourceArn {arn} does not exist; check the ARN."
                )
            current = record.tags if isinstance(record, Endpoint) else list(record.request.get("Tags") or [])
            if action == "list":
                return page(current, {"MaxResults": 50, **params}, "Tags")
            merged = {t["Key"]: t for t in current}
            if action == "add":
                for tag in params.get("Tags") or []:
                    merged[tag["Key"]] = {"Key": tag["Key"], "Value": tag.get("Value", "")}
                if len(merged) > MAX_TAGS:
                    raise validation(
                        f"Tags: {arn} would have {len(merged)} tags; a resource may have at most {MAX_TAGS}. "
                        "Delete some with DeleteTags first."
                    )
            else:
                merged = {k: t for k, t in merged.items() if k not in set(params.get("TagKeys") or [])}
            if isinstance(record, Endpoint):
                record.tags = list(merged.values())
            else:
                record.request["Tags"] = list(merged.values())
            self.save(record)
        return {"Tags": list(params.get("Tags") or [])} if action == "add" else {}

    # ---------------------------------------------------------------- InvokeEndpoint
    def invoke(self, name: str, body: bytes, headers: Mapping[str, str]) -> tuple[bytes, str, str]:
        """InvokeEndpoint: the container's answer (body, content type) and the variant that gave it."""
        not_found = ServiceError(
            ErrorCode.VALIDATION_ERROR, f"Endpoint {name} of account {ACCOUNT_ID} not found."
        )
        if len(body) > MAX_BODY_BYTES:
            raise ServiceError(
                ErrorCode.VALIDATION_ERROR,
                f"The request body has {len(body)} bytes; InvokeEndpoint takes at most {MAX_BODY_BYTES}.",
            )
        with self.lock:
            endpoint = self.endpoints.get(name.lower())
            if endpoint is None or endpoint.name != name:  # the name's case must match in InvokeEndpoint
                raise not_found
            if endpoint.status not in (EndpointStatus.IN_SERVICE, EndpointStatus.UPDATING):
                raise not_found
            if endpoint.fleet is None:  # served again after a restart of the engine, not yet answering
                raise ServiceError(
                    ErrorCode.SERVICE_UNAVAILABLE,
                    f"Endpoint {name}'s serving processes are being started again after the local engine "
                    "restarted; try again in a few seconds.",
                    status=503,
                )
            target = headers.get("X-Amzn-SageMaker-Target-Variant")
            chosen = endpoint.route(target)
        if chosen is None:
            raise ServiceError(
                ErrorCode.VALIDATION_ERROR,
                f"TargetVariant {target} is not a production variant of endpoint {name}.",
            )
        variant, process = chosen
        forwarded = {k: v for k, v in headers.items() if k.lower() in _FORWARDED}
        try:
            status, answer, content_type = process.invoke(body, forwarded)
        except OSError as e:
            raise ServiceError(
                ErrorCode.MODEL_ERROR,
                f"Received an error from primary of variant {variant}: the model container did not answer "
                f"({type(e).__name__}: {e}). See {process.log_path}.",
                status=424,
            ) from None
        if status != 200:
            kind = "client" if 400 <= status < 500 else "server"
            text = answer.decode("utf-8", errors="replace")[:1024]
            raise ServiceError(
                ErrorCode.MODEL_ERROR,
                f'Received {kind} error ({status}) from primary with message "{text}". See '
                f"{process.log_path} for the container's log.",
                status=424,
            )
        return answer, content_type, variant

    # ---------------------------------------------------------------- the engine's end
    def shutdown(self, timeout: float) -> None:
        """Stop every serving process (endpoints end with the engine) and the deployments in progress."""
        with self.lock:
            endpoints = list(self.endpoints.values())
        for endpoint in endpoints:
            endpoint.cancel.set()
        for thread in list(self.rollout.threads):
            thread.join(timeout)
        for endpoint in endpoints:
            for fleet in (endpoint.fleet, endpoint.pending):
                if fleet is not None:
                    fleet.stop(self.grace)


def _sorted_page(
    rows: list[dict[str, Any]], params: Mapping[str, Any], key: str, kind: str
) -> dict[str, Any]:
    """Name, time filters, sorting (default CreationTime, Descending) and paging of a hosting List call."""
    contains = (params.get("NameContains") or "").lower()
    rows = [r for r in rows if contains in r[f"{kind}Name"].lower()]
    for param, field, after in (
        ("CreationTimeAfter", "CreationTime", True),
        ("CreationTimeBefore", "CreationTime", False),
        ("LastModifiedTimeAfter", "LastModifiedTime", True),
        ("LastModifiedTimeBefore", "LastModifiedTime", False),
    ):
        if params.get(param) is not None:
            bound = float(params[param])
            rows = [r for r in rows if (r.get(field, r["CreationTime"]) > bound) == after]
    sort_by = {"Name": f"{kind}Name", "Status": f"{kind}Status"}.get(
        params.get("SortBy") or "", "CreationTime"
    )
    rows.sort(
        key=lambda r: (r.get(sort_by), r[f"{kind}Name"]), reverse=params.get("SortOrder") != "Ascending"
    )
    return page(rows, params, key)


def _check_deployment(deployment: Mapping[str, Any]) -> None:
    """The parts of a DeploymentConfig the shape does not say: what each traffic routing needs."""
    if deployment.get("RollingUpdatePolicy"):
        raise validation(
            "DeploymentConfig.RollingUpdatePolicy is not served by the local engine; use "
            "BlueGreenUpdatePolicy (ALL_AT_ONCE, CANARY or LINEAR traffic shifting)."
        )
    policy = deployment.get("BlueGreenUpdatePolicy") or {}
    routing = policy.get("TrafficRoutingConfiguration") or {}
    kind = routing.get("Type")
    prefix = "DeploymentConfig.BlueGreenUpdatePolicy.TrafficRoutingConfiguration"
    for wanted, member, low, high in (("CANARY", "CanarySize", 0, 50), ("LINEAR", "LinearStepSize", 10, 50)):
        if kind != wanted:
            continue
        size = routing.get(member)
        if not size:
            raise validation(f"{prefix}.{member} is required when Type is {wanted}; give Type and Value.")
        value = float(size.get("Value", 0))
        if size.get("Type") == "CAPACITY_PERCENT" and not low < value <= high and not (low and value == low):
            raise validation(
                f"{prefix}.{member}.Value {value:g}: a {wanted} step of CAPACITY_PERCENT must be between "
                f"{low or 1} and {high} percent."
            )
    limit = policy.get("MaximumExecutionTimeoutInSeconds")
    waits = float(routing.get("WaitIntervalInSeconds", 0)) + float(policy.get("TerminationWaitInSeconds", 0))
    if limit is not None and float(limit) <= waits:
        raise validation(
            f"DeploymentConfig.BlueGreenUpdatePolicy.MaximumExecutionTimeoutInSeconds {limit} must be "
            f"greater than WaitIntervalInSeconds plus TerminationWaitInSeconds ({waits:g})."
        )
