"""What a dataset profile holds: per-column summaries, the reference counts and the profile itself
(JSON-serialisable); :mod:`._profile` computes them."""

from __future__ import annotations

import codecs
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Protocol

from amtflow.errors import InvalidInputError

PROFILE_FORMAT_VERSION = 1
OTHER = "__other__"
"""Name of the bucket that holds every category outside the top-k."""


def _known_encoding(name: str) -> bool:
    try:
        codecs.lookup(name)
    except LookupError:
        return False
    return True


class ColumnType(StrEnum):
    NUMERIC = "numeric"
    CATEGORICAL = "categorical"


class ReadableBytes(Protocol):
    """What the profiler needs from a stream: ``read(n)`` returning ``bytes`` (b"" at the end)."""

    def read(self, amt: int = ..., /) -> bytes: ...


@dataclass(frozen=True)
class ProfileOptions:
    """How to read and summarise a CSV dataset.

    ``header=False`` with ``label_index=0`` is the built-in XGBoost convention (label first, no header); the
    columns are then named ``c0``, ``c1``, ... unless ``column_names`` gives names. ``sample_size`` bounds the
    memory (rows held at once); ``max_profile_bytes`` bounds the serialised profile (it is stored in a
    DynamoDB item): when a profile would exceed it, top-k and bin counts are reduced until it fits.
    """

    header: bool = True
    delimiter: str = ","
    encoding: str = "utf-8-sig"
    """UTF-8, with or without a byte-order mark (spreadsheet exports often write one)."""
    label_index: int | None = None
    column_names: tuple[str, ...] | None = None
    sample_size: int = 10_000
    bins: int = 10
    top_k: int = 20
    seed: int = 0
    max_profile_bytes: int = 100_000

    def __post_init__(self) -> None:
        checks: list[tuple[bool, str, str]] = [
            (self.sample_size >= 10, "sample_size", "use at least 10 rows"),
            (2 <= self.bins <= 100, "bins", "use between 2 and 100 bins"),
            (1 <= self.top_k <= 200, "top_k", "use between 1 and 200 categories"),
            (len(self.delimiter) == 1, "delimiter", "use a single character such as ','"),
            (self.max_profile_bytes >= 1_000, "max_profile_bytes", "allow at least 1000 bytes"),
            (self.label_index is None or self.label_index >= 0, "label_index", "use a column index >= 0"),
            (_known_encoding(self.encoding), "encoding", "use a Python codec name such as 'utf-8'"),
            (
                self.column_names is None or not self.header,
                "column_names",
                "give column_names only with header=False (a header row names the columns itself)",
            ),
        ]
        for ok, name, fix in checks:
            if not ok:
                raise InvalidInputError(
                    f"profile option {name}={getattr(self, name)!r} is out of range: {fix}.", field=name
                )


@dataclass(frozen=True)
class NumericSummary:
    """Quantile bins of a numeric column's sample.

    ``edges`` are the interior cut points (sorted, distinct); bin ``i`` holds values ``x`` with
    ``edges[i-1] < x <= edges[i]`` (the first bin is open below, the last open above), so
    ``len(counts) == len(edges) + 1``.
    """

    edges: tuple[float, ...]
    counts: tuple[int, ...]
    minimum: float
    maximum: float
    mean: float

    def to_dict(self) -> dict[str, Any]:
        return {
            "edges": list(self.edges),
            "counts": list(self.counts),
            "min": self.minimum,
            "max": self.maximum,
            "mean": self.mean,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> NumericSummary:
        return cls(
            edges=tuple(float(x) for x in data["edges"]),
            counts=tuple(int(x) for x in data["counts"]),
            minimum=float(data["min"]),
            maximum=float(data["max"]),
            mean=float(data["mean"]),
        )


@dataclass(frozen=True)
class CategoricalSummary:
    """Top-k values of a categorical column's sample (most frequent first) and the count of the rest."""

    top: tuple[tuple[str, int], ...]
    other: int
    distinct: int

    def to_dict(self) -> dict[str, Any]:
        return {"top": [[v, c] for v, c in self.top], "other": self.other, "distinct": self.distinct}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> CategoricalSummary:
        return cls(
            top=tuple((str(v), int(c)) for v, c in data["top"]),
            other=int(data["other"]),
            distinct=int(data["distinct"]),
        )


@dataclass(frozen=True)
class ColumnProfile:
    """One column: inferred type, exact missing count over every row, and the summary of the sample."""

    name: str
    type: ColumnType
    missing: int
    sample_missing: int
    numeric: NumericSummary | None = None
    categorical: CategoricalSummary | None = None

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "name": self.name,
            "type": self.type.value,
            "missing": self.missing,
            "sample_missing": self.sample_missing,
        }
        if self.numeric is not None:
            out["numeric"] = self.numeric.to_dict()
        if self.categorical is not None:
            out["categorical"] = self.categorical.to_dict()
        return out

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ColumnProfile:
        return cls(
            name=str(data["name"]),
            type=ColumnType(data["type"]),
            missing=int(data["missing"]),
            sample_missing=int(data["sample_missing"]),
            numeric=NumericSummary.from_dict(data["numeric"]) if "numeric" in data else None,
            categorical=CategoricalSummary.from_dict(data["categorical"]) if "categorical" in data else None,
        )


@dataclass(frozen=True)
class ReferenceCounts:
    """The sample of this dataset counted in a reference profile's bins and categories.

    ``numeric[col]`` has one count per reference bin; ``categorical[col]`` one per reference top value, in the
    reference's order, followed by the count of every other value. Missing values are in ``missing[col]``.
    """

    fingerprint: str
    numeric: Mapping[str, tuple[int, ...]] = field(default_factory=dict)
    categorical: Mapping[str, tuple[int, ...]] = field(default_factory=dict)
    missing: Mapping[str, int] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "fingerprint": self.fingerprint,
            "numeric": {k: list(v) for k, v in self.numeric.items()},
            "categorical": {k: list(v) for k, v in self.categorical.items()},
            "missing": dict(self.missing),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ReferenceCounts:
        return cls(
            fingerprint=str(data["fingerprint"]),
            numeric={k: tuple(int(x) for x in v) for k, v in data.get("numeric", {}).items()},
            categorical={k: tuple(int(x) for x in v) for k, v in data.get("categorical", {}).items()},
            missing={k: int(v) for k, v in data.get("missing", {}).items()},
        )


@dataclass(frozen=True)
class DatasetProfile:
    """The stored summary of one dataset version. ``fingerprint`` is ``sha256:<hex>`` of the bytes read."""

    fingerprint: str
    rows: int
    sample_rows: int
    columns: tuple[ColumnProfile, ...]
    label: str | None = None
    ragged_rows: int = 0
    reference: ReferenceCounts | None = None
    version: int = PROFILE_FORMAT_VERSION

    @property
    def schema(self) -> dict[str, ColumnType]:
        """Column name → inferred type, in file order."""
        return {c.name: c.type for c in self.columns}

    def column(self, name: str) -> ColumnProfile:
        for c in self.columns:
            if c.name == name:
                return c
        raise InvalidInputError(
            f"dataset profile has no column {name!r}; columns are {[c.name for c in self.columns]}",
            field="column",
        )

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "version": self.version,
            "fingerprint": self.fingerprint,
            "rows": self.rows,
            "sample_rows": self.sample_rows,
            "ragged_rows": self.ragged_rows,
            "label": self.label,
            "columns": [c.to_dict() for c in self.columns],
        }
        if self.reference is not None:
            out["reference"] = self.reference.to_dict()
        return out

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), separators=(",", ":"), sort_keys=True, allow_nan=False)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> DatasetProfile:
        try:
            version = int(data.get("version", PROFILE_FORMAT_VERSION))
            if version != PROFILE_FORMAT_VERSION:
                raise InvalidInputError(
                    f"dataset profile format version {version} is not supported (expected "
                    f"{PROFILE_FORMAT_VERSION}); re-profile the dataset with this version of amtflow.",
                    field="version",
                )
            return cls(
                fingerprint=str(data["fingerprint"]),
                rows=int(data["rows"]),
                sample_rows=int(data["sample_rows"]),
                ragged_rows=int(data.get("ragged_rows", 0)),
                label=data.get("label"),
                columns=tuple(ColumnProfile.from_dict(c) for c in data["columns"]),
                reference=ReferenceCounts.from_dict(data["reference"]) if data.get("reference") else None,
                version=version,
            )
        except (KeyError, TypeError, ValueError, AttributeError, OverflowError) as e:
            raise InvalidInputError(
                f"dataset profile is malformed ({type(e).__name__}: {e}); re-profile the dataset.",
                field="profile",
            ) from e

    @classmethod
    def from_json(cls, text: str | bytes) -> DatasetProfile:
        try:
            data = json.loads(text)
        except ValueError as e:
            raise InvalidInputError(f"dataset profile is not valid JSON: {e}", field="profile") from e
        if not isinstance(data, dict):
            raise InvalidInputError("dataset profile must be a JSON object", field="profile")
        return cls.from_dict(data)
