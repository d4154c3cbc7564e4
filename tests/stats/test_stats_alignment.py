"""align (vs scipy), pairwise agreement (tie rules, Wilson, cluster bootstrap), min-max cosine."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
import scipy.stats

from profile_align.stats import (
    align,
    compute_factor_scores,
    cosine_minmax,
    minmax_scale,
    pairwise_agreement,
    wilson_interval,
)


def test_align_matches_scipy_on_common_non_nan_factors():
    rng = np.random.default_rng(0)
    names = [f"f{i}" for i in range(10)]
    a = dict(zip(names, rng.normal(size=10)))
    b = dict(zip(names[2:] + ["extra"], rng.normal(size=9)))
    a["f5"] = float("nan")
    res = align(a, b)
    common = [f for f in names[2:] if f != "f5"]
    assert res.factors == tuple(common) and res.n_factors == 7
    x = [a[f] for f in common]
    y = [b[f] for f in common]
    kt, sr, pr = scipy.stats.kendalltau(x, y), scipy.stats.spearmanr(x, y), scipy.stats.pearsonr(x, y)
    assert (res.kendall_tau, res.kendall_p) == (kt.statistic, kt.pvalue)
    assert (res.spearman_rho, res.spearman_p) == (sr.statistic, sr.pvalue)
    assert (res.pearson_r, res.pearson_p) == (pr.statistic, pr.pvalue)
    df = res.to_frame()
    assert list(df["measure"]) == ["kendall_tau", "spearman_rho", "pearson_r"]
    assert df["statistic"].tolist() == [kt.statistic, sr.statistic, pr.statistic]
    assert res.to_dict()["factors"] == common


def test_align_accepts_results_series_and_factor_subset():
    rng = np.random.default_rng(1)
    pref = rng.choice([-1, 1], size=400)
    fcmp = rng.choice([-1.0, 0.0, 1.0], size=(400, 5))
    fcmp[:, 0] = pref
    names = list("abcde")
    r1 = compute_factor_scores(pref, fcmp, names, n_boot=0, judge="h")
    s2 = pd.Series([0.9, 0.1, 0.2, 0.3, -0.5], index=names, name="m")
    res = align(r1, s2, factors=["a", "b", "e", "c"])
    assert res.factors == ("a", "b", "e", "c") and (res.judge_a, res.judge_b) == ("h", "m")
    exp = scipy.stats.kendalltau([r1[f] for f in "abec"], [s2[f] for f in "abec"])
    assert res.kendall_tau == exp.statistic
    assert align(r1, r1).kendall_tau == pytest.approx(1.0)


def test_align_too_few_factors_is_nan_with_note():
    res = align({"a": 1.0, "b": 2.0, "c": float("nan")}, {"a": 3.0, "b": 1.0, "c": 0.0})
    assert res.n_factors == 2 and math.isnan(res.kendall_tau) and math.isnan(res.pearson_p)
    assert res.note == "undefined: only 2 factor(s) scored by both judges, need at least 3 (no score for both: c)"
    const = align(pd.Series({"a": 1.0, "b": 1.0, "c": 1.0}, name="h"), {"a": 3.0, "b": 1.0, "c": 0.0})
    assert math.isnan(const.spearman_rho)
    assert const.note == ("undefined: the factor scores of h are all equal (+1.000 over 3 factors), "
                          "so they have no ranking")


# ---------------------------------------------------------------- agreement
A = np.array([1, 1, -1, 0, 0, 1])
B = np.array([1, -1, -1, 0, 1, 0])
# pair 1 agree, 2 disagree, 3 agree, 4 both tie, 5 only a ties, 6 only b ties


@pytest.mark.parametrize(
    "ties, n, n_agree",
    [
        ("disagree", 6, 3),  # pairs 1, 3, 4 agree
        ("exclude", 3, 2),  # only pairs 1-3 remain
        ("half", 6, 4),  # 3 + 0.5 + 0.5
    ],
)
def test_agreement_tie_rules(ties, n, n_agree):
    res = pairwise_agreement(A, B, ties=ties)
    assert (res.n, res.n_agree) == (n, n_agree)
    assert res.agreement == pytest.approx(n_agree / n)
    assert (res.n_ties_a, res.n_ties_b) == (2, 2)
    assert (res.ci_low, res.ci_high) == pytest.approx(wilson_interval(n_agree, n))
    assert math.isnan(res.boot_ci_low)


def test_agreement_missing_and_validation():
    a = np.array([1.0, -1.0, np.nan, 1.0])
    b = np.array([1.0, 1.0, 1.0, np.nan])
    res = pairwise_agreement(a, b)
    assert (res.n, res.n_agree, res.n_missing) == (2, 1, 2)
    with pytest.raises(ValueError):
        pairwise_agreement(np.array([1, 2]), np.array([1, 1]))
    with pytest.raises(ValueError):
        pairwise_agreement(A, B, ties="whatever")  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        pairwise_agreement(A, B[:-1])


def test_wilson_interval_known_values():
    lo, hi = wilson_interval(8, 10)  # textbook: 0.490 - 0.943
    assert lo == pytest.approx(0.4902, abs=1e-4) and hi == pytest.approx(0.9433, abs=1e-4)
    lo, hi = wilson_interval(0, 20)
    assert lo == 0.0 and hi == pytest.approx(0.1611, abs=1e-4)
    assert all(math.isnan(v) for v in wilson_interval(0, 0))


def test_agreement_cluster_bootstrap():
    rng = np.random.default_rng(2)
    ex = np.repeat(np.arange(40), 5)
    a = rng.choice([-1, 0, 1], size=200)
    b = np.where(rng.random(200) < 0.7, a, rng.choice([-1, 0, 1], size=200))
    r1 = pairwise_agreement(a, b, example_ids=ex, ties="half", n_boot=500, seed=4)
    r2 = pairwise_agreement(a, b, example_ids=ex, ties="half", n_boot=500, seed=4)
    assert (r1.boot_ci_low, r1.boot_ci_high) == (r2.boot_ci_low, r2.boot_ci_high)
    assert r1.boot_ci_low <= r1.agreement <= r1.boot_ci_high and r1.boot_ci_low < r1.boot_ci_high
    # whole examples agreeing / disagreeing: the cluster interval is wider than the Wilson one
    a2 = np.ones(200)
    b2 = np.where(ex % 2 == 0, 1, -1)
    r3 = pairwise_agreement(a2, b2, example_ids=ex, n_boot=1000)
    assert r3.agreement == 0.5
    assert r3.boot_ci_high - r3.boot_ci_low > 1.5 * (r3.ci_high - r3.ci_low)


# ---------------------------------------------------------------- generalizability
def test_cosine_minmax_by_hand():
    X = np.array([[0.0, 10.0], [2.0, 10.0]])
    Y = np.array([[4.0, 20.0]])
    # scaled: X -> [[0, 0], [0.5, 0]], Y -> [[1, 1]]; means (0.25, 0) and (1, 1) -> cos = 1/sqrt(2)
    assert cosine_minmax(X, Y) == pytest.approx(1 / math.sqrt(2))
    assert cosine_minmax(X, X) == pytest.approx(1.0)  # same group twice


def test_minmax_scale_constant_and_nan_columns():
    x = np.array([[1.0, 5.0, np.nan], [3.0, 5.0, 2.0], [2.0, 5.0, 4.0]])
    s = minmax_scale(x)
    np.testing.assert_allclose(s[:, 0], [0.0, 1.0, 0.5])
    np.testing.assert_array_equal(s[:, 1], [0.0, 0.0, 0.0])
    assert np.isnan(s[0, 2]) and s[1, 2] == 0.0 and s[2, 2] == 1.0
    assert math.isnan(cosine_minmax(np.array([[1.0, 5.0]]), np.array([[1.0, 5.0]])))  # all zero vectors
    with pytest.raises(ValueError):
        cosine_minmax(np.ones((2, 3)), np.ones((2, 2)))


# ------------------------------------------------------------------ bootstrap CI of Kendall tau
def _two_judges(seed=0, n_examples=25, per=4):
    from profile_align.stats import compute_factor_scores

    rng = np.random.default_rng(seed)
    n = n_examples * per
    ex = np.repeat([f"e{i:02d}" for i in range(n_examples)], per)
    names = [f"f{i}" for i in range(5)]
    drive = np.array([0.8, 0.6, 0.5, 0.3, 0.1])
    out = []
    for j, flip in enumerate((0.0, 0.3)):
        pref = rng.choice([-1, 1], size=n)
        fcmp = np.where(rng.random((n, 5)) < drive + flip * (j == 1) * np.array([-1, 0, 0, 0, 1]),
                        pref[:, None], -pref[:, None]).astype(float)
        out.append(compute_factor_scores(pref, fcmp, names, ex, judge=f"j{j}", n_boot=0))
    return out


def test_kendall_tau_b_rows_matches_scipy_row_by_row():
    from profile_align.stats import kendall_tau_b_rows

    rng = np.random.default_rng(1)
    x = rng.integers(0, 4, size=(30, 6)).astype(float)  # many ties: tau-b, not tau-a
    y = rng.integers(0, 4, size=(30, 6)).astype(float)
    x[3, 2] = np.nan
    got = kendall_tau_b_rows(x, y)
    for i in range(30):
        ok = np.isfinite(x[i]) & np.isfinite(y[i])
        expect = scipy.stats.kendalltau(x[i, ok], y[i, ok]).statistic
        assert (np.isnan(got[i]) and np.isnan(expect)) or got[i] == pytest.approx(expect)
    assert np.isnan(kendall_tau_b_rows([[1.0, 1.0, 1.0]], [[1.0, 2.0, 3.0]])[0])  # constant row


def test_tau_ci_agrees_with_a_direct_bootstrap_loop():
    from profile_align.stats.tau import Counts, tau_14

    a, b = _two_judges()
    res = align(a, b, n_boot=300, seed=7)
    assert res.n_boot == 300 and res.n_boot_valid > 250
    # direct loop: draw examples with replacement (the same generator calls), sum their counts, score, tau
    rng = np.random.default_rng(7)
    idx = rng.integers(0, a.n_examples, size=(300, a.n_examples))
    taus = []
    for row in idx:
        sa = tau_14(Counts.from_array(a.example_counts[row].sum(axis=0)), a.policy)
        sb = tau_14(Counts.from_array(b.example_counts[row].sum(axis=0)), b.policy)
        t = scipy.stats.kendalltau(sa, sb).statistic
        if np.isfinite(t):
            taus.append(t)
    assert len(taus) == res.n_boot_valid
    lo, hi = np.percentile(taus, [2.5, 97.5])
    assert (res.kendall_ci_low, res.kendall_ci_high) == (pytest.approx(lo), pytest.approx(hi))
    assert res.kendall_ci_low <= res.kendall_tau <= res.kendall_ci_high
    df = res.to_frame().set_index("measure")
    assert df.at["kendall_tau", "ci_low"] == res.kendall_ci_low and np.isnan(df.at["pearson_r", "ci_low"])
    assert "95% CI [" in str(res)


def test_tau_ci_reuses_the_scores_own_replicates_when_they_are_paired(monkeypatch):
    import profile_align.stats.alignment as alignment_mod

    from profile_align.stats import paired_boot_scores, scores_from_example_counts

    a0, b0 = _two_judges(seed=2)
    # score both from their per-example counts with the same seed: their replicates share the weights
    a = scores_from_example_counts(a0.example_counts, a0.example_ids, a0.factor_names, judge="a", n_boot=200, seed=3)
    b = scores_from_example_counts(b0.example_counts, b0.example_ids, b0.factor_names, judge="b", n_boot=200, seed=3)
    real = alignment_mod.bootstrap_weights

    def no_resampling(*args, **kwargs):
        raise AssertionError("resampled again")

    monkeypatch.setattr(alignment_mod, "bootstrap_weights", no_resampling)
    ra, rb, n = paired_boot_scores(a, b, a.factor_names, n_boot=200, seed=3)  # no second resampling
    np.testing.assert_array_equal(ra, a.boot_scores)
    assert n == a.n_examples
    assert np.isfinite(align(a, b, n_boot=200, seed=3).kendall_ci_low)
    monkeypatch.setattr(alignment_mod, "bootstrap_weights", real)
    b.boot_scores = None  # forces the recomputation from per-example counts: the same replicates
    ra2, rb2, _ = paired_boot_scores(a, b, a.factor_names, n_boot=200, seed=3)
    np.testing.assert_array_equal(ra2, ra)
    np.testing.assert_array_equal(rb2, rb)


def test_tau_ci_resamples_only_shared_examples_and_is_absent_for_plain_mappings():
    from profile_align.stats import paired_boot_scores, scores_from_example_counts

    a, b = _two_judges(seed=5)
    keep = np.arange(a.n_examples) < 20
    b_part = scores_from_example_counts(b.example_counts[keep], b.example_ids[keep], b.factor_names, n_boot=0)
    ra, rb, n = paired_boot_scores(a, b_part, a.factor_names, n_boot=10, seed=0)
    assert n == 20 and ra.shape == rb.shape == (10, 5)
    plain = align(a.as_dict(), b.as_dict(), n_boot=100)
    assert plain.n_boot == 0 and np.isnan(plain.kendall_ci_low)
