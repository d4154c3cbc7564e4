"""Call counts for the diagnostics, from the one record of every model call (``backends/records.py``).

Per (prompt type, model string): calls, failed / unparseable / refused calls, replies cut off by the token
limit and empty replies. The answers table and the records carry the same model string (``Client.model``),
so they join exactly on (prompt type, model). No SQL here: the records are read through ``Cache.records``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import pandas as pd

from ..backends.cache import Cache
from ..backends.records import Records

__all__ = ["CALL_COLUMNS", "call_stats", "read_records", "run_invocations"]

CALL_COLUMNS = ("prompt_type", "model", "calls", "failed_calls", "unparseable_calls", "refused_calls",
                "truncated_calls", "empty_calls", "bad_truncated_calls")


def call_stats(records: Iterable[Any]) -> pd.DataFrame:
    """One row per (prompt_type, model) of call records with the columns of ``CALL_COLUMNS``.

    ``bad_truncated_calls``: failed/unparseable calls whose reply was cut off by max_tokens (reported as
    truncation by the flags, but counted as failures everywhere)."""
    recs = records if isinstance(records, Records) else Records(records)
    rows = []
    for (pt, model), g in recs.group("prompt_type", "model").items():
        t = g.tally()
        rows.append([pt, model, t.requests, t.failed, t.unparseable, t.refused, t.truncated, t.empty,
                     sum(1 for r in g if r.truncated and r.bad)])
    return pd.DataFrame(rows, columns=list(CALL_COLUMNS))


def run_invocations(manifest: Mapping[str, Any]) -> list[str] | None:
    """The invocation whose calls produced a run's results (the latest one in its manifest), or None when
    the manifest names none (a run directory written before call records had invocations)."""
    inv = manifest.get("invocation")
    if isinstance(inv, str) and inv:
        return [inv]
    return None


def read_records(cache_path: str | Path | None, invocations: Iterable[str] | None = None) -> Records:
    """Call records from a cache file (all, or the given invocations); a missing file gives none.
    Raises ValueError naming the file when it is not a profile-align cache."""
    if cache_path is None or not Path(cache_path).is_file():
        return Records()
    with Cache(cache_path) as cache:
        return cache.records(invocations)
