"""CLI of the factor area: ``validate-factors`` (and helpers the ``factors`` command uses)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, Optional

import typer
from rich.table import Table

from ..cli_options import CacheOpt, ModelOpt, NoCacheOpt, RefreshOpt, err, model_or_default, out
from ..cli_options import OutOpt as RunDirOpt

__all__ = ["register", "build_client", "print_extraction", "validate_factors"]


ConcOpt = Annotated[int, typer.Option("--concurrency", help="Requests in flight (the in-process model serves one at a time).")]
UniEvalOpt = Annotated[Optional[str], typer.Option(
    "--unieval", help="Fluency/coherence scorer: real (the UniEval model, needs the `unieval` extra), proxy "
                      "(UniEval's protocol on --model), auto (real when installed, else proxy), or a UniEval model "
                      "name/path such as MingZhong/unieval-sum. Default: proxy.")]
MaxFailOpt = Annotated[float, typer.Option(
    "--max-failure-rate", help="Exit with code 3 when the share of failed/unparseable answers passes this.")]


def build_client(model: str | None, *, cache: Path | None, refresh: bool, no_cache: bool, concurrency: int,
                 run_dir: Path | None) -> Any:
    if model is None:
        return None
    from ..backends.factory import cache_mode_of, make_client

    return make_client(model, cache=cache, run_dir=run_dir, cache_mode=cache_mode_of(refresh=refresh, no_cache=no_cache),
                       concurrency=concurrency, console=err)


def print_extraction(res: Any, client: Any, title: str) -> None:
    """The factor table (per factor: calls, failed and unparseable calls, items without a verdict) and the
    usage table; both count calls from the same call records, so they agree."""
    t = Table(title=title)
    cols = ("factor", "extractor", "computed", "missing", "mean", "requests", "failed", "unparseable",
            "items failed", "tokens in/out")
    for c in cols:
        t.add_column(c, justify="left" if c in ("factor", "extractor") else "right")
    for r in res.report().itertuples():
        t.add_row(r.factor, r.extractor, str(r.computed), str(r.missing),
                  "-" if r.mean != r.mean else f"{r.mean:.3f}", str(r.requests), str(r.failed),
                  str(r.parse_failed), f"{r.items_failed}/{r.items}", f"{r.prompt_tokens}/{r.completion_tokens}")
    out.print(t)
    if client is not None:
        err.print(client.summary_table())
    for w, n in sorted(res.table.warnings.items()):
        err.print(f"warning ({n}x): {w}", markup=False)
    if res.failures:
        bad = {k: v for k, v in res.failures.items() if v["failed"] or v["parse_failed"] or v.get("refused")}
        err.print(f"failures: {len(bad)} of {len(res.failures)} prompt types had failed or unparseable answers; "
                  f"overall failure rate {res.failure_rate():.1%}")
        for k, v in sorted(res.failures.items()):
            if k in bad or v["missing_values"]:
                err.print(f"  {k}: {v['failed']} failed, {v['parse_failed']} unparseable of {v['requests']} "
                          f"requests; {v['missing_values']} missing values")
    err.print(f"time: {res.timings.get('total', 0):.1f} s")


def validate_factors(
    data: Annotated[str, typer.Argument(help="Data with human ratings on the outputs (default: the shipped SummEval set).")] = "summeval",
    model: ModelOpt = None,
    limit: Annotated[Optional[int], typer.Option("--limit", help="Use only the first N documents.")] = 3,
    run_dir: RunDirOpt = None, cache: CacheOpt = None, refresh: RefreshOpt = False, no_cache: NoCacheOpt = False,
    concurrency: ConcOpt = 4, unieval: UniEvalOpt = None,
    consistency: Annotated[bool, typer.Option("--self-consistency/--no-self-consistency",
                                              help="Ask the fact-level and response-level questions a second time "
                                                   "(shuffled facts / resampled labels) and report agreement.")] = True,
    n_boot: Annotated[int, typer.Option("--n-boot", help="Bootstrap replicates over documents.")] = 1000,
    seed: Annotated[int, typer.Option("--seed")] = 0,
    select: Annotated[Optional[str], typer.Option(
        "--select", help="Comma-separated factors to validate, of coherence, fluency, hallucination, "
                         "source_coverage (default: all four; fewer factors cost less time).")] = None,
) -> None:
    """Check the factor extractor against human ratings: summary-level Kendall tau of coherence, fluency,
    hallucination and source coverage with the SummEval expert ratings (coherence, fluency, consistency
    (expected negative), relevance), with bootstrap CIs; and self-consistency. Stored in
    <run-dir>/tables/factor_validation."""
    from ..data.loaders import load_dataset
    from ..rundir import TABLES, RunDir
    from .engine import extract_factors
    from .validate import VALIDATION_PAIRS, self_consistency, validate_against_ratings

    ds = load_dataset(data, limit=limit)
    pairs = VALIDATION_PAIRS
    if select:
        chosen = {x.strip() for x in select.split(",") if x.strip()}
        unknown = chosen - {p[0] for p in VALIDATION_PAIRS}
        if unknown:
            raise typer.BadParameter(f"cannot validate {sorted(unknown)}; choose from "
                                     f"{', '.join(p[0] for p in VALIDATION_PAIRS)}", param_hint="--select")
        pairs = tuple(p for p in VALIDATION_PAIRS if p[0] in chosen)
        names = sorted(chosen)
    else:
        names = sorted({p[0] for p in VALIDATION_PAIRS} | {"n_facts", "intent_alignment", "formality_alignment"})
    rd = RunDir(run_dir, create=True) if run_dir is not None else None
    client = build_client(model_or_default(model), cache=cache, refresh=refresh, no_cache=no_cache, concurrency=concurrency,
                          run_dir=run_dir)
    try:
        res = extract_factors(ds, names, client=client, run_dir=rd, unieval=unieval)
        print_extraction(res, client, f"factors of {len(ds.outputs)} outputs ({len(ds.examples)} documents)")
        val = validate_against_ratings(ds, res.table, pairs, n_boot=n_boot, seed=seed)
        t = Table(title=f"extracted factors vs human ratings: summary-level Kendall tau ({len(ds.examples)} documents, "
                        f"95% CI by document bootstrap, B={n_boot})")
        for c in ("factor", "rating", "expected", "tau", "95% CI", "documents", "outputs", "missing", "extractor"):
            t.add_column(c, justify="left" if c in ("factor", "rating", "extractor") else "right")
        for r in val.itertuples():
            ci = "-" if r.ci_low != r.ci_low else f"[{r.ci_low:+.3f}, {r.ci_high:+.3f}]"
            t.add_row(r.factor, r.rating, "+" if r.expected_sign > 0 else "-",
                      "-" if r.kendall_tau != r.kendall_tau else f"{r.kendall_tau:+.3f}", ci, str(r.n_documents),
                      str(r.n_outputs), str(r.missing), r.extractor)
        out.print(t)
        val["check"] = "human ratings"
        frames = [val]
        if consistency and client is not None:
            sc = self_consistency(ds, res, client=client, seed=seed + 1)
            t2 = Table(title="self-consistency: the same items asked again")
            for c in ("factor", "check", "items compared", "agreement"):
                t2.add_column(c, justify="left" if c in ("factor", "check") else "right")
            for r in sc.itertuples():
                t2.add_row(r.factor, r.check, str(r.n_compared), "-" if r.agreement != r.agreement else f"{r.agreement:.1%}")
            out.print(t2)
            frames.append(sc.rename(columns={"check": "check"}))
        table = __import__("pandas").concat(frames, ignore_index=True)
        if rd is not None:
            rd.write_table(TABLES["factor_validation"], table)
            err.print(f"wrote {rd.path / TABLES['factor_validation']}.parquet (.csv)")
    finally:
        if client is not None:
            client.close()


def register(app: typer.Typer) -> None:
    app.command("validate-factors")(validate_factors)
