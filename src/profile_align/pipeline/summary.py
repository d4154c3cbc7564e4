"""Terminal summary of a run: judges vs the human (like the paper's Table 1: alignment tau, agreement),
the per-judge factor score table (like its Tables 5-7), evaluator bias, failures and usage — failure
counts are always printed beside the numbers they affect. Every count comes from the manifest, which
derives them from the call records (``backends/records.py``)."""

from __future__ import annotations

import math
import sys
from typing import Any

from rich.console import Console
from rich.table import Table
from rich.text import Text

from ..taxonomy import REGISTRY

__all__ = ["print_summary", "judges_table", "factor_table", "bias_table", "failures_table", "usage_lines",
           "judge_findings"]


def _f(x: Any, nd: int = 3, signed: bool = True) -> str:
    if x is None:
        return "-"
    try:
        if isinstance(x, float) and math.isnan(x):
            return "-"
    except TypeError:
        return str(x)
    return f"{x:+.{nd}f}" if signed else f"{x:.{nd}f}"


def _p(p: Any) -> str:
    return "-" if p is None or (isinstance(p, float) and math.isnan(p)) else f"{p:.2g}"


def judges_table(result: Any) -> Table:
    al = result.tables["alignment"]
    by = {j.name: j for j in result.judges}
    n_ex = len(result.dataset.examples)
    t = Table(title=f"judges vs human on {result.dataset.name} ({n_ex} example{'s' if n_ex != 1 else ''}, "
                    f"{_pairs(result, 'human')} human pairs)")
    for c in ("judge", "setting", "pairs", "alignment tau [95% CI] (p)", "rho (p)", "r (p)", "agreement [95% CI]", "failed"):
        t.add_column(c, justify="left" if c in ("judge", "setting") else "right")
    for r in al.itertuples():
        j = by[r.judge]
        agree = "-" if r.n_agreement_pairs == 0 else \
            f"{r.agreement:.1%} [{r.agreement_ci_low:.0%}, {r.agreement_ci_high:.0%}] n={r.n_agreement_pairs}"
        first = getattr(r, "agreement_first_order", float("nan"))
        if r.n_agreement_pairs and first == first and j.stats.get("both_orders"):
            agree += f"; first order only {first:.1%}"  # the paper's single-order protocol
        req = j.n_requests
        setting = r.kind if j.setting in (r.kind, None) or r.kind == "human" else f"{r.kind} ({j.setting})"
        note = getattr(r, "note", "")
        lo, hi = getattr(r, "kendall_ci_low", float("nan")), getattr(r, "kendall_ci_high", float("nan"))
        ci = f" [{lo:+.2f}, {hi:+.2f}]" if lo == lo and hi == hi else ""
        tau = f"{_f(r.kendall_tau)}{ci} ({_p(r.kendall_p)})" if r.kendall_tau == r.kendall_tau else \
            (str(note) if isinstance(note, str) and note else "undefined")  # why the number is missing
        t.add_row(r.judge, setting, str(len(j.preferences)), tau,
                  f"{_f(r.spearman_rho)} ({_p(r.spearman_p)})", f"{_f(r.pearson_r)} ({_p(r.pearson_p)})",
                  agree, f"{j.n_failed}/{req}" if req else "-")
    return t


def factor_table(result: Any) -> Table:
    fs = result.tables["factor_scores"]
    judges = list(dict.fromkeys(fs["judge"]))
    t = Table(title="factor scores tau_14 per judge (rank, share of bootstrap resamples keeping that rank), "
                    "95% CI by example bootstrap; - = no applicable pairs")
    t.add_column("factor")
    for j in judges:
        t.add_column(j, justify="right")
    human = fs[fs["judge"] == "human"].set_index("factor")
    order = list(human.sort_values("rank").index) if len(human) else list(dict.fromkeys(fs["factor"]))
    for fac in order:
        cells = []
        for j in judges:
            row = fs[(fs["judge"] == j) & (fs["factor"] == fac)]
            if not len(row) or math.isnan(float(row["score"].iloc[0])):
                cells.append("-")
                continue
            r = row.iloc[0]
            kept = r.get("rank_kept", float("nan"))
            rank = f"{int(r['rank'])}" + (f", kept {kept:.0%}" if kept == kept else "")
            ci = f" [{r['ci_low']:+.2f}, {r['ci_high']:+.2f}]" if r["ci_low"] == r["ci_low"] else ""
            cells.append(f"{r['score']:+.3f} ({rank}){ci}")
        label = REGISTRY.get(fac).label if fac in REGISTRY else fac
        t.add_row(label, *cells)
    t.add_row("pairs used / judged", *[
        f"{int(fs[fs['judge'] == j]['n_used'].max())}/{_pairs(result, j)}" for j in judges], style="dim")
    if "policy" in fs.columns:  # the tie policy of every judge, named here and spelled out below
        first = fs.drop_duplicates("judge").set_index("judge")
        t.add_row("tie policy", *[str(first.at[j, "policy"]) for j in judges], style="dim")
        if "tie_rule" in fs.columns:
            rules = dict(zip(first["policy"].astype(str), first["tie_rule"].astype(str)))
            t.caption = "tie policies: " + "; ".join(f"{k} = {v}" for k, v in rules.items())
    return t


def _pairs(result: Any, judge: str) -> int:
    return sum(1 for p in result.dataset.preferences if p.judge == judge)


def bias_table(result: Any) -> Table | None:
    b = result.tables["evaluator_bias"]
    if not len(b):
        return None
    t = Table(title="evaluator position bias (both orders asked)")
    for c in ("judge", "pairs", "first-position wins", "flip rate", "tie rate", "invalid answers"):
        t.add_column(c, justify="left" if c == "judge" else "right")
    for r in b.itertuples():
        t.add_row(r.judge, str(r.n_pairs), _f(r.first_position_win_rate, 2, False), _f(r.flip_rate, 2, False),
                  _f(r.tie_rate, 2, False), str(r.n_invalid))
    return t


def failures_table(result: Any) -> Table:
    t = Table(title="LLM calls by stage / prompt type (every failure counted, from the call records)")
    for c in ("stage/prompt type", "requests", "failed", "unparseable", "rate"):
        t.add_column(c, justify="left" if c.startswith("stage") else "right")
    for k, v in sorted(result.manifest.get("failures", {}).items()):
        n = v["requests"]
        bad = v["failed"] + v["parse_failed"] + v.get("refused", 0)
        style = "red" if k in result.over_threshold else None
        t.add_row(k, str(n), str(v["failed"]), str(v["parse_failed"]), f"{bad / n:.1%}" if n else "-", style=style)
    return t


def usage_lines(m: dict[str, Any]) -> list[str]:
    """The manifest's usage in words: this invocation, what came from the cache, and (after a resume)
    what every invocation of the run paid together."""
    u = m.get("usage") or {}

    def cost(c: Any) -> str:
        return "n/a" if c is None else f"${c:.4f}"

    bad = int(u.get("failures", 0)) + int(u.get("parse_failures", 0)) + int(u.get("refused", 0))
    fc = u.get("from_cache") or {}
    lines = [f"LLM calls: {bad} of {u.get('requests', 0)} failed or unparseable",
             f"LLM usage: {u.get('requests', 0)} requests ({u.get('cached', 0)} from cache, "
             f"{u.get('new_requests', 0)} new), {u.get('prompt_tokens', 0):,} prompt + "
             f"{u.get('completion_tokens', 0):,} completion tokens paid, cost {cost(u.get('cost_usd'))}; "
             f"from cache {fc.get('prompt_tokens', 0):,} + {fc.get('completion_tokens', 0):,} tokens "
             f"({cost(fc.get('cost_usd'))} not paid again)"]
    cum, early = u.get("cumulative") or {}, u.get("earlier") or {}
    if early.get("invocations"):
        lines.append(f"LLM usage over {cum.get('invocations')} invocations of this run: {cum.get('requests', 0)} "
                     f"requests paid, {cum.get('prompt_tokens', 0):,} prompt + {cum.get('completion_tokens', 0):,} "
                     f"completion tokens, cost {cost(cum.get('cost_usd'))} (earlier invocations: "
                     f"{cost(early.get('cost_usd'))})")
    return lines


def _label(factor: str) -> str:
    return REGISTRY.get(factor).label if factor in REGISTRY else factor


def judge_findings(result: Any, max_readings: int = 5) -> list[str]:
    """Per judge: a one-line key finding (its strongest factor and how stable that rank is; for a model
    judge its alignment with the human, with the tau CI or why it is undefined, and its largest
    Holm-significant difference), then the plain-language reading of its largest factors
    (``report.findings.plain_reading``, the one used by ``score`` and the report)."""
    from ..report.findings import plain_reading

    fs = result.tables["factor_scores"]
    if fs is None or not len(fs):
        return []
    al = result.tables.get("alignment")
    al_by = {str(r["judge"]): r for r in al.to_dict(orient="records")} if al is not None and len(al) else {}
    diff = result.tables.get("differences")
    lines: list[str] = []
    for judge in dict.fromkeys(fs["judge"]):
        sub = fs[(fs["judge"] == judge) & fs["score"].notna() & ((fs["concordant"] + fs["discordant"]) > 0)]
        if not len(sub):
            lines.append(f"{judge}: no factor has a decisive pair")
            continue
        sub = sub.assign(abs_score=sub["score"].abs()).sort_values("abs_score", ascending=False, kind="stable")
        top = sub.iloc[0]
        kept = top.get("rank_kept", float("nan"))
        stab = f", rank {int(top['rank'])} kept in {kept:.0%} of resamples" if kept == kept else ""
        parts = [f"strongest factor {_label(str(top['factor']))} ({top['score']:+.2f}{stab})"]
        a = al_by.get(str(judge))
        if a is not None:
            tau = a.get("kendall_tau")
            if tau is not None and tau == tau:
                lo, hi = a.get("kendall_ci_low"), a.get("kendall_ci_high")
                ci = f" [{lo:+.2f}, {hi:+.2f}]" if lo is not None and lo == lo and hi == hi else ""
                parts.append(f"alignment with the human: Kendall tau {tau:+.2f}{ci}")
            else:
                parts.append(f"alignment with the human {a.get('note') or 'undefined'}")
        if diff is not None and len(diff) and "significant" in diff.columns:
            d = diff[(diff["judge"] == judge) & diff["significant"].astype(bool)]
            if len(d):
                big = d.loc[d["diff"].abs().idxmax()]
                parts.append(f"largest significant difference from the human: {_label(str(big['factor']))} "
                             f"{big['diff']:+.2f} (Holm)")
            elif str(judge) in al_by:
                parts.append("no factor differs significantly from the human (Holm)")
        lines.append(f"{judge}: " + "; ".join(parts))
        for r in sub.head(max_readings).itertuples():
            lab = _label(str(r.factor))
            lines.append(f"  {lab}: {plain_reading(lab, float(r.score), int(r.concordant), int(r.discordant))}")
        if len(sub) > max_readings:
            lines.append(f"  ... {len(sub) - max_readings} more factor(s): see the report")
    return lines


def print_summary(result: Any, console: Console | None = None) -> None:
    con = console or Console(width=None if sys.stdout.isatty() else 200)
    m = result.manifest
    con.print(f"[bold]PROFILE run[/bold] {result.run_dir.path}  config {m['config_hash']}  status {m['status']}")
    fac = m.get("factors", {})
    if fac.get("not_computed"):
        con.print(f"factors not computed (no values): {', '.join(fac['not_computed'])}")
    if (fac.get("unieval") or {}).get("warning"):
        con.print(Text.assemble(("warning", "yellow"), ": ", str(fac["unieval"]["warning"])), highlight=False)
    con.print(factor_table(result))
    if len(result.tables["alignment"]):
        con.print(judges_table(result))
    findings = judge_findings(result)
    if findings:
        con.print("[bold]key findings per judge[/bold] (readings: among decisive pairs, how often the preferred "
                  "text has more of the factor)")
        for line in findings:
            con.print(line, markup=False, highlight=False, soft_wrap=True)
    bt = bias_table(result)
    if bt is not None:
        con.print(bt)
    for j in result.judges:
        for reason, n in sorted(j.failures.reasons.items()):
            con.print(f"  {j.name}: {n} x {reason}", markup=False, highlight=False)
    if m.get("failures"):
        con.print(failures_table(result))
    for f in m.get("flags", []):
        con.print(f"[yellow]flag {f['flag']}[/yellow]: {f['evidence']} — {f['advice']}")
    for line in usage_lines(m):
        con.print(line, markup=False, highlight=False)
    con.print(f"total time {m['timings'].get('total', 0):.1f} s")
    if result.over_threshold:
        con.print(f"[red]failure rate above {m['failure_threshold']:.0%} for: "
                  + ", ".join(f"{k} ({v:.0%})" for k, v in result.over_threshold.items()) + "[/red]")
    con.print(f"run directory: {result.run_dir.path}")
