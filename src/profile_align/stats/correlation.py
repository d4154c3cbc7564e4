"""Correlation of two per-item measurements with example-cluster bootstrap CIs.

Items (outputs) are grouped by example; a bootstrap replicate draws examples with replacement (all the
items of a drawn example come along, as often as it was drawn), as for the factor scores. ``pearson`` and
``kendall`` (tau-b) are computed on the pooled items; ``kendall_within`` is the mean over examples of the
Kendall tau-b inside each example (examples where it is undefined are left out), which removes what
differs between examples (e.g. longer articles giving lower log-probabilities to every summary).
"""

from __future__ import annotations

import math
import warnings
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
from numpy.typing import ArrayLike
from scipy import stats as sps

from profile_align.stats._resample import bootstrap_weights, percentile_interval
from profile_align.stats.scores import factorize_ids

__all__ = ["CorrelationResult", "correlation", "METHODS"]

METHODS = ("pearson", "kendall", "kendall_within")


@dataclass(frozen=True)
class CorrelationResult:
    method: str
    r: float
    p_value: float
    ci_low: float
    ci_high: float
    n: int
    n_examples: int
    n_boot: int

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _pooled(method: str, x: np.ndarray, y: np.ndarray) -> tuple[float, float]:
    if len(x) < 3 or np.all(x == x[0]) or np.all(y == y[0]):
        return float("nan"), float("nan")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        res = sps.pearsonr(x, y) if method == "pearson" else sps.kendalltau(x, y)
    return float(res[0]), float(res[1])


def _per_example_tau(x: np.ndarray, y: np.ndarray, codes: np.ndarray, n_ex: int) -> np.ndarray:
    out = np.full(n_ex, np.nan)
    for e in range(n_ex):
        m = codes == e
        if m.sum() >= 2 and not np.all(x[m] == x[m][0]) and not np.all(y[m] == y[m][0]):
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                out[e] = sps.kendalltau(x[m], y[m])[0]
    return out


def correlation(x: ArrayLike, y: ArrayLike, example_ids: ArrayLike, *, method: str = "pearson",
                n_boot: int = 2000, ci: float = 0.95, seed: int = 0) -> CorrelationResult:
    """Correlation of ``x`` and ``y`` (one value per item; NaN items dropped) with a percentile CI from
    ``n_boot`` example-cluster bootstrap replicates. ``p_value``: scipy's test on the pooled items for
    ``pearson``/``kendall`` (it treats items as independent; prefer the CI), a one-sample t-test of the
    per-example taus for ``kendall_within``. With fewer than two examples the CI is NaN (resampling one
    example cannot say anything about the spread between examples)."""
    if method not in METHODS:
        raise ValueError(f"method must be one of {METHODS}, not {method!r}")
    xa = np.asarray(x, dtype=np.float64)
    ya = np.asarray(y, dtype=np.float64)
    ids = np.asarray(example_ids, dtype=object)
    if not (len(xa) == len(ya) == len(ids)):
        raise ValueError("x, y and example_ids must have the same length")
    keep = np.isfinite(xa) & np.isfinite(ya)
    xa, ya, ids = xa[keep], ya[keep], ids[keep]
    _, codes = factorize_ids(ids, len(ids))
    n_ex = int(codes.max()) + 1 if len(codes) else 0
    rng = np.random.default_rng(seed)
    if method == "kendall_within":
        taus = _per_example_tau(xa, ya, codes, n_ex)
        ok = np.isfinite(taus)
        r = float(taus[ok].mean()) if ok.any() else float("nan")
        if ok.sum() >= 2 and np.ptp(taus[ok]) > 0:
            p = float(sps.ttest_1samp(taus[ok], 0.0).pvalue)
        else:
            p = float("nan")
        t0 = np.where(ok, taus, 0.0)
        reps = []
        for w in bootstrap_weights(rng, n_boot, n_ex):
            den = w @ ok.astype(np.float64)
            with np.errstate(invalid="ignore", divide="ignore"):
                reps.append(np.where(den > 0, (w @ t0) / den, np.nan))
        boot = np.concatenate(reps) if reps and n_ex >= 2 else np.zeros(0)
        lo, hi = percentile_interval(boot[:, None], ci)
        return CorrelationResult(method, r, p, float(lo[0]), float(hi[0]), int(len(xa)), int(ok.sum()), n_boot)
    r, p = _pooled(method, xa, ya)
    boot = np.full(n_boot, np.nan)
    if math.isfinite(r) and n_boot > 0 and n_ex >= 2:
        i = 0
        for w in bootstrap_weights(rng, n_boot, n_ex):
            counts = w[:, codes].astype(np.int64)  # (b, n) copies of each item
            for row in counts:
                idx = np.repeat(np.arange(len(xa)), row)
                boot[i] = _pooled(method, xa[idx], ya[idx])[0]
                i += 1
    lo, hi = percentile_interval(boot[:, None], ci)
    return CorrelationResult(method, r, p, float(lo[0]), float(hi[0]), int(len(xa)), n_ex, n_boot)
