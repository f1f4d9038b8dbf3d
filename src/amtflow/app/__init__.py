"""The use cases the handlers call: one class per step of a run, each built on ports.

Call order within a run: :class:`StartRun` (trigger router) starts an execution; :class:`PlanRun`
decides; :class:`StartTuning` creates the job and parks the task token; :class:`CloseTuningJobs` completes
the token when the job ends (events, and the reconciler's sweep); :class:`EvaluateRun` ranks the trials;
:class:`NotifyRun` tells people.
"""

from amtflow.app._close_job import (
    ERROR_JOB_FAILED,
    ERROR_JOB_NOT_FOUND,
    ERROR_JOB_STOPPED,
    CloseOutcome,
    CloseResult,
    CloseTuningJobs,
    summarize,
    tuning_result,
)
from amtflow.app._evaluate import EvaluateRun
from amtflow.app._events import (
    DriftDetected,
    EvaluateInput,
    NotifyInput,
    PlanInput,
    StartTuningInput,
    TuningJobStateChange,
    normalize_tags,
    parse_timestamp,
)
from amtflow.app._notify import NotifyResult, NotifyRun, RunReport, gather_report, render
from amtflow.app._plan import JobNamer, PlanRun, PlanSettings, callback_timeouts, decide_action
from amtflow.app._ports import (
    CallbackOutcome,
    Clock,
    DatasetCatalog,
    ExecutionStart,
    ExecutionStarter,
    LockStore,
    ModelSpec,
    Notification,
    Notifier,
    ParkedJob,
    ProfileCatalog,
    StartOutcome,
    TaskCallbacks,
    TokenStore,
    TrainingJobDetails,
    TrainingJobSummary,
    TuningJobDescription,
    TuningJobStatus,
    TuningService,
)
from amtflow.app._schedule import schedule_due
from amtflow.app._start_run import (
    DEFAULT_MARKER,
    DRIFT_SOURCE,
    ExecutionNamer,
    RouteResult,
    StartRun,
    route_event,
)
from amtflow.app._start_tuning import Linter, StartedJob, StartTuning, rejection_message

__all__ = [
    "DEFAULT_MARKER",
    "DRIFT_SOURCE",
    "ERROR_JOB_FAILED",
    "ERROR_JOB_NOT_FOUND",
    "ERROR_JOB_STOPPED",
    "CallbackOutcome",
    "Clock",
    "CloseOutcome",
    "CloseResult",
    "CloseTuningJobs",
    "DatasetCatalog",
    "DriftDetected",
    "EvaluateInput",
    "EvaluateRun",
    "ExecutionNamer",
    "ExecutionStart",
    "ExecutionStarter",
    "JobNamer",
    "Linter",
    "LockStore",
    "ModelSpec",
    "Notification",
    "Notifier",
    "NotifyInput",
    "NotifyResult",
    "NotifyRun",
    "ParkedJob",
    "PlanInput",
    "PlanRun",
    "PlanSettings",
    "ProfileCatalog",
    "RouteResult",
    "RunReport",
    "StartOutcome",
    "StartRun",
    "StartTuning",
    "StartTuningInput",
    "StartedJob",
    "TaskCallbacks",
    "TokenStore",
    "TrainingJobDetails",
    "TrainingJobSummary",
    "TuningJobDescription",
    "TuningJobStateChange",
    "TuningJobStatus",
    "TuningService",
    "callback_timeouts",
    "decide_action",
    "gather_report",
    "normalize_tags",
    "parse_timestamp",
    "rejection_message",
    "render",
    "route_event",
    "schedule_due",
    "summarize",
    "tuning_result",
]
