"""``Twin.start(built=True)``: the functions run from .aws-sam/build, importing only what Lambda gives them.

A copy of the project whose built ReconcileFunction imports a module the layer does not ship (hypothesis,
which this process has loaded) fails that function with ``ModuleNotFoundError``, while the others, whose
handlers import Powertools, pydantic and the core through the guard, run as before.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from amtflow.local.twin import FunctionError, ManualClock, SageMakerFactory, Twin, TwinDeployError

ROOT = Path(__file__).resolve().parents[3]
BUILD = ROOT / ".aws-sam" / "build"
T0 = datetime(2026, 11, 2, 0, 0, tzinfo=UTC)

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        not (BUILD / "CoreLayer").is_dir(), reason="needs the built application: run make build"
    ),
]


def _copy_project(root: Path) -> Path:
    shutil.copy(ROOT / "template.yaml", root / "template.yaml")
    ignore = shutil.ignore_patterns("__pycache__")
    shutil.copytree(ROOT / "statemachine", root / "statemachine", ignore=ignore)
    shutil.copytree(ROOT / "functions", root / "functions", ignore=ignore)
    build = root / ".aws-sam" / "build"
    build.mkdir(parents=True)
    for folder in BUILD.iterdir():
        if folder.name == "CoreLayer":
            (build / folder.name).symlink_to(folder, target_is_directory=True)
        elif folder.is_dir():
            shutil.copytree(folder, build / folder.name, ignore=ignore)
    return root


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = _copy_project(tmp_path_factory.mktemp("built-project"))
    app = root / ".aws-sam" / "build" / "ReconcileFunction" / "app.py"
    text = app.read_text(encoding="utf-8")
    app.write_text(
        text.replace("from typing import Any\n", "from typing import Any\n\nimport hypothesis\n", 1)
    )
    assert "import hypothesis" in app.read_text(encoding="utf-8")
    return root


@pytest.fixture(scope="module")
def twin(project: Path, no_sagemaker: SageMakerFactory) -> Iterator[Twin]:
    import hypothesis  # noqa: F401 - loaded in this process: only the guard can make the import fail

    with Twin.start(project, sagemaker=no_sagemaker, clock=ManualClock(T0), built=True) as t:
        yield t


def test_a_built_handler_importing_what_the_layer_lacks_fails_as_on_lambda(twin: Twin) -> None:
    with pytest.raises(FunctionError) as failed:
        twin.invoke("ReconcileFunction", {})

    assert failed.value.error_type == "ModuleNotFoundError"
    assert "'hypothesis'" in failed.value.error_message
    assert "CoreLayer" in failed.value.error_message


def test_the_other_built_handlers_run_through_the_guard(twin: Twin) -> None:
    before = len(twin.invocations())
    twin.put_object("datasets/churn/v1/train/part-0.csv", b"1,2,3\n")

    assert twin.wait_for_executions(timeout=60) == []
    (invocation,) = twin.invocations()[before:]
    assert (invocation.function, invocation.ok) == ("StartRunFunction", True)


def test_without_a_build_the_twin_says_to_run_make_build(
    tmp_path: Path, no_sagemaker: SageMakerFactory
) -> None:
    root = _copy_project(tmp_path)
    shutil.rmtree(root / ".aws-sam" / "build" / "PlanFunction")

    with (
        pytest.raises(TwinDeployError, match=r"PlanFunction: .*make build"),
        Twin.start(root, sagemaker=no_sagemaker, built=True),
    ):
        pass
