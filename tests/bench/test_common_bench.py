"""bench/_common.py: the median and bootstrap interval every benchmark reports."""

from __future__ import annotations

import pytest
from _common import median_interval, show_interval


def test_the_median_lies_in_its_interval_and_the_interval_in_the_data() -> None:
    values = [0.3, 0.1, 0.5, 0.4, 0.2, 0.9, 0.35, 0.45, 0.25, 0.6]
    figure = median_interval(values)

    assert figure["median"] == pytest.approx(0.375)
    assert figure["n"] == 10
    assert min(values) <= figure["low"] <= figure["median"] <= figure["high"] <= max(values)
    assert figure["low"] < figure["median"] < figure["high"]


def test_the_interval_narrows_with_more_seeds() -> None:
    few = median_interval([1.0, 5.0, 2.0, 8.0, 3.0])
    many = median_interval([1.0, 5.0, 2.0, 8.0, 3.0] * 8)
    assert many["high"] - many["low"] < few["high"] - few["low"]


def test_the_interval_is_reproducible_and_a_single_value_is_its_own_interval() -> None:
    values = [4.0, 1.0, 7.0, 3.0]
    assert median_interval(values) == median_interval(values)
    assert median_interval([2.5]) == {"median": 2.5, "low": 2.5, "high": 2.5, "n": 1}


def test_no_value_is_refused() -> None:
    with pytest.raises(ValueError, match="at least one value"):
        median_interval([])


def test_shown_as_median_interval_and_count() -> None:
    figure = {"median": 0.5, "low": 0.25, "high": 0.75, "n": 10}
    assert show_interval(figure, "{:.2f}") == "0.50 [0.25, 0.75] (n=10)"
