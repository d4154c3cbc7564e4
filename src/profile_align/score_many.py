"""``score`` with several judges (``--judges``) and/or subgroups (``--group-by``): one table per judge
and subgroup, and the files that ``align`` and a spreadsheet read.

Output (``-o PATH``): without ``--group-by``, one score file per judge, ``PATH`` with the judge name
before the suffix (``scores.human.json``, ``scores.gpt4.json``: the inputs of ``align``); with
``--group-by``, one table (``.csv``, ``.parquet`` or ``.json`` records) with the judge and the group
values in front of each factor row.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from .data.dataset import Dataset
from .factors.table import FactorTable, compute_factors
from .scoring import factor_scores, group_factor_scores
from .stats import FactorScoreResult

__all__ = ["score_many", "judge_order", "per_judge_path", "scores_frame"]


def judge_order(ds: Dataset) -> list[str]:
    """``human`` first, then the other judges in name order."""
    return (["human"] if "human" in ds.judges else []) + [j for j in ds.judges if j != "human"]


def per_judge_path(output: Path, judge: str) -> Path:
    """``scores.json`` -> ``scores.<judge>.json``."""
    return output.with_name(f"{output.stem}.{judge}{output.suffix}")


def scores_frame(results: dict[tuple[str, ...], dict[str, FactorScoreResult]], columns: Sequence[str]) -> pd.DataFrame:
    """One row per (group, judge, factor): the group values, the judge, then the score columns."""
    frames = []
    for key, per_judge in results.items():
        for judge, res in per_judge.items():
            df = res.to_frame()
            df.insert(0, "judge", judge)
            for i, col in enumerate(columns):
                df.insert(i, col, key[i])
            frames.append(df)
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()


def _ties_line(ds: Dataset, judge: str) -> str:
    prefs = ds.preferences_of(judge)
    ties = sum(int(p.verdict) == 0 for p in prefs)
    kept = f" ({ds.report.ties_kept} kept human ties)" if judge == "human" and ds.report and ds.report.ties_kept else ""
    return f"{len(prefs)} pairs, {ties} ties{kept}"


def score_many(ds: Dataset, table: FactorTable | None, factors: Sequence[str] | None, *, group_by: str | None,
               policy: str | None, n_boot: int, ci: float, seed: int, output: Path | None, console: Any,
               err: Any, table_of: Callable[[FactorScoreResult, str], Any]) -> None:
    """Print and write the scores of every judge of ``ds`` (per subgroup with ``group_by``)."""
    if table is None:
        table = compute_factors(ds, factors)
    judges = judge_order(ds)
    kw = dict(factors=factors, policy=policy, n_boot=n_boot, ci=ci, seed=seed)
    how = f"{int(ci * 100)}% CI by cluster bootstrap (B={n_boot}, seed {seed})"
    if group_by:
        from .data.loaders import parse_columns

        columns = parse_columns(group_by)
        results = group_factor_scores(ds, table, columns, judges=judges, **kw)
        for key, per_judge in results.items():
            label = ", ".join(f"{c}={v}" for c, v in zip(columns, key))
            for judge, res in per_judge.items():
                console.print(table_of(res, f"{label}: factor scores of judge '{judge}': {res.n_pairs} pairs, "
                                            f"tie policy {res.policy.label}, {how}"))
        console.print(ds.cluster_note(), markup=False, highlight=False)
        if output is not None:
            df = scores_frame(results, columns)
            output.parent.mkdir(parents=True, exist_ok=True)
            suffix = output.suffix.lower()
            if suffix == ".csv":
                df.to_csv(output, index=False)
            elif suffix == ".parquet":
                df.to_parquet(output, index=False)
            elif suffix == ".json":
                output.write_text(df.to_json(orient="records", indent=1))
            else:
                raise ValueError(f"unsupported output format {suffix!r}: use .json, .csv or .parquet")
            err.print(f"wrote {output}")
        return
    for judge in judges:
        res = factor_scores(ds, table, judge=judge, **kw)
        console.print(table_of(res, f"factor scores of judge '{judge}' on {ds.name}: {_ties_line(ds, judge)}, "
                                    f"tie policy {res.policy.label}, {how}"))
        if output is not None:
            path = per_judge_path(output, judge)
            path.parent.mkdir(parents=True, exist_ok=True)
            if path.suffix.lower() == ".json":
                res.save_json(path)
            elif path.suffix.lower() == ".csv":
                res.to_frame().to_csv(path, index=False)
            else:
                res.to_frame().to_parquet(path, index=False)
            err.print(f"wrote {path}")
    console.print(ds.cluster_note(), markup=False, highlight=False)
