"""The closed vocabularies of a model profile, as enums.

Profiles may spell values the way the YAML reference does (``log``, ``off``) or the way SageMaker does
(``Logarithmic``, ``Off``); :func:`coerce_enum` maps both to one member, case-insensitively.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any

from amtflow.vocabulary import ApprovalStatus, ObjectiveType


class Strategy(StrEnum):
    """AMT search strategies (SageMaker spelling)."""

    BAYESIAN = "Bayesian"
    RANDOM = "Random"
    GRID = "Grid"
    HYPERBAND = "Hyperband"


Goal = ObjectiveType
"""Direction of the tuning objective (the profile's name for :class:`amtflow.vocabulary.ObjectiveType`)."""


class Scaling(StrEnum):
    """Scaling of a numeric range; :attr:`sagemaker` is the API's spelling."""

    AUTO = "auto"
    LINEAR = "linear"
    LOG = "log"
    REVERSE_LOG = "reverse_log"

    @property
    def sagemaker(self) -> str:
        return _SCALING_API[self]


_SCALING_API = {
    Scaling.AUTO: "Auto",
    Scaling.LINEAR: "Linear",
    Scaling.LOG: "Logarithmic",
    Scaling.REVERSE_LOG: "ReverseLogarithmic",
}


class ParameterType(StrEnum):
    """Kind of a tunable hyperparameter range."""

    CONTINUOUS = "continuous"
    INTEGER = "integer"
    CATEGORICAL = "categorical"


class EarlyStopping(StrEnum):
    """``TrainingJobEarlyStoppingType``."""

    OFF = "Off"
    AUTO = "Auto"


class InputMode(StrEnum):
    """``TrainingInputMode``."""

    FILE = "File"
    PIPE = "Pipe"
    FAST_FILE = "FastFile"


class Distribution(StrEnum):
    """``S3DataDistributionType`` of a channel."""

    FULLY_REPLICATED = "FullyReplicated"
    SHARDED_BY_S3_KEY = "ShardedByS3Key"


class Compression(StrEnum):
    """``CompressionType`` of a channel."""

    NONE = "None"
    GZIP = "Gzip"


class Approval(StrEnum):
    """``ModelApprovalStatus`` given to a promoted model package: the values of
    :class:`~amtflow.vocabulary.ApprovalStatus` a promotion may set (registering it ``Rejected`` makes no
    sense)."""

    PENDING_MANUAL_APPROVAL = ApprovalStatus.PENDING_MANUAL_APPROVAL.value
    APPROVED = ApprovalStatus.APPROVED.value


class CrossDataset(StrEnum):
    """How a challenger trained on new data is compared with a champion trained on older data.

    ``evaluate``: score the champion on the new validation data (like with like); ``threshold``: promote when
    the challenger clears ``promotion.threshold`` on its own.
    """

    EVALUATE = "evaluate"
    THRESHOLD = "threshold"


class NotificationOutcome(StrEnum):
    """Outcomes a profile may be notified about (``notifications.outcomes``): how the run ended
    (:class:`amtflow.messages.Outcome`) or, for a run with a result, whether its model was promoted; and
    ``stalled``, the reconciler's notice of a running tuning job that stalled (``monitoring``)."""

    SUCCEEDED = "succeeded"
    PROMOTED = "promoted"
    NOT_PROMOTED = "not_promoted"
    SKIPPED = "skipped"
    REJECTED = "rejected"
    FAILED = "failed"
    STALLED = "stalled"


Outcome = NotificationOutcome
"""The profile's name for :class:`NotificationOutcome` (not :class:`amtflow.messages.Outcome`)."""


def _squash(text: str) -> str:
    return "".join(ch for ch in text.lower() if ch.isalnum())


_ALIASES: dict[type[StrEnum], dict[str, str]] = {
    Scaling: {
        "logarithmic": "log",
        "reverselogarithmic": "reverse_log",
        "reverselog": "reverse_log",
    },
}


def coerce_enum(enum_cls: type[StrEnum], value: Any) -> Any:
    """Map ``value`` to a member of ``enum_cls`` ignoring case, ``_``/``-``/spaces and known aliases.

    Unknown values are returned unchanged so that validation reports them with the list of valid values.
    """
    if isinstance(value, enum_cls) or not isinstance(value, str):
        return value
    key = _squash(value)
    key = _squash(_ALIASES.get(enum_cls, {}).get(key, key))
    for member in enum_cls:
        if _squash(member.value) == key:
            return member
    return value
