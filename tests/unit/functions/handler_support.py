"""Shared by the handler tests (imported by name; conftest modules are not importable)."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[3]
PROFILE = (ROOT / "examples" / "xgboost" / "profile.yaml").read_text()
MODEL = "cancer-xgb"


def stand_in_module() -> Any:
    path = ROOT / "tests" / "statemachine" / "sm_stand_in.py"
    spec = importlib.util.spec_from_file_location("sm_stand_in", path)
    assert spec is not None
    assert spec.loader is not None
    module = sys.modules.get("sm_stand_in") or importlib.util.module_from_spec(spec)
    if "sm_stand_in" not in sys.modules:
        sys.modules["sm_stand_in"] = module
        spec.loader.exec_module(module)
    return module


def event(name: str, **detail_changes: Any) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((ROOT / "events" / name).read_text())
    data["detail"].update(detail_changes)
    return data
