"""Correlation with example-cluster bootstrap CIs: hand-computed values."""

import math

import numpy as np
import pytest

from profile_align.stats.correlation import correlation


def test_pooled_and_within_example_values():
    # example a: y rises with x except one swap; example b: y falls with x
    x = [1, 2, 3, 1, 2, 3]
    y = [1.0, 3.0, 2.0, 3.0, 2.0, 1.0]
    ids = ["a"] * 3 + ["b"] * 3
    # pooled: dx = (-1,0,1,-1,0,1), dy = (-1,1,0,1,0,-1): sum dx*dy = 1+0+0-1+0-1 = -1, sum dx^2 = 4, sum dy^2 = 4
    assert correlation(x, y, ids, method="pearson", n_boot=50).r == pytest.approx(-1 / 4)
    # within: a has 2 concordant, 1 discordant of 3 -> 1/3; b all discordant -> -1; mean -1/3
    w = correlation(x, y, ids, method="kendall_within", n_boot=200, seed=1)
    assert w.r == pytest.approx(-1 / 3) and w.n_examples == 2
    assert -1.0 <= w.ci_low <= w.r <= w.ci_high <= 1 / 3 + 1e-12  # replicates are means of {1/3, -1}


def test_one_example_has_no_interval_and_nan_rows_are_dropped():
    c = correlation([1, 2, 3, np.nan], [3.0, 2.0, 1.0, 5.0], ["a"] * 4, method="kendall", n_boot=100)
    assert c.r == pytest.approx(-1.0) and c.n == 3 and c.n_examples == 1
    assert math.isnan(c.ci_low) and math.isnan(c.ci_high)


def test_constant_input_is_nan_not_an_error():
    c = correlation([1, 1, 1], [1.0, 2.0, 3.0], ["a", "b", "c"], method="pearson", n_boot=20)
    assert math.isnan(c.r)
    with pytest.raises(ValueError):
        correlation([1], [1.0], ["a"], method="spearman")
