"""The ``profile-align`` command line: one entry point with subcommands.

Run ``profile-align --help`` or ``profile-align COMMAND --help`` for every option.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Annotated, Any, Optional

import click
import typer
from typer.core import TyperGroup
from rich.table import Table

from .cli_errors import EXIT_FAILURE_RATE
from .cli_options import CacheOpt, ModelOpt, NoCacheOpt, OutOpt, RefreshOpt, err, out

__all__ = ["app", "main"]

class _ErrorMappingGroup(TyperGroup):
    """The root command group: every error a command lets through becomes one message on stderr and the
    exit code of :mod:`profile_align.cli_errors` (the one mapping; commands carry no try/except copies).
    Applies to the console script and to ``CliRunner().invoke(app, ...)`` alike."""

    def invoke(self, ctx: Any) -> Any:  # ctx: typer's vendored click Context
        from .cli_errors import handle

        try:
            return super().invoke(ctx)
        except (click.exceptions.ClickException, click.exceptions.Exit, click.exceptions.Abort, typer.Exit,
                typer.Abort, typer.exceptions.TyperException):  # usage errors keep click's own message and code
            raise
        except Exception as e:  # noqa: BLE001 - the one place errors become messages and exit codes
            code = handle(e, lambda msg: err.print(msg, markup=False, highlight=False, soft_wrap=True))
            raise typer.Exit(code) from None


app = typer.Typer(
    name="profile-align",
    cls=_ErrorMappingGroup,
    help=(
        "PROFILE: which factors (length, hallucination, coverage, ...) drive a judge's pairwise "
        "preferences, and do humans and models prefer for the same reasons.\n\n"
        "Typical flow: `factors` (factor values per text) -> `score` (a judge's factor scores, tau_14 "
        "with bootstrap CIs) -> `align` (how two judges' factor rankings agree)."
    ),
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
# Piped output (CI logs, files) gets a wide table instead of rich's 80-column default.

# -- shared dataset options ---------------------------------------------------------------------
DataArg = Annotated[str, typer.Argument(
    help="Dataset: a file (.jsonl, .json, .csv, .tsv, optionally .gz), a shipped set name "
         "(see `profile-align datasets`), or hf:<name> for a Hugging Face dataset (needs the `hub` extra and network).")]
FormatOpt = Annotated[Optional[str], typer.Option(
    "--format", help="Input format (tldr_axis, tldr_comparisons, shp, webgpt, summeval, hh_rlhf, llmbar, "
                     "mtbench, pairwise, dpo, arena, arena_55k, alpaca_eval, annotated_pairs, ultrafeedback, generic; see "
                     "`profile-align datasets`). Default: detected from the first row (several fits: an error).")]
TaskOpt = Annotated[Optional[str], typer.Option(
    "--task", help="summarization (summarisation) | helpful_response | document_qa | generic; other names are "
                   "an error. Picks the paper's factor set. Default: the format's task.")]
DomainOpt = Annotated[Optional[str], typer.Option("--domain", help="SHP/SHP-2: keep only this domain, e.g. askacademia.")]
AspectOpt = Annotated[str, typer.Option(
    "--aspect", help="SummEval: which expert rating decides the preference: coherence | consistency | "
                     "fluency | relevance | mean (of the four).")]
MapOpt = Annotated[Optional[list[str]], typer.Option(
    "--map", help="Generic format column mapping: FIELD=COLUMN, comma-separated and/or repeated. Required: input, "
                  "output_a, output_b, preferred; optional: id, example_id, title, sources, strength, and sources_a + "
                  "sources_b (each output's own references). "
                  "E.g. --map input=prompt,output_a=r1,output_b=r2,preferred=winner.")]
LabelMapOpt = Annotated[Optional[str], typer.Option(
    "--label-map", help="What each value of the preference columns means (generic, pairwise, arena, annotated_pairs; "
                        "also the --judges columns), VALUE=a|b|tie, e.g. 0=a,1=b,2=tie. Without it only a/b/tie "
                        "(model_a, response_b, ...) are read; numbers need it.")]
SkipOpt = Annotated[bool, typer.Option(
    "--skip-invalid", help="Skip malformed rows instead of stopping at the first one; every skipped row (file, line, "
                           "field, reason) is written to a skipped_rows.csv next to the outputs.")]
LimitOpt = Annotated[Optional[int], typer.Option("--limit", help="Use only the first N examples.")]
SampleOpt = Annotated[Optional[int], typer.Option("--sample", help="Use a random sample of N examples (seeded by --seed).")]
SeedOpt = Annotated[int, typer.Option("--seed", help="Random seed (sampling, bootstrap).")]
JudgesOpt = Annotated[Optional[str], typer.Option(
    "--judges", help="More judges in the same file: NAME=COLUMN, comma-separated, e.g. gpt4=gpt4_winner,rm=rm_label "
                     "(existing LLM-judge or reward-model labels; no model is called). Labels as declared by --label-map.")]
GroupByOpt = Annotated[Optional[str], typer.Option(
    "--group-by", help="Metadata columns, comma-separated (e.g. model,domain): factor scores per subgroup.")]
KeepTiesOpt = Annotated[bool, typer.Option(
    "--keep-human-ties", help="Keep human ties: they enter tau_14 as judge ties (counted in T) instead of being dropped.")]
SelectOpt = Annotated[Optional[str], typer.Option(
    "--select", help="Comma-separated factor names (default: the task's factor set; see `profile-align taxonomy`).")]


def _parse_map(items: list[str] | None) -> dict[str, str] | None:
    """``--map`` values, each FIELD=COLUMN or a comma-separated list of them (the Python form)."""
    if not items:
        return None
    from .data.loaders import parse_mapping

    try:
        return parse_mapping(",".join(items))
    except ValueError as e:
        raise typer.BadParameter(str(e), param_hint="--map") from None


def _skipped_rows_path(output: Path | None, run_dir: Path | None) -> Path:
    """Where ``--skip-invalid`` lists the skipped rows: next to the output file, else in the run
    directory, else in the current directory."""
    if output is not None:
        return output.parent / f"{output.stem}.skipped_rows.csv"
    return (run_dir or Path(".")) / "skipped_rows.csv"


def _load(data: str, fmt, task, domain, aspect, mapping, skip_invalid, limit, sample=None, seed=0, *,
          label_map=None, skipped_to: Path | None = None, **columns):
    """``columns``: the loader's ``judges``, ``group_by``, ``keep_ties`` options (``score``, ``overview``)."""
    from .data.loaders import load_dataset

    kwargs = dict(format=fmt, task=task, domain=domain, aspect=aspect, mapping=_parse_map(mapping),
                  skip_invalid=skip_invalid, limit=limit, label_map=label_map, **columns)
    ds = load_dataset(data, **kwargs)
    if ds.report is not None:
        listed = None
        if ds.report.rejected:
            listed = ds.report.write_rejections(skipped_to or _skipped_rows_path(None, None))
        for line in ds.report.summary_lines(listed_in=listed):
            err.print(line, markup=False, highlight=False)
    if sample is not None:
        ds = ds.sample(sample, seed=seed)
        err.print(f"sampled {len(ds.examples)} examples (seed {seed}): {len(ds.pairs)} pairs")
    return ds


def _select(select: str | None) -> list[str] | None:
    return [s.strip() for s in select.split(",") if s.strip()] if select else None


def _json_safe(x):
    """JSON without bare NaN/Infinity: non-finite numbers become null (numpy scalars become numbers)."""
    if isinstance(x, dict):
        return {str(k): _json_safe(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [_json_safe(v) for v in x]
    if hasattr(x, "item") and not isinstance(x, (str, bytes)):
        x = x.item()
    if isinstance(x, float) and not math.isfinite(x):
        return None
    return x


def _fmt(x, nd=3) -> str:
    try:
        if x is None or x != x:
            return "-"
    except TypeError:
        return str(x)
    return f"{x:+.{nd}f}" if isinstance(x, float) else str(x)


# -- commands -----------------------------------------------------------------------------------
@app.command()
def factors(
    data: DataArg,
    output: Annotated[Optional[Path], typer.Option("-o", "--output", help="Where to write the factor table (.parquet, .csv or .json). Default: factors.parquet, or only the run directory when --run-dir is given.")] = None,
    fmt: FormatOpt = None, task: TaskOpt = None, domain: DomainOpt = None, aspect: AspectOpt = "mean",
    map: MapOpt = None, skip_invalid: SkipOpt = False, limit: LimitOpt = None, sample: SampleOpt = None,
    seed: SeedOpt = 0, select: SelectOpt = None, label_map: LabelMapOpt = None,
    model: ModelOpt = None, cache: CacheOpt = None, refresh: RefreshOpt = False, no_cache: NoCacheOpt = False,
    concurrency: Annotated[int, typer.Option("--concurrency", help="LLM requests in flight (the in-process model serves one at a time).")] = 4,
    run_dir: OutOpt = None,
    unieval: Annotated[Optional[str], typer.Option("--unieval", help="Real UniEval for fluency/coherence (MingZhong/unieval-sum or a local path; `unieval` extra). Default: UniEval's protocol on --model (a proxy).")] = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Call no model, write nothing: print the LLM requests per prompt type, estimated tokens, time and cost (docs/run.md).")] = False,
    max_failure_rate: Annotated[float, typer.Option("--max-failure-rate", help="Exit with code 4 when the share of failed or unparseable LLM answers is above this.")] = 0.05,
) -> None:
    """Compute factor values for every output text (once per distinct text) and write a factor table.

    Rule-based factors (length, novel words) need no model; the others (atomic facts, fact-level and
    response-level LLM factors, UniEval-protocol fluency/coherence) need --model: without it only the
    rule-based factors are computed. With --out, factors.parquet, factor_details.parquet, answers.parquet
    and the cache are written there as stages finish (rerun resumes).
    """
    from .factors.cli import build_client, print_extraction
    from .factors.engine import extract_factors

    ds = _load(data, fmt, task, domain, aspect, map, skip_invalid, limit, sample, seed, label_map=label_map,
               skipped_to=_skipped_rows_path(output, run_dir))
    if dry_run:
        _factors_dry_run(ds, _select(select), model, concurrency, unieval)
        return
    client = build_client(model, cache=cache, refresh=refresh, no_cache=no_cache, concurrency=concurrency,
                          run_dir=run_dir)
    try:
        res = extract_factors(ds, _select(select), client=client, model=model if client is None else None,
                              run_dir=run_dir, unieval=unieval)
    finally:
        if client is not None:
            client.close()
    if output is None and run_dir is None:
        output = Path("factors.parquet")
    if output is not None:
        res.table.save(output)
    print_extraction(res, client, f"factors of {len(res.table)} outputs ({ds.name}, task {ds.task})")
    for where in (output, run_dir):
        if where is not None:
            err.print(f"wrote {where}")
    if client is not None and res.failure_rate() > max_failure_rate:
        err.print(f"error: failure rate {res.failure_rate():.1%} is above --max-failure-rate {max_failure_rate:.1%}")
        raise typer.Exit(EXIT_FAILURE_RATE)


def _factors_dry_run(ds, names, model, concurrency: int, unieval) -> None:
    """``factors --dry-run``: extraction against the counting stand-in backend, no cache, no files."""
    from .backends import make_client
    from .factors.engine import extract_factors
    from .pipeline.estimate import counting_backend, summarize

    if model is None:
        out.print("dry run: no --model, so only rule factors are computed: 0 LLM requests, no cost")
        return
    counts: dict = {}
    client = make_client(counting_backend(model, counts), cache_mode="off", progress=False,
                         concurrency=concurrency, model_label=model)
    try:
        extract_factors(ds, names, client=client, unieval=unieval)
    finally:
        client.close()
    for line in summarize(counts, concurrency, []).lines():
        out.print(line, markup=False, highlight=False, soft_wrap=True)


def _scores_table(res, title: str, *, with_ci: bool = True, ci: float = 0.95) -> Table:
    """The score table; ``with_ci=False`` (``--n-boot 0``) leaves the CI column out. A factor with no
    applicable pair has no rank and says why in its score cell."""
    from .taxonomy import REGISTRY

    df = res.to_frame().sort_values("rank")
    cols = ["rank", *(["rank kept"] if with_ci else []), "factor", "level 2", "level 3", "score",
            *([f"{ci:.0%} CI"] if with_ci else []), "C", "D",
            "ties (f/j/both)", "missing", "n used"]
    t = Table(title=title)
    for c in cols:
        t.add_column(c, justify="left" if c in ("factor", "level 2", "level 3") else "right")
    for r in df.itertuples():
        fac = REGISTRY.get(r.factor) if r.factor in REGISTRY else None
        # no variation: every pair the judge decided has equal factor values (ranked by no tie policy)
        flat = r.concordant + r.discordant == 0 and r.factor_ties + r.both_ties > 0
        scored = r.score == r.score and not flat
        score_cell = _fmt(float(r.score)) if scored else ("no variation (equal in every pair)" if flat
                                                          else "no applicable pairs")
        ci_cell = [f"[{r.ci_low:+.3f}, {r.ci_high:+.3f}]" if scored and r.ci_low == r.ci_low else "—"] if with_ci else []
        kept = getattr(r, "rank_kept", float("nan"))
        # share of bootstrap resamples in which the factor has this rank, and the rank's percentile interval
        kept_cell = ([f"{kept:.0%} [{int(r.rank_ci_low)}-{int(r.rank_ci_high)}]" if scored and kept == kept else "—"]
                     if with_ci else [])
        t.add_row(str(int(r.rank)) if scored and r.rank == r.rank else "-", *kept_cell, fac.label if fac else r.factor,
                  fac.level2 if fac else "-", fac.level3.value if fac else "-", score_cell, *ci_cell,
                  str(r.concordant), str(r.discordant), f"{r.factor_ties}/{r.judge_ties}/{r.both_ties}",
                  str(r.missing), str(r.n_used))
    return t


def _readings(res) -> list[str]:
    """One plain-language line per factor, in rank order (report.findings.plain_reading)."""
    from .report.findings import plain_reading
    from .taxonomy import REGISTRY

    lines = []
    for r in res.to_frame().sort_values("rank").itertuples():
        label = REGISTRY.get(r.factor).label if r.factor in REGISTRY else r.factor
        lines.append(f"  {label}: {plain_reading(label, float(r.score), r.concordant, r.discordant)}")
    return lines


def _check_table_matches(table, ds, path: Path) -> None:
    """A factor table from another data set (no output of ``ds`` in it, same id and text) is an error with
    the counts; a partial match is reported."""
    from .data.model import text_hash

    hashes = table.values["text_hash"] if "text_hash" in table.values.columns else None
    matched = 0
    for o in ds.outputs:
        if o.id in table.values.index and (hashes is None or str(hashes.get(o.id)) == text_hash(o.text)):
            matched += 1
    n = len(ds.outputs)
    if matched == 0:
        raise ValueError(f"{path}: 0 of {n} outputs of {ds.name} matched the factor table ({len(table)} rows): "
                         "it was computed for another data set (or other options); rerun `profile-align factors` "
                         "on this data with the same --format/--limit/--sample options")
    if matched < n:
        err.print(f"warning: {n - matched} of {n} outputs of {ds.name} are not in {path}: their pairs count "
                  "as missing", markup=False, highlight=False)


@app.command()
def score(
    data: DataArg,
    judge: Annotated[str, typer.Option("--judge", help="Whose preferences: 'human' (the dataset's labels) or a judge name present in the data.")] = "human",
    factors_file: Annotated[Optional[Path], typer.Option("--factors", help="Factor table from `profile-align factors`. Default: compute rule-based factors now.")] = None,
    output: Annotated[Optional[Path], typer.Option("-o", "--output", help="Write the scores: .json (full result, input of `align`), .csv or .parquet.")] = None,
    policy: Annotated[str, typer.Option("--tie-policy", "--policy", help="Tie policy: auto | human | evaluation | generation | factor-ties-counted | count-all | drop-all. auto follows the judge's kind (from its name): human -> human (factor-tied pairs omitted), <label>:evaluation and rm:<label> -> evaluation, <label>:generation -> generation.")] = "auto",
    name: Annotated[Optional[str], typer.Option("--name", help="Label of this judge in the output (default: the judge name), e.g. experts-relevance.")] = None,
    n_boot: Annotated[int, typer.Option("--n-boot", help="Bootstrap replicates (resampling examples) for the CIs; 0 = none.")] = 1000,
    ci: Annotated[float, typer.Option("--ci", help="Confidence level.")] = 0.95,
    fmt: FormatOpt = None, task: TaskOpt = None, domain: DomainOpt = None, aspect: AspectOpt = "mean",
    map: MapOpt = None, skip_invalid: SkipOpt = False, limit: LimitOpt = None, sample: SampleOpt = None,
    seed: SeedOpt = 0, select: SelectOpt = None, label_map: LabelMapOpt = None,
    judges: JudgesOpt = None, group_by: GroupByOpt = None, keep_human_ties: KeepTiesOpt = False,
    run_dir: OutOpt = None,
) -> None:
    """Factor scores of a judge: tau_14 = (C - D) / (C + D + T) per factor, ranked, with CIs.

    With --judges every judge (human and the named ones) is scored; with --group-by each subgroup is;
    with --out RUN_DIR a run directory for `profile-align report RUN_DIR` is written as well (every judge of
    the data, the subgroups of --group-by, the alignment tables; no model).
    """
    from .factors.table import FactorTable
    from .scoring import data_judge_kind, default_policy, factor_scores, judge_kind

    ds = _load(data, fmt, task, domain, aspect, map, skip_invalid, limit, sample, seed, label_map=label_map,
               skipped_to=_skipped_rows_path(output, run_dir), judges=judges, group_by=group_by,
               keep_ties=keep_human_ties)
    table = None
    if factors_file:
        table = FactorTable.load(factors_file)
        _check_table_matches(table, ds, factors_file)
    names = _select(select)
    if table is not None and names is None:
        names = table.factor_names
    if judges or group_by or run_dir:  # several judges, subgroups, a run directory: see score_many.py
        from .score_many import score_many

        score_many(ds, table, names, group_by=group_by, policy=None if policy == "auto" else policy,
                   n_boot=n_boot, ci=ci, seed=seed, output=output, console=out, err=err,
                   table_of=_scores_table, run_dir=run_dir, source=str(data))
        return
    kind = data_judge_kind(ds, judge) or judge_kind(judge)
    chosen = default_policy(judge, kind) if policy == "auto" else policy
    why = f"auto: judge kind {kind}" if policy == "auto" else "chosen"
    res = factor_scores(ds, table, judge=judge, factors=names, policy=chosen, n_boot=n_boot, ci=ci, seed=seed,
                        name=name)
    n_pairs = len(ds.preferences_of(judge))
    out.print(_scores_table(res, f"factor scores of judge '{res.judge}' on {ds.name}: {n_pairs} pairs, "
                                 f"{len(ds.examples)} examples, "
                                 + (f"{int(ci * 100)}% CI by example bootstrap (B={n_boot}, seed {seed})" if n_boot
                                    else "no CI (--n-boot 0)") + f"\ntie policy {res.policy.label} ({why})",
                            with_ci=n_boot > 0, ci=ci))
    out.print(ds.cluster_note(), markup=False, highlight=False)
    for line in _readings(res):
        out.print(line, markup=False, highlight=False, soft_wrap=True)
    if output:
        if output.suffix.lower() == ".json":
            output.parent.mkdir(parents=True, exist_ok=True)
            res.save_json(output)
        else:
            from .score_many import write_frame

            write_frame(res.to_frame(), output)
        err.print(f"wrote {output}")


@app.command("align")
def align_cmd(
    scores_a: Annotated[Path, typer.Argument(help="Factor scores of judge A (.json from `profile-align score -o`).")],
    scores_b: Annotated[Path, typer.Argument(help="Factor scores of judge B (.json).")],
    test: Annotated[bool, typer.Option("--test/--no-test", help="Per-factor difference test (paired bootstrap over examples).")] = True,
    n_boot: Annotated[int, typer.Option("--n-boot", help="Bootstrap replicates (resampling the shared examples) for the Kendall tau CI and the difference test; 0 = no CI.")] = 2000,
    seed: SeedOpt = 0,
    output: Annotated[Optional[Path], typer.Option("-o", "--output", help="Write the alignment (and differences) as .json.")] = None,
) -> None:
    """Alignment of two judges' factor scores: Kendall tau, Spearman rho, Pearson r (with p-values),
    and which factors differ significantly."""
    from .stats import FactorScoreResult, align, compare_judges

    a, b = FactorScoreResult.load_json(scores_a), FactorScoreResult.load_json(scores_b)
    shared = set(map(str, a.example_ids)) & set(map(str, b.example_ids))
    if not shared:
        raise ValueError(f"{scores_a} and {scores_b} share no example: 0 of {a.n_examples} examples of "
                         f"'{a.judge}' and 0 of {b.n_examples} of '{b.judge}' match; score the same data set")
    common = [f for f in a.factor_names if f in set(b.factor_names)]
    if not common:
        raise ValueError(f"{scores_a} and {scores_b} score no factor in common ({len(a.factor_names)} and "
                         f"{len(b.factor_names)} factors); score both with the same --select")
    if a.judge == b.judge:  # two files with the same judge name: tell them apart by their file names
        a.judge, b.judge = f"{a.judge} ({scores_a.stem})", f"{b.judge} ({scores_b.stem})"
    res = align(a, b, n_boot=n_boot, seed=seed)
    with_ci = res.kendall_ci_low == res.kendall_ci_low
    t = Table(title=f"alignment of '{a.judge}' and '{b.judge}' over {res.n_factors} factors",
              caption=f"tie policies: {a.judge} {a.policy.label}; {b.judge} {b.policy.label}"
                      + (f"\n95% CI of Kendall tau: {res.n_boot_valid} of {res.n_boot} resamples of the examples "
                         "both judges share (both score vectors recomputed in each)" if with_ci else ""))
    for c in ("measure", "value", *(["95% CI"] if with_ci else []), "p-value"):
        t.add_column(c, justify="right")
    for name, v, p in (("Kendall tau", res.kendall_tau, res.kendall_p), ("Spearman rho", res.spearman_rho, res.spearman_p),
                       ("Pearson r", res.pearson_r, res.pearson_p)):
        ci_cell = [(f"[{res.kendall_ci_low:+.3f}, {res.kendall_ci_high:+.3f}]" if name == "Kendall tau" else "-")
                   ] if with_ci else []
        t.add_row(name, _fmt(v) if v == v else "undefined", *ci_cell, "-" if p != p else f"{p:.3g}")
    out.print(t)
    if res.note:
        out.print(f"alignment {res.note}", markup=False, highlight=False)
    payload = {"alignment": res.to_dict()}
    if test:
        diff = compare_judges(a, b, n_boot=n_boot, seed=seed)
        df = diff.to_frame()
        t2 = Table(title=f"per-factor difference {a.judge} - {b.judge} (paired bootstrap over examples, B={n_boot})",
                   caption="* = significant at 0.05 after Holm adjustment over the factors")
        for c in ("factor", a.judge, b.judge, "diff", "95% CI", "p", "p (Holm)", "sig."):
            t2.add_column(c, justify="left" if c == "factor" else "right")
        for r in df.itertuples():
            t2.add_row(r.factor, _fmt(r.score_a), _fmt(r.score_b), _fmt(r.diff), f"[{r.ci_low:+.3f}, {r.ci_high:+.3f}]",
                       f"{r.p_value:.3g}", f"{r.p_holm:.3g}", "*" if r.significant_holm else "")
        out.print(t2)
        payload["differences"] = json.loads(df.to_json(orient="records"))
    if output:
        output.write_text(json.dumps(_json_safe(payload), indent=2, allow_nan=False))
        err.print(f"wrote {output}")


@app.command()
def datasets() -> None:
    """List the input formats the loaders understand and the data sets shipped with the package."""
    from .data.loaders import list_formats, shipped_datasets

    t = Table(title="input formats (--format)")
    t.add_column("format")
    t.add_column("description")
    for name, desc in list_formats().items():
        t.add_row(name, desc)
    out.print(t)
    t2 = Table(title="shipped data sets (use the name as DATA)")
    for c in ("name", "format", "licence", "description"):
        t2.add_column(c)
    for name, info in shipped_datasets().items():
        t2.add_row(name, info.format, info.licence, info.description)
    out.print(t2)


@app.command()
def taxonomy(task: TaskOpt = None) -> None:
    """Show the factor taxonomy (level 1 / 2 / 3, value type, extractor) or one task's factor set."""
    from .taxonomy import REGISTRY, factors_for_task

    facs = factors_for_task(task) if task else list(REGISTRY)
    t = Table(title=f"factors{' of task ' + task if task else ''}")
    for c in ("name", "label", "level 2", "level 3", "value", "extractor", "polarity", "description"):
        t.add_column(c)
    for f in facs:
        t.add_row(f.name, f.label, f.level2, f.level3.value, f.value_type.value, f.extractor,
                  {1: "+", -1: "-", 0: "0"}[f.polarity], f.description)
    out.print(t)


# Feature areas add their commands from their own modules: each has ``register(app)``.
_COMMAND_MODULES = (
    "profile_align.factors.cli",      # validate-factors
    "profile_align.pipeline.cli",     # run
    "profile_align.diagnostics.cli",  # probe, doctor, diagnose
    "profile_align.report.cli",       # report
    "profile_align.experiments.cli",  # guide, improve, generalize, paradox, human-check
    "profile_align.explain_cli",      # explain
    "profile_align.overview",         # overview
    "profile_align.experiments.selfguide_cli",  # logprob-check, selfguide-export
)


def _mount_subapps() -> None:
    import importlib

    from .backends.cli import app as backends_app

    app.add_typer(backends_app, name="backends", help="LLM backends: list model strings, check one works.")
    for mod in _COMMAND_MODULES:
        try:
            module = importlib.import_module(mod)
        except ModuleNotFoundError as e:  # the area is not built yet
            if e.name and mod.startswith(e.name):
                continue
            raise
        module.register(app)


_mount_subapps()


def _version_callback(value: bool) -> None:
    if value:
        from .version import __version__

        typer.echo(f"profile-align {__version__}")
        raise typer.Exit()


@app.callback()
def _root(version: Annotated[bool, typer.Option(
        "--version", callback=_version_callback, is_eager=True, help="Print the version and exit.")] = False) -> None:
    pass


def main(argv: list[str] | None = None) -> None:
    """The console script (errors become messages and exit codes in :class:`_ErrorMappingGroup`)."""
    app(args=argv, standalone_mode=True)


if __name__ == "__main__":
    main()
