"""Tie-aware Kendall tau between a judge's pairwise preferences and pairwise factor comparisons.

Data conventions (shared by the whole :mod:`profile_align.stats` package):

* ``pref``: shape ``(P,)``, one verdict per pair (A, B): ``+1`` the judge prefers A, ``-1`` B,
  ``0`` tie.
* ``fcmp``: shape ``(P, F)`` (or ``(P,)`` for one factor), float: ``+1`` A shows more of the
  factor, ``-1`` B does, ``0`` equal, ``NaN`` missing (a factor value of A or B is unavailable; the
  pair is excluded from that factor and counted as ``missing``).

Every pair falls, for every factor, into exactly one category:

================  ======================  =============================================
category          condition               meaning
================  ======================  =============================================
``concordant``    ``p * f == +1``         the judge prefers the output with more factor
``discordant``    ``p * f == -1``         the judge prefers the output with less factor
``factor_ties``   ``f == 0, p != 0``      only the factor is tied
``judge_ties``    ``p == 0, f != 0``      only the judge is tied
``both_ties``     ``p == 0, f == 0``      tied on both sides
``missing``       ``f is NaN``            factor comparison unavailable
================  ======================  =============================================

From these counts (C, D, Tf, Tj, Tb, M):

* ``tau_14 = (C - D) / (C + D + T)`` (Deutsch et al. 2023, "Ties Matter"; Kendall 1945), where the
  tie term ``T`` depends on a :class:`TiePolicy`: ``Tf`` is in ``T`` iff ``factor_ties == "count"``
  (else those pairs are omitted altogether), ``Tj`` iff ``judge_ties == "count"``, and ``Tb`` iff
  both sides are ``"count"``.

Named policies (:data:`POLICIES`; each carries its own name and a description in words, written into
every score file and table, so a policy is never reported under another policy's name):

=======================  ===========  ===========  ==============================================
name                     judge ties   factor ties  use
=======================  ===========  ===========  ==============================================
``human``                count        drop         human labels (paper: evaluation rule; the
                                                   human's own ties were dropped at load)
``evaluation``           count        drop         a model evaluating given pairs (may say Tie)
``generation``           count        count        a generator (never ties)
``factor-ties-counted``  count        count        option for humans; = Feedback Forensics'
                                                   ``strength`` (kappa x relevance, p_e = 0.5)
``count-all``            count        count        every tie in ``T``
``drop-all``             drop         drop         every tied pair omitted
=======================  ===========  ===========  ==============================================
* ``tau_b = (C - D) / sqrt((C + D + Tf) * (C + D + Tj))``: Kendall's tau-b
  ``(n_c - n_d) / sqrt((n0 - n1) (n0 - n2))`` with each PROFILE pair playing the role of one pair
  of observations, ``n1`` the pairs tied on the judge (``Tj + Tb``) and ``n2`` the pairs tied on
  the factor (``Tf + Tb``), so ``n0 - n1 = C + D + Tf`` and ``n0 - n2 = C + D + Tj``.
* ``acc_23 = (C + Tb) / N`` and ``tau_23 = (C + Tb - D - Tj - Tf) / N`` with
  ``N = C + D + Tj + Tf + Tb`` (Deutsch et al. 2023; judge ~ human, factor ~ metric).

Missing pairs never enter any statistic. A zero denominator gives ``NaN`` (never 0, never an error).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from typing import Literal, Union, cast

import numpy as np
from numpy.typing import ArrayLike, NDArray

__all__ = [
    "TiePolicy",
    "GENERATION",
    "EVALUATION",
    "HUMAN",
    "FACTOR_TIES_COUNTED",
    "COUNT_ALL",
    "DROP_ALL",
    "POLICIES",
    "get_policy",
    "policy_name",
    "compare_values",
    "Counts",
    "CATEGORIES",
    "pair_counts",
    "category_codes",
    "grouped_counts",
    "tau_14",
    "tau_b",
    "tau_23",
    "acc_23",
]

TieRule = Literal["count", "drop"]

#: Order of the six categories along the last axis of stacked count arrays.
CATEGORIES: tuple[str, ...] = (
    "concordant",
    "discordant",
    "factor_ties",
    "judge_ties",
    "both_ties",
    "missing",
)


@dataclass(frozen=True)
class TiePolicy:
    """Which ties enter the tie term ``T`` of tau_14.

    ``"count"``: a pair tied on that side is in ``T``; ``"drop"``: it is omitted from numerator and
    denominator. A pair tied on both sides is omitted if either side is ``"drop"``.

    ``name`` and ``description`` say which rule was applied (written into score files and tables);
    they do not take part in equality: two policies with the same rules compute the same numbers.
    """

    judge_ties: TieRule
    factor_ties: TieRule
    name: str | None = field(default=None, compare=False)
    description: str | None = field(default=None, compare=False)

    def __post_init__(self) -> None:
        for rule in ("judge_ties", "factor_ties"):
            if getattr(self, rule) not in ("count", "drop"):
                raise ValueError(f"TiePolicy.{rule} must be 'count' or 'drop', got {getattr(self, rule)!r}")

    @property
    def words(self) -> str:
        """The rule in words: the description of a named policy, else the two rules spelled out."""
        if self.description:
            return self.description
        jt = "the judge's ties count in the denominator" if self.judge_ties == "count" else "judge-tied pairs omitted"
        ft = "factor-tied pairs count in the denominator" if self.factor_ties == "count" else "factor-tied pairs omitted"
        return f"{ft}; {jt}"

    @property
    def label(self) -> str:
        """``name: words`` (``custom`` for an unnamed policy)."""
        return f"{self.name or 'custom'}: {self.words}"

    def to_dict(self) -> dict[str, str | None]:
        return {"judge_ties": self.judge_ties, "factor_ties": self.factor_ties, "name": self.name,
                "description": self.words}


#: Paper's generation setting: the judge never ties; pairs whose factor ties count in T.
GENERATION = TiePolicy("count", "count", "generation",
                       "generation rule: factor-tied pairs count in the denominator (the judge never ties)")
#: Paper's evaluation setting: factor-tied pairs are omitted; the model's "Tie" verdicts count in T.
EVALUATION = TiePolicy("count", "drop", "evaluation",
                       "evaluation rule: factor-tied pairs omitted; the judge's Tie verdicts count in the denominator")
#: Human judges (paper): humans evaluate given pairs, so the evaluation rule applies; their own ties were
#: dropped when loading.
HUMAN = TiePolicy("count", "drop", "human",
                  "human rule (evaluation rule): factor-tied pairs omitted; the human's own ties were dropped at load")
#: Option for human judges: factor-tied pairs count in T. With no judge ties and no missing values this
#: equals Feedback Forensics' ``strength`` = Cohen's kappa (chance agreement 0.5) x relevance
#: = (C - D) / (C + D) * (C + D) / (C + D + Tf).
FACTOR_TIES_COUNTED = TiePolicy("count", "count", "factor-ties-counted",
                                "factor ties counted: factor-tied pairs count in the denominator "
                                "(= Feedback Forensics' strength)")
COUNT_ALL = TiePolicy("count", "count", "count-all", "all ties counted: every tied pair counts in the denominator")
DROP_ALL = TiePolicy("drop", "drop", "drop-all", "all ties dropped: every tied pair is omitted")

POLICIES: Mapping[str, TiePolicy] = {
    "generation": GENERATION,
    "evaluation": EVALUATION,
    "human": HUMAN,
    "factor-ties-counted": FACTOR_TIES_COUNTED,
    "count-all": COUNT_ALL,
    "drop-all": DROP_ALL,
}

PolicyLike = Union[str, TiePolicy, Mapping[str, Union[str, None]]]  # a mapping: TiePolicy.to_dict()


def get_policy(policy: PolicyLike) -> TiePolicy:
    """Return ``policy`` itself if it is a :class:`TiePolicy`, else look its name up in :data:`POLICIES`.

    A mapping (``TiePolicy.to_dict()``) keeps the name it carries; one without a name is named after the
    first policy in :data:`POLICIES` with the same rules (files written before policies carried names).
    """
    if isinstance(policy, TiePolicy):
        return policy
    if isinstance(policy, str):
        key = policy.strip().lower().replace("_", "-")
        if key in POLICIES:
            return POLICIES[key]
        raise ValueError(f"unknown tie policy {policy!r}; known: {sorted(POLICIES)}")
    if isinstance(policy, Mapping):
        # __post_init__ validates the two rules
        pol = TiePolicy(cast(TieRule, policy["judge_ties"]), cast(TieRule, policy["factor_ties"]))
        name = policy.get("name")
        if name and str(name) in POLICIES and POLICIES[str(name)] == pol:
            return POLICIES[str(name)]
        if name:
            return replace(pol, name=str(name), description=policy.get("description"))
        named = next((p for p in POLICIES.values() if p == pol), None)
        return named if named is not None else pol
    raise TypeError(f"expected a TiePolicy or a policy name, got {type(policy).__name__}")


def policy_name(policy: TiePolicy) -> str | None:
    """The policy's own name; for an unnamed policy, the first name in :data:`POLICIES` with its rules."""
    if policy.name:
        return policy.name
    for name, value in POLICIES.items():
        if value == policy:
            return name
    return None


def compare_values(values_a: ArrayLike, values_b: ArrayLike, atol: float = 0.0) -> NDArray[np.float64]:
    """Factor comparison ``sign(a - b)`` as float, ``0`` where ``|a - b| <= atol``, ``NaN`` if either is NaN."""
    a = np.asarray(values_a, dtype=np.float64)
    b = np.asarray(values_b, dtype=np.float64)
    if atol < 0:
        raise ValueError("atol must be >= 0")
    with np.errstate(invalid="ignore"):
        diff = a - b
        out = np.sign(diff)
        out[np.abs(diff) <= atol] = 0.0
    out[np.isnan(a) | np.isnan(b)] = np.nan
    return out


@dataclass(frozen=True, eq=False)
class Counts:
    """Per-factor pair counts, each an int array of shape ``(F,)`` (or ``(..., F)`` for replicates).

    ``n`` is the number of pairs compared on the factor (everything but ``missing``);
    ``total = n + missing``; :meth:`n_used` is the tau_14 denominator under a policy.
    """

    concordant: NDArray[np.int64]
    discordant: NDArray[np.int64]
    factor_ties: NDArray[np.int64]
    judge_ties: NDArray[np.int64]
    both_ties: NDArray[np.int64]
    missing: NDArray[np.int64]

    @property
    def n(self) -> NDArray[np.int64]:
        """Pairs with a factor comparison: ``C + D + Tf + Tj + Tb``."""
        return self.concordant + self.discordant + self.factor_ties + self.judge_ties + self.both_ties

    @property
    def total(self) -> NDArray[np.int64]:
        """All pairs, missing included."""
        return self.n + self.missing

    def ties(self, policy: PolicyLike) -> NDArray[np.int64]:
        """The tie term ``T`` of tau_14 under ``policy``."""
        pol = get_policy(policy)
        t = np.zeros_like(np.asarray(self.concordant))
        if pol.factor_ties == "count":
            t = t + self.factor_ties
        if pol.judge_ties == "count":
            t = t + self.judge_ties
        if pol.factor_ties == "count" and pol.judge_ties == "count":
            t = t + self.both_ties
        return t

    def n_used(self, policy: PolicyLike) -> NDArray[np.int64]:
        """Pairs in the tau_14 denominator: ``C + D + T``."""
        return self.concordant + self.discordant + self.ties(policy)

    def as_array(self) -> NDArray[np.int64]:
        """Stack the six counts along a new last axis, in :data:`CATEGORIES` order: shape ``(..., F, 6)``."""
        return np.stack([getattr(self, name) for name in CATEGORIES], axis=-1)

    @classmethod
    def from_array(cls, array: ArrayLike) -> Counts:
        """Inverse of :meth:`as_array` (last axis of length 6, :data:`CATEGORIES` order)."""
        arr = np.asarray(array)
        if arr.shape[-1] != len(CATEGORIES):
            raise ValueError(f"last axis must have length {len(CATEGORIES)}, got shape {arr.shape}")
        arr = np.rint(arr).astype(np.int64) if arr.dtype.kind == "f" else arr.astype(np.int64)
        return cls(*(arr[..., i] for i in range(len(CATEGORIES))))

    def to_dict(self) -> dict[str, list]:
        return {f.name: np.asarray(getattr(self, f.name)).tolist() for f in fields(self)}


# Category code of a (pref, fcmp) cell, indexed by (p + 1) * 3 + (f + 1); index 9 = missing.
_LUT = np.array([0, 2, 1, 3, 4, 3, 1, 2, 0, 5], dtype=np.int8)


def _as_pref(pref: ArrayLike) -> NDArray[np.int8]:
    p = np.asarray(pref)
    if p.ndim != 1:
        raise ValueError(f"pref must be 1-D (one verdict per pair), got shape {p.shape}")
    if p.dtype.kind == "b":
        raise TypeError("pref must hold +1/-1/0, not booleans")
    pf = p.astype(np.float64)
    if not np.all((pf == 0.0) | (pf == 1.0) | (pf == -1.0)):
        raise ValueError("pref must contain only +1, -1 and 0 (no NaN)")
    return pf.astype(np.int8)


def _as_fcmp(fcmp: ArrayLike, n_pairs: int) -> NDArray[np.float64]:
    f = np.asarray(fcmp, dtype=np.float64)
    if f.ndim == 1:
        f = f[:, None]
    if f.ndim != 2 or f.shape[0] != n_pairs:
        raise ValueError(f"fcmp must have shape (P, F) with P={n_pairs}, got {np.shape(fcmp)}")
    return f


def category_codes(pref: ArrayLike, fcmp: ArrayLike) -> NDArray[np.int8]:
    """Category code (index into :data:`CATEGORIES`) of every (factor, pair) cell, shape ``(F, P)``.

    Validates the inputs: ``pref`` in {-1, 0, 1}; ``fcmp`` in {-1, 0, 1, NaN}.
    """
    p = _as_pref(pref)
    f = _as_fcmp(fcmp, p.shape[0])
    ft = f.T  # (F, P) view; element-wise results keep this memory order
    ok = np.isnan(ft) | (ft == 0.0) | (ft == 1.0) | (ft == -1.0)
    if not ok.all():
        raise ValueError("fcmp must contain only +1, -1, 0 and NaN")
    key = np.where(np.isnan(ft), 9.0, ft + 1.0 + 3.0 * (p + 1).astype(np.float64))
    return np.ascontiguousarray(_LUT[key.astype(np.intp)])


def grouped_counts(codes: NDArray[np.int8], group: NDArray[np.intp] | None, n_groups: int = 1) -> NDArray[np.int64]:
    """Count categories per group and factor: ``codes`` (F, P), ``group`` (P,) in ``[0, n_groups)``.

    Returns shape ``(n_groups, F, 6)``; ``group=None`` puts all pairs in one group.
    """
    n_f, n_p = codes.shape
    k = len(CATEGORIES)
    out = np.empty((n_groups, n_f, k), dtype=np.int64)
    if group is None:
        for j in range(n_f):
            out[0, j] = np.bincount(codes[j], minlength=k)
        return out
    base = np.asarray(group, dtype=np.intp) * k
    if base.shape != (n_p,):
        raise ValueError("group must have one entry per pair")
    for j in range(n_f):
        out[:, j, :] = np.bincount(base + codes[j], minlength=n_groups * k).reshape(n_groups, k)
    return out


def pair_counts(pref: ArrayLike, fcmp: ArrayLike) -> Counts:
    """Count concordant / discordant / tied / missing pairs per factor (vectorised).

    ``pref`` shape ``(P,)``; ``fcmp`` shape ``(P, F)`` or ``(P,)`` (then ``F = 1``).
    """
    return Counts.from_array(grouped_counts(category_codes(pref, fcmp), None)[0])


def _ratio(num: NDArray, den: NDArray) -> NDArray[np.float64]:
    num = np.asarray(num, dtype=np.float64)
    den = np.asarray(den, dtype=np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        out = np.where(den > 0, num / np.where(den > 0, den, 1.0), np.nan)
    return out


def tau_14(counts: Counts, policy: PolicyLike = GENERATION) -> NDArray[np.float64]:
    """``(C - D) / (C + D + T)``, ``T`` chosen by ``policy``; NaN where the denominator is 0."""
    return _ratio(counts.concordant - counts.discordant, counts.n_used(policy))


def tau_b(counts: Counts) -> NDArray[np.float64]:
    """Kendall tau-b over the pairs: ``(C - D) / sqrt((C + D + Tf) * (C + D + Tj))``; NaN if 0/0."""
    c, d = counts.concordant, counts.discordant
    den = np.sqrt((c + d + counts.factor_ties).astype(np.float64) * (c + d + counts.judge_ties))
    return _ratio(c - d, den)


def acc_23(counts: Counts) -> NDArray[np.float64]:
    """Pairwise accuracy with ties (Deutsch et al. 2023): ``(C + Tb) / N``, ``N = C + D + Tj + Tf + Tb``."""
    return _ratio(counts.concordant + counts.both_ties, counts.n)


def tau_23(counts: Counts) -> NDArray[np.float64]:
    """Deutsch et al. 2023 tau_23: ``(C + Tb - D - Tj - Tf) / N``, ``N = C + D + Tj + Tf + Tb``."""
    num = counts.concordant + counts.both_ties - counts.discordant - counts.judge_ties - counts.factor_ties
    return _ratio(num, counts.n)
