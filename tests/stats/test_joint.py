"""Joint factor effects (stats/joint.py): hand-checked cases, independent statsmodels fits, recovery of
known coefficients, the confounded simulation, ties, missing values, collinearity, bootstrap, L2."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm
from statsmodels.miscmodels.ordinal_model import OrderedModel

from profile_align.stats import compare_values, compute_factor_scores
from profile_align.stats.joint import (
    JointFitError,
    build_design,
    collinearity,
    compare_joint,
    fit_joint,
    length_controlled_agreement,
    predictive_check,
)


def simulate(seed: int, n_ex: int = 200, per_ex: int = 10, beta=(1.0, 0.0), rho: float = 0.7, ties: bool = False):
    """Pairs whose latent preference is ``beta . (x_A - x_B)`` with x = (content, length) correlated ``rho``.

    Returns pref, values_a, values_b, example ids. The factor values are iid N(0, 1) per output, so the
    differences have SD sqrt(2); the *standardised* true coefficients are ``beta * sqrt(2)``."""
    rng = np.random.default_rng(seed)
    n = n_ex * per_ex
    cov = [[1.0, rho], [rho, 1.0]]
    va = rng.multivariate_normal([0, 0], cov, size=n)
    vb = rng.multivariate_normal([0, 0], cov, size=n)
    eta = (va - vb) @ np.asarray(beta)
    u = rng.logistic(size=n)
    if ties:
        pref = np.where(eta + u > 0.5, 1, np.where(eta + u < -0.5, -1, 0))
    else:
        pref = np.where(eta + u > 0, 1, -1)
    ex = np.repeat(np.arange(n_ex), per_ex)
    return pref, va, vb, ex


NAMES = ["content", "length"]


# ------------------------------------------------------------------------------- hand-checked
def test_saturated_binary_case_by_hand():
    # sign differences: A ahead on the factor in 4 pairs (3 prefer A), behind in 4 pairs (1 prefers A).
    # Saturated logit: b0 + b = logit(3/4) = ln 3, b0 - b = -ln 3 -> b0 = 0, b = ln 3 per unit sign,
    # i.e. ln 3 * sd per SD, with sd = SD(+1 x4, -1 x4; ddof 1) = sqrt(8/7).
    pref = np.array([1, 1, 1, -1, 1, -1, -1, -1])
    va = np.array([2, 2, 2, 2, 0, 0, 0, 0], dtype=float)[:, None]
    vb = np.array([1, 1, 1, 1, 1, 1, 1, 1], dtype=float)[:, None]
    fit = fit_joint(pref, va, vb, ["f"], scale="sign", length_factor=None)
    sd = math.sqrt(8 / 7)
    assert fit.sd[0] == pytest.approx(sd)
    assert fit.coef[0] == pytest.approx(math.log(3) * sd, abs=1e-6)
    assert fit.intercept == pytest.approx(0.0, abs=1e-6)
    # one SD ahead: P = 1 / (1 + exp(-ln3 * sd)) vs 1/2 at no difference
    assert fit.delta_prob[0] == pytest.approx(1 / (1 + 3 ** -sd) - 0.5, abs=1e-6)
    assert fit.model == "logit" and fit.n_pairs == 8


def test_missing_values_are_dropped_and_counted_per_factor():
    pref = np.array([1, -1, 1, -1, 1, 1])
    va = np.array([[1, 5], [2, np.nan], [3, 1], [np.nan, np.nan], [0, 2], [4, 0]], dtype=float)
    vb = np.zeros((6, 2))
    d = build_design(pref, va, vb, ["a", "b"])
    assert d.n_pairs == 4 and d.n_input == 6
    assert d.dropped == {"missing value of a": 1, "missing value of b": 2}
    d2 = build_design(np.array([1, 0, -1, 1]), np.arange(4.0)[:, None], np.zeros((4, 1)), ["a"], keep_ties=False)
    assert d2.dropped == {"judge tie (binary model)": 1} and d2.n_pairs == 3


def test_constant_factor_is_excluded_with_reason():
    pref, va, vb, ex = simulate(0, n_ex=30)
    va = np.column_stack([va, np.ones(len(pref))])
    vb = np.column_stack([vb, np.ones(len(pref))])
    fit = fit_joint(pref, va, vb, NAMES + ["const"], ex)
    assert fit.factor_names == NAMES
    assert "constant" in fit.excluded["const"]


# ------------------------------------------------------------------------- independent checks
def test_coefficients_equal_a_direct_statsmodels_logit():
    pref, va, vb, ex = simulate(1, beta=(0.8, 0.3))
    fit = fit_joint(pref, va, vb, NAMES, ex)
    X = (va - vb) / np.std(va - vb, axis=0, ddof=1)
    direct = sm.Logit((pref > 0).astype(float), sm.add_constant(X)).fit(
        disp=0, cov_type="cluster", cov_kwds={"groups": ex})
    np.testing.assert_allclose(fit.coef, direct.params[1:], atol=1e-6)
    np.testing.assert_allclose(fit.se, direct.bse[1:], atol=1e-6)
    np.testing.assert_allclose(fit.p_value, direct.pvalues[1:], rtol=1e-6)
    assert fit.intercept == pytest.approx(direct.params[0], abs=1e-6)


def test_ordinal_fit_equals_a_direct_ordered_model():
    pref, va, vb, ex = simulate(2, beta=(0.8, 0.3), ties=True)
    fit = fit_joint(pref, va, vb, NAMES, ex)
    assert fit.model == "ordinal" and "OrderedModel" in fit.model_description
    X = (va - vb) / np.std(va - vb, axis=0, ddof=1)
    y = pd.Categorical(pref, categories=[-1, 0, 1], ordered=True)
    direct = OrderedModel(y, X, distr="logit").fit(method="bfgs", disp=0, maxiter=500)
    np.testing.assert_allclose(fit.coef, direct.params[:2], atol=1e-4)
    # delta_prob: P(A) + P(tie)/2 one SD ahead on the factor minus at no difference, by OrderedModel.predict
    pr = direct.model.predict(direct.params, exog=np.array([[1.0, 0.0], [0.0, 0.0], [0.0, 1.0]]))
    win = pr[:, 2] + 0.5 * pr[:, 1]
    np.testing.assert_allclose(fit.delta_prob, [win[0] - win[1], win[2] - win[1]], atol=1e-4)
    # true standardised coefficients beta * sqrt(2) within the CI
    truth = np.array([0.8, 0.3]) * np.std(va - vb, axis=0, ddof=1)
    assert np.all((fit.ci_low < truth) & (truth < fit.ci_high))


def test_ties_drop_fits_logit_and_counts_ties():
    pref, va, vb, ex = simulate(3, ties=True)
    fit = fit_joint(pref, va, vb, NAMES, ex, ties="drop")
    assert fit.model == "logit"
    assert fit.dropped["judge tie (binary model)"] == int((pref == 0).sum()) > 0


# ----------------------------------------------------------------------------------- recovery
def test_confounded_simulation_length_strong_alone_null_jointly():
    """Preference depends on content only; length correlates 0.7 with content."""
    pref, va, vb, ex = simulate(4, beta=(1.0, 0.0), rho=0.7)
    fcmp = compare_values(va, vb)
    tau = compute_factor_scores(pref, fcmp, NAMES, ex, n_boot=200, seed=0)
    fit = fit_joint(pref, va, vb, NAMES, ex)
    fit.tau_14, fit.tau_low, fit.tau_high = tau.scores, tau.ci_low, tau.ci_high
    assert tau["length"] > 0.2 and tau.ci_low[1] > 0  # one-factor: length looks strong
    assert fit.ci_low[1] < 0 < fit.ci_high[1]  # jointly: null
    assert fit.alone_low[1] > 0  # and strong alone on the logistic scale too
    assert fit.lc_low[0] > 0  # content with length held fixed stays
    text = " ".join(fit.sentences())
    assert "length is strong alone" in text and "null jointly" in text and "most correlated: content" in text
    assert "content" not in text.split("length is strong alone")[0]  # no sentence about content


def test_content_coefficient_recovered_within_ci_in_90_percent_of_simulations():
    hits = 0
    n_sim = 40
    for seed in range(n_sim):
        pref, va, vb, ex = simulate(100 + seed, n_ex=100, beta=(1.0, 0.0), rho=0.7)
        fit = fit_joint(pref, va, vb, NAMES, ex, length_factor=None)
        truth = 1.0 * fit.sd[0]  # log-odds per SD of the content difference
        hits += fit.ci_low[0] < truth < fit.ci_high[0]
    assert hits / n_sim >= 0.9


# ----------------------------------------------------------------------- inference variants
def test_bootstrap_exact_and_one_step_agree_and_cover_the_cluster_ci():
    pref, va, vb, ex = simulate(5, n_ex=120, beta=(0.8, -0.3))
    cl = fit_joint(pref, va, vb, NAMES, ex)
    exact = fit_joint(pref, va, vb, NAMES, ex, inference="bootstrap", n_boot=60, boot_refit="exact")
    one = fit_joint(pref, va, vb, NAMES, ex, inference="bootstrap", n_boot=60, boot_refit="one-step")
    np.testing.assert_allclose(exact.coef, cl.coef)
    np.testing.assert_allclose(one.ci_low, exact.ci_low, atol=0.02)
    np.testing.assert_allclose(one.ci_high, exact.ci_high, atol=0.02)
    np.testing.assert_allclose(exact.se, cl.se, rtol=0.35)  # bootstrap SE ~ sandwich SE
    # every replicate on one side of 0: the bootstrap p-value is at its floor 2 / (B + 1), Holm doubles it
    assert exact.inference == "bootstrap"
    np.testing.assert_allclose(exact.p_value, 2 / 61)
    np.testing.assert_allclose(exact.p_holm, 4 / 61)


def test_l2_shrinks_and_implies_bootstrap():
    pref, va, vb, ex = simulate(6, n_ex=20, beta=(1.0, 0.5))
    plain = fit_joint(pref, va, vb, NAMES, ex)
    ridge = fit_joint(pref, va, vb, NAMES, ex, l2=0.5, n_boot=40)
    assert ridge.inference == "bootstrap" and ridge.l2 == 0.5
    assert np.all(np.abs(ridge.coef) < np.abs(plain.coef))
    with pytest.raises(JointFitError, match="logistic model only"):
        p3, a3, b3, e3 = simulate(6, n_ex=20, ties=True)
        fit_joint(p3, a3, b3, NAMES, e3, l2=0.5)


def test_perfect_separation_gives_a_clear_error():
    va = np.arange(20.0)[:, None]
    vb = np.full((20, 1), 9.5)
    pref = np.where(va[:, 0] > 9.5, 1, -1)
    with pytest.raises(JointFitError, match="l2"):
        fit_joint(pref, va, vb, ["f"])


# -------------------------------------------------------------------------- collinearity, CV
def test_collinearity_warns_on_a_near_duplicate_factor():
    rng = np.random.default_rng(7)
    x = rng.normal(size=(500, 1))
    X = np.column_stack([x, x + 0.05 * rng.normal(size=(500, 1)), rng.normal(size=(500, 1))])
    corr, vif, warn = collinearity(X, ["a", "a2", "b"])
    assert corr.loc["a", "a2"] > 0.99 and vif[0] > 10 and vif[2] < 1.2
    assert len(warn) == 2 and "a2" in warn[0] and "too collinear" in warn[0]
    # VIF is the diagonal of the inverse correlation matrix: 1 / (1 - R^2) for two factors
    _, vif2, _ = collinearity(X[:, :2], ["a", "a2"])
    r = np.corrcoef(X[:, 0], X[:, 1])[0, 1]
    assert vif2[0] == pytest.approx(1 / (1 - r**2))


def test_predictive_check_joint_beats_length_only_and_constant():
    pref, va, vb, ex = simulate(8, beta=(1.0, 0.0), rho=0.3)
    fit = fit_joint(pref, va, vb, NAMES, ex)
    cv = predictive_check(fit, n_folds=5).set_index("model")
    assert list(cv.index) == ["joint", "length only", "constant"]
    assert cv.loc["joint", "log_loss"] < cv.loc["length only", "log_loss"] < cv.loc["constant", "log_loss"] + 1e-9
    assert cv.loc["joint", "accuracy"] > 0.65
    assert cv.loc["constant", "log_loss"] == pytest.approx(math.log(2), abs=0.02)


# ----------------------------------------------------------------------------- two judges
def test_compare_joint_recovers_a_known_difference_and_finds_none_for_a_copy():
    pref, va, vb, ex = simulate(9, beta=(1.0, 0.0))
    rng = np.random.default_rng(10)
    eta = (va - vb) @ np.array([0.3, 1.0])
    pref2 = np.where(eta + rng.logistic(size=len(eta)) > 0, 1, -1)
    sd = np.std(va - vb, axis=0, ddof=1)
    a = fit_joint(pref, va, vb, NAMES, ex, judge="human", sd=sd)
    b = fit_joint(pref2, va, vb, NAMES, ex, judge="model", sd=sd)
    c = compare_joint(a, b, n_boot=80)
    truth = (np.array([0.3, 1.0]) - np.array([1.0, 0.0])) * sd
    assert np.all((c.ci_low < truth) & (truth < c.ci_high))
    assert np.all(c.significant if hasattr(c, "significant") else c.to_frame()["significant"])
    same = compare_joint(a, a, n_boot=30)
    np.testing.assert_allclose(same.diff, 0.0)
    np.testing.assert_allclose(same.ci_low, 0.0, atol=1e-9)


def test_length_controlled_agreement_removes_the_length_bonus():
    # human: content only; judge: follows the human but also strongly prefers length, which is independent
    # of the human verdict -> zeroing the length term raises the predicted agreement.
    pref, va, vb, ex = simulate(11, beta=(1.0, 0.0), rho=0.0)
    rng = np.random.default_rng(12)
    eta = 1.5 * pref + 2.0 * (va[:, 1] - vb[:, 1])
    judge = np.where(eta + rng.logistic(size=len(eta)) > 0, 1, -1)
    lc = length_controlled_agreement(judge, pref, va[:, 1], vb[:, 1], ex, n_boot=50)
    assert lc.raw_agreement == pytest.approx(np.mean(judge == pref))
    assert lc.fitted_agreement == pytest.approx(lc.raw_agreement, abs=0.01)
    assert lc.lc_agreement > lc.raw_agreement + 0.05 and lc.length_coef > 1.0
    assert lc.raw_low < lc.raw_agreement < lc.raw_high and lc.lc_low < lc.lc_agreement < lc.lc_high
    assert lc.change_low > 0  # the gain is beyond bootstrap noise (paired replicates)


def test_scale_disagreement_is_named_as_such_not_as_confounding():
    # 280 small differences (+-1) whose direction predicts the verdict 3 times in 4, and 20 huge ones
    # (+-1000) split evenly: tau_14 (direction only) is clearly positive, the model on standardised value
    # differences is dominated by the huge ones and finds nothing.
    d = np.array([1.0, -1.0] * 140 + [1000.0, -1000.0] * 10)
    small = np.array([1, 1, 1, -1] * 70)
    pref = np.concatenate([np.sign(d[:280]).astype(int) * small, np.array([1, 1, -1, -1] * 5)])
    va, vb = d[:, None], np.zeros((300, 1))
    tau = compute_factor_scores(pref, compare_values(va, vb), ["f"], n_boot=200, seed=0)
    fit = fit_joint(pref, va, vb, ["f"], length_factor=None)
    fit.tau_14, fit.tau_low, fit.tau_high = tau.scores, tau.ci_low, tau.ci_high
    assert tau.ci_low[0] > 0 and fit.ci_low[0] < 0 < fit.ci_high[0]
    (sentence,) = fit.sentences()
    assert "tau_14 finds f strong" in sentence and "not through the other factors" in sentence
    # on tau_14's footing (sign of the difference) the model agrees with tau_14 and nothing is said
    sign = fit_joint(pref, va, vb, ["f"], scale="sign", length_factor=None)
    sign.tau_14, sign.tau_low, sign.tau_high = tau.scores, tau.ci_low, tau.ci_high
    assert sign.ci_low[0] > 0 and sign.sentences() == []


def test_ordinal_one_step_bootstrap_matches_exact_refits():
    pref, va, vb, ex = simulate(13, n_ex=60, beta=(0.8, -0.3), ties=True)
    exact = fit_joint(pref, va, vb, NAMES, ex, inference="bootstrap", n_boot=25, boot_refit="exact")
    auto = fit_joint(pref, va, vb, NAMES, ex, inference="bootstrap", n_boot=25)  # auto: one-step for ordinal
    assert exact.model == auto.model == "ordinal"
    np.testing.assert_allclose(auto.ci_low, exact.ci_low, atol=0.05)
    np.testing.assert_allclose(auto.ci_high, exact.ci_high, atol=0.05)


def test_length_controlled_agreement_one_step_matches_exact_refits():
    pref, va, vb, ex = simulate(14, n_ex=80, beta=(1.0, 0.0), rho=0.0)
    judge = np.where(1.5 * pref + 1.0 * (va[:, 1] - vb[:, 1]) + np.random.default_rng(1).logistic(size=len(pref)) > 0,
                     1, -1)
    kw = dict(n_boot=40, seed=3)
    exact = length_controlled_agreement(judge, pref, va[:, 1], vb[:, 1], ex, boot_refit="exact", **kw)
    one = length_controlled_agreement(judge, pref, va[:, 1], vb[:, 1], ex, boot_refit="one-step", **kw)
    assert exact.raw_low == one.raw_low and exact.raw_high == one.raw_high  # same resamples
    for name in ("lc_low", "lc_high", "change_low", "change_high"):
        assert getattr(one, name) == pytest.approx(getattr(exact, name), abs=0.01), name  # CI width ~0.05
