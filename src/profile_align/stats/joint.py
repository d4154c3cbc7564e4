"""Joint, confound-controlled factor effects: every factor's effect on a judge's preference with the
other factors held fixed (issue 16; see docs/joint.md).

PROFILE's tau_14 scores one factor at a time. Factors are correlated (longer texts hold more facts and
cover more of the source), so a one-factor score cannot tell whether a judge prefers *length* or the
content that comes with it. Here every pair (A, B) of a judge is one observation and the judge's verdict
is regressed on the standardised factor differences ``z_f = (value_f(A) - value_f(B)) / sd_f``:

* judges that never tie: a Bradley-Terry model in logistic form,
  ``logit P(A preferred) = b0 + sum_f beta_f z_f`` (``b0``: position bias), fitted by statsmodels
  ``Logit`` (or ``GLM`` with an L2 penalty / bootstrap weights);
* judges that tie: an ordinal (cumulative) logit over ``B < tie < A`` with the same linear predictor,
  fitted by statsmodels ``OrderedModel`` (the thresholds absorb the tie rate and the position bias).

Uncertainty: example-clustered robust (sandwich) standard errors by default, or the example-level
bootstrap of :mod:`profile_align.stats._resample` (replicates refit with example weights). p-values are
Holm-adjusted across factors. ``delta_prob`` reads a coefficient as the change of the predicted
preference probability (ties counted half) when A is one SD of the factor difference ahead of B.

Pairs with a missing factor value, and (binary model) judge ties, are dropped and counted by reason in
``JointFit.dropped``; a factor whose difference is constant is excluded and listed in ``excluded``.
Only glue lives here; all fitting is statsmodels'.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike, NDArray
from scipy import stats as sps
from scipy.special import expit

from profile_align.stats._resample import bootstrap_weights, percentile_interval
from profile_align.stats.alignment import align
from profile_align.stats.difference import FactorDifference, holm
from profile_align.stats.scores import factorize_ids

__all__ = [
    "MODELS",
    "INFERENCE",
    "SCALES",
    "JointFitError",
    "ONE_STEP_OVER",
    "SEPARATION_LIMIT",
    "choose_model",
    "difference_sd",
    "Design",
    "build_design",
    "JointFit",
    "fit_joint",
    "JointComparison",
    "compare_joint",
    "LengthControlledAgreement",
    "length_controlled_agreement",
    "predictive_check",
    "collinearity",
]

#: The models that can be fitted: key -> description (``JointFit.model`` holds the key).
MODELS: Mapping[str, str] = {
    "logit": "Bradley-Terry in logistic form (statsmodels Logit/GLM); judge ties dropped",
    "ordinal": "ordinal (cumulative) logit over B < tie < A (statsmodels OrderedModel)",
}
INFERENCE = ("cluster", "bootstrap")
SCALES = ("value", "sign")
VIF_WARN = 10.0
#: Above this many pairs x factors the logistic bootstrap uses one-step replicates (``boot_refit="auto"``;
#: the ordinal model always does, its exact refits being slow).
ONE_STEP_OVER = 200_000
#: |coefficient| (log-odds per SD) above which a fit is taken as (quasi-)separated and refused.
SEPARATION_LIMIT = 25.0


class JointFitError(ValueError):
    """The joint model cannot be fitted on this data (the message says why and what to try)."""


# ================================================================================= design matrix
@dataclass(frozen=True, eq=False)
class Design:
    """The rows a joint model is fitted on: verdicts, standardised differences, clusters, drop counts."""

    y: NDArray[np.int8]  # (n,) +1 A, -1 B, 0 tie
    X: NDArray[np.float64]  # (n, k) standardised factor differences
    factor_names: list[str]  # k used factors
    sd: NDArray[np.float64]  # (k,) scale of each difference (one unit of X)
    groups: NDArray[np.intp]  # (n,) example index into example_ids
    example_ids: NDArray[np.str_]
    n_input: int
    dropped: dict[str, int] = field(default_factory=dict)  # reason -> pairs
    excluded: dict[str, str] = field(default_factory=dict)  # factor -> reason

    @property
    def n_pairs(self) -> int:
        return int(self.y.shape[0])

    @property
    def n_examples(self) -> int:
        return int(np.unique(self.groups).size)

    def columns(self, names: Sequence[str]) -> NDArray[np.float64]:
        return self.X[:, [self.factor_names.index(n) for n in names]]


def _raw_differences(values_a: ArrayLike, values_b: ArrayLike, scale: str) -> NDArray[np.float64]:
    a = np.asarray(values_a, dtype=np.float64)
    b = np.asarray(values_b, dtype=np.float64)
    if a.ndim == 1:
        a, b = a[:, None], b[:, None]
    if a.shape != b.shape:
        raise ValueError(f"values_a {a.shape} and values_b {b.shape} differ in shape")
    if scale not in SCALES:
        raise ValueError(f"scale must be one of {SCALES}, got {scale!r}")
    d = a - b
    return np.sign(d) if scale == "sign" else d


def difference_sd(values_a: ArrayLike, values_b: ArrayLike, scale: str = "value") -> NDArray[np.float64]:
    """SD (ddof 1) of each factor's pairwise difference over the pairs where it is known."""
    d = _raw_differences(values_a, values_b, scale)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        return np.nanstd(d, axis=0, ddof=1)


def build_design(
    pref: ArrayLike,
    values_a: ArrayLike,
    values_b: ArrayLike,
    factor_names: Sequence[str],
    example_ids: ArrayLike | None = None,
    *,
    scale: str = "value",
    sd: ArrayLike | None = None,
    keep_ties: bool = True,
) -> Design:
    """Standardised differences ``(value(A) - value(B)) / sd`` of the complete pairs.

    ``scale="sign"`` uses ``sign(A - B)`` (PROFILE's comparison) instead of the value difference. Label
    factors enter with the difference of their ordinal codes. ``sd`` fixes the unit (e.g. the SD over all
    pairs of a dataset, so that several judges share one scale); default: the SD over these pairs.
    Pairs with a missing value of any factor are dropped (counted); with ``keep_ties=False`` so are ties.
    """
    names = [str(f) for f in factor_names]
    p = np.asarray(pref, dtype=np.float64).ravel()
    if not np.all(np.isin(p, (-1.0, 0.0, 1.0))):
        raise ValueError("pref must contain only +1, -1 and 0")
    d = _raw_differences(values_a, values_b, scale)
    if d.shape != (p.shape[0], len(names)):
        raise ValueError(f"factor values must have shape ({p.shape[0]}, {len(names)}), got {d.shape}")
    ids, group = factorize_ids(example_ids, p.shape[0])
    unit = difference_sd(values_a, values_b, scale) if sd is None else np.asarray(sd, dtype=np.float64).ravel()
    if unit.shape != (len(names),):
        raise ValueError(f"sd must have {len(names)} entries")
    excluded = {f: "its difference is constant (SD 0): it cannot explain anything"
                for f, s in zip(names, unit) if not (np.isfinite(s) and s > 0)}
    keep_cols = [j for j, f in enumerate(names) if f not in excluded]
    dropped: dict[str, int] = {}
    miss = np.isnan(d[:, keep_cols])
    row_ok = ~miss.any(axis=1)
    for j, col in enumerate(keep_cols):
        n_only = int(miss[:, j].sum())
        if n_only:
            dropped[f"missing value of {names[col]}"] = n_only
    if not keep_ties:
        ties = (p == 0) & row_ok
        if ties.any():
            dropped["judge tie (binary model)"] = int(ties.sum())
        row_ok &= p != 0
    X = d[np.ix_(row_ok, np.asarray(keep_cols, dtype=np.intp))] / unit[keep_cols]
    return Design(
        y=p[row_ok].astype(np.int8), X=X, factor_names=[names[j] for j in keep_cols], sd=unit[keep_cols],
        groups=group[row_ok], example_ids=ids, n_input=int(p.shape[0]), dropped=dropped, excluded=excluded,
    )


# ==================================================================================== engines
def _sm() -> Any:
    try:
        import statsmodels.api as sm
    except ImportError as e:  # pragma: no cover - a core dependency
        raise ImportError("joint effects need statsmodels: pip install statsmodels") from e
    return sm


def _with_const(X: NDArray) -> NDArray:
    return np.column_stack([np.ones(X.shape[0]), X])


@dataclass
class _Fitted:
    params: NDArray[np.float64]  # logit: [b0, beta...]; ordinal: [beta..., t1, log(t2 - t1)]
    cov: NDArray[np.float64] | None


def _fit_logit(y: NDArray, X: NDArray, groups: NDArray | None, weights: NDArray | None, l2: float,
               start: NDArray | None = None) -> _Fitted:
    sm = _sm()
    yy = (y > 0).astype(np.float64)
    Xc = _with_const(X)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if l2 > 0:
            # statsmodels minimises -sum(w * loglike) / n_rows + alpha / 2 * |b|^2; rescaled so that the
            # penalty is l2 / 2 * |b|^2 next to the *weighted mean* log-loss, as in the unweighted fit
            scale = 1.0 if weights is None else float(np.sum(weights)) / len(weights)
            alpha = np.full(Xc.shape[1], float(l2) * scale)
            alpha[0] = 0.0  # the position-bias intercept is not penalised
            model = sm.GLM(yy, Xc, family=sm.families.Binomial(), freq_weights=weights)
            res = model.fit_regularized(alpha=alpha, L1_wt=0.0, start_params=start)
            return _Fitted(np.asarray(res.params, dtype=np.float64), None)
        if weights is not None:
            res = sm.GLM(yy, Xc, family=sm.families.Binomial(), freq_weights=weights).fit(start_params=start)
            return _Fitted(np.asarray(res.params, dtype=np.float64), None)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            try:
                kw: dict[str, Any] = {"cov_type": "cluster", "cov_kwds": {"groups": groups}} if groups is not None else {}
                res = sm.Logit(yy, Xc).fit(disp=0, start_params=start, **kw)
            except Exception as e:  # perfect separation, singular matrix
                raise JointFitError(f"the logistic model cannot be fitted ({type(e).__name__}: {e}); "
                                    "try an L2 penalty (l2=0.1) or fewer factors") from None
        bad = [str(w.message) for w in caught if "separation" in str(w.message).lower()
               or w.category.__name__ in ("PerfectSeparationWarning", "ConvergenceWarning")]
        if bad or not res.mle_retvals.get("converged", True):
            why = bad[0] if bad else "the fit did not converge"
            raise JointFitError(f"the logistic model cannot be fitted ({why}); the factors separate the verdicts "
                                "perfectly or nearly so: try an L2 penalty (l2=0.1) or fewer factors")
    cov = np.asarray(res.cov_params(), dtype=np.float64) if groups is not None else None
    return _Fitted(np.asarray(res.params, dtype=np.float64), cov)


def _fit_ordinal(y: NDArray, X: NDArray, groups: NDArray | None, weights: NDArray | None, l2: float,
                 start: NDArray | None = None) -> _Fitted:
    from statsmodels.miscmodels.ordinal_model import OrderedModel

    if l2 > 0:
        raise JointFitError("an L2 penalty is available for the logistic model only; use ties='drop' with l2")
    if weights is not None:  # integer example weights: repeat the rows
        idx = np.repeat(np.arange(len(y)), np.asarray(weights, dtype=np.int64))
        y, X, groups = y[idx], X[idx], None
    cats = pd.Categorical(np.asarray(y, dtype=np.int64), categories=[-1, 0, 1], ordered=True)
    if len(np.unique(y)) < 3:
        raise JointFitError("the ordinal model needs all three verdicts (A, B, tie) among the pairs")
    model = OrderedModel(cats, X, distr="logit")
    kw: dict[str, Any] = {"cov_type": "cluster", "cov_kwds": {"groups": groups}} if groups is not None else {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            res = model.fit(method="bfgs", disp=0, maxiter=500, start_params=start, **kw)
        except Exception as e:
            raise JointFitError(f"the ordinal model cannot be fitted ({type(e).__name__}: {e}); "
                                "try ties='drop' or fewer factors") from None
    if not res.mle_retvals.get("converged", True):
        raise JointFitError("the ordinal model did not converge (the factors may separate the verdicts); "
                            "try ties='drop' with an L2 penalty, or fewer factors")
    cov = np.asarray(res.cov_params(), dtype=np.float64) if groups is not None else None
    return _Fitted(np.asarray(res.params, dtype=np.float64), cov)


def _check_separation(fitted: _Fitted, model: str, k: int) -> _Fitted:
    """A coefficient beyond ``SEPARATION_LIMIT`` log-odds per SD means the factors (nearly) separate the
    verdicts: the maximum-likelihood estimate does not exist and its numbers would be meaningless."""
    coef = fitted.params[_coef_slice(model, k)]
    if not np.all(np.isfinite(coef)) or np.any(np.abs(coef) > SEPARATION_LIMIT):
        raise JointFitError(f"the {model} model cannot be fitted: the factors separate the judge's verdicts "
                            f"(a coefficient beyond {SEPARATION_LIMIT:g} log-odds per SD); try an L2 penalty "
                            "(logistic model, ties='drop') or fewer factors")
    return fitted


def _fit_checked(model: str, y: NDArray, X: NDArray, groups: NDArray | None, weights: NDArray | None, l2: float,
                 start: NDArray | None = None) -> _Fitted:
    fitted = _ENGINE_FNS[model](y, X, groups, weights, l2, start)
    return fitted if l2 > 0 else _check_separation(fitted, model, X.shape[1])


_ENGINE_FNS = {"logit": _fit_logit, "ordinal": _fit_ordinal}
_ENGINES = {name: (lambda *a, _m=name, **kw: _fit_checked(_m, *a, **kw)) for name in _ENGINE_FNS}


def _coef_slice(model: str, k: int) -> slice:
    return slice(1, 1 + k) if model == "logit" else slice(0, k)


def _thresholds(params: NDArray, k: int) -> tuple[float, float]:
    t1 = float(params[k])
    return t1, t1 + float(np.exp(params[k + 1]))


def _category_probs(model: str, params: NDArray, X: NDArray) -> NDArray[np.float64]:
    """(n, 3) probabilities of B, tie, A (tie column 0 for the logistic model)."""
    k = X.shape[1]
    if model == "logit":
        pa = expit(params[0] + X @ params[1:1 + k])
        return np.column_stack([1 - pa, np.zeros_like(pa), pa])
    eta = X @ params[:k]
    t1, t2 = _thresholds(params, k)
    c1, c2 = expit(t1 - eta), expit(t2 - eta)
    return np.column_stack([c1, c2 - c1, 1 - c2])


def _win(model: str, params: NDArray, k: int, eta: NDArray | float) -> NDArray[np.float64]:
    """P(A) + P(tie)/2 at linear predictor ``eta`` (on top of the fitted intercept/thresholds)."""
    eta = np.asarray(eta, dtype=np.float64)
    if model == "logit":
        return expit(params[0] + eta)
    t1, t2 = _thresholds(params, k)
    c1, c2 = expit(t1 - eta), expit(t2 - eta)
    return (1 - c2) + 0.5 * (c2 - c1)


def _boot_pvalue(reps: NDArray) -> NDArray[np.float64]:
    """Two-sided bootstrap p-value of 0 per column: 2 * min(share <= 0, share >= 0), floored at 2/(B+1)."""
    ok = np.isfinite(reps)
    n = ok.sum(axis=0)
    le = ((reps <= 0) & ok).sum(axis=0)
    ge = ((reps >= 0) & ok).sum(axis=0)
    with np.errstate(invalid="ignore", divide="ignore"):
        p = np.minimum(1.0, 2 * (np.minimum(le, ge) + 1) / (n + 1))
    return np.where(n > 0, p, np.nan)


def _replicates(design: Design, fn, n_boot: int, seed: int | None) -> NDArray[np.float64]:
    """Refit ``fn(weights_per_pair) -> vector`` on ``n_boot`` example-bootstrap replicates."""
    rng = np.random.default_rng(seed)
    used = np.unique(design.groups)
    local = np.searchsorted(used, design.groups)
    out = []
    for chunk in bootstrap_weights(rng, n_boot, used.size):
        for w_ex in chunk:
            w = w_ex[local]
            keep = w > 0
            try:
                out.append(fn(w, keep))
            except JointFitError:
                out.append(None)
    width = next((len(r) for r in out if r is not None), 0)
    return np.array([np.full(width, np.nan) if r is None else r for r in out], dtype=np.float64).reshape(len(out), width)


@dataclass
class _OneStep:
    """Per-example score sums ``S`` (E, m) and information sums ``H`` (E, m*m) at the full-data estimate,
    for one-step bootstrap replicates. Logistic model: statsmodels GLM ``score_obs`` and the exact
    Hessian (``hessian_factor``); ordinal model: OrderedModel ``score_obs`` and the outer product of the
    per-pair scores (BHHH information)."""

    used: NDArray  # example indexes (into Design.example_ids) that have pairs
    S: NDArray
    H: NDArray
    n_obs: NDArray
    params: NDArray
    pen: NDArray

    @classmethod
    def build(cls, d: Design, params: NDArray, l2: float, model: str = "logit") -> _OneStep:
        used = np.unique(d.groups)
        local = np.searchsorted(used, d.groups)
        if model == "logit":
            sm = _sm()
            Xc = _with_const(d.X)
            glm = sm.GLM((d.y > 0).astype(np.float64), Xc, family=sm.families.Binomial())
            s_obs = np.asarray(glm.score_obs(params), dtype=np.float64)
            h_fac = np.asarray(glm.hessian_factor(params), dtype=np.float64)  # p (1 - p)
            info = Xc[:, :, None] * Xc[:, None, :] * h_fac[:, None, None]
            pen = np.full(Xc.shape[1], float(l2))
            pen[0] = 0.0
        else:
            from statsmodels.miscmodels.ordinal_model import OrderedModel

            cats = pd.Categorical(np.asarray(d.y, dtype=np.int64), categories=[-1, 0, 1], ordered=True)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                s_obs = np.asarray(OrderedModel(cats, d.X, distr="logit").score_obs(params), dtype=np.float64)
            info = s_obs[:, :, None] * s_obs[:, None, :]
            pen = np.zeros(len(params))
        m = len(params)
        S = np.zeros((used.size, m))
        np.add.at(S, local, s_obs)
        H = np.zeros((used.size, m * m))
        np.add.at(H, local, info.reshape(-1, m * m))
        return cls(used, S, H, np.bincount(local, minlength=used.size).astype(np.float64), params, pen)

    def replicates(self, W: NDArray) -> NDArray:
        """``params + (W @ H)^-1 (W @ S - penalty gradient)`` for example weights ``W`` (b, E_used)."""
        m = self.S.shape[1]
        nb = W @ self.n_obs
        g = W @ self.S - nb[:, None] * self.pen * self.params
        Hb = (W @ self.H).reshape(-1, m, m) + nb[:, None, None] * np.diag(self.pen)
        try:
            return self.params + np.linalg.solve(Hb, g[:, :, None])[:, :, 0]
        except np.linalg.LinAlgError:
            return np.stack([self.params + np.linalg.lstsq(h, gg, rcond=None)[0] for h, gg in zip(Hb, g)])


def _use_one_step(boot_refit: str, model: str, n_pairs: int, k: int) -> bool:
    """``auto``: one-step for the ordinal model (its exact refits are slow) and for large logistic fits."""
    if boot_refit not in ("auto", "exact", "one-step"):
        raise ValueError(f"boot_refit must be auto, exact or one-step, got {boot_refit!r}")
    if boot_refit == "auto":
        return model == "ordinal" or n_pairs * k > ONE_STEP_OVER
    return boot_refit == "one-step"


def _one_step_replicates(d: Design, params: NDArray, l2: float, n_boot: int, seed: int | None,
                         model: str = "logit") -> NDArray:
    one = _OneStep.build(d, params, l2, model)
    rng = np.random.default_rng(seed)
    out = [one.replicates(W) for W in bootstrap_weights(rng, n_boot, one.used.size)]
    return np.concatenate(out, axis=0) if out else np.zeros((0, len(params)))


# ===================================================================================== results
@dataclass(eq=False)
class JointFit:
    """One judge's joint model: a coefficient per factor (log-odds per SD of the factor difference).

    ``alone_*``: the same model with that factor only; ``lc_*``: that factor plus the length factor
    (length held fixed). ``tau_14``/``tau_ci_*``: PROFILE's one-factor score on the same pairs, when given.
    """

    judge: str
    model: str  # key of MODELS
    inference: str  # "cluster" | "bootstrap"
    factor_names: list[str]
    coef: NDArray[np.float64]
    se: NDArray[np.float64]
    ci_low: NDArray[np.float64]
    ci_high: NDArray[np.float64]
    p_value: NDArray[np.float64]
    p_holm: NDArray[np.float64]
    delta_prob: NDArray[np.float64]
    delta_low: NDArray[np.float64]
    delta_high: NDArray[np.float64]
    sd: NDArray[np.float64]
    alone_coef: NDArray[np.float64]
    alone_low: NDArray[np.float64]
    alone_high: NDArray[np.float64]
    lc_coef: NDArray[np.float64]
    lc_low: NDArray[np.float64]
    lc_high: NDArray[np.float64]
    vif: NDArray[np.float64]
    correlation: pd.DataFrame
    params: NDArray[np.float64]
    n_pairs: int
    n_examples: int
    n_input: int
    dropped: dict[str, int]
    excluded: dict[str, str]
    ci: float
    l2: float
    n_boot: int
    seed: int | None
    scale: str
    length_factor: str | None
    warnings: list[str] = field(default_factory=list)
    tau_14: NDArray[np.float64] | None = None
    tau_low: NDArray[np.float64] | None = None
    tau_high: NDArray[np.float64] | None = None
    design: Design | None = field(default=None, repr=False)

    @property
    def model_description(self) -> str:
        return MODELS[self.model]

    @property
    def intercept(self) -> float:
        """Position bias (log-odds of preferring A at no factor difference); NaN for the ordinal model."""
        return float(self.params[0]) if self.model == "logit" else float("nan")

    @property
    def thresholds(self) -> tuple[float, float] | None:
        return _thresholds(self.params, len(self.factor_names)) if self.model == "ordinal" else None

    def significant(self, alpha: float = 0.05) -> NDArray[np.bool_]:
        return np.nan_to_num(self.p_holm, nan=1.0) < alpha

    def __getitem__(self, factor: str) -> float:
        try:
            return float(self.coef[self.factor_names.index(factor)])
        except ValueError:
            raise KeyError(factor) from None

    def as_dict(self) -> dict[str, float]:
        return {f: float(c) for f, c in zip(self.factor_names, self.coef)}

    def to_frame(self) -> pd.DataFrame:
        """One row per factor: joint coefficient with CI/p/Holm, probability change, alone and
        length-controlled coefficients, VIF, tau_14 (when known)."""
        nan = np.full(len(self.factor_names), np.nan)
        return pd.DataFrame({
            "judge": self.judge,
            "factor": self.factor_names,
            "model": self.model,
            "coef": self.coef, "se": self.se, "ci_low": self.ci_low, "ci_high": self.ci_high,
            "p_value": self.p_value, "p_holm": self.p_holm, "significant": self.significant(1 - self.ci),
            "delta_prob": self.delta_prob, "delta_low": self.delta_low, "delta_high": self.delta_high,
            "sd_difference": self.sd,
            "alone_coef": self.alone_coef, "alone_low": self.alone_low, "alone_high": self.alone_high,
            "lc_coef": self.lc_coef, "lc_low": self.lc_low, "lc_high": self.lc_high,
            "vif": self.vif,
            "tau_14": nan if self.tau_14 is None else self.tau_14,
            "tau_low": nan if self.tau_low is None else self.tau_low,
            "tau_high": nan if self.tau_high is None else self.tau_high,
            "n_pairs": self.n_pairs,
        })

    def summary(self) -> dict[str, Any]:
        """Everything but the per-factor table, JSON-ready."""
        return {
            "judge": self.judge, "model": self.model, "model_description": self.model_description,
            "inference": self.inference, "n_boot": self.n_boot if self.inference == "bootstrap" else 0,
            "ci": self.ci, "l2": self.l2, "scale": self.scale, "seed": self.seed,
            "n_input": self.n_input, "n_pairs": self.n_pairs, "n_examples": self.n_examples,
            "dropped": dict(self.dropped), "excluded": dict(self.excluded),
            "intercept": None if self.model != "logit" else self.intercept,
            "thresholds": list(self.thresholds) if self.thresholds else None,
            "length_factor": self.length_factor, "warnings": list(self.warnings),
            "sentences": self.sentences(),
        }

    def sentences(self) -> list[str]:
        """Where the one-factor reading (tau_14) and the joint reading disagree, in words, with the cause:

        * confounding: the one-factor model on the same scale agrees with tau_14 but the joint model does
          not (strong alone, null jointly; or null alone, strong jointly; or a sign flip);
        * scale: tau_14 (direction of the difference only) and the model on value differences (its size)
          disagree already with the factor alone.

        "Strong" means the CI excludes 0 (tau_14: bootstrap CI; models: the fit's CI)."""
        def sig(lo: float, hi: float) -> bool:
            return bool(np.isfinite(lo) and np.isfinite(hi) and (lo > 0 or hi < 0))

        k = len(self.factor_names)
        out = []
        for i, f in enumerate(self.factor_names):
            alone = f"alone {self.alone_coef[i]:+.3f} [{self.alone_low[i]:+.3f}, {self.alone_high[i]:+.3f}]"
            joint = f"joint {self.coef[i]:+.3f} [{self.ci_low[i]:+.3f}, {self.ci_high[i]:+.3f}]"
            a_sig = sig(self.alone_low[i], self.alone_high[i])
            j_sig = sig(self.ci_low[i], self.ci_high[i])
            has_tau = self.tau_14 is not None and np.isfinite(self.tau_14[i])
            tau = (f"tau_14 {self.tau_14[i]:+.3f} [{self.tau_low[i]:+.3f}, {self.tau_high[i]:+.3f}]"  # type: ignore[index]
                   if has_tau else "")
            t_sig = sig(self.tau_low[i], self.tau_high[i]) if has_tau else a_sig  # type: ignore[index]
            one = f"{tau}; logistic {alone}" if has_tau else alone
            partner = self._partner(f)
            if k >= 2 and a_sig and not j_sig and t_sig:
                out.append(f"{self.judge}: {f} is strong alone ({one}) but null jointly ({joint}): its one-factor "
                           f"score is carried by the factors it correlates with{partner}.")
            elif k >= 2 and j_sig and not a_sig and not t_sig:
                out.append(f"{self.judge}: {f} shows no effect alone ({one}) but one jointly ({joint}): it matters "
                           f"once the other factors are held fixed{partner}.")
            elif k >= 2 and a_sig and j_sig and np.sign(self.alone_coef[i]) != np.sign(self.coef[i]):
                out.append(f"{self.judge}: {f} reverses sign once the other factors are held fixed ({one}; "
                           f"{joint}){partner}.")
            elif has_tau and t_sig != a_sig:
                what = (f"tau_14 finds {f} strong ({tau}) but the logistic model on standardised {self.scale} "
                        f"differences does not ({alone})" if t_sig else
                        f"tau_14 finds no effect of {f} ({tau}) but the logistic model on standardised {self.scale} "
                        f"differences does ({alone})")
                out.append(f"{self.judge}: {what}: the readings differ in how the size of a difference counts "
                           "(tau_14 uses only its direction), not through the other factors.")
        return out

    def _partner(self, f: str) -> str:
        c = self.correlation
        if f not in c.index or len(c) < 2:
            return ""
        r = c.loc[f].drop(f).abs()
        if r.empty or not np.isfinite(r.max()):
            return ""
        g = str(r.idxmax())
        return f" (most correlated: {g}, r = {c.loc[f, g]:+.2f})"

    def __str__(self) -> str:
        head = [f"Joint factor effects of judge {self.judge!r}: {MODELS[self.model]}",
                f"{self.n_pairs} pairs of {self.n_input} used, {self.n_examples} examples; "
                + (f"{self.ci:.0%} CI from example-clustered robust SEs" if self.inference == "cluster"
                   else f"{self.ci:.0%} CI from {self.n_boot} example-bootstrap refits")
                + (f", L2 = {self.l2:g}" if self.l2 else "")]
        head += [f"dropped {n}: {why}" for why, n in self.dropped.items()]
        head += [f"excluded {f}: {why}" for f, why in self.excluded.items()]
        lines = [f"{'factor':<24} {'coef':>7} {'CI':>17} {'p(Holm)':>8} {'dP/SD':>7} {'alone':>7} {'len-ctl':>7} {'VIF':>6}"]
        for r in self.to_frame().itertuples(index=False):
            lines.append(f"{r.factor:<24} {r.coef:+7.3f} [{r.ci_low:+.3f}, {r.ci_high:+.3f}] {r.p_holm:8.3g} "
                         f"{r.delta_prob:+7.3f} {r.alone_coef:+7.3f} {r.lc_coef:+7.3f} {r.vif:6.2f}")
        return "\n".join(head + lines + self.warnings + self.sentences())


# ======================================================================================= fitting
def collinearity(X: NDArray, names: Sequence[str], threshold: float = VIF_WARN) -> tuple[pd.DataFrame, NDArray, list[str]]:
    """Pearson correlation of the factor differences, VIFs (diagonal of the inverse correlation matrix)
    and a warning per factor whose VIF exceeds ``threshold``."""
    names = list(names)
    k = len(names)
    if k == 0 or X.shape[0] < 2:
        return pd.DataFrame(index=names, columns=names, dtype=float), np.full(k, np.nan), []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        R = np.atleast_2d(np.corrcoef(X, rowvar=False))
    corr = pd.DataFrame(R, index=names, columns=names)
    if k == 1:
        return corr, np.ones(1), []
    try:
        vif = np.diag(np.linalg.inv(R)).copy()
    except np.linalg.LinAlgError:
        vif = np.full(k, np.inf)
    vif[~np.isfinite(vif) | (vif < 0)] = np.inf
    warn = []
    for i, f in enumerate(names):
        if vif[i] > threshold:
            r = corr.loc[f].drop(f).abs()
            g = str(r.idxmax())
            warn.append(f"warning: {f} is too collinear to separate on this data (VIF {vif[i]:.1f} > {threshold:g}; "
                        f"r = {corr.loc[f, g]:+.2f} with {g}): read its joint coefficient together with {g}'s.")
    return corr, vif, warn


def _ci_from_cov(coef: NDArray, se: NDArray, ci: float) -> tuple[NDArray, NDArray, NDArray]:
    z = sps.norm.ppf(0.5 + ci / 2)
    with np.errstate(invalid="ignore", divide="ignore"):
        p = 2 * sps.norm.sf(np.abs(coef / se))
    return coef - z * se, coef + z * se, p


def _small_fit(model: str, d: Design, cols: list[int], ci: float) -> tuple[NDArray, NDArray, NDArray]:
    """Coefficients and cluster-robust CI of a model on some columns only (alone / length-controlled)."""
    try:
        f = _ENGINES[model](d.y, d.X[:, cols], d.groups, None, 0.0)
    except JointFitError:
        nan = np.full(len(cols), np.nan)
        return nan, nan.copy(), nan.copy()
    sl = _coef_slice(model, len(cols))
    coef = f.params[sl]
    se = np.sqrt(np.diag(f.cov)[sl]) if f.cov is not None else np.full(len(cols), np.nan)
    lo, hi, _ = _ci_from_cov(coef, se, ci)
    return coef, lo, hi


def choose_model(pref: ArrayLike, ties: str) -> str:
    """``ties``: ``auto`` (ordinal when the judge ever ties, else logit), ``drop`` (logit, ties dropped and
    counted) or ``ordinal``."""
    if ties == "auto":
        return "ordinal" if np.any(np.asarray(pref) == 0) else "logit"
    if ties == "drop":
        return "logit"
    if ties == "ordinal":
        return "ordinal"
    raise ValueError(f"ties must be auto, drop or ordinal, got {ties!r}")


def fit_joint(
    pref: ArrayLike,
    values_a: ArrayLike,
    values_b: ArrayLike,
    factor_names: Sequence[str],
    example_ids: ArrayLike | None = None,
    *,
    judge: str = "judge",
    ties: str = "auto",
    inference: str = "cluster",
    n_boot: int = 200,
    l2: float = 0.0,
    ci: float = 0.95,
    seed: int | None = 0,
    scale: str = "value",
    sd: ArrayLike | None = None,
    length_factor: str | None = "length",
    vif_threshold: float = VIF_WARN,
    boot_refit: str = "auto",
) -> JointFit:
    """Fit one judge's joint model on arrays (see the module docstring).

    Args:
        pref: (P,) verdicts +1 A, -1 B, 0 tie.
        values_a, values_b: (P, F) factor values of A and of B (NaN = missing: the pair is dropped, counted).
        example_ids: (P,) clusters for the robust SEs / the bootstrap (None: each pair its own).
        ties: ``auto`` | ``drop`` | ``ordinal`` (see :func:`choose_model`).
        inference: ``cluster`` (example-clustered sandwich SEs) or ``bootstrap`` (``n_boot`` refits on
            example resamples; percentile CI, two-sided bootstrap p-value). An L2 penalty implies bootstrap.
        l2: ridge strength ``lambda`` in ``mean log-loss + lambda / 2 * |beta|^2`` (intercept unpenalised).
        sd: unit of each factor difference (default: its SD over these pairs).
        length_factor: the factor held fixed for the length-controlled coefficients (None: skip).
        boot_refit: ``exact`` (refit every replicate with statsmodels), ``one-step`` (one Newton step from
            the full-data fit with the replicate's score and information, summed per example) or ``auto``
            (one-step for the ordinal model and above ``ONE_STEP_OVER`` pairs x factors, else exact).
    """
    if inference not in INFERENCE:
        raise ValueError(f"inference must be one of {INFERENCE}, got {inference!r}")
    if not 0 < ci < 1:
        raise ValueError(f"ci must be in (0, 1), got {ci}")
    if l2 < 0:
        raise ValueError("l2 must be >= 0")
    if l2 > 0:
        inference = "bootstrap"
    model = choose_model(pref, ties)
    d = build_design(pref, values_a, values_b, factor_names, example_ids, scale=scale, sd=sd,
                     keep_ties=model == "ordinal")
    k = len(d.factor_names)
    if k == 0:
        raise JointFitError(f"no factor left to fit ({'; '.join(f'{f}: {w}' for f, w in d.excluded.items())})")
    if d.n_pairs <= k + 2:
        raise JointFitError(f"{d.n_pairs} usable pairs for {k} factors: too few to fit a joint model "
                            f"(dropped: {d.dropped or 'none'})")
    if model == "logit" and len(np.unique(d.y)) < 2:
        raise JointFitError("the judge prefers the same side in every usable pair: nothing to explain")
    engine = _ENGINES[model]
    sl = _coef_slice(model, k)
    full = engine(d.y, d.X, d.groups, None, l2)
    coef = full.params[sl].copy()
    if inference == "cluster":
        assert full.cov is not None  # unpenalised fit with groups: the logit/ordinal engines return the covariance
        se = np.sqrt(np.diag(full.cov)[sl])
        lo, hi, p = _ci_from_cov(coef, se, ci)
    else:
        if _use_one_step(boot_refit, model, d.n_pairs, k):
            reps = _one_step_replicates(d, full.params, l2, n_boot, seed, model)[:, sl]
        else:
            def refit(w: NDArray, keep: NDArray) -> NDArray:
                return engine(d.y[keep], d.X[keep], None, w[keep], l2, full.params).params[sl]

            reps = _replicates(d, refit, n_boot, seed)
        if reps.shape[0] == 0:
            reps = np.full((0, k), np.nan)
        lo, hi = percentile_interval(reps, ci)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            se = np.nanstd(reps, axis=0, ddof=1) if reps.shape[0] > 1 else np.full(k, np.nan)
        p = _boot_pvalue(reps) if reps.shape[0] else np.full(k, np.nan)
    base = _win(model, full.params, k, 0.0)
    delta = _win(model, full.params, k, coef) - base
    dlo = _win(model, full.params, k, lo) - base
    dhi = _win(model, full.params, k, hi) - base
    alone = [_small_fit(model, d, [j], ci) for j in range(k)]
    nan = np.full(k, np.nan)
    lc_c, lc_l, lc_h = nan.copy(), nan.copy(), nan.copy()
    lf = length_factor if length_factor in d.factor_names else None
    if lf is not None:
        jl = d.factor_names.index(lf)
        for j in range(k):
            cols = [j] if j == jl else [j, jl]
            c, l_, h = _small_fit(model, d, cols, ci)
            lc_c[j], lc_l[j], lc_h[j] = c[0], l_[0], h[0]
    corr, vif, warn = collinearity(d.X, d.factor_names, vif_threshold)
    if length_factor and lf is None:
        warn.append(f"note: no factor {length_factor!r} among the fitted factors: no length-controlled coefficients")
    return JointFit(
        judge=judge, model=model, inference=inference, factor_names=list(d.factor_names), coef=coef, se=se,
        ci_low=lo, ci_high=hi, p_value=p, p_holm=holm(p), delta_prob=delta, delta_low=dlo, delta_high=dhi,
        sd=d.sd, alone_coef=np.array([a[0][0] for a in alone]), alone_low=np.array([a[1][0] for a in alone]),
        alone_high=np.array([a[2][0] for a in alone]), lc_coef=lc_c, lc_low=lc_l, lc_high=lc_h, vif=vif,
        correlation=corr, params=full.params, n_pairs=d.n_pairs, n_examples=d.n_examples, n_input=d.n_input,
        dropped=dict(d.dropped), excluded=dict(d.excluded), ci=ci, l2=float(l2), n_boot=int(n_boot),
        seed=seed, scale=scale, length_factor=lf, warnings=warn, design=d,
    )


# =============================================================================== predictive check
def _fold_of(groups: NDArray, n_folds: int, seed: int | None) -> NDArray[np.intp]:
    used = np.unique(groups)
    rng = np.random.default_rng(seed)
    fold_of_ex = np.empty(used.size, dtype=np.intp)
    fold_of_ex[rng.permutation(used.size)] = np.arange(used.size) % n_folds
    return fold_of_ex[np.searchsorted(used, groups)]


def predictive_check(fit: JointFit, n_folds: int = 5, seed: int | None = 0) -> pd.DataFrame:
    """Cross-validated (folds of whole examples) accuracy and log-loss of the joint model, a length-only
    model and a constant model (the training share of each verdict)."""
    d = fit.design
    if d is None:
        raise ValueError("the fit carries no design (it was loaded, not fitted)")
    n_ex = d.n_examples
    n_folds = min(n_folds, n_ex)
    if n_folds < 2:
        raise JointFitError("cross-validation needs at least 2 examples")
    fold = _fold_of(d.groups, n_folds, seed)
    cat = d.y.astype(np.int64) + 1  # 0 B, 1 tie, 2 A
    specs: dict[str, list[int] | None] = {"joint": list(range(len(d.factor_names)))}
    if fit.length_factor:
        specs["length only"] = [d.factor_names.index(fit.length_factor)]
    specs["constant"] = None
    probs = {name: np.full((d.n_pairs, 3), np.nan) for name in specs}
    for k in range(n_folds):
        tr, te = fold != k, fold == k
        for name, cols in specs.items():
            if cols is None:
                freq = np.bincount(cat[tr], minlength=3) / tr.sum()
                probs[name][te] = freq
                continue
            try:
                f = _ENGINES[fit.model](d.y[tr], d.X[tr][:, cols], None, None, fit.l2)
            except JointFitError:
                continue
            probs[name][te] = _category_probs(fit.model, f.params, d.X[te][:, cols])
    rows = []
    for name, pr in probs.items():
        ok = np.isfinite(pr).all(axis=1)
        p_true = np.clip(pr[ok, cat[ok]], 1e-12, 1.0)
        rows.append({"judge": fit.judge, "model": name, "n_pairs": int(ok.sum()), "folds": n_folds,
                     "accuracy": float(np.mean(pr[ok].argmax(axis=1) == cat[ok])) if ok.any() else np.nan,
                     "log_loss": float(-np.mean(np.log(p_true))) if ok.any() else np.nan})
    return pd.DataFrame(rows)


# =================================================================================== comparison
@dataclass(frozen=True, eq=False)
class JointComparison(FactorDifference):
    """Judge B minus judge A (``diff = coef_b - coef_a``) on the joint scale (paired example bootstrap),
    next to the tau_14 view."""

    coef_a: NDArray[np.float64]
    coef_b: NDArray[np.float64]
    n_boot: int
    ci: float
    joint_alignment: dict[str, Any]
    tau_alignment: dict[str, Any] | None
    notes: list[str] = field(default_factory=list)

    def to_frame(self) -> pd.DataFrame:
        return pd.DataFrame({
            "judge_a": self.judge_a, "judge_b": self.judge_b, "factor": self.factor_names,
            "coef_a": self.coef_a, "coef_b": self.coef_b, "diff": self.diff, "ci_low": self.ci_low,
            "ci_high": self.ci_high, "p_value": self.p_value, "p_holm": self.p_holm,
            "significant": np.nan_to_num(self.p_holm, nan=1.0) < 1 - self.ci,
        })

    def alignment_frame(self) -> pd.DataFrame:
        rows = [{"judge_a": self.judge_a, "judge_b": self.judge_b, "scale": "joint coefficients",
                 **self.joint_alignment}]
        if self.tau_alignment is not None:
            rows.append({"judge_a": self.judge_a, "judge_b": self.judge_b, "scale": "tau_14", **self.tau_alignment})
        return pd.DataFrame(rows)

    def sentences(self) -> list[str]:
        out = []
        for r in self.to_frame().itertuples(index=False):
            if r.significant:
                out.append(f"{self.judge_b} vs {self.judge_a} on the joint scale: {r.factor} differs by "
                           f"{r.diff:+.3f} [{r.ci_low:+.3f}, {r.ci_high:+.3f}] (Holm p = {r.p_holm:.3g}).")
        return out + list(self.notes)


def _alignment_dict(a: Mapping[str, float], b: Mapping[str, float]) -> dict[str, Any]:
    r = align(dict(a), dict(b))
    va = np.array([a[f] for f in r.factors], dtype=float)
    vb = np.array([b[f] for f in r.factors], dtype=float)
    den = np.linalg.norm(va) * np.linalg.norm(vb)
    return {"n_factors": r.n_factors, "kendall_tau": r.kendall_tau, "spearman_rho": r.spearman_rho,
            "pearson_r": r.pearson_r, "cosine": float(va @ vb / den) if den > 0 else np.nan, "note": r.note}


def compare_joint(a: JointFit, b: JointFit, *, n_boot: int = 200, seed: int | None = 0,
                  boot_refit: str = "auto") -> JointComparison:
    """``b - a`` per common factor, with a paired example bootstrap (both judges refit on the same
    resampled examples). Both fits must share the unit of the differences (``sd``), as
    :func:`profile_align.explain.joint_effects` arranges for judges of one dataset."""
    if a.design is None or b.design is None:
        raise ValueError("both fits need their design (fitted in this session)")
    common = [f for f in a.factor_names if f in b.factor_names]
    ia = [a.factor_names.index(f) for f in common]
    ib = [b.factor_names.index(f) for f in common]
    notes = []
    if not np.allclose(a.sd[ia], b.sd[ib]):
        notes.append("note: the two fits standardise the factor differences differently; differences mix scales")
    if a.model != b.model:
        notes.append(f"note: {a.judge} is fitted by the {a.model} model and {b.judge} by the {b.model} model; "
                     "both coefficients are log-odds on the latent logistic scale")
    da, db = a.design, b.design
    ids = np.union1d(da.example_ids[np.unique(da.groups)], db.example_ids[np.unique(db.groups)])
    ga = np.searchsorted(ids, da.example_ids[da.groups])
    gb = np.searchsorted(ids, db.example_ids[db.groups])
    rng = np.random.default_rng(seed)
    sides = []
    for fit, d, g, cols in ((a, da, ga, ia), (b, db, gb, ib)):
        one = None
        if _use_one_step(boot_refit, fit.model, d.n_pairs, len(d.factor_names)):
            one = _OneStep.build(d, fit.params, fit.l2, fit.model)
            one_cols = np.searchsorted(ids, d.example_ids[one.used])
        sides.append((fit, d, g, cols, one, one_cols if one is not None else None))
    reps = []
    for chunk in bootstrap_weights(rng, n_boot, ids.size):
        per_side = []
        for fit, d, g, cols, one, one_cols in sides:
            sl = _coef_slice(fit.model, len(d.factor_names))
            if one is not None:
                per_side.append(one.replicates(chunk[:, one_cols])[:, sl][:, cols])
                continue
            rows = []
            for w_ex in chunk:
                w = w_ex[g]
                keep = w > 0
                try:
                    f = _ENGINES[fit.model](d.y[keep], d.X[keep], None, w[keep], fit.l2, fit.params)
                    rows.append(f.params[sl][cols])
                except JointFitError:
                    rows.append(np.full(len(cols), np.nan))
            per_side.append(np.array(rows, dtype=np.float64).reshape(len(chunk), len(cols)))
        reps.append(per_side[1] - per_side[0])
    R = np.concatenate(reps, axis=0) if reps else np.zeros((0, len(common)))
    lo, hi = percentile_interval(R, a.ci)
    p = _boot_pvalue(R) if R.shape[0] else np.full(len(common), np.nan)
    ca, cb = a.coef[ia], b.coef[ib]
    tau = None
    if a.tau_14 is not None and b.tau_14 is not None:
        tau = _alignment_dict(dict(zip(common, a.tau_14[ia])), dict(zip(common, b.tau_14[ib])))
    joint_al = _alignment_dict(dict(zip(common, ca)), dict(zip(common, cb)))
    if tau is not None and np.isfinite(tau["kendall_tau"]) and np.isfinite(joint_al["kendall_tau"]):
        gap = joint_al["kendall_tau"] - tau["kendall_tau"]
        if abs(gap) >= 0.2:
            notes.append(f"the judges' factor rankings agree {'more' if gap > 0 else 'less'} on the joint scale "
                         f"(Kendall tau {joint_al['kendall_tau']:+.2f}) than by tau_14 ({tau['kendall_tau']:+.2f})")
    return JointComparison(judge_a=a.judge, judge_b=b.judge, factor_names=common, diff=cb - ca, ci_low=lo, ci_high=hi,
                           p_value=p, p_holm=holm(p), coef_a=ca, coef_b=cb, n_boot=int(n_boot), ci=a.ci,
                           joint_alignment=joint_al, tau_alignment=tau, notes=notes)


# ==================================================================== length-controlled agreement
@dataclass(frozen=True)
class LengthControlledAgreement:
    """AlpacaEval-LC applied to agreement: the judge's verdict modelled from the reference verdict and the
    length difference; ``lc_agreement`` is the predicted agreement with the length term set to zero."""

    judge: str
    reference: str
    model: str
    n_pairs: int
    dropped: dict[str, int]
    raw_agreement: float  # judge == reference; a judge tie counts half
    fitted_agreement: float
    lc_agreement: float
    length_coef: float
    raw_low: float = float("nan")  # example-bootstrap percentile CIs (refits), NaN without bootstrap
    raw_high: float = float("nan")
    lc_low: float = float("nan")
    lc_high: float = float("nan")
    change_low: float = float("nan")  # CI of lc_agreement - raw_agreement (paired: same replicates)
    change_high: float = float("nan")
    n_boot: int = 0

    def to_dict(self) -> dict[str, Any]:
        return {"judge": self.judge, "reference": self.reference, "model": self.model, "n_pairs": self.n_pairs,
                "dropped": dict(self.dropped), "raw_agreement": self.raw_agreement, "raw_low": self.raw_low,
                "raw_high": self.raw_high, "fitted_agreement": self.fitted_agreement,
                "lc_agreement": self.lc_agreement, "lc_low": self.lc_low, "lc_high": self.lc_high,
                "change": self.lc_agreement - self.raw_agreement, "change_low": self.change_low,
                "change_high": self.change_high, "length_coef": self.length_coef, "n_boot": self.n_boot}


def length_controlled_agreement(judge_pref: ArrayLike, reference_pref: ArrayLike, len_a: ArrayLike,
                                len_b: ArrayLike, example_ids: ArrayLike | None = None, *, judge: str = "judge",
                                reference: str = "human", ties: str = "auto", n_boot: int = 200,
                                ci: float = 0.95, seed: int | None = 0,
                                boot_refit: str = "auto") -> LengthControlledAgreement:
    """Fit ``judge verdict ~ reference verdict + z_length`` (logit, or ordinal when the judge ties) and
    average the predicted agreement with the reference once with and once without the length term.
    CIs: ``n_boot`` example-bootstrap refits (0: none)."""
    y = np.asarray(judge_pref, dtype=np.float64)
    h = np.asarray(reference_pref, dtype=np.float64)
    dropped: dict[str, int] = {}
    ok = h != 0
    if (~ok).any():
        dropped[f"{reference} tie (no side to agree with)"] = int((~ok).sum())
    model = choose_model(y[ok], ties)
    va = np.column_stack([np.where(h > 0, 1.0, 0.0), np.asarray(len_a, dtype=np.float64)])
    vb = np.column_stack([np.where(h > 0, 0.0, 1.0), np.asarray(len_b, dtype=np.float64)])
    ex = None if example_ids is None else np.asarray(example_ids)[ok]
    d = build_design(y[ok], va[ok], vb[ok], ["reference", "length"], ex, keep_ties=model == "ordinal")
    for why, n in d.dropped.items():
        dropped[why] = dropped.get(why, 0) + n
    if d.factor_names != ["reference", "length"]:
        raise JointFitError(f"length-controlled agreement needs both a varying reference verdict and length "
                            f"({d.excluded})")
    f = _ENGINES[model](d.y, d.X, d.groups, None, 0.0)
    hh = np.sign(d.X[:, 0])
    pr_full = _category_probs(model, f.params, d.X)
    X0 = d.X.copy()
    X0[:, 1] = 0.0
    pr_lc = _category_probs(model, f.params, X0)

    def agree(pr: NDArray, sides: NDArray, w: NDArray | None = None) -> float:
        side = np.where(sides > 0, pr[:, 2], pr[:, 0])
        return float(np.average(side + 0.5 * pr[:, 1], weights=w))

    credit = np.where(d.y == 0, 0.5, (d.y == hh).astype(float))
    raw = float(np.mean(credit))
    lc = agree(pr_lc, hh)
    bounds = [float("nan")] * 6
    if n_boot > 0 and _use_one_step(boot_refit, model, d.n_pairs, 2):
        one = _OneStep.build(d, f.params, 0.0, model)
        local = np.searchsorted(one.used, d.groups)
        rows = []
        for W in bootstrap_weights(np.random.default_rng(seed), n_boot, one.used.size):
            for w_ex, params in zip(W, one.replicates(W)):
                w = w_ex[local]
                r = float(np.average(credit, weights=w))
                a = agree(_category_probs(model, params, X0), hh, w)
                rows.append([r, a, a - r])
        reps = np.array(rows, dtype=np.float64).reshape(len(rows), 3)
    elif n_boot > 0:
        def replicate(w: NDArray, keep: NDArray) -> NDArray:
            g = _ENGINES[model](d.y[keep], d.X[keep], None, w[keep], 0.0, f.params)
            r = float(np.average(credit[keep], weights=w[keep]))
            a = agree(_category_probs(model, g.params, X0[keep]), hh[keep], w[keep])
            return np.array([r, a, a - r])

        reps = _replicates(d, replicate, n_boot, seed)
    if n_boot > 0 and reps.shape[0] and reps.shape[1] == 3:
        lo, hi = percentile_interval(reps, ci)
        bounds = [float(lo[0]), float(hi[0]), float(lo[1]), float(hi[1]), float(lo[2]), float(hi[2])]
    return LengthControlledAgreement(judge, reference, model, d.n_pairs, dropped, raw, agree(pr_full, hh), lc,
                                     float(f.params[_coef_slice(model, 2)][1]), raw_low=bounds[0],
                                     raw_high=bounds[1], lc_low=bounds[2], lc_high=bounds[3], change_low=bounds[4],
                                     change_high=bounds[5], n_boot=int(n_boot) if n_boot > 0 else 0)
