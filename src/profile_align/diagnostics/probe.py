"""``probe``: a short built-in battery with known answers, to see whether a model can serve as a judge or
extractor before spending hours on it.

Three tasks (items in ``probe_items.json``, prompts in ``prompts/probe_*.txt``; our own text):

* ``support``  — 8 statements about two short texts, 4 supported and 4 not: accuracy, share of "yes";
* ``pairwise`` — 3 pairs of an obviously better and an obviously worse summary, each shown in both orders:
  accuracy per call, position consistency (same winner in both orders), first-position win rate;
* ``facts``    — 2 sentences to split into atomic facts: an item passes when the number of facts is in its
  range, every key detail appears in the facts and no fact copies the whole sentence.

Every reply is checked against its JSON schema (JSON validity). Requests use temperature 0.
"""

from __future__ import annotations

import json
import statistics
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from importlib import resources
from typing import Any

import pandas as pd

from ..backends import Client, Request, RequestFailed, Response, make_client
from ..backends.parsing import schema_errors
from ..prompts import Prompt, load_prompt
from .answers import answer_row

__all__ = ["ProbeTask", "ProbeResult", "PROBE_TASKS", "load_probe_prompt", "probe_items",
           "run_probe", "score_probe"]


# ------------------------------------------------------------------------------------------ prompts and items
PROBE_SAMPLING = {"temperature": 0.0, "top_p": 1.0}


def load_probe_prompt(name: str) -> Prompt:
    """``diagnostics/prompts/<name>.txt`` (the package's one prompt format) with greedy decoding."""
    return load_prompt(name, package=__package__).with_defaults(**PROBE_SAMPLING)


@lru_cache(maxsize=None)
def probe_items() -> dict[str, Any]:
    return json.loads(resources.files(__package__).joinpath("probe_items.json").read_text(encoding="utf-8"))


SUPPORT_SCHEMA = {"type": "object", "properties": {"supported": {"type": "boolean"}},
                  "required": ["supported"], "additionalProperties": False}
PAIRWISE_SCHEMA = {"type": "object", "properties": {"better": {"type": "string", "enum": ["1", "2", "tie"]}},
                   "required": ["better"], "additionalProperties": False}
FACTS_SCHEMA = {"type": "object",
                "properties": {"facts": {"type": "array", "maxItems": 12,
                                         "items": {"type": "string", "minLength": 1, "maxLength": 150}}},
                "required": ["facts"], "additionalProperties": False}


# ------------------------------------------------------------------------------------------ tasks
@dataclass(frozen=True)
class Call:
    """One request of the battery and how to read and score its reply."""

    task: str
    item_id: str
    variant: str | None
    request: Request
    expected: str
    read: Callable[[Any], str | None]
    """parsed JSON -> the answer label (None when it has no usable answer)."""
    correct: Callable[[str | None], bool]


@dataclass(frozen=True)
class ProbeTask:
    name: str
    description: str
    build: Callable[[dict[str, Any]], list[Call]]
    schema: dict[str, Any]


PROBE_TASKS: dict[str, ProbeTask] = {}


def _task(name: str, description: str, schema: dict[str, Any]):
    def deco(fn: Callable[[dict[str, Any]], list[Call]]) -> Callable[[dict[str, Any]], list[Call]]:
        PROBE_TASKS[name] = ProbeTask(name, description, fn, schema)
        return fn

    return deco


def _equals(expected: str) -> Callable[[str | None], bool]:
    """Correct when the answer is the expected one."""
    return lambda answer: answer == expected


def _get(parsed: Any, key: str) -> Any:
    return parsed.get(key) if isinstance(parsed, dict) else None


@_task("support", "supported vs unsupported statements", SUPPORT_SCHEMA)
def _support(items: dict[str, Any]) -> list[Call]:
    prompt = load_probe_prompt("probe_support")
    calls = []
    for it in items["support"]:
        req = prompt.request(json_schema=SUPPORT_SCHEMA, max_tokens=24, source=items["sources"][it["source"]],
                             statement=it["statement"])

        def read(parsed: Any) -> str | None:
            v = _get(parsed, "supported")
            return ("yes" if v else "no") if isinstance(v, bool) else None

        exp = it["expected"]
        calls.append(Call("support", it["id"], None, req, exp, read, _equals(exp)))
    return calls


@_task("pairwise", "better vs worse summary, both orders", PAIRWISE_SCHEMA)
def _pairwise(items: dict[str, Any]) -> list[Call]:
    prompt = load_probe_prompt("probe_pairwise")
    calls = []
    for it in items["pairwise"]:
        src = items["sources"][it["source"]]
        for variant, first, second, exp in (("AB", it["good"], it["bad"], "1"), ("BA", it["bad"], it["good"], "2")):
            req = prompt.request(json_schema=PAIRWISE_SCHEMA, max_tokens=24, source=src, first=first, second=second)

            def read(parsed: Any) -> str | None:
                v = _get(parsed, "better")
                v = str(v).strip().lower() if v is not None else None
                return v if v in ("1", "2", "tie") else None

            calls.append(Call("pairwise", it["id"], variant, req, exp, read, _equals(exp)))
    return calls


def _facts_ok(facts: list[str], item: dict[str, Any]) -> bool:
    joined = " ".join(facts).lower()
    whole = " ".join(item["text"].lower().split()).rstrip(".")
    copies = any(" ".join(f.lower().split()).rstrip(".") == whole for f in facts)
    return (item["min_facts"] <= len(facts) <= item["max_facts"] and not copies
            and all(k.lower() in joined for k in item["keywords"]))


@_task("facts", "atomic-fact split", FACTS_SCHEMA)
def _facts(items: dict[str, Any]) -> list[Call]:
    prompt = load_probe_prompt("probe_facts")
    calls = []
    for it in items["facts"]:
        req = prompt.request(json_schema=FACTS_SCHEMA, max_tokens=400, text=it["text"])

        def read(parsed: Any) -> str | None:
            v = _get(parsed, "facts")
            if not isinstance(v, list) or not all(isinstance(f, str) for f in v):
                return None
            return json.dumps([f.strip() for f in v], ensure_ascii=False)

        def correct(a: str | None, it: dict[str, Any] = it) -> bool:
            return a is not None and _facts_ok(json.loads(a), it)

        calls.append(Call("facts", it["id"], None, req, f"{it['min_facts']}-{it['max_facts']} facts", read, correct))
    return calls


# ------------------------------------------------------------------------------------------ scoring
@dataclass
class ProbeResult:
    model: str
    calls: pd.DataFrame
    """One row per call: task, item_id, variant, expected, answer, correct, json_valid, failed, latency_s,
    finish_reason, error."""
    summary: pd.DataFrame
    """One row per task: n, correct, accuracy, json_valid, json_valid_rate, failed, position_consistent,
    n_pairs, first_position_win_rate, yes_share, median_latency_s."""
    answers: pd.DataFrame = field(default_factory=pd.DataFrame)
    """The calls as an answers table (``rundir.ANSWER_COLUMNS``, stage "probe")."""
    wall_s: float = 0.0
    load_s: float | None = None

    def to_dict(self) -> dict[str, Any]:
        def clean(df: pd.DataFrame) -> list[dict[str, Any]]:
            return json.loads(df.to_json(orient="records"))

        return {"model": self.model, "wall_s": round(self.wall_s, 2), "load_s": self.load_s,
                "summary": clean(self.summary), "calls": clean(self.calls)}

    def table(self) -> Any:
        from rich.table import Table

        t = Table(title=f"probe: {self.model} ({self.wall_s:.0f} s)")
        for c in ("task", "calls", "accuracy", "position consistent", "1st-pos win", "yes share", "JSON valid",
                  "failed", "median s"):
            t.add_column(c, justify="left" if c == "task" else "right")
        for r in self.summary.to_dict("records"):
            pc = "-" if not r["n_pairs"] else f"{r['position_consistent']}/{r['n_pairs']}"
            t.add_row(r["task"], str(r["n"]), f"{r['correct']}/{r['n']} ({r['accuracy']:.0%})", pc,
                      _pct(r["first_position_win_rate"]), _pct(r["yes_share"]),
                      f"{r['json_valid']}/{r['n']}", str(r["failed"]), f"{r['median_latency_s']:.1f}")
        return t


def _pct(x: Any) -> str:
    return "-" if x is None or x != x else f"{x:.0%}"


_WINNER = {("AB", "1"): "good", ("AB", "2"): "bad", ("BA", "1"): "bad", ("BA", "2"): "good"}


def score_probe(calls: pd.DataFrame) -> pd.DataFrame:
    """Per-task summary of scored calls (see :class:`ProbeResult`)."""
    rows = []
    for task, g in calls.groupby("task", sort=False):
        n = len(g)
        row: dict[str, Any] = {"task": task, "n": n, "correct": int(g["correct"].sum()),
                               "accuracy": float(g["correct"].mean()), "json_valid": int(g["json_valid"].sum()),
                               "json_valid_rate": float(g["json_valid"].mean()), "failed": int(g["failed"].sum()),
                               "position_consistent": 0, "n_pairs": 0, "first_position_win_rate": float("nan"),
                               "yes_share": float("nan"),
                               "median_latency_s": float(statistics.median(g["latency_s"])) if n else float("nan")}
        if task == "pairwise":
            decisive = g[g["answer"].isin(["1", "2"])]
            if len(decisive):
                row["first_position_win_rate"] = float((decisive["answer"] == "1").mean())
            for _, pair in g.groupby("item_id"):
                by = dict(zip(pair["variant"], pair["answer"]))
                if "AB" in by and "BA" in by:
                    row["n_pairs"] += 1
                    wa, wb = _WINNER.get(("AB", by["AB"])), _WINNER.get(("BA", by["BA"]))
                    row["position_consistent"] += wa is not None and wa == wb
        if task == "support":
            answered = g[g["answer"].isin(["yes", "no"])]
            if len(answered):
                row["yes_share"] = float((answered["answer"] == "yes").mean())
        rows.append(row)
    return pd.DataFrame(rows)


def run_probe(
    model: str | Client,
    *,
    tasks: Sequence[str] | None = None,
    cache: str | None = None,
    cache_mode: str = "off",
    progress: bool = True,
    timeout_s: float = 600.0,
) -> ProbeResult:
    """Run the battery on ``model`` (a model string or a ready :class:`Client`) and score it.

    The cache is off by default (a probe measures the model now); pass ``cache``/``cache_mode="use"`` to
    keep the answers. A failed request counts as wrong and not JSON-valid.
    """
    names = list(tasks) if tasks else list(PROBE_TASKS)
    unknown = [t for t in names if t not in PROBE_TASKS]
    if unknown:
        raise ValueError(f"unknown probe task(s) {unknown}; known: {', '.join(PROBE_TASKS)}")
    own = not isinstance(model, Client)
    client = model if isinstance(model, Client) else make_client(
        model, cache=cache, cache_mode=cache_mode, max_retries=1, timeout_s=timeout_s, progress=progress)
    model_name = model if isinstance(model, str) else f"{client.backend.name}:{client.backend.model_id}"
    items = probe_items()
    calls = [c for name in names for c in PROBE_TASKS[name].build(items)]
    t0 = time.perf_counter()
    try:
        responses = client.run_all([c.request for c in calls], desc="probe")
    finally:
        if own:
            client.close()
    wall = time.perf_counter() - t0
    rows, answer_rows = [], []
    for call, resp in zip(calls, responses):
        schema = PROBE_TASKS[call.task].schema
        if isinstance(resp, RequestFailed):
            answer, valid, latency, finish, error = None, False, 0.0, "failed", f"{resp.error_type}: {resp.message}"
        else:
            assert isinstance(resp, Response)
            valid = resp.parsed is not None and not schema_errors(resp.parsed, schema)
            answer = call.read(resp.parsed) if valid else None
            latency, finish, error = resp.latency_s, resp.finish_reason or "", None
        rows.append({"task": call.task, "item_id": call.item_id, "variant": call.variant,
                     "expected": call.expected, "answer": answer, "correct": bool(call.correct(answer)),
                     "json_valid": bool(valid), "failed": isinstance(resp, RequestFailed),
                     "latency_s": round(latency, 3), "finish_reason": finish, "error": error})
        answer_rows.append(answer_row("probe", call.request, resp, item_id=call.item_id, variant=call.variant,
                                      answer=answer if call.task != "facts" else (None if answer is None else
                                                                                  str(len(json.loads(answer)))),
                                      valid=valid, model=model_name))
    df = pd.DataFrame(rows)
    load_s = getattr(client.backend, "load_s", None)
    return ProbeResult(model_name, df, score_probe(df), pd.DataFrame(answer_rows), wall,
                       None if load_s is None else round(load_s, 2))
