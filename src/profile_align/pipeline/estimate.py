"""``run --dry-run``: requests, tokens, time and cost of a run before spending them; no model is called.

The run is executed as configured (same sampling, judges, prompts, factor extraction) against a counting
stand-in backend that answers every request with a schema-valid placeholder (distinct texts for
generations), in a temporary directory that is deleted afterwards, with no answer cache. Every request
the real run would send is thereby built and counted by the code that builds it — no second copy of the
request logic. Counts are exact for evaluation and generation; factor requests on generated texts assume
distinct texts, and atomic-fact checks count one fact per text (real texts have several: a lower bound).

Estimates:

* prompt tokens: characters of the messages / 4 (the usual English average);
* completion tokens: an upper bound, each request's ``max_tokens`` (1 for one-token logprob requests);
* time, local llama.cpp models: ``prompt_tokens / LOCAL_PROMPT_TOK_S + completion_tokens / LOCAL_GEN_TOK_S``
  with the calibration constants below (measured on the demo, 2 cores: 22,149 prompt + 2,424 completion
  tokens in 499 s), using half the completion bound as the expected length;
* time, API models: requests x ``API_LATENCY_S`` / concurrency (no rate limit configured) — a rough guide;
* cost: the price table (``backends.accounting.Prices``) at the token estimates; unknown price -> none.
"""

from __future__ import annotations

import itertools
import tempfile
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .config import RunConfig, load_config

__all__ = ["RequestEstimate", "RunEstimate", "estimate_run", "counting_backend", "summarize", "LOCAL_PROMPT_TOK_S", "LOCAL_GEN_TOK_S", "API_LATENCY_S"]

LOCAL_PROMPT_TOK_S = 80.0   # prompt processing, Qwen2.5-Coder-1.5B Q4_K_M, llama.cpp, 2 cores (demo measurement)
LOCAL_GEN_TOK_S = 11.0      # generation, same setting
API_LATENCY_S = 2.0         # seconds per request to a hosted API, before concurrency
_LOCAL_PREFIXES = ("local", "smollm2", "llamacpp")


@dataclass
class RequestEstimate:
    model: str
    prompt_type: str
    requests: int = 0
    prompt_tokens: int = 0
    completion_tokens_max: int = 0


@dataclass
class RunEstimate:
    rows: list[RequestEstimate]
    seconds: float
    cost_usd: float | None
    notes: list[str] = field(default_factory=list)

    @property
    def requests(self) -> int:
        return sum(r.requests for r in self.rows)

    def lines(self) -> list[str]:
        out = [f"{'model':40} {'prompt type':28} {'requests':>9} {'prompt tok':>11} {'compl. tok <=':>13}"]
        for r in self.rows:
            out.append(f"{r.model[:40]:40} {r.prompt_type[:28]:28} {r.requests:>9,} {r.prompt_tokens:>11,} "
                       f"{r.completion_tokens_max:>13,}")
        cost = "unknown (no price for these models)" if self.cost_usd is None else f"${self.cost_usd:,.4f}"
        out.append(f"total: {self.requests:,} LLM requests, about {self.seconds / 60:,.1f} min, cost {cost} "
                   "(dry run: no model was called)")
        return out + [f"note: {n}" for n in self.notes]


def counting_backend(model: str, counts: dict[tuple[str, str], RequestEstimate]) -> Any:
    from ..backends.fake import FakeBackend, FakeReply, example_from_schema

    serial = itertools.count()

    def distinct(v: Any) -> Any:
        if isinstance(v, str):
            return " ".join(f"w{next(serial)}" for _ in range(30))
        if isinstance(v, list):
            return [distinct(x) for x in v]
        if isinstance(v, dict):
            return {k: distinct(x) if k in ("text", "outputs", "output") else x for k, x in v.items()}
        return v

    def rule(req: Any) -> Any:
        key = (model, req.prompt_type)
        e = counts.setdefault(key, RequestEstimate(model, req.prompt_type))
        e.requests += 1
        e.prompt_tokens += sum(len(m.get("content") or "") for m in req.messages) // 4
        e.completion_tokens_max += 1 if req.logprobs and req.max_tokens <= 2 else req.max_tokens
        if req.logprobs:
            return FakeReply(text="Yes", top_logprobs=[{"Yes": -0.4, "No": -1.1}])
        if req.json_schema:
            return distinct(example_from_schema(req.json_schema))
        return "placeholder"

    return FakeBackend(rule=rule, model_id=f"dry-run:{model}")


def estimate_run(config: RunConfig | str | Path, overrides: list[str] | None = None) -> RunEstimate:
    """Count the requests a run of ``config`` would send, and estimate tokens, time and cost."""
    from .run import run

    cfg = load_config(config, overrides)
    notes = []
    if cfg.reward_models:
        notes.append(f"{len(cfg.reward_models)} reward model(s) not estimated (no LLM requests; scoring time "
                     "depends on the model)")
    cfg = load_config(cfg, ["reward_models=[]", "factors.unieval=proxy"] if cfg.factors.unieval != "real"
                      else ["reward_models=[]"])
    models = {j.model for j in cfg.judges} | ({cfg.factor_model} if cfg.factor_model else set())
    counts: dict[tuple[str, str], RequestEstimate] = {}
    backends = {m: counting_backend(m, counts) for m in models}
    with tempfile.TemporaryDirectory(prefix="profile-align-dry-run-") as tmp:
        run(cfg, Path(tmp) / "run", no_cache=True, progress=False, backends=backends, print_summary=False,
            console=_Silent())
    return summarize(counts, cfg.backend.concurrency, notes)


def summarize(counts: dict[tuple[str, str], RequestEstimate], concurrency: int, notes: list[str]) -> RunEstimate:
    """Time and cost of counted requests (see the module doc for the estimates)."""
    from ..backends.accounting import Prices
    from ..backends.registry import split_model_string

    notes = list(notes)
    rows = sorted(counts.values(), key=lambda r: (r.model, r.prompt_type))
    prices, seconds = Prices(), 0.0
    cost: float | None = 0.0
    per_model: dict[str, list[RequestEstimate]] = defaultdict(list)
    for r in rows:
        per_model[r.model].append(r)
    for model, rs in per_model.items():
        prefix, rest = split_model_string(model)
        p_tok, c_tok = sum(r.prompt_tokens for r in rs), sum(r.completion_tokens_max for r in rs) / 2
        if prefix in _LOCAL_PREFIXES:
            seconds += p_tok / LOCAL_PROMPT_TOK_S + c_tok / LOCAL_GEN_TOK_S
        else:
            seconds += sum(r.requests for r in rs) * API_LATENCY_S / max(1, concurrency)
        c = prices.cost(prefix, rest or model, p_tok, int(c_tok * 2))
        cost = None if (c is None or cost is None) else cost + c
    if any(r.prompt_type.startswith("atomic") or "fact" in r.prompt_type for r in rows):
        notes.append("atomic-fact checks counted with one fact per text: a lower bound")
    notes.append("completion tokens are the max_tokens bound; time assumes half of it, cost the full bound")
    return RunEstimate(rows, seconds, cost, notes)


class _Silent:
    """A console that prints nothing (the dry run's own run is not the user's)."""

    def print(self, *a: Any, **k: Any) -> None:
        pass

    def __getattr__(self, name: str) -> Any:
        return lambda *a, **k: None
