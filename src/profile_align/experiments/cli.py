"""CLI of the experiments: ``paradox``, ``human-check export|import`` (and more as they land)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.table import Table

__all__ = ["register"]


def _console():
    from ..cli import err, out

    return out, err


def paradox(
    model: Annotated[str, typer.Option("--model", help="Model string (see `profile-align backends list`).")] = "local",
    run_dir: Annotated[Path, typer.Option("--run-dir", help="Run directory to write experiments/paradox/ into (created if missing).")] = Path("runs/paradox"),
    data: Annotated[Optional[Path], typer.Option("--data", help="JSONL with id, question, answers (default: the shipped 150 TriviaQA questions).")] = None,
    limit: Annotated[Optional[int], typer.Option("--limit", help="Random sample of N questions (seeded).")] = None,
    seed: Annotated[int, typer.Option("--seed", help="Seed of the sample, the distractors and the sampling.")] = 0,
    match: Annotated[str, typer.Option("--match", help="exact: normalised answer equals an alias; contains: an alias occurs in it.")] = "exact",
    temperature: Annotated[float, typer.Option("--temperature")] = 0.6,
    refresh: Annotated[bool, typer.Option("--refresh", help="Ignore cached answers and ask again.")] = False,
) -> None:
    """The Generative AI Paradox on TriviaQA: generation accuracy, evaluation accuracy and unfaithful
    evaluation (wrong when answering, right when judging)."""
    from .paradox import run_paradox

    out, err = _console()
    res = run_paradox(model, run_dir=run_dir, source=data, limit=limit, seed=seed, match=match,  # type: ignore[arg-type]
                      temperature=temperature, cache_mode="refresh" if refresh else "use")
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
    app.command("paradox")(paradox)
    app.add_typer(human_check, name="human-check")
