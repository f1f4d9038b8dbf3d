"""The import check: every built handler imports with only the runtime and its layers, or it is named."""

from __future__ import annotations

from pathlib import Path

import pytest
from packaged_support import GOOD_HANDLER, bare_runtime, write_project

from amtflow.errors import ConfigurationError
from amtflow.local.cli import main
from amtflow.local.packaged import built_functions, check_imports

# boto3 is the runtime's: the bare interpreter below has none, so the handlers here import only the stdlib,
# their layer, and what the test lacks on purpose.
STDLIB_HANDLER = GOOD_HANDLER.replace("import boto3\n", "").replace("boto3.__name__", "'none'")
LAYER = {
    "corelib/__init__.py": "from corelib._impl import answer\n",
    "corelib/_impl.py": "def answer():\n    return 42\n",
}


@pytest.fixture(scope="module")
def runtime(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    return bare_runtime(tmp_path_factory.mktemp("runtime") / "venv")


def test_a_handler_that_imports_only_the_stdlib_and_its_layer_passes(
    tmp_path: Path, runtime: tuple[Path, str]
) -> None:
    python, version = runtime
    root = write_project(tmp_path, {"GoodFunction": STDLIB_HANDLER}, LAYER, runtime=version)

    result = check_imports(built_functions(root), python)

    assert result.failures == ()
    assert result.checked == ("GoodFunction",)


def test_a_module_the_development_environment_has_but_the_layer_lacks_is_named_with_its_function(
    tmp_path: Path, runtime: tuple[Path, str]
) -> None:
    # optuna is installed here (the local engine uses it), so importing the handler in the tests would pass
    broken = STDLIB_HANDLER.replace("import json\n", "import json\n\nimport optuna\n")
    python, version = runtime
    root = write_project(
        tmp_path, {"GoodFunction": STDLIB_HANDLER, "BrokenFunction": broken}, LAYER, runtime=version
    )

    result = check_imports(built_functions(root), python)

    (failure,) = result.failures
    assert failure.function.logical_id == "BrokenFunction"
    assert failure.missing == "optuna"
    text = failure.describe()
    assert text.startswith("BrokenFunction (")
    assert "no module named 'optuna'" in text
    assert "CoreLayer" in text


def test_a_module_the_layer_itself_imports_but_does_not_ship_is_named(
    tmp_path: Path, runtime: tuple[Path, str]
) -> None:
    layer = {**LAYER, "corelib/_impl.py": "import yaml\n\ndef answer():\n    return 42\n"}
    python, version = runtime
    root = write_project(tmp_path, {"GoodFunction": STDLIB_HANDLER}, layer, runtime=version)

    (failure,) = check_imports(built_functions(root), python).failures

    assert (failure.function.logical_id, failure.missing) == ("GoodFunction", "yaml")
    assert "corelib/_impl.py" in failure.trace


def test_the_handler_attribute_the_template_names_must_exist(
    tmp_path: Path, runtime: tuple[Path, str]
) -> None:
    python, version = runtime
    root = write_project(
        tmp_path,
        {"GoodFunction": STDLIB_HANDLER},
        LAYER,
        runtime=version,
        handlers={"GoodFunction": "app.handle"},
    )

    (failure,) = check_imports(built_functions(root), python).failures

    assert failure.missing is None
    assert "has no callable 'handle'" in failure.describe()


def test_the_command_exits_1_naming_the_function_and_the_module(
    tmp_path: Path, runtime: tuple[Path, str], capsys: pytest.CaptureFixture[str]
) -> None:
    broken = STDLIB_HANDLER.replace("import json\n", "import json\n\nimport hypothesis\n")
    python, version = runtime
    root = write_project(tmp_path, {"BrokenFunction": broken}, LAYER, runtime=version)

    code = main(["local", "check-build", "--project", str(root), "--runtime-python", str(python)])

    out = capsys.readouterr()
    assert code == 1
    assert "FAIL BrokenFunction (" in out.err
    assert "no module named 'hypothesis'" in out.err
    assert "0 of 1 handlers import" in out.out


def test_the_command_refuses_an_interpreter_of_another_version_than_the_template_runs(
    tmp_path: Path, runtime: tuple[Path, str], capsys: pytest.CaptureFixture[str]
) -> None:
    python, _ = runtime
    root = write_project(tmp_path, {"GoodFunction": STDLIB_HANDLER}, LAYER, runtime="python3.9")

    code = main(["local", "check-build", "--project", str(root), "--runtime-python", str(python)])

    assert code == 2
    assert "--runtime-python" in capsys.readouterr().err


def test_a_project_that_was_not_built_says_to_run_make_build(tmp_path: Path) -> None:
    root = write_project(tmp_path, {"GoodFunction": STDLIB_HANDLER}, LAYER)
    (root / ".aws-sam" / "build" / "GoodFunction" / "app.py").unlink()
    (root / ".aws-sam" / "build" / "GoodFunction").rmdir()

    with pytest.raises(ConfigurationError, match=r"GoodFunction: .*make build"):
        built_functions(root)


def test_an_interpreter_that_cannot_run_is_named(tmp_path: Path) -> None:
    root = write_project(tmp_path, {"GoodFunction": STDLIB_HANDLER}, LAYER)
    missing = tmp_path / "no-such-venv" / "bin" / "python"

    with pytest.raises(ConfigurationError, match=r"no-such-venv/bin/python cannot run the import check"):
        check_imports(built_functions(root), missing)
