"""Dataset profiles: a small, JSON-serialisable summary of one dataset version.

A profile is computed in one pass over a **stream** of CSV bytes (a file object, an S3 ``StreamingBody``)
with bounded memory: every byte goes through a SHA-256 (the content fingerprint) and a row counter, but only
a fixed-size, seeded reservoir sample of rows is held. Column types and distributions are computed from that
sample; row counts and missing counts are exact. Pure Python on purpose: the core ships in a Lambda layer.

Numeric columns are summarised by quantile bin edges and the counts of the sample in each bin; categorical
columns by their top-k values and an "other" count. When the profile is computed *against a reference*
(the profile of the data the champion was trained on), the sample is also counted in the reference's bins
and categories, so drift scores are exact rather than re-binned approximations.
"""

from __future__ import annotations

import bisect
import csv
import hashlib
import io
import math
import random
from collections import Counter
from collections.abc import Iterable, Sequence
from typing import IO, Any

from amtflow.drift._summary import (
    CategoricalSummary,
    ColumnProfile,
    ColumnType,
    DatasetProfile,
    NumericSummary,
    ProfileOptions,
    ReadableBytes,
    ReferenceCounts,
)
from amtflow.errors import InvalidInputError

_MISSING_TOKENS = frozenset({"", "na", "n/a", "nan", "null", "none", "?"})
_WHITESPACE = frozenset(" \t\r\n\f\v")
_MISSING_FIRST = frozenset("nN?") | _WHITESPACE
_BELOW_ONE = math.nextafter(1.0, 0.0)
_MAX_CATEGORY_CHARS = 64
_READ_CHUNK = 1 << 20


class _HashingReader(io.RawIOBase):
    """A raw binary stream over ``source.read`` that hashes and counts every byte that passes."""

    def __init__(self, source: ReadableBytes, digest: Any) -> None:
        super().__init__()
        self._source = source
        self._digest = digest
        self.bytes_read = 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        view = memoryview(buffer).cast("B")
        data = self._source.read(min(len(view), _READ_CHUNK))
        if not data:
            return 0
        if not isinstance(data, bytes | bytearray):
            raise InvalidInputError(
                f"the dataset stream returned {type(data).__name__}, not bytes; open files in binary mode "
                "('rb') or pass the S3 object's Body.",
                field="dataset.stream",
            )
        n = len(data)
        view[:n] = data
        self._digest.update(data)
        self.bytes_read += n
        return n


def _is_missing(value: str) -> bool:
    return value.strip().lower() in _MISSING_TOKENS


def _as_float(value: str) -> float | None:
    """The number in ``value`` (``nan`` for a non-finite one such as ``inf``), or None if it is not one."""
    try:
        x = float(value)
    except ValueError:
        return None
    return x if math.isfinite(x) else math.nan


class DatasetProfiler:
    """Builds a :class:`DatasetProfile` from one or more CSV streams, holding at most ``sample_size`` rows.

    Call :meth:`feed` once per file (in a stable order: the fingerprint covers the files' bytes in that
    order), then :meth:`finish`. ``rng`` defaults to ``random.Random(options.seed)``, so the same bytes and
    options always give the same profile.
    """

    def __init__(self, options: ProfileOptions | None = None, *, rng: random.Random | None = None) -> None:
        self.options = options or ProfileOptions()
        self._rng = rng if rng is not None else random.Random(self.options.seed)  # noqa: S311 - sampling, not security
        self._digest = hashlib.sha256()
        self._names: list[str] | None = (
            list(self.options.column_names) if self.options.column_names is not None else None
        )
        self._missing: list[int] = []
        self._sample: list[list[str]] = []
        self._rows = 0
        self._ragged = 0
        self._w = 1.0
        self._next_pick = 0
        self.peak_sample_rows = 0
        """The most rows the profiler ever held at once (the memory bound: never above ``sample_size``)."""
        self.bytes_read = 0

    @property
    def rows(self) -> int:
        return self._rows

    def feed(self, stream: ReadableBytes | IO[bytes]) -> None:
        """Read ``stream`` to its end: hash it, count its rows and sample them."""
        raw = _HashingReader(stream, self._digest)
        text = io.TextIOWrapper(
            io.BufferedReader(raw, _READ_CHUNK), encoding=self.options.encoding, errors="strict", newline=""
        )
        reader = csv.reader(text, delimiter=self.options.delimiter)
        first = True
        try:
            for row in reader:
                if not row or (len(row) == 1 and not row[0].strip()):
                    continue
                if first:
                    first = False
                    if self.options.header:
                        self._take_header(row)
                        continue
                self._take_row(row)
            # csv stops at the last row; make sure every byte is part of the fingerprint.
            while raw.read(_READ_CHUNK):
                pass
        except UnicodeDecodeError as e:
            raise InvalidInputError(
                f"dataset is not valid {self.options.encoding} text near byte {raw.bytes_read}: {e.reason}. "
                "Set the profile's dataset encoding or re-export the CSV.",
                field="dataset.encoding",
            ) from e
        except csv.Error as e:
            raise InvalidInputError(
                f"dataset is not valid CSV (line {reader.line_num}): {e}. Check the delimiter and quoting.",
                field="dataset.delimiter",
            ) from e
        finally:
            self.bytes_read += raw.bytes_read
            text.detach()

    def _take_header(self, row: list[str]) -> None:
        header = [h.strip() for h in row]
        if self._names is None:
            dupes = sorted({h for h in header if header.count(h) > 1})
            if dupes or any(not h for h in header):
                raise InvalidInputError(
                    f"CSV header has empty or duplicate column names {dupes or ['']}; name every column "
                    "uniquely, or profile with header=False.",
                    field="dataset.header",
                )
            self._names = header
            self._missing = [0] * len(header)
        elif header != self._names:
            raise InvalidInputError(
                f"CSV header {header[:10]} differs from the first file's {self._names[:10]}; every file of a "
                "dataset version must have the same columns.",
                field="dataset.header",
            )

    def _take_row(self, row: list[str]) -> None:
        if self._names is None:
            self._names = [f"c{i}" for i in range(len(row))]
        if not self._missing:
            self._missing = [0] * len(self._names)
        width = len(self._names)
        if len(row) != width:
            self._ragged += 1
            row = (row + [""] * width)[:width]
        self._rows += 1
        missing = self._missing
        for i, value in enumerate(row):
            # Fast path: a missing token starts with n/N/?/whitespace (or the value is empty).
            if not value or (
                (value[0] in _MISSING_FIRST or value[-1] in _WHITESPACE)
                and value.strip().lower() in _MISSING_TOKENS
            ):
                missing[i] += 1
        # Reservoir sampling, Algorithm L (Li, 1994): every row has the same chance k/n of being in the
        # sample, and rows that will not enter it cost no random draw.
        k = self.options.sample_size
        sample = self._sample
        if len(sample) < k:
            sample.append(row)
            self.peak_sample_rows = len(sample)
            if len(sample) == k:
                self._w = math.exp(math.log(self._uniform()) / k)
                self._next_pick = self._rows + self._skip()
        elif self._rows == self._next_pick:
            sample[self._rng.randrange(k)] = row
            self._w *= math.exp(math.log(self._uniform()) / k)
            self._next_pick = self._rows + self._skip()

    def _uniform(self) -> float:
        """A uniform draw in the open interval (0, 1)."""
        u = self._rng.random()
        while u == 0.0:
            u = self._rng.random()
        return u

    def _skip(self) -> int:
        w = min(self._w, _BELOW_ONE)
        return math.floor(math.log(self._uniform()) / math.log1p(-w)) + 1

    def finish(self, reference: DatasetProfile | None = None) -> DatasetProfile:
        """Summarise what was fed. With ``reference``, also count the sample in the reference's bins."""
        if self._names is None or self._rows == 0:
            raise InvalidInputError(
                "dataset has no data rows; check that the dataset version's files are not empty "
                "(and that header=False is set for files without a header row).",
                field="dataset",
            )
        label = None
        if self.options.label_index is not None:
            if self.options.label_index >= len(self._names):
                raise InvalidInputError(
                    f"label_index {self.options.label_index} is beyond the {len(self._names)} columns of "
                    "the dataset; set label_index to the label's 0-based column position.",
                    field="dataset.label_index",
                )
            label = self._names[self.options.label_index]
        bins, top_k = self.options.bins, self.options.top_k
        while True:
            profile = self._summarise(bins, top_k, label, reference)
            size = len(profile.to_json().encode())
            if size <= self.options.max_profile_bytes:
                return profile
            if top_k > 5:
                top_k = max(5, top_k // 2)
            elif bins > 4:
                bins = max(4, bins // 2)
            else:
                raise InvalidInputError(
                    f"the profile of {len(self._names)} columns needs {size} bytes even with 4 bins and "
                    f"top-5 categories, above max_profile_bytes={self.options.max_profile_bytes}; raise "
                    "max_profile_bytes (at most ~300000 fits a DynamoDB item) or profile fewer columns.",
                    field="dataset.max_profile_bytes",
                )

    def _summarise(
        self, bins: int, top_k: int, label: str | None, reference: DatasetProfile | None
    ) -> DatasetProfile:
        assert self._names is not None
        columns: list[ColumnProfile] = []
        ref_numeric: dict[str, tuple[int, ...]] = {}
        ref_categorical: dict[str, tuple[int, ...]] = {}
        ref_missing: dict[str, int] = {}
        ref_columns = {c.name: c for c in reference.columns} if reference is not None else {}
        for i, name in enumerate(self._names):
            values = [row[i] for row in self._sample]
            present = [v for v in values if not _is_missing(v)]
            sample_missing = len(values) - len(present)
            floats = [_as_float(v) for v in present]
            finite = [x for x in floats if x is not None and not math.isnan(x)]
            is_numeric = bool(finite) and all(x is not None for x in floats)
            if is_numeric:
                nums = sorted(finite)
                col = ColumnProfile(
                    name,
                    ColumnType.NUMERIC,
                    self._missing[i],
                    sample_missing,
                    numeric=_numeric_summary(nums, bins),
                )
            else:
                cats = [v.strip()[:_MAX_CATEGORY_CHARS] for v in present]
                col = ColumnProfile(
                    name,
                    ColumnType.CATEGORICAL,
                    self._missing[i],
                    sample_missing,
                    categorical=_categorical_summary(cats, top_k),
                )
            columns.append(col)
            ref = ref_columns.get(name)
            if ref is None:
                continue
            ref_missing[name] = sample_missing
            if ref.numeric is not None and is_numeric:
                ref_numeric[name] = count_in_bins(finite, ref.numeric.edges)
            elif ref.categorical is not None:
                cats = [v.strip()[:_MAX_CATEGORY_CHARS] for v in present]
                ref_categorical[name] = count_in_categories(cats, [v for v, _ in ref.categorical.top])
        reference_counts = (
            ReferenceCounts(reference.fingerprint, ref_numeric, ref_categorical, ref_missing)
            if reference is not None
            else None
        )
        return DatasetProfile(
            fingerprint="sha256:" + self._digest.hexdigest(),
            rows=self._rows,
            sample_rows=len(self._sample),
            columns=tuple(columns),
            label=label,
            ragged_rows=self._ragged,
            reference=reference_counts,
        )


def quantile_edges(sorted_values: Sequence[float], bins: int) -> tuple[float, ...]:
    """Interior cut points at the ``1/bins, 2/bins, ...`` quantiles (lower method), de-duplicated."""
    n = len(sorted_values)
    if n == 0:
        return ()
    edges: list[float] = []
    for q in range(1, bins):
        idx = min(n - 1, max(0, math.ceil(q * n / bins) - 1))
        x = sorted_values[idx]
        if not edges or x > edges[-1]:
            edges.append(x)
    # A cut at the maximum would leave the last bin empty by construction.
    if edges and edges[-1] >= sorted_values[-1]:
        edges.pop()
    return tuple(edges)


def count_in_bins(values: Iterable[float], edges: Sequence[float]) -> tuple[int, ...]:
    """Counts per bin, bins right-closed: ``(-inf, e0], (e0, e1], ..., (e_last, inf)``."""
    counts = [0] * (len(edges) + 1)
    for x in values:
        counts[bisect.bisect_left(edges, x)] += 1
    return tuple(counts)


def count_in_categories(values: Iterable[str], categories: Sequence[str]) -> tuple[int, ...]:
    """Counts per listed category, then one count for every other value."""
    index = {c: i for i, c in enumerate(categories)}
    counts = [0] * (len(categories) + 1)
    for v in values:
        counts[index.get(v, len(categories))] += 1
    return tuple(counts)


def _numeric_summary(sorted_values: list[float], bins: int) -> NumericSummary:
    edges = quantile_edges(sorted_values, bins)
    return NumericSummary(
        edges=edges,
        counts=count_in_bins(sorted_values, edges),
        minimum=sorted_values[0],
        maximum=sorted_values[-1],
        # Each term is scaled first so that values near the float limit cannot overflow the sum.
        mean=math.fsum(v / len(sorted_values) for v in sorted_values),
    )


def _categorical_summary(values: list[str], top_k: int) -> CategoricalSummary:
    counter = Counter(values)
    ranked = sorted(counter.items(), key=lambda kv: (-kv[1], kv[0]))
    top = tuple(ranked[:top_k])
    return CategoricalSummary(top=top, other=len(values) - sum(c for _, c in top), distinct=len(counter))


def profile_csv(
    streams: ReadableBytes | IO[bytes] | Iterable[ReadableBytes | IO[bytes]],
    options: ProfileOptions | None = None,
    *,
    reference: DatasetProfile | None = None,
    rng: random.Random | None = None,
) -> DatasetProfile:
    """Profile a CSV dataset from one stream or several (in order), optionally against ``reference``."""
    profiler = DatasetProfiler(options, rng=rng)
    if hasattr(streams, "read"):
        profiler.feed(streams)  # type: ignore[arg-type]
    else:
        for s in streams:
            profiler.feed(s)
    return profiler.finish(reference)
