"""Shared fixtures of the twin's tests."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from amtflow.local.twin import ManualClock, SageMakerFactory, Twin

FIXTURE = Path(__file__).parent / "fixtures" / "app"
T0 = datetime(2026, 11, 1, 0, 10, tzinfo=UTC)


@pytest.fixture
def twin(no_sagemaker: SageMakerFactory) -> Iterator[Twin]:
    """The small application of ``fixtures/app`` (stage ``test``), its clock at :data:`T0`, no SageMaker."""
    with Twin.start(
        FIXTURE, sagemaker=no_sagemaker, clock=ManualClock(T0), parameters={"Stage": "test"}
    ) as t:
        yield t
