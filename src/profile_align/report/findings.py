"""Plain-language readings of factor scores and the report's "Key findings" paragraph (first section).

:func:`plain_reading` turns a score and its counts into a sentence: among the *decisive* pairs (the
judge preferred one text and the factor differs), tau_14's concordant share is ``C / (C + D)``, e.g.
"+0.11: in decisive pairs the text with more length is preferred 56% of the time (of 1,204)". The
terminal (``score``) and the report use this one function.
"""

from __future__ import annotations

import math
from typing import Any

import pandas as pd

from .blocks import Block, Note
from .build import RunData
from .derive import differences, factor_label, score_matrix
from .sections import register_section

__all__ = ["plain_reading", "key_findings"]


def plain_reading(factor_label_: str, score: float, concordant: int, discordant: int) -> str:
    """One sentence: how often the preferred text has more of the factor, among the decisive pairs."""
    n = int(concordant) + int(discordant)
    if score is None or (isinstance(score, float) and math.isnan(score)) or n == 0:
        return "no decisive pair: the factor never differs where the judge chose a text"
    share = concordant / n
    return (f"{score:+.2f}: in decisive pairs the text with more {factor_label_} is preferred "
            f"{share:.0%} of the time (of {n:,})")


def _top(col: Any, k: int = 2) -> str:
    s = col.dropna()
    if s.empty:
        return "no factor scored"
    order = s.abs().sort_values(ascending=False).index[:k]
    return ", ".join(f"{factor_label(f)} ({s[f]:+.2f})" for f in order)


def key_findings(run: RunData) -> list[str]:
    """Sentences: the largest factors per judge, the biggest significant human-model differences, the
    alignment with the human judge (or why it is undefined), and the diagnostic flags."""
    out: list[str] = []
    s = score_matrix(run, "score")
    if not s.empty:
        out.append("Largest factors (by |tau_14|): " + "; ".join(f"{j}: {_top(s[j])}" for j in s.columns) + ".")
    d = differences(run)
    if not d.empty:
        sig = d[d["significant"]].copy()
        if sig.empty:
            out.append("No human-model difference in a factor score is significant after Holm adjustment.")
        else:
            sig["abs"] = sig["diff"].abs()
            top = sig.sort_values("abs", ascending=False).head(3)
            out.append("Biggest significant differences (judge − human, Holm-adjusted): " + "; ".join(
                f"{r.judge} on {factor_label(r.factor)} {r.diff:+.2f}" for r in top.itertuples()) + ".")
    if run.alignment is not None and not run.alignment.empty and "kendall_tau" in run.alignment.columns:
        parts = []
        for r in run.alignment.to_dict(orient="records"):
            if str(r.get("kind")) == "human":
                continue
            tau = r.get("kendall_tau")
            if tau is None or (isinstance(tau, float) and math.isnan(tau)):
                parts.append(f"{r['judge']}: {r.get('note') or 'undefined'}")
            else:
                lo, hi = r.get("kendall_ci_low"), r.get("kendall_ci_high")
                ci = "" if lo is None or hi is None or pd.isna(lo) or pd.isna(hi) else \
                    f" (95% CI {float(lo):+.2f} to {float(hi):+.2f})"
                parts.append(f"{r['judge']}: Kendall tau {float(tau):+.2f}{ci}")
        if parts:
            out.append("Alignment with the human factor ranking — " + "; ".join(parts) + ".")
    spread = _subgroup_spread(run)
    if spread:
        out.append(spread)
    flags = run.manifest.get("flags") or []
    if flags:
        names = sorted({f"{f.get('flag')} ({f.get('judge') or f.get('model') or f.get('prompt_type')})"
                        for f in flags if isinstance(f, dict)})
        out.append(f"Diagnostic flags: {', '.join(names)} — read those judges' numbers with care.")
    else:
        out.append("No diagnostic flag was raised.")
    return out


def _subgroup_spread(run: RunData) -> str:
    """With subgroup scores (``tables/group_scores``): per judge, the factor whose score differs most
    between subgroups, with its lowest and highest subgroup."""
    from ..rundir import TABLES, RunDir

    rd = RunDir(run.path)
    if not rd.has_table(TABLES["group_scores"]):
        return ""
    g = rd.read_table(TABLES["group_scores"])
    cols = [c for c in (run.manifest.get("group_by") or []) if c in g.columns]
    if not cols or g.empty:
        return ""
    g = g[pd.to_numeric(g["score"], errors="coerce").notna()].assign(
        group_label=g[cols].astype(str).agg(", ".join, axis=1))
    parts = []
    for judge, sub in g.groupby("judge", sort=False):
        best: tuple[float, str] | None = None
        for factor, fs in sub.groupby("factor", sort=False):
            if fs["group_label"].nunique() < 2:
                continue
            lo, hi = fs.loc[fs["score"].idxmin()], fs.loc[fs["score"].idxmax()]
            gap = float(hi["score"] - lo["score"])
            text = (f"{judge}: {factor_label(str(factor))} from {float(lo['score']):+.2f} ({lo['group_label']}) "
                    f"to {float(hi['score']):+.2f} ({hi['group_label']})")
            if best is None or gap > best[0]:
                best = (gap, text)
        if best is not None:
            parts.append(best[1])
    return ("Largest difference between subgroups (" + ", ".join(cols) + "): " + "; ".join(parts) + ".") \
        if parts else ""


@register_section("findings", "Key findings", "The run in a few sentences; every number is in the sections below.")
def sec_findings(run: RunData) -> list[Block]:
    return [Note(" ".join(key_findings(run)))]
