"""Running tuning jobs through the real local engine, for the benchmarks that need real trials.

Jobs are created with boto3 (the engine serves the SageMaker API in-process), from an example profile
with overrides, on dataset versions written by ``examples/data.py`` and passed as ``file://`` channels.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from _common import EXAMPLES, load_example

ROLE = "arn:aws:iam::123456789012:role/amtflow-bench"
# The benchmarks never reach AWS: the engine serves SageMaker and nothing else is called.
FAKE_AWS = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_EC2_METADATA_DISABLED": "true",
}


@dataclass(frozen=True)
class Trial:
    name: str
    index: int  # launch order, from 1
    status: str
    objective: float | None
    steps: int  # objective values the script printed (epochs or boosting rounds)
    hyperparameters: dict[str, str]


def write_dataset(
    out: Path, dataset: str, *, seed: int, drift: str = "none", max_rows: int | None = None
) -> str:
    """Write a dataset version with ``examples/data.py``; return its ``file://`` URI (channels below it)."""
    data = load_example("data.py")
    data.write_version(data.make_version(dataset, seed=seed, drift=drift, max_rows=max_rows), out)
    return out.resolve().as_uri() + "/"


def tuning_request(
    example: str, job_name: str, data_uri: str, output_uri: str, overrides: Mapping[str, Any], **kw: Any
) -> dict[str, Any]:
    """The ``CreateHyperParameterTuningJob`` request of an example profile with ``overrides`` merged in.

    A benchmark edits the example profile as its author would (training settings, runtime limits, Hyperband
    bounds), so the merged document is validated as a whole profile, not as a console run's overrides, which
    may only narrow what the stored profile allows."""
    from amtflow.profile import compile_tuning_request, load_profile_file, merge_documents, parse_profile

    example_profile = load_profile_file(EXAMPLES / example / "profile.yaml")
    profile = parse_profile(merge_documents(example_profile.to_document(), overrides), source=example)
    return compile_tuning_request(
        profile, job_name=job_name, data_uri=data_uri, output_uri=output_uri, role_arn=ROLE, **kw
    )


@contextmanager
def local_engine(state_dir: Path, *, max_workers: int) -> Iterator[Any]:
    """The local engine with the examples' image map; yields ``(engine, sagemaker client)``."""
    import boto3

    import amtflow.local

    with amtflow.local.sagemaker(
        state_dir=state_dir,
        image_map=EXAMPLES / "image-map.yaml",
        event_sink=lambda _entry: None,
        max_workers=max_workers,
    ) as engine:
        yield engine, boto3.client("sagemaker", region_name="us-east-1")


def run_tuning_job(
    engine: Any, sagemaker: Any, request: Mapping[str, Any], *, step_pattern: str
) -> list[Trial]:
    """Create the tuning job, wait for it, and return its trials in launch order.

    ``step_pattern`` matches the log lines that report one objective step (``^epoch=``, ``^\\[\\d+\\]``).
    """
    name = request["HyperParameterTuningJobName"]
    sagemaker.create_hyper_parameter_tuning_job(**request)
    status = engine.wait(name)
    if status not in ("Completed", "Stopped"):
        described = sagemaker.describe_hyper_parameter_tuning_job(HyperParameterTuningJobName=name)
        raise RuntimeError(f"tuning job {name} ended {status}: {described.get('FailureReason', '')}")
    summaries: list[dict[str, Any]] = []
    paginator = sagemaker.get_paginator("list_training_jobs_for_hyper_parameter_tuning_job")
    for page in paginator.paginate(HyperParameterTuningJobName=name):
        summaries.extend(page["TrainingJobSummaries"])
    step = re.compile(step_pattern)
    trials = []
    for s in summaries:
        job = s["TrainingJobName"]
        metric = s.get("FinalHyperParameterTuningJobObjectiveMetric")
        log = engine.trial_log(job)
        trials.append(
            Trial(
                name=job,
                index=int(job[len(name) + 1 :].split("-")[0]),
                status=s["TrainingJobStatus"],
                objective=None if metric is None else float(metric["Value"]),
                steps=sum(1 for line in log.splitlines() if step.search(line)),
                hyperparameters=dict(s.get("TunedHyperParameters", {})),
            )
        )
    return sorted(trials, key=lambda t: t.index)
