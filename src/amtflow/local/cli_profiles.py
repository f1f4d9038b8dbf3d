"""``amtflow profiles``: validate model profiles, preview their tuning request, push them to the bucket.

- ``amtflow profiles validate FILE... [--format text|json]`` prints every problem of every file, each with
  its key path: the schema's problems all at once, then (for a profile the schema accepts) the findings of
  the preflight rules ``amtflow lint`` runs on the request it compiles to; exit 1 when any is invalid (an
  error finding makes it invalid, a warning does not), 2 when a path does not exist.
- ``amtflow profiles compile FILE [--version V] [--bucket B]`` prints the ``CreateHyperParameterTuningJob``
  request the profile compiles to (placeholder names and URIs following the bucket layout).
- ``amtflow profiles schema`` prints the profile's JSON Schema (from the validating models), for editors,
  e.g. with a ``# yaml-language-server: $schema=amtflow-profile.schema.json`` first line; rules that
  involve several keys are checked by ``validate`` only.
- ``amtflow profiles import`` (:mod:`amtflow.local.cli_import`) writes a profile from a tuning job.
- ``amtflow profiles push PATH... --bucket B [--prefix profiles/] [--topic-arn ARN | --stack NAME]``
  validates every file first (as ``validate`` does) and uploads nothing if any is invalid; a directory
  stands for the profiles (``*.yaml``/``*.yml`` files with a ``schema:`` key) anywhere under it. With a
  notification topic (``--topic-arn``, the ``NotificationTopicArn`` output of ``--stack``, or
  ``AMTFLOW_TOPIC_ARN``) a profile's ``notifications.email`` gets one ``email`` subscription whose filter
  policy lets through this model's notifications of the listed outcomes only
  (:func:`amtflow.profile.filter_policy`); an existing subscription of the address has its policy updated.
  The confirmed subscriptions made for the model (their filter policy's ``model``) of any other address (an
  address removed or replaced) are unsubscribed; one still pending confirmation is reported instead.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

import yaml

from amtflow import clients
from amtflow.adapters import S3ProfileStore, SnsEmailSubscriptions, stack_output
from amtflow.errors import AmtflowError, ConfigurationError
from amtflow.local.cli_format import EXIT_FINDINGS, EXIT_OK, JSON, TEXT, add_format, output_format, write_json
from amtflow.local.cli_import import register as import_profile
from amtflow.local.cli_lint import lint_profile
from amtflow.profile import (
    ModelProfile,
    ProfileProblem,
    ProfileValidationError,
    filter_policy,
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
    add_format(validate)
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
    topic = push.add_mutually_exclusive_group()
    topic.add_argument(
        "--topic-arn",
        default=None,
        help="notification topic for notifications.email subscriptions (default AMTFLOW_TOPIC_ARN)",
    )
    topic.add_argument("--stack", default=None, help="read the topic from this stack's NotificationTopicArn")
    push.set_defaults(func=_push)

    import_profile(sub)

    schema = sub.add_parser(
        "schema", help="print the profile's JSON Schema (for editors' completion and checks)"
    )
    schema.set_defaults(func=_schema)


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
        elif not path.exists():
            raise ConfigurationError(f"{path}: no such file or directory; check the path")
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


@dataclass(frozen=True)
class Checked:
    """One file checked: its profile (when the schema accepts it) and every problem, errors and warnings.

    A problem is ``{key, message, severity, rule, fix}``: ``key`` the profile key path, ``rule`` the
    preflight rule ID (empty for a schema problem).
    """

    path: Path
    text: str = ""
    profile: ModelProfile | None = None
    problems: tuple[dict[str, str], ...] = ()
    skipped: bool = False

    @property
    def errors(self) -> list[dict[str, str]]:
        return [p for p in self.problems if p["severity"] == "error"]

    @property
    def valid(self) -> bool:
        return self.profile is not None and not self.errors

    def to_dict(self) -> dict[str, Any]:
        status = "skipped" if self.skipped else "ok" if self.valid else "invalid"
        model = self.profile.model if self.profile is not None else None
        return {"file": str(self.path), "model": model, "status": status, "problems": list(self.problems)}


def _problem(
    key: str, message: str, *, severity: str = "error", rule: str = "", fix: str = ""
) -> dict[str, str]:
    return {"key": key, "message": message, "severity": severity, "rule": rule, "fix": fix}


def check_file(path: Path, *, searched: bool = False) -> Checked:
    """Validate one file: every schema problem at once; for a profile the schema accepts, every finding of
    the preflight rules ``amtflow lint`` runs on the request it compiles to (a profile SageMaker or
    StartTuning would refuse is invalid here too). A YAML file found in a directory that has no
    ``schema`` key is not a profile and is skipped; a file named explicitly is always validated."""
    try:
        text = _read(path)
        if searched and _is_other_yaml(text):
            return Checked(path, text, skipped=True)
        profile = load_profile(text, source=str(path))
    except ProfileValidationError as e:
        return Checked(path, problems=tuple(_problem(p.path, p.message) for p in e.problems))
    try:
        report = lint_profile(profile, source=str(path), job_prefix=load_settings().job_prefix)
    except AmtflowError as e:
        return Checked(path, text, profile, (_problem(getattr(e, "field", None) or "", str(e)),))
    problems = tuple(
        _problem(
            f.get("profileKey") or f["field"],
            f["message"],
            severity=f["severity"],
            rule=f["rule"],
            fix=f["fix"],
        )
        for f in report.to_dict()["findings"]
    )
    return Checked(path, text, profile, problems)


def _problem_line(problem: Mapping[str, str]) -> str:
    rule = f"[{problem['rule']} {problem['severity']}] " if problem["rule"] else ""
    fix = f" Fix: {problem['fix']}" if problem["fix"] else ""
    where = f"{problem['key']}: " if problem["key"] else ""
    return f"  - {where}{rule}{problem['message']}{fix}"


def _check_all(files: list[tuple[Path, bool]], out: TextIO | None) -> list[Checked]:
    """Check every file (printing each result on ``out`` when given); a second profile of the same model
    is invalid."""
    results: list[Checked] = []
    seen: dict[str, Path] = {}
    for path, searched in files:
        checked = check_file(path, searched=searched)
        if checked.profile is not None and checked.profile.model in seen:
            message = (
                f"model {checked.profile.model!r} is also defined in {seen[checked.profile.model]}; "
                "keep one profile per model"
            )
            checked = Checked(path, checked.text, checked.profile, (_problem("model", message),))
        elif checked.profile is not None:
            seen[checked.profile.model] = path
        results.append(checked)
        if out is not None:
            _print_checked(checked, out)
    return results


def _print_checked(checked: Checked, out: TextIO) -> None:
    path, profile = checked.path, checked.profile
    if checked.skipped:
        print(f"skip    {path} (no 'schema:' key, not a profile)", file=out)
        return
    count = len(checked.problems)
    noun = "problem" if count == 1 else "problems"
    if profile is None:
        head = f"invalid {path} is invalid ({count} {noun}):"
    elif checked.errors:
        head = f"invalid {path} (model {profile.model}) is invalid ({count} {noun}):"
    else:
        warned = f", {count} warning(s)" if count else ""
        head = f"ok      {path} (model {profile.model}){warned}"
    print(head, file=out)
    for problem in checked.problems:
        print(_problem_line(problem), file=out)


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
    fmt = output_format(args)
    results = _check_all(files, sys.stdout if fmt == TEXT else None)
    bad = sum(1 for r in results if not r.skipped and not r.valid)
    if fmt == JSON:
        write_json([r.to_dict() for r in results], sys.stdout)
    elif bad:
        print(f"{bad} of {sum(1 for r in results if not r.skipped)} profile(s) invalid", file=sys.stdout)
    return EXIT_FINDINGS if bad else EXIT_OK


def profile_schema() -> dict[str, Any]:
    """The JSON Schema (draft 2020-12) of a profile document, as editors read it."""
    schema = ModelProfile.model_json_schema(by_alias=True, mode="validation")
    # one training definition (``training``) or several (``algorithms``, which fill ``training`` themselves)
    schema["required"] = [key for key in schema.get("required", []) if key != "training"]
    schema["anyOf"] = [{"required": ["training"]}, {"required": ["algorithms"]}]
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": "amtflow model profile (schema: amtflow/v1)",
        **{k: v for k, v in schema.items() if k != "title"},
    }


def _schema(args: argparse.Namespace) -> int:
    write_json(profile_schema(), sys.stdout)
    return EXIT_OK


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


TOPIC_OUTPUT = "NotificationTopicArn"
"""The stack output naming the notification topic (template.yaml)."""


def subscribe_email(profile: ModelProfile, subscriptions: SnsEmailSubscriptions | None, out: TextIO) -> bool:
    """Give ``notifications.email`` its one filtered subscription; ``False`` when it could not be made."""
    email = profile.notifications.email
    if email is None:
        return True
    model = profile.model
    if subscriptions is None:
        print(
            f"{model}: notifications.email {email} not subscribed: no notification topic; pass "
            f"--topic-arn ARN or --stack NAME (its {TOPIC_OUTPUT} output), or set AMTFLOW_TOPIC_ARN",
            file=out,
        )
        return True
    policy = filter_policy(model, profile.notifications.outcomes)
    if policy is None:
        print(
            f"{model}: notifications.email {email} not subscribed: notifications.outcomes lists no outcome",
            file=out,
        )
        return True
    try:
        subscription = subscriptions.ensure(email, policy)
    except AmtflowError as e:
        print(f"{model}: notifications.email {email} not subscribed: {e}", file=out)
        return False
    listed = ", ".join(o.value for o in profile.notifications.outcomes)
    if subscription.created:
        print(
            f"{model}: subscribed {email} to the notifications of {model} ({listed}); SNS first sends "
            "it a confirmation e-mail, and nothing is delivered until its link is followed",
            file=out,
        )
    else:
        print(f"{model}: updated the filter of {email}'s subscription ({listed})", file=out)
    return True


#: How long SNS keeps an e-mail subscription whose confirmation link was not followed.
PENDING_LAPSES = "48 hours"


def retire_emails(
    profile: ModelProfile, earlier: str | None, subscriptions: SnsEmailSubscriptions | None, out: TextIO
) -> bool:
    """Unsubscribe the addresses subscribed to this model's notifications that its ``notifications.email``
    no longer names (or all of them when it lists no outcome); ``earlier`` is the stored profile's address.
    A pending subscription is reported, not removed; ``False`` when the subscriptions could not be read
    or removed."""
    model = profile.model
    email = profile.notifications.email
    if not profile.notifications.outcomes:
        email = None  # the address hears nothing: not even through the filter of an earlier push
    changed = earlier is not None and earlier.lower() != (email or "").lower()
    if subscriptions is None:
        if changed:
            print(
                f"{model}: notifications.email {earlier} (the stored profile's) not unsubscribed: no "
                f"notification topic; pass --topic-arn ARN or --stack NAME (its {TOPIC_OUTPUT} output), "
                "or set AMTFLOW_TOPIC_ARN",
                file=out,
            )
        return True
    try:
        retired = subscriptions.retire(model, keep=email, earlier=[earlier] if earlier else [])
    except AmtflowError as e:
        print(
            f"{model}: the subscriptions of earlier notifications.email addresses not removed: {e}", file=out
        )
        return False
    named = (profile.notifications.email or "").lower()
    for address in retired.unsubscribed:
        why = (
            "notifications.outcomes lists no outcome"
            if address.lower() == named
            else "no longer its notifications.email"
        )
        print(f"{model}: unsubscribed {address} from the notifications of {model} ({why})", file=out)
    for address in retired.pending:
        print(
            f"{model}: {address} not unsubscribed: its subscription is still pending confirmation, which SNS "
            f"cannot unsubscribe; it lapses after {PENDING_LAPSES} unless its confirmation link is followed "
            "(ignore that e-mail; once confirmed, push again to remove it)",
            file=out,
        )
    return True


def _stored_email(store: S3ProfileStore, model: str) -> str | None:
    """The ``notifications.email`` of the model's profile in the bucket, ``None`` when there is none or it
    cannot be read (then only confirmed subscriptions, found by their filter policy, are removed)."""
    try:
        return store.get(model).notifications.email
    except AmtflowError:
        return None


def push_profiles(
    paths: list[str],
    *,
    client: S3Client,
    bucket: str,
    prefix: str = "profiles/",
    out: TextIO | None = None,
    subscriptions: SnsEmailSubscriptions | None = None,
) -> int:
    """Validate every profile, then upload them all (or none), subscribe their ``notifications.email`` on
    the topic of ``subscriptions`` and unsubscribe the addresses they no longer name; the exit code (1 when
    a subscription could not be made or removed)."""
    out = out or sys.stdout
    files = _expand(paths)
    results = [r for r in _check_all(files, out) if not r.skipped]
    bad = sum(1 for r in results if not r.valid)
    if bad:
        print(f"nothing uploaded: {bad} of {len(results)} profile(s) invalid", file=out)
        return EXIT_FINDINGS
    good = [(r.path, r.profile, r.text) for r in results if r.profile is not None]
    store = S3ProfileStore(client, bucket, prefix)
    subscribed = True
    for path, profile, text in good:
        earlier = _stored_email(store, profile.model)
        store.put(text)
        print(f"uploaded {path} -> {store.uri(profile.model)}", file=out)
        subscribed = subscribe_email(profile, subscriptions, out) and subscribed
        subscribed = retire_emails(profile, earlier, subscriptions, out) and subscribed
    return EXIT_OK if subscribed else EXIT_FINDINGS


def _push(args: argparse.Namespace) -> int:
    settings = load_settings()
    bucket = args.bucket or settings.data_bucket
    if not bucket:
        raise ConfigurationError("no bucket: pass --bucket BUCKET or set AMTFLOW_DATA_BUCKET")
    prefix = args.prefix if args.prefix is not None else settings.profiles_prefix
    topic = args.topic_arn or settings.topic_arn
    if args.stack:
        topic = stack_output(clients.cloudformation(), args.stack, TOPIC_OUTPUT) or ""
        if not topic:
            raise ConfigurationError(f"stack {args.stack} has no {TOPIC_OUTPUT} output: pass --topic-arn")
    subscriptions = SnsEmailSubscriptions(clients.sns(), topic) if topic else None
    return push_profiles(
        args.paths, client=clients.s3(), bucket=bucket, prefix=prefix, subscriptions=subscriptions
    )
