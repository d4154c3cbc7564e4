"""Table assembly of a run: from the dataset (with every judge's preferences), the factor table and the
judges' results to the tables of ``RUN_DIR/tables/`` — factor scores, alignment with the human (tau and
agreement, like the paper's Table 1), differences, evaluator bias and rewards. Callable on its own (the
report's tests build their run directories with it); :data:`SCHEMAS` declares every table's columns.

Evaluation judges report agreement and alignment under two protocols: the judge's own verdict (with
``both_orders``: the two orders combined by its ``combine`` rule) and the paper's single-order protocol
(only the (A, B) order: columns ``*_first_order``), so numbers compare with the paper's Table 1.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from ..data.dataset import Dataset
from ..judges import FIRST_ORDER, JudgeKind, JudgeResult
from ..scoring import agreement, factor_scores
from ..stats import FactorScoreResult, align, compare_judges
from ..stats.alignment import TieRule as AgreementTies
from .config import StatsConfig

__all__ = ["SCHEMAS", "frame", "score_judges", "assemble_tables", "JUDGE_COLUMNS"]

JUDGE_COLUMNS = ("judge", "kind", "setting")

#: The columns of every table ``assemble_tables`` returns (docs/run-directory.md explains each).
SCHEMAS: dict[str, tuple[str, ...]] = {
    "alignment": (
        *JUDGE_COLUMNS, "model", "policy", "kendall_tau", "kendall_p", "kendall_ci_low",
        "kendall_ci_high", "spearman_rho", "spearman_p", "pearson_r",
        "pearson_p", "n_factors", "agreement", "agreement_ci_low", "agreement_ci_high", "n_agreement_pairs",
        "protocol", "kendall_tau_first_order", "agreement_first_order", "agreement_first_order_ci_low",
        "agreement_first_order_ci_high", "n_agreement_pairs_first_order", "n_failed", "note"),
    "differences": ("judge", "factor", "score_human", "score_judge", "diff", "ci_low", "ci_high", "p_value",
                    "p_holm", "significant"),
    "evaluator_bias": ("judge", "model", "n_pairs", "first_position_win_rate", "flip_rate", "tie_rate", "n_invalid"),
    "rewards": ("judge", "output_id", "reward"),
}


def frame(name: str, rows: Sequence[dict[str, Any]] | pd.DataFrame) -> pd.DataFrame:
    """A table with exactly the columns of ``SCHEMAS[name]`` (missing ones are NaN)."""
    df = rows if isinstance(rows, pd.DataFrame) else pd.DataFrame(list(rows))
    return df.reindex(columns=list(SCHEMAS[name]))


def _nan(x: Any) -> float:
    return float("nan") if x is None else float(x)


def score_judges(dataset: Dataset, table: Any, judges: Sequence[JudgeResult], factors: Sequence[str],
                 st: StatsConfig) -> dict[str, FactorScoreResult]:
    """Factor scores (tau_14, bootstrap CIs) of every judge that has preferences, by judge name."""
    return {j.name: factor_scores(dataset, table, judge=j.name, factors=list(factors), policy=j.policy,
                                  n_boot=st.n_boot, ci=st.ci, seed=st.seed)
            for j in judges if j.preferences}


def _protocol_view(dataset: Dataset, j: JudgeResult, protocol: str) -> tuple[Dataset, str]:
    """The dataset with ``j``'s verdicts under ``protocol`` as a judge of their own."""
    name = f"{j.name}#{protocol}"
    prefs = [dataclasses.replace(p, judge=name) for p in j.protocols[protocol]]
    return Dataset(dataset.name, dataset.task, dataset.examples, dataset.outputs, dataset.pairs,
                   [*dataset.preferences, *prefs], dataset.report), name


def _agreement(dataset: Dataset, judge: str, ties: AgreementTies) -> dict[str, Any]:
    human_pairs = {p.pair_id for p in dataset.preferences_of("human")}
    if not human_pairs & {p.pair_id for p in dataset.preferences_of(judge)}:
        return {}
    ag = agreement(dataset, "human", judge, ties=ties)
    return {"agreement": ag.agreement, "agreement_ci_low": ag.ci_low, "agreement_ci_high": ag.ci_high,
            "n_agreement_pairs": ag.n}


def _alignment_row(dataset: Dataset, table: Any, j: JudgeResult, res: FactorScoreResult,
                   human: FactorScoreResult | None, factors: Sequence[str], st: StatsConfig) -> dict[str, Any]:
    a = align(human, res, n_boot=st.n_boot, ci=st.ci, seed=st.seed) if human is not None else None
    row: dict[str, Any] = {"judge": j.name, "kind": j.kind.value, "setting": j.setting, "model": j.model,
                           "policy": j.policy, "n_factors": a.n_factors if a else 0, "n_agreement_pairs": 0,
                           "n_agreement_pairs_first_order": 0, "n_failed": j.n_failed,
                           "note": a.note if a else "no human judge"}
    if a is not None:
        row.update(kendall_tau=a.kendall_tau, kendall_p=a.kendall_p, kendall_ci_low=a.kendall_ci_low,
                   kendall_ci_high=a.kendall_ci_high, spearman_rho=a.spearman_rho,
                   spearman_p=a.spearman_p, pearson_r=a.pearson_r, pearson_p=a.pearson_p)
    if human is None:
        return row
    row.update(_agreement(dataset, j.name, st.agreement_ties))
    if j.kind == JudgeKind.EVALUATION:
        both = bool(j.stats.get("both_orders"))
        row["protocol"] = f"both orders, combined '{j.stats.get('combine')}'" if both else "first order only"
    if FIRST_ORDER in j.protocols and j.protocols[FIRST_ORDER]:
        view, name = _protocol_view(dataset, j, FIRST_ORDER)
        first = factor_scores(view, table, judge=name, factors=list(factors), policy=j.policy, n_boot=0,
                              seed=st.seed)
        row["kendall_tau_first_order"] = align(human, first).kendall_tau
        row.update({f"{k}_first_order" if k != "n_agreement_pairs" else "n_agreement_pairs_first_order": v
                    for k, v in _agreement(view, name, st.agreement_ties).items()})
    return row


def assemble_tables(dataset: Dataset, factor_table: Any, judges: Sequence[JudgeResult], stats_cfg: StatsConfig,
                    *, factors: Sequence[str] | None = None,
                    scores: dict[str, FactorScoreResult] | None = None) -> dict[str, pd.DataFrame]:
    """The run's tables by name (``factor_scores``, ``alignment``, ``differences``, ``evaluator_bias`` and,
    when a reward model judged, ``rewards``). ``dataset`` holds every judge's preferences and every
    generated output; ``factors`` default to the factor table's; ``scores`` (from :func:`score_judges`)
    are computed when not given."""
    st = stats_cfg
    names = list(factors) if factors is not None else list(factor_table.factor_names)
    scores = scores if scores is not None else score_judges(dataset, factor_table, judges, names, st)
    by_name = {j.name: j for j in judges}
    fs = []
    for n, r in scores.items():
        df = r.to_frame()
        df.insert(0, "setting", by_name[n].setting)
        df.insert(0, "kind", by_name[n].kind.value)
        df.insert(0, "judge", n)
        df["policy"] = by_name[n].policy
        fs.append(df)
    human = scores.get("human")
    al_rows, diff_rows, bias_rows = [], [], []
    for j in judges:
        if j.kind == JudgeKind.HUMAN or j.name not in scores:
            continue
        al_rows.append(_alignment_row(dataset, factor_table, j, scores[j.name], human, names, st))
        if human is not None and names:
            diff = compare_judges(scores[j.name], human, n_boot=st.difference_boot, seed=st.seed).to_frame()
            diff_rows += [{"judge": j.name, "factor": r.factor, "score_human": r.score_b, "score_judge": r.score_a,
                           "diff": r.diff, "ci_low": r.ci_low, "ci_high": r.ci_high, "p_value": r.p_value,
                           "p_holm": r.p_holm, "significant": bool(r.significant_holm)} for r in diff.itertuples()]
        if j.kind == JudgeKind.EVALUATION:
            bias_rows.append({"judge": j.name, "model": j.model, "n_pairs": len(j.preferences),
                              "first_position_win_rate": _nan(j.stats.get("first_position_win_rate")),
                              "flip_rate": _nan(j.stats.get("flip_rate")), "tie_rate": _nan(j.stats.get("tie_rate")),
                              "n_invalid": j.stats.get("n_invalid", 0)})
    tables = {"factor_scores": pd.concat(fs, ignore_index=True) if fs else pd.DataFrame(),
              "alignment": frame("alignment", al_rows), "differences": frame("differences", diff_rows),
              "evaluator_bias": frame("evaluator_bias", bias_rows)}
    rewards = [j.tables["rewards"] for j in judges if "rewards" in j.tables]
    if rewards:
        tables["rewards"] = frame("rewards", pd.concat(rewards, ignore_index=True))
    for name in ("alignment", "evaluator_bias"):  # integer counts stay integers
        for c in [c for c in tables[name].columns if c.startswith("n_")]:
            tables[name][c] = pd.to_numeric(tables[name][c]).fillna(0).astype(int)
    return tables
