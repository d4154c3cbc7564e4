"""PROFILE factor scores: tau_14 per factor with an example-level (cluster) bootstrap CI.

For a judge with verdicts ``pref`` (P,) and factor comparisons ``fcmp`` (P, F)::

    score_f = tau_14(C_f, D_f, T_f) = (C_f - D_f) / (C_f + D_f + T_f)

(see :mod:`profile_align.stats.tau` for the counts and the tie policies). Pairs of the same example
(e.g. several summaries of the same post) are not independent, so confidence intervals resample
*examples*: with per-example counts ``X`` of shape (E, F, 6) and multinomial weights ``w`` (B, E)
(``w[b, e]`` = how often example ``e`` is drawn in replicate ``b``), replicate counts are
``w @ X`` and the CI is the percentile interval of ``tau_14`` over the B replicates.
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike, NDArray

from profile_align.stats._resample import percentile_interval, resample_sums
from profile_align.stats.tau import (
    CATEGORIES,
    Counts,
    PolicyLike,
    TiePolicy,
    acc_23,
    category_codes,
    get_policy,
    grouped_counts,
    policy_name,
    tau_14,
    tau_23,
    tau_b,
)

__all__ = [
    "FactorScoreResult",
    "compute_factor_scores",
    "scores_from_example_counts",
    "factorize_ids",
    "rank_matrix",
]

FORMAT = "profile_align.FactorScoreResult/1"
NO_PAIRS = "no applicable pairs"


def factorize_ids(example_ids: ArrayLike | None, n_pairs: int) -> tuple[NDArray[np.str_], NDArray[np.intp]]:
    """Map example ids to ``(unique ids as str, lexicographically sorted; index of each pair)``.

    ``None`` makes every pair its own example, with zero-padded ids ``"000", "001", ...``.
    """
    if example_ids is None:
        width = len(str(max(n_pairs - 1, 0)))
        return np.char.zfill(np.arange(n_pairs).astype(str), width), np.arange(n_pairs, dtype=np.intp)
    ids = np.asarray(example_ids)
    if ids.shape != (n_pairs,):
        raise ValueError(f"example_ids must have shape ({n_pairs},), got {ids.shape}")
    codes, uniques = pd.factorize(ids)
    names = np.asarray(uniques).astype(str)
    if len(np.unique(names)) != len(names):
        raise ValueError("example ids collide once converted to str")
    order = np.argsort(names, kind="stable")
    rank = np.empty_like(order)
    rank[order] = np.arange(len(order))
    return names[order], rank[codes].astype(np.intp)


def rank_matrix(scores: ArrayLike) -> NDArray[np.int64]:
    """Ranks per row of ``scores`` ``(B, F)`` (or ``(F,)``): 1 = highest, ties share the smallest rank
    ("min"), NaN scores rank after every scored factor (all at ``1 + number of scored factors``).

    ``rank = 1 + number of factors with a strictly higher score`` — the same ranks as
    ``pandas.Series.rank(method="min", ascending=False, na_option="bottom")``.
    """
    s = np.asarray(scores, dtype=np.float64)
    flat = s.reshape(-1, s.shape[-1]) if s.ndim else s.reshape(1, 1)
    v = np.where(np.isnan(flat), -np.inf, flat)
    ranks = 1 + (v[:, None, :] > v[:, :, None]).sum(axis=2)
    return ranks.reshape(s.shape).astype(np.int64)


def _rank_uncertainty(scores: NDArray[np.float64], boot: NDArray[np.float64], ci: float
                      ) -> tuple[NDArray[np.float64], NDArray[np.float64], NDArray[np.float64]]:
    """From the score replicates ``boot`` (B, F): per factor the share of replicates in which it keeps
    its rank (the rank of ``scores``) and the percentile interval of its replicate ranks (integer
    ranks: the ``inverted_cdf`` quantiles). Unscored factors (NaN score) get NaN."""
    nan = np.full(len(scores), np.nan)
    if boot.shape[0] == 0 or len(scores) == 0:
        return nan, nan.copy(), nan.copy()
    point = rank_matrix(scores)
    reps = rank_matrix(boot)
    kept = (reps == point[None, :]).mean(axis=0)
    alpha = (1.0 - ci) / 2.0
    lo = np.quantile(reps, alpha, axis=0, method="inverted_cdf").astype(np.float64)
    hi = np.quantile(reps, 1.0 - alpha, axis=0, method="inverted_cdf").astype(np.float64)
    unscored = np.isnan(scores)
    return (np.where(unscored, np.nan, kept), np.where(unscored, np.nan, lo), np.where(unscored, np.nan, hi))


def _nan_to_none(values: NDArray) -> list[float | None]:
    return [None if not np.isfinite(v) else float(v) for v in np.asarray(values, dtype=np.float64)]


def _none_to_nan(values: Sequence[float | None]) -> NDArray[np.float64]:
    return np.array([np.nan if v is None else v for v in values], dtype=np.float64)


@dataclass(eq=False)
class FactorScoreResult:
    """Factor scores of one judge (tau_14 per factor), their bootstrap CIs and the counts behind them.

    ``example_counts[e, f]`` holds the six category counts (``CATEGORIES`` order) of example
    ``example_ids[e]`` on factor ``factor_names[f]``; it is what difference tests resample. A factor
    without usable pairs has a NaN score and NaN CI ("no applicable pairs").

    Rank uncertainty comes from the same bootstrap replicates as the CIs: ``rank_kept[f]`` is the
    share of replicates in which factor ``f`` has the rank it has on the full data, and
    ``rank_ci_low/rank_ci_high`` the percentile interval of its replicate ranks (NaN without
    bootstrap or without a score).
    """

    judge: str
    policy: TiePolicy
    factor_names: list[str]
    scores: NDArray[np.float64]
    ci_low: NDArray[np.float64]
    ci_high: NDArray[np.float64]
    counts: Counts
    n_boot: int
    ci: float
    seed: int | None
    example_ids: NDArray[np.str_]
    example_counts: NDArray[np.int64]
    boot_scores: NDArray[np.float64] | None = field(default=None, repr=False, compare=False)
    rank_kept: NDArray[np.float64] | None = None
    rank_ci_low: NDArray[np.float64] | None = None
    rank_ci_high: NDArray[np.float64] | None = None

    def _rank_field(self, name: str) -> NDArray[np.float64]:
        v = getattr(self, name)
        return np.full(len(self.factor_names), np.nan) if v is None else np.asarray(v, dtype=np.float64)

    # ----------------------------------------------------------------- access
    def __getitem__(self, factor: str) -> float:
        try:
            return float(self.scores[self.factor_names.index(factor)])
        except ValueError:
            raise KeyError(factor) from None

    def __len__(self) -> int:
        return len(self.factor_names)

    @property
    def n_pairs(self) -> int:
        """Number of pairs the judge labelled (missing factor values included)."""
        return int(self.counts.total[0]) if len(self.factor_names) else 0

    @property
    def n_examples(self) -> int:
        return int(len(self.example_ids))

    def ranking(self) -> list[str]:
        """Factor names by score, highest first; NaN scores last (ties keep the input order)."""
        s = np.where(np.isnan(self.scores), -np.inf, self.scores)
        order = sorted(range(len(s)), key=lambda i: (np.isnan(self.scores[i]), -s[i]))
        return [self.factor_names[i] for i in order]

    def as_series(self) -> pd.Series:
        """Scores as a ``pd.Series`` indexed by factor name, named after the judge."""
        return pd.Series(self.scores, index=pd.Index(self.factor_names, name="factor"), name=self.judge)

    def as_dict(self) -> dict[str, float]:
        return {f: float(s) for f, s in zip(self.factor_names, self.scores)}

    def to_frame(self) -> pd.DataFrame:
        """One row per factor: score, CI, rank (1 = highest; NaN last), its bootstrap uncertainty (``rank_kept``:
        share of replicates keeping the rank; ``rank_ci_low/rank_ci_high``), counts, n_used, tau_b, tau_23,
        acc_23, and the tie policy applied (``policy``: its name, ``tie_rule``: the rule in words)."""
        c = self.counts
        df = pd.DataFrame(
            {
                "factor": self.factor_names,
                "score": self.scores,
                "ci_low": self.ci_low,
                "ci_high": self.ci_high,
                "rank": rank_matrix(self.scores).astype(int),
                "rank_kept": self._rank_field("rank_kept"),
                "rank_ci_low": self._rank_field("rank_ci_low"),
                "rank_ci_high": self._rank_field("rank_ci_high"),
                **{name: np.asarray(getattr(c, name)) for name in CATEGORIES},
                "n_used": c.n_used(self.policy),
                "tau_b": tau_b(c),
                "tau_23": tau_23(c),
                "acc_23": acc_23(c),
                "policy": policy_name(self.policy) or "custom",
                "tie_rule": self.policy.words,
            }
        )
        return df

    # -------------------------------------------------------------- serialise
    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict with everything needed to recompute (NaN written as ``None``)."""
        return {
            "format": FORMAT,
            "judge": self.judge,
            "policy": self.policy.to_dict(),
            "policy_name": policy_name(self.policy),
            "tie_rule": self.policy.words,
            "factor_names": list(self.factor_names),
            "scores": _nan_to_none(self.scores),
            "ci_low": _nan_to_none(self.ci_low),
            "ci_high": _nan_to_none(self.ci_high),
            "counts": self.counts.to_dict(),
            "n_boot": int(self.n_boot),
            "ci": float(self.ci),
            "seed": self.seed,
            "categories": list(CATEGORIES),
            "example_ids": [str(x) for x in self.example_ids],
            "example_counts": np.asarray(self.example_counts).tolist(),
            "rank_kept": _nan_to_none(self._rank_field("rank_kept")),
            "rank_ci_low": _nan_to_none(self._rank_field("rank_ci_low")),
            "rank_ci_high": _nan_to_none(self._rank_field("rank_ci_high")),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> FactorScoreResult:
        if data.get("format", FORMAT) != FORMAT:
            raise ValueError(f"unsupported format {data.get('format')!r}")
        if list(data.get("categories", CATEGORIES)) != list(CATEGORIES):
            raise ValueError("unexpected count categories")
        names = list(data["factor_names"])
        ex = np.asarray(data["example_counts"], dtype=np.int64).reshape(len(data["example_ids"]), len(names), len(CATEGORIES))
        return cls(
            judge=data["judge"],
            policy=get_policy({"name": data.get("policy_name"), **data["policy"]}
                              if isinstance(data["policy"], dict) and not data["policy"].get("name") else data["policy"]),
            factor_names=names,
            scores=_none_to_nan(data["scores"]),
            ci_low=_none_to_nan(data["ci_low"]),
            ci_high=_none_to_nan(data["ci_high"]),
            counts=Counts(**{k: np.asarray(data["counts"][k], dtype=np.int64) for k in CATEGORIES}),
            n_boot=int(data["n_boot"]),
            ci=float(data["ci"]),
            seed=data.get("seed"),
            example_ids=np.asarray(data["example_ids"], dtype=str),
            example_counts=ex,
            **{k: _none_to_nan(data[k]) for k in ("rank_kept", "rank_ci_low", "rank_ci_high") if k in data},
        )

    def save_json(self, path: str | os.PathLike[str]) -> None:
        with open(path, "w", encoding="utf-8") as fh:
            json.dump(self.to_dict(), fh)

    @classmethod
    def load_json(cls, path: str | os.PathLike[str]) -> FactorScoreResult:
        with open(path, encoding="utf-8") as fh:
            return cls.from_dict(json.load(fh))

    # ---------------------------------------------------------------- display
    def __str__(self) -> str:
        pname = policy_name(self.policy) or "custom"
        head = [
            f"Factor scores (tau_14) of judge {self.judge!r}",
            f"tie policy: {pname} — {self.policy.words}",
            f"pairs: {self.n_pairs}, examples: {self.n_examples}, "
            + (f"{self.ci:.0%} CI from {self.n_boot} example-level bootstrap replicates; kept = share of "
               "replicates in which the factor keeps its rank" if self.n_boot else "no bootstrap"),
        ]
        df = self.to_frame().sort_values(["rank", "factor"], kind="stable")
        width = max([len("factor")] + [len(f) for f in self.factor_names])
        lines = [f"{'rank':>4}  {'factor':<{width}}  {'score':>7}  {'CI':>17}  {'kept':>5}  {'n_used':>7}  {'C':>7}  {'D':>7}"]
        for row in df.itertuples(index=False):
            if np.isnan(row.score):
                body = f"{'—':>7}  {NO_PAIRS:>17}"
            else:
                ci = "" if np.isnan(row.ci_low) else f"[{row.ci_low:+.3f}, {row.ci_high:+.3f}]"
                body = f"{row.score:+7.3f}  {ci:>17}"
            kept = "" if np.isnan(row.rank_kept) else f"{row.rank_kept:.0%}"
            lines.append(
                f"{row.rank:>4}  {row.factor:<{width}}  {body}  {kept:>5}  {row.n_used:>7}  {row.concordant:>7}  {row.discordant:>7}"
            )
        return "\n".join(head + lines)


def scores_from_example_counts(
    example_counts: ArrayLike,
    example_ids: ArrayLike,
    factor_names: Sequence[str],
    *,
    policy: PolicyLike = "generation",
    judge: str = "judge",
    n_boot: int = 1000,
    ci: float = 0.95,
    seed: int | None = 0,
) -> FactorScoreResult:
    """Build a :class:`FactorScoreResult` from per-example counts ``(E, F, 6)`` (bootstraps examples)."""
    pol = get_policy(policy)
    ex = np.asarray(example_counts, dtype=np.int64)
    names = [str(f) for f in factor_names]
    if ex.ndim != 3 or ex.shape[1:] != (len(names), len(CATEGORIES)):
        raise ValueError(f"example_counts must have shape (E, {len(names)}, {len(CATEGORIES)}), got {ex.shape}")
    ids = np.asarray(example_ids).astype(str)
    if ids.shape != (ex.shape[0],):
        raise ValueError("one example id per row of example_counts is required")
    if n_boot < 0:
        raise ValueError("n_boot must be >= 0")
    counts = Counts.from_array(ex.sum(axis=0))
    scores = tau_14(counts, pol)
    nan = np.full(len(names), np.nan)
    ci_low, ci_high, boot = nan, nan.copy(), None
    kept, rlo, rhi = nan.copy(), nan.copy(), nan.copy()
    if n_boot > 0:
        rng = np.random.default_rng(seed)
        flat = ex.reshape(ex.shape[0], -1)
        boot = tau_14(Counts.from_array(resample_sums(rng, flat, n_boot).reshape(n_boot, len(names), -1)), pol)
        ci_low, ci_high = percentile_interval(boot, ci)
        ci_low = np.where(np.isnan(scores), np.nan, ci_low)
        ci_high = np.where(np.isnan(scores), np.nan, ci_high)
        kept, rlo, rhi = _rank_uncertainty(scores, boot, ci)
    return FactorScoreResult(
        judge=judge,
        policy=pol,
        factor_names=names,
        scores=scores,
        ci_low=ci_low,
        ci_high=ci_high,
        counts=counts,
        n_boot=int(n_boot),
        ci=float(ci),
        seed=seed,
        example_ids=ids,
        example_counts=ex,
        boot_scores=boot,
        rank_kept=kept,
        rank_ci_low=rlo,
        rank_ci_high=rhi,
    )


def compute_factor_scores(
    pref: ArrayLike,
    fcmp: ArrayLike,
    factor_names: Sequence[str],
    example_ids: ArrayLike | None = None,
    *,
    policy: PolicyLike = "generation",
    judge: str = "judge",
    n_boot: int = 1000,
    ci: float = 0.95,
    seed: int | None = 0,
) -> FactorScoreResult:
    """Factor scores ``tau_14`` of one judge with an example-level bootstrap percentile CI.

    Args:
        pref: (P,) verdicts, +1 A preferred, -1 B preferred, 0 tie.
        fcmp: (P, F) factor comparisons in {+1, -1, 0, NaN} (NaN = missing, excluded).
        factor_names: F names.
        example_ids: (P,) example (cluster) of each pair; ``None``: each pair is its own example.
        policy: tie policy or its name (see :data:`profile_align.stats.tau.POLICIES`).
        n_boot: bootstrap replicates over examples (0: no CI).
        ci: confidence level of the percentile interval.
        seed: seed of the ``numpy.random.Generator`` (same seed, same CI).

    Memory/time: the result keeps per-example counts, ``E * F * 6`` int64, and each bootstrap
    replicate costs ``O(E * F)``; without ``example_ids`` every pair is an example (``E = P``).
    """
    codes = category_codes(pref, fcmp)
    if len(factor_names) != codes.shape[0]:
        raise ValueError(f"{len(factor_names)} factor names for {codes.shape[0]} factor columns")
    ids, group = factorize_ids(example_ids, codes.shape[1])
    ex = grouped_counts(codes, group, len(ids))
    return scores_from_example_counts(
        ex, ids, factor_names, policy=policy, judge=judge, n_boot=n_boot, ci=ci, seed=seed
    )
