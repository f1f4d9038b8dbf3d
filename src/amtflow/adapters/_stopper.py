"""Stopping a tuning job whose run no longer waits for it (the reconciler's clean-up of orphans)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from amtflow.adapters._errors import aws_call

if TYPE_CHECKING:
    from mypy_boto3_sagemaker import SageMakerClient

# SageMaker answers a stop of a job that is no longer running (or unknown) with ValidationException /
# ResourceNotFound: the job is not running, which is what the caller wants.
ALREADY_ENDED_CODES = frozenset({"ValidationException", "ResourceNotFound"})


class SageMakerJobStopper:
    """``stop_tuning_job(name)``: StopHyperParameterTuningJob, idempotent."""

    def __init__(self, client: SageMakerClient) -> None:
        self._sm = client

    def stop_tuning_job(self, name: str) -> None:
        with aws_call(f"stopping tuning job {name}", expected=ALREADY_ENDED_CODES):
            self._sm.stop_hyper_parameter_tuning_job(HyperParameterTuningJobName=name)
