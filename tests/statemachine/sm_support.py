"""Constants shared by the state-machine tests (imported by name; conftest modules are not importable)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PROFILE = (ROOT / "examples" / "xgboost" / "profile.yaml").read_text()
MODEL = "cancer-xgb"
T0 = datetime(2026, 11, 2, 9, 30, tzinfo=UTC)
