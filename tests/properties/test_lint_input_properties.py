"""``amtflow lint FILE``'s reader: whatever FILE holds, the command exits 0, 1 or 2 and never shows a
traceback; exit 2 (unreadable) says which file and why."""

from __future__ import annotations

import contextlib
import io
import json
import tempfile
from pathlib import Path
from typing import Any

import yaml
from hypothesis import example, given
from hypothesis import strategies as st
from properties_support import FAST, THOROUGH, XGB_PROFILE, json_values, mappings_with

from amtflow.local.cli import main

REQUEST_KEYS = [
    "HyperParameterTuningJobName",
    "HyperParameterTuningJobConfig",
    "TrainingJobDefinition",
    "TrainingJobDefinitions",
    "WarmStartConfig",
    "Tags",
    "Autotune",
]
SUFFIXES = st.sampled_from([".json", ".yaml", ".yml", ".txt", ""])


def lint(content: str | bytes, suffix: str) -> tuple[int, str, str, Path]:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / f"input{suffix}"
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content, encoding="utf-8")
        out, err = io.StringIO(), io.StringIO()
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            code = main(["lint", "--format", "json", str(path)])
        return code, out.getvalue(), err.getvalue(), path


def check(code: int, out: str, err: str, path: Path) -> None:
    assert code in (0, 1, 2)
    assert "Traceback" not in out + err
    if code == 2:
        assert str(path) in err, f"the reason for exit 2 does not name the file: {err!r}"
    else:
        findings = json.loads(out)
        assert (code == 1) == any(f["severity"] == "error" for f in findings)


@THOROUGH
@given(content=st.text(max_size=400) | st.binary(max_size=200), suffix=SUFFIXES)
@example(content="", suffix=".json")
@example(content="[1, 2", suffix=".json")
@example(content="a: [", suffix=".yaml")
@example(content=b"\xff\xfe\x00", suffix=".yaml")
def test_any_file_content_gives_an_exit_status_not_a_traceback(content: str | bytes, suffix: str) -> None:
    check(*lint(content, suffix))


@THOROUGH
@given(document=mappings_with(REQUEST_KEYS), as_json=st.booleans())
def test_any_request_shaped_document_is_linted_or_named_unreadable(
    document: dict[str, Any], as_json: bool
) -> None:
    text = json.dumps(document) if as_json else yaml.safe_dump(document)
    check(*lint(text, ".json" if as_json else ".yaml"))


@FAST
@given(section=st.sampled_from(["dataset", "training", "tuning", "budget", "warm_start"]), value=json_values)
def test_a_profile_with_a_broken_section_is_named_unreadable(section: str, value: Any) -> None:
    document = yaml.safe_load(XGB_PROFILE)
    document[section] = value
    code, out, err, path = lint(yaml.safe_dump(document), ".yaml")
    check(code, out, err, path)
    if code == 2:
        assert "is not a valid profile" in err
        assert section in err


def test_the_example_profile_lints_clean() -> None:
    code, out, err, path = lint(XGB_PROFILE, ".yaml")
    check(code, out, err, path)
    assert code == 0, err
