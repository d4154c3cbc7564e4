"""CLI of the experiments: ``guide``, ``improve``, ``generalize``, ``paradox``, ``human-check export|import``."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.table import Table

from ..cli_options import ModelOpt, OutOpt, model_or_default

__all__ = ["register"]


def _console():
    from ..cli_options import err, out

    return out, err


def paradox(
    model: ModelOpt = None,
    run_dir: OutOpt = None,
    data: Annotated[Optional[Path], typer.Option("--data", help="JSONL with id, question, answers (default: the shipped 150 TriviaQA questions).")] = None,
    limit: Annotated[Optional[int], typer.Option("--limit", help="Random sample of N questions (seeded).")] = None,
    seed: Annotated[int, typer.Option("--seed", help="Seed of the sample and the sampling.")] = 0,
    other: Annotated[Optional[list[str]], typer.Option("--other-model", help="Another model whose answers are judged too, as extra candidates (repeatable).")] = None,
    match: Annotated[str, typer.Option("--match", help="exact: normalised answer equals an alias; contains: an alias occurs in it.")] = "exact",
    temperature: Annotated[float, typer.Option("--temperature")] = 0.6,
    refresh: Annotated[bool, typer.Option("--refresh", help="Ignore cached answers and ask again.")] = False,
) -> None:
    """The Generative AI Paradox on TriviaQA: generation accuracy, evaluation accuracy (of its own answer,
    the gold answer and other models' answers) and unfaithful evaluation (the share of correct evaluations
    on the questions it answered wrongly). Written to OUT/experiments/paradox/ (default OUT: runs/paradox)."""
    from .paradox import run_paradox

    out, err = _console()
    model, run_dir = model_or_default(model), run_dir or Path("runs/paradox")
    res = run_paradox(model, run_dir=run_dir, source=data, limit=limit, seed=seed, match=match,  # type: ignore[arg-type]
                      temperature=temperature, others=other or (), cache_mode="refresh" if refresh else "use")
    t = Table(title=f"Generative AI paradox on TriviaQA: {res.summary['model']} ({res.summary['n_questions']} questions, {match} match)")
    for c in ("measure", "value", "95% CI", "k / n"):
        t.add_column(c, justify="left" if c == "measure" else "right")
    for r in res.summary_frame().itertuples():
        s = res.summary[r.measure]
        t.add_row(r.measure.replace("_", " "), "-" if r.value != r.value else f"{r.value:.3f}",
                  "-" if r.ci_low != r.ci_low else f"[{r.ci_low:.3f}, {r.ci_high:.3f}]", f"{s['k']} / {s['n']}")
    out.print(t)
    f = res.summary["failures"]
    err.print(f"failures: {f['generation']} of {f['generation_requests']} answers and {f['judgement']} of "
              f"{f['judgement_requests']} judgements unusable (excluded, not guessed)")
    err.print(f"wrote {Path(run_dir) / 'experiments' / 'paradox'}")


RunDirArg = Annotated[Path, typer.Argument(help="Run directory of `profile-align run`.")]
RefreshOpt = Annotated[bool, typer.Option("--refresh", help="Ignore cached answers and ask again.")]


def _frame_table(df, title: str) -> Table:
    t = Table(title=title)
    for c in df.columns:
        t.add_column(str(c), justify="left" if df[c].dtype == object else "right")
    for row in df.itertuples(index=False):
        t.add_row(*["-" if (isinstance(v, float) and v != v) or v is None else
                    (f"{v:+.3f}" if isinstance(v, float) else str(v)) for v in row])
    return t


def guide(
    run_dir: RunDirArg,
    judge: Annotated[Optional[str], typer.Option("--judge", help="Evaluation judge of the run (default: the first).")] = None,
    model: ModelOpt = None,
    n: Annotated[int, typer.Option("--n", help="Number of human-judged pairs to re-judge.")] = 200,
    seed: Annotated[int, typer.Option("--seed", help="Seed of the pair sample, GuideRand and the bootstrap.")] = 0,
    guidance: Annotated[Optional[Path], typer.Option("--guidance", help="File of 'factor: sentence' lines (or YAML) overriding our guidance sentences.")] = None,
    unadjusted: Annotated[bool, typer.Option("--unadjusted", help="GuideRand's pool by unadjusted p-values (default: Holm-adjusted).")] = False,
    top: Annotated[Optional[int], typer.Option("--top", help="GuideMis is chosen among the model's top N factors (default: half of them).")] = None,
    n_boot: Annotated[int, typer.Option("--n-boot")] = 2000,
    refresh: RefreshOpt = False,
) -> None:
    """Factor guidance for an evaluator: re-judge the same pairs with no guidance, GuideRand and GuideMis."""
    from .guide import run_guide

    out, err = _console()
    res = run_guide(run_dir, judge=judge, model=model, n=n, seed=seed, guidance=guidance, adjusted=not unadjusted,
                    n_boot=n_boot, top=top, cache_mode="refresh" if refresh else "use")
    s = res.summary
    gm = s["guide_mis"]
    err.print(f"GuideMis: {gm['factor']} (rank {gm['rank_model']} for the model, {gm['rank_human']} for humans; "
              f"model - human = {gm['diff_model_minus_human']:+.3f}, "
              f"{'significant' if gm['significant'] else 'not significant'}); "
              f"GuideRand: {s['guide_rand']['factor']}" + (f"  [{s['note']}]" if s["note"] else ""))
    cols = ["condition", "factor", "agreement", "ci_low", "ci_high", "change_vs_none", "change_ci_low", "change_ci_high", "n_pairs"]
    out.print(_frame_table(res.conditions[cols], f"agreement with humans on {s['n_pairs']} pairs ({s['judge']})"))
    m = s["mcnemar_mis_vs_none"]
    out.print(f"McNemar GuideMis vs none: {m['treatment_only_right']} pairs fixed, {m['baseline_only_right']} broken, "
              f"exact p = {m['p_value']:.3g}")
    if s["n_pairs_dropped"]:
        err.print(f"{s['n_pairs_dropped']} pairs without a valid verdict in every condition were left out")


def improve(
    run_dir: RunDirArg,
    generator: Annotated[Optional[str], typer.Option("--generator", help="Generator model string (default: the run's evaluation judge's model).")] = None,
    evaluator: Annotated[Optional[str], typer.Option("--evaluator", help="Evaluator model string (default: the generator). tau_evaluator compares with the run's evaluation judge of this model.")] = None,
    evaluator_judge: Annotated[Optional[str], typer.Option("--evaluator-judge", help="The run's evaluation judge whose factor scores are the evaluator's (default: the one with the evaluator's model).")] = None,
    factor_model: Annotated[Optional[str], typer.Option("--factor-model", help="Model for LLM-extracted factors (default: the run's).")] = None,
    n: Annotated[int, typer.Option("--n", help="Number of examples.")] = 20,
    seed: Annotated[int, typer.Option("--seed")] = 0,
    select: Annotated[Optional[str], typer.Option("--select", help="Comma-separated factors (default: the run's factors).")] = None,
    refresh: RefreshOpt = False,
) -> None:
    """Feedback-driven improvement vs baselines A and B: factor scores of improvement and their alignment."""
    from .improve import run_improve

    out, err = _console()
    names = [x.strip() for x in select.split(",")] if select else None
    res = run_improve(run_dir, generator=generator, evaluator=evaluator, n=n, seed=seed, factors=names,
                      factor_model_string=factor_model, evaluator_judge=evaluator_judge,
                      cache_mode="refresh" if refresh else "use")
    out.print(_frame_table(res.alignment, f"alignment of improvement factor scores ({res.summary['n_examples']} examples)"))
    piv = res.scores.pivot(index="factor", columns="condition", values="score").reset_index()
    rule = res.scores["tie_rule"].iloc[0] if "tie_rule" in res.scores.columns and len(res.scores) else "-"
    out.print(_frame_table(piv, f"improvement factor scores (tau_14, improved text preferred; tie policy {rule})"))
    err.print(f"failures: {res.summary['failures']}")
    ev = res.summary
    err.print(f"tau_evaluator compares with {ev['evaluator_judge']} (the evaluator {ev['evaluator']})"
              if ev["evaluator_judge"] else ev["evaluator_note"])


def generalize(
    run_dir: RunDirArg,
    judge: Annotated[Optional[str], typer.Option("--judge", help="Generation judge of the run (default: the first).")] = None,
    model: ModelOpt = None,
    refresh: RefreshOpt = False,
) -> None:
    """Direct vs score-k generations: cosine similarity of min-max scaled mean factor vectors (--model writes
    the direct generations when the run has none; default: the judge's model)."""
    from .generalize import run_generalize

    out, _ = _console()
    res = run_generalize(run_dir, judge=judge, model=model, cache_mode="refresh" if refresh else "use")
    out.print(_frame_table(res.similarity, f"similarity of direct and score-k outputs ({res.summary['judge']})"))


human_check = typer.Typer(help="Human check of a judge's preferences: export a form for annotators, import their answers.",
                          no_args_is_help=True)


@human_check.command("export")
def hc_export(
    run_dir: Annotated[Path, typer.Argument(help="Run directory of `profile-align run`.")],
    judge: Annotated[str, typer.Option("--judge", help="Judge whose pairs to check, e.g. local:generation.")],
    n: Annotated[int, typer.Option("--n", help="Number of pairs.")] = 50,
    annotators: Annotated[int, typer.Option("--annotators", help="Annotator columns in the CSV form.")] = 3,
    seed: Annotated[int, typer.Option("--seed")] = 0,
) -> None:
    """Write form.csv and form.html (offline, texts escaped, order of each pair randomised) and the key."""
    from .human_check import export_form

    _, err = _console()
    paths = export_form(run_dir, judge, n=n, annotators=annotators, seed=seed)
    for k, p in paths.items():
        err.print(f"{k}: {p}")


@human_check.command("import")
def hc_import(
    run_dir: Annotated[Path, typer.Argument(help="Run directory the form was exported from.")],
    answers: Annotated[list[Path], typer.Argument(help="Filled form.csv, or one answers_<name>.csv per annotator.")],
) -> None:
    """Agreement of the annotators' majority with the judge (Wilson CI, Fleiss' kappa)."""
    from .human_check import import_answers

    out, _ = _console()
    s = import_answers(run_dir, answers)
    t = Table(title=f"human check of {s['judge']}")
    t.add_column("measure")
    t.add_column("value", justify="right")
    for k in ("items", "answered", "with_majority", "no_majority", "majority_is_tie"):
        t.add_row(k.replace("_", " "), str(s[k]))
    t.add_row("agreement with judge", f"{s['agreement']:.3f} [{s['ci_low']:.3f}, {s['ci_high']:.3f}]")
    t.add_row("Fleiss' kappa", f"{s['fleiss_kappa']:.3f}")
    out.print(t)


def register(app: typer.Typer) -> None:
    app.command("guide")(guide)
    app.command("improve")(improve)
    app.command("generalize")(generalize)
    app.command("paradox")(paradox)
    app.add_typer(human_check, name="human-check")
