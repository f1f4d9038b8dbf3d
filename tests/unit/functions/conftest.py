"""Handler tests: each function invoked as deployed (the template's handler and environment) in the twin."""

from __future__ import annotations

import importlib.util
import json
import sys
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from amtflow.local.twin import ManualClock, Twin

ROOT = Path(__file__).resolve().parents[3]
PROFILE = (ROOT / "examples" / "xgboost" / "profile.yaml").read_text()
MODEL = "cancer-xgb"


def _stand_in_module() -> Any:
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


@pytest.fixture(scope="module")
def sagemaker() -> Any:
    return _stand_in_module().SageMakerStandIn(emit_events=False)


@pytest.fixture(scope="module")
def twin(sagemaker: Any) -> Iterator[Twin]:
    with Twin.start(
        ROOT, sagemaker=sagemaker.factory, clock=ManualClock(datetime(2026, 11, 2, 9, 30, tzinfo=UTC))
    ) as t:
        t.put_object(f"profiles/{MODEL}.yaml", PROFILE)
        t.wait_idle()
        yield t
