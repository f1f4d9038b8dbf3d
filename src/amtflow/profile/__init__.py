"""Model profiles: the YAML schema (``schema: amtflow/v1``), its validation, and the compiler to SageMaker.

Typical use::

    profile = load_profile(text, source="s3://bucket/profiles/churn-xgb.yaml")
    profile = apply_overrides(profile, run_request["overrides"])
    request = compile_tuning_request(profile, job_name=..., data_uri=..., output_uri=..., role_arn=...)

See ``docs/profiles.md`` for the schema reference.
"""

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
from amtflow.profile._load import (
    apply_overrides,
    dump_profile,
    load_profile,
    load_profile_file,
    merge_documents,
    parse_profile,
)
from amtflow.profile._model import (
    SCHEMA_VERSION,
    Budget,
    ChannelSpec,
    CheckpointSpec,
    CompletionCriteria,
    DatasetSpec,
    DriftThresholds,
    HyperbandConfig,
    MetricDefinition,
    ModelProfile,
    Notifications,
    Objective,
    ParameterRange,
    PromotionRule,
    ResourceLimits,
    SpotConfig,
    TrainingSpec,
    TuningSpec,
    WarmStartPolicy,
    check_dataset_version,
    render_scalar,
    schedule_problem,
)
from amtflow.profile._store import InMemoryProfileStore, ProfileStore, S3ProfileStore, profile_key
from amtflow.vocabulary import NoDriftAction, WarmStartType

__all__ = [
    "MODEL_TAG",
    "SCHEMA_VERSION",
    "Approval",
    "Budget",
    "ChannelSpec",
    "CheckpointSpec",
    "CompletionCriteria",
    "Compression",
    "CrossDataset",
    "DatasetSpec",
    "Distribution",
    "DriftThresholds",
    "EarlyStopping",
    "Goal",
    "HyperbandConfig",
    "InMemoryProfileStore",
    "InputMode",
    "MetricDefinition",
    "ModelProfile",
    "NoDriftAction",
    "Notifications",
    "Objective",
    "Outcome",
    "OverridesRefusedError",
    "ParameterRange",
    "ParameterType",
    "ProfileProblem",
    "ProfileStore",
    "ProfileValidationError",
    "PromotionRule",
    "ResourceLimits",
    "S3ProfileStore",
    "Scaling",
    "SpotConfig",
    "Strategy",
    "TrainingNetwork",
    "TrainingSpec",
    "TuningSpec",
    "WarmStart",
    "WarmStartPolicy",
    "WarmStartType",
    "apply_overrides",
    "check_dataset_version",
    "compile_training_request",
    "compile_tuning_request",
    "dump_profile",
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
