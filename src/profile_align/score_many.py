"""``score`` with several judges (``--judges``) and/or subgroups (``--group-by``): one table per judge
and subgroup, and the files that ``align`` and a spreadsheet read.

Output (``-o PATH``): without ``--group-by``, one score file per judge, ``PATH`` with the judge name
before the suffix (``scores.human.json``, ``scores.gpt4.json``: the inputs of ``align``); with
``--group-by``, one table (``.csv``, ``.parquet`` or ``.json`` records) with the judge and the group
values in front of each factor row.

Run directory (``--out RUN_DIR``, :func:`write_score_run`): the data set, the factor table, every judge's
scores, the run's tables (``pipeline.analyse.assemble_tables``: factor scores, alignment with the human,
differences) and, with ``--group-by``, ``tables/group_scores``; ``profile-align report RUN_DIR`` renders it
(overview, scores, scores per subgroup, key findings). No model is called.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from .data.dataset import Dataset
from .data.loaders import parse_columns
from .factors.table import FactorTable, compute_factors
from .scoring import factor_scores, group_factor_scores
from .stats import FactorScoreResult

__all__ = ["score_many", "judge_order", "per_judge_path", "scores_frame", "write_score_run", "write_frame"]


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


def write_score_run(out_dir: Path, ds: Dataset, table: FactorTable, factors: Sequence[str] | None, *,
                    policy: str | None, n_boot: int, ci: float, seed: int,
                    group_scores: pd.DataFrame | None = None, group_by: Sequence[str] = (), source: str = "") -> Path:
    """Write a run directory of the data set's own judges (the human and ``--judges`` columns; no model):
    the files and tables ``run`` writes for them (``pipeline.analyse``), plus ``tables/group_scores``
    (one row per subgroup, judge and factor). Returns its path."""
    from .judges import JudgeKind, JudgeResult
    from .pipeline.analyse import assemble_tables, frame, score_judges
    from .pipeline.config import StatsConfig
    from .rundir import TABLES, RunDir
    from .scoring import data_judge_kind, default_policy, judge_kind

    names = list(factors) if factors is not None else list(table.factor_names)
    judges = []
    for j in judge_order(ds):
        kind = data_judge_kind(ds, j) or judge_kind(j)
        judges.append(JudgeResult(j, JudgeKind.parse(kind), None, policy or default_policy(j, kind),
                                  preferences=list(ds.preferences_of(j)), label=j))
    st = StatsConfig.model_validate({"n_boot": n_boot, "ci": ci, "seed": seed})
    rd = RunDir(out_dir, create=True)
    rd.write_dataset(ds)
    rd.write_factors(table)
    scores = score_judges(ds, table, judges, names, st)
    for r in scores.values():
        rd.write_scores(r)
    tables = assemble_tables(ds, table, judges, st, factors=names, scores=scores)
    tables["evaluator_bias"] = frame("evaluator_bias", [])  # label columns: no order was asked, no position bias
    for name, df in tables.items():
        rd.write_table(TABLES[name], df)
    if group_scores is not None and len(group_scores):
        rd.write_table(TABLES["group_scores"], group_scores)
    rd.write_manifest({
        "status": "complete", "command": "score",
        "dataset": {"source": source, "name": ds.name, "task": ds.task, "n_examples": len(ds.examples),
                    "n_outputs": len(ds.outputs), "n_pairs": len(ds.pairs),
                    "load_report": ds.report.to_dict() if ds.report else None},
        "factors": {"names": names, "requested": names, "not_computed": [], "model": None},
        "judges": [j.manifest_entry() for j in judges],
        "stats": st.model_dump(), "group_by": list(group_by), "flags": [],
    })
    return rd.path


def write_frame(df: pd.DataFrame, path: Path) -> None:
    """Write a score table as CSV, Parquet or JSON records, by the file's suffix (``score -o``)."""
    suffix = path.suffix.lower()
    path.parent.mkdir(parents=True, exist_ok=True)
    if suffix == ".csv":
        df.to_csv(path, index=False)
    elif suffix == ".parquet":
        df.to_parquet(path, index=False)
    elif suffix == ".json":
        path.write_text(df.to_json(orient="records", indent=1))
    else:
        raise ValueError(f"unsupported output format {suffix!r}: use .json, .csv or .parquet")


def score_many(ds: Dataset, table: FactorTable | None, factors: Sequence[str] | None, *, group_by: str | None,
               policy: str | None, n_boot: int, ci: float, seed: int, output: Path | None, console: Any,
               err: Any, table_of: Callable[[FactorScoreResult, str], Any], run_dir: Path | None = None,
               source: str = "") -> None:
    """Print and write the scores of every judge of ``ds`` (per subgroup with ``group_by``); with ``run_dir``
    also a run directory that ``profile-align report`` renders (:func:`write_score_run`)."""
    if table is None:
        table = compute_factors(ds, factors)
    groups: pd.DataFrame | None = None
    judges = judge_order(ds)
    kw: dict[str, Any] = dict(factors=factors, policy=policy, n_boot=n_boot, ci=ci, seed=seed)
    how = f"{int(ci * 100)}% CI by cluster bootstrap (B={n_boot}, seed {seed})"
    if group_by:
        columns = parse_columns(group_by)
        results = group_factor_scores(ds, table, columns, judges=judges, **kw)
        for key, per_judge in results.items():
            label = ", ".join(f"{c}={v}" for c, v in zip(columns, key))
            for judge, res in per_judge.items():
                console.print(table_of(res, f"{label}: factor scores of judge '{judge}': {res.n_pairs} pairs, "
                                            f"tie policy {res.policy.label}, {how}"))
        console.print(ds.cluster_note(), markup=False, highlight=False)
        groups = scores_frame(results, columns)
        if output is not None:
            write_frame(groups, output)
            err.print(f"wrote {output}")
    else:
        _score_each(ds, table, judges, kw, how, output, console, err, table_of)
    if run_dir is not None:
        path = write_score_run(run_dir, ds, table, factors, policy=policy, n_boot=n_boot, ci=ci, seed=seed,
                               group_scores=groups, group_by=parse_columns(group_by) if group_by else (),
                               source=source)
        err.print(f"wrote run directory {path} (profile-align report {path})")


def _score_each(ds: Dataset, table: FactorTable, judges: Sequence[str], kw: dict[str, Any], how: str,
                output: Path | None, console: Any, err: Any, table_of: Callable[[FactorScoreResult, str], Any]
                ) -> None:
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
