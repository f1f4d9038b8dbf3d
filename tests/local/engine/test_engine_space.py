"""The search space: scaling types, sampling distributions, encode/decode and input errors."""

from __future__ import annotations

import math
import statistics

import numpy as np
import pytest

from amtflow.local.engine import SearchSpace, ServiceError


def space(**ranges: object) -> SearchSpace:
    return SearchSpace.from_ranges(ranges)


def samples(s: SearchSpace, n: int = 4000, seed: int = 0) -> list[dict[str, object]]:
    rng = np.random.default_rng(seed)
    return [s.sample(rng) for _ in range(n)]


def test_linear_continuous_samples_are_uniform() -> None:
    s = space(
        ContinuousParameterRanges=[{"Name": "x", "MinValue": "2", "MaxValue": "4", "ScalingType": "Linear"}]
    )
    xs = [float(c["x"]) for c in samples(s)]
    assert min(xs) >= 2
    assert max(xs) <= 4
    assert statistics.median(xs) == pytest.approx(3.0, abs=0.06)
    assert sum(x < 2.5 for x in xs) / len(xs) == pytest.approx(0.25, abs=0.03)


def test_logarithmic_samples_are_uniform_in_log_space() -> None:
    s = space(
        ContinuousParameterRanges=[
            {"Name": "lr", "MinValue": "0.0001", "MaxValue": "1", "ScalingType": "Logarithmic"}
        ]
    )
    xs = [float(c["lr"]) for c in samples(s)]
    # uniform in log10 between -4 and 0: median at 10^-2, a quarter of the draws below 10^-3
    assert statistics.median(xs) == pytest.approx(0.01, rel=0.15)
    assert sum(x < 1e-3 for x in xs) / len(xs) == pytest.approx(0.25, abs=0.03)


def test_reverse_logarithmic_samples_crowd_towards_one() -> None:
    s = space(
        ContinuousParameterRanges=[
            {"Name": "beta", "MinValue": "0.9", "MaxValue": "0.9999", "ScalingType": "ReverseLogarithmic"}
        ]
    )
    xs = [float(c["beta"]) for c in samples(s)]
    # uniform in -log(1 - x): 1 - x is log-uniform between 1e-4 and 1e-1, so the median is 1 - 10^-2.5
    assert statistics.median(xs) == pytest.approx(1 - 10**-2.5, abs=5e-4)
    assert all(0.9 <= x <= 0.9999 for x in xs)


def test_auto_scaling_is_logarithmic_only_for_wide_positive_ranges() -> None:
    wide = space(ContinuousParameterRanges=[{"Name": "a", "MinValue": "0.001", "MaxValue": "10"}])
    narrow = space(ContinuousParameterRanges=[{"Name": "a", "MinValue": "1", "MaxValue": "10"}])
    assert statistics.median(float(c["a"]) for c in samples(wide, 2000)) < 0.5
    assert statistics.median(float(c["a"]) for c in samples(narrow, 2000)) == pytest.approx(5.5, abs=0.3)


def test_integer_values_are_whole_and_each_equally_likely() -> None:
    s = space(
        IntegerParameterRanges=[{"Name": "depth", "MinValue": "1", "MaxValue": "4", "ScalingType": "Linear"}]
    )
    values = [c["depth"] for c in samples(s)]
    assert all(isinstance(v, int) for v in values)
    counts = {v: values.count(v) / len(values) for v in range(1, 5)}
    assert set(values) == {1, 2, 3, 4}
    assert all(share == pytest.approx(0.25, abs=0.03) for share in counts.values())


def test_logarithmic_integers_favour_small_values() -> None:
    s = space(
        IntegerParameterRanges=[
            {"Name": "n", "MinValue": "1", "MaxValue": "1000", "ScalingType": "Logarithmic"}
        ]
    )
    values = [int(c["n"]) for c in samples(s)]  # type: ignore[call-overload]
    assert statistics.median(values) < 60
    assert min(values) >= 1
    assert max(values) <= 1000


def test_categorical_values_are_equally_likely() -> None:
    s = space(CategoricalParameterRanges=[{"Name": "k", "Values": ["a", "b", "c"]}])
    values = [c["k"] for c in samples(s, 3000)]
    assert all(values.count(v) / 3000 == pytest.approx(1 / 3, abs=0.03) for v in "abc")


def test_encode_decode_round_trip() -> None:
    s = space(
        ContinuousParameterRanges=[
            {"Name": "lr", "MinValue": "0.001", "MaxValue": "1", "ScalingType": "Logarithmic"}
        ],
        IntegerParameterRanges=[{"Name": "n", "MinValue": "2", "MaxValue": "9"}],
        CategoricalParameterRanges=[{"Name": "k", "Values": ["x", "y", "z"]}],
    )
    config = {"lr": 0.01, "n": 5, "k": "y"}
    point = s.encode(config)
    assert point.shape == (5,)
    back = s.decode(point)
    assert math.isclose(float(back["lr"]), 0.01, rel_tol=1e-9)
    assert back["n"] == 5
    assert back["k"] == "y"


def test_snapping_many_points_at_once_gives_what_snapping_each_gives() -> None:
    # The Bayesian strategy snaps its thousands of candidates at once: the same whole numbers and categories,
    # the same continuous values up to rounding in the last bits (NumPy's exp and log against math's).
    s = space(
        ContinuousParameterRanges=[
            {"Name": "lr", "MinValue": "0.001", "MaxValue": "1", "ScalingType": "Logarithmic"},
            {"Name": "m", "MinValue": "0", "MaxValue": "0.99", "ScalingType": "ReverseLogarithmic"},
        ],
        IntegerParameterRanges=[
            {"Name": "n", "MinValue": "2", "MaxValue": "9"},
            {"Name": "w", "MinValue": "1", "MaxValue": "4096", "ScalingType": "Logarithmic"},
            {"Name": "one", "MinValue": "3", "MaxValue": "3"},
        ],
        CategoricalParameterRanges=[{"Name": "k", "Values": ["x", "y", "x", "z"]}],
    )
    rng = np.random.default_rng(3)
    points = np.vstack([rng.random((400, s.dims)), np.zeros((1, s.dims)), np.ones((1, s.dims))])

    many, each = s.snap_many(points), np.array([s.snap(u) for u in points])

    assert np.array_equal(many[:, 2:], each[:, 2:])  # integers (one-hot categories) exactly
    np.testing.assert_allclose(many[:, :2], each[:, :2], rtol=0, atol=1e-12)


@pytest.mark.parametrize(
    ("ranges", "words"),
    [
        (
            {"ContinuousParameterRanges": [{"Name": "a", "MinValue": "x", "MaxValue": "1"}]},
            ["MinValue", "number"],
        ),
        (
            {"ContinuousParameterRanges": [{"Name": "a", "MinValue": "2", "MaxValue": "1"}]},
            ["above MaxValue"],
        ),
        (
            {
                "ContinuousParameterRanges": [
                    {"Name": "a", "MinValue": "0", "MaxValue": "1", "ScalingType": "Logarithmic"}
                ]
            },
            ["Logarithmic", "MinValue > 0"],
        ),
        (
            {
                "IntegerParameterRanges": [
                    {"Name": "a", "MinValue": "0", "MaxValue": "1", "ScalingType": "ReverseLogarithmic"}
                ]
            },
            ["ReverseLogarithmic", "continuous"],
        ),
        ({"IntegerParameterRanges": [{"Name": "a", "MinValue": "0.5", "MaxValue": "3"}]}, ["whole numbers"]),
        (
            {
                "ContinuousParameterRanges": [{"Name": "a", "MinValue": "0", "MaxValue": "1"}],
                "CategoricalParameterRanges": [{"Name": "a", "Values": ["x"]}],
            },
            ["more than once"],
        ),
    ],
)
def test_bad_ranges_are_validation_errors_naming_the_field(
    ranges: dict[str, object], words: list[str]
) -> None:
    with pytest.raises(ServiceError) as err:
        SearchSpace.from_ranges(ranges)
    assert err.value.code == "ValidationException"
    for word in words:
        assert word in err.value.message
