"""Names, keys and URIs the engine turns into paths, and the one way it builds those paths.

Every name that becomes part of a path is checked against SageMaker's own constraint (botocore's
``sagemaker`` model) before any path is built, and refused with a ``ValidationException`` worded as
SageMaker words it::

    1 validation error detected: Value '../../x' at 'TrainingJobName' failed to satisfy constraint:
    Member must satisfy regular expression pattern: [a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}. <the fix>

- tuning-job names ``[a-zA-Z0-9](-*[a-zA-Z0-9]){0,31}`` and training-job names
  ``[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}`` (:mod:`amtflow.naming`);
- channel names ``[A-Za-z0-9\\.\\-_]+``, at most 64 characters, and never ``.`` or ``..``;
- metric names (1-255 characters on one line), hyperparameter names (at most 256 characters on one line),
  hyperparameter values (at most 2500 characters), environment names ``[a-zA-Z_][a-zA-Z0-9_]*`` and values
  (at most 512 characters); no NUL anywhere (a process argument or variable cannot hold one);
- ``s3://`` and ``file://`` URIs with no ``.`` or ``..`` segment; a ``file://`` URI names an absolute
  folder on this machine (host empty or ``localhost``).

Behind the checks, :func:`inside` joins a base folder with relative parts, resolves the result (following
symlinks) and refuses anything that is not strictly below the resolved base: the state folder, a trial's
folder, a channel's download folder or a ``file://`` output folder.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlparse

from amtflow.local.engine._model import ServiceError, shape_error, show_value, validation
from amtflow.naming import (
    CHANNEL_NAME_MAX,
    CHANNEL_NAME_PATTERN,
    TRAINING_JOB_NAME_MAX,
    TRAINING_JOB_NAME_PATTERN,
    TUNING_JOB_NAME_MAX,
    TUNING_JOB_NAME_PATTERN,
)

METRIC_NAME_MAX = 255
HYPERPARAMETER_KEY_MAX = 256
HYPERPARAMETER_VALUE_MAX = 2500
ENVIRONMENT_KEY_MAX = 512
ENVIRONMENT_VALUE_MAX = 512
ENVIRONMENT_KEY_PATTERN = re.compile(r"^[a-zA-Z_][a-zA-Z0-9_]*$")
# The model's "." and ".*" (Java regexes) match no line break.
_ONE_LINE = re.compile(r"[^\n\r\x00]*")


def constraint_error(value: Any, field: str, constraint: str, fix: str) -> ServiceError:
    """A ValidationException in SageMaker's words, followed by the fix."""
    return shape_error([(value, field, constraint)], fix)


def _check_pattern(value: Any, field: str, pattern: re.Pattern[str], max_length: int, fix: str) -> str:
    if not isinstance(value, str) or not value:
        raise constraint_error(value, field, f"Member must have length between 1 and {max_length}", fix)
    if len(value) > max_length:
        raise constraint_error(
            value, field, f"Member must have length less than or equal to {max_length}", fix
        )
    if not pattern.fullmatch(value):
        shown = pattern.pattern.removeprefix("^").removesuffix("$")
        raise constraint_error(value, field, f"Member must satisfy regular expression pattern: {shown}", fix)
    return value


def check_tuning_job_name(name: Any, field: str = "HyperParameterTuningJobName") -> str:
    return _check_pattern(
        name,
        field,
        TUNING_JOB_NAME_PATTERN,
        TUNING_JOB_NAME_MAX,
        f"Use 1-{TUNING_JOB_NAME_MAX} letters, digits and hyphens, starting and ending with a letter or "
        "digit (amtflow.naming.tuning_job_name builds one).",
    )


def check_training_job_name(name: Any, field: str = "TrainingJobName") -> str:
    return _check_pattern(
        name,
        field,
        TRAINING_JOB_NAME_PATTERN,
        TRAINING_JOB_NAME_MAX,
        f"Use 1-{TRAINING_JOB_NAME_MAX} letters, digits and hyphens, starting and ending with a letter or "
        "digit.",
    )


def check_channel_name(name: Any, field: str) -> str:
    fix = f"Use 1-{CHANNEL_NAME_MAX} letters, digits, '.', '-' or '_', such as 'train'."
    _check_pattern(name, field, CHANNEL_NAME_PATTERN, CHANNEL_NAME_MAX, fix)
    if name in (".", ".."):
        raise constraint_error(name, field, "Member must not be '.' or '..'", fix)
    return str(name)


def _check_text(value: Any, field: str, max_length: int, fix: str, *, min_length: int = 0) -> str:
    if not isinstance(value, str) or not min_length <= len(value) <= max_length:
        raise constraint_error(
            value, field, f"Member must have length between {min_length} and {max_length}", fix
        )
    if not _ONE_LINE.fullmatch(value):
        raise constraint_error(value, field, "Member must not contain a line break or a NUL character", fix)
    return value


def check_metric_name(name: Any, field: str) -> str:
    return _check_text(
        name,
        field,
        METRIC_NAME_MAX,
        f"Give the metric a name of 1-{METRIC_NAME_MAX} characters on one line, such as 'validation:auc'.",
        min_length=1,
    )


def check_hyperparameters(values: Any, field: str, *, names_only: bool = False) -> None:
    """Hyperparameter names (and values, unless ``names_only``) become process arguments and variables."""
    if not isinstance(values, Mapping):
        raise constraint_error(values, field, "Member must be a map of strings to strings", "Give a map.")
    for key, value in values.items():
        _check_text(
            key,
            f"{field}.{show_value(key)}",
            HYPERPARAMETER_KEY_MAX,
            f"Name the hyperparameter with at most {HYPERPARAMETER_KEY_MAX} characters on one line.",
        )
        if names_only:
            continue
        text = str(value)  # the engine passes every value on as a string, as SageMaker does
        if len(text) > HYPERPARAMETER_VALUE_MAX or "\x00" in text:
            raise constraint_error(
                value,
                f"{field}.{key}",
                f"Member must have at most {HYPERPARAMETER_VALUE_MAX} characters and no NUL",
                "Shorten the value, or pass large settings through a channel instead.",
            )


def check_environment(values: Any, field: str) -> None:
    if not isinstance(values, Mapping):
        raise constraint_error(values, field, "Member must be a map of strings to strings", "Give a map.")
    for key, value in values.items():
        _check_pattern(
            key,
            f"{field}.{show_value(key)}",
            ENVIRONMENT_KEY_PATTERN,
            ENVIRONMENT_KEY_MAX,
            "Name environment variables with letters, digits and '_', not starting with a digit.",
        )
        if not isinstance(value, str) or len(value) > ENVIRONMENT_VALUE_MAX or "\x00" in value:
            raise constraint_error(
                value,
                f"{field}.{key}",
                f"Member must be a string of at most {ENVIRONMENT_VALUE_MAX} characters without NUL",
                "Pass the value as a string.",
            )


def check_uri(uri: Any, field: str) -> str:
    """An ``s3://`` or ``file://`` URI whose path has no ``.``/``..`` segment (it maps to local paths)."""
    fix = "Give s3://bucket/prefix/ (or file:///absolute/folder/ for local data) without '.' or '..' parts."
    if not isinstance(uri, str) or not uri or "\x00" in uri:
        raise constraint_error(uri, field, "Member must be an s3:// or file:// URI", fix)
    parsed = urlparse(uri)
    if parsed.scheme not in ("s3", "file"):
        raise constraint_error(uri, field, "Member must be an s3:// URI (or file:// for local data)", fix)
    if parsed.scheme == "s3" and not parsed.netloc:
        raise constraint_error(uri, field, "Member must name a bucket: s3://bucket/prefix", fix)
    if parsed.scheme == "file" and parsed.netloc not in ("", "localhost"):
        raise constraint_error(
            uri, field, "Member must be file:///absolute/folder (no host but localhost)", fix
        )
    segments = unquote(parsed.path).split("/")
    if any(s in (".", "..") for s in segments) or (parsed.scheme == "file" and "\\" in parsed.path):
        raise constraint_error(uri, field, "Member must not contain '.' or '..' path segments", fix)
    return uri


def local_path(uri: str) -> Path:
    """The folder or file a ``file://`` URI names (checked by :func:`check_uri` first)."""
    return Path(unquote(urlparse(uri).path))


def inside(base: Path, *parts: str, follow_last: bool = True, what: str = "the engine's folder") -> Path:
    """``base / parts`` resolved, provided it lies strictly below ``base`` (resolved); else refused.

    Symlinks are followed, so a link under ``base`` pointing elsewhere is refused too. With
    ``follow_last=False`` the last part is not resolved (for a link the engine is about to create); it must
    then be one plain name.
    """
    try:
        root = base.resolve()
        if follow_last:
            target = root.joinpath(*parts).resolve()
        else:
            *head, last = parts
            if not last or last in (".", "..") or "/" in last or os.sep in last:
                raise ValueError(last)
            target = root.joinpath(*head).resolve() / last
        ok = "\x00" not in "".join(parts) and target != root and target.is_relative_to(root)
    except (OSError, RuntimeError, ValueError):
        ok = False
    if not ok:
        shown = show_value("/".join(parts))
        raise validation(
            f"1 validation error detected: '{shown}' would be outside {what} ({base}); the engine "
            "writes only below it. Use a plain name, or remove the symlink that points elsewhere."
        )
    return target
