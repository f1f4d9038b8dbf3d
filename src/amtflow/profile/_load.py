"""Reading profiles (YAML text, files, mappings) and applying overrides to them."""

from __future__ import annotations

import copy
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from amtflow.profile._cross import raw_cross_section_issues
from amtflow.profile._errors import ProfileProblem, ProfileValidationError, problems_from
from amtflow.profile._model import ModelProfile
from amtflow.profile._overrides import check_limits, check_overrides


def parse_profile(document: Any, *, source: str = "profile") -> ModelProfile:
    """Validate a parsed document (a mapping) as a :class:`ModelProfile`.

    Raises :class:`ProfileValidationError` listing every problem, each with its key path and fix.
    """
    if not isinstance(document, Mapping):
        kind = "empty" if document is None else f"a {type(document).__name__}"
        raise ProfileValidationError(
            [
                ProfileProblem(
                    "", f"a profile is a YAML mapping starting with 'schema: amtflow/v1', got {kind}"
                )
            ],
            source=source,
        )
    try:
        return ModelProfile.model_validate(dict(document))
    except ValidationError as e:
        problems = problems_from(e, ModelProfile)
    # The model's cross-section rules run only once every section is valid: run them on the raw document
    # too, so that one validation reports every problem.
    problems += [
        p
        for p in (ProfileProblem(path, message) for path, message in raw_cross_section_issues(document))
        if p not in problems
    ]
    raise ProfileValidationError(problems, source=source)


def load_profile(text: str | bytes | Mapping[str, Any], *, source: str = "profile") -> ModelProfile:
    """Parse and validate one profile from YAML text (or an already parsed mapping).

    ``source`` names the profile in error messages (a file name, an S3 URI).
    """
    if isinstance(text, Mapping):
        return parse_profile(text, source=source)
    if isinstance(text, bytes):
        try:
            text = text.decode("utf-8")
        except UnicodeDecodeError:
            raise ProfileValidationError(
                [ProfileProblem("", "not UTF-8 text; save the profile as UTF-8 YAML")], source=source
            ) from None
    try:
        documents = [d for d in yaml.safe_load_all(text)]
    except yaml.YAMLError as e:
        where = ""
        mark = getattr(e, "problem_mark", None)
        if mark is not None:
            where = f" at line {mark.line + 1}, column {mark.column + 1}"
        problem = getattr(e, "problem", None) or str(e)
        raise ProfileValidationError(
            [ProfileProblem("", f"not valid YAML{where}: {problem}; fix the syntax")], source=source
        ) from None
    documents = [d for d in documents if d is not None]
    if len(documents) > 1:
        raise ProfileValidationError(
            [ProfileProblem("", f"holds {len(documents)} YAML documents; keep one profile per file")],
            source=source,
        )
    return parse_profile(documents[0] if documents else None, source=source)


def load_profile_file(path: str | Path) -> ModelProfile:
    """Read and validate a profile file; problems name the file."""
    p = Path(path)
    try:
        raw = p.read_bytes()
    except OSError as e:
        raise ProfileValidationError(
            [ProfileProblem("", f"cannot be read ({e.strerror or e}); check the path")], source=str(p)
        ) from None
    return load_profile(raw, source=str(p))


def dump_profile(profile: ModelProfile) -> str:
    """The profile as YAML text (what was written; defaults left out)."""
    return yaml.safe_dump(profile.to_document(), sort_keys=False, allow_unicode=True)


def merge_documents(base: Mapping[str, Any], overrides: Mapping[str, Any]) -> dict[str, Any]:
    """Deep-merge ``overrides`` into ``base``: mappings merge key by key, anything else replaces,
    and ``None`` removes the key (back to its default)."""
    merged: dict[str, Any] = copy.deepcopy(dict(base))
    for key, value in overrides.items():
        if value is None:
            merged.pop(key, None)
        elif isinstance(value, Mapping) and isinstance(merged.get(key), Mapping):
            merged[key] = merge_documents(merged[key], value)
        else:
            merged[key] = copy.deepcopy(value)
    return merged


def apply_overrides(profile: ModelProfile, overrides: Mapping[str, Any] | None) -> ModelProfile:
    """A copy of ``profile`` with a run's overrides (a partial profile, same keys as the YAML) deep-merged
    in, re-validated.

    Only the allow-list of docs/profiles.md ("Overrides") may be overridden, within the stored profile's
    limits: anything else is refused with :class:`OverridesRefusedError` (an ``InvalidInputError``) before
    anything is merged; a value the schema rejects raises :class:`ProfileValidationError`. Problems are
    named ``overrides.<path>``.
    """
    if not overrides:
        return profile
    if not isinstance(overrides, Mapping):
        raise ProfileValidationError(
            [ProfileProblem("overrides", "must be a mapping of profile keys, e.g. {'tuning': {...}}")],
            source="overrides",
        )
    check_overrides(profile, overrides)
    merged = merge_documents(profile.to_document(), overrides)
    try:
        result = ModelProfile.model_validate(merged)
    except ValidationError as e:
        raise ProfileValidationError(
            problems_from(e, ModelProfile, prefix="overrides"), source="overrides"
        ) from None
    check_limits(profile, result)
    return result
