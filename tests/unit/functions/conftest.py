"""Handler tests: each function invoked as deployed (the template's handler and environment) in the twin."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from handler_support import MODEL, PROFILE, ROOT, stand_in_module

from amtflow.local.twin import ManualClock, Twin


@pytest.fixture(scope="module")
def sagemaker() -> Any:
    return stand_in_module().SageMakerStandIn(emit_events=False)


@pytest.fixture(scope="module")
def twin(sagemaker: Any) -> Iterator[Twin]:
    with Twin.start(
        ROOT, sagemaker=sagemaker.factory, clock=ManualClock(datetime(2026, 11, 2, 9, 30, tzinfo=UTC))
    ) as t:
        t.put_object(f"profiles/{MODEL}.yaml", PROFILE)
        t.put_object(f"datasets/{MODEL}/v1/train/part-0.csv", "1,0.5\n0,0.1\n")  # Plan profiles it
        t.wait_idle()
        yield t
