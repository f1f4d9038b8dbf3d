"""Dataset profiles: streaming, bounded memory, schema and summaries, serialisation, bad input."""

from __future__ import annotations

import hashlib
import io
import json
import os
import random
import subprocess
import sys

import boto3
import numpy as np
import pytest
from moto import mock_aws

from amtflow.drift import (
    ColumnType,
    DatasetProfile,
    DatasetProfiler,
    ProfileOptions,
    count_in_bins,
    profile_csv,
    quantile_edges,
)
from amtflow.errors import InvalidInputError


class ChunkedStream:
    """A read-only, non-seekable stream like an S3 ``StreamingBody``; records every read size."""

    def __init__(self, data: bytes, max_chunk: int | None = None) -> None:
        self._buf = io.BytesIO(data)
        self._max_chunk = max_chunk
        self.reads: list[int] = []

    def read(self, amt: int = -1) -> bytes:
        self.reads.append(amt)
        if self._max_chunk is not None and (amt is None or amt < 0 or amt > self._max_chunk):
            amt = self._max_chunk
        return self._buf.read(amt)


def _csv(rows: list[list[object]], header: list[str] | None = None) -> bytes:
    lines = [",".join(header)] if header else []
    lines += [",".join(str(v) for v in row) for row in rows]
    return ("\n".join(lines) + "\n").encode()


def test_quantile_edges_and_right_closed_bins() -> None:
    values = [float(v) for v in range(1, 101)]
    edges = quantile_edges(values, 4)
    assert edges == (25.0, 50.0, 75.0)
    assert count_in_bins(values, edges) == (25, 25, 25, 25)
    # Right-closed: a value equal to an edge belongs to the bin that ends at it.
    assert count_in_bins([25.0, 25.5, 100.0], edges) == (1, 1, 0, 1)


def test_quantile_edges_collapse_on_repeated_values() -> None:
    values = sorted([0.0] * 90 + [1.0] * 10)
    edges = quantile_edges(values, 10)
    assert edges == (0.0,)
    assert count_in_bins(values, edges) == (90, 10)


def test_profile_infers_schema_summaries_and_exact_missing_counts() -> None:
    rows = [[i, "red" if i % 3 else "blue", "" if i % 10 == 0 else i * 0.5] for i in range(1, 101)]
    data = _csv(rows, ["id", "colour", "score"])
    profile = profile_csv(io.BytesIO(data), ProfileOptions(bins=4, top_k=5))

    assert profile.rows == 100
    assert profile.schema == {
        "id": ColumnType.NUMERIC,
        "colour": ColumnType.CATEGORICAL,
        "score": ColumnType.NUMERIC,
    }
    assert profile.fingerprint == "sha256:" + hashlib.sha256(data).hexdigest()
    colour = profile.column("colour")
    assert colour.categorical is not None
    assert colour.categorical.top == (("red", 67), ("blue", 33))
    assert colour.categorical.other == 0
    score = profile.column("score")
    assert score.missing == 10
    assert score.numeric is not None
    assert sum(score.numeric.counts) == 90
    ident = profile.column("id")
    assert ident.numeric is not None
    assert ident.numeric.edges == (25.0, 50.0, 75.0)
    assert ident.numeric.minimum == 1.0
    assert ident.numeric.maximum == 100.0
    assert ident.numeric.mean == pytest.approx(50.5)


def test_headerless_label_first_is_the_xgboost_convention() -> None:
    data = b"1,0.5,a\n0,0.7,b\n1,0.9,a\n"
    profile = profile_csv(io.BytesIO(data), ProfileOptions(header=False, label_index=0))
    assert [c.name for c in profile.columns] == ["c0", "c1", "c2"]
    assert profile.label == "c0"
    assert profile.rows == 3
    assert profile.schema["c2"] is ColumnType.CATEGORICAL


def test_headerless_with_given_column_names() -> None:
    data = b"1,0.5\n0,0.7\n"
    options = ProfileOptions(header=False, label_index=0, column_names=("churn", "tenure"))
    profile = profile_csv(io.BytesIO(data), options)
    assert profile.label == "churn"
    assert profile.schema == {"churn": ColumnType.NUMERIC, "tenure": ColumnType.NUMERIC}


def test_missing_tokens_and_non_finite_values_are_missing() -> None:
    data = _csv([[1], ["NA"], ["nan"], ["null"], ["inf"], [2]], ["x"])
    profile = profile_csv(io.BytesIO(data))
    col = profile.column("x")
    assert col.type is ColumnType.NUMERIC
    assert col.missing == 3
    assert col.numeric is not None
    # "inf" is not a missing token but is not a finite number either: it leaves the numeric summary.
    assert sum(col.numeric.counts) == 2


def test_ragged_rows_are_counted_and_padded() -> None:
    data = b"a,b,c\n1,2,3\n4,5\n6,7,8,9\n"
    profile = profile_csv(io.BytesIO(data))
    assert profile.rows == 3
    assert profile.ragged_rows == 2
    assert profile.column("c").missing == 1


def test_streams_a_multi_megabyte_csv_with_a_bounded_sample() -> None:
    rng = np.random.default_rng(7)
    n = 120_000
    x = rng.normal(10.0, 2.0, n)
    cats = rng.choice(["a", "b", "c", "d"], n, p=[0.4, 0.3, 0.2, 0.1])
    body = "x,cat,y,note\n" + "".join(f"{x[i]:.6f},{cats[i]},{i % 7},constant\n" for i in range(n))
    data = body.encode()
    assert len(data) > 2_000_000

    stream = ChunkedStream(data)
    profiler = DatasetProfiler(ProfileOptions(sample_size=2_000, seed=3))
    profiler.feed(stream)
    profile = profiler.finish()

    # Memory is bounded by the reservoir, not by the file: at most sample_size rows were ever held.
    assert profiler.peak_sample_rows == 2_000
    assert profile.sample_rows == 2_000
    assert profile.rows == n
    # The stream was consumed in bounded reads, never as one whole-body read.
    assert len(stream.reads) > 2
    assert all(0 < amt <= 1 << 20 for amt in stream.reads)
    assert profiler.bytes_read == len(data)
    assert profile.fingerprint == "sha256:" + hashlib.sha256(data).hexdigest()
    # The uniform sample reflects the whole file.
    xs = profile.column("x").numeric
    assert xs is not None
    assert xs.mean == pytest.approx(10.0, abs=0.2)
    cat = profile.column("cat").categorical
    assert cat is not None
    shares = {v: c / profile.sample_rows for v, c in cat.top}
    assert shares["a"] == pytest.approx(0.4, abs=0.04)
    assert shares["d"] == pytest.approx(0.1, abs=0.03)
    assert len(profile.to_json()) < 100_000


def test_same_bytes_and_seed_give_the_same_profile_whatever_the_chunking() -> None:
    rows = [[i, f"é{i % 5}", (i * 37) % 101] for i in range(5_000)]
    data = _csv(rows, ["i", "name", "v"])
    whole = profile_csv(io.BytesIO(data), ProfileOptions(sample_size=500, seed=11))
    # 7-byte reads split the two-byte "é" across reads.
    chunked = profile_csv(ChunkedStream(data, max_chunk=7), ProfileOptions(sample_size=500, seed=11))
    assert whole == chunked
    other_seed = profile_csv(io.BytesIO(data), ProfileOptions(sample_size=500, seed=12))
    assert other_seed.fingerprint == whole.fingerprint
    assert other_seed.column("i") != whole.column("i")


def test_injected_rng_drives_the_sample() -> None:
    data = _csv([[i] for i in range(1_000)], ["i"])
    a = profile_csv(io.BytesIO(data), ProfileOptions(sample_size=50), rng=random.Random(5))
    b = profile_csv(io.BytesIO(data), ProfileOptions(sample_size=50, seed=5))
    assert a == b


def test_several_files_of_one_version_are_profiled_together() -> None:
    part1 = _csv([[1, "a"], [2, "b"]], ["x", "k"])
    part2 = _csv([[3, "a"]], ["x", "k"])
    profile = profile_csv([io.BytesIO(part1), io.BytesIO(part2)])
    assert profile.rows == 3
    assert profile.fingerprint == "sha256:" + hashlib.sha256(part1 + part2).hexdigest()


def test_files_with_different_headers_are_rejected() -> None:
    with pytest.raises(InvalidInputError) as err:
        profile_csv([io.BytesIO(b"x,k\n1,a\n"), io.BytesIO(b"x,z\n1,a\n")])
    assert err.value.field == "dataset.header"
    assert "same columns" in str(err.value)


def test_profile_round_trips_through_json() -> None:
    data = _csv([[i, "abc"[i % 3], "" if i % 4 == 0 else i / 3] for i in range(200)], ["a", "b", "c"])
    baseline = profile_csv(io.BytesIO(data), ProfileOptions(bins=5))
    current = profile_csv(io.BytesIO(data), ProfileOptions(bins=5), reference=baseline)
    for p in (baseline, current):
        text = p.to_json()
        assert json.loads(text)["fingerprint"] == p.fingerprint
        assert DatasetProfile.from_json(text) == p


def test_profile_size_is_capped_by_shrinking_top_k() -> None:
    rows = [[f"{c}-{i:04d}-" + "x" * 50 for c in range(20)] for i in range(300)]
    data = _csv(rows, [f"col{c}" for c in range(20)])
    profile = profile_csv(io.BytesIO(data), ProfileOptions(top_k=50, max_profile_bytes=30_000))
    assert len(profile.to_json().encode()) <= 30_000
    tops = {len(c.categorical.top) for c in profile.columns if c.categorical is not None}
    assert max(tops) < 50
    # Long category values are truncated so a single value cannot blow the item size.
    assert all(len(v) <= 64 for c in profile.columns if c.categorical for v, _ in c.categorical.top)


def test_profile_that_cannot_fit_says_how_to_fix_it() -> None:
    rows = [[f"v{i}-{c}" for c in range(300)] for i in range(20)]
    data = _csv(rows, [f"col{c}" for c in range(300)])
    with pytest.raises(InvalidInputError) as err:
        profile_csv(io.BytesIO(data), ProfileOptions(max_profile_bytes=5_000))
    assert err.value.field == "dataset.max_profile_bytes"
    assert "raise max_profile_bytes" in str(err.value)


@pytest.mark.parametrize(
    ("data", "options", "field"),
    [
        (b"", ProfileOptions(), "dataset"),
        (b"a,b\n", ProfileOptions(), "dataset"),
        (b"a,a\n1,2\n", ProfileOptions(), "dataset.header"),
        (b"a,\n1,2\n", ProfileOptions(), "dataset.header"),
        (b"a,b\n\xff\xfe,1\n", ProfileOptions(), "dataset.encoding"),
        (b"1,2\n", ProfileOptions(header=False, label_index=5), "dataset.label_index"),
    ],
)
def test_bad_datasets_are_named_with_a_fix(data: bytes, options: ProfileOptions, field: str) -> None:
    with pytest.raises(InvalidInputError) as err:
        profile_csv(io.BytesIO(data), options)
    assert err.value.field == field


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"sample_size": 1}, "sample_size"),
        ({"bins": 1}, "bins"),
        ({"top_k": 0}, "top_k"),
        ({"delimiter": ";;"}, "delimiter"),
        ({"encoding": "no-such-codec"}, "encoding"),
        ({"label_index": -1}, "label_index"),
        ({"column_names": ("a", "b")}, "column_names"),
    ],
)
def test_bad_options_name_the_option(kwargs: dict[str, object], field: str) -> None:
    with pytest.raises(InvalidInputError) as err:
        ProfileOptions(**kwargs)  # type: ignore[arg-type]
    assert err.value.field == field
    assert field in str(err.value)


def test_malformed_stored_profile_is_a_clear_error() -> None:
    with pytest.raises(InvalidInputError) as err:
        DatasetProfile.from_json('{"fingerprint": "x"}')
    assert err.value.field == "profile"
    with pytest.raises(InvalidInputError):
        DatasetProfile.from_json("not json")
    with pytest.raises(InvalidInputError) as err:
        DatasetProfile.from_json(
            json.dumps({"version": 99, "fingerprint": "x", "rows": 1, "sample_rows": 1, "columns": []})
        )
    assert err.value.field == "version"
    with pytest.raises(InvalidInputError) as err:
        DatasetProfile.from_json('{"version": Infinity}')  # Python's json reads it; int() cannot
    assert err.value.field == "profile"


def test_reservoir_is_uniform_over_file_position() -> None:
    # Values equal their row position: a sample biased to the start or the end of the file shows at once.
    n = 50_000
    data = ("i\n" + "".join(f"{i}\n" for i in range(n))).encode()
    means = []
    for seed in range(4):
        profile = profile_csv(io.BytesIO(data), ProfileOptions(sample_size=1_000, seed=seed))
        col = profile.column("i").numeric
        assert col is not None
        means.append(col.mean / n)
        assert col.maximum > 0.95 * n
        assert col.minimum < 0.05 * n
    assert all(0.46 < m < 0.54 for m in means), means
    assert len(set(means)) == 4


def test_quoted_fields_with_delimiters_and_newlines() -> None:
    data = b'name,note\n"Smith, J","line one\nline two"\n"Doe, A",plain\n'
    profile = profile_csv(io.BytesIO(data))
    assert profile.rows == 2
    names = profile.column("name").categorical
    assert names is not None
    assert {v for v, _ in names.top} == {"Smith, J", "Doe, A"}


def test_text_mode_stream_is_rejected_with_a_fix() -> None:
    with pytest.raises(InvalidInputError) as err:
        profile_csv(io.StringIO("a,b\n1,2\n"))  # type: ignore[arg-type]
    assert err.value.field == "dataset.stream"
    assert "binary mode" in str(err.value)


def test_profile_is_reproducible_across_processes() -> None:
    script = (
        "import io, random, sys\n"
        "from amtflow.drift import ProfileOptions, profile_csv\n"
        "rng = random.Random(4)\n"
        "rows = ''.join(f'{rng.random():.4f},{rng.choice(\"xyz\")}\\n' for _ in range(5000))\n"
        "p = profile_csv(io.BytesIO(('a,b\\n' + rows).encode()), ProfileOptions(sample_size=300, seed=9))\n"
        "sys.stdout.write(p.to_json())\n"
    )
    outputs = set()
    for hash_seed in ("1", "2"):
        env = {**os.environ, "PYTHONHASHSEED": hash_seed}
        cmd = [sys.executable, "-c", script]
        done = subprocess.run(cmd, capture_output=True, text=True, check=True, env=env)
        outputs.add(done.stdout)
    assert len(outputs) == 1
    assert DatasetProfile.from_json(outputs.pop()).rows == 5000


def test_profiles_an_s3_streaming_body() -> None:
    data = _csv([[i % 2, i * 0.25, "abc"[i % 3]] for i in range(20_000)])
    with mock_aws():
        s3 = boto3.client("s3", region_name="us-east-1")
        s3.create_bucket(Bucket="data")
        s3.put_object(Bucket="data", Key="datasets/churn/v1/train/part-0.csv", Body=data)
        body = s3.get_object(Bucket="data", Key="datasets/churn/v1/train/part-0.csv")["Body"]
        profile = profile_csv(body, ProfileOptions(header=False, label_index=0, sample_size=500))
    assert profile.rows == 20_000
    assert profile.sample_rows == 500
    assert profile.fingerprint == "sha256:" + hashlib.sha256(data).hexdigest()
    assert profile.schema == {
        "c0": ColumnType.NUMERIC,
        "c1": ColumnType.NUMERIC,
        "c2": ColumnType.CATEGORICAL,
    }


def test_a_byte_order_mark_is_not_part_of_the_first_column_name() -> None:
    profile = profile_csv(io.BytesIO("\ufeffid,name\n1,a\n".encode()))
    assert [c.name for c in profile.columns] == ["id", "name"]
