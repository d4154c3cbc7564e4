"""Alignment between judges: correlation of factor-score vectors, pairwise agreement, and the
min-max cosine similarity of the generalizability experiment.

* ``align``: over the factors both judges score (non-NaN), Kendall tau (``scipy.stats.kendalltau``,
  tau-b), Spearman rho and Pearson r with their p-values; with ``n_boot`` a percentile bootstrap CI of
  Kendall tau over the examples both judges share (each replicate recomputes both judges' tau_14
  vectors on the same resample of examples, then tau-b between them).
* ``pairwise_agreement``: share of pairs on which two judges give the same verdict, with a Wilson
  interval ``(p + z²/2n ± z sqrt(p(1-p)/n + z²/4n²)) / (1 + z²/n)`` and optionally an
  example-level bootstrap interval.
* ``cosine_minmax``: min-max scale every factor over all outputs of both groups, then
  ``cos(mean(X), mean(Y)) = <x̄, ȳ> / (|x̄| |ȳ|)``.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any, Literal, Union

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike, NDArray
from scipy import stats as sps

from profile_align.stats._resample import bootstrap_weights, percentile_interval, resample_sums
from profile_align.stats.scores import FactorScoreResult, factorize_ids
from profile_align.stats.tau import Counts, tau_14

__all__ = [
    "AlignmentResult",
    "align",
    "kendall_tau_b_rows",
    "paired_boot_scores",
    "AgreementResult",
    "pairwise_agreement",
    "wilson_interval",
    "minmax_scale",
    "cosine_minmax",
]

ScoresLike = Union[FactorScoreResult, Mapping[str, float], pd.Series]


def _as_mapping(x: ScoresLike) -> tuple[dict[str, float], str]:
    if isinstance(x, FactorScoreResult):
        return x.as_dict(), x.judge
    if isinstance(x, pd.Series):
        return {str(k): float(v) for k, v in x.items()}, str(x.name) if x.name is not None else ""
    if isinstance(x, Mapping):
        return {str(k): float(v) for k, v in x.items()}, ""
    raise TypeError(f"expected FactorScoreResult or mapping of factor -> score, got {type(x).__name__}")


@dataclass(frozen=True)
class AlignmentResult:
    """Correlations of two factor-score vectors over ``factors`` (the common, non-NaN ones)."""

    kendall_tau: float
    kendall_p: float
    spearman_rho: float
    spearman_p: float
    pearson_r: float
    pearson_p: float
    n_factors: int
    factors: tuple[str, ...]
    judge_a: str = ""
    judge_b: str = ""
    note: str = ""
    kendall_ci_low: float = float("nan")
    kendall_ci_high: float = float("nan")
    n_boot: int = 0
    ci: float = 0.95
    n_boot_valid: int = 0

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["factors"] = list(self.factors)
        return d

    def to_frame(self) -> pd.DataFrame:
        """One row per measure: measure, statistic, p_value, ci_low, ci_high (bootstrap CI over examples;
        Kendall tau only), n_factors."""
        nan = float("nan")
        return pd.DataFrame(
            {
                "measure": ["kendall_tau", "spearman_rho", "pearson_r"],
                "statistic": [self.kendall_tau, self.spearman_rho, self.pearson_r],
                "p_value": [self.kendall_p, self.spearman_p, self.pearson_p],
                "ci_low": [self.kendall_ci_low, nan, nan],
                "ci_high": [self.kendall_ci_high, nan, nan],
                "n_factors": self.n_factors,
            }
        )

    def __str__(self) -> str:
        who = f" {self.judge_a!r} vs {self.judge_b!r}" if self.judge_a or self.judge_b else ""
        s = (
            f"Alignment{who} over {self.n_factors} factors: Kendall tau {self.kendall_tau:+.3f} (p={self.kendall_p:.3g}"
            + (f", {self.ci:.0%} CI [{self.kendall_ci_low:+.3f}, {self.kendall_ci_high:+.3f}] over {self.n_boot} "
               "example resamples" if np.isfinite(self.kendall_ci_low) else "")
            + "), "
            f"Spearman rho {self.spearman_rho:+.3f} (p={self.spearman_p:.3g}), "
            f"Pearson r {self.pearson_r:+.3f} (p={self.pearson_p:.3g})"
        )
        return s + (f" — {self.note}" if self.note else "")


def kendall_tau_b_rows(x: ArrayLike, y: ArrayLike) -> NDArray[np.float64]:
    """Kendall tau-b between the rows of ``x`` and ``y`` (both ``(B, K)``), vectorised.

    ``tau_b = sum_{i<j} sx_ij sy_ij / sqrt(sum sx_ij^2 * sum sy_ij^2)`` with ``sx_ij = sign(x_i - x_j)``.
    A factor with a NaN in either row is left out of that row; fewer than 3 factors left or a constant
    row gives NaN.
    """
    xa = np.atleast_2d(np.asarray(x, dtype=np.float64))
    ya = np.atleast_2d(np.asarray(y, dtype=np.float64))
    ok = np.isfinite(xa) & np.isfinite(ya)
    iu, ju = np.triu_indices(xa.shape[1], k=1)
    both = ok[:, iu] & ok[:, ju]
    with np.errstate(invalid="ignore"):
        sx = np.where(both, np.sign(xa[:, iu] - xa[:, ju]), 0.0)
        sy = np.where(both, np.sign(ya[:, iu] - ya[:, ju]), 0.0)
    den = np.sqrt((sx * sx).sum(axis=1) * (sy * sy).sum(axis=1))
    with np.errstate(divide="ignore", invalid="ignore"):
        tau = (sx * sy).sum(axis=1) / den
    return np.where((ok.sum(axis=1) >= 3) & (den > 0), tau, np.nan)


def _reuse_replicates(a: FactorScoreResult, b: FactorScoreResult, n_boot: int, seed: int | None) -> bool:
    """The two results' own replicates are one joint resample: same examples, seed and replicate count."""
    return (a.boot_scores is not None and b.boot_scores is not None and seed is not None
            and a.seed == b.seed == seed and a.n_boot == b.n_boot == n_boot
            and np.array_equal(a.example_ids, b.example_ids))


def paired_boot_scores(a: FactorScoreResult, b: FactorScoreResult, factors: Sequence[str], *, n_boot: int,
                       seed: int | None = 0) -> tuple[NDArray[np.float64], NDArray[np.float64], int]:
    """tau_14 replicates ``(n_boot, K)`` of both judges on ``factors`` over ONE resample of the examples
    both share, and the number of shared examples.

    When both results were bootstrapped on the same examples with this seed and replicate count, their
    own replicates are already paired (the weights depend only on seed, count and examples) and are
    reused; otherwise the shared examples are resampled once and both score vectors recomputed from the
    per-example counts under each judge's tie policy.
    """
    ia = [a.factor_names.index(f) for f in factors]
    ib = [b.factor_names.index(f) for f in factors]
    if _reuse_replicates(a, b, n_boot, seed):
        assert a.boot_scores is not None and b.boot_scores is not None
        return a.boot_scores[:, ia], b.boot_scores[:, ib], a.n_examples
    shared = sorted(set(map(str, a.example_ids)) & set(map(str, b.example_ids)))
    pos_a = {str(e): i for i, e in enumerate(a.example_ids)}
    pos_b = {str(e): i for i, e in enumerate(b.example_ids)}
    xa = np.asarray(a.example_counts)[[pos_a[e] for e in shared]][:, ia, :]
    xb = np.asarray(b.example_counts)[[pos_b[e] for e in shared]][:, ib, :]
    k = len(factors)
    flat_a, flat_b = xa.reshape(len(shared), -1).astype(np.float64), xb.reshape(len(shared), -1).astype(np.float64)
    ra, rb = [], []
    for w in bootstrap_weights(np.random.default_rng(seed), n_boot, len(shared)):
        ra.append(tau_14(Counts.from_array(np.rint(w @ flat_a).astype(np.int64).reshape(len(w), k, -1)), a.policy))
        rb.append(tau_14(Counts.from_array(np.rint(w @ flat_b).astype(np.int64).reshape(len(w), k, -1)), b.policy))
    empty = np.zeros((0, k))
    return (np.concatenate(ra) if ra else empty, np.concatenate(rb) if rb else empty, len(shared))


def align(a: ScoresLike, b: ScoresLike, factors: Sequence[str] | None = None, *, n_boot: int = 0,
          ci: float = 0.95, seed: int | None = 0) -> AlignmentResult:
    """Kendall tau (tau-b), Spearman rho and Pearson r between two judges' factor scores.

    Uses the factors present in both (in ``a``'s order, or ``factors``) whose scores are not NaN.
    Fewer than 3 such factors, or a constant vector, gives NaN statistics and a ``note``.

    With ``n_boot > 0`` and two :class:`FactorScoreResult` s, Kendall tau gets a percentile CI over the
    examples both judges share (:func:`paired_boot_scores`); replicates in which tau is undefined
    (a constant score vector) are left out and ``n_boot_valid`` counts the others.
    """
    ma, name_a = _as_mapping(a)
    mb, name_b = _as_mapping(b)
    candidates = list(factors) if factors is not None else [f for f in ma if f in mb]
    common = [f for f in candidates if f in ma and f in mb and np.isfinite(ma[f]) and np.isfinite(mb[f])]
    x = np.array([ma[f] for f in common], dtype=np.float64)
    y = np.array([mb[f] for f in common], dtype=np.float64)
    nan = float("nan")
    if len(common) < 3:
        note = f"undefined: only {len(common)} factor(s) scored by both judges, need at least 3"
        unscored = [f for f in candidates if f not in common]
        if unscored:
            note += f" (no score for both: {', '.join(unscored[:6])}{', ...' if len(unscored) > 6 else ''})"
        return AlignmentResult(nan, nan, nan, nan, nan, nan, len(common), tuple(common), name_a, name_b, note)
    note = ""
    constant = [(n or side) for n, side, v in ((name_a, "judge A", x), (name_b, "judge B", y)) if np.all(v == v[0])]
    if constant:
        note = (f"undefined: the factor scores of {' and '.join(constant)} are all equal "
                f"({x[0] if np.all(x == x[0]) else y[0]:+.3f} over {len(common)} factors), so they have no ranking")
        return AlignmentResult(nan, nan, nan, nan, nan, nan, len(common), tuple(common), name_a, name_b, note)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        kt = sps.kendalltau(x, y)
        sr = sps.spearmanr(x, y)
        pr = sps.pearsonr(x, y)
    lo = hi = float("nan")
    n_valid = 0
    boot = n_boot > 0 and isinstance(a, FactorScoreResult) and isinstance(b, FactorScoreResult)
    if boot:
        assert isinstance(a, FactorScoreResult) and isinstance(b, FactorScoreResult)
        ra, rb, _ = paired_boot_scores(a, b, common, n_boot=n_boot, seed=seed)
        taus = kendall_tau_b_rows(ra, rb)
        n_valid = int(np.isfinite(taus).sum())
        if n_valid:
            lo, hi = (float(v[0]) for v in percentile_interval(taus[:, None], ci))
    return AlignmentResult(
        float(kt.statistic), float(kt.pvalue),
        float(sr.statistic), float(sr.pvalue),
        float(pr.statistic), float(pr.pvalue),
        len(common), tuple(common), name_a, name_b, note,
        lo, hi, int(n_boot) if boot else 0, float(ci), n_valid,
    )  # fmt: skip


# ---------------------------------------------------------------- pairwise agreement
TieRule = Literal["disagree", "exclude", "half"]


def wilson_interval(successes: float, n: float, ci: float = 0.95) -> tuple[float, float]:
    """Wilson score interval for a proportion ``successes / n`` (NaN if ``n == 0``)."""
    if n <= 0:
        return float("nan"), float("nan")
    z = float(sps.norm.ppf(0.5 + ci / 2.0))
    p = successes / n
    den = 1.0 + z * z / n
    centre = (p + z * z / (2 * n)) / den
    half = z * np.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / den
    return float(max(0.0, centre - half)), float(min(1.0, centre + half))


@dataclass(frozen=True)
class AgreementResult:
    """Share of pairs on which two judges agree.

    ``n``: pairs counted; ``n_agree``: credit (fractional with ``ties="half"``); ``ci_low/ci_high``:
    Wilson interval; ``boot_ci_low/boot_ci_high``: example-level bootstrap (NaN without example ids).
    """

    agreement: float
    n: int
    n_agree: float
    n_ties_a: int
    n_ties_b: int
    ci_low: float
    ci_high: float
    ties: str
    ci: float = 0.95
    boot_ci_low: float = float("nan")
    boot_ci_high: float = float("nan")
    n_boot: int = 0
    n_missing: int = 0

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def to_frame(self) -> pd.DataFrame:
        return pd.DataFrame([self.to_dict()])

    def __str__(self) -> str:
        return (
            f"agreement {self.agreement:.3f} ({self.n_agree:g}/{self.n}), Wilson {self.ci:.0%} CI "
            f"[{self.ci_low:.3f}, {self.ci_high:.3f}], ties: a={self.n_ties_a}, b={self.n_ties_b} ({self.ties})"
        )


def _agreement_credit(a: NDArray, b: NDArray, ties: TieRule) -> tuple[NDArray, NDArray]:
    """Per-pair (credit, counted) under the tie rule."""
    either_tie = (a == 0) | (b == 0)
    one_tie = either_tie & (a != b)
    same = (a == b).astype(np.float64)
    if ties == "disagree":
        return same, np.ones_like(same)
    if ties == "exclude":
        counted = (~either_tie).astype(np.float64)
        return same * counted, counted
    if ties == "half":
        return np.where(one_tie, 0.5, same), np.ones_like(same)
    raise ValueError(f"ties must be 'disagree', 'exclude' or 'half', got {ties!r}")


def pairwise_agreement(
    pref_a: ArrayLike,
    pref_b: ArrayLike,
    *,
    ties: TieRule = "disagree",
    example_ids: ArrayLike | None = None,
    n_boot: int = 1000,
    ci: float = 0.95,
    seed: int | None = 0,
) -> AgreementResult:
    """Share of pairs where judges A and B give the same verdict (+1/-1/0) on the same pairs.

    ``ties``: ``"disagree"`` a tie against a non-tie is a disagreement, two ties agree;
    ``"exclude"`` pairs where either judge ties are dropped; ``"half"`` a tie against a non-tie
    earns half credit. NaN verdicts (missing) are dropped and counted in ``n_missing``.
    With ``example_ids`` a percentile bootstrap over examples is added (``n_boot`` replicates).
    """
    a = np.asarray(pref_a, dtype=np.float64)
    b = np.asarray(pref_b, dtype=np.float64)
    if a.shape != b.shape or a.ndim != 1:
        raise ValueError(f"pref_a and pref_b must be 1-D of equal length, got {a.shape} and {b.shape}")
    keep = ~(np.isnan(a) | np.isnan(b))
    if not np.all(np.isin(a[keep], (-1.0, 0.0, 1.0)) & np.isin(b[keep], (-1.0, 0.0, 1.0))):
        raise ValueError("verdicts must be +1, -1, 0 (or NaN for missing)")
    credit, counted = _agreement_credit(a[keep], b[keep], ties)
    n, n_agree = float(counted.sum()), float(credit.sum())
    agreement = n_agree / n if n > 0 else float("nan")
    lo, hi = wilson_interval(n_agree, n, ci)
    blo = bhi = float("nan")
    if example_ids is not None and n_boot > 0:
        ids = np.asarray(example_ids)
        if ids.shape != a.shape:
            raise ValueError("example_ids must have one entry per pair")
        uniq, group = factorize_ids(ids[keep], int(keep.sum()))
        per = np.zeros((len(uniq), 2))
        np.add.at(per[:, 0], group, credit)  # column views: adds in place
        np.add.at(per[:, 1], group, counted)
        sums = resample_sums(np.random.default_rng(seed), per * 2, n_boot) / 2.0  # *2: exact half credits
        with np.errstate(divide="ignore", invalid="ignore"):
            reps = np.where(sums[:, 1] > 0, sums[:, 0] / sums[:, 1], np.nan)
        blo, bhi = (float(v[0]) for v in percentile_interval(reps[:, None], ci))
    return AgreementResult(
        agreement=agreement,
        n=int(n),
        n_agree=n_agree,
        n_ties_a=int(np.sum(a[keep] == 0)),
        n_ties_b=int(np.sum(b[keep] == 0)),
        ci_low=lo,
        ci_high=hi,
        ties=ties,
        ci=ci,
        boot_ci_low=blo,
        boot_ci_high=bhi,
        n_boot=int(n_boot) if example_ids is not None else 0,
        n_missing=int((~keep).sum()),
    )


# ---------------------------------------------------------------- generalizability
def minmax_scale(X: ArrayLike) -> NDArray[np.float64]:
    """Scale each column to [0, 1] by its min and max (NaN ignored); constant columns become 0."""
    x = np.asarray(X, dtype=np.float64)
    if x.ndim != 2:
        raise ValueError(f"expected a 2-D array (outputs x factors), got shape {x.shape}")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        lo = np.nanmin(x, axis=0)
        hi = np.nanmax(x, axis=0)
    span = hi - lo
    with np.errstate(divide="ignore", invalid="ignore"):
        out = (x - lo) / np.where(span > 0, span, 1.0)
    return np.where((span > 0) | np.isnan(x), out, 0.0)


def cosine_minmax(X: ArrayLike, Y: ArrayLike) -> float:
    """Cosine similarity of the mean factor vectors of two groups of outputs after joint min-max scaling.

    ``X`` (n_x, F) and ``Y`` (n_y, F): factor values of the outputs of each group. Every factor is
    scaled over the rows of both groups together; NaN values are ignored in the means.
    Returns NaN if a mean vector is zero.
    """
    x = np.asarray(X, dtype=np.float64)
    y = np.asarray(Y, dtype=np.float64)
    if x.ndim != 2 or y.ndim != 2 or x.shape[1] != y.shape[1]:
        raise ValueError(f"X and Y must be 2-D with the same number of factors, got {x.shape} and {y.shape}")
    z = minmax_scale(np.vstack([x, y]))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        mx = np.nan_to_num(np.nanmean(z[: len(x)], axis=0))
        my = np.nan_to_num(np.nanmean(z[len(x) :], axis=0))
    den = np.linalg.norm(mx) * np.linalg.norm(my)
    return float(mx @ my / den) if den > 0 else float("nan")
