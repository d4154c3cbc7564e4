"""compute_factor_scores: point estimates, cluster bootstrap, result object and JSON."""

from __future__ import annotations

import json

import numpy as np
import pytest

from profile_align.stats import (
    CATEGORIES,
    EVALUATION,
    FactorScoreResult,
    compare_judges,
    compute_factor_scores,
    pair_counts,
    tau_14,
)
from profile_align.stats._resample import bootstrap_weights

FRAME_COLUMNS = [
    "factor", "score", "ci_low", "ci_high", "rank", "rank_kept", "rank_ci_low", "rank_ci_high",
    "concordant", "discordant", "factor_ties", "judge_ties", "both_ties", "missing",
    "n_used", "tau_b", "tau_23", "acc_23", "policy", "tie_rule",
]  # fmt: skip


def make_data(seed=0, n_pairs=600, n_examples=60):
    rng = np.random.default_rng(seed)
    ex = rng.integers(0, n_examples, size=n_pairs)
    pref = rng.choice([-1, 0, 1], size=n_pairs, p=[0.45, 0.1, 0.45])
    fcmp = rng.choice([-1.0, 0.0, 1.0, np.nan], size=(n_pairs, 4), p=[0.4, 0.15, 0.4, 0.05])
    fcmp[:, 0] = np.where(rng.random(n_pairs) < 0.7, pref, fcmp[:, 0])  # a factor that drives the judge
    fcmp[:, 3] = np.nan  # a factor with no usable pairs
    return pref, fcmp, ["length", "coherence", "fluency", "unknown"], np.array([f"post{e}" for e in ex])


@pytest.mark.parametrize("policy", ["generation", "evaluation", "human", "count-all", "drop-all"])
def test_point_estimates_match_tau14(policy):
    pref, fcmp, names, ex = make_data()
    res = compute_factor_scores(pref, fcmp, names, ex, policy=policy, n_boot=0)
    np.testing.assert_array_equal(res.scores, tau_14(pair_counts(pref, fcmp), policy))
    np.testing.assert_array_equal(res.example_counts.sum(axis=0), res.counts.as_array())
    assert list(res.example_ids) == sorted(set(ex))
    assert res.example_counts.shape == (len(set(ex)), 4, len(CATEGORIES))
    assert np.isnan(res.ci_low).all() and res.boot_scores is None


def test_example_counts_rows_belong_to_their_example():
    pref, fcmp, names, ex = make_data()
    res = compute_factor_scores(pref, fcmp, names, ex, n_boot=0)
    for k in [0, 7, len(res.example_ids) - 1]:
        sel = ex == res.example_ids[k]
        np.testing.assert_array_equal(res.example_counts[k], pair_counts(pref[sel], fcmp[sel]).as_array())


def test_integer_example_ids_are_sorted_as_strings():
    pref, fcmp, names, _ = make_data()
    ex = np.arange(len(pref)) % 12
    res = compute_factor_scores(pref, fcmp, names, ex, n_boot=0)
    assert list(res.example_ids) == sorted(str(i) for i in range(12))
    k = list(res.example_ids).index("10")
    np.testing.assert_array_equal(res.example_counts[k], pair_counts(pref[ex == 10], fcmp[ex == 10]).as_array())


def test_bootstrap_is_deterministic_and_contains_estimate():
    pref, fcmp, names, ex = make_data()
    r1 = compute_factor_scores(pref, fcmp, names, ex, n_boot=500, seed=11)
    r2 = compute_factor_scores(pref, fcmp, names, ex, n_boot=500, seed=11)
    r3 = compute_factor_scores(pref, fcmp, names, ex, n_boot=500, seed=12)
    np.testing.assert_array_equal(r1.ci_low, r2.ci_low)
    np.testing.assert_array_equal(r1.ci_high, r2.ci_high)
    assert not np.array_equal(r1.ci_low[:3], r3.ci_low[:3])
    ok = ~np.isnan(r1.scores)
    assert (r1.ci_low[ok] <= r1.scores[ok]).all() and (r1.scores[ok] <= r1.ci_high[ok]).all()
    assert (r1.ci_high[ok] - r1.ci_low[ok] > 0).all()
    assert r1.boot_scores.shape == (500, 4)


def test_cluster_bootstrap_resamples_examples_not_pairs():
    # 20 examples x 10 pairs; in 10 examples every pair is concordant, in 10 every pair discordant.
    n_ex, per = 20, 10
    ex = np.repeat(np.arange(n_ex), per)
    pref = np.ones(n_ex * per)
    fcmp = np.where(ex < n_ex // 2, 1.0, -1.0)
    cluster = compute_factor_scores(pref, fcmp, ["f"], ex, n_boot=2000, seed=0)
    pairwise = compute_factor_scores(pref, fcmp, ["f"], None, n_boot=2000, seed=0)
    assert cluster.scores[0] == pairwise.scores[0] == 0.0
    w_cluster = cluster.ci_high[0] - cluster.ci_low[0]  # ~ 4 / sqrt(20)
    w_pair = pairwise.ci_high[0] - pairwise.ci_low[0]  # ~ 4 / sqrt(200)
    assert w_cluster > 2.0 * w_pair
    # every replicate draws whole examples, so the score moves in steps of 2 * 10 / 200 = 0.1
    steps = cluster.boot_scores[:, 0] / 0.1
    np.testing.assert_allclose(steps, np.round(steps), atol=1e-9)


def test_identical_examples_give_degenerate_cluster_interval():
    # every example has the same composition (3 C, 1 D, 1 factor tie): any resample of examples
    # reproduces the point estimate exactly, a pair-level resample does not.
    block_pref = np.array([1, 1, 1, 1, 1])
    block_f = np.array([1.0, 1.0, 1.0, -1.0, 0.0])
    pref, fcmp = np.tile(block_pref, 30), np.tile(block_f, 30)
    ex = np.repeat(np.arange(30), 5)
    res = compute_factor_scores(pref, fcmp, ["f"], ex, n_boot=300)
    assert res.ci_low[0] == res.ci_high[0] == res.scores[0] == pytest.approx(2 / 5)
    res_pairs = compute_factor_scores(pref, fcmp, ["f"], n_boot=300)
    assert res_pairs.ci_low[0] < res_pairs.scores[0] < res_pairs.ci_high[0]


def test_bootstrap_weights_are_multinomial_draws():
    rng = np.random.default_rng(0)
    chunks = list(bootstrap_weights(rng, 50, 7))
    w = np.concatenate(chunks)
    assert w.shape == (50, 7)
    assert (w.sum(axis=1) == 7).all() and (w >= 0).all()
    assert np.all(w == np.round(w))
    assert abs(w.mean() - 1.0) < 0.2


def test_factor_without_pairs_is_nan_and_ranked_last():
    pref, fcmp, names, ex = make_data()
    res = compute_factor_scores(pref, fcmp, names, ex, n_boot=200)
    assert np.isnan(res.scores[3]) and np.isnan(res.ci_low[3]) and np.isnan(res.ci_high[3])
    assert np.isnan(res["unknown"])
    df = res.to_frame()
    assert list(df.columns) == FRAME_COLUMNS
    assert df.loc[3, "rank"] == 4
    assert res.ranking()[-1] == "unknown" and res.ranking()[0] == "length"
    assert "no applicable pairs" in str(res)


def test_frame_values_and_accessors():
    pref, fcmp, names, ex = make_data()
    res = compute_factor_scores(pref, fcmp, names, ex, policy=EVALUATION, n_boot=0, judge="gpt")
    df = res.to_frame()
    c = pair_counts(pref, fcmp)
    np.testing.assert_array_equal(df["n_used"], c.n_used(EVALUATION))
    np.testing.assert_array_equal(df["judge_ties"], c.judge_ties)
    order = np.argsort(-np.nan_to_num(res.scores, nan=-np.inf), kind="stable")
    assert list(df["rank"].iloc[order]) == sorted(df["rank"])
    assert res["length"] == res.scores[0]
    with pytest.raises(KeyError):
        res["nope"]
    s = res.as_series()
    assert s.name == "gpt" and list(s.index) == names
    assert "gpt" in str(res) and "evaluation" in str(res)


def test_pairs_are_own_clusters_without_ids():
    pref, fcmp, names, _ = make_data(n_pairs=120)
    res = compute_factor_scores(pref, fcmp, names, n_boot=10)
    assert len(res.example_ids) == 120 and res.example_counts.shape[0] == 120
    assert list(res.example_ids) == sorted(res.example_ids)
    assert (res.example_counts.sum(axis=(1, 2)) == 4).all()  # one pair, four factors each


def test_input_validation():
    pref, fcmp, names, ex = make_data()
    with pytest.raises(ValueError):
        compute_factor_scores(pref, fcmp, names[:3], ex)
    with pytest.raises(ValueError):
        compute_factor_scores(pref, fcmp, names, ex[:-1])
    with pytest.raises(ValueError):
        compute_factor_scores(pref, fcmp, names, ex, n_boot=-1)


def test_json_round_trip(tmp_path):
    pref, fcmp, names, ex = make_data()
    res = compute_factor_scores(pref, fcmp, names, ex, policy="evaluation", judge="human", n_boot=100, seed=5)
    path = tmp_path / "scores.json"
    res.save_json(path)
    text = path.read_text()
    assert "NaN" not in text  # strict JSON: NaN is written as null
    json.loads(text)
    back = FactorScoreResult.load_json(path)
    assert back.judge == "human" and back.policy == EVALUATION and back.factor_names == names
    assert (back.n_boot, back.ci, back.seed) == (100, 0.95, 5)
    np.testing.assert_array_equal(back.scores, res.scores)
    np.testing.assert_array_equal(back.ci_low, res.ci_low)
    np.testing.assert_array_equal(back.ci_high, res.ci_high)
    np.testing.assert_array_equal(back.counts.as_array(), res.counts.as_array())
    np.testing.assert_array_equal(back.example_counts, res.example_counts)
    np.testing.assert_array_equal(back.example_ids, res.example_ids)
    assert back.to_frame().equals(res.to_frame())
    # difference tests work from files
    d1 = compare_judges(res, res, n_boot=50)
    d2 = compare_judges(back, back, n_boot=50)
    assert d1.to_frame().equals(d2.to_frame())


# ------------------------------------------------------------------ rank uncertainty
def test_rank_matrix_matches_pandas_min_rank_with_nan_last():
    import pandas as pd

    from profile_align.stats.scores import rank_matrix

    rows = np.array([[0.3, 0.1, 0.3, np.nan, -0.2], [np.nan, np.nan, 0.0, 0.0, 1.0]])
    # by hand: row 0 -> 0.3, 0.3 share rank 1; 0.1 is 3rd; -0.2 4th; NaN last (5)
    np.testing.assert_array_equal(rank_matrix(rows), [[1, 3, 1, 5, 4], [4, 4, 2, 2, 1]])
    for r in rows:
        expect = pd.Series(r).rank(method="min", ascending=False, na_option="bottom").astype(int)
        np.testing.assert_array_equal(rank_matrix(r), expect.to_numpy())


def test_factor_that_always_wins_keeps_rank_one_in_every_resample():
    rng = np.random.default_rng(3)
    n = 300
    pref = rng.choice([-1, 1], size=n)
    fcmp = np.column_stack([
        rng.choice([-1.0, 1.0], size=n),  # noise: score near 0
        pref.astype(float),  # always agrees with the judge: tau_14 = +1 in every resample
        -pref.astype(float),  # always disagrees: -1 in every resample
    ])
    ex = np.arange(n) // 3
    res = compute_factor_scores(pref, fcmp, ["noise", "winner", "loser"], ex, n_boot=400, seed=1)
    df = res.to_frame().set_index("factor")
    assert df.at["winner", "rank"] == 1 and df.at["winner", "rank_kept"] == 1.0
    assert (df.at["winner", "rank_ci_low"], df.at["winner", "rank_ci_high"]) == (1.0, 1.0)
    assert df.at["loser", "rank"] == 3 and df.at["loser", "rank_kept"] == 1.0
    assert df.at["noise", "rank_kept"] == 1.0  # strictly between +1 and -1 in every resample


def test_rank_kept_and_rank_ci_agree_with_a_direct_loop_over_the_same_replicates():
    import pandas as pd

    pref, fcmp, names, ex = make_data(seed=4, n_pairs=200, n_examples=15)
    fcmp[:, 1] = np.where(np.random.default_rng(9).random(200) < 0.55, pref, -pref)  # close to factor 0
    res = compute_factor_scores(pref, fcmp, names, ex, n_boot=300, seed=2)
    assert res.boot_scores is not None
    point = pd.Series(res.scores).rank(method="min", ascending=False, na_option="bottom").to_numpy()
    ranks = np.array([pd.Series(b).rank(method="min", ascending=False, na_option="bottom").to_numpy()
                      for b in res.boot_scores])
    df = res.to_frame()
    for f in range(3):
        kept = float(np.mean(ranks[:, f] == point[f]))
        assert df["rank_kept"][f] == pytest.approx(kept)
        srt = np.sort(ranks[:, f])  # inverted-CDF quantile: the smallest rank with CDF >= q
        lo = srt[int(np.ceil(0.025 * len(srt))) - 1]
        hi = srt[int(np.ceil(0.975 * len(srt))) - 1]
        assert (df["rank_ci_low"][f], df["rank_ci_high"][f]) == (lo, hi)
    assert 0.0 < df["rank_kept"][0] < 1.0 or 0.0 < df["rank_kept"][1] < 1.0  # the near-tie swaps sometimes
    assert np.isnan(df["rank_kept"][3]) and np.isnan(df["rank_ci_low"][3])  # unscored factor: no rank


def test_rank_uncertainty_absent_without_bootstrap_and_kept_through_json(tmp_path):
    pref, fcmp, names, ex = make_data()
    assert compute_factor_scores(pref, fcmp, names, ex, n_boot=0).to_frame()["rank_kept"].isna().all()
    res = compute_factor_scores(pref, fcmp, names, ex, n_boot=50, seed=1)
    res.save_json(tmp_path / "s.json")
    back = FactorScoreResult.load_json(tmp_path / "s.json")
    assert back.to_frame()[["rank_kept", "rank_ci_low", "rank_ci_high"]].equals(
        res.to_frame()[["rank_kept", "rank_ci_low", "rank_ci_high"]])
    assert "rank kept" not in str(res) and "keeps its rank" in str(res)
