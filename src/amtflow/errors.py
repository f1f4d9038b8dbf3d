"""The one exception hierarchy of amtflow.

Every error a user can meet derives from :class:`AmtflowError` and carries a message that names the field
(or the resource) and the fix. Adapters translate AWS ``ClientError`` codes into these types with
``raise ... from e``; nothing matches errors by message text.
"""

from __future__ import annotations


class AmtflowError(Exception):
    """Base class of every amtflow error.

    ``error_type`` is the stable name the state machine sees (Lambda reports it as ``errorType``), so ASL
    ``Retry``/``Catch`` rules can match on it.
    """

    error_type: str = "AmtflowError"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def __str__(self) -> str:
        return self.message


class ConfigurationError(AmtflowError):
    """A required setting is missing or malformed (an environment variable, a CLI option)."""

    error_type = "ConfigurationError"


class InvalidInputError(AmtflowError):
    """An event, an execution input or a request does not have the expected shape.

    ``field`` names the offending field in dotted form (``overrides.tuning.strategy``).
    """

    error_type = "InvalidInputError"

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


class ProfileError(InvalidInputError):
    """A model profile is invalid: unknown keys, wrong types, impossible values."""

    error_type = "ProfileError"


class ProfileNotFoundError(AmtflowError):
    """No profile is stored for the model a trigger or an execution names."""

    error_type = "ProfileNotFoundError"


class PreflightRejectedError(AmtflowError):
    """The preflight linter found at least one error-level finding; nothing was launched."""

    error_type = "PreflightRejected"


class ConflictError(AmtflowError):
    """The resource already exists or is held by someone else (a lock, a job name)."""

    error_type = "ConflictError"


class ModelBusyError(ConflictError):
    """Another run of the same model holds its lock; the state machine waits and tries again (queued)."""

    error_type = "ModelBusyError"


class NotFoundError(AmtflowError):
    """A resource the caller named does not exist."""

    error_type = "NotFoundError"


class TransientError(AmtflowError):
    """A throttle, a quota or a service hiccup: retrying later is expected to succeed."""

    error_type = "TransientError"


class QuotaExceededError(TransientError):
    """A service quota (e.g. concurrent tuning jobs) is exhausted; the run waits and resumes."""

    error_type = "QuotaExceededError"


class DeploymentBusyError(ConflictError):
    """Another deployment of the same model is in progress; the deployment waits and tries again."""

    error_type = "DeploymentBusyError"


class EndpointReplacingError(ConflictError):
    """The deployment deleted its Failed endpoint and creates it again once it is gone; the Deploy task is
    retried until then."""

    error_type = "EndpointReplacingError"
