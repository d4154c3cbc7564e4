"""compare_judges: paired cluster bootstrap and cluster permutation difference tests, Holm."""

from __future__ import annotations

import numpy as np
import pytest

from profile_align.stats import compare_judges, compute_factor_scores, holm

NAMES = ["length", "coherence", "fluency"]
COLUMNS = [
    "factor", "score_a", "score_b", "diff", "ci_low", "ci_high",
    "p_value", "p_holm", "significant", "significant_holm",
]  # fmt: skip


def judge_pair(seed=0, n_examples=50, per=6, follow_a=0.5, follow_b=0.5):
    """Two judges on the same pairs; each agrees with factor 0 with its own probability."""
    rng = np.random.default_rng(seed)
    n = n_examples * per
    ex = np.repeat(np.arange(n_examples), per)
    fcmp = rng.choice([-1.0, 0.0, 1.0], size=(n, 3), p=[0.45, 0.1, 0.45])

    def judge(p_follow):
        sign = np.where(fcmp[:, 0] == 0, rng.choice([-1, 1], size=n), fcmp[:, 0])
        return np.where(rng.random(n) < p_follow, sign, rng.choice([-1, 1], size=n)).astype(int)

    return judge(follow_a), judge(follow_b), fcmp, ex


def test_identical_judges_p_one():
    pa, _, fcmp, ex = judge_pair()
    a = compute_factor_scores(pa, fcmp, NAMES, ex, n_boot=0, judge="a")
    for method in ("bootstrap", "permutation"):
        d = compare_judges(a, a, n_boot=300, method=method)
        np.testing.assert_array_equal(d.diff, 0.0)
        np.testing.assert_array_equal(d.p_value, 1.0)
        assert (d.ci_low == 0).all() and (d.ci_high == 0).all()
        assert list(d.to_frame().columns) == COLUMNS
        assert not d.to_frame()["significant"].any()


@pytest.mark.parametrize("method", ["bootstrap", "permutation"])
def test_very_different_judges_small_p(method):
    pa, _, fcmp, ex = judge_pair(seed=1, follow_a=0.9)
    a = compute_factor_scores(pa, fcmp, NAMES, ex, n_boot=0, judge="a")
    b = compute_factor_scores(-pa, fcmp, NAMES, ex, n_boot=0, judge="b")  # opposite verdicts
    d = compare_judges(a, b, n_boot=999, method=method, seed=3)
    assert d.diff[0] == pytest.approx(2 * a.scores[0]) and d.diff[0] > 1.0
    assert d.p_value[0] <= 0.002 and d.p_holm[0] <= 0.006
    assert d.ci_low[0] > 0.5
    assert "length" in d.significant()
    assert d.to_frame().loc[0, "significant"]


def test_deterministic_with_seed():
    pa, pb, fcmp, ex = judge_pair(seed=2, follow_b=0.3)
    a = compute_factor_scores(pa, fcmp, NAMES, ex, n_boot=0)
    b = compute_factor_scores(pb, fcmp, NAMES, ex, n_boot=0)
    for method in ("bootstrap", "permutation"):
        d1 = compare_judges(a, b, n_boot=200, seed=9, method=method)
        d2 = compare_judges(a, b, n_boot=200, seed=9, method=method)
        assert d1.to_frame().equals(d2.to_frame())


def test_permutation_requires_same_examples_bootstrap_uses_union():
    pa, pb, fcmp, ex = judge_pair(seed=3)
    sel_a, sel_b = ex < 30, ex >= 20  # a: examples 0-29, b: 20-49
    a = compute_factor_scores(pa[sel_a], fcmp[sel_a], NAMES, ex[sel_a], n_boot=0)
    b = compute_factor_scores(pb[sel_b], fcmp[sel_b], NAMES, ex[sel_b], n_boot=0)
    with pytest.raises(ValueError, match="same examples"):
        compare_judges(a, b, method="permutation")
    d = compare_judges(a, b, n_boot=300)
    assert d.n_examples == 50
    np.testing.assert_allclose(d.diff, a.scores - b.scores)
    assert (d.ci_low <= d.ci_high).all()


def test_permutation_test_is_calibrated_under_the_null():
    # both judges drawn from the same process: p-values should be ~uniform
    ps_perm, ps_boot = [], []
    for seed in range(120):
        pa, pb, fcmp, ex = judge_pair(seed=100 + seed, n_examples=25, per=4, follow_a=0.4, follow_b=0.4)
        a = compute_factor_scores(pa, fcmp, NAMES, ex, n_boot=0)
        b = compute_factor_scores(pb, fcmp, NAMES, ex, n_boot=0)
        ps_perm.append(compare_judges(a, b, n_boot=199, seed=seed, method="permutation").p_value[0])
        ps_boot.append(compare_judges(a, b, n_boot=199, seed=seed).p_value[0])
    ps_perm, ps_boot = np.array(ps_perm), np.array(ps_boot)
    assert 0.01 <= np.mean(ps_perm < 0.1) <= 0.2  # nominal 0.10
    assert 0.3 <= np.median(ps_perm) <= 0.7
    assert np.mean(ps_boot < 0.1) <= 0.25
    assert (ps_perm > 0).all() and (ps_perm <= 1).all()


def test_power_of_permutation_test():
    pa, pb, fcmp, ex = judge_pair(seed=4, n_examples=80, follow_a=0.8, follow_b=0.2)
    a = compute_factor_scores(pa, fcmp, NAMES, ex, n_boot=0)
    b = compute_factor_scores(pb, fcmp, NAMES, ex, n_boot=0)
    d = compare_judges(a, b, n_boot=499, method="permutation")
    assert d.p_value[0] < 0.01
    assert np.all(d.p_value[1:] > 0.01)  # factors 1-2 do not drive either judge


def test_nan_factor_gives_nan_p():
    pa, pb, fcmp, ex = judge_pair(seed=5)
    fcmp[:, 2] = np.nan
    a = compute_factor_scores(pa, fcmp, NAMES, ex, n_boot=0)
    b = compute_factor_scores(pb, fcmp, NAMES, ex, n_boot=0)
    d = compare_judges(a, b, n_boot=100)
    assert np.isnan(d.diff[2]) and np.isnan(d.p_value[2]) and np.isnan(d.p_holm[2]) and np.isnan(d.ci_low[2])
    assert not d.to_frame().loc[2, "significant"]


def test_factor_subset_and_errors():
    pa, pb, fcmp, ex = judge_pair(seed=6)
    a = compute_factor_scores(pa, fcmp, NAMES, ex, n_boot=0)
    b = compute_factor_scores(pb, fcmp[:, [2, 0]], ["fluency", "length"], ex, n_boot=0)
    d = compare_judges(a, b, n_boot=50)
    assert d.factor_names == ["length", "fluency"]
    assert d.score_b[0] == b["length"] and d.score_a[1] == a["fluency"]
    with pytest.raises(KeyError):
        compare_judges(a, b, factors=["coherence"])
    with pytest.raises(ValueError):
        compare_judges(a, b, method="t-test")  # type: ignore[arg-type]


def test_holm_by_hand():
    # sorted: 0.01*3 = 0.03, 0.03*2 = 0.06, 0.04*1 = 0.04 -> monotone 0.03, 0.06, 0.06
    np.testing.assert_allclose(holm([0.01, 0.04, 0.03, np.nan]), [0.03, 0.06, 0.06, np.nan])
    np.testing.assert_allclose(holm([0.5, 0.9]), [1.0, 1.0])
    assert holm([]).shape == (0,)
