"""Stopping a tuning job whose run no longer waits for it (the reconciler's clean-up of orphans)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from botocore.exceptions import BotoCoreError, ClientError

from amtflow.adapters._errors import error_code, translate

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
        try:
            self._sm.stop_hyper_parameter_tuning_job(HyperParameterTuningJobName=name)
        except ClientError as e:
            if error_code(e) in ALREADY_ENDED_CODES:
                return
            raise translate(e, f"stopping tuning job {name}") from e
        except BotoCoreError as e:
            raise translate(e, f"stopping tuning job {name}") from e
