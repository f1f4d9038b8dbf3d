"""Properties of PSI, binning and profiling that must hold for any input."""

from __future__ import annotations

import io

from hypothesis import given, settings
from hypothesis import strategies as st

from amtflow.drift import ProfileOptions, count_in_bins, profile_csv, psi, quantile_edges

counts = st.lists(st.integers(min_value=0, max_value=1_000), min_size=2, max_size=12).filter(
    lambda c: sum(c) > 0
)
finite = st.floats(min_value=-1e6, max_value=1e6, allow_nan=False, allow_infinity=False)


@settings(max_examples=200, deadline=None)
@given(counts, st.data())
def test_psi_is_non_negative_and_zero_for_identical_histograms(
    expected: list[int], data: st.DataObject
) -> None:
    actual = data.draw(
        st.lists(
            st.integers(min_value=0, max_value=1_000), min_size=len(expected), max_size=len(expected)
        ).filter(lambda c: sum(c) > 0)
    )
    assert psi(expected, actual) >= -1e-12
    assert abs(psi(expected, expected)) < 1e-12
    # Scaling a histogram does not change its shares.
    assert abs(psi(expected, [3 * c for c in expected])) < 1e-9


@settings(max_examples=200, deadline=None)
@given(st.lists(finite, min_size=1, max_size=300), st.integers(min_value=2, max_value=20))
def test_quantile_bins_partition_the_sample(values: list[float], bins: int) -> None:
    ordered = sorted(values)
    edges = quantile_edges(ordered, bins)
    assert list(edges) == sorted(set(edges))
    assert len(edges) <= bins - 1
    hist = count_in_bins(ordered, edges)
    assert sum(hist) == len(values)
    # No bin is empty by construction when edges come from the same sample.
    assert all(c > 0 for c in hist)


cell = st.one_of(
    st.integers(min_value=-1000, max_value=1000).map(str),
    st.sampled_from(["", "NA", "red", "blue", "x y"]),
)


@settings(max_examples=100, deadline=None)
@given(st.lists(st.lists(cell, min_size=3, max_size=3), min_size=1, max_size=60), st.integers(10, 40))
def test_row_and_missing_counts_are_exact_whatever_the_sample(rows: list[list[str]], sample: int) -> None:
    rows = [r for r in rows if any(r)]  # an all-empty row is a blank line in CSV
    if not rows:
        return
    body = "a,b,c\n" + "".join(",".join(r) + "\n" for r in rows)
    profile = profile_csv(io.BytesIO(body.encode()), ProfileOptions(sample_size=sample))
    assert profile.rows == len(rows)
    assert profile.sample_rows == min(sample, len(rows))
    for i, name in enumerate("abc"):
        assert profile.column(name).missing == sum(1 for r in rows if r[i] in ("", "NA"))
