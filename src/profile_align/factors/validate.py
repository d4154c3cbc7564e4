"""Validation of the extractor against human ratings, and its self-consistency.

* :func:`validate_against_ratings` — on data whose outputs carry human ratings
  (``Output.metadata["ratings"]``, e.g. the shipped SummEval expert ratings): Kendall tau-b between a
  factor and a rating *at summary level* (per document across its summaries, then averaged over
  documents, as in the SummEval/UniEval literature), with a percentile bootstrap CI over documents.
* :func:`self_consistency` — the same items asked again: fact-level verdicts with the facts shown in
  a shuffled order, response-level labels sampled at temperature 0.6 with another seed; the agreement
  rate is the share of items with the same verdict both times.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

import numpy as np
from numpy.typing import ArrayLike
import pandas as pd
from scipy.stats import kendalltau

from ..data.dataset import Dataset
from .table import FactorTable

__all__ = ["VALIDATION_PAIRS", "validate_against_ratings", "self_consistency", "summary_level_tau"]

# (factor, human rating, expected sign of the correlation)
VALIDATION_PAIRS: tuple[tuple[str, str, int], ...] = (
    ("coherence", "coherence", +1),
    ("fluency", "fluency", +1),
    ("hallucination", "consistency", -1),
    ("source_coverage", "relevance", +1),
)


def _doc_taus(x: np.ndarray, y: np.ndarray, groups: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per document: Kendall tau-b (NaN when < 3 usable outputs or a constant side) and its weight."""
    taus, ns = [], []
    for g in pd.unique(groups):
        m = (groups == g) & ~np.isnan(x) & ~np.isnan(y)
        if m.sum() < 3 or np.ptp(x[m]) == 0 or np.ptp(y[m]) == 0:
            taus.append(np.nan)
        else:
            taus.append(float(kendalltau(x[m], y[m]).statistic))
        ns.append(int(m.sum()))
    return np.array(taus), np.array(ns)


def summary_level_tau(x: ArrayLike, y: ArrayLike, groups: ArrayLike, *, n_boot: int = 1000,
                      seed: int = 0, ci: float = 0.95) -> dict[str, float]:
    """Mean over documents of the per-document Kendall tau-b, with a bootstrap CI over documents."""
    x, y, groups = np.asarray(x, float), np.asarray(y, float), np.asarray(groups)
    taus, ns = _doc_taus(x, y, groups)
    ok = ~np.isnan(taus)
    out = {"kendall_tau": float(taus[ok].mean()) if ok.any() else float("nan"), "ci_low": float("nan"),
           "ci_high": float("nan"), "n_documents": int(ok.sum()), "n_outputs": int(ns[ok].sum())}
    if ok.sum() >= 2 and n_boot > 0:
        rng = np.random.default_rng(seed)
        vals = taus[ok]
        boots = vals[rng.integers(0, len(vals), size=(n_boot, len(vals)))].mean(axis=1)
        a = (1 - ci) / 2
        out["ci_low"], out["ci_high"] = (float(v) for v in np.quantile(boots, [a, 1 - a]))
    return out


def validate_against_ratings(dataset: Dataset, table: FactorTable,
                             pairs: Sequence[tuple[str, str, int]] = VALIDATION_PAIRS, *, n_boot: int = 1000,
                             seed: int = 0) -> pd.DataFrame:
    """One row per (factor, rating): summary-level Kendall tau with CI, expected sign, extractor."""
    ratings = [dict(o.metadata.get("ratings") or {}) for o in dataset.outputs]
    if not any(ratings):
        raise ValueError(f"dataset {dataset.name!r} has no human ratings on its outputs "
                         "(Output.metadata['ratings']); validate-factors needs e.g. the shipped 'summeval' set")
    ids = [o.id for o in dataset.outputs]
    groups = [o.example_id for o in dataset.outputs]
    rows = []
    for factor, rating, sign in pairs:
        if factor not in table.values.columns:
            continue
        x = table.values[factor].reindex(ids).astype(float).to_numpy()
        y = np.array([float(r.get(rating, np.nan)) for r in ratings])
        res = summary_level_tau(x, y, groups, n_boot=n_boot, seed=seed)
        rows.append({"factor": factor, "rating": rating, "expected_sign": sign, **res,
                     "sign_as_expected": ("" if res["kendall_tau"] != res["kendall_tau"]
                                              else "yes" if res["kendall_tau"] * sign > 0 else "no"),
                     "extractor": table.provenance.get(factor, {}).get("extractor", "?"),
                     "missing": int(np.isnan(x).sum())})
    return pd.DataFrame(rows, columns=["factor", "rating", "expected_sign", "kendall_tau", "ci_low", "ci_high",
                                       "n_documents", "n_outputs", "sign_as_expected", "extractor", "missing"])


def _labels(details: pd.DataFrame, factor: str) -> dict[tuple[str, int], Any]:
    """(output id, item index) -> verdict/label, from factor_details."""
    out: dict[tuple[str, int], Any] = {}
    for r in details[details["factor"] == factor].itertuples():
        if not isinstance(r.detail, str):
            continue
        d = json.loads(r.detail)
        if isinstance(d, list):
            for i, item in enumerate(d):
                if isinstance(item, dict):
                    out[(r.output_id, i)] = item.get("verdict")
        elif isinstance(d, dict):
            out[(r.output_id, 0)] = d.get("label")
    return out


def self_consistency(dataset: Dataset, first: Any, *, client: Any, factors: Sequence[str] | None = None,
                     seed: int = 1, progress: bool = True) -> pd.DataFrame:
    """Ask again (shuffled fact order; response labels resampled at T=0.6 with ``seed``) and compare."""
    from .engine import extract_factors
    from .llm import FactLevelExtractor, ResponseLevelExtractor
    from .registry import get_extractor

    kinds = {f: get_extractor(f) for f in (factors or first.table.factor_names)}
    names = [f for f, e in kinds.items() if isinstance(e, (FactLevelExtractor, ResponseLevelExtractor))]
    if not names:
        return pd.DataFrame(columns=["factor", "check", "n_compared", "agreement"])
    second = extract_factors(dataset, names, client=client, fact_order_seed=seed, response_temperature=0.6,
                             response_seed=seed, progress=progress)
    rows = []
    for f in names:
        a, b = _labels(first.details, f), _labels(second.details, f)
        common = [k for k in a if k in b and a[k] is not None and b[k] is not None]
        agree = sum(a[k] == b[k] for k in common)
        check = "shuffled fact order" if isinstance(kinds[f], FactLevelExtractor) else f"resampled (T=0.6, seed {seed})"
        rows.append({"factor": f, "check": check, "n_compared": len(common),
                     "agreement": agree / len(common) if common else float("nan")})
    return pd.DataFrame(rows)
