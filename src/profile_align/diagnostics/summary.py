"""``diagnose`` (answers + call records -> per-prompt statistics and flags) and ``check_run`` (the
end-of-run check the pipeline calls: writes ``diagnostics.json``, puts the flags into the manifest, prints
them, and fails in strict mode)."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from ..rundir import RunDir
from .answers import answer_stats
from .flags import FLAG_RULES, Flag, Thresholds, evaluate_flags
from ..backends.records import Records
from .sources import CALL_COLUMNS, call_stats, read_records, run_invocations

__all__ = ["DiagnosticsReport", "RunFlagged", "diagnose", "check_run", "find_cache", "STRICT_EXIT_CODE"]

STRICT_EXIT_CODE = 3
_COUNT_COLS = tuple(c for c in CALL_COLUMNS if c not in ("prompt_type", "model"))


def _rate(num: float, den: float) -> float:
    return num / den if den else math.nan


def _join(stats: pd.DataFrame, calls: pd.DataFrame | None) -> pd.DataFrame:
    """Answer statistics and call counts joined exactly on (prompt_type, model); a prompt type with calls
    but no answers row (every request failed) becomes its own row."""
    if calls is None:
        return stats.assign(**{c: 0 for c in _COUNT_COLS})
    out = stats.merge(calls, on=["prompt_type", "model"], how="outer", sort=True)
    for c in _COUNT_COLS + ("n", "n_valid", "n_invalid", "n_truncated", "n_echo", "distinct_answers",
                            "distinct_inputs", "n_both_orders", "n_index"):
        out[c] = out[c].fillna(0).astype(int)
    out["distribution"] = out["distribution"].map(lambda d: d if isinstance(d, dict) else {})
    return out


def _combine(df: pd.DataFrame, from_records: bool) -> pd.DataFrame:
    """Failure, truncation and empty rates per row.

    With call records (a run): failed = failed + unparseable + refused calls, of all calls — the same
    count the manifest, the terminal summary and the report show. Without records (an answers table on
    its own): failed = invalid answers that were not cut off, of all answers.
    """
    df = df.copy()
    for c in _COUNT_COLS:
        if c not in df.columns:
            df[c] = 0
        df[c] = df[c].fillna(0).astype(int)
    for c in ("n", "n_valid", "n_invalid", "n_truncated", "n_echo", "distinct_answers", "distinct_inputs",
              "n_both_orders", "n_index"):
        df[c] = df[c].fillna(0).astype(int)
    rows = []
    for r in df.to_dict("records"):
        if from_records:
            r["n_failed"] = r["failed_calls"] + r["unparseable_calls"] + r["refused_calls"]
            r["n_total"] = r["calls"]
            r["n_truncated_all"] = r["truncated_calls"]
            r["n_failed_not_truncated"] = r["n_failed"] - r["bad_truncated_calls"]
            r["truncation_rate"] = _rate(r["truncated_calls"], r["calls"])
            r["empty_rate"] = _rate(r["empty_calls"], r["calls"])
        else:
            r["n_failed"] = max(0, r["n_invalid"] - r["n_truncated"])
            r["n_total"] = r["n"]
            r["n_truncated_all"] = r["n_truncated"]
            r["n_failed_not_truncated"] = r["n_failed"]
            r["truncation_rate"] = _rate(r["n_truncated"], r["n"])
            r["empty_rate"] = math.nan
        r["failure_rate"] = _rate(r["n_failed"], r["n_total"])
        rows.append(r)
    return pd.DataFrame(rows)


def find_cache(run_dir: RunDir) -> Path | None:
    """The run's SQLite cache (:attr:`RunDir.cache_path`, the one rule) when the file exists."""
    p = run_dir.cache_path
    return p if p.is_file() else None


@dataclass
class DiagnosticsReport:
    per_prompt: pd.DataFrame
    """One row per prompt type x model (columns: see docs/diagnostics.md)."""
    flags: list[Flag]
    thresholds: Thresholds = field(default_factory=Thresholds)
    notes: list[str] = field(default_factory=list)

    # ---------------------------------------------------------------- summaries
    @property
    def n_failed(self) -> int:
        return int(self.per_prompt["n_failed"].sum()) if len(self.per_prompt) else 0

    @property
    def n_total(self) -> int:
        return int(self.per_prompt["n_total"].sum()) if len(self.per_prompt) else 0

    @property
    def failure_rate(self) -> float:
        """Failed or unreadable answers over all prompt types (truncation aside)."""
        return _rate(self.n_failed, self.n_total)

    def failure_counts(self) -> dict[str, dict[str, int]]:
        """``"<stages>/<prompt_type>@<model>"`` -> answers, failed, of, invalid, truncated, calls, unparseable."""
        out = {}
        for r in self.per_prompt.to_dict("records"):
            key = f"{r.get('stages') or '-'}/{r['prompt_type']}"
            if r.get("model"):
                key += f"@{r['model']}"
            out[key] = {"answers": int(r["n"]), "failed": int(r["n_failed"]), "of": int(r["n_total"]),
                        "invalid": int(r["n_invalid"]), "truncated": int(r["n_truncated_all"]),
                        "calls": int(r["calls"]), "unparseable": int(r["unparseable_calls"])}
        return out

    def exit_reasons(self, max_failure_rate: float | None = None) -> list[str]:
        """Why a strict run fails: every flag, and the overall failure rate above ``max_failure_rate``."""
        limit = self.thresholds.max_failure_rate if max_failure_rate is None else max_failure_rate
        reasons = [f"{f.flag}: {f.prompt_type} ({f.model}): {f.evidence}" for f in self.flags]
        rate = self.failure_rate
        if rate == rate and rate > limit:
            reasons.append(f"failure rate {self.n_failed}/{self.n_total} = {rate:.1%} > {limit:.1%}")
        return reasons

    # ---------------------------------------------------------------- serialisation
    def to_dict(self) -> dict[str, Any]:
        """The content of ``diagnostics.json``: flags, per-prompt rows, thresholds, totals, notes."""
        rows = []
        for r in self.per_prompt.to_dict("records"):
            rows.append({k: _jsonable(v) for k, v in r.items()})
        return {"flags": [f.to_dict() for f in self.flags], "per_prompt": rows,
                "totals": {"failed": self.n_failed, "of": self.n_total, "failure_rate": _jsonable(self.failure_rate)},
                "thresholds": self.thresholds.to_dict(), "notes": list(self.notes)}

    def flag_dicts(self) -> list[dict[str, Any]]:
        """For ``manifest["flags"]``."""
        return [f.to_dict() for f in self.flags]

    # ---------------------------------------------------------------- printing
    def tables(self) -> list[Any]:
        """rich Tables: the per-prompt statistics, then the flags (if any)."""
        from rich.table import Table

        flagged = {(f.prompt_type, f.model) for f in self.flags}
        t = Table(title="LLM answers per prompt type (judge diagnostics)")
        for c in ("prompt type", "model", "answers", "distribution", "distinct ans/in", "1st-pos win", "flip",
                  "idx corr", "echo", "failed", "truncated", "empty"):
            t.add_column(c, justify="left" if c in ("prompt type", "model", "distribution") else "right")
        for r in self.per_prompt.to_dict("records"):
            dist = r.get("distribution") or {}
            dist_s = ", ".join(f"{k[:12]} {v:.0%}" for k, v in list(dist.items())[:3])
            if len(dist) > 3:
                dist_s += f", +{len(dist) - 3}"
            t.add_row(
                str(r["prompt_type"]), str(r["model"]), f"{r['n_valid']}/{r['n']}", dist_s or "-",
                f"{r['distinct_answers']}/{r['distinct_inputs']}", _pct(r.get("first_position_win_rate")),
                _pct(r.get("flip_rate")), _f(r.get("index_corr")), f"{r['n_echo']}",
                f"{r['n_failed']}/{r['n_total']}", f"{r['n_truncated_all']}", _pct(r.get("empty_rate")),
                style="red" if (r["prompt_type"], r["model"]) in flagged else None,
            )
        out = [t]
        if self.flags:
            ft = Table(title=f"{len(self.flags)} flag(s) raised", title_style="bold red")
            for c in ("flag", "prompt type", "model", "evidence", "what to do"):
                ft.add_column(c, overflow="fold")
            for f in self.flags:
                ft.add_row(f.flag, f.prompt_type, f.model, f.evidence, f.advice, style="red")
            out.append(ft)
        return out

    def print(self, console: Any = None) -> None:
        """The statistics table, every flag with its evidence and advice, the failure count and notes."""
        import sys

        from rich.console import Console
        from rich.text import Text

        console = console or Console(stderr=True, width=None if sys.stderr.isatty() else 160)
        console.print(self.tables()[0])
        if not self.flags:
            console.print("no judge flags raised", style="green")
        for f in self.flags:
            line = Text()
            line.append(f"FLAG {f.flag}", style="bold red")
            line.append(f"  {f.prompt_type} ({f.model}): {f.evidence}\n    what to do: {f.advice}")
            console.print(line)
        console.print(f"failed or unreadable answers: {self.n_failed}/{self.n_total}"
                      + (f" ({self.failure_rate:.1%})" if self.n_total else ""), markup=False)
        for n in self.notes:
            console.print(f"note: {n}", markup=False)


def _pct(x: Any) -> str:
    return "-" if x is None or x != x else f"{x:.0%}"


def _f(x: Any) -> str:
    return "-" if x is None or x != x else f"{x:+.2f}"


def _jsonable(v: Any) -> Any:
    if isinstance(v, float):
        return None if math.isnan(v) else round(v, 6)
    if hasattr(v, "item") and not isinstance(v, (dict, list, str)):
        return _jsonable(v.item())
    return v


class RunFlagged(RuntimeError):
    """Strict mode: a flag was raised or the failure rate passed its threshold (``exit_code`` 3)."""

    exit_code = STRICT_EXIT_CODE

    def __init__(self, report: DiagnosticsReport, reasons: list[str]):
        super().__init__("strict mode: " + "; ".join(reasons))
        self.report = report
        self.reasons = reasons


# ------------------------------------------------------------------------------------------------
def diagnose(
    run_dir_or_answers: str | Path | RunDir | pd.DataFrame,
    records: Records | None = None,
    thresholds: Thresholds | Mapping[str, Any] | None = None,
    *,
    cache: str | Path | None = None,
) -> DiagnosticsReport:
    """Answer statistics and flags.

    Args:
        run_dir_or_answers: a run directory (reads ``answers.parquet`` and the call records of the run's
            latest invocation from its cache) or an answers DataFrame (``rundir.ANSWER_COLUMNS``).
        records: the call records to count failures, truncation and empty replies from (default: the
            run's; with an answers DataFrame and no records, failures are the answers' invalid rows).
        thresholds: :class:`Thresholds` or a mapping of its fields (unknown keys are an error).
        cache: the SQLite cache file holding the run's call records (default: the run's).
    """
    th = Thresholds.from_mapping(thresholds)
    notes: list[str] = []
    if isinstance(run_dir_or_answers, pd.DataFrame):
        answers = run_dir_or_answers
        if records is None and cache is not None:
            records = read_records(cache)
    else:
        rd = run_dir_or_answers if isinstance(run_dir_or_answers, RunDir) else RunDir(run_dir_or_answers)
        answers = rd.read_answers()
        if not rd.has_table("answers"):
            notes.append(f"{rd.path}: no answers table (answers.parquet); only the call records were used")
        if records is None:
            invocations = run_invocations(rd.read_manifest())
            path = cache if cache is not None else find_cache(rd)
            records = read_records(path, invocations)
            if path is not None and invocations and not records and len(answers):
                notes.append(f"{path}: no call records of invocation {invocations[0]} (run with --no-cache?): "
                             "failures are the answers' invalid rows")
                records = None
            elif path is None:
                notes.append(f"{rd.path}: no cache file, so no call records: failures are the answers' invalid rows")
                records = None
    stats = answer_stats(answers)
    calls = call_stats(records) if records is not None else None
    joined = _join(stats, calls) if len(stats) or (calls is not None and len(calls)) else stats
    per_prompt = _combine(joined, records is not None) if len(joined) else \
        _combine(joined.assign(**{c: [] for c in _COUNT_COLS}), records is not None)
    for r in per_prompt.to_dict("records"):
        if 0 < r["n_valid"] < th.for_prompt(r["prompt_type"]).min_answers:
            notes.append(f"{r['prompt_type']} ({r['model']}): only {r['n_valid']} valid answers; constant, "
                         f"position and echo checks need {th.for_prompt(r['prompt_type']).min_answers}")
    flags = evaluate_flags(per_prompt.to_dict("records"), th)
    return DiagnosticsReport(per_prompt.reset_index(drop=True), flags, th, notes)


def check_run(
    run_dir: str | Path | RunDir,
    *,
    strict: bool = False,
    max_failure_rate: float | None = None,
    thresholds: Thresholds | Mapping[str, Any] | None = None,
    console: Any = None,
    quiet: bool = False,
    records: Records | None = None,
) -> DiagnosticsReport:
    """End-of-run check: diagnose the run, write ``diagnostics.json``, set ``manifest["flags"]`` (and
    ``manifest["diagnostics"]``: totals and whether strict mode failed), print the tables and flags.

    ``max_failure_rate`` (default: the thresholds' ``max_failure_rate``, 0.05) is both the per-prompt
    ``high_failure_rate`` threshold and the limit for the run's overall failure rate.
    Raises :class:`RunFlagged` (``exit_code`` 3) when ``strict`` and any flag is raised or the overall
    failure rate passes ``max_failure_rate``; files are written before it raises. ``records``: the run's
    call records when they are not in a cache file (``--no-cache``).
    """
    rd = run_dir if isinstance(run_dir, RunDir) else RunDir(run_dir)
    th = Thresholds.from_mapping(thresholds)
    if max_failure_rate is not None:
        from dataclasses import replace

        th = replace(th, max_failure_rate=max_failure_rate)
    report = diagnose(rd, records, thresholds=th)
    reasons = report.exit_reasons()
    rd.write_json("diagnostics.json", report.to_dict())
    # flags of other kinds already in the manifest (e.g. duplicate generations) stay; ours are replaced
    others = [f for f in rd.read_manifest().get("flags") or []
              if not (isinstance(f, dict) and f.get("flag") in FLAG_RULES)]
    rd.update_manifest(flags=others + report.flag_dicts(), diagnostics={
        "failed": report.n_failed, "of": report.n_total, "failure_rate": _jsonable(report.failure_rate),
        "n_flags": len(report.flags), "strict": strict, "strict_failed": bool(strict and reasons),
        "reasons": reasons})
    if not quiet:
        report.print(console)
    if strict and reasons:
        raise RunFlagged(report, reasons)
    return report
