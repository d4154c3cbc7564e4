"""``profile-align explain DATA|RUN_DIR``: joint, confound-controlled factor effects of every judge
(docs/joint.md). On a run directory it reads ``dataset/`` and ``factors.parquet`` and writes
``tables/joint_*`` (+ ``tables/joint_effects.json``); on a data set it computes the rule-based factors
(or reads ``--factors``) and writes the tables under ``--out-dir`` when given."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, Optional

import typer
from rich.table import Table

from .cli_options import err, out
from .explain import write_analysis

__all__ = ["register", "explain_cmd"]


def _fmt(x: float, nd: int = 3) -> str:
    return "-" if x is None or x != x else f"{x:+.{nd}f}"


def _ci(lo: float, hi: float) -> str:
    return "-" if lo != lo else f"[{lo:+.3f}, {hi:+.3f}]"


def _print(res: Any) -> None:
    for fit in res.fits.values():
        how = ("example-clustered robust SEs" if fit.inference == "cluster"
               else f"{fit.n_boot} example-bootstrap replicates")
        t = Table(title=f"joint effects of '{fit.judge}' ({fit.model_description}); {fit.n_pairs} of "
                        f"{fit.n_input} pairs, {fit.n_examples} examples; {int(fit.ci * 100)}% CI by {how}"
                        + (f"; L2 {fit.l2:g}" if fit.l2 else ""))
        for c in ("factor", "coef /SD", "CI", "p (Holm)", "dP per SD", "alone", "length-controlled", "tau_14", "VIF"):
            t.add_column(c, justify="left" if c == "factor" else "right")
        for r in fit.to_frame().itertuples(index=False):
            t.add_row(r.factor + (" *" if r.significant else ""), _fmt(r.coef), _ci(r.ci_low, r.ci_high),
                      "-" if r.p_holm != r.p_holm else f"{r.p_holm:.3g}", _fmt(r.delta_prob),
                      _fmt(r.alone_coef), _fmt(r.lc_coef), _fmt(r.tau_14), f"{r.vif:.2f}")
        out.print(t)
        for why, n in fit.dropped.items():
            err.print(f"  {fit.judge}: dropped {n} pairs: {why}", markup=False)
        for f, why in fit.excluded.items():
            err.print(f"  {fit.judge}: excluded {f}: {why}", markup=False)
        for w in fit.warnings:
            err.print(f"  {fit.judge}: {w}", markup=False)
    if not res.predictive.empty:
        t = Table(title="predictive check (cross-validated over examples)")
        for c in ("judge", "model", "accuracy", "log-loss", "pairs", "folds"):
            t.add_column(c, justify="left" if c in ("judge", "model") else "right")
        for r in res.predictive.itertuples(index=False):
            t.add_row(r.judge, r.model, f"{r.accuracy:.3f}", f"{r.log_loss:.4f}", str(r.n_pairs), str(r.folds))
        out.print(t)
    for j, c in res.comparisons.items():
        t = Table(title=f"{j} - {c.judge_a} on the joint scale (paired example bootstrap, B={c.n_boot})")
        for col in ("factor", c.judge_a, j, "diff", "CI", "p (Holm)"):
            t.add_column(col, justify="left" if col == "factor" else "right")
        for r in c.to_frame().itertuples(index=False):
            t.add_row(r.factor + (" *" if r.significant else ""), _fmt(r.coef_a), _fmt(r.coef_b), _fmt(r.diff),
                      _ci(r.ci_low, r.ci_high), "-" if r.p_holm != r.p_holm else f"{r.p_holm:.3g}")
        out.print(t)
        for r in c.alignment_frame().itertuples(index=False):
            out.print(f"  alignment by {r.scale}: Kendall tau {_fmt(r.kendall_tau)}, Spearman {_fmt(r.spearman_rho)}, "
                      f"cosine {_fmt(r.cosine)} over {r.n_factors} factors" + (f" ({r.note})" if r.note else ""),
                      markup=False)
    for j, lc in res.lc_agreement.items():
        out.print(f"  length-controlled agreement of {j} with {lc.reference}: {lc.lc_agreement:.3f} "
                  f"[{lc.lc_low:.3f}, {lc.lc_high:.3f}] vs raw {lc.raw_agreement:.3f} [{lc.raw_low:.3f}, "
                  f"{lc.raw_high:.3f}], change [{lc.change_low:+.3f}, {lc.change_high:+.3f}] ({lc.model} model, "
                  f"{lc.n_pairs} pairs, B={lc.n_boot})", markup=False)
    for s in res.sentences():
        out.print(s, markup=False)
    for p in res.problems:
        err.print(f"warning: {p}", markup=False)


def explain_cmd(
    source: Annotated[str, typer.Argument(help="A run directory (reads dataset/ and factors.parquet, writes tables/joint_*), "
                                               "or a data set: a file or a shipped name (rule factors computed now).")],
    judge: Annotated[Optional[list[str]], typer.Option("--judge", help="Judge to fit (repeatable). Default: every judge.")] = None,
    reference: Annotated[str, typer.Option("--reference", help="Judge the others are compared with.")] = "human",
    select: Annotated[Optional[str], typer.Option("--select", help="Comma-separated factors (default: all in the table).")] = None,
    factors_file: Annotated[Optional[Path], typer.Option("--factors", help="Factor table for a data set (default: rule factors).")] = None,
    ties: Annotated[str, typer.Option("--ties", help="auto (ordinal model when the judge ties) | drop (logit, ties dropped and counted) | ordinal.")] = "auto",
    inference: Annotated[str, typer.Option("--inference", help="cluster (example-clustered robust SEs) | bootstrap (example bootstrap refits).")] = "cluster",
    n_boot: Annotated[int, typer.Option("--n-boot", help="Bootstrap replicates (bootstrap inference; judge differences).")] = 200,
    l2: Annotated[float, typer.Option("--l2", help="Ridge penalty for small data (implies bootstrap CIs).")] = 0.0,
    scale: Annotated[str, typer.Option("--scale", help="value: standardised value differences | sign: sign(A - B) as in tau_14.")] = "value",
    length_factor: Annotated[str, typer.Option("--length-factor", help="Factor held fixed for the length-controlled columns.")] = "length",
    cv_folds: Annotated[int, typer.Option("--cv-folds", help="Folds (of whole examples) of the predictive check; 0 = none.")] = 5,
    ci: Annotated[float, typer.Option("--ci", help="Confidence level.")] = 0.95,
    seed: Annotated[int, typer.Option("--seed", help="Seed of bootstrap and folds.")] = 0,
    fmt: Annotated[Optional[str], typer.Option("--format", help="Input format of a data set (default: detected).")] = None,
    aspect: Annotated[str, typer.Option("--aspect", help="SummEval aspect deciding the preference.")] = "mean",
    out_dir: Annotated[Optional[Path], typer.Option("--out-dir", help="Data-set mode: write tables/joint_* here.")] = None,
) -> None:
    """Joint factor effects: each judge's preference regressed on all factor differences at once (logistic
    Bradley-Terry, or ordinal when the judge ties), so an effect is read with the other factors held fixed;
    next to tau_14, length-controlled coefficients, VIFs, human-vs-model differences and a predictive check."""
    from .explain import explain
    from .factors.table import FactorTable, compute_factors
    from .rundir import RunDir

    path = Path(source)
    names = [s.strip() for s in select.split(",") if s.strip()] if select else None
    if path.is_dir() and (path / "dataset" / "info.json").exists():
        rd = RunDir(path)
        ds = rd.read_dataset()
        if not rd.exists("factors.parquet"):
            raise FileNotFoundError(f"{path}: no factors.parquet (run `profile-align factors --run-dir {path}`)")
        table = rd.read_factors()
        target: Path | None = path
    else:
        from .data.loaders import load_dataset

        ds = load_dataset(source, fmt, aspect=aspect, seed=seed)
        table = FactorTable.load(factors_file) if factors_file else compute_factors(ds, names)
        target = out_dir
    res = explain(ds, table, judges=judge, reference=reference, factors=names, ties=ties, inference=inference,
                  n_boot=n_boot, l2=l2, ci=ci, seed=seed, scale=scale, length_factor=length_factor or None,
                  cv_folds=cv_folds)
    if not res.fits:
        err.print("error: no judge could be fitted:", markup=False)
        for p in res.problems:
            err.print(f"  {p}", markup=False)
        raise typer.Exit(2)
    _print(res)
    if target is not None:
        for name in write_analysis(target, res):
            err.print(f"wrote {Path(target) / name}", markup=False)


def register(app: typer.Typer) -> None:
    app.command("explain")(explain_cmd)
