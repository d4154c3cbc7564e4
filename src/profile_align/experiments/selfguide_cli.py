"""CLI of the later revision's additions: ``logprob-check`` and ``selfguide-export``."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.table import Table

from ..cli_options import ModelOpt, RefreshOpt

__all__ = ["register", "logprob_check", "selfguide_export"]

RunDirArg = Annotated[Path, typer.Argument(help="Run directory of `profile-align run`.")]


def _console():
    from ..cli_options import err, out

    return out, err


def _fmt(v) -> str:
    if v is None or (isinstance(v, float) and v != v):
        return "-"
    return f"{v:+.3f}" if isinstance(v, float) else str(v)


def _fail(err, exc: Exception) -> None:
    err.print(f"error: {exc}", markup=False)
    raise typer.Exit(2)


def logprob_check(
    run_dir: RunDirArg,
    judge: Annotated[Optional[str], typer.Option("--judge", help="Generation judge of the run (default: all).")] = None,
    model: ModelOpt = None,
    limit: Annotated[Optional[int], typer.Option("--limit", help="Only the first N examples.")] = None,
    n_boot: Annotated[int, typer.Option("--n-boot")] = 2000,
    seed: Annotated[int, typer.Option("--seed")] = 0,
    refresh: RefreshOpt = False,
) -> None:
    """Correlation of the target score with the generator's own log-probability of each output (given the
    input without the score instruction), per generator: Pearson, Kendall and within-example Kendall.
    --model scores with another model than each generator's own (the run's)."""
    from ..backends import BackendError
    from .logprob import run_logprob_check

    out, err = _console()
    try:
        res = run_logprob_check(run_dir, judge=judge, model=model, limit=limit, n_boot=n_boot, seed=seed,
                                cache_mode="refresh" if refresh else "use")
    except (BackendError, RuntimeError) as exc:
        _fail(err, exc)
    t = Table(title=f"target score vs log-probability ({res.summary['task']})")
    for c in ("generator", "measure", "method", "r", "95% CI", "outputs", "examples"):
        t.add_column(c, justify="left" if c in ("generator", "measure", "method") else "right")
    for r in res.correlations.itertuples():
        t.add_row(r.generator, r.measure, r.method, _fmt(r.r), f"[{_fmt(r.ci_low)}, {_fmt(r.ci_high)}]",
                  str(r.n_outputs), str(r.n_examples))
    out.print(t)
    for g in res.summary["generators"]:
        if g["n_failed"]:
            err.print(f"{g['generator']}: {g['n_failed']} of {g['n_outputs']} outputs could not be scored (left out)")
    err.print(f"wrote {Path(run_dir) / 'logprob'}")


def selfguide_export(
    run_dir: RunDirArg,
    generator: Annotated[Optional[str], typer.Option("--generator", help="Generation judge whose output pairs to judge (default: the first).")] = None,
    evaluator: Annotated[Optional[str], typer.Option("--evaluator", help="Evaluator model string (default: the generator's model).")] = None,
    guidance_factor: Annotated[Optional[str], typer.Option("--guidance-factor", help="Add this factor's guidance sentence to the evaluator's prompt (as in `guide`); auto: GuideMis of the run's evaluation judge.")] = None,
    guidance: Annotated[Optional[Path], typer.Option("--guidance", help="File of 'factor: sentence' lines overriding our guidance sentences.")] = None,
    balance: Annotated[str, typer.Option("--balance", help="none | matched (pairs within --tolerance on the factor) | equal-wins (chosen higher as often as lower).")] = "none",
    balance_factor: Annotated[str, typer.Option("--balance-factor", help="Factor to balance on.")] = "length",
    tolerance: Annotated[float, typer.Option("--tolerance", help="matched: largest relative difference |a-b|/max(|a|,|b|).")] = 0.1,
    weight: Annotated[str, typer.Option("--weight", help="none | balance (each direction of the factor gets the same total weight).")] = "none",
    fmt: Annotated[str, typer.Option("--format", help="conversational (lists of messages) | standard (strings); TRL reads both.")] = "conversational",
    limit: Annotated[Optional[int], typer.Option("--limit", help="Only the first N examples.")] = None,
    out_dir: Annotated[Optional[Path], typer.Option("--dataset-dir", help="Folder of pairs.jsonl / pairs.parquet (default RUN_DIR/selfguide).")] = None,
    seed: Annotated[int, typer.Option("--seed")] = 0,
    n_boot: Annotated[int, typer.Option("--n-boot")] = 1000,
    refresh: RefreshOpt = False,
) -> None:
    """Preference pairs for DPO/ORPO judged by the model's own evaluator, with the factor scores of the
    judged and exported pairs (what the data will teach)."""
    from ..backends import BackendError
    from .selfguide import run_selfguide

    out, err = _console()
    try:
        res = run_selfguide(run_dir, generator=generator, evaluator=evaluator, guidance_factor=guidance_factor,
                            guidance=guidance, balance=balance, balance_factor=balance_factor, tolerance=tolerance,
                            weight=weight, fmt=fmt, limit=limit, seed=seed, n_boot=n_boot, out_dir=out_dir,
                            cache_mode="refresh" if refresh else "use")
    except BackendError as exc:
        _fail(err, exc)
    s = res.summary
    piv = res.factor_scores.pivot(index="factor", columns="set", values="score")
    t = Table(title=f"factor scores of the preference pairs (tau_14, chosen preferred): {s['n_exported']} exported "
                    f"of {s['n_decided']} decided")
    t.add_column("factor")
    for c in piv.columns:
        t.add_column(str(c), justify="right")
    for f, row in piv.iterrows():
        t.add_row(str(f), *[_fmt(float(v)) for v in row])
    out.print(t)
    err.print(f"judged {s['n_pairs_judged']} pairs: {s['n_ties']} ties, {s['n_no_verdict']} without a verdict; "
              f"{s['balance_factor']} of the chosen text vs the rejected: judged {s['direction_judged']}, "
              f"exported {s['direction_exported']}")
    err.print(f"wrote {s['files']['jsonl']} and {s['files']['parquet']}")


def register(app: typer.Typer) -> None:
    app.command("logprob-check")(logprob_check)
    app.command("selfguide-export")(selfguide_export)
