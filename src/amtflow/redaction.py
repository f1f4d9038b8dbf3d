"""Redaction: no secret leaves amtflow in a notification, a quoted log line or a failure reason.

:func:`redact` is the one function that masks secrets in text. It masks two kinds:

* *known values*: the values of a profile's ``training.environment`` (and of any ``environment`` mapping in
  a run's overrides or plan), and the values of keys that name a secret (``password``, ``token``,
  ``api_key``, ...) anywhere in a run's documents; :func:`secrets_in` collects them. Values shorter than
  :data:`MIN_SECRET_LENGTH` characters, numbers and booleans are not masked by value (masking ``1`` or
  ``true`` everywhere would make the message unreadable); the patterns below still mask them next to a
  secret's name.
* *credential-like text*, known or not: AWS access key ids (``AKIA…``/``ASIA…``), 40-character secret
  access keys next to a ``secret``/``key`` word, ``password=``/``token:``/``api_key=``-style pairs,
  ``Authorization``/``Bearer`` tokens, PEM private key blocks and ``user:password@`` in URLs.

Every mask is :data:`MASK`. The patterns have bounded repetitions, so a megabyte-long log line costs linear
time. :func:`quote` is how a log line or a failure reason is shown: redacted, on one line, bounded.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any

MASK = "***"
ELLIPSIS = "…"
MIN_SECRET_LENGTH = 4

#: Key names whose values are secrets (``DB_PASSWORD``, ``apiKey``, ``github-token``, ``aws_secret``...).
_SENSITIVE_NAME = (
    r"(?:password|passwd|passphrase|pwd|(?<![a-z])pass(?![a-z])|secret|token|api[_-]?key|access[_-]?key"
    r"|private[_-]?key"
    r"|credentials?|auth[_-]?key|session[_-]?key)"
)
_SENSITIVE_KEY = re.compile(rf"(?i){_SENSITIVE_NAME}")
_ENVIRONMENT_KEY = re.compile(r"(?i)^environment$")
_NUMBER = re.compile(r"[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?")

_PATTERNS: tuple[tuple[re.Pattern[str], str], ...] = (
    # PEM private key blocks (to their END line, or to the end of a cut text)
    (
        re.compile(
            r"-----BEGIN[A-Z ]{0,40}PRIVATE KEY-----[\s\S]*?(?:-----END[A-Z ]{0,40}PRIVATE KEY-----|\Z)"
        ),
        MASK,
    ),
    # scheme://user:password@host
    (
        re.compile(r"(?i)\b([a-z][a-z0-9+.-]{0,30}://[^\s/:@]{1,256}:)[^\s/@]{1,256}@"),
        rf"\g<1>{MASK}@",
    ),
    # Authorization: Bearer|Basic|token <credential>
    (
        re.compile(
            r"(?i)\b(authorization[\"']?\s{0,3}[:=]\s{0,3}[\"']?)(?:(?:bearer|basic|token)\s{1,3})?[^\s\"',;]+"
        ),
        rf"\g<1>{MASK}",
    ),
    (re.compile(r"(?i)\b(bearer\s{1,3})[A-Za-z0-9._~+/-]{8,}=*"), rf"\g<1>{MASK}"),
    # a 40-character secret access key next to a secret/key word
    (
        re.compile(
            r"(?i)((?:secret|key)[A-Za-z0-9_-]{0,40}+[\"']?\s{0,3}[:=]?\s{0,3}[\"']?)"
            r"[A-Za-z0-9/+]{40}(?![A-Za-z0-9/+])"
        ),
        rf"\g<1>{MASK}",
    ),
    # password=..., "token": "...", api_key: ..., DB_PASSWORD=...
    (
        re.compile(
            rf"(?i)({_SENSITIVE_NAME}[A-Za-z0-9_-]{{0,40}}+[\"']?\s{{0,3}}[:=]\s{{0,3}}[\"']?)"
            r"(?!\*\*\*)[^\s\"'&,;)}\]]{1,4096}"
        ),
        rf"\g<1>{MASK}",
    ),
    # AWS access key ids (long-term and temporary)
    (re.compile(r"\b(?:AKIA|ASIA)[A-Z0-9]{16}\b"), MASK),
)


def redact(text: str, secrets: Iterable[str] = ()) -> str:
    """``text`` with every known secret value and every credential-like string replaced by :data:`MASK`."""
    if not text:
        return text
    for value in sorted({s for s in secrets if len(s) >= MIN_SECRET_LENGTH}, key=len, reverse=True):
        text = text.replace(value, MASK)
    for pattern, replacement in _PATTERNS:
        text = pattern.sub(replacement, text)
    return text


def redact_value(value: Any, secrets: Iterable[str] = ()) -> Any:
    """A JSON-like value with :func:`redact` applied to every string in it, mapping keys included; any other
    object becomes its redacted text."""
    known = frozenset(secrets)
    if isinstance(value, str):
        return redact(value, known)
    if isinstance(value, Mapping):
        return {redact(str(k), known): redact_value(v, known) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [redact_value(v, known) for v in value]
    if value is None or isinstance(value, bool | int | float):
        return value
    return redact(str(value), known)  # anything else is written as its text (an exception, a datetime)


def _scalar_text(value: Any) -> str | None:
    """A secret's text; numbers and booleans are not treated as secret values."""
    return value if isinstance(value, str) else None


def secrets_in(document: Any) -> frozenset[str]:
    """The values to mask wherever they appear: every scalar in an ``environment`` mapping, and the value
    of every key that names a secret, anywhere in ``document`` (a run's state, a profile document)."""
    found: set[str] = set()

    def walk(node: Any, depth: int) -> None:
        if depth > 32:
            return
        if isinstance(node, Mapping):
            for key, child in node.items():
                name = str(key)
                if _ENVIRONMENT_KEY.match(name) and isinstance(child, Mapping):
                    found.update(t for t in map(_scalar_text, child.values()) if t is not None)
                elif _SENSITIVE_KEY.search(name):
                    text = _scalar_text(child)
                    if text is not None and not _NUMBER.fullmatch(text.strip()):
                        found.add(text)  # a number under such a name is a setting ("max_tokens": "512")
                walk(child, depth + 1)
        elif isinstance(node, list | tuple):
            for child in node:
                walk(child, depth + 1)

    walk(document, 0)
    return frozenset(s.strip() for s in found if len(s.strip()) >= MIN_SECRET_LENGTH)


def truncate(text: str, limit: int) -> str:
    """``text`` cut to at most ``limit`` characters, the cut marked with :data:`ELLIPSIS`."""
    if len(text) <= limit:
        return text
    return text[: max(0, limit - len(ELLIPSIS))] + ELLIPSIS


#: How much of a log line (or a failure reason) a notification quotes.
QUOTE_LIMIT = 240
_QUOTE_WINDOW = 1024  # redacted beyond the cut, so a secret that straddles it is masked whole


def quote(text: str, secrets: Iterable[str] = (), *, limit: int = QUOTE_LIMIT) -> str:
    """Untrusted text (a trial's log line, a failure reason) as a notification may quote it: redacted, on
    one line (control characters and line breaks become spaces, so a multi-line log event is one quoted
    line), at most ``limit`` characters, a cut marked with :data:`ELLIPSIS`."""
    head = text[: limit + _QUOTE_WINDOW]
    clean = redact(head, secrets)
    flat = "".join(c if c.isprintable() else " " for c in clean).strip()
    if len(flat) > limit or len(text) > len(head):
        return flat[: max(0, limit - len(ELLIPSIS))] + ELLIPSIS
    return flat
