"""Dataset profiles, drift scores and the skip / retrain / warm-start / cold-start decision.

Pure Python (no numpy, no AWS): a profile is computed from a stream of CSV bytes with bounded memory,
drift compares two profiles, and :func:`decide` applies the decision table documented in ``docs/drift.md``.
"""

from amtflow.drift._decision import (
    DECISION_TABLE,
    Decision,
    DecisionInput,
    DecisionPolicy,
    Incumbent,
    Rule,
    decide,
    image_repository,
)
from amtflow.drift._drift import (
    ColumnDrift,
    DriftReport,
    DriftSeverity,
    DriftThresholds,
    SchemaChange,
    SchemaChangeKind,
    compare_profiles,
    psi,
    rebin,
    severity_of,
)
from amtflow.drift._parents import (
    MAX_PARENTS,
    ParameterKind,
    ParentCandidate,
    ParentSelection,
    TuningJobSignature,
    select_parents,
)
from amtflow.drift._policy import decision_policy_from_profile
from amtflow.drift._profile import (
    DatasetProfiler,
    count_in_bins,
    count_in_categories,
    profile_csv,
    quantile_edges,
)
from amtflow.drift._summary import (
    OTHER,
    CategoricalSummary,
    ColumnProfile,
    ColumnType,
    DatasetProfile,
    NumericSummary,
    ProfileOptions,
    ReferenceCounts,
)
from amtflow.vocabulary import Action, NoDriftAction, RequestedAction, TuningJobStatus, WarmStartType

__all__ = [
    "DECISION_TABLE",
    "MAX_PARENTS",
    "OTHER",
    "Action",
    "CategoricalSummary",
    "ColumnDrift",
    "ColumnProfile",
    "ColumnType",
    "DatasetProfile",
    "DatasetProfiler",
    "Decision",
    "DecisionInput",
    "DecisionPolicy",
    "DriftReport",
    "DriftSeverity",
    "DriftThresholds",
    "Incumbent",
    "NoDriftAction",
    "NumericSummary",
    "ParameterKind",
    "ParentCandidate",
    "ParentSelection",
    "ProfileOptions",
    "ReferenceCounts",
    "RequestedAction",
    "Rule",
    "SchemaChange",
    "SchemaChangeKind",
    "TuningJobSignature",
    "TuningJobStatus",
    "WarmStartType",
    "compare_profiles",
    "count_in_bins",
    "count_in_categories",
    "decide",
    "decision_policy_from_profile",
    "image_repository",
    "profile_csv",
    "psi",
    "quantile_edges",
    "rebin",
    "select_parents",
    "severity_of",
]
