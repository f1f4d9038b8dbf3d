"""Shared fixtures of the local tests (the twin, the engine, the CLI)."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Mapping
from typing import Any

import pytest

from amtflow.local.twin import SageMakerFactory


def _no_sagemaker(sink: Callable[[Mapping[str, Any]], None]) -> contextlib.AbstractContextManager[object]:
    return contextlib.nullcontext()


@pytest.fixture(scope="session")
def no_sagemaker() -> SageMakerFactory:
    """A twin's SageMaker that serves nothing (``Twin.start(..., sagemaker=no_sagemaker)``): the application
    under test makes no SageMaker call."""
    return _no_sagemaker
