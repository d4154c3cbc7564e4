"""``profile-align run CONFIG``: the end-to-end PROFILE run (mounted by profile_align.cli)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Annotated, Optional

import typer

from ..cli_errors import EXIT_FAILURE_RATE, EXIT_STRICT
from ..cli_options import NoCacheOpt, OutOpt, RefreshOpt

__all__ = ["register"]

# Files whose presence means a run did some work (a directory without them is removed when the run fails).
_WORK_FILES = ("answers.parquet", "factors.parquet", "dataset.parquet")


def _did_work(path: Path) -> bool:
    """Whether a failed run left anything worth keeping: tables, or any LLM call (its answer is in the
    run's cache, and a rerun resumes from it)."""
    if any((path / f).exists() for f in _WORK_FILES):
        return True
    try:
        usage = json.loads((path / "usage.json").read_text())
    except (OSError, ValueError):
        return False
    total = usage.get("total") or {}
    return bool(total.get("requests") or total.get("calls"))


def register(app: typer.Typer) -> None:
    @app.command("run")
    def run_cmd(
        config: Annotated[Path, typer.Argument(help="Run config (YAML); see examples/*.yaml and docs/run.md.")],
        out: OutOpt = None, refresh: RefreshOpt = False, no_cache: NoCacheOpt = False,
        strict: Annotated[bool, typer.Option("--strict", help="Exit 3 when a judge diagnostic flag is raised, and 4 on any failed or unparseable LLM answer (default: only above the config's max_failure_rate).")] = False,
        quiet: Annotated[bool, typer.Option("--quiet", help="No progress bars.")] = False,
        set_: Annotated[Optional[list[str]], typer.Option("--set", help="Override a config value, KEY=VALUE with a dotted key (repeatable), e.g. --set sample.examples=5 --set judges.0.model=openai:gpt-4o-mini. The value is read as YAML.")] = None,
        limit: Annotated[Optional[int], typer.Option("--limit", min=1, help="Use at most N examples (sets sample.examples to N, or keeps a smaller one): try a config small first.")] = None,
        max_requests: Annotated[Optional[int], typer.Option("--max-requests", min=0, help="Stop cleanly after N new LLM requests (cache hits are free); rerun to resume. Exit code 7 when reached.")] = None,
        max_cost: Annotated[Optional[float], typer.Option("--max-cost", min=0, help="Stop cleanly once this many USD were spent (price table); rerun to resume. Exit code 7 when reached.")] = None,
        dry_run: Annotated[bool, typer.Option("--dry-run", help="Call no model: print the LLM requests per model and prompt type, estimated prompt/completion tokens, time and cost (docs/run.md), then exit.")] = False,
    ) -> None:
        """Run PROFILE end to end: human vs model judges (generation / evaluation settings, reward models),
        factors for every text, factor scores, alignment, agreement; writes a run directory.

        The run directory (--out) defaults to the config's out_dir, else runs/<name> (relative to the
        working directory); relative input paths in the config (dataset.source) are read against the
        config file's folder.
        Rerunning the same config reuses every finished LLM answer (zero new calls when all finished).
        Models: `local` (embedded Qwen2.5-Coder-1.5B), `openai-compat:http://HOST:PORT/v1::MODEL`,
        `openai:gpt-4o-mini`, `ollama:MODEL`, ... (see `profile-align backends list`).
        Ends with the judge diagnostics (constant, position-only, echoing judges; failure and truncation
        rates: diagnostics.json) and the HTML report (report.html).
        Exit codes (README): 2 bad config or data, 3 --strict and a diagnostic flag raised, 4 a prompt type's
        failure rate above `max_failure_rate`, 5 a missing model/extra/API key, 6 a backend failure.
        A run that fails before any answer or factor was written leaves no run directory behind.
        """
        from .config import check_data_source, load_config
        from .run import resolve_out_dir, run

        overrides = list(set_ or [])
        overrides += [f"backend.max_requests={max_requests}"] if max_requests is not None else []
        overrides += [f"backend.max_cost_usd={max_cost}"] if max_cost is not None else []
        cfg = load_config(config, overrides)
        if limit is not None:
            n = cfg.sample.examples
            cfg = load_config(cfg, [f"sample.examples={limit if n is None else min(n, limit)}"])
        check_data_source(cfg, str(config))
        if cfg.factors.names is None and cfg.factor_model and not dry_run:
            from ..cli_options import err
            from ..taxonomy import REGISTRY, factors_for_task

            task = cfg.dataset.task
            llm = [f.name for f in factors_for_task(task)] if task else []
            llm = [n for n in llm if not REGISTRY.get(n).computable_without_model]
            err.print(f"note: no `factors:` in the config: the task's full factor set is extracted with "
                      f"{cfg.factor_model}{f' ({len(llm)} LLM factors)' if llm else ''}, one or more LLM requests "
                      "per text and factor; `--dry-run` counts them first", markup=False, highlight=False)
        if dry_run:
            from ..cli_options import out as stdout
            from .estimate import estimate_run

            for line in estimate_run(cfg).lines():
                stdout.print(line, markup=False, highlight=False, soft_wrap=True)
            return
        target = resolve_out_dir(cfg, out)
        existed = target.exists()
        try:
            result = run(cfg, out, refresh=refresh, no_cache=no_cache, strict=strict, progress=not quiet)
        except BaseException:
            if not existed and target.is_dir() and not _did_work(target):
                shutil.rmtree(target, ignore_errors=True)
            raise
        from ..cli_options import err

        if result.strict_failed:
            err.print("strict mode: " + "; ".join(result.strict_failed), markup=False)
            raise typer.Exit(EXIT_STRICT)
        if not result.ok:
            raise typer.Exit(EXIT_FAILURE_RATE)
