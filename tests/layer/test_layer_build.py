"""The CoreLayer as src/Makefile builds it (what ``sam build`` ships): lean, complete, and importable on 3.12.

The build downloads Linux wheels from PyPI once per test session; without PyPI the tests skip and say so.
The import check runs the handlers under CPython 3.12 in isolated mode (``-I -S``: no site-packages, no
PYTHON* variables) on the path the Lambda runtime gives them: the function's folder, the layer, and a
folder with boto3 standing in for the runtime's own copy.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import urllib.error
import urllib.request
from collections.abc import Iterator
from email.parser import Parser
from pathlib import Path

import pytest
from layer_support import FUNCTIONS, SRC, runtime_dependencies, runtime_provided
from packaging.markers import Marker
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

pytestmark = pytest.mark.slow

# Unzipped size above which the layer counts as grown: what dominates it is pydantic-core (~5 MB),
# aws-lambda-powertools (~4.5 MB) and pydantic (~2 MB); the core itself is under 1 MB.
LAYER_BUDGET_MB = 15.0
PIP_TARGET_312 = [
    "--only-binary=:all:",
    "--platform",
    "manylinux2014_x86_64",
    "--implementation",
    "cp",
    "--python-version",
    "3.12",
]
# The Lambda python3.12 runtime's environment markers (Amazon Linux 2023, x86_64).
LAMBDA_MARKERS = {
    "implementation_name": "cpython",
    "platform_machine": "x86_64",
    "platform_python_implementation": "CPython",
    "platform_system": "Linux",
    "python_full_version": "3.12.0",
    "python_version": "3.12",
    "sys_platform": "linux",
    "os_name": "posix",
}


def _pypi_reachable() -> bool:
    try:
        with urllib.request.urlopen("https://pypi.org/simple/pip/", timeout=15):
            return True
    except (urllib.error.URLError, OSError):
        return False


@pytest.fixture(scope="session")
def layer_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The layer built once per session by src/Makefile's build-CoreLayer, as ``sam build`` runs it."""
    if shutil.which("make") is None:
        pytest.skip("make is not installed: the layer is built by src/Makefile")
    if not _pypi_reachable():
        pytest.skip("PyPI is unreachable: building the layer downloads its Linux wheels")
    root = tmp_path_factory.mktemp("layer")
    run = subprocess.run(
        ["make", "-C", str(SRC), "build-CoreLayer", f"ARTIFACTS_DIR={root}", f"PYTHON={sys.executable}"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert run.returncode == 0, f"the layer does not build:\n{run.stdout}\n{run.stderr}"
    return root


@pytest.fixture(scope="session")
def runtime_boto3(tmp_path_factory: pytest.TempPathFactory, layer_root: Path) -> Path:
    """boto3 and botocore for CPython 3.12, standing in for the copies the Lambda runtime provides."""
    target = tmp_path_factory.mktemp("runtime")
    boto3 = next(str(r) for r in runtime_dependencies() if canonicalize_name(r.name) == "boto3")
    cmd = [sys.executable, "-m", "pip", "install", "--quiet", "--no-compile", *PIP_TARGET_312]
    run = subprocess.run([*cmd, "--target", str(target), boto3], capture_output=True, text=True, check=False)
    assert run.returncode == 0, f"boto3 for 3.12 does not install:\n{run.stderr}"
    return target


def _python312() -> str | None:
    """A CPython 3.12 interpreter: python3.12 on PATH, else pyenv's 3.12."""
    candidates: list[str] = []
    if exe := shutil.which("python3.12"):
        candidates.append(exe)
    if pyenv := shutil.which("pyenv"):
        listed = subprocess.run([pyenv, "versions", "--bare"], capture_output=True, text=True, check=False)
        for version in listed.stdout.split():
            if version.startswith("3.12"):
                where = subprocess.run(
                    [pyenv, "prefix", version], capture_output=True, text=True, check=False
                )
                candidates.append(str(Path(where.stdout.strip()) / "bin" / "python3.12"))
    for exe in candidates:
        probe = subprocess.run(
            [exe, "-c", "import sys; print(sys.version_info[:2] == (3, 12))"],
            capture_output=True,
            text=True,
            check=False,
        )
        if probe.stdout.strip() == "True":
            return exe
    return None


def _dists(site: Path) -> Iterator[tuple[str, str, list[Requirement]]]:
    """(name, version, requirements) of every distribution installed in ``site``."""
    for info in site.glob("*.dist-info"):
        meta = Parser().parsestr((info / "METADATA").read_text(encoding="utf-8"))
        requires = [Requirement(r) for r in meta.get_all("Requires-Dist") or []]
        yield canonicalize_name(meta["Name"]), meta["Version"], requires


# --- what is in it -----------------------------------------------------------------------------------


def test_the_layer_has_the_core_without_the_local_engine(layer_root: Path) -> None:
    shipped = layer_root / "python" / "amtflow"
    assert not (shipped / "local").exists()
    source = SRC / "amtflow"
    expected = {
        p.relative_to(source)
        for p in source.rglob("*")
        if p.is_file() and "__pycache__" not in p.parts and p.relative_to(source).parts[0] != "local"
    }
    assert {p.relative_to(shipped) for p in shipped.rglob("*") if p.is_file()} == expected
    assert (shipped / "preflight" / "prices.json").is_file()


def test_the_layer_ships_no_second_boto3_or_botocore(layer_root: Path) -> None:
    site = layer_root / "python"
    shipped = {name for name, _, _ in _dists(site)}
    assert not shipped & runtime_provided()
    for package in ("boto3", "botocore", "s3transfer"):
        assert not (site / package).exists(), package
    assert not list(layer_root.rglob("*.pyc"))


def test_every_dependency_is_in_the_layer_or_the_runtime(layer_root: Path, runtime_boto3: Path) -> None:
    layer = {name: (version, requires) for name, version, requires in _dists(layer_root / "python")}
    runtime = {name: version for name, version, _ in _dists(runtime_boto3)}
    wanted = [(r, "pyproject.toml") for r in runtime_dependencies()]
    seen: set[tuple[str, frozenset[str]]] = set()
    while wanted:
        requirement, by = wanted.pop()
        name = canonicalize_name(requirement.name)
        key = (name, frozenset(requirement.extras))
        if key in seen:
            continue
        seen.add(key)
        version = layer[name][0] if name in layer else runtime.get(name)
        assert version is not None, f"{by} needs {requirement}, which neither the layer nor the runtime has"
        assert requirement.specifier.contains(version, prereleases=True), (
            f"{by}: {requirement}, not {version}"
        )
        if name in layer:
            wanted += [(r, name) for r in layer[name][1] if _applies(r, requirement.extras)]


def _applies(requirement: Requirement, extras: set[str]) -> bool:
    if requirement.marker is None:
        return True
    marker = Marker(str(requirement.marker))
    return any(marker.evaluate({**LAMBDA_MARKERS, "extra": extra}) for extra in {"", *extras})


def test_the_layer_is_small(layer_root: Path) -> None:
    mb = _size(layer_root) / 1e6
    parts = [(_size(p), p.name) for p in (layer_root / "python").iterdir()]
    biggest = sorted(parts, reverse=True)[:4]
    summary = ", ".join(f"{name} {b / 1e6:.1f} MB" for b, name in biggest)
    print(f"\nlayer: {mb:.1f} MB unzipped ({summary})")
    assert mb < LAYER_BUDGET_MB, f"the layer grew to {mb:.1f} MB unzipped; the biggest: {summary}"


def _size(path: Path) -> int:
    return (
        path.stat().st_size
        if path.is_file()
        else sum(f.stat().st_size for f in path.rglob("*") if f.is_file())
    )


# --- it runs on the Lambda python3.12 runtime ----------------------------------------------------------

_IMPORT_CHECK = """
import importlib, json, pkgutil, sys, traceback
functions, layer, runtime = json.loads(sys.argv[1])
sys.path[:0] = [layer, runtime]
failures = {}
for folder in functions:
    sys.path.insert(0, folder)
    try:
        importlib.import_module("app").lambda_handler
    except BaseException:
        failures[folder] = traceback.format_exc()
    sys.modules.pop("app", None)
    sys.path.remove(folder)
import amtflow
for module in pkgutil.walk_packages(amtflow.__path__, "amtflow."):
    try:
        importlib.import_module(module.name)
    except BaseException:
        failures[module.name] = traceback.format_exc()
checked = ("amtflow", "pydantic", "aws_lambda_powertools", "botocore", "boto3")
where = {m: sys.modules[m].__file__ for m in checked}
print(json.dumps({"failures": failures, "where": where, "version": list(sys.version_info[:2])}))
"""


def test_every_handler_imports_with_only_the_layer_the_stdlib_and_boto3(
    layer_root: Path, runtime_boto3: Path
) -> None:
    python = _python312()
    if python is None:
        pytest.skip("no CPython 3.12 here (python3.12 on PATH or a pyenv 3.12): Lambda runs 3.12")
    layer = str(layer_root / "python")
    env = {
        "PATH": os.environ.get("PATH", ""),
        "AWS_LAMBDA_FUNCTION_NAME": "amtflow-layer-check",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_REGION": "us-east-1",
        "AWS_EC2_METADATA_DISABLED": "true",
        "POWERTOOLS_SERVICE_NAME": "amtflow",
        "POWERTOOLS_METRICS_NAMESPACE": "amtflow",
    }
    args = json.dumps([[str(f) for f in FUNCTIONS], layer, str(runtime_boto3)])
    run = subprocess.run(
        [python, "-I", "-S", "-c", _IMPORT_CHECK, args], capture_output=True, text=True, env=env, check=False
    )
    assert run.returncode == 0, run.stderr
    result = json.loads(run.stdout.splitlines()[-1])
    assert result["version"] == [3, 12]
    assert result["failures"] == {}, "\n".join(f"{k}:\n{v}" for k, v in result["failures"].items())
    where = result["where"]
    for module in ("amtflow", "pydantic", "aws_lambda_powertools"):
        assert where[module].startswith(layer + os.sep), where
    for module in ("boto3", "botocore"):
        assert where[module].startswith(str(runtime_boto3) + os.sep), where
