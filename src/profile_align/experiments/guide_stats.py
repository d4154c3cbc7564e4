"""Statistics of the guidance experiment: which factor to guide on, and whether guidance helped.

* **GuideMis**: the factor whose score differs most between the model and the humans (largest
  |model - human|) among the factors where the paired-bootstrap difference test is significant
  (Holm-adjusted by default) — the factor the model weights most out of line with humans.
* **GuideRand**: a factor drawn at random (seeded) among those with no significant difference.
* **McNemar test** of GuideMis vs no guidance on the same pairs: exact binomial test on the discordant
  pairs (b = right without guidance and wrong with it, c = the reverse).
* **Paired bootstrap CI** of an agreement difference, resampling examples (clusters).
"""

from __future__ import annotations

import random
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats as sps


__all__ = ["FactorChoice", "choose_factors", "mcnemar", "paired_agreement_diff", "guidance_sentences"]


@dataclass(frozen=True)
class FactorChoice:
    mis: str | None
    mis_diff: float | None
    mis_significant: bool
    rand: str | None
    candidates_rand: tuple[str, ...]
    note: str


def choose_factors(differences: pd.DataFrame, *, seed: int = 0, adjusted: bool = True) -> FactorChoice:
    """``differences``: ``DifferenceResult.to_frame()`` of (model, human): columns factor, diff,
    p_value, p_holm, significant, significant_holm."""
    df = differences.dropna(subset=["diff"]).copy()
    if df.empty:
        return FactorChoice(None, None, False, None, (), "no factor has scores for both judges")
    sig_col = "significant_holm" if adjusted and "significant_holm" in df.columns else "significant"
    sig = df[df[sig_col].astype(bool)]
    note = ""
    if len(sig):
        pick = sig.loc[sig["diff"].abs().sort_values(ascending=False, kind="stable").index[0]]
        mis, mis_sig = str(pick["factor"]), True
    else:
        pick = df.loc[df["diff"].abs().sort_values(ascending=False, kind="stable").index[0]]
        mis, mis_sig = str(pick["factor"]), False
        note = "no factor differs significantly; GuideMis is the largest difference (not significant)"
    pool = tuple(sorted(str(f) for f in df.loc[~df[sig_col].astype(bool), "factor"] if f != mis))
    rand = random.Random(seed).choice(pool) if pool else None
    if rand is None:
        note = (note + "; " if note else "") + "every factor differs significantly: no GuideRand factor"
    return FactorChoice(mis, float(pick["diff"]), mis_sig, rand, pool, note)


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
