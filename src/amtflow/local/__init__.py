"""The local side of amtflow: the local AMT engine, the local twin and the CLI.

Never imported by Lambda code (a test enforces it). ``amtflow.local.sagemaker`` is the engine's entry
point (:func:`amtflow.local.engine.sagemaker`); it is loaded on first use, so commands that do not need the
engine do not pay for its imports.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from amtflow.local.engine import sagemaker

__all__ = ["sagemaker"]


def __getattr__(name: str) -> Any:
    if name == "sagemaker":
        from amtflow.local.engine import sagemaker

        return sagemaker
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
