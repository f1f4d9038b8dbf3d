"""Jobs on disk: one JSON document per tuning job and per training job under ``state_dir``.

Layout::

    <state_dir>/tuning-jobs/<name-lower>.json
    <state_dir>/training-jobs/<name-lower>.json
    <state_dir>/training-jobs/<name>/            the trial's /opt/ml-shaped directory and its log
    <state_dir>/data/<tuning-job>/<channel>/     channels fetched from S3, shared by the job's trials

Writes are atomic (write to a temporary file, then rename), so a crash never leaves half a document. One
engine at a time should own a state directory.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any


class Store:
    def __init__(self, root: Path) -> None:
        self.root = root
        self.tuning_dir = root / "tuning-jobs"
        self.training_dir = root / "training-jobs"
        self.data_dir = root / "data"
        for d in (self.tuning_dir, self.training_dir, self.data_dir):
            d.mkdir(parents=True, exist_ok=True)

    @staticmethod
    def _write(path: Path, doc: dict[str, Any]) -> None:
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-", suffix=".json")
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            json.dump(doc, f, indent=1, sort_keys=True, default=str)
        os.replace(tmp, path)

    @staticmethod
    def _read_all(directory: Path) -> list[dict[str, Any]]:
        docs = []
        for path in sorted(directory.glob("*.json")):
            try:
                docs.append(json.loads(path.read_text(encoding="utf-8")))
            except (OSError, json.JSONDecodeError):
                continue
        return docs

    def save_tuning(self, doc: dict[str, Any]) -> None:
        self._write(self.tuning_dir / f"{doc['HyperParameterTuningJobName'].lower()}.json", doc)

    def save_training(self, doc: dict[str, Any]) -> None:
        self._write(self.training_dir / f"{doc['TrainingJobName'].lower()}.json", doc)

    def load_tuning(self) -> list[dict[str, Any]]:
        return self._read_all(self.tuning_dir)

    def load_training(self) -> list[dict[str, Any]]:
        return self._read_all(self.training_dir)

    def trial_root(self, training_job_name: str) -> Path:
        return self.training_dir / training_job_name

    def log_path(self, training_job_name: str) -> Path:
        return self.training_dir / training_job_name / "trial.log"
