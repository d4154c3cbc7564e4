"""Requests, failures, tokens, time and cost per backend / model / prompt type."""

from __future__ import annotations

import fnmatch
import json
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

__all__ = ["Prices", "DEFAULT_PRICES", "Stats", "Accounting"]

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


@dataclass
class Stats:
    requests: int = 0
    cached: int = 0
    failures: int = 0
    parse_failures: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    latency_s: float = 0.0
    """Sum of per-request latencies of backend calls (not cached hits)."""
    cost_usd: float | None = 0.0
    first_t: float | None = field(default=None, repr=False)
    last_t: float | None = field(default=None, repr=False)

    @property
    def wall_s(self) -> float:
        if self.first_t is None or self.last_t is None:
            return 0.0
        return self.last_t - self.first_t

    def _touch(self, t: float) -> None:
        self.first_t = t if self.first_t is None else min(self.first_t, t)
        self.last_t = t if self.last_t is None else max(self.last_t, t)


class Accounting:
    """Collects :class:`Stats` keyed by (backend, model, prompt_type). Not thread-safe: use from one event loop."""

    def __init__(self, prices: Prices | None = None):
        self.prices = prices or Prices()
        self.stats: dict[tuple[str, str, str], Stats] = {}

    def _get(self, backend: str, model: str, prompt_type: str) -> Stats:
        key = (backend, model, prompt_type)
        s = self.stats.get(key)
        if s is None:
            s = self.stats[key] = Stats()
        return s

    def start(self, backend: str, model: str, prompt_type: str, t: float | None = None) -> None:
        self._get(backend, model, prompt_type)._touch(time.perf_counter() if t is None else t)

    def record_response(self, response: Any) -> None:
        s = self._get(response.backend, response.model, response.prompt_type)
        s.requests += 1
        s._touch(time.perf_counter())
        if response.cached:
            s.cached += 1
            return
        pt, ct = response.usage.prompt_tokens, response.usage.completion_tokens
        s.prompt_tokens += pt
        s.completion_tokens += ct
        s.latency_s += response.latency_s
        cost = self.prices.cost(response.backend, response.model, pt, ct)
        s.cost_usd = None if cost is None or s.cost_usd is None else s.cost_usd + cost

    def record_failure(self, backend: str, model: str, prompt_type: str) -> None:
        s = self._get(backend, model, prompt_type)
        s.requests += 1
        s.failures += 1
        s._touch(time.perf_counter())

    def record_parse_failure(self, backend: str, model: str, prompt_type: str) -> None:
        self._get(backend, model, prompt_type).parse_failures += 1

    # ------------------------------------------------------------------ summaries
    def totals(self) -> Stats:
        tot = Stats()
        for s in self.stats.values():
            tot.requests += s.requests
            tot.cached += s.cached
            tot.failures += s.failures
            tot.parse_failures += s.parse_failures
            tot.prompt_tokens += s.prompt_tokens
            tot.completion_tokens += s.completion_tokens
            tot.latency_s += s.latency_s
            tot.cost_usd = None if s.cost_usd is None or tot.cost_usd is None else tot.cost_usd + s.cost_usd
            for t in (s.first_t, s.last_t):
                if t is not None:
                    tot._touch(t)
        return tot

    def failure_rates(self) -> dict[str, float]:
        """(failures + parse failures) / requests per prompt type."""
        by_type: dict[str, list[int]] = {}
        for (_, _, pt), s in self.stats.items():
            acc = by_type.setdefault(pt, [0, 0])
            acc[0] += s.failures + s.parse_failures
            acc[1] += s.requests
        return {pt: (f / n if n else 0.0) for pt, (f, n) in by_type.items()}

    def over_threshold(self, max_failure_rate: float) -> dict[str, float]:
        """Prompt types whose failure rate exceeds ``max_failure_rate`` (callers exit non-zero on any)."""
        return {pt: r for pt, r in self.failure_rates().items() if r > max_failure_rate}

    def to_dict(self) -> dict[str, Any]:
        rows = []
        for (backend, model, pt), s in sorted(self.stats.items()):
            d = {k: v for k, v in asdict(s).items() if k not in ("first_t", "last_t")}
            rows.append({"backend": backend, "model": model, "prompt_type": pt, **d, "wall_s": round(s.wall_s, 3)})
        tot = self.totals()
        total = {k: v for k, v in asdict(tot).items() if k not in ("first_t", "last_t")}
        total["wall_s"] = round(tot.wall_s, 3)
        return {"rows": rows, "total": total, "failure_rates": self.failure_rates()}

    def write(self, path: str | Path) -> None:
        Path(path).write_text(json.dumps(self.to_dict(), indent=2), encoding="utf-8")

    def summary_table(self, title: str = "LLM usage"):  # -> rich.table.Table
        from rich.table import Table

        table = Table(title=title)
        for col in ("backend", "model", "prompt type", "requests", "cached", "failed", "parse fail",
                    "tokens in", "tokens out", "wall s", "cost $"):
            table.add_column(col, justify="right" if col not in ("backend", "model", "prompt type") else "left")

        def fmt_cost(c: float | None) -> str:
            return "n/a" if c is None else f"{c:.4f}"

        def row(label: tuple[str, str, str], s: Stats) -> list[str]:
            return [*label, str(s.requests), str(s.cached), str(s.failures), str(s.parse_failures),
                    f"{s.prompt_tokens:,}", f"{s.completion_tokens:,}", f"{s.wall_s:.1f}", fmt_cost(s.cost_usd)]

        for key, s in sorted(self.stats.items()):
            table.add_row(*row(key, s))
        if len(self.stats) > 1:
            table.add_row(*row(("total", "", ""), self.totals()), style="bold")
        return table
