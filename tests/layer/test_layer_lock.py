"""The layer's lock pins exactly pyproject's runtime dependencies, hashed, without what the runtime brings."""

from __future__ import annotations

import pytest
from layer_support import (
    FUNCTIONS,
    ROOT,
    SRC,
    lock,
    lock_lines,
    parse_pin,
    runtime_dependencies,
    runtime_provided,
)
from packaging.utils import canonicalize_name
from samtranslator.yaml_helper import yaml_parse


def test_every_runtime_dependency_is_locked_at_a_version_pyproject_allows() -> None:
    pins = lock()
    provided = runtime_provided()
    for requirement in runtime_dependencies():
        name = canonicalize_name(requirement.name)
        if name in provided:
            continue
        assert name in pins, f"pyproject's {name} is not in src/requirements.lock: run make lock"
        version = pins[name].version
        assert requirement.specifier.contains(version, prereleases=True), (
            f"src/requirements.lock pins {name}=={version}, outside pyproject's {requirement}: run make lock"
        )


def test_boto3_is_the_runtimes_and_stays_out_of_the_lock() -> None:
    provided = runtime_provided()
    assert {"boto3", "botocore", "s3transfer"} <= provided
    assert "boto3" in {canonicalize_name(r.name) for r in runtime_dependencies()}
    assert not provided & set(lock()), "the layer would ship a second copy of the runtime's boto3/botocore"


def test_every_line_of_the_lock_is_an_exact_pin_with_its_hashes() -> None:
    lines = lock_lines()
    assert lines
    for line in lines:
        pin = parse_pin(line)
        assert pin.hashes, line


@pytest.mark.parametrize(
    "line",
    [
        "pydantic>=2.6",
        "pydantic==2.14.4",
        "pydantic==2.14.4 --hash=md5:0123",
        "-e ./src",
        "pydantic==2.14.4 --hash=sha256:" + "a" * 64 + " --no-binary=:all:",
    ],
)
def test_a_loose_or_unhashed_line_is_refused(line: str) -> None:
    with pytest.raises(ValueError, match="pin"):
        parse_pin(line)


def test_the_template_builds_the_core_layer_with_the_makefile_next_to_its_code() -> None:
    layer = yaml_parse((ROOT / "template.yaml").read_text())["Resources"]["CoreLayer"]
    assert layer["Metadata"]["BuildMethod"] == "makefile"
    assert layer["Properties"]["CompatibleRuntimes"] == ["python3.12"]
    assert layer["Properties"]["CompatibleArchitectures"] == ["x86_64"]
    content = ROOT / layer["Properties"]["ContentUri"]
    assert content.resolve() == SRC
    makefile = (content / "Makefile").read_text()
    assert "\nbuild-CoreLayer:" in makefile
    for flag in ("--require-hashes", "--no-deps", "--only-binary=:all:", "--python-version 3.12"):
        assert flag in makefile, flag
    assert "amtflow/local" in makefile


def test_the_handlers_import_only_the_shipped_core() -> None:
    assert FUNCTIONS
    for folder in FUNCTIONS:
        source = (folder / "app.py").read_text()
        assert "amtflow.local" not in source, f"{folder.name}: amtflow.local is not in the layer"
