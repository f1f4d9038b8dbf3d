"""Redaction: known secret values and credential-like strings are masked, ordinary text is left alone."""

from __future__ import annotations

import time

import pytest

from amtflow.redaction import ELLIPSIS, MASK, QUOTE_LIMIT, quote, redact, redact_value, secrets_in

ACCESS_KEY = "AKIAIOSFODNN7EXAMPLE"
SECRET_KEY = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"


@pytest.mark.parametrize(
    ("text", "secret"),
    [
        (f"The security token included in the request is invalid: {ACCESS_KEY}", ACCESS_KEY),
        ("temporary key ASIAY34FZKBOKMUTVV7A expired", "ASIAY34FZKBOKMUTVV7A"),
        (f"aws_secret_access_key = {SECRET_KEY}", SECRET_KEY),
        (f"secret key {SECRET_KEY} in the log", SECRET_KEY),
        ('{"SecretAccessKey": "' + SECRET_KEY + '"}', SECRET_KEY),
        ("connect(password=hunter2, host=db)", "hunter2"),
        ("DB_PASSWORD=correct-horse-battery", "correct-horse-battery"),
        ("export DB_PASS=correct-horse-battery", "correct-horse-battery"),
        ('{"api_key": "sk-live-0123456789"}', "sk-live-0123456789"),
        ("github token: ghp_abcdefghijklmnop", "ghp_abcdefghijklmnop"),
        ("client_secret='s3cr3t-value'", "s3cr3t-value"),
        ("Authorization: Bearer eyJhbGciOiJIUzI1NiJ9.e30.sig", "eyJhbGciOiJIUzI1NiJ9"),
        ("curl -H 'Authorization: Basic dXNlcjpwYXNz' https://x", "dXNlcjpwYXNz"),
        ("sent bearer abcdefghijklmnop123 upstream", "abcdefghijklmnop123"),
        ("mongodb://admin:pa55word@db.internal:27017/x", "pa55word"),
        (
            "key:\n-----BEGIN RSA PRIVATE KEY-----\nMIIEowIBAAKCAQEA7\n-----END RSA PRIVATE KEY-----\nok",
            "MIIEowIBAAKCAQEA7",
        ),
        ("-----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASC (cut", "MIIEvQIBADANBgkq"),
    ],
)
def test_credential_like_strings_are_masked(text: str, secret: str) -> None:
    redacted = redact(text)
    assert secret not in redacted
    assert MASK in redacted


@pytest.mark.parametrize(
    "text",
    [
        "Decision: tune — new data for cancer-xgb: cold-start tuning",
        "Hyperparameters: eta=0.2, max_depth=4",
        "Best: t2 — validation:auc = 0.95",
        "https://us-east-1.console.aws.amazon.com/states/home?region=us-east-1#/v2/executions/details/x",
        "the task token of the run was not found; the run waits for the reconciler",
        "s3://data/runs/t2/model.tar.gz",
        "bypass: the compass=north, 3 passes: ok",
        "arn:aws:sagemaker:us-east-1:123456789012:model-package/amtf-cancer-xgb/3",
    ],
)
def test_ordinary_notification_text_is_left_alone(text: str) -> None:
    assert redact(text) == text


def test_known_values_are_masked_wherever_they_appear_longest_first() -> None:
    text = "jdbc url with hunter2-prod inside, and hunter2 alone"
    assert redact(text, {"hunter2", "hunter2-prod"}) == f"jdbc url with {MASK} inside, and {MASK} alone"
    assert redact("abc and 1", {"abc", "1"}) == "abc and 1"  # too short to mask by value


def test_secrets_are_found_in_environment_mappings_and_under_secret_names() -> None:
    state = {
        "request": {"overrides": {"training": {"environment": {"DB_PASSWORD": "hunter22", "WORKERS": 4}}}},
        "plan": {"overrides": {"environment": {"API_URL": "https://internal.example"}}},
        "profile": {"training": {"Environment": {"FLAG": True, "REGION_NAME": "eu-west-1"}}},
        "elsewhere": [{"githubToken": "ghp_0123456789"}, {"name": "not-a-secret"}, {"max_tokens": "1024"}],
    }
    assert secrets_in(state) == {"hunter22", "https://internal.example", "eu-west-1", "ghp_0123456789"}
    assert secrets_in("text") == frozenset()


def test_documents_are_redacted_to_every_leaf_and_key() -> None:
    document = {"error": {"message": f"denied for {ACCESS_KEY}"}, "list": ["hunter22"], "n": 3}
    assert redact_value(document, {"hunter22"}) == {
        "error": {"message": f"denied for {MASK}"},
        "list": [MASK],
        "n": 3,
    }


def test_a_quoted_line_is_redacted_flat_and_bounded() -> None:
    assert quote("loss=0.1\tpassword=hunter2\r\nnext") == f"loss=0.1 password={MASK}  next"
    long = "epoch 1 " + "x" * 1_000_000 + f" {ACCESS_KEY}"
    started = time.monotonic()
    quoted = quote(long)
    assert time.monotonic() - started < 1.0
    assert len(quoted) == QUOTE_LIMIT
    assert quoted.endswith(ELLIPSIS)
    assert quoted.startswith("epoch 1 xxx")


def test_a_secret_straddling_the_cut_is_masked_whole() -> None:
    line = "x" * (QUOTE_LIMIT - 10) + f" {ACCESS_KEY} tail"
    quoted = quote(line)
    assert ACCESS_KEY[:6] not in quoted
    assert len(quoted) <= QUOTE_LIMIT


def test_redaction_stays_linear_on_hostile_text() -> None:
    for hostile in ("key" * 300_000, "password" * 100_000, "authorization: " * 50_000, "x://a:" * 150_000):
        started = time.monotonic()
        redact(hostile)
        assert time.monotonic() - started < 3.0, hostile[:20]
