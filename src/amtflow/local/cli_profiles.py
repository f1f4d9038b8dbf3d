"""``amtflow profiles``: validate model profiles, preview their tuning request, push them to the bucket.

- ``amtflow profiles validate FILE...`` prints every problem of every file; exit 1 when any is invalid.
- ``amtflow profiles compile FILE [--version V] [--bucket B]`` prints the ``CreateHyperParameterTuningJob``
  request the profile compiles to (placeholder names and URIs following the bucket layout).
- ``amtflow profiles push PATH... --bucket B [--prefix profiles/]`` validates every file first and uploads
  nothing if any is invalid; a directory stands for the profiles (``*.yaml``/``*.yml`` files with a
  ``schema:`` key) anywhere under it.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

import yaml

from amtflow import clients
from amtflow.adapters import S3ProfileStore
from amtflow.errors import ConfigurationError, ProfileError
from amtflow.profile import (
    ModelProfile,
    ProfileProblem,
    ProfileValidationError,
    load_profile,
    load_profile_file,
    preview_tuning_request,
)
from amtflow.settings import load_settings

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

_SUFFIXES = (".yaml", ".yml")


def register(subparsers: Any) -> None:
    """Add ``amtflow profiles ...`` to the CLI."""
    parser = subparsers.add_parser("profiles", help="validate, preview and push model profiles")
    sub = parser.add_subparsers(dest="profiles_command", metavar="SUBCOMMAND", required=True)

    validate = sub.add_parser("validate", help="check profile files; exit 1 if any is invalid")
    validate.add_argument("files", nargs="+", metavar="FILE", help="profile YAML files (or directories)")
    validate.set_defaults(func=_validate)

    compile_ = sub.add_parser("compile", help="print the tuning request a profile compiles to")
    compile_.add_argument("file", metavar="FILE")
    compile_.add_argument("--version", default="preview", help="dataset version for the URIs")
    compile_.add_argument("--bucket", default=None, help="data bucket (default AMTFLOW_DATA_BUCKET)")
    compile_.add_argument("--job-prefix", default=None, help="job prefix (default AMTFLOW_JOB_PREFIX)")
    compile_.set_defaults(func=_compile)

    push = sub.add_parser("push", help="validate then upload profiles to s3://BUCKET/PREFIX<model>.yaml")
    push.add_argument("paths", nargs="+", metavar="PATH", help="profile YAML files or directories")
    push.add_argument("--bucket", default=None, help="data bucket (default AMTFLOW_DATA_BUCKET)")
    push.add_argument("--prefix", default=None, help="key prefix (default profiles/)")
    push.set_defaults(func=_push)


def _expand(paths: list[str]) -> list[tuple[Path, bool]]:
    """The files to check, each with whether it was found by searching a directory."""
    files: list[tuple[Path, bool]] = []
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            found = sorted(p for p in path.rglob("*") if p.suffix in _SUFFIXES and p.is_file())
            if not found:
                raise ConfigurationError(f"{path} holds no .yaml/.yml profile; name the files instead")
            files.extend((p, True) for p in found)
        else:
            files.append((path, False))
    return files


def _is_other_yaml(text: str) -> bool:
    """True for a well-formed YAML mapping without a ``schema`` key: some other file, not a profile."""
    try:
        document = yaml.safe_load(text)
    except yaml.YAMLError:
        return False
    return isinstance(document, dict) and "schema" not in document


def _check_all(
    files: list[tuple[Path, bool]], out: TextIO
) -> tuple[list[tuple[Path, ModelProfile, str]], int]:
    """Validate and print every file; the good ones (with their text) and the number of bad ones.

    A YAML file found in a directory that has no ``schema`` key is not a profile and is skipped; a file
    named explicitly is always validated.
    """
    good: list[tuple[Path, ModelProfile, str]] = []
    bad = 0
    seen: dict[str, Path] = {}
    for path, searched in files:
        try:
            text = _read(path)
            if searched and _is_other_yaml(text):
                print(f"skip    {path} (no 'schema:' key, not a profile)", file=out)
                continue
            profile = load_profile(text, source=str(path))
        except ProfileError as e:
            bad += 1
            print(f"invalid {e}", file=out)
            continue
        if profile.model in seen:
            bad += 1
            print(
                f"invalid {path}: model {profile.model!r} is also defined in {seen[profile.model]}; "
                "keep one profile per model",
                file=out,
            )
            continue
        seen[profile.model] = path
        good.append((path, profile, text))
        print(f"ok      {path} (model {profile.model})", file=out)
    return good, bad


def _read(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise ProfileValidationError(
            [ProfileProblem("", "not UTF-8 text; save the profile as UTF-8 YAML")], source=str(path)
        ) from None
    except OSError as e:
        raise ProfileValidationError(
            [ProfileProblem("", f"cannot be read ({e.strerror or e}); check the path")], source=str(path)
        ) from None


def _validate(args: argparse.Namespace) -> int:
    files = _expand(args.files)
    good, bad = _check_all(files, sys.stdout)
    if bad:
        print(f"{bad} of {bad + len(good)} profile(s) invalid", file=sys.stdout)
        return 1
    return 0


def _compile(args: argparse.Namespace) -> int:
    settings = load_settings()
    profile = load_profile_file(args.file)
    request = preview_tuning_request(
        profile,
        dataset_version=args.version,
        bucket=args.bucket or settings.data_bucket or "amtflow-data",
        job_prefix=args.job_prefix or settings.job_prefix,
    )
    print(json.dumps(request, indent=2))
    return 0


def push_profiles(
    paths: list[str], *, client: S3Client, bucket: str, prefix: str = "profiles/", out: TextIO | None = None
) -> int:
    """Validate every profile, then upload them all (or none); the exit code."""
    out = out or sys.stdout
    files = _expand(paths)
    good, bad = _check_all(files, out)
    if bad:
        print(f"nothing uploaded: {bad} of {bad + len(good)} profile(s) invalid", file=out)
        return 1
    store = S3ProfileStore(client, bucket, prefix)
    for path, profile, text in good:
        store.put(text)
        print(f"uploaded {path} -> {store.uri(profile.model)}", file=out)
    return 0


def _push(args: argparse.Namespace) -> int:
    settings = load_settings()
    bucket = args.bucket or settings.data_bucket
    if not bucket:
        raise ConfigurationError("no bucket: pass --bucket BUCKET or set AMTFLOW_DATA_BUCKET")
    prefix = args.prefix if args.prefix is not None else settings.profiles_prefix
    return push_profiles(args.paths, client=clients.s3(), bucket=bucket, prefix=prefix)
