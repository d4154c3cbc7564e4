"""The report's sections, in order: a registry of builders ``RunData -> Section | list[Section]``.

A builder raises :class:`Omitted` when the run lacks what it needs: the section is then listed with that
note instead of content. An unexpected error in one builder becomes a warning note on that section (and
is counted in ``Report.errors``), so one bad table never loses the whole report.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from ..stats.alignment import align
from .blocks import (
    Block,
    FigureRef,
    KeyValues,
    Note,
    PairExample,
    Section,
    Table,
    Text,
    fmt_int,
    fmt_num,
    fmt_p,
    fmt_pct,
    fmt_score,
    fmt_value,
    frame_table,
)
from .build import RunData
from .derive import (
    all_flags,
    diagnostics_ran,
    differences,
    factor_correlation,
    factor_label,
    factor_level2,
    factor_level3,
    gen_eval_pairs,
    llm_usage,
    n_bad_calls,
    score_matrix,
    striking_factors,
)

__all__ = ["SECTIONS", "ORDER", "Omitted", "register_section", "build_sections", "EXPERIMENTS", "SectionBuild"]


class Omitted(Exception):
    """The run lacks the data of this section (the message says what is missing)."""


Builder = Callable[[RunData], "Section | list[Section] | list[Block]"]


@dataclass(frozen=True)
class _Entry:
    id: str
    title: str
    intro: str
    fn: Builder


SECTIONS: dict[str, _Entry] = {}


def register_section(id: str, title: str, intro: str = "") -> Callable[[Builder], Builder]:
    """Add a section builder (appended to the report in registration order)."""
    def deco(fn: Builder) -> Builder:
        SECTIONS[id] = _Entry(id, title, intro, fn)
        return fn
    return deco


@dataclass
class SectionBuild:
    sections: list[Section] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)


# The order of the report; sections registered by others come after these.
ORDER = ("findings", "run", "overview", "scores", "subgroups", "alignment", "differences", "failures", "rankings", "gen_eval", "bias",
         "correlation",
         "extraction", "validation", "examples", "experiments")


def build_sections(run: RunData) -> SectionBuild:
    out = SectionBuild()
    ids = [i for i in ORDER if i in SECTIONS] + [i for i in SECTIONS if i not in ORDER]
    for e in (SECTIONS[i] for i in ids):
        try:
            res = e.fn(run)
        except Omitted as o:
            out.sections.append(Section(e.id, e.title, e.intro, omitted=str(o)))
            continue
        except Exception as ex:  # noqa: BLE001
            msg = f"section {e.id!r} could not be built: {type(ex).__name__}: {ex}"
            out.errors.append(msg)
            out.sections.append(Section(e.id, e.title, e.intro, [Note(msg, "warn")]))
            continue
        if isinstance(res, Section):
            out.sections.append(res)
        elif res and all(isinstance(s, Section) for s in res):
            out.sections.extend(res)  # type: ignore[arg-type]
        else:
            out.sections.append(Section(e.id, e.title, e.intro, list(res)))  # type: ignore[arg-type]
    return out


def _need(x: Any, what: str) -> Any:
    if x is None or (isinstance(x, pd.DataFrame) and x.empty):
        raise Omitted(f"not in this run directory ({what})")
    return x


# -- run header ---------------------------------------------------------------------------------
@register_section("run", "Run", "What was analysed, with what, and what it cost.")
def sec_run(run: RunData) -> list[Block]:
    m = run.manifest
    ds = m.get("dataset") or {}
    info = run.info or {}
    name = ds.get("name") or info.get("name") or "—"
    source = ds.get("source")
    items: list[tuple[str, Any]] = [
        ("dataset", f"{name}" + (f" (source: {source})" if source and source != name else "")),
        ("task", str(ds.get("task") or info.get("task") or "—")),
        ("status", str(m.get("status") or "— (no manifest status)")),
        ("created", str(m.get("created") or "—")),
        ("updated", str(m.get("updated") or "—")),
        ("examples / outputs / pairs", " / ".join(fmt_int(ds.get(k)) for k in ("n_examples", "n_outputs", "n_pairs"))
         if ds else _dataset_sizes(run)),
        ("config hash", str(m.get("config_hash") or "—")),
        ("profile-align", str(m.get("profile_align_version") or "—")),
    ]
    seeds = m.get("seeds")
    if isinstance(seeds, dict) and seeds:
        items.append(("seeds", ", ".join(f"{k} {v}" for k, v in sorted(seeds.items()))))
    u = llm_usage(run)
    if u is not None:
        def cost(c: Any) -> str:
            return "unknown (no price for this backend)" if c is None else f"${float(c):.4f}"

        items.append(("LLM requests", f"{fmt_int(u.get('requests'))} ({fmt_int(u.get('cached'))} from cache), "
                      f"{fmt_int(n_bad_calls(u))} failed or unparseable ({fmt_int(u.get('failures'))} failed, "
                      f"{fmt_int(u.get('parse_failures'))} unparseable)"))
        items.append(("tokens", f"{fmt_int(u.get('prompt_tokens'))} prompt + {fmt_int(u.get('completion_tokens'))} "
                      "completion (paid by this invocation)"))
        items.append(("cost", cost(u.get("cost_usd"))))
        fc = u.get("from_cache")
        if isinstance(fc, dict) and fc.get("requests"):
            items.append(("from cache", f"{fmt_int(fc.get('requests'))} requests, {fmt_int(fc.get('prompt_tokens'))} "
                          f"prompt + {fmt_int(fc.get('completion_tokens'))} completion tokens, "
                          f"{cost(fc.get('cost_usd'))} not paid again"))
        cum, early = u.get("cumulative"), u.get("earlier")
        if isinstance(cum, dict) and isinstance(early, dict) and early.get("invocations"):
            items.append(("earlier invocations", f"{fmt_int(early.get('invocations'))}: {fmt_int(early.get('requests'))} "
                          f"requests, {fmt_int(early.get('prompt_tokens'))} prompt + "
                          f"{fmt_int(early.get('completion_tokens'))} completion tokens, {cost(early.get('cost_usd'))}"))
            items.append(("all invocations", f"{fmt_int(cum.get('invocations'))}: {fmt_int(cum.get('requests'))} requests "
                          f"paid, {fmt_int(cum.get('prompt_tokens'))} prompt + {fmt_int(cum.get('completion_tokens'))} "
                          f"completion tokens, {cost(cum.get('cost_usd'))}"))
        if u.get("wall_s") is not None:
            items.append(("LLM wall time", f"{float(u['wall_s']):,.1f} s"))
    t = m.get("timings")
    if isinstance(t, dict) and t:
        items.append(("stage timings", ", ".join(f"{k} {float(v):,.1f} s" for k, v in t.items()
                                                  if isinstance(v, (int, float)))))
    blocks: list[Block] = [KeyValues([(k, fmt_value(v) if not isinstance(v, str) else v) for k, v in items], columns=2)]
    if run.judges:
        rows = [[j.name, j.kind, j.model or "—", j.policy or "—", j.protocol or "—", fmt_int(j.n_pairs),
                 fmt_int(j.n_failed)] for j in run.judges]
        blocks.append(Table(["judge", "kind", "model", "tie policy", "protocol", "pairs", "failed"], rows, "Judges",
                            frozenset({5, 6})))
    v = m.get("versions")
    if isinstance(v, dict) and v:
        blocks.append(Table(["package", "version"], [[str(k), str(x)] for k, x in v.items()], "Versions",
                            collapsed=True))
    if not m:
        blocks.insert(0, Note("manifest.json is missing: run details are unknown", "warn"))
    return blocks


def _dataset_sizes(run: RunData) -> str:
    d = run.dataset
    if d is None:
        return "—"
    return f"{len(d.examples):,} / {len(d.outputs):,} / {len(d.pairs):,}"


@register_section("failures", "Failures, dropped rows and flags",
                  "Everything that did not go into the numbers, and every warning raised on a judge or extractor.")
def sec_failures(run: RunData) -> list[Block]:
    m = run.manifest
    blocks: list[Block] = []
    flags = all_flags(run)
    if flags:
        rows = [[str(f.get("flag", "?")), str(f.get("prompt_type") or "—"), str(f.get("model") or "—"),
                 fmt_value(f.get("evidence")), fmt_value(f.get("advice"))] for f in flags]
        blocks.append(Table(["flag", "prompt type", "model", "evidence", "advice"], rows,
                            f"{len(flags)} flag(s) raised on judges or extractors"))
    elif not diagnostics_ran(run):
        blocks.append(Note("No judge diagnostics in this run (diagnostics.json absent): degenerate judges were not checked."))
    else:
        blocks.append(Note("No flags raised by the judge diagnostics."))
    if isinstance(run.diagnostics, dict) and run.diagnostics.get("per_prompt"):
        per = [p for p in run.diagnostics["per_prompt"] if isinstance(p, dict)]
        if per:
            blocks += frame_table(pd.DataFrame(per), "Answer diagnostics per prompt type", "diagnostics.json")
    fail = m.get("failures")
    if isinstance(fail, dict) and fail:
        rows = [[str(k), fmt_int(v.get("requests")), fmt_int(v.get("failed")), fmt_int(v.get("parse_failed"))]
                for k, v in sorted(fail.items()) if isinstance(v, dict)]
        blocks.append(Table(["stage / prompt type", "requests", "failed", "unparseable"], rows,
                            "LLM failures per stage", frozenset({1, 2, 3})))
    if isinstance(run.usage, dict) and isinstance(run.usage.get("rows"), list) and run.usage["rows"]:
        df = pd.DataFrame(run.usage["rows"])
        keep = [c for c in ("backend", "model", "prompt_type", "requests", "cached", "failures", "parse_failures",
                            "prompt_tokens", "completion_tokens", "wall_s", "cost_usd") if c in df.columns]
        blocks += frame_table(df[keep], "LLM usage per prompt type (usage.json)", "usage.json")
    rep = (m.get("dataset") or {}).get("load_report") or (run.info or {}).get("report")
    if isinstance(rep, dict) and rep:
        items: list[tuple[str, Any]] = [
            ("rows read", fmt_int(rep.get("rows_read"))), ("pairs built", fmt_int(rep.get("pairs_built"))),
            ("human ties dropped", fmt_int(rep.get("ties_dropped"))),
            ("rows rejected", fmt_int(rep.get("rows_rejected")))]
        for reason, n in sorted((rep.get("dropped") or {}).items()):
            items.append((f"dropped: {reason}", fmt_int(n)))
        blocks.append(KeyValues(items, f"Loading {rep.get('source', '')}"))
        rej = rep.get("rejected") or []
        if rej:
            blocks += frame_table(pd.DataFrame({"rejected row": [str(r) for r in rej]}), "Rejected rows")
    missing = (m.get("factors") or {}).get("missing")
    if isinstance(missing, dict) and missing:
        blocks.append(Table(["factor", "outputs without a value"],
                            [[factor_label(k), fmt_int(v)] for k, v in sorted(missing.items())],
                            "Missing factor values (those pairs are excluded from that factor and counted)",
                            frozenset({1})))
    for p in run.problems:
        blocks.append(Note(p, "warn"))
    return blocks


# -- scores, rankings, alignment ----------------------------------------------------------------
@register_section("scores", "Factor scores",
                  "tau_14 per factor and judge: positive = the judge prefers the text with more of the factor. "
                  "Whiskers: bootstrap CI over examples.")
def sec_scores(run: RunData) -> list[Block]:
    s = _need(score_matrix(run, "score"), "tables/factor_scores or scores/*.json")
    lo, hi = score_matrix(run, "ci_low"), score_matrix(run, "ci_high")
    rows = []
    for f in s.index:
        row: list[Any] = [factor_label(f)]
        for j in s.columns:
            v = s.at[f, j]
            if np.isnan(v):
                row.append("no applicable pairs")
                continue
            ci = ""
            if not lo.empty and j in lo.columns and not np.isnan(lo.at[f, j]):
                ci = f" [{lo.at[f, j]:+.2f}, {hi.at[f, j]:+.2f}]"
            row.append(f"{v:+.3f}{ci}")
        rows.append(row)
    n_used = score_matrix(run, "n_used")
    blocks: list[Block] = [FigureRef("factor_scores"),
                           Table(["factor", *s.columns], rows, "tau_14 [95% CI]", frozenset(range(1, len(s.columns) + 1)))]
    sc = run.scores
    if sc is not None and {"judge", "policy"} <= set(sc.columns):  # which tie rule each judge's scores used
        first = sc.drop_duplicates("judge").set_index("judge")
        words = first["tie_rule"] if "tie_rule" in first.columns else first["policy"]
        blocks.append(Table(["judge", "tie policy", "rule"],
                            [[str(j), str(first.at[j, "policy"]), str(words[j])] for j in s.columns if j in first.index],
                            "Tie policy of each judge's scores"))
    if not n_used.empty:
        blocks.append(Table(["factor", *n_used.columns],
                            [[factor_label(f), *(fmt_int(n_used.at[f, j]) for j in n_used.columns)] for f in n_used.index],
                            "Pairs used per factor (after the tie policy and missing values)",
                            frozenset(range(1, len(n_used.columns) + 1)), collapsed=True))
    return blocks


@register_section("subgroups", "Factor scores per subgroup",
                  "tau_14 per factor within each subgroup of the data (`score --group-by COLUMNS --out RUN_DIR`), "
                  "with the bootstrap CI over the subgroup's examples.")
def sec_subgroups(run: RunData) -> list[Block]:
    from ..rundir import TABLES, RunDir

    rd = RunDir(run.path)
    if not rd.has_table(TABLES["group_scores"]):
        raise Omitted("no subgroups in this run directory (profile-align score DATA --group-by COLUMNS --out RUN_DIR)")
    g = rd.read_table(TABLES["group_scores"])
    cols = list((run.manifest or {}).get("group_by") or [])
    cols = [c for c in cols if c in g.columns] or [c for c in g.columns[: list(g.columns).index("judge")]]
    judges = list(dict.fromkeys(g["judge"]))
    g = g.assign(group_label=g[cols].astype(str).agg(", ".join, axis=1) if cols else "all")
    factors = [f for f in run.factor_order if f in set(g["factor"])] + \
        sorted(set(g["factor"]) - set(run.factor_order))
    blocks: list[Block] = []
    for j in judges:
        sub = g[g["judge"] == j]
        groups = list(dict.fromkeys(sub["group_label"]))
        by = {(r.group_label, r.factor): r for r in sub.itertuples(index=False)}
        rows = []
        for f in factors:
            row: list[Any] = [factor_label(f)]
            for grp in groups:
                r = by.get((grp, f))
                if r is None or np.isnan(r.score):
                    row.append("—")
                    continue
                ci = "" if np.isnan(r.ci_low) else f" [{r.ci_low:+.2f}, {r.ci_high:+.2f}]"
                row.append(f"{r.score:+.3f}{ci}")
            rows.append(row)
        blocks.append(Table(["factor", *groups], rows, f"{j}: tau_14 [95% CI] per {', '.join(cols) or 'group'}",
                            frozenset(range(1, len(groups) + 1))))
    return blocks


@register_section("rankings", "Factor rankings",
                  "Rank of each factor per judge (1 = strongest positive influence), grouped by level 2 "
                  "(what the factor is about) and level 3 (what it relates).")
def sec_rankings(run: RunData) -> list[Block]:
    s = _need(score_matrix(run, "score"), "tables/factor_scores")
    ranks = s.rank(ascending=False, method="min", na_option="keep")
    first = ranks.iloc[:, 0].fillna(np.inf)  # within a group: by the first judge's (the human's) rank
    order = sorted(s.index, key=lambda f: (factor_level2(f), factor_level3(f), first[f], f))
    kept = score_matrix(run, "rank_kept").reindex(index=s.index, columns=s.columns)
    with_kept = bool(kept.notna().any().any()) if not kept.empty else False

    def cell(f: str, j: str) -> str:
        if np.isnan(ranks.at[f, j]):
            return "—"
        k = kept.at[f, j] if with_kept else np.nan
        return f"{int(ranks.at[f, j])} ({s.at[f, j]:+.2f}" + ("" if np.isnan(k) else f"; kept {fmt_pct(k)}") + ")"

    rows = [[factor_level2(f), factor_level3(f), factor_label(f), *(cell(f, j) for j in s.columns)] for f in order]
    caption = ("rank (score; share of bootstrap resamples of the examples in which the factor keeps this rank)"
               if with_kept else "rank (score)")
    blocks: list[Block] = [Table(["level 2", "level 3", "factor", *s.columns], rows, caption,
                                 frozenset(range(3, 3 + len(s.columns))), group_column=0)]
    groups = sorted({factor_level2(f) for f in s.index})
    g_rows = []
    for g in groups:
        fs = [f for f in s.index if factor_level2(f) == g]
        g_rows.append([g, str(len(fs)), *(fmt_score(np.nanmean(s.loc[fs, j])) if s.loc[fs, j].notna().any() else "—"
                                          for j in s.columns)])
    blocks.append(Table(["level 2", "factors", *s.columns], g_rows, "Mean factor score per level-2 group",
                        frozenset(range(1, 2 + len(s.columns)))))
    return blocks


@register_section("alignment", "Alignment with the human judge",
                  "Correlation of each judge's factor scores with the human's (over the common factors), and "
                  "pairwise agreement on the pairs both judged. Kendall tau [95% CI]: percentile interval over "
                  "bootstrap resamples of the examples, both judges' scores recomputed in each.")
def sec_alignment(run: RunData) -> list[Block]:
    a = _need(run.alignment, "tables/alignment")
    recs = a.to_dict(orient="records")

    def agr_text(r: dict[str, Any], suffix: str = "") -> str:
        agr = r.get(f"agreement{suffix}")
        if agr is None or pd.isna(agr):
            return "—"
        out = fmt_pct(agr)
        if not pd.isna(r.get(f"agreement{suffix}_ci_low", np.nan)):
            out += f" [{fmt_pct(r[f'agreement{suffix}_ci_low'])}, {fmt_pct(r[f'agreement{suffix}_ci_high'])}]"
        return out

    def tau_ci(r: dict[str, Any]) -> str:
        lo, hi = r.get("kendall_ci_low"), r.get("kendall_ci_high")
        if lo is None or hi is None or pd.isna(lo) or pd.isna(hi):
            return ""
        return f" [{fmt_score(lo)}, {fmt_score(hi)}]"

    rows = []
    for r in recs:
        kind = str(r.get("kind") or "—")
        setting = r.get("setting")
        if isinstance(setting, str) and setting and setting != kind and kind != "human":
            kind = f"{kind} ({setting})"
        rows.append([str(r.get("judge")), kind, str(r.get("model") or "—"),
                     f"{fmt_score(r.get('kendall_tau'))}{tau_ci(r)} (p {fmt_p(r.get('kendall_p'))})",
                     f"{fmt_score(r.get('spearman_rho'))} (p {fmt_p(r.get('spearman_p'))})",
                     f"{fmt_score(r.get('pearson_r'))} (p {fmt_p(r.get('pearson_p'))})",
                     fmt_int(r.get("n_factors")), agr_text(r), fmt_int(r.get("n_agreement_pairs"))])
    cols = ["judge", "kind", "model", "Kendall tau", "Spearman rho", "Pearson r", "factors", "agreement [95% CI]",
            "pairs"]
    # evaluation judges: the paper's single-order protocol next to the combined both-orders verdict
    if "agreement_first_order" in a.columns and a["agreement_first_order"].notna().any():
        cols += ["protocol", "first order only: Kendall tau", "first order only: agreement [95% CI]"]
        rows = [[*row, str(r.get("protocol")) if isinstance(r.get("protocol"), str) else "—",
                 fmt_score(r.get("kendall_tau_first_order")), agr_text(r, "_first_order")]
                for row, r in zip(rows, recs)]
    notes = [str(r.get("note") or "") if not pd.isna(r.get("note")) else "" for r in recs]
    if any(notes):
        cols.append("note")
        rows = [[*row, n] for row, n in zip(rows, notes)]
    return [Table(cols, rows, "Alignment (the paper's Table 1 layout)", frozenset({3, 4, 5, 6, 7, 8}))]


@register_section("differences", "Human vs model, factor by factor",
                  "Judge minus human factor score with a bootstrap CI. * = significant at 0.05 after Holm "
                  "adjustment over the factors (the same mark in the terminal, tables and figures).")
def sec_differences(run: RunData) -> list[Block]:
    d = differences(run)
    _need(d if not d.empty else None, "tables/differences")
    rows = []
    for r in d.itertuples(index=False):
        mark = "*" if r.significant else ""  # Holm-adjusted (report.derive.differences)
        ci = "—" if np.isnan(r.ci_low) else f"[{r.ci_low:+.2f}, {r.ci_high:+.2f}]"
        rows.append([r.judge, factor_label(r.factor), fmt_score(r.score_human), fmt_score(r.score_judge),
                     fmt_score(r.diff) + (" " + mark if mark else ""), ci, fmt_p(r.p_value), fmt_p(r.p_holm)])
    return [FigureRef("differences"),
            Table(["judge", "factor", "human", "judge score", "judge − human", "95% CI", "p", "p (Holm)"], rows,
                  "", frozenset({2, 3, 4, 5, 6, 7}), group_column=0)]


@register_section("gen_eval", "Generation vs evaluation",
                  "The same model as a generator (writes outputs aimed at scores) and as an evaluator (picks the "
                  "better of two): do its factor preferences agree across the two settings?")
def sec_gen_eval(run: RunData) -> list[Block]:
    pairs = gen_eval_pairs(run)
    if not pairs:
        raise Omitted("no model has both a generation and an evaluation judge in this run")
    s = score_matrix(run)
    blocks: list[Block] = [FigureRef("generation_vs_evaluation")]
    al = {str(r["judge"]): r for r in run.alignment.to_dict(orient="records")} if run.alignment is not None else {}
    for p in pairs:
        rows = [[factor_label(f), fmt_score(s.at[f, "human"]) if "human" in s.columns else "—",
                 fmt_score(s.at[f, p.generation]), fmt_score(s.at[f, p.evaluation])] for f in s.index]
        blocks.append(Table(["factor", "human", "generation", "evaluation"], rows, p.label, frozenset({1, 2, 3})))
        ge = align(s[p.generation].dropna().to_dict(), s[p.evaluation].dropna().to_dict())
        items = [("generation vs evaluation (Kendall tau over factors)",
                  f"{fmt_score(ge.kendall_tau)} (p {fmt_p(ge.kendall_p)}, {ge.n_factors} factors)")]
        for j in (p.generation, p.evaluation):
            if j in al:
                items.append((f"{j} vs human (Kendall tau)", f"{fmt_score(al[j].get('kendall_tau'))}"))
        blocks.append(KeyValues(items))
    return blocks


@register_section("bias", "Evaluator position bias",
                  "First-position win rate (0.5 = no preference for the first text shown), flip rate (the verdict "
                  "changes when the two texts are swapped) and tie rate of each evaluator.")
def sec_bias(run: RunData) -> list[Block]:
    b = _need(run.evaluator_bias, "tables/evaluator_bias: no evaluator in this run")
    rows = [[str(r.get("judge")), str(r.get("model") or "—"), fmt_int(r.get("n_pairs")),
             fmt_pct(r.get("first_position_win_rate")), fmt_pct(r.get("flip_rate")), fmt_pct(r.get("tie_rate")),
             fmt_int(r.get("n_invalid"))] for r in b.to_dict(orient="records")]
    return [FigureRef("evaluator_bias"),
            Table(["judge", "model", "pairs", "first-position wins", "flip rate", "tie rate", "invalid"], rows, "",
                  frozenset({2, 3, 4, 5, 6}))]


@register_section("correlation", "Factor correlations",
                  "Spearman correlation of factor values over all outputs of the run: strongly correlated factors "
                  "explain the same preferences and should be read together.")
def sec_correlation(run: RunData) -> list[Block]:
    c = factor_correlation(run)
    if c.empty:
        raise Omitted("needs factors.parquet with at least two factors")
    rows = [[factor_label(f), *(fmt_num(v, 2) for v in c.loc[f])] for f in c.index]
    return [FigureRef("factor_correlation"),
            Table(["factor", *(factor_label(f) for f in c.columns)], rows, "Spearman rho (— : constant factor)",
                  frozenset(range(1, len(c.columns) + 1)), collapsed=True)]


@register_section("extraction", "Factor extraction",
                  "How each factor's values were obtained, how many are missing, and how many per-fact verdicts failed.")
def sec_extraction(run: RunData) -> list[Block]:
    t = _need(run.factors, "factors.parquet")
    det = run.factor_details
    rows = []
    for f in t.factor_names:
        col = t.values[f].astype(float)
        prov = t.provenance.get(f, {})
        items = failed = "—"
        if det is not None and {"factor", "n_items", "n_failed"} <= set(det.columns):
            sub = det[det["factor"] == f]
            if len(sub):
                items, failed = fmt_int(sub["n_items"].sum()), fmt_int(sub["n_failed"].sum())
        extractor = str(prov.get("extractor", "?")) + (f" — {prov['note']}" if prov.get("note") else "")
        rows.append([factor_label(f), extractor, str(prov.get("version", "?")),
                     fmt_int(col.notna().sum()), fmt_int(col.isna().sum()), fmt_num(col.mean(), 3),
                     fmt_num(col.min(), 3), fmt_num(col.max(), 3), items, failed])
    blocks: list[Block] = [Table(["factor", "extractor", "version", "values", "missing", "mean", "min", "max",
                                  "items asked", "items failed"], rows, f"{len(t):,} outputs",
                                 frozenset(range(3, 10)))]
    ue = ((run.manifest or {}).get("factors") or {}).get("unieval") or {}
    if ue.get("warning"):
        blocks.insert(0, Note(str(ue["warning"]), "warn"))
    if t.warnings:
        blocks.append(Table(["warning", "count"], [[str(k), fmt_int(v)] for k, v in sorted(t.warnings.items())],
                            "Warnings recorded with the factor table", frozenset({1})))
    return blocks


@register_section("validation", "Extractor validation",
                  "Agreement of the extracted factors with human ratings (validate-factors).")
def sec_validation(run: RunData) -> list[Block]:
    v = _need(run.validation, "no extractor validation table (run validate-factors)")
    return frame_table(v, run.validation_name or "", run.validation_name or "")


# -- example pairs ------------------------------------------------------------------------------
MAX_EXAMPLE_JUDGES = 3
EXAMPLES_PER_JUDGE = 3
OUTPUT_COLLAPSE = 900  # outputs are what the judges compared: shown whole up to this many characters


@register_section("examples", "Example pairs",
                  "For the factors where a model judge differs most from the humans: the pair with the largest gap "
                  "in that factor on which the human and the model picked different texts.")
def sec_examples(run: RunData) -> list[Block]:
    ds = _need(run.dataset, "dataset/")
    t = _need(run.factors, "factors.parquet")
    by_judge: dict[str, dict[str, int]] = {}
    for p in ds.preferences:
        by_judge.setdefault(p.judge, {})[p.pair_id] = int(p.verdict)
    human = by_judge.get("human")
    if not human:
        raise Omitted("the dataset has no human preferences")
    judges = [j.name for j in run.judges if j.name != "human" and set(by_judge.get(j.name, {})) & set(human)]
    if not judges:
        raise Omitted("no model judge judged the human's pairs (only evaluators and reward models do)")
    pairs, outs, exs = ds.pair_map(), ds.output_map(), ds.example_map()
    blocks: list[Block] = []
    for judge in judges[:MAX_EXAMPLE_JUDGES]:
        model = by_judge[judge]
        disagree = sorted(k for k in set(model) & set(human) if model[k] * human[k] == -1)
        if not disagree:
            blocks.append(Note(f"{judge}: never picked the other text than the human on a pair both judged"))
            continue
        for f in striking_factors(run, judge, EXAMPLES_PER_JUDGE):
            if f not in t.factor_names:
                continue
            vals = t.values[f].astype(float)
            best, gap = None, -1.0
            for k in disagree:
                pr = pairs[k]
                va, vb = vals.get(pr.a, np.nan), vals.get(pr.b, np.nan)
                if np.isnan(va) or np.isnan(vb) or abs(va - vb) <= gap:
                    continue
                best, gap = k, abs(va - vb)
            if best is None or gap == 0:
                blocks.append(Note(f"{factor_label(f)} / {judge}: no disagreement pair differs in this factor"))
                continue
            pr = pairs[best]
            side = {1: "A", -1: "B"}
            ex = exs[pr.example_id]
            blocks.append(PairExample(
                f"{factor_label(f)}: {judge} vs human",
                [("pair", pr.id), (f"{factor_label(f)} of A / B", f"{fmt_value(vals[pr.a])} / {fmt_value(vals[pr.b])}"),
                 ("human prefers", side[human[best]]), (f"{judge} prefers", side[model[best]]),
                 ("disagreements of this judge with the human", f"{len(disagree):,} pairs")],
                [("input", Text(ex.source_text)), ("A", Text(outs[pr.a].text, OUTPUT_COLLAPSE)),
                 ("B", Text(outs[pr.b].text, OUTPUT_COLLAPSE))]))
    return blocks


# -- experiments --------------------------------------------------------------------------------
EXPERIMENTS: dict[str, tuple[str, str]] = {
    "guide": ("Experiment: factor guidance for the evaluator",
              "Agreement with humans with no guidance, guidance on a random factor, and guidance on the factor the "
              "model over-weights (profile-align guide)."),
    "improve": ("Experiment: feedback-driven improvement",
                "Factor scores of improved vs initial outputs and their alignment with the human's and the "
                "evaluator's (profile-align improve)."),
    "generalize": ("Experiment: generalizability of scored generation",
                   "Cosine similarity of min-max scaled factor vectors of direct and score-k generations "
                   "(profile-align generalize)."),
    "paradox": ("Experiment: the generative AI paradox (TriviaQA)",
                "Generation accuracy, evaluation accuracy and unfaithful evaluation (profile-align paradox)."),
}


def _summary_blocks(summary: Any) -> list[Block]:
    if summary is None:
        return [Note("no summary.json")]
    if not isinstance(summary, dict):
        return [KeyValues([("summary", fmt_value(summary))])]
    items: list[tuple[str, Any]] = []
    tables: list[Block] = []

    def walk(prefix: str, obj: Any) -> None:
        if isinstance(obj, dict):
            for k, v in obj.items():
                walk(f"{prefix}.{k}" if prefix else str(k), v)
        elif isinstance(obj, list) and obj and all(isinstance(x, dict) for x in obj):
            tables.extend(frame_table(pd.DataFrame(obj), prefix))
        else:
            items.append((prefix, fmt_value(obj)))

    walk("", summary)
    return ([KeyValues(items, "summary.json")] if items else []) + tables


@register_section("experiments", "Experiments")
def sec_experiments(run: RunData) -> list[Section]:
    out = []
    names = list(EXPERIMENTS) + sorted(set(run.experiments) - set(EXPERIMENTS))
    for name in names:
        title, intro = EXPERIMENTS.get(name, (f"Experiment: {name}", ""))
        ex = run.experiments.get(name)
        sid = f"exp-{name}"
        if ex is None:
            out.append(Section(sid, title, intro, omitted=f"not run (no experiments/{name}/ in this run directory)"))
            continue
        blocks = _summary_blocks(ex.summary)
        for stem, df in ex.tables.items():
            blocks += frame_table(df, stem, f"experiments/{name}/{stem}")
        blocks += [Note(p, "warn") for p in ex.problems]
        out.append(Section(sid, title, intro, blocks))
    return out
