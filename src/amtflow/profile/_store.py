"""Where profiles live: the :class:`ProfileStore` port and an in-memory fake (the S3 store is an adapter,
:class:`amtflow.adapters.S3ProfileStore`).

Profiles are stored as ``<prefix><model>.yaml`` (``profiles/churn-xgb.yaml``), the text exactly as written.
"""

from __future__ import annotations

import re
from typing import Protocol, runtime_checkable

from amtflow.errors import InvalidInputError, ProfileNotFoundError
from amtflow.profile._load import load_profile
from amtflow.profile._model import ModelProfile
from amtflow.vocabulary import MODEL_NAME_MAX, MODEL_NAME_PATTERN

_MODEL = re.compile(MODEL_NAME_PATTERN)
_SUFFIX = ".yaml"


def profile_key(model: str, prefix: str = "profiles/") -> str:
    """The object key of a model's profile: ``<prefix><model>.yaml``."""
    _check_model(model)
    return f"{_folder(prefix)}{model}{_SUFFIX}"


def _folder(prefix: str) -> str:
    return prefix if not prefix or prefix.endswith("/") else prefix + "/"


def _check_model(model: str) -> None:
    if not isinstance(model, str) or len(model) > MODEL_NAME_MAX or not _MODEL.fullmatch(model):
        raise InvalidInputError(
            f"model {model!r} is not a model name: lower-case letters, digits and single hyphens, "
            f"at most {MODEL_NAME_MAX} characters (e.g. 'churn-xgb')",
            field="model",
        )


@runtime_checkable
class ProfileStore(Protocol):
    """Reads and writes model profiles.

    ``get`` raises :class:`~amtflow.errors.ProfileNotFoundError` for a model without a profile and
    :class:`~amtflow.profile.ProfileValidationError` for a stored profile that is invalid; ``put``
    validates the text first (nothing is stored when it is invalid) and returns the parsed profile.
    """

    def get(self, model: str) -> ModelProfile: ...

    def list(self) -> list[str]: ...

    def put(self, profile_text: str) -> ModelProfile: ...


class InMemoryProfileStore:
    """A :class:`ProfileStore` in a dict (tests, the local side)."""

    def __init__(self, texts: dict[str, str] | None = None) -> None:
        self._texts: dict[str, str] = {}
        for text in (texts or {}).values():
            self.put(text)

    def get(self, model: str) -> ModelProfile:
        _check_model(model)
        if model not in self._texts:
            raise ProfileNotFoundError(
                f"no profile for model {model!r} in the in-memory store; put one first "
                f"(known: {', '.join(sorted(self._texts)) or 'none'})"
            )
        return load_profile(self._texts[model], source=f"profile of {model!r}")

    def list(self) -> list[str]:
        return sorted(self._texts)

    def put(self, profile_text: str) -> ModelProfile:
        profile = load_profile(profile_text)
        self._texts[profile.model] = profile_text
        return profile
