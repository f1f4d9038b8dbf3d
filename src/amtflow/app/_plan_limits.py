"""What a retrain plan may carry: the champion's hyperparameters, within SageMaker's limits and a share of
the run's state.

A retrain's plan carries the champion's hyperparameters (``$.plan.hyperparameters``); after a promoted
retrain the champion's are the training job's full ``HyperParameters``, static ones included. The run's
state then carries them three times (``$.plan``, the training result in ``$.tuning``, the evaluation's best
model), and a state's input or output is limited to 256 KiB: Plan refuses what SageMaker would refuse
(``CreateTrainingJob.HyperParameters``: at most 100, key ≤ 256 and value ≤ 2500 characters) and what would
not fit three times in the state, before anything is recorded or locked for the run.
"""

from __future__ import annotations

import json
from collections.abc import Mapping

from amtflow.errors import InvalidInputError
from amtflow.messages import MAX_INPUT_BYTES

MAX_HYPERPARAMETERS = 100
MAX_KEY_CHARS = 256
MAX_VALUE_CHARS = 2500
MAX_HYPERPARAMETER_BYTES = MAX_INPUT_BYTES // 4
"""The hyperparameters as JSON, carried three times by the state, leave a quarter of it for the rest."""
FIELD = "plan.hyperparameters"


def check_retrain_hyperparameters(model: str, source: str, hyperparameters: Mapping[str, str]) -> None:
    """Refuse ``hyperparameters`` (those of ``source``, the champion's tuning or training job) when a
    training job or the run's state could not carry them; :class:`InvalidInputError` names the field."""
    fix = (
        f"retraining '{model}' with the hyperparameters of {source}: "
        "{problem}; lower or remove the static hyperparameters in the model's profile "
        "(large values belong in a file of the dataset or the image), then run a tune to make a new champion"
    )
    if len(hyperparameters) > MAX_HYPERPARAMETERS:
        problem = f"{len(hyperparameters)} hyperparameters, over SageMaker's {MAX_HYPERPARAMETERS}"
        raise InvalidInputError(fix.format(problem=problem), field=FIELD)
    for key, value in hyperparameters.items():
        if len(key) > MAX_KEY_CHARS:
            problem = f"a name of {len(key)} characters ({key[:40]}...), over SageMaker's {MAX_KEY_CHARS}"
            raise InvalidInputError(fix.format(problem=problem), field=f"{FIELD}.{key[:40]}")
        if len(value) > MAX_VALUE_CHARS:
            problem = f"{key} has a value of {len(value)} characters, over SageMaker's {MAX_VALUE_CHARS}"
            raise InvalidInputError(fix.format(problem=problem), field=f"{FIELD}.{key}")
    size = len(json.dumps(dict(hyperparameters)).encode("utf-8"))
    if size > MAX_HYPERPARAMETER_BYTES:
        problem = (
            f"they take {size} bytes as JSON, over {MAX_HYPERPARAMETER_BYTES}: the run's state carries them "
            "three times ($.plan, the training result, the evaluation) within Step Functions' 256 KiB"
        )
        raise InvalidInputError(fix.format(problem=problem), field=FIELD)
