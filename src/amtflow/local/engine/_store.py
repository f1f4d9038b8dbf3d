"""Jobs on disk: one JSON document per tuning job and per training job under ``state_dir``.

The documents are the records' :meth:`~amtflow.local.engine._records.TuningJob.to_doc` renderings.

Layout::

    <state_dir>/tuning-jobs/<name-lower>.json
    <state_dir>/training-jobs/<name-lower>.json
    <state_dir>/training-jobs/<name>/            the trial's /opt/ml-shaped directory and its log
    <state_dir>/data/<tuning-job>/<channel>/     channels fetched from S3, shared by the job's trials
    <state_dir>/models/<name-lower>.json
    <state_dir>/endpoint-configs/<name-lower>.json
    <state_dir>/endpoints/<name-lower>.json          with the configuration and models it serves
    <state_dir>/endpoints/<name-lower>/              its serving processes' folders (model, serve.log)

Writes are atomic (write to a temporary file, then rename), so a crash never leaves half a document. One
engine at a time should own a state directory. Every path is built with
:func:`~amtflow.local.engine._paths.inside`: a name that would lead outside ``state_dir`` (or a symlink in it
pointing elsewhere) is refused with a ValidationException, and documents found through such a link, or
naming a job SageMaker would refuse, are not loaded.
"""

from __future__ import annotations

import json
import logging
import os
import re
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from amtflow.local.engine._model import ServiceError
from amtflow.local.engine._paths import inside
from amtflow.local.engine._records import TrainingJob, TuningJob
from amtflow.naming import TRAINING_JOB_NAME_PATTERN, TUNING_JOB_NAME_PATTERN

logger = logging.getLogger(__name__)

_R = TypeVar("_R")

#: Where each kind of hosting record is kept, and the field naming it.
HOSTING_KINDS = {
    "models": "ModelName",
    "endpoint-configs": "EndpointConfigName",
    "endpoints": "EndpointName",
}
#: SageMaker's rule for model, endpoint configuration and endpoint names.
HOSTING_NAME_PATTERN = re.compile(r"[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}")


class Store:
    def __init__(self, root: Path) -> None:
        self.root = root
        self.tuning_dir = root / "tuning-jobs"
        self.training_dir = root / "training-jobs"
        self.data_dir = root / "data"
        for d in (self.tuning_dir, self.training_dir, self.data_dir, *(root / k for k in HOSTING_KINDS)):
            d.mkdir(parents=True, exist_ok=True)

    @staticmethod
    def _write(path: Path, doc: dict[str, Any]) -> None:
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-", suffix=".json")
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            json.dump(doc, f, indent=1, sort_keys=True, default=str)
        os.replace(tmp, path)

    def path(self, *parts: str) -> Path:
        """``<state_dir>/<parts>``, resolved; a ValidationException if it would be outside ``state_dir``."""
        return inside(self.root, *parts, what="the state folder")

    def _read_all(self, directory: str, key: str, pattern: re.Pattern[str]) -> list[dict[str, Any]]:
        docs = []
        for path in sorted((self.root / directory).glob("*.json")):
            try:
                self.path(directory, path.name)
                doc = json.loads(path.read_text(encoding="utf-8"))
            except (OSError, json.JSONDecodeError, ServiceError):
                continue
            if not isinstance(doc, dict) or not pattern.fullmatch(str(doc.get(key))):
                logger.warning("%s: not a job this engine wrote; skipped", path)
                continue
            docs.append(doc)
        return docs

    def tuning_path(self, name: str) -> Path:
        return self.path("tuning-jobs", f"{name.lower()}.json")

    def training_path(self, name: str) -> Path:
        return self.path("training-jobs", f"{name.lower()}.json")

    def save_tuning(self, job: TuningJob) -> None:
        self._write(self.tuning_path(job.name), job.to_doc())

    def save_training(self, job: TrainingJob) -> None:
        self._write(self.training_path(job.name), job.to_doc())

    def delete_tuning(self, name: str) -> None:
        self.tuning_path(name).unlink(missing_ok=True)

    def load_tuning(self) -> list[TuningJob]:
        docs = self._read_all("tuning-jobs", "HyperParameterTuningJobName", TUNING_JOB_NAME_PATTERN)
        return [job for doc in docs if (job := self._record(TuningJob.from_doc, doc)) is not None]

    def load_training(self) -> list[TrainingJob]:
        docs = self._read_all("training-jobs", "TrainingJobName", TRAINING_JOB_NAME_PATTERN)
        return [job for doc in docs if (job := self._record(TrainingJob.from_doc, doc)) is not None]

    @staticmethod
    def _record(parse: Callable[[dict[str, Any]], _R], doc: dict[str, Any]) -> _R | None:
        try:
            return parse(doc)
        except (KeyError, ValueError, TypeError, AttributeError):
            name = doc.get("HyperParameterTuningJobName") or doc.get("TrainingJobName")
            logger.warning("job %s: not a document this engine can read; skipped", name)
            return None

    # ---------------------------------------------------------------- hosting records
    def save_hosting(self, kind: str, name: str, doc: dict[str, Any]) -> None:
        """Keep a model (``kind`` "models"), endpoint configuration or endpoint document."""
        self._write(self.path(kind, f"{name.lower()}.json"), doc)

    def delete_hosting(self, kind: str, name: str) -> None:
        self.path(kind, f"{name.lower()}.json").unlink(missing_ok=True)

    def load_hosting(self, kind: str, parse: Callable[[dict[str, Any]], _R]) -> list[_R]:
        """The records of one kind on disk; a document that cannot be read is logged and skipped."""
        records = []
        for doc in self._read_all(kind, HOSTING_KINDS[kind], HOSTING_NAME_PATTERN):
            try:
                records.append(parse(doc))
            except (KeyError, ValueError, TypeError, AttributeError):
                name = doc.get(HOSTING_KINDS[kind])
                logger.warning("%s %s: not a document this engine can read; skipped", kind, name)
        return records

    def trial_root(self, training_job_name: str) -> Path:
        return self.path("training-jobs", training_job_name)

    def log_path(self, training_job_name: str) -> Path:
        return self.path("training-jobs", training_job_name, "trial.log")

    def data_path(self, data_key: str, channel: str) -> Path:
        """Where a channel fetched from S3 is kept (shared by the trials of one job)."""
        return self.path("data", data_key, channel)
