"""State-machine tests: the real template, ASL and handlers in the local twin, SageMaker stood in."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sm_stand_in import SageMakerStandIn
from sm_support import MODEL, PROFILE, ROOT, T0

from amtflow.local.twin import ManualClock, Twin


@pytest.fixture
def sagemaker() -> SageMakerStandIn:
    return SageMakerStandIn()


@pytest.fixture
def app(sagemaker: SageMakerStandIn) -> Iterator[Twin]:
    with Twin.start(ROOT, sagemaker=sagemaker.factory, clock=ManualClock(T0)) as twin:
        twin.put_object(f"profiles/{MODEL}.yaml", PROFILE)
        # Plan profiles a version's data before it decides: v1's files are there (no marker: no trigger).
        twin.put_object(f"datasets/{MODEL}/v1/train/part-0.csv", "1,0.5\n0,0.1\n")
        twin.put_object(f"datasets/{MODEL}/v1/validation/part-0.csv", "1,0.4\n")
        twin.wait_idle()
        yield twin


@pytest.fixture(autouse=True)
def _send_task_failure_keeps_its_cause() -> Iterator[None]:
    """moto 5.2's SendTaskFailure handler drops ``cause`` before it reaches the interpreter (AWS keeps it,
    and the failure notification shows it): forward it, as the service does."""
    from unittest import mock

    from moto.core.responses import EmptyResult
    from moto.stepfunctions.responses import StepFunctionResponse

    def send_task_failure(self: StepFunctionResponse) -> EmptyResult:
        self.stepfunction_backend.send_task_failure(
            self._get_param("taskToken"), error=self._get_param("error"), cause=self._get_param("cause")
        )
        return EmptyResult()

    with mock.patch.object(StepFunctionResponse, "send_task_failure", send_task_failure):
        yield
