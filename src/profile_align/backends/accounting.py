"""Prices, and usage per backend / model / prompt type as a view over the call records (``records.py``)."""

from __future__ import annotations

import fnmatch
import json
from pathlib import Path
from typing import Any

from .records import CallLog, Records, Tally, usage_counts

__all__ = ["Prices", "DEFAULT_PRICES", "Accounting", "usage_table"]

# USD per 1M tokens (input, output). Patterns are fnmatch globs over "backend:model" or the bare model.
DEFAULT_PRICES: dict[str, tuple[float, float]] = {
    "fake:*": (0.0, 0.0),
    "llamacpp:*": (0.0, 0.0),
    "local:*": (0.0, 0.0),
    "ollama:*": (0.0, 0.0),
    "gpt-4o-mini*": (0.15, 0.60),
    "gpt-4o*": (2.50, 10.00),
    "gpt-4.1-nano*": (0.10, 0.40),
    "gpt-4.1-mini*": (0.40, 1.60),
    "gpt-4.1*": (2.00, 8.00),
    "gpt-3.5-turbo*": (0.50, 1.50),
}


class Prices:
    """A price table: first matching glob wins (more specific patterns first); unknown -> cost None."""

    def __init__(self, table: dict[str, tuple[float, float]] | None = None):
        merged = dict(table or {})
        for k, v in DEFAULT_PRICES.items():
            merged.setdefault(k, v)
        self.table = {k: (float(v[0]), float(v[1])) for k, v in merged.items()}

    @classmethod
    def from_file(cls, path: str | Path) -> Prices:
        """YAML or JSON mapping ``pattern: [usd_per_1M_in, usd_per_1M_out]``."""
        text = Path(path).read_text(encoding="utf-8")
        if str(path).endswith((".yaml", ".yml")):
            import yaml

            data = yaml.safe_load(text) or {}
        else:
            data = json.loads(text)
        return cls({k: tuple(v) for k, v in data.items()})

    def lookup(self, backend: str, model: str) -> tuple[float, float] | None:
        for key in (f"{backend}:{model}", model):
            for pattern, price in self.table.items():
                if fnmatch.fnmatchcase(key, pattern):
                    return price
        return None

    def cost(self, backend: str, model: str, prompt_tokens: int, completion_tokens: int) -> float | None:
        price = self.lookup(backend, model)
        if price is None:
            return None
        return (prompt_tokens * price[0] + completion_tokens * price[1]) / 1e6


class Accounting:
    """Usage and failures per backend / model / prompt type: a read-only view over the call records of a
    :class:`~profile_align.backends.records.CallLog` (this invocation's calls). ``prices`` price new calls
    when their record is written."""

    def __init__(self, prices: Prices | None = None, calls: CallLog | None = None):
        self.prices = prices or Prices()
        self.calls = calls if calls is not None else CallLog()

    def records(self) -> Records:
        return self.calls.records()

    @property
    def stats(self) -> dict[tuple[str, str, str], Tally]:
        """(backend, model string, prompt type) -> the :class:`~profile_align.backends.records.Tally` of its calls."""
        return {(b, m, p): t for (b, m, p), t in self.records().tallies("backend", "model", "prompt_type").items()}

    # ------------------------------------------------------------------ summaries
    def totals(self) -> Tally:
        return self.records().tally()

    def failure_rates(self) -> dict[str, float]:
        """(failed + unparseable + refused) / requests per prompt type."""
        return {k[0]: t.failure_rate for k, t in self.records().tallies("prompt_type").items()}

    def over_threshold(self, max_failure_rate: float) -> dict[str, float]:
        """Prompt types whose failure rate exceeds ``max_failure_rate`` (callers exit non-zero on any)."""
        return {pt: r for pt, r in self.failure_rates().items() if r > max_failure_rate}

    def to_dict(self) -> dict[str, Any]:
        """usage.json: one row per backend / model / model id / stage / prompt type, the total, the rates."""
        recs = self.records()
        rows = []
        for (backend, model, model_id, stage, pt), t in recs.tallies("backend", "model", "model_id", "stage",
                                                                      "prompt_type").items():
            rows.append({"backend": backend, "model": model, "model_id": model_id, "stage": stage, "prompt_type": pt,
                         **usage_counts(t)})
        return {"invocation": self.calls.invocation, "rows": rows, "total": usage_counts(recs.tally()),
                "failure_rates": self.failure_rates()}

    def write(self, path: str | Path) -> None:
        Path(path).write_text(json.dumps(self.to_dict(), indent=2), encoding="utf-8")

    def summary_table(self, title: str = "LLM usage"):  # -> rich.table.Table
        return usage_table(self.records(), title)


def usage_table(records: Records, title: str = "LLM usage"):  # -> rich.table.Table
    """A rich table of call records per backend / model / prompt type, with a total row."""
    from rich.table import Table

    table = Table(title=title)
    for col in ("backend", "model", "prompt type", "requests", "cached", "failed", "unparseable",
                "tokens in", "tokens out", "wall s", "cost $"):
        table.add_column(col, justify="right" if col not in ("backend", "model", "prompt type") else "left")

    def fmt_cost(c: float | None) -> str:
        return "n/a" if c is None else f"{c:.4f}"

    def row(label: tuple[str, ...], s: Tally) -> list[str]:
        return [*label, str(s.requests), str(s.cached), str(s.failed), str(s.unparseable),
                f"{s.prompt_tokens:,}", f"{s.completion_tokens:,}", f"{s.wall_s:.1f}", fmt_cost(s.cost_usd)]

    groups = records.tallies("backend", "model", "prompt_type")
    for key, s in groups.items():
        table.add_row(*row(key, s))
    if len(groups) > 1:
        table.add_row(*row(("total", "", ""), records.tally()), style="bold")
    return table
