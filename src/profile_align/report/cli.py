"""``profile-align report RUN_DIR``: the HTML (or Markdown) report of a run directory."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

__all__ = ["register", "report"]


def report(
    run_dir: Annotated[Path, typer.Argument(help="A run directory written by `profile-align run` (docs/run-directory.md).")],
    output: Annotated[Optional[Path], typer.Option(
        "-o", "--output", help="Output file. Default: RUN_DIR/report.html (or report.md).")] = None,
    fmt: Annotated[str, typer.Option(
        "--format", help="html: one self-contained file (inline SVG, no script, no network); md: the same tables "
                         "as Markdown.")] = "html",
    figures: Annotated[Optional[Path], typer.Option(
        "--figures", help="Also write one PNG per figure into this directory (the Markdown report links them).")] = None,
) -> None:
    """Write a report of a PROFILE run: factor scores per judge with CIs, rankings, alignment and agreement,
    human-vs-model differences, generation vs evaluation, evaluator bias, factor correlations, extractor
    validation, failures and flags, example pairs and the experiments' results. Parts the run lacks are
    listed as omitted, with the reason."""
    from rich.console import Console

    from .document import FORMATS, write_report

    err = Console(stderr=True)
    if fmt not in FORMATS:
        raise typer.BadParameter(f"--format must be one of {', '.join(FORMATS)}, got {fmt!r}")
    res = write_report(run_dir, output, fmt=fmt, figures_dir=figures)  # errors: profile_align.cli_errors
    print(f"wrote {res.path} ({res.format}, {res.path.stat().st_size:,} bytes)")
    for name, p in res.figures.items():
        print(f"  figure {name}: {p}")
    for sid, why in res.omitted.items():
        print(f"  omitted {sid}: {why}")
    for msg in [*res.problems, *res.errors]:
        err.print(f"[yellow]warning:[/yellow] {msg}")


def register(app: typer.Typer) -> None:
    app.command("report")(report)
