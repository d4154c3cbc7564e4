"""Failure, truncation and empty-output counts from the backend's records: ``usage.json``
(``Accounting.to_dict()``) and the SQLite cache log (``backends/cache.py``, tables ``log`` and ``responses``).

Both are keyed by the backend's model id (e.g. ``qwen2.5-coder-1.5b-instruct-q4_k_m``), the answers table by
the model string (``local``); :func:`attach` matches them per prompt type.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pandas as pd

from ..backends.base import is_scoring_request

__all__ = ["SOURCE_COLUMNS", "log_stats", "usage_stats", "attach"]

SOURCE_COLUMNS = ("prompt_type", "model", "requests", "failures", "parse_failures", "calls", "failed_calls",
                  "truncated_calls", "empty_calls")


def usage_stats(usage: Mapping[str, Any] | str | Path | None) -> pd.DataFrame:
    """Per (prompt_type, model): requests, failures, parse_failures from ``usage.json`` or its dict."""
    if usage is None:
        return pd.DataFrame(columns=list(SOURCE_COLUMNS))
    if isinstance(usage, (str, Path)):
        usage = json.loads(Path(usage).read_text(encoding="utf-8"))
    rows = []
    for r in usage.get("rows", []) if isinstance(usage, Mapping) else []:
        rows.append({"prompt_type": r.get("prompt_type", "default"), "model": str(r.get("model", "")),
                     "requests": int(r.get("requests", 0)), "failures": int(r.get("failures", 0)),
                     "parse_failures": int(r.get("parse_failures", 0))})
    df = pd.DataFrame(rows, columns=["prompt_type", "model", "requests", "failures", "parse_failures"])
    return df.groupby(["prompt_type", "model"], as_index=False).sum() if len(df) else df


def log_stats(cache_path: str | Path | None) -> pd.DataFrame:
    """Per (prompt_type, model) from the cache's call log: calls, failed calls, calls cut off by the token
    limit (``finish_reason == "length"``) and empty replies. Opens the file read-only; a missing file gives
    an empty frame."""
    cols = ["prompt_type", "model", "calls", "failed_calls", "truncated_calls", "empty_calls"]
    if cache_path is None or not Path(cache_path).is_file():
        return pd.DataFrame(columns=cols)
    uri = f"file:{Path(cache_path).resolve()}?mode=ro"
    conn = sqlite3.connect(uri, uri=True, timeout=30.0)
    try:
        rows = conn.execute(
            "SELECT l.prompt_type, l.model, l.status, l.text, r.response, r.request "
            "FROM log l LEFT JOIN responses r ON r.key = l.key"
        ).fetchall()
    except sqlite3.DatabaseError as exc:
        raise ValueError(f"{cache_path}: not a profile-align cache ({exc})") from exc
    finally:
        conn.close()
    agg: dict[tuple[str, str], list[int]] = {}
    for pt, model, status, text, response, request in rows:
        acc = agg.setdefault((pt or "default", model or ""), [0, 0, 0, 0])
        acc[0] += 1
        if status != "ok":
            acc[1] += 1
            continue
        finish = None
        if response:
            try:
                finish = json.loads(response).get("finish_reason")
            except ValueError:
                finish = None
        scoring = False
        if request:
            try:
                scoring = is_scoring_request(json.loads(request))
            except (ValueError, TypeError):
                scoring = False
        acc[2] += str(finish or "").lower() == "length" and not scoring  # 1-token scoring: cut by design
        acc[3] += not (text or "").strip() and not scoring
    return pd.DataFrame([[pt, m, *v] for (pt, m), v in sorted(agg.items())], columns=cols)


def attach(stats: pd.DataFrame, source: pd.DataFrame) -> pd.DataFrame:
    """Add a source's count columns to the answer statistics, matched per prompt type.

    A source row joins the stats row of the same prompt type and model; when the names differ (model id vs
    model string) and the prompt type has one model in the stats, it joins that row. Unmatched source rows
    become their own rows (a prompt type whose answers never reached the answers table still shows up).
    """
    if source is None or len(source) == 0:
        return stats
    count_cols = [c for c in source.columns if c not in ("prompt_type", "model")]
    out = stats.copy()
    for c in count_cols:
        if c not in out.columns:
            out[c] = 0
    extra = []
    for r in source.itertuples(index=False):
        r = r._asdict()
        same_pt = out.index[out["prompt_type"] == r["prompt_type"]]
        exact = [i for i in same_pt if out.at[i, "model"] == r["model"]]
        target = exact[0] if exact else (same_pt[0] if len(same_pt) == 1 else None)
        if target is None:
            extra.append(r)
            continue
        for c in count_cols:
            out.at[target, c] = int(out.at[target, c] or 0) + int(r[c])
    if extra:
        add = pd.DataFrame(extra)
        add = add.groupby(["prompt_type", "model"], as_index=False).sum()
        for c in out.columns:
            if c not in add.columns:
                add[c] = 0 if c.startswith("n") and c != "n_valid" else None
        add["n"], add["n_valid"] = 0, 0
        out = pd.concat([out, add[out.columns]], ignore_index=True)
    for c in count_cols:
        out[c] = out[c].fillna(0).astype(int)
    return out
