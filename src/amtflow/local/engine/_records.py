"""Jobs as the engine keeps them: a typed record per tuning job and per training job.

A record holds what the engine manages (statuses, times, the trial list and its own bookkeeping) next to
the request fields it keeps verbatim (``request``/``definition``). Two renderings:

- :meth:`~TuningJob.to_doc` / :meth:`~TuningJob.from_doc`: the JSON document of the store, with the
  engine's bookkeeping under ``_local`` (the format state folders have always had, so
  ``from_doc(doc).to_doc() == doc`` for every document the engine wrote);
- :meth:`~TuningJob.to_api` / :meth:`~TrainingJob.to_api`: the Describe response the service returns.

Timestamps are epoch seconds (floats), as in the documents.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from amtflow.local.engine._io import output_uri
from amtflow.local.engine._model import (
    ACCOUNT_ID,
    ObjectiveStatus,
    SecondaryStatus,
    TrainingJobStatus,
    TuningJobStatus,
)
from amtflow.vocabulary import WarmStartType

#: The request fields a training job keeps from its definition (a CreateTrainingJob request or a tuning
#: job's TrainingJobDefinition).
TRAINING_REQUEST_KEYS = (
    "AlgorithmSpecification",
    "RoleArn",
    "InputDataConfig",
    "OutputDataConfig",
    "ResourceConfig",
    "StoppingCondition",
    "VpcConfig",
    "CheckpointConfig",
    "EnableManagedSpotTraining",
    "EnableNetworkIsolation",
    "EnableInterContainerTrafficEncryption",
    "RetryStrategy",
    "Environment",
    "Tags",
)


def _float(value: Any) -> float | None:
    return None if value is None else float(value)


def _put(doc: dict[str, Any], key: str, value: Any) -> None:
    if value is not None:
        doc[key] = value


def resource_config(definition: Mapping[str, Any]) -> dict[str, Any] | None:
    """The ``ResourceConfig`` a training definition runs with: its own, or the one SageMaker derives from
    ``HyperParameterTuningResourceConfig`` (the instance type and count, or the first of ``InstanceConfigs``,
    with the volume settings); None when the definition gives neither."""
    if definition.get("ResourceConfig"):
        return dict(definition["ResourceConfig"])
    tuning = definition.get("HyperParameterTuningResourceConfig")
    if not isinstance(tuning, Mapping):
        return None
    first = (tuning.get("InstanceConfigs") or [{}])[0]
    out: dict[str, Any] = {
        "InstanceType": tuning.get("InstanceType") or first.get("InstanceType"),
        "InstanceCount": tuning.get("InstanceCount") or first.get("InstanceCount") or 1,
        "VolumeSizeInGB": tuning.get("VolumeSizeInGB") or first.get("VolumeSizeInGB") or 30,
    }
    _put(out, "VolumeKmsKeyId", tuning.get("VolumeKmsKeyId"))
    return {k: v for k, v in out.items() if v is not None}


@dataclass(eq=False)
class TrainingJob:
    """One training job (standalone, or a trial of a tuning job)."""

    name: str
    arn: str
    region: str
    definition: dict[str, Any]  # the kept request fields (TRAINING_REQUEST_KEYS) and any other stored key
    hyperparameters: dict[str, str]
    creation_time: float
    last_modified_time: float
    status: TrainingJobStatus = TrainingJobStatus.IN_PROGRESS
    secondary_status: SecondaryStatus = SecondaryStatus.STARTING
    transitions: list[dict[str, Any]] = field(default_factory=list)
    model_artifacts: dict[str, Any] | None = None
    tuning_job_arn: str | None = None
    start_time: float | None = None
    end_time: float | None = None
    failure_reason: str | None = None
    final_metrics: list[dict[str, Any]] | None = None
    training_seconds: int | None = None  # TrainingTimeInSeconds (= BillableTimeInSeconds)
    # -- bookkeeping (``_local`` in the document)
    tuning_job: str | None = None
    tuned: dict[str, str] = field(default_factory=dict)
    objective_status: ObjectiveStatus = ObjectiveStatus.PENDING
    metrics: list[list[Any]] = field(default_factory=list)  # [name, value, step, timestamp] per point
    objective: float | None = None
    objective_metric: str | None = None
    objective_type: str | None = None
    attempt: int | None = None
    retried: bool = False
    definition_name: str | None = None  # the TrainingJobDefinitionName of a multi-algorithm trial
    extra_local: dict[str, Any] = field(default_factory=dict)

    _MANAGED = frozenset(
        {
            "TrainingJobName",
            "TrainingJobArn",
            "TrainingJobStatus",
            "SecondaryStatus",
            "HyperParameters",
            "CreationTime",
            "LastModifiedTime",
            "SecondaryStatusTransitions",
            "ModelArtifacts",
            "TuningJobArn",
            "TrainingStartTime",
            "TrainingEndTime",
            "FailureReason",
            "FinalMetricDataList",
            "TrainingTimeInSeconds",
            "BillableTimeInSeconds",
            "_local",
        }
    )
    _LOCAL = frozenset(
        {
            "region",
            "tuning_job",
            "tuned",
            "objective_status",
            "metrics",
            "objective",
            "objective_metric",
            "objective_type",
            "attempt",
            "retried",
            "definition_name",
        }
    )

    @property
    def key(self) -> str:
        return self.name.lower()

    @property
    def output_path(self) -> str:
        return str(self.definition["OutputDataConfig"]["S3OutputPath"])

    @property
    def tags(self) -> list[dict[str, Any]]:
        return list(self.definition.get("Tags") or [])

    def final_objective_status(self) -> ObjectiveStatus:
        """The objective status once the job has ended: Succeeded with an objective value, else Failed."""
        return ObjectiveStatus.SUCCEEDED if self.objective is not None else ObjectiveStatus.FAILED

    def transition(self, secondary: SecondaryStatus, message: str, now: float) -> None:
        """Enter ``secondary``: the open transition ends, a new one starts."""
        if self.transitions and "EndTime" not in self.transitions[-1]:
            self.transitions[-1]["EndTime"] = now
        self.transitions.append({"Status": secondary.value, "StartTime": now, "StatusMessage": message})
        self.secondary_status = secondary
        self.last_modified_time = now

    # ---------------------------------------------------------------- documents
    def to_doc(self) -> dict[str, Any]:
        doc: dict[str, Any] = dict(self.definition)
        doc.update(
            TrainingJobName=self.name,
            TrainingJobArn=self.arn,
            TrainingJobStatus=self.status.value,
            SecondaryStatus=self.secondary_status.value,
            HyperParameters=self.hyperparameters,
            CreationTime=self.creation_time,
            LastModifiedTime=self.last_modified_time,
            SecondaryStatusTransitions=self.transitions,
        )
        _put(doc, "ModelArtifacts", self.model_artifacts)
        _put(doc, "TuningJobArn", self.tuning_job_arn)
        _put(doc, "TrainingStartTime", self.start_time)
        _put(doc, "TrainingEndTime", self.end_time)
        _put(doc, "FailureReason", self.failure_reason)
        _put(doc, "FinalMetricDataList", self.final_metrics)
        _put(doc, "TrainingTimeInSeconds", self.training_seconds)
        _put(doc, "BillableTimeInSeconds", self.training_seconds)
        local: dict[str, Any] = {
            **self.extra_local,
            "region": self.region,
            "tuning_job": self.tuning_job,
            "tuned": self.tuned,
            "objective_status": self.objective_status.value,
            "metrics": self.metrics,
        }
        _put(local, "objective", self.objective)
        if self.tuning_job is not None or self.objective_metric is not None:
            local["objective_metric"] = self.objective_metric
        if self.tuning_job is not None or self.objective_type is not None:
            local["objective_type"] = self.objective_type
        _put(local, "attempt", self.attempt)
        if self.retried:
            local["retried"] = True
        _put(local, "definition_name", self.definition_name)
        doc["_local"] = local
        return doc

    @classmethod
    def from_doc(cls, doc: Mapping[str, Any]) -> TrainingJob:
        """The record of a stored document (KeyError, ValueError or TypeError if it is not one)."""
        local = dict(doc.get("_local") or {})
        return cls(
            name=str(doc["TrainingJobName"]),
            arn=str(doc["TrainingJobArn"]),
            region=str(local.get("region") or "us-east-1"),
            definition={k: v for k, v in doc.items() if k not in cls._MANAGED},
            hyperparameters=dict(doc.get("HyperParameters") or {}),
            creation_time=float(doc["CreationTime"]),
            last_modified_time=float(doc.get("LastModifiedTime") or doc["CreationTime"]),
            status=TrainingJobStatus(doc["TrainingJobStatus"]),
            secondary_status=SecondaryStatus(doc.get("SecondaryStatus") or SecondaryStatus.STARTING),
            transitions=list(doc.get("SecondaryStatusTransitions") or []),
            model_artifacts=doc.get("ModelArtifacts"),
            tuning_job_arn=doc.get("TuningJobArn"),
            start_time=_float(doc.get("TrainingStartTime")),
            end_time=_float(doc.get("TrainingEndTime")),
            failure_reason=doc.get("FailureReason"),
            final_metrics=doc.get("FinalMetricDataList"),
            training_seconds=doc.get("TrainingTimeInSeconds"),
            tuning_job=local.get("tuning_job"),
            tuned=dict(local.get("tuned") or {}),
            objective_status=ObjectiveStatus(local.get("objective_status") or ObjectiveStatus.PENDING),
            metrics=list(local.get("metrics") or []),
            objective=_float(local.get("objective")),
            objective_metric=local.get("objective_metric"),
            objective_type=local.get("objective_type"),
            attempt=None if local.get("attempt") is None else int(local["attempt"]),
            retried=bool(local.get("retried")),
            definition_name=local.get("definition_name"),
            extra_local={k: v for k, v in local.items() if k not in cls._LOCAL},
        )

    # ---------------------------------------------------------------- responses
    def to_api(self) -> dict[str, Any]:
        """The DescribeTrainingJob response (with the defaults SageMaker shows for fields left out)."""
        doc = self.to_doc()
        out = {k: doc[k] for k in sorted(doc) if not k.startswith("_") and k != "Tags"}
        out["OutputDataConfig"] = {"KmsKeyId": "", **out["OutputDataConfig"]}
        for flag in (
            "EnableNetworkIsolation",
            "EnableInterContainerTrafficEncryption",
            "EnableManagedSpotTraining",
        ):
            out.setdefault(flag, False)
        return out

    def summary(self) -> dict[str, Any]:
        """The job as a TrainingJobSummary of ListTrainingJobsForHyperParameterTuningJob."""
        out: dict[str, Any] = {
            "TrainingJobName": self.name,
            "TrainingJobArn": self.arn,
            "CreationTime": self.creation_time,
            "TrainingJobStatus": self.status.value,
            "TunedHyperParameters": self.tuned,
            "ObjectiveStatus": self.objective_status.value,
        }
        if self.tuning_job:
            out["TuningJobName"] = self.tuning_job
        _put(out, "TrainingJobDefinitionName", self.definition_name)
        _put(out, "TrainingStartTime", self.start_time)
        _put(out, "TrainingEndTime", self.end_time)
        _put(out, "FailureReason", self.failure_reason)
        if self.objective is not None:
            out["FinalHyperParameterTuningJobObjectiveMetric"] = {
                "Type": self.objective_type,
                "MetricName": self.objective_metric,
                "Value": float(self.objective),
            }
        return out


@dataclass
class Completion:
    """What the completion criteria found so far (``TuningJobCompletionDetails``)."""

    not_improving: int | None = None
    converged_at: float | None = None
    reason: str | None = None

    def to_doc(self) -> dict[str, Any]:
        doc: dict[str, Any] = {}
        _put(doc, "not_improving", self.not_improving)
        _put(doc, "converged_at", self.converged_at)
        _put(doc, "reason", self.reason)
        return doc

    @classmethod
    def from_doc(cls, doc: Mapping[str, Any]) -> Completion:
        return cls(doc.get("not_improving"), _float(doc.get("converged_at")), doc.get("reason"))


@dataclass(eq=False)
class TuningJob:
    """One hyperparameter tuning job."""

    name: str
    arn: str
    region: str
    request: dict[str, Any]  # the request as received (its name included) and any other stored key
    creation_time: float
    last_modified_time: float
    seed: int
    started: float  # the engine clock's monotonic time at creation
    status: TuningJobStatus = TuningJobStatus.IN_PROGRESS
    end_time: float | None = None
    failure_reason: str | None = None
    training_jobs: list[str] = field(default_factory=list)  # trial names, in creation order
    completion: Completion = field(default_factory=Completion)
    extra_local: dict[str, Any] = field(default_factory=dict)

    _MANAGED = frozenset(
        {
            "HyperParameterTuningJobArn",
            "HyperParameterTuningJobStatus",
            "CreationTime",
            "LastModifiedTime",
            "HyperParameterTuningEndTime",
            "FailureReason",
            "_local",
        }
    )
    _LOCAL = frozenset({"region", "seed", "training_jobs", "started", "completion"})

    @property
    def key(self) -> str:
        return self.name.lower()

    @property
    def config(self) -> dict[str, Any]:
        return dict(self.request["HyperParameterTuningJobConfig"])

    @property
    def definition(self) -> dict[str, Any]:
        """The training definition of a single-algorithm job (the first one of a multi-algorithm job)."""
        if "TrainingJobDefinition" in self.request:
            return dict(self.request["TrainingJobDefinition"])
        return dict(self.definitions[0])

    @property
    def definitions(self) -> list[dict[str, Any]]:
        """The ``TrainingJobDefinitions`` of a multi-algorithm job (empty for a single-algorithm one)."""
        return [dict(d) for d in self.request.get("TrainingJobDefinitions") or []]

    @property
    def objective(self) -> dict[str, Any]:
        """The job's objective (a multi-algorithm job without one: its first definition's)."""
        own = self.config.get("HyperParameterTuningJobObjective")
        if own or not self.definitions:
            return dict(own or {})
        return dict(self.definitions[0].get("TuningObjective") or {})

    def objective_of(self, definition: Mapping[str, Any]) -> dict[str, Any]:
        """The objective a definition's trials report: its ``TuningObjective``, else the job's."""
        return dict(definition.get("TuningObjective") or self.objective)

    @property
    def maximize(self) -> bool:
        return self.objective.get("Type") == "Maximize"

    @property
    def tags(self) -> list[dict[str, Any]]:
        return list(self.request.get("Tags") or [])

    @property
    def warm_start(self) -> dict[str, Any]:
        return dict(self.request.get("WarmStartConfig") or {})

    # ---------------------------------------------------------------- documents
    def to_doc(self) -> dict[str, Any]:
        doc: dict[str, Any] = {
            **self.request,
            "HyperParameterTuningJobArn": self.arn,
            "HyperParameterTuningJobStatus": self.status.value,
            "CreationTime": self.creation_time,
            "LastModifiedTime": self.last_modified_time,
        }
        _put(doc, "HyperParameterTuningEndTime", self.end_time)
        _put(doc, "FailureReason", self.failure_reason)
        doc["_local"] = {
            **self.extra_local,
            "region": self.region,
            "seed": self.seed,
            "training_jobs": self.training_jobs,
            "started": self.started,
            "completion": self.completion.to_doc(),
        }
        return doc

    @classmethod
    def from_doc(cls, doc: Mapping[str, Any]) -> TuningJob:
        """The record of a stored document (KeyError, ValueError or TypeError if it is not one)."""
        local = dict(doc.get("_local") or {})
        return cls(
            name=str(doc["HyperParameterTuningJobName"]),
            arn=str(doc["HyperParameterTuningJobArn"]),
            region=str(local.get("region") or "us-east-1"),
            request={k: v for k, v in doc.items() if k not in cls._MANAGED},
            creation_time=float(doc["CreationTime"]),
            last_modified_time=float(doc.get("LastModifiedTime") or doc["CreationTime"]),
            seed=int(local.get("seed") or 0),
            started=float(local.get("started") or 0.0),
            status=TuningJobStatus(doc["HyperParameterTuningJobStatus"]),
            end_time=_float(doc.get("HyperParameterTuningEndTime")),
            failure_reason=doc.get("FailureReason"),
            training_jobs=[str(n) for n in local.get("training_jobs") or []],
            completion=Completion.from_doc(local.get("completion") or {}),
            extra_local={k: v for k, v in local.items() if k not in cls._LOCAL},
        )

    # ---------------------------------------------------------------- responses
    def _shown(self, definition: Mapping[str, Any]) -> dict[str, Any]:
        """A definition as SageMaker shows it: with the hyperparameter it adds for the objective, and the
        ResourceConfig its trials run with."""
        if not definition:
            return {}
        return _shown_definition(definition, self.objective_of(definition).get("MetricName"))

    def to_api(
        self, trials: Sequence[TrainingJob], parent_trials: Sequence[TrainingJob], now: float
    ) -> dict[str, Any]:
        """The DescribeHyperParameterTuningJob response.

        ``trials`` are this job's training jobs, ``parent_trials`` those of its warm-start parents (used for
        ``OverallBestTrainingJob`` under IdenticalDataAndAlgorithm), ``now`` the time for a running job's
        ``ConsumedResources``.
        """
        doc = self.to_doc()
        out = {k: doc[k] for k in sorted(doc) if not k.startswith("_") and k != "Tags"}
        if "TrainingJobDefinitions" in out:
            out["TrainingJobDefinitions"] = [self._shown(d) for d in out["TrainingJobDefinitions"]]
        else:
            definition = self._shown(out.get("TrainingJobDefinition") or {})
            if definition:
                out["TrainingJobDefinition"] = definition
        training, objective = counters(trials)
        out["TrainingJobStatusCounters"] = training
        out["ObjectiveStatusCounters"] = objective
        top = best(trials, self.maximize)
        if top is not None:
            out["BestTrainingJob"] = top.summary()
        if self.warm_start.get("WarmStartType") == WarmStartType.IDENTICAL_DATA_AND_ALGORITHM:
            overall = best([*trials, *parent_trials], self.maximize)
            if overall is not None:
                out["OverallBestTrainingJob"] = overall.summary()
        details: dict[str, Any] = {}
        if self.completion.not_improving is not None:
            details["NumberOfTrainingJobsObjectiveNotImproving"] = self.completion.not_improving
        if self.completion.converged_at:
            details["ConvergenceDetectedTime"] = self.completion.converged_at
        if details:
            out["TuningJobCompletionDetails"] = details
        end = self.end_time or now
        out["ConsumedResources"] = {"RuntimeInSeconds": int(max(0.0, float(end) - self.creation_time))}
        return out


def _shown_definition(definition: Mapping[str, Any], metric: Any) -> dict[str, Any]:
    shown = copy.deepcopy(dict(definition))
    if metric:
        shown["StaticHyperParameters"] = {
            **(shown.get("StaticHyperParameters") or {}),
            "_tuning_objective_metric": metric,
        }
    resources = resource_config(shown)
    if resources is not None:
        shown["ResourceConfig"] = resources
    return shown


def counters(trials: Sequence[TrainingJob]) -> tuple[dict[str, int], dict[str, int]]:
    """``TrainingJobStatusCounters`` and ``ObjectiveStatusCounters`` of a tuning job's trials."""
    training = {"Completed": 0, "InProgress": 0, "RetryableError": 0, "NonRetryableError": 0, "Stopped": 0}
    objective = {"Succeeded": 0, "Pending": 0, "Failed": 0}
    for t in trials:
        if t.status is TrainingJobStatus.FAILED:
            training["RetryableError" if t.retried else "NonRetryableError"] += 1
        elif t.status in (TrainingJobStatus.IN_PROGRESS, TrainingJobStatus.STOPPING):
            training["InProgress"] += 1
        else:
            training[t.status.value] += 1
        objective[t.objective_status.value] += 1
    return training, objective


def best(trials: Sequence[TrainingJob], maximize: bool) -> TrainingJob | None:
    """The trial with the best objective among those whose objective succeeded (the first on a tie)."""
    scored = [
        t for t in trials if t.objective is not None and t.objective_status is ObjectiveStatus.SUCCEEDED
    ]
    if not scored:
        return None
    return (max if maximize else min)(scored, key=lambda t: float(t.objective or 0.0))


def tuning_arn(region: str, name: str) -> str:
    return f"arn:aws:sagemaker:{region}:{ACCOUNT_ID}:hyper-parameter-tuning-job/{name.lower()}"


def training_arn(region: str, name: str) -> str:
    return f"arn:aws:sagemaker:{region}:{ACCOUNT_ID}:training-job/{name.lower()}"


def new_training_job(
    name: str,
    definition: Mapping[str, Any],
    hyperparameters: dict[str, str],
    region: str,
    tuning: TuningJob | None,
    now: float,
) -> TrainingJob:
    """A training job created at ``now`` from ``definition`` (with ``tuning``: as one of its trials, of the
    definition named ``DefinitionName`` in a multi-algorithm job)."""
    kept = {k: copy.deepcopy(definition[k]) for k in TRAINING_REQUEST_KEYS if k in definition}
    resources = resource_config(definition)
    if resources is not None:
        kept["ResourceConfig"] = resources
    if tuning is not None and tuning.tags:
        kept["Tags"] = copy.deepcopy(tuning.tags)
    kept.setdefault("StoppingCondition", {"MaxRuntimeInSeconds": 86400})
    kept["AlgorithmSpecification"].setdefault("TrainingInputMode", "File")
    job = TrainingJob(
        name=name,
        arn=training_arn(region, name),
        region=region,
        definition=kept,
        hyperparameters=hyperparameters,
        creation_time=now,
        last_modified_time=now,
        model_artifacts={
            "S3ModelArtifacts": output_uri(definition["OutputDataConfig"]["S3OutputPath"], name)
        },
        transitions=[
            {"Status": "Starting", "StartTime": now, "StatusMessage": "Preparing the instances for training"}
        ],
    )
    if tuning is not None:
        objective = tuning.objective_of(definition)
        if tuning.definitions:
            job.definition_name = definition.get("DefinitionName")
        job.tuning_job_arn = tuning.arn
        job.tuning_job = tuning.name
        job.objective_metric = objective.get("MetricName")
        job.objective_type = objective.get("Type", "Minimize")
    return job
