"""amtflow: an event-driven orchestrator for Amazon SageMaker Automatic Model Tuning.

The package root is the core that ships to Lambda as one layer. Nothing here builds AWS clients or reads
the environment at import time; see :mod:`amtflow.settings` and :mod:`amtflow.clients`.
"""

__version__ = "0.1.0"

__all__ = ["__version__"]
