"""Model profiles: the YAML schema (``schema: amtflow/v1``), its validation, and the compiler to SageMaker.

Typical use::

    profile = load_profile(text, source="s3://bucket/profiles/churn-xgb.yaml")
    profile = apply_overrides(profile, run_request["overrides"])
    request = compile_tuning_request(profile, job_name=..., data_uri=..., output_uri=..., role_arn=...)

See ``docs/profiles.md`` for the schema reference.
"""

from amtflow.profile._algorithms import MAX_ALGORITHMS, AlgorithmSpec, algorithm_named
from amtflow.profile._compile import (
    MODEL_TAG,
    TrainingNetwork,
    WarmStart,
    compile_training_request,
    compile_tuning_request,
    midrange_hyperparameters,
    parents_of,
    preview_tuning_request,
)
from amtflow.profile._deployment import AlarmSpec, CanarySpec, DeploymentSpec, ServerlessSpec
from amtflow.profile._enums import (
    Approval,
    Compression,
    CrossDataset,
    Distribution,
    EarlyStopping,
    Goal,
    InputMode,
    Outcome,
    ParameterType,
    Scaling,
    Strategy,
)
from amtflow.profile._errors import OverridesRefusedError, ProfileProblem, ProfileValidationError
from amtflow.profile._fields import SCHEMA_VERSION, render_scalar
from amtflow.profile._load import (
    apply_overrides,
    dump_profile,
    load_profile,
    load_profile_file,
    merge_documents,
    parse_profile,
)
from amtflow.profile._model import (
    ChannelSpec,
    CheckpointSpec,
    CompletionCriteria,
    DatasetSpec,
    HyperbandConfig,
    MetricDefinition,
    ModelProfile,
    Objective,
    ParameterRange,
    ResourceLimits,
    SpotConfig,
    TrainingSpec,
    TuningSpec,
    check_dataset_version,
)
from amtflow.profile._monitoring import Monitoring, OnStall, StallAfter
from amtflow.profile._notifications import announces, filter_policy
from amtflow.profile._policies import (
    Budget,
    DriftThresholds,
    Notifications,
    PromotionRule,
    WarmStartPolicy,
    schedule_problem,
)
from amtflow.profile._store import InMemoryProfileStore, ProfileStore, profile_key
from amtflow.vocabulary import MODEL_NAME_PATTERN, NoDriftAction, WarmStartType

__all__ = [
    "MAX_ALGORITHMS",
    "MODEL_NAME_PATTERN",
    "MODEL_TAG",
    "SCHEMA_VERSION",
    "AlarmSpec",
    "AlgorithmSpec",
    "Approval",
    "Budget",
    "CanarySpec",
    "ChannelSpec",
    "CheckpointSpec",
    "CompletionCriteria",
    "Compression",
    "CrossDataset",
    "DatasetSpec",
    "DeploymentSpec",
    "Distribution",
    "DriftThresholds",
    "EarlyStopping",
    "Goal",
    "HyperbandConfig",
    "InMemoryProfileStore",
    "InputMode",
    "MetricDefinition",
    "ModelProfile",
    "Monitoring",
    "NoDriftAction",
    "Notifications",
    "Objective",
    "OnStall",
    "Outcome",
    "OverridesRefusedError",
    "ParameterRange",
    "ParameterType",
    "ProfileProblem",
    "ProfileStore",
    "ProfileValidationError",
    "PromotionRule",
    "ResourceLimits",
    "Scaling",
    "ServerlessSpec",
    "SpotConfig",
    "StallAfter",
    "Strategy",
    "TrainingNetwork",
    "TrainingSpec",
    "TuningSpec",
    "WarmStart",
    "WarmStartPolicy",
    "WarmStartType",
    "algorithm_named",
    "announces",
    "apply_overrides",
    "check_dataset_version",
    "compile_training_request",
    "compile_tuning_request",
    "dump_profile",
    "filter_policy",
    "load_profile",
    "load_profile_file",
    "merge_documents",
    "midrange_hyperparameters",
    "parents_of",
    "parse_profile",
    "preview_tuning_request",
    "profile_key",
    "render_scalar",
    "schedule_problem",
]
