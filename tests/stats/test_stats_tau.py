"""tau_14 and friends: hand-worked cases, brute force on random data, scipy cross-check of tau_b."""

from __future__ import annotations

import math

import numpy as np
import pytest
import scipy.stats
from hypothesis import given, settings
from hypothesis import strategies as st

from profile_align.stats import (
    COUNT_ALL,
    DROP_ALL,
    EVALUATION,
    FACTOR_TIES_COUNTED,
    GENERATION,
    HUMAN,
    POLICIES,
    Counts,
    TiePolicy,
    acc_23,
    compare_values,
    get_policy,
    pair_counts,
    tau_14,
    tau_23,
    tau_b,
)

JUDGE_DROP = TiePolicy("drop", "count")
ALL_POLICIES = [GENERATION, EVALUATION, HUMAN, COUNT_ALL, DROP_ALL, JUDGE_DROP]

# Six pairs, worked by hand:
#   1: p=+1 f=+1 -> C      2: p=-1 f=-1 -> C      3: p=+1 f=+1 -> C
#   4: p=+1 f=-1 -> D      5: p=+1 f= 0 -> factor tie      6: p= 0 f=+1 -> judge tie
#   C=3, D=1, Tf=1, Tj=1, Tb=0
PREF6 = np.array([1, -1, 1, 1, 1, 0])
F6 = np.array([1.0, -1.0, 1.0, -1.0, 0.0, 1.0])

# ... plus pair 7: p=0 f=0 -> both tie, and pair 8: p=+1 f=NaN -> missing
PREF8 = np.append(PREF6, [0, 1])
F8 = np.append(F6, [0.0, np.nan])


def test_counts_by_hand():
    c = pair_counts(PREF8, F8)
    assert (c.concordant, c.discordant, c.factor_ties, c.judge_ties, c.both_ties, c.missing) == (
        [3], [1], [1], [1], [1], [1],
    )  # fmt: skip
    assert c.n[0] == 7 and c.total[0] == 8


@pytest.mark.parametrize(
    "policy, expected",
    [
        (GENERATION, 2 / 6),  # T = Tf + Tj = 2       -> (3-1)/(3+1+2)
        (HUMAN, 2 / 5),  # the evaluation rule: factor tie dropped
        (FACTOR_TIES_COUNTED, 2 / 6),
        (COUNT_ALL, 2 / 6),
        (EVALUATION, 2 / 5),  # factor tie dropped, judge tie counted -> (3-1)/(3+1+1)
        (JUDGE_DROP, 2 / 5),  # judge tie dropped, factor tie counted
        (DROP_ALL, 2 / 4),  # both dropped -> (3-1)/(3+1)
    ],
)
def test_tau14_six_pairs_every_policy(policy, expected):
    assert tau_14(pair_counts(PREF6, F6), policy)[0] == pytest.approx(expected, abs=1e-15)


@pytest.mark.parametrize(
    "policy, expected",
    [
        (GENERATION, 2 / 7),  # both tie counted: T = 1 + 1 + 1 -> 2/7
        (COUNT_ALL, 2 / 7),
        (EVALUATION, 2 / 5),  # both tie omitted (factor side drops), judge tie counted
        (JUDGE_DROP, 2 / 5),  # both tie omitted (judge side drops), factor tie counted
        (DROP_ALL, 2 / 4),
    ],
)
def test_tau14_with_both_tie_and_missing(policy, expected):
    assert tau_14(pair_counts(PREF8, F8), policy)[0] == pytest.approx(expected, abs=1e-15)


def test_other_coefficients_by_hand():
    c6 = pair_counts(PREF6, F6)
    assert tau_b(c6)[0] == pytest.approx(2 / math.sqrt(5 * 5))  # (3-1)/sqrt((3+1+Tf)(3+1+Tj))
    assert tau_23(c6)[0] == pytest.approx((3 - 1 - 1 - 1) / 6)
    assert acc_23(c6)[0] == pytest.approx(3 / 6)
    c8 = pair_counts(PREF8, F8)  # both tie: not in either tau_b factor, rewarded by tau_23/acc_23
    assert tau_b(c8)[0] == pytest.approx(2 / 5)
    assert tau_23(c8)[0] == pytest.approx((3 + 1 - 1 - 1 - 1) / 7)
    assert acc_23(c8)[0] == pytest.approx(4 / 7)


def test_missing_is_excluded_and_counted():
    f = F6.copy()
    f[[0, 3]] = np.nan  # remove one concordant and the discordant pair
    c = pair_counts(PREF6, f)
    assert c.missing[0] == 2 and c.concordant[0] == 2 and c.discordant[0] == 0
    assert tau_14(c, GENERATION)[0] == pytest.approx(2 / 4)


@pytest.mark.parametrize("policy", ALL_POLICIES)
def test_all_tied_or_missing_gives_nan(policy):
    both_tied = pair_counts(np.zeros(5), np.zeros(5))
    all_missing = pair_counts(np.ones(5), np.full(5, np.nan))
    empty = pair_counts(np.zeros(0), np.zeros((0, 2)))
    for c in (all_missing, empty):
        assert np.isnan(tau_14(c, policy)).all()
    if "drop" in (policy.judge_ties, policy.factor_ties):
        assert np.isnan(tau_14(both_tied, policy)).all()
    else:
        assert tau_14(both_tied, policy)[0] == 0.0  # 0 / 5: ties counted, genuinely zero
    for fn in (tau_b, tau_23, acc_23):
        assert np.isnan(fn(all_missing)).all() and np.isnan(fn(empty)).all()
    assert np.isnan(tau_b(both_tied)).all()


def test_evaluation_factor_all_tied_is_nan_not_zero():
    c = pair_counts(np.array([1, -1, 0]), np.zeros(3))
    assert np.isnan(tau_14(c, EVALUATION)[0])
    assert tau_14(c, GENERATION)[0] == 0.0


# ---------------------------------------------------------------- brute force
def brute_tau14(pref, f, policy):
    """Per-pair loop straight from the definition: sum p*f over included pairs / included pairs."""
    num = den = 0
    for p, x in zip(pref, f):
        if math.isnan(x):
            continue
        jt, ft = p == 0, x == 0
        if jt and ft:
            include = policy.judge_ties == "count" and policy.factor_ties == "count"
        elif jt:
            include = policy.judge_ties == "count"
        elif ft:
            include = policy.factor_ties == "count"
        else:
            include = True
        if include:
            num += int(p) * int(x)
            den += 1
    return num / den if den else math.nan


def brute_other(pref, f):
    """tau_b from Kendall's n0, n1 (judge-tied), n2 (factor-tied); tau_23/acc_23 from Deutsch et al."""
    pairs = [(int(p), int(x)) for p, x in zip(pref, f) if not math.isnan(x)]
    n0 = len(pairs)
    s = sum(p * x for p, x in pairs)
    n1 = sum(p == 0 for p, _ in pairs)
    n2 = sum(x == 0 for _, x in pairs)
    den_b = math.sqrt((n0 - n1) * (n0 - n2))
    agree = sum(p == x for p, x in pairs)  # concordant or tied on both
    disagree = n0 - agree
    return (
        s / den_b if den_b else math.nan,
        (agree - disagree) / n0 if n0 else math.nan,
        agree / n0 if n0 else math.nan,
    )


def _assert_same(a, b):
    assert (math.isnan(a) and math.isnan(b)) or a == pytest.approx(b, abs=1e-12)


pairs_strategy = st.integers(0, 40).flatmap(
    lambda n: st.tuples(
        st.lists(st.sampled_from([-1, 0, 1]), min_size=n, max_size=n),
        st.lists(st.lists(st.sampled_from([-1.0, 0.0, 1.0, math.nan]), min_size=n, max_size=n), min_size=1, max_size=3),
    )
)


@settings(max_examples=300, deadline=None)
@given(pairs_strategy)
def test_matches_brute_force(data):
    pref, cols = data
    pref = np.array(pref, dtype=int)
    fcmp = np.array(cols, dtype=float).T.reshape(len(pref), len(cols))
    c = pair_counts(pref, fcmp)
    for policy in ALL_POLICIES:
        got = tau_14(c, policy)
        for j in range(fcmp.shape[1]):
            _assert_same(got[j], brute_tau14(pref, fcmp[:, j], policy))
    tb, t23, a23 = tau_b(c), tau_23(c), acc_23(c)
    for j in range(fcmp.shape[1]):
        exp = brute_other(pref, fcmp[:, j])
        _assert_same(tb[j], exp[0])
        _assert_same(t23[j], exp[1])
        _assert_same(a23[j], exp[2])
        assert c.total[j] == len(pref)


def test_larger_random_against_brute_force():
    rng = np.random.default_rng(7)
    pref = rng.choice([-1, 0, 1], size=3000, p=[0.45, 0.1, 0.45])
    fcmp = rng.choice([-1.0, 0.0, 1.0, np.nan], size=(3000, 5), p=[0.4, 0.15, 0.4, 0.05])
    c = pair_counts(pref, fcmp)
    for policy in ALL_POLICIES:
        np.testing.assert_allclose(
            tau_14(c, policy), [brute_tau14(pref, fcmp[:, j], policy) for j in range(5)], rtol=0, atol=1e-12
        )


def test_tau_b_equals_scipy_when_pairs_are_all_pairs_of_items():
    """If the PROFILE pairs are all n(n-1)/2 pairs of n items, tau_b is exactly scipy's tau-b of the
    item-level (judge score, factor value) vectors, and tau_14 with every tie counted is tau-a.
    (On arbitrary pair data scipy's kendalltau(pref, fcmp) measures something else: it compares
    pairs of pairs.)"""
    rng = np.random.default_rng(3)
    s = rng.integers(0, 4, size=30).astype(float)  # judge scores with ties
    v = rng.integers(0, 5, size=30).astype(float)  # factor values with ties
    i, j = np.triu_indices(30, k=1)
    pref = np.sign(s[i] - s[j])
    fcmp = compare_values(v[i], v[j])
    c = pair_counts(pref, fcmp)
    ref = scipy.stats.kendalltau(s, v, variant="b")
    assert tau_b(c)[0] == pytest.approx(ref.statistic, abs=1e-12)
    n0 = len(i)
    n1 = int(np.sum(pref == 0))
    n2 = int(np.sum(fcmp == 0))
    tau_a = ref.statistic * math.sqrt((n0 - n1) * (n0 - n2)) / n0
    assert tau_14(c, COUNT_ALL)[0] == pytest.approx(tau_a, abs=1e-12)


# ---------------------------------------------------------------- API details
def test_compare_values_sign_nan_atol():
    a = np.array([1.0, 2.0, 3.0, np.nan, 5.0, 1.05])
    b = np.array([2.0, 2.0, 1.0, 1.0, np.nan, 1.0])
    np.testing.assert_array_equal(compare_values(a, b), [-1, 0, 1, np.nan, np.nan, 1])
    np.testing.assert_array_equal(compare_values(a, b, atol=0.1), [-1, 0, 1, np.nan, np.nan, 0])
    m = compare_values(np.ones((3, 2)), np.zeros((3, 2)))
    assert m.shape == (3, 2) and (m == 1).all()
    with pytest.raises(ValueError):
        compare_values(a, b, atol=-1)


def test_one_dimensional_fcmp_is_one_factor():
    c = pair_counts(PREF6, F6)
    assert c.concordant.shape == (1,)
    c2 = pair_counts(PREF6, np.column_stack([F6, -F6]))
    assert tau_14(c2)[1] == pytest.approx(-tau_14(c2)[0])


@pytest.mark.parametrize(
    "pref, fcmp",
    [
        (np.array([1, 2]), np.array([1.0, 1.0])),
        (np.array([1.0, np.nan]), np.array([1.0, 1.0])),
        (np.array([1, 1]), np.array([1.0, 0.5])),
        (np.array([1, 1]), np.array([1.0, 2.0])),
        (np.array([1, 1, 1]), np.array([1.0, 1.0])),
        (np.array([[1, 1]]), np.array([1.0, 1.0])),
    ],
)
def test_invalid_inputs_raise(pref, fcmp):
    with pytest.raises(ValueError):
        pair_counts(pref, fcmp)


def test_counts_broadcast_over_replicates():
    arr = np.array([[[3, 1, 1, 1, 0, 0]], [[0, 0, 0, 0, 0, 4]]])  # (B=2, F=1, 6)
    c = Counts.from_array(arr)
    np.testing.assert_array_equal(c.as_array(), arr)
    out = tau_14(c, GENERATION)
    assert out.shape == (2, 1)
    assert out[0, 0] == pytest.approx(2 / 6) and np.isnan(out[1, 0])


def test_policy_registry():
    assert GENERATION == TiePolicy("count", "count")
    assert EVALUATION == TiePolicy("count", "drop")
    # the paper's human rule omits factor-tied pairs; "factor ties counted" stays available
    assert (HUMAN.judge_ties, HUMAN.factor_ties) == ("count", "drop")
    assert (FACTOR_TIES_COUNTED.judge_ties, FACTOR_TIES_COUNTED.factor_ties) == ("count", "count")
    assert set(POLICIES) == {"generation", "evaluation", "human", "factor-ties-counted", "count-all", "drop-all"}
    assert get_policy("evaluation") is EVALUATION
    assert get_policy(DROP_ALL) is DROP_ALL
    assert get_policy("drop_all") == DROP_ALL
    with pytest.raises(ValueError):
        get_policy("nope")
    with pytest.raises(ValueError):
        TiePolicy("count", "keep")  # type: ignore[arg-type]


def test_every_policy_is_reported_under_its_own_name_and_in_words():
    from profile_align.stats.tau import policy_name

    for name, pol in POLICIES.items():
        assert policy_name(pol) == name and pol.name == name
        assert get_policy(pol.to_dict()).name == name  # a round trip keeps the name
        assert pol.words and pol.words != name
    assert policy_name(HUMAN) == "human"  # not "evaluation", although the rules are the same
    assert "omitted" in HUMAN.words and "dropped at load" in HUMAN.words
    assert "Feedback Forensics" in FACTOR_TIES_COUNTED.words
    # an unnamed policy (a file written before policies had names) is named after its rules
    assert get_policy({"judge_ties": "count", "factor_ties": "drop"}).name == "evaluation"
    custom = TiePolicy("drop", "count")
    assert policy_name(custom) is None and "judge-tied pairs omitted" in custom.words


def test_factor_ties_counted_equals_feedback_forensics_strength():
    """strength = Cohen's kappa (chance 0.5) x relevance, computed here the Feedback Forensics way on
    random data without judge ties: relevance = share of pairs where the factor picks a side, kappa =
    2 * agreement - 1 on those pairs."""
    rng = np.random.default_rng(3)
    pref = rng.choice([-1, 1], size=200)
    fcmp = rng.choice([-1.0, 0.0, 1.0], size=(200, 4), p=[0.3, 0.3, 0.4])
    got = tau_14(pair_counts(pref, fcmp), FACTOR_TIES_COUNTED)
    for j in range(4):
        valid = fcmp[:, j] != 0
        relevance = valid.mean()
        kappa = 2 * np.mean(pref[valid] == fcmp[valid, j]) - 1
        assert got[j] == pytest.approx(kappa * relevance, abs=1e-12)
