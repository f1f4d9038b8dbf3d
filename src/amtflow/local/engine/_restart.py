"""Hosting across restarts: the models, endpoint configurations and endpoints kept in the state folder.

Every change of a model, endpoint configuration or endpoint is saved by :class:`~._hosting.Hosting` (under
its lock, atomically, as the job store saves jobs); :func:`load_hosting` reads them back when an engine
starts on the folder. An endpoint that was ``InService`` (or ``Creating``, or ``Updating``: the update is
lost, the endpoint comes back on the configuration in service) is served again: its serving processes are
started from the model data it was deployed with, and until they answer ``/ping`` InvokeEndpoint answers
``ServiceUnavailable``. If that is impossible (the model data gone or unreadable, the image no longer in the
image map), the endpoint is ``Failed`` with the reason. One that was being deleted is deleted. A read-only
engine (``amtflow jobs``/``describe``) only reads the records.
"""

from __future__ import annotations

import logging

from amtflow.local.engine._endpoints import Endpoint, EndpointConfig, EndpointStatus, Model
from amtflow.local.engine._hosting import Hosting

logger = logging.getLogger(__name__)

UPDATE_LOST = (
    "The update to endpoint configuration {pending} was interrupted when the local engine restarted; the "
    "endpoint is served on {config}. Call UpdateEndpoint again."
)
_SERVED = (EndpointStatus.IN_SERVICE, EndpointStatus.CREATING, EndpointStatus.UPDATING)


def load_hosting(hosting: Hosting, *, recover: bool) -> None:
    """Read the hosting records of ``hosting.store``; with ``recover``, serve the endpoints again."""
    store = hosting.store
    restore: list[Endpoint] = []
    with hosting.lock:
        hosting.models = {m.name.lower(): m for m in store.load_hosting("models", Model.from_doc)}
        hosting.configs = {
            c.name.lower(): c for c in store.load_hosting("endpoint-configs", EndpointConfig.from_doc)
        }
        for endpoint in store.load_hosting("endpoints", Endpoint.from_doc):
            if recover and endpoint.status is EndpointStatus.DELETING:
                store.delete_hosting("endpoints", endpoint.name)
                continue
            hosting.endpoints[endpoint.name.lower()] = endpoint
            if recover and endpoint.status in _SERVED:
                restore.append(endpoint)
    for endpoint in restore:
        _restore(hosting, endpoint)


def _restore(hosting: Hosting, endpoint: Endpoint) -> None:
    try:
        deployed = endpoint.deployment()
    except (KeyError, ValueError, TypeError, AttributeError) as e:
        deployed, problem = None, f"its saved deployment cannot be read ({type(e).__name__}: {e})"
    else:
        problem = "the configuration and models it was deployed with were not saved"
    with hosting.lock:
        if endpoint.status is EndpointStatus.UPDATING:
            endpoint.status = EndpointStatus.IN_SERVICE
            endpoint.failure_reason = UPDATE_LOST.format(
                pending=endpoint.pending_config, config=endpoint.config_name
            )
        endpoint.pending_config = None
        if deployed is None:
            endpoint.status = EndpointStatus.FAILED
            endpoint.failure_reason = f"The endpoint could not be served again after a restart: {problem}."
            endpoint.last_modified_time = hosting.clock.now().timestamp()
            hosting.save(endpoint)
            logger.warning("endpoint %s: %s", endpoint.name, endpoint.failure_reason)
            return
    config, models = deployed
    hosting.rollout.start(hosting.rollout.restore, endpoint, config, models)
