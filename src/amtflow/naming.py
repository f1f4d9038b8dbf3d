"""Names of tuning jobs, training jobs and state-machine executions (see ``docs/architecture.md``).

Every name is deterministic (the same inputs give the same name, in any process), distinct for distinct
inputs (a SHA-256 prefix of the inputs is part of it, so truncation never merges two names), and valid for
the API that receives it:

- tuning job: ``<prefix>-<model-slug>-<hash8>``, lower case, ≤ 32 characters,
  ``^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,31}$``;
- training job launched by a tuning job: ``<tuning-job>-<NNN>-<hex8>``, ≤ 63 characters;
- execution: ``<model-slug>-<version-slug>-<hash8>``, ≤ 80 characters of ``[0-9A-Za-z_-]``.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata

from amtflow.errors import InvalidInputError
from amtflow.vocabulary import (
    CHANNEL_NAME_MAX,
    CHANNEL_NAME_PATTERN,
    EXECUTION_NAME_MAX,
    EXECUTION_NAME_PATTERN,
    MODEL_NAME_PATTERN,
    TRAINING_JOB_NAME_MAX,
    TRAINING_JOB_NAME_PATTERN,
    TUNING_JOB_NAME_MAX,
    TUNING_JOB_NAME_PATTERN,
)

__all__ = [
    "CHANNEL_NAME_MAX",
    "CHANNEL_NAME_PATTERN",
    "EXECUTION_NAME_MAX",
    "EXECUTION_NAME_PATTERN",
    "TRAINING_JOB_NAME_MAX",
    "TRAINING_JOB_NAME_PATTERN",
    "TUNING_JOB_NAME_MAX",
    "TUNING_JOB_NAME_PATTERN",
    "check_training_job_name",
    "check_tuning_job_name",
    "execution_name",
    "short_hash",
    "slug",
    "training_job_name",
    "tuning_job_name",
]

_HASH_LEN = 8
_PREFIX = re.compile(MODEL_NAME_PATTERN)  # the same slug rule as model names
_HEX8 = re.compile(r"^[0-9a-f]{8}$")
# Longest model slug kept in an execution name; the version slug gets the rest.
_EXECUTION_MODEL_MAX = 40


def slug(text: str, *, max_length: int | None = None, fallback: str = "x") -> str:
    """``text`` as lower-case ASCII letters, digits and single hyphens (accents folded, other runs → ``-``).

    Truncated to ``max_length`` without a trailing hyphen; ``fallback`` when nothing is left.
    """
    folded = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii").lower()
    out = re.sub(r"[^a-z0-9]+", "-", folded).strip("-")
    if max_length is not None:
        out = out[:max_length].rstrip("-")
    return out or fallback


def short_hash(*parts: object, length: int = _HASH_LEN) -> str:
    """A hex SHA-256 prefix of ``parts`` (unambiguously joined), stable across processes."""
    digest = hashlib.sha256("\x1f".join(f"{len(str(p))}:{p}" for p in parts).encode("utf-8")).hexdigest()
    return digest[:length]


def check_tuning_job_name(name: str, *, field: str = "HyperParameterTuningJobName") -> str:
    """Return ``name`` if SageMaker accepts it as a tuning-job name, else raise ``InvalidInputError``."""
    if len(name) > TUNING_JOB_NAME_MAX or not TUNING_JOB_NAME_PATTERN.fullmatch(name):
        raise InvalidInputError(
            f"{field} {name!r} is not a valid tuning-job name: 1-{TUNING_JOB_NAME_MAX} letters, digits and "
            "hyphens, starting and ending with a letter or digit; build it with "
            "amtflow.naming.tuning_job_name",
            field=field,
        )
    return name


def check_training_job_name(name: str, *, field: str = "TrainingJobName") -> str:
    """Return ``name`` if SageMaker accepts it as a training-job name, else raise ``InvalidInputError``."""
    if len(name) > TRAINING_JOB_NAME_MAX or not TRAINING_JOB_NAME_PATTERN.fullmatch(name):
        raise InvalidInputError(
            f"{field} {name!r} is not a valid training-job name: 1-{TRAINING_JOB_NAME_MAX} letters, digits "
            "and hyphens, starting and ending with a letter or digit",
            field=field,
        )
    return name


def tuning_job_name(prefix: str, model: str, dataset_version: str, attempt: int = 0) -> str:
    """``<prefix>-<model-slug>-<hash8>``; the hash covers (model, dataset version, attempt).

    ``prefix`` is the deployment's job prefix (IAM scopes SageMaker actions to it), used verbatim: it must be
    lower-case letters, digits and single hyphens, leaving room for the rest of the name.
    """
    room = TUNING_JOB_NAME_MAX - _HASH_LEN - 2 - 1  # at least one character of the model slug
    if not _PREFIX.fullmatch(prefix) or len(prefix) > room:
        raise InvalidInputError(
            f"job prefix {prefix!r} must be 1-{room} lower-case letters, digits and single hyphens "
            "(e.g. 'amtf'); set AMTFLOW_JOB_PREFIX accordingly",
            field="job_prefix",
        )
    if attempt < 0:
        raise InvalidInputError(f"attempt must be ≥ 0, got {attempt}", field="attempt")
    digest = short_hash("tuning", model, dataset_version, attempt)
    model_room = TUNING_JOB_NAME_MAX - len(prefix) - _HASH_LEN - 2
    return f"{prefix}-{slug(model, max_length=model_room, fallback='m')}-{digest}"


def training_job_name(tuning_job_name: str, index: int, token: str) -> str:
    """``<tuning-job>-<NNN>-<hex8>``: the name of the ``index``-th training job of a tuning job.

    ``token`` is used verbatim when it is already 8 lower-case hex digits, otherwise its SHA-256 prefix.
    """
    check_tuning_job_name(tuning_job_name, field="tuning_job_name")
    if index < 0 or index > 999_999:
        raise InvalidInputError(f"training-job index must be 0-999999, got {index}", field="index")
    hex8 = token if _HEX8.fullmatch(token) else short_hash("token", token)
    return check_training_job_name(f"{tuning_job_name}-{index:03d}-{hex8}")


def execution_name(model: str, dataset_version: str, discriminator: str = "") -> str:
    """``<model-slug>-<version-slug>-<hash8>``, ≤ 80 characters, for ``StartExecution``.

    The hash covers (model, dataset version, discriminator): the same trigger gets the same name (so
    Step Functions dedupes it), a different ``discriminator`` (e.g. an event ID, a retry) a new one.
    """
    digest = short_hash("execution", model, dataset_version, discriminator)
    model_slug = slug(model, max_length=_EXECUTION_MODEL_MAX, fallback="m")
    version_room = EXECUTION_NAME_MAX - len(model_slug) - _HASH_LEN - 2
    version_slug = slug(dataset_version, max_length=version_room, fallback="v")
    return f"{model_slug}-{version_slug}-{digest}"
