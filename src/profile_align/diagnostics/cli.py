"""``profile-align probe | doctor | diagnose`` (mounted by the main CLI through ``register(app)``)."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated, Optional

import typer

from ..cli_options import CacheOpt, ModelOpt, ModelsOpt, model_or_default

__all__ = ["register"]



def _console(stderr: bool = False):
    from rich.console import Console

    stream = sys.stderr if stderr else sys.stdout
    return Console(stderr=stderr, width=None if stream.isatty() else 160)


def probe(
    model: ModelOpt = None,
    task: Annotated[Optional[list[str]], typer.Option(
        "--task", help="Only these tasks (repeatable): support, pairwise, facts.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the result (summary and every call) as JSON.")] = False,
    output: Annotated[Optional[Path], typer.Option("-o", "--output", help="Also write the result as JSON here.")] = None,
    cache: CacheOpt = None,
    fail_under: Annotated[Optional[float], typer.Option(
        "--fail-under", help="Exit 1 when the overall accuracy is below this share (0-1).")] = None,
    timeout: Annotated[float, typer.Option(help="Seconds to wait for one answer.")] = 600.0,
) -> None:
    """Ask a model a short battery with known answers (supported vs unsupported statements, a better vs worse
    summary in both orders, an atomic-fact split) and report accuracy, position consistency and JSON validity.

    Takes a minute or two on the embedded model. Run it before spending hours on a model. Answers are kept
    only with --cache (default: no cache, the model is asked afresh).
    """
    from .probe import run_probe

    result = run_probe(model_or_default(model), tasks=task, cache=str(cache) if cache else None,
                       cache_mode="use" if cache else "off", progress=not as_json, timeout_s=timeout)
    payload = result.to_dict()
    if output:
        output.parent.mkdir(parents=True, exist_ok=True)
        output.write_text(json.dumps(payload, indent=2))
    if as_json:
        typer.echo(json.dumps(payload, indent=2))
    else:
        con = _console()
        con.print(result.table())
        s = result.summary
        total = int(s["correct"].sum()), int(s["n"].sum())
        con.print(f"overall accuracy {total[0]}/{total[1]}; JSON valid {int(s['json_valid'].sum())}/{total[1]}; "
                  f"failed requests {int(s['failed'].sum())}"
                  + (f"; model load {result.load_s:.1f} s" if result.load_s is not None else ""), markup=False)
        wrong = result.calls[~result.calls["correct"]]
        for r in wrong.to_dict("records"):
            con.print(f"  wrong: {r['task']} {r['item_id']}{'/' + r['variant'] if isinstance(r['variant'], str) else ''}: "
                      f"expected {r['expected']}, got {r['answer']}" + (f" ({r['error']})" if isinstance(r["error"], str) else ""),
                      markup=False, highlight=False)
    s = result.summary
    if fail_under is not None and s["correct"].sum() / max(1, s["n"].sum()) < fail_under:
        raise typer.Exit(code=1)


def doctor(
    model: ModelsOpt = None,
    quick: Annotated[bool, typer.Option(
        "--quick", help="Skip the SHA-256 of the local model (1.1 GB); trust the marker written when it was verified.")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print the checks as JSON.")] = False,
    timeout: Annotated[float, typer.Option(help="Seconds to wait for a server.")] = 5.0,
) -> None:
    """Check the environment: versions, llama.cpp, the local model (present, checksum), the cache directory
    (writable), and the servers of the models given with --model (repeatable; default: none).
    Exit 1 when a check fails."""
    from .doctor import checks_table, run_doctor

    checks = run_doctor(model or (), verify_checksum=not quick, timeout_s=timeout)
    if as_json:
        typer.echo(json.dumps([c.to_dict() for c in checks], indent=2))
    else:
        _console().print(checks_table(checks))
    if any(c.status == "fail" for c in checks):
        raise typer.Exit(code=1)


def diagnose_cmd(
    run_dir: Annotated[Path, typer.Argument(help="A run directory (answers.parquet, usage.json, cache.sqlite).")],
    strict: Annotated[bool, typer.Option(
        "--strict", help="Exit 3 when any flag is raised or the failure rate passes --max-failure-rate.")] = False,
    max_failure_rate: Annotated[Optional[float], typer.Option(
        "--max-failure-rate", help="Failure-rate threshold (per prompt type and overall; default 0.05).")] = None,
    thresholds: Annotated[Optional[Path], typer.Option(
        "--thresholds", help="YAML/JSON file of threshold values (see docs/diagnostics.md).")] = None,
    no_write: Annotated[bool, typer.Option(
        "--no-write", help="Only print: leave diagnostics.json and the manifest untouched.")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print diagnostics.json to stdout.")] = False,
) -> None:
    """Judge diagnostics of a finished run: answer distribution, position dependence, echoes, failures and
    truncation per prompt type and model, and the flags they raise (written to diagnostics.json and the
    manifest)."""
    from dataclasses import replace

    from .flags import Thresholds
    from .summary import RunFlagged, check_run, diagnose

    th_values = None
    if thresholds is not None:
        import yaml

        th_values = yaml.safe_load(thresholds.read_text()) or {}
    th = Thresholds.from_mapping(th_values)
    con = _console(stderr=as_json)
    if no_write:
        if max_failure_rate is not None:
            th = replace(th, max_failure_rate=max_failure_rate)
        report = diagnose(run_dir, thresholds=th)
        if not as_json:
            report.print(con)
        if as_json:
            typer.echo(json.dumps(report.to_dict(), indent=2))
        reasons = report.exit_reasons()
        if strict and reasons:
            con.print(f"strict: {len(reasons)} reason(s) to fail", style="bold red")
            raise typer.Exit(code=3)
        return
    try:
        report = check_run(run_dir, strict=strict, max_failure_rate=max_failure_rate, thresholds=th,
                           console=con, quiet=as_json)
    except RunFlagged as exc:
        if as_json:
            typer.echo(json.dumps(exc.report.to_dict(), indent=2))
        con.print(f"strict: failing the run ({len(exc.reasons)} reason(s))", style="bold red")
        raise typer.Exit(code=exc.exit_code) from None
    if as_json:
        typer.echo(json.dumps(report.to_dict(), indent=2))


def register(app: typer.Typer) -> None:
    app.command("probe")(probe)
    app.command("doctor")(doctor)
    app.command("diagnose")(diagnose_cmd)
