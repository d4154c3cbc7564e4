"""Numbers the report derives from the run's tables (shared by the HTML, Markdown and figures).

Nothing here re-runs an analysis: it reshapes stored tables, except the factor correlation matrix
(Spearman over the factor table's rows) and the alignment of a model's generation and evaluation
judges (from their stored factor scores), which no table of the run holds.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from ..taxonomy import REGISTRY
from .build import RunData

__all__ = [
    "factor_label", "factor_level2", "factor_level3", "differences", "factor_correlation", "GenEvalPair",
    "gen_eval_pairs", "score_matrix", "judge_label", "striking_factors", "all_flags", "diagnostics_ran",
    "llm_usage", "n_bad_calls",
]


def factor_label(name: str) -> str:
    return REGISTRY.get(name).label if name in REGISTRY else name


def factor_level2(name: str) -> str:
    return REGISTRY.get(name).level2 if name in REGISTRY else "(not registered)"


def factor_level3(name: str) -> str:
    return REGISTRY.get(name).level3.value if name in REGISTRY else "(not registered)"


def judge_label(name: str) -> str:
    """``local:evaluation`` -> ``local``: the model label of a model judge."""
    for kind in ("generation", "evaluation"):
        if name.endswith(":" + kind):
            return name[: -len(kind) - 1]
    return name


def score_matrix(run: RunData, column: str = "score") -> pd.DataFrame:
    """Factors (rows, in :attr:`RunData.factor_order`) x judges (columns, in the run's judge order)."""
    if run.scores is None or column not in run.scores.columns:
        return pd.DataFrame()
    wide = run.scores.pivot_table(index="factor", columns="judge", values=column, aggfunc="first", dropna=False)
    judges = [j for j in run.judge_names if j in wide.columns] + sorted(set(wide.columns) - set(run.judge_names))
    factors = [f for f in run.factor_order if f in wide.index]
    return wide.reindex(index=factors, columns=judges).astype(float)


def differences(run: RunData) -> pd.DataFrame:
    """The differences table with ``diff`` = judge - human whatever the stored sign convention (the CI
    is flipped with it). Columns: judge, factor, score_human, score_judge, diff, ci_low, ci_high, p_value,
    p_holm, significant (bool: Holm-adjusted when ``p_holm`` is present)."""
    cols = ["judge", "factor", "score_human", "score_judge", "diff", "ci_low", "ci_high", "p_value", "p_holm",
            "significant"]
    d = run.differences
    if d is None or d.empty or not {"judge", "factor", "score_human", "score_judge"} <= set(d.columns):
        return pd.DataFrame(columns=cols)
    rows = []
    for r in d.to_dict(orient="records"):
        sh, sj = _f(r.get("score_human")), _f(r.get("score_judge"))
        want = sj - sh
        stored = _f(r.get("diff", want))
        lo, hi = _f(r.get("ci_low")), _f(r.get("ci_high"))
        if not math.isnan(stored) and not math.isnan(want) and abs(stored + want) < 1e-9 and abs(want) > 1e-12:
            lo, hi = -hi, -lo  # stored as human - judge
        p, ph = _f(r.get("p_value")), _f(r.get("p_holm"))
        sig = r.get("significant")
        if sig is None or (isinstance(sig, float) and math.isnan(sig)):
            ref = ph if not math.isnan(ph) else p
            sig = bool(ref < 0.05) if not math.isnan(ref) else False
        rows.append({"judge": str(r["judge"]), "factor": str(r["factor"]), "score_human": sh, "score_judge": sj,
                     "diff": want, "ci_low": lo, "ci_high": hi, "p_value": p, "p_holm": ph, "significant": bool(sig)})
    out = pd.DataFrame(rows, columns=cols)
    order = {f: i for i, f in enumerate(run.factor_order)}
    jorder = {j: i for i, j in enumerate(run.judge_names)}
    out["_j"] = out["judge"].map(lambda j: jorder.get(j, len(jorder)))
    out["_f"] = out["factor"].map(lambda f: order.get(f, len(order)))
    return out.sort_values(["_j", "judge", "_f", "factor"], kind="stable").drop(columns=["_j", "_f"]).reset_index(drop=True)


def _f(v: object) -> float:
    try:
        return float(v)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return float("nan")


def factor_correlation(run: RunData) -> pd.DataFrame:
    """Spearman correlation of the factor values over all outputs (NaN for a constant factor)."""
    if run.factors is None:
        return pd.DataFrame()
    names = [f for f in run.factor_order if f in run.factors.factor_names]
    names += [f for f in run.factors.factor_names if f not in names]
    if len(names) < 2:
        return pd.DataFrame()
    vals = run.factors.values[names].astype(float)
    return vals.corr(method="spearman", min_periods=3)


@dataclass(frozen=True)
class GenEvalPair:
    label: str
    generation: str
    evaluation: str


GENERATION_SUFFIX = "/generation"  # a reward model ranking the generators' outputs: rm:<label>/generation


def _setting_and_label(j: Any) -> tuple[str | None, str]:
    """A model judge's setting and the label shared by its two settings (human: no setting)."""
    if j.kind == "human":
        return None, j.name
    setting = j.setting or (j.kind if j.kind in ("generation", "evaluation") else
                            "generation" if j.name.endswith(GENERATION_SUFFIX) else "evaluation")
    name = j.name[: -len(GENERATION_SUFFIX)] if j.name.endswith(GENERATION_SUFFIX) else j.name
    return setting, judge_label(name)


def gen_eval_pairs(run: RunData) -> list[GenEvalPair]:
    """Models (and reward models) judged in both settings, with factor scores in both."""
    if run.scores is None:
        return []
    have = set(run.scores["judge"])
    by: dict[str, dict[str, str]] = {}
    for j in run.judges:
        setting, label = _setting_and_label(j)
        if setting is not None and j.name in have:
            by.setdefault(setting, {})[label] = j.name
    gens, evs = by.get("generation", {}), by.get("evaluation", {})
    return [GenEvalPair(k, gens[k], evs[k]) for k in sorted(set(gens) & set(evs))]


def striking_factors(run: RunData, judge: str, k: int = 3) -> list[str]:
    """The ``k`` factors where ``judge`` differs most from the human (|judge - human| score)."""
    d = differences(run)
    d = d[d["judge"] == judge]
    if d.empty:
        m = score_matrix(run)
        if "human" not in m.columns or judge not in m.columns:
            return []
        d = pd.DataFrame({"factor": m.index, "diff": (m[judge] - m["human"]).to_numpy()})
    d = d.assign(_a=np.abs(d["diff"].astype(float))).dropna(subset=["_a"])
    d = d.sort_values(["_a", "factor"], ascending=[False, True], kind="stable")
    return list(d["factor"][:k])


def all_flags(run: RunData) -> list[dict]:
    """Flags of the manifest and of diagnostics.json, deduplicated, in that order."""
    import json

    flags = [f for f in (run.manifest.get("flags") or []) if isinstance(f, dict)]
    seen = {json.dumps(f, sort_keys=True, default=str) for f in flags}
    if isinstance(run.diagnostics, dict):
        for f in run.diagnostics.get("flags") or []:
            key = json.dumps(f, sort_keys=True, default=str)
            if isinstance(f, dict) and key not in seen:
                seen.add(key)
                flags.append(f)
    return flags


def diagnostics_ran(run: RunData) -> bool:
    """diagnostics.json exists, or the manifest carries the diagnostics' summary or flags."""
    m = run.manifest
    return isinstance(run.diagnostics, dict) or "diagnostics" in m or bool(m.get("flags"))


def llm_usage(run: RunData) -> dict | None:
    """The run's LLM usage as the manifest records it (derived from the call records at the end of the
    run); usage.json's total for a run directory whose manifest has none. The header and the Run section
    both read it, so they show the same counts."""
    u = run.manifest.get("usage")
    if not isinstance(u, dict) or not u:
        u = (run.usage or {}).get("total") if isinstance(run.usage, dict) else None
    return u if isinstance(u, dict) and u else None


def n_bad_calls(u: dict) -> int:
    """Failed + unparseable + refused calls of a usage dict."""
    return sum(int(u.get(k) or 0) for k in ("failures", "parse_failures", "refused"))
