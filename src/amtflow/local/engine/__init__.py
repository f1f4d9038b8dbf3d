"""The local AMT engine: SageMaker's tuning, training and hosting API, in-process, with real training and
real serving (endpoints run the model's image with ``serve``; ``sagemaker-runtime`` InvokeEndpoint calls it).

Entry point: :func:`sagemaker` (also exported as ``amtflow.local.sagemaker``)::

    with amtflow.local.sagemaker(state_dir=".amtflow/engine", image_map="examples/image-map.yaml"):
        boto3.client("sagemaker").create_hyper_parameter_tuning_job(**request)

Layers: strategies decide (:func:`make_strategy`, :class:`Strategy`), a trial backend runs trials (the
runner's processes), a job loop per job coordinates them, and :class:`Engine` serves the API over typed job
records; time comes from an injectable :class:`Clock`.
"""

from amtflow.local.engine._engine import Engine
from amtflow.local.engine._events import EventSink
from amtflow.local.engine._hook import active_engine, sagemaker
from amtflow.local.engine._images import DEFAULT_IMAGE_MAP, ImageMap, load_image_map
from amtflow.local.engine._loop import warm_start_strategy
from amtflow.local.engine._model import (
    Clock,
    ErrorCode,
    ManualClock,
    ObjectiveStatus,
    SecondaryStatus,
    ServiceError,
    SystemClock,
    TrainingJobStatus,
    TuningJobStatus,
)
from amtflow.local.engine._runner import live_process_groups
from amtflow.local.engine._service import OPERATIONS
from amtflow.local.engine._space import Config, SearchSpace
from amtflow.local.engine._stopping import CompletionReason, CompletionTracker, MedianStoppingRule
from amtflow.local.engine._strategies import (
    BayesianStrategy,
    Decision,
    GridStrategy,
    HyperbandStrategy,
    RandomStrategy,
    Strategy,
    make_strategy,
)

__all__ = [
    "DEFAULT_IMAGE_MAP",
    "OPERATIONS",
    "BayesianStrategy",
    "Clock",
    "CompletionReason",
    "CompletionTracker",
    "Config",
    "Decision",
    "Engine",
    "ErrorCode",
    "EventSink",
    "GridStrategy",
    "HyperbandStrategy",
    "ImageMap",
    "ManualClock",
    "MedianStoppingRule",
    "ObjectiveStatus",
    "RandomStrategy",
    "SearchSpace",
    "SecondaryStatus",
    "ServiceError",
    "Strategy",
    "SystemClock",
    "TrainingJobStatus",
    "TuningJobStatus",
    "active_engine",
    "live_process_groups",
    "load_image_map",
    "make_strategy",
    "sagemaker",
    "warm_start_strategy",
]
