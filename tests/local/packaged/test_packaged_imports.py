"""While a handler runs in the twin, the imports Lambda would refuse are refused; nothing else changes."""

from __future__ import annotations

import builtins
import importlib
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from packaged_support import write_project

from amtflow.local.packaged import PackagedImports, built_functions, enforcing, import_guard

LAYER = {
    "corelib/__init__.py": "",
    "corelib/tidy.py": "import json\n\ndef answer():\n    return json.dumps(42)\n",
    # a layer module that imports what the layer does not ship (hypothesis is loaded in this process)
    "corelib/sloppy.py": "import hypothesis\n",
    "amtflow/__init__.py": "",
    "amtflow/errors.py": "",
}


@pytest.fixture
def policy(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[PackagedImports]:
    root = write_project(tmp_path, {"WorkFunction": "", "OtherFunction": ""}, LAYER)
    function = built_functions(root)["WorkFunction"]
    (function.code_dir / "helpers.py").write_text("VALUE = 1\n")
    # the twin runs the layer's packages from the process; here corelib comes from the built layer itself
    monkeypatch.syspath_prepend(str(function.python_dirs()[0]))
    monkeypatch.syspath_prepend(str(function.code_dir))
    with import_guard():
        yield PackagedImports(function)
    for name in ("corelib", "corelib.tidy", "corelib.sloppy", "helpers"):
        sys.modules.pop(name, None)


def run_as_handler(policy: PackagedImports, source: str) -> dict[str, object]:
    """Execute ``source`` as the function's handler module (its file is in the built folder)."""
    scope: dict[str, object] = {
        "__name__": "handler_module",
        "__file__": str(policy.function.code_dir / "app.py"),
    }
    with enforcing(policy):
        exec(compile(source, scope["__file__"], "exec"), scope)  # type: ignore[arg-type]
    return scope


def test_the_stdlib_the_runtimes_sdk_the_layer_and_the_functions_own_modules_import(
    policy: PackagedImports,
) -> None:
    scope = run_as_handler(
        policy,
        "import json, os.path\nimport boto3, botocore.config\nfrom corelib.tidy import answer\n"
        "import helpers\nimport amtflow.errors\nVALUE = answer()\n",
    )
    assert scope["VALUE"] == "42"


def test_a_module_this_process_has_loaded_is_still_refused_when_lambda_would_lack_it(
    policy: PackagedImports,
) -> None:
    import hypothesis  # noqa: F401 - loaded: a meta-path finder alone would never see the import below

    with pytest.raises(ModuleNotFoundError, match=r"No module named 'hypothesis' \(WorkFunction .*CoreLayer"):
        run_as_handler(policy, "import hypothesis\n")


def test_an_import_made_by_a_layer_module_is_checked_too(policy: PackagedImports) -> None:
    with pytest.raises(ModuleNotFoundError) as refused:
        run_as_handler(policy, "import corelib.sloppy\n")
    assert refused.value.name == "hypothesis"


def test_a_submodule_the_layer_does_not_ship_is_refused(policy: PackagedImports) -> None:
    # the layer has amtflow without amtflow.local (the twin's own package, loaded in this process)
    with pytest.raises(ModuleNotFoundError, match="the layers ship amtflow without it") as refused:
        run_as_handler(policy, "import amtflow.local\n")
    assert refused.value.name == "amtflow.local"
    with pytest.raises(ModuleNotFoundError):
        run_as_handler(policy, "from amtflow import local\n")


def test_importlib_import_module_is_checked(policy: PackagedImports) -> None:
    with pytest.raises(ModuleNotFoundError, match="'optuna'"):
        run_as_handler(policy, "import importlib\nimportlib.import_module('optuna')\n")


def test_a_module_python_3_12_removed_is_refused(policy: PackagedImports) -> None:
    with pytest.raises(ModuleNotFoundError, match=r"Python 3\.12 removed it"):
        run_as_handler(policy, "import imp\n")


def test_other_threads_and_code_outside_the_function_import_freely(policy: PackagedImports) -> None:
    seen: list[str] = []

    def elsewhere() -> None:
        import hypothesis

        seen.append(hypothesis.__name__)

    with enforcing(policy):
        thread = threading.Thread(target=elsewhere)
        thread.start()
        thread.join()
        # the twin's (and moto's) own imports on the handler's thread are theirs, not the function's
        exec("import hypothesis\n", {"__name__": "amtflow.local.twin._fake", "__file__": __file__})
    assert seen == ["hypothesis"]


def test_the_guard_puts_the_import_machinery_back() -> None:
    before = builtins.__import__, importlib.import_module
    with import_guard():
        assert builtins.__import__ is not before[0]
    assert (builtins.__import__, importlib.import_module) == before


def test_an_installed_packages_own_imports_follow_the_version_this_process_has(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # the layer pins wheelpkg 1.0 (no wheelpkg.extra); the process has 2.0, whose __init__ imports .extra
    layer = {
        "wheelpkg/__init__.py": "",
        "wheelpkg-1.0.dist-info/RECORD": "wheelpkg/__init__.py,,\nwheelpkg-1.0.dist-info/RECORD,,\n",
    }
    (tmp_path / "project").mkdir()
    root = write_project(tmp_path / "project", {"WorkFunction": ""}, layer)
    process_site = tmp_path / "site"
    (process_site / "wheelpkg").mkdir(parents=True)
    (process_site / "wheelpkg" / "__init__.py").write_text("from wheelpkg import extra\n")
    (process_site / "wheelpkg" / "extra.py").write_text("")
    monkeypatch.syspath_prepend(str(process_site))
    policy = PackagedImports(built_functions(root)["WorkFunction"])
    try:
        with import_guard():
            run_as_handler(policy, "import wheelpkg\n")
            with pytest.raises(ModuleNotFoundError, match="the layers ship wheelpkg without it"):
                run_as_handler(policy, "import wheelpkg.extra\n")
    finally:
        sys.modules.pop("wheelpkg", None)
        sys.modules.pop("wheelpkg.extra", None)
