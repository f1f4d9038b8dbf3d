"""Fixtures for the example tests (helpers live in example_support.py)."""

from __future__ import annotations

from pathlib import Path

import pytest
from example_support import MlDir


@pytest.fixture
def ml_dir(tmp_path: Path) -> MlDir:
    root = tmp_path / "opt" / "ml"
    for sub in ("input/config", "input/data", "model", "output"):
        (root / sub).mkdir(parents=True)
    return MlDir(root)
