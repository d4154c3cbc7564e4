"""Per-factor difference test between two judges' factor scores.

``diff_f = score_a_f - score_b_f`` (each judge's tau_14 under its own tie policy).

* ``method="bootstrap"``: paired example-level bootstrap over the *union* of both judges' example
  ids — each replicate draws the same examples for both judges (an example a judge did not label
  contributes zero counts to that judge). The CI is the percentile interval of the replicate
  differences ``d*``; the two-sided p-value inverts it:
  ``p = min(1, 2 min(1 + #{d* <= 0}, 1 + #{d* >= 0}) / (1 + B))``.
* ``method="permutation"``: only when both judges cover the same examples. Under the null the two
  judges are exchangeable within an example, so each permutation swaps the judges' per-example
  counts of a random half of the examples; ``p = (1 + #{|d_perm| >= |d_obs|}) / (1 + n)``.
  The CI is still the paired bootstrap interval.

Holm's step-down adjustment over the factors is reported alongside.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from profile_align.stats._resample import percentile_interval, resample_sums, swap_masks
from profile_align.stats.scores import FactorScoreResult
from profile_align.stats.tau import CATEGORIES, Counts, TiePolicy, tau_14

__all__ = ["FactorDifference", "DifferenceResult", "compare_judges", "holm"]

Method = Literal["bootstrap", "permutation"]


def holm(p_values: Sequence[float] | NDArray) -> NDArray[np.float64]:
    """Holm step-down adjusted p-values (NaN entries are ignored and stay NaN)."""
    p = np.asarray(p_values, dtype=np.float64)
    out = np.full_like(p, np.nan)
    idx = np.flatnonzero(~np.isnan(p))
    m = len(idx)
    if m == 0:
        return out
    order = idx[np.argsort(p[idx], kind="stable")]
    adj = np.maximum.accumulate((m - np.arange(m)) * p[order])
    out[order] = np.minimum(adj, 1.0)
    return out


@dataclass(frozen=True, eq=False)
class FactorDifference:
    """What every per-factor comparison of two judges has: the difference per factor, its CI and its
    p-values (raw and Holm-adjusted). The subclasses say what is compared and in which direction."""

    judge_a: str
    judge_b: str
    factor_names: list[str]
    diff: NDArray[np.float64]
    ci_low: NDArray[np.float64]
    ci_high: NDArray[np.float64]
    p_value: NDArray[np.float64]
    p_holm: NDArray[np.float64]


@dataclass(frozen=True, eq=False)
class DifferenceResult(FactorDifference):
    """Per-factor ``score_a - score_b`` (tau_14) with CI, p-values (raw and Holm) and test settings."""

    score_a: NDArray[np.float64]
    score_b: NDArray[np.float64]
    method: str
    n_boot: int
    ci: float
    alpha: float
    seed: int | None
    n_examples: int

    def to_frame(self) -> pd.DataFrame:
        """Columns: factor, score_a, score_b, diff, ci_low, ci_high, p_value, p_holm, significant, significant_holm."""
        return pd.DataFrame(
            {
                "factor": self.factor_names,
                "score_a": self.score_a,
                "score_b": self.score_b,
                "diff": self.diff,
                "ci_low": self.ci_low,
                "ci_high": self.ci_high,
                "p_value": self.p_value,
                "p_holm": self.p_holm,
                "significant": self.p_value < self.alpha,
                "significant_holm": self.p_holm < self.alpha,
            }
        )

    def to_dict(self) -> dict[str, Any]:
        d = {k: getattr(self, k) for k in self.__dataclass_fields__}
        return {k: (np.asarray(v).tolist() if isinstance(v, np.ndarray) else v) for k, v in d.items()}

    def significant(self, *, adjusted: bool = True) -> list[str]:
        """Factors whose difference is significant at ``alpha`` (Holm-adjusted by default)."""
        p = self.p_holm if adjusted else self.p_value
        return [f for f, v in zip(self.factor_names, p) if v < self.alpha]

    def __str__(self) -> str:
        head = f"{self.judge_a!r} - {self.judge_b!r}: {self.method}, {self.n_boot} resamples over {self.n_examples} examples"
        return head + "\n" + self.to_frame().to_string(index=False, float_format=lambda v: f"{v:.4g}")


def _aligned_counts(res: FactorScoreResult, cols: list[int], union: NDArray[np.str_]) -> NDArray[np.int64]:
    """Per-example counts of ``res`` on the factor columns ``cols``, rows re-indexed to ``union`` (zeros if absent)."""
    out = np.zeros((len(union), len(cols), len(CATEGORIES)), dtype=np.int64)
    rows = np.searchsorted(union, np.asarray(res.example_ids, dtype=str))
    out[rows] = np.asarray(res.example_counts)[:, cols, :]
    return out


def _tau(flat: NDArray, n_f: int, policy: TiePolicy) -> NDArray[np.float64]:
    return tau_14(Counts.from_array(flat.reshape(*flat.shape[:-1], n_f, len(CATEGORIES))), policy)


def compare_judges(
    a: FactorScoreResult,
    b: FactorScoreResult,
    *,
    n_boot: int = 2000,
    seed: int | None = 0,
    method: Method = "bootstrap",
    ci: float = 0.95,
    alpha: float = 0.05,
    factors: Sequence[str] | None = None,
) -> DifferenceResult:
    """Test, factor by factor, whether judges ``a`` and ``b`` have different factor scores.

    Uses the factors both results have (``a``'s order) or ``factors``. ``n_boot`` is the number of
    bootstrap replicates (and of permutations for ``method="permutation"``).
    """
    if method not in ("bootstrap", "permutation"):
        raise ValueError(f"method must be 'bootstrap' or 'permutation', got {method!r}")
    if n_boot < 1:
        raise ValueError("n_boot must be >= 1")
    names = [f for f in (factors if factors is not None else a.factor_names) if f in b.factor_names]
    if factors is not None and len(names) != len(factors):
        raise KeyError(f"factors missing from a judge: {sorted(set(factors) - set(names))}")
    cols_a = [a.factor_names.index(f) for f in names]
    cols_b = [b.factor_names.index(f) for f in names]
    ids_a, ids_b = np.asarray(a.example_ids, dtype=str), np.asarray(b.example_ids, dtype=str)
    union = np.union1d(ids_a, ids_b)
    if method == "permutation" and not (len(union) == len(np.unique(ids_a)) == len(np.unique(ids_b))):
        raise ValueError("permutation test needs both judges to cover the same examples; use method='bootstrap'")
    n_f = len(names)
    xa = _aligned_counts(a, cols_a, union).reshape(len(union), -1)
    xb = _aligned_counts(b, cols_b, union).reshape(len(union), -1)

    score_a = _tau(xa.sum(axis=0), n_f, a.policy)
    score_b = _tau(xb.sum(axis=0), n_f, b.policy)
    obs = score_a - score_b

    rng = np.random.default_rng(seed)
    boot = resample_sums(rng, np.hstack([xa, xb]), n_boot)
    d_boot = _tau(boot[:, : xa.shape[1]], n_f, a.policy) - _tau(boot[:, xa.shape[1] :], n_f, b.policy)
    ci_low, ci_high = percentile_interval(d_boot, ci)

    if method == "bootstrap":
        finite = np.isfinite(d_boot)
        n_ok = finite.sum(axis=0)
        le = (finite & (d_boot <= 0)).sum(axis=0)
        ge = (finite & (d_boot >= 0)).sum(axis=0)
        p = np.minimum(1.0, 2.0 * (1.0 + np.minimum(le, ge)) / (1.0 + n_ok))
    else:
        delta = (xb - xa).astype(np.float64)
        tot_a, tot_b = xa.sum(axis=0), xb.sum(axis=0)
        hits = np.zeros(n_f)
        tol = 1e-12
        for s in swap_masks(rng, n_boot, len(union)):
            shift = np.rint(s @ delta).astype(np.int64)
            d_perm = _tau(tot_a + shift, n_f, a.policy) - _tau(tot_b - shift, n_f, b.policy)
            hits += np.sum(np.abs(d_perm) >= np.abs(obs) - tol, axis=0)
        p = (1.0 + hits) / (1.0 + n_boot)

    undefined = np.isnan(obs)
    p = np.where(undefined, np.nan, p)
    ci_low = np.where(undefined, np.nan, ci_low)
    ci_high = np.where(undefined, np.nan, ci_high)
    return DifferenceResult(
        judge_a=a.judge,
        judge_b=b.judge,
        factor_names=names,
        score_a=score_a,
        score_b=score_b,
        diff=obs,
        ci_low=ci_low,
        ci_high=ci_high,
        p_value=p,
        p_holm=holm(p),
        method=method,
        n_boot=int(n_boot),
        ci=float(ci),
        alpha=float(alpha),
        seed=seed,
        n_examples=int(len(union)),
    )
