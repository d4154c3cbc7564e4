"""``profile-align run CONFIG``: the end-to-end PROFILE run (mounted by profile_align.cli)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from ..cli_options import NoCacheOpt, OutOpt, RefreshOpt

__all__ = ["register"]


def register(app: typer.Typer) -> None:
    @app.command("run")
    def run_cmd(
        config: Annotated[Path, typer.Argument(help="Run config (YAML); see examples/*.yaml and docs/run.md.")],
        out: OutOpt = None, refresh: RefreshOpt = False, no_cache: NoCacheOpt = False,
        strict: Annotated[bool, typer.Option("--strict", help="Exit non-zero (3) when a judge diagnostic flag is raised, and (1) on any failed or unparseable LLM answer (default: only above the config's max_failure_rate).")] = False,
        quiet: Annotated[bool, typer.Option("--quiet", help="No progress bars.")] = False,
    ) -> None:
        """Run PROFILE end to end: human vs model judges (generation / evaluation settings, reward models),
        factors for every text, factor scores, alignment, agreement; writes a run directory.

        The run directory (--out) defaults to the config's out_dir, else runs/<name>.
        Rerunning the same config reuses every finished LLM answer (zero new calls when all finished).
        Models: `local` (embedded Qwen2.5-Coder-1.5B), `openai-compat:http://HOST:PORT/v1::MODEL`,
        `openai:gpt-4o-mini`, `ollama:MODEL`, ... (see `profile-align backends list`).
        Ends with the judge diagnostics (constant, position-only, echoing judges; failure and truncation
        rates: diagnostics.json) and the HTML report (report.html).
        Exit code 1 when a prompt type's failure rate is above `max_failure_rate`; 3 with --strict when
        any diagnostic flag is raised.
        """
        from ..cli import err
        from .config import ConfigError
        from .run import run

        try:
            result = run(config, out, refresh=refresh, no_cache=no_cache, strict=strict, progress=not quiet)
        except ConfigError as e:
            err.print(str(e), markup=False)
            raise typer.Exit(2) from None
        if result.strict_failed:
            err.print("strict mode: " + "; ".join(result.strict_failed), markup=False)
            raise typer.Exit(3)
        if not result.ok:
            raise typer.Exit(1)
