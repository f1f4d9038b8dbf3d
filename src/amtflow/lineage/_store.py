"""The lineage store port and its in-memory implementation.

Contract (every implementation passes ``tests/unit/lineage/test_lineage_store_contract.py``):

- ``put_dataset_version`` records a version once: the same fingerprint again is a no-op returning False, a
  different fingerprint under the same version is a :class:`~amtflow.errors.ConflictError`.
- ``add_run`` records a run once per ``run_id`` (a retried Lambda returns False and changes nothing);
  ``update_run`` replaces a recorded run and raises :class:`~amtflow.errors.NotFoundError` for an unknown one.
- ``list_runs`` returns runs newest first (by ``started_at``); ``list_dataset_versions`` oldest first.
- ``set_champion`` is a compare-and-set on the current champion's tuning job (None: there must be none).
- ``month_to_date_spend`` sums ``RunRecord.spend_usd`` of the model's runs started in ``now``'s UTC month,
  up to ``now`` (the rule of the record itself, also for records stored before a field existed: a run that
  ended without a job adds nothing, a finished job its actual cost, a pending one its estimate).
"""

from __future__ import annotations

import copy
import threading
from datetime import datetime
from typing import Protocol, runtime_checkable

from amtflow.drift import ParentCandidate
from amtflow.errors import ConflictError, InvalidInputError, NotFoundError
from amtflow.lineage._records import Champion, DatasetVersion, RunRecord, iso, utc


@runtime_checkable
class LineageStore(Protocol):
    def put_dataset_version(self, record: DatasetVersion) -> bool:
        """Record a dataset version; False if the same version and fingerprint are already recorded."""
        ...

    def get_dataset_version(self, model: str, version: str) -> DatasetVersion | None: ...

    def list_dataset_versions(self, model: str) -> list[DatasetVersion]:
        """The model's dataset versions, oldest recorded first (profiles included)."""
        ...

    def add_run(self, run: RunRecord) -> bool:
        """Record a new run; False (and no change) if a run with this ``run_id`` exists."""
        ...

    def update_run(self, run: RunRecord) -> None:
        """Replace the recorded run with the same ``run_id``."""
        ...

    def get_run(self, model: str, run_id: str) -> RunRecord | None: ...

    def list_runs(self, model: str, *, limit: int | None = None) -> list[RunRecord]:
        """The model's runs, newest first."""
        ...

    def get_champion(self, model: str) -> Champion | None: ...

    def set_champion(self, champion: Champion, *, expected_tuning_job: str | None) -> None:
        """Make ``champion`` current if the current champion's tuning job is ``expected_tuning_job``."""
        ...

    def month_to_date_spend(self, model: str, now: datetime) -> float: ...


def month_start(now: datetime) -> datetime:
    now = utc(now, "now")
    return now.replace(day=1, hour=0, minute=0, second=0, microsecond=0)


def parent_candidates(store: LineageStore, model: str, *, limit: int = 50) -> list[ParentCandidate]:
    """Warm-start candidates from the model's most recent runs (those that launched a tuning job)."""
    out: list[ParentCandidate] = []
    for run in store.list_runs(model, limit=limit):
        cand = run.parent_candidate()
        if cand is not None:
            out.append(cand)
    return out


def check_champion(current: Champion | None, champion: Champion, expected: str | None) -> None:
    have = current.tuning_job if current is not None else None
    if have != expected:
        raise ConflictError(
            f"champion of model {champion.model!r} is {have or 'none'}, not {expected or 'none'} "
            "as expected; another run promoted a model meanwhile. Re-evaluate against the current champion."
        )


def check_same_start(recorded: datetime, run: RunRecord) -> None:
    if recorded != run.started_at:
        raise InvalidInputError(
            f"run {run.run_id!r} was recorded as started at {iso(recorded)}, not {iso(run.started_at)}; "
            "update the recorded run (get_run, then dataclasses.replace) instead of building a new one.",
            field="started_at",
        )


def dataset_conflict(existing: DatasetVersion, record: DatasetVersion) -> ConflictError:
    return ConflictError(
        f"dataset version {record.version!r} of model {record.model!r} is already recorded with fingerprint "
        f"{existing.fingerprint}, not {record.fingerprint}; data of a version must not change. Publish the "
        "new data as a new version."
    )


class InMemoryLineageStore:
    """A :class:`LineageStore` in process memory (tests, the local twin's fast paths). Thread-safe."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._datasets: dict[tuple[str, str], DatasetVersion] = {}
        self._runs: dict[tuple[str, str], RunRecord] = {}
        self._champions: dict[str, Champion] = {}
        self.champion_history: list[Champion] = []

    def put_dataset_version(self, record: DatasetVersion) -> bool:
        key = (record.model, record.version)
        with self._lock:
            existing = self._datasets.get(key)
            if existing is not None:
                if existing.fingerprint != record.fingerprint:
                    raise dataset_conflict(existing, record)
                return False
            self._datasets[key] = record
            return True

    def get_dataset_version(self, model: str, version: str) -> DatasetVersion | None:
        with self._lock:
            return self._datasets.get((model, version))

    def list_dataset_versions(self, model: str) -> list[DatasetVersion]:
        with self._lock:
            found = [d for (m, _), d in self._datasets.items() if m == model]
        return sorted(found, key=lambda d: (d.recorded_at, d.version))

    def add_run(self, run: RunRecord) -> bool:
        key = (run.model, run.run_id)
        with self._lock:
            if key in self._runs:
                return False
            self._runs[key] = run
            return True

    def update_run(self, run: RunRecord) -> None:
        key = (run.model, run.run_id)
        with self._lock:
            if key not in self._runs:
                raise NotFoundError(
                    f"run {run.run_id!r} of model {run.model!r} was never recorded; add_run it first."
                )
            check_same_start(self._runs[key].started_at, run)
            self._runs[key] = run

    def get_run(self, model: str, run_id: str) -> RunRecord | None:
        with self._lock:
            return self._runs.get((model, run_id))

    def list_runs(self, model: str, *, limit: int | None = None) -> list[RunRecord]:
        with self._lock:
            runs = [r for (m, _), r in self._runs.items() if m == model]
        runs.sort(key=lambda r: (r.started_at, r.run_id), reverse=True)
        return runs[:limit] if limit is not None else runs

    def get_champion(self, model: str) -> Champion | None:
        with self._lock:
            return self._champions.get(model)

    def set_champion(self, champion: Champion, *, expected_tuning_job: str | None) -> None:
        with self._lock:
            check_champion(self._champions.get(champion.model), champion, expected_tuning_job)
            self._champions[champion.model] = champion
            self.champion_history.append(copy.copy(champion))

    def month_to_date_spend(self, model: str, now: datetime) -> float:
        start, now = month_start(now), utc(now, "now")
        with self._lock:
            runs = [r for (m, _), r in self._runs.items() if m == model]
        return sum(r.spend_usd for r in runs if start <= r.started_at <= now)
