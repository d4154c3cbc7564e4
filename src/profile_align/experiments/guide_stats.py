"""Statistics of the guidance experiment: which factor to guide on, and whether guidance helped.

* **GuideMis** (the paper's Appendix E.1): the factor "most preferred by the model but considered less
  influential by humans". Both judges' factor scores are turned into ranks (1 = highest score); among
  the model's top-ranked factors (its top half by default) GuideMis is the one whose human rank is
  lowest relative to the model's rank of it (largest ``human rank - model rank``; ties: the factor the
  model ranks higher). Ranks, not raw score differences: an evaluator's scores are small where the
  humans' are large, so |model - human| would pick whatever humans weight most. On the paper's Table 5
  this picks off-focus for Mixtral and coherence for Tulu 2.5 + PPO (13B RM), the paper's choices.
* **GuideRand**: a factor drawn at random (seeded) among those whose model - human difference is not
  significant (paired-bootstrap difference test, Holm-adjusted by default), GuideMis excluded.
* **McNemar test** of GuideMis vs no guidance on the same pairs: exact binomial test on the discordant
  pairs (b = right without guidance and wrong with it, c = the reverse).
* **Paired bootstrap CI** of an agreement difference, resampling examples (clusters).
"""

from __future__ import annotations

import random
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats as sps


__all__ = ["FactorChoice", "choose_factors", "rank_table", "mcnemar", "paired_agreement_diff", "guidance_sentences"]


@dataclass(frozen=True)
class FactorChoice:
    mis: str | None
    mis_diff: float | None
    mis_significant: bool
    rand: str | None
    candidates_rand: tuple[str, ...]
    note: str
    mis_model_rank: int | None = None
    mis_human_rank: int | None = None
    ranks: pd.DataFrame | None = field(default=None, compare=False, repr=False)


def rank_table(differences: pd.DataFrame) -> pd.DataFrame:
    """Per factor with both scores: ``score_model``, ``score_human``, their ranks (1 = highest score, ties
    share the smaller rank) and ``rank_gap = rank_human - rank_model`` (positive: the model ranks the
    factor higher than the humans do). ``differences`` has columns factor, score_a (the model) and
    score_b (the humans), as ``DifferenceResult.to_frame()`` of (model, human)."""
    df = differences.dropna(subset=["score_a", "score_b"])
    out = pd.DataFrame({"factor": df["factor"].astype(str).to_numpy(), "score_model": df["score_a"].to_numpy(float),
                        "score_human": df["score_b"].to_numpy(float)})
    out["rank_model"] = out["score_model"].rank(ascending=False, method="min").astype(int)
    out["rank_human"] = out["score_human"].rank(ascending=False, method="min").astype(int)
    out["rank_gap"] = out["rank_human"] - out["rank_model"]
    return out


def choose_factors(differences: pd.DataFrame, *, seed: int = 0, adjusted: bool = True,
                   top: int | None = None) -> FactorChoice:
    """GuideMis and GuideRand from ``differences`` = ``DifferenceResult.to_frame()`` of (model, human):
    columns factor, score_a (model), score_b (human), diff, significant, significant_holm.

    ``top``: how many of the model's top-ranked factors GuideMis is chosen from (default: half of the
    factors, rounded up).
    """
    ranks = rank_table(differences)
    if ranks.empty:
        return FactorChoice(None, None, False, None, (), "no factor has scores for both judges")
    sig_col = "significant_holm" if adjusted and "significant_holm" in differences.columns else "significant"
    sig = dict(zip(differences["factor"].astype(str), differences[sig_col].astype(bool)))
    k = top if top is not None else -(-len(ranks) // 2)
    if k < 1:
        raise ValueError(f"top must be >= 1, got {top}")
    note = ""
    pool_mis = ranks[(ranks["rank_model"] <= k) & (ranks["rank_gap"] > 0)]
    if pool_mis.empty:
        pool_mis = ranks[ranks["rank_gap"] > 0]
        note = (f"no factor among the model's top {k} is ranked lower by humans; GuideMis is taken from all factors"
                if len(pool_mis) else "the model and the humans rank the factors alike: no GuideMis factor")
    mis = None
    if len(pool_mis):
        pick = pool_mis.sort_values(["rank_gap", "rank_model", "factor"], ascending=[False, True, True],
                                    kind="stable").iloc[0]
        mis = str(pick["factor"])
    pool = tuple(sorted(f for f in ranks["factor"] if not sig.get(f, False) and f != mis))
    rand = random.Random(seed).choice(pool) if pool else None
    if rand is None:
        note = (note + "; " if note else "") + "every factor differs significantly: no GuideRand factor"
    if mis is None:
        return FactorChoice(None, None, False, rand, pool, note, ranks=ranks)
    row = ranks.set_index("factor").loc[mis]
    return FactorChoice(mis, float(row["score_model"] - row["score_human"]), bool(sig.get(mis, False)), rand, pool,
                        note, int(row["rank_model"]), int(row["rank_human"]), ranks)


def mcnemar(right_a: np.ndarray, right_b: np.ndarray) -> dict[str, Any]:
    """Exact McNemar test on paired booleans (a = baseline, b = treatment)."""
    a, b = np.asarray(right_a, bool), np.asarray(right_b, bool)
    n01 = int(np.sum(a & ~b))  # right without, wrong with
    n10 = int(np.sum(~a & b))  # wrong without, right with
    n = n01 + n10
    p = 1.0 if n == 0 else float(sps.binomtest(n10, n, 0.5).pvalue)
    return {"baseline_only_right": n01, "treatment_only_right": n10, "p_value": p}


def paired_agreement_diff(right_a: np.ndarray, right_b: np.ndarray, example_ids: np.ndarray, *,
                          n_boot: int = 2000, ci: float = 0.95, seed: int = 0) -> dict[str, float]:
    """Difference of agreement rates (b - a) on the same pairs with a cluster-bootstrap CI."""
    a, b = np.asarray(right_a, float), np.asarray(right_b, float)
    ids, inv = np.unique(np.asarray(example_ids, dtype=str), return_inverse=True)
    e = len(ids)
    sa, sb, cnt = (np.bincount(inv, weights=x, minlength=e) for x in (a, b, np.ones_like(a)))
    diff = float(b.mean() - a.mean()) if len(a) else float("nan")
    if n_boot <= 0 or e == 0:
        return {"diff": diff, "ci_low": float("nan"), "ci_high": float("nan")}
    rng = np.random.default_rng(seed)
    w = np.stack([np.bincount(rng.integers(0, e, e), minlength=e) for _ in range(n_boot)]).astype(float)
    tot = w @ cnt
    with np.errstate(invalid="ignore", divide="ignore"):
        d = (w @ sb - w @ sa) / tot
    lo, hi = np.nanquantile(d, [(1 - ci) / 2, 1 - (1 - ci) / 2])
    return {"diff": diff, "ci_low": float(lo), "ci_high": float(hi)}


_LINE = re.compile(r"^\s*([A-Za-z0-9_]+)\s*:\s*(.+?)\s*$")


def guidance_sentences(override: str | Path | Mapping[str, str] | None = None) -> dict[str, str]:
    """Our guidance sentence per factor, updated from ``override`` (a mapping, or a file of
    ``factor: sentence`` lines, YAML or JSON)."""
    from ..prompts import load_texts

    base = dict(load_texts("guidance", package=__package__).entries["sentences"])
    if override is None:
        return base
    if isinstance(override, Mapping):
        extra = {str(k): str(v) for k, v in override.items()}
    else:
        text = Path(override).read_text(encoding="utf-8")
        try:
            import yaml

            loaded = yaml.safe_load(text)
            extra = {str(k): str(v) for k, v in loaded.items()} if isinstance(loaded, dict) else _parse_lines(text)
        except Exception:
            extra = _parse_lines(text)
    return {**base, **extra}


def _parse_lines(text: str) -> dict[str, str]:
    out = {}
    for line in text.splitlines():
        if line.strip().startswith("#") or not line.strip():
            continue
        m = _LINE.match(line)
        if m:
            out[m.group(1)] = m.group(2)
    return out
