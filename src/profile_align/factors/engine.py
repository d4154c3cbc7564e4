"""The extraction engine: every factor of a task (or an explicit list) for every output of a dataset.

Stages (each one batch through the backend layer, with a progress bar):

1. rule factors (length, novel words, user rules) — no model;
2. atomic facts of every distinct output text, and of every distinct source (once per example);
3. fact-level verdicts, all facts of one text in one request per factor;
4. response-level labels (intent, formality, receptiveness);
5. fluency and coherence by UniEval's protocol (the real model, or the LLM proxy through logprobs).

Work is keyed by content hash: the same text (with the same source/input, where the factor depends on
it) is asked about once and the value shared by every output with that text. With a ``run_dir``,
``factors.parquet``, ``factor_details.parquet`` and the ``factors`` rows of ``answers.parquet`` are
rewritten atomically after every stage; every LLM answer is committed to the client's SQLite cache as it
arrives, so Ctrl-C and rerun continues without paying again for a finished request.
"""

from __future__ import annotations

import json
import time
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ..backends.base import RequestFailed, Response
from ..backends.logprobs import yes_probability_from_response
from ..data.dataset import Dataset
from ..data.model import text_hash
from ..rundir import ANSWER_COLUMNS, RunDir
from ..taxonomy import Factor
from . import atomic, llm, unieval as ue
from ..backends.base import is_scoring_request
from .prompts import load_prompt
from .table import FactorTable, compute_factors, resolve_factors

__all__ = ["ExtractionResult", "extract_factors", "DETAIL_COLUMNS", "FACT_FACTORS", "RESPONSE_FACTORS",
           "UNIEVAL_FACTORS"]

DETAIL_COLUMNS = ("output_id", "factor", "value", "extractor", "version", "detail", "n_items", "n_failed")
FACT_FACTORS = tuple(llm.FACT_SPECS)
RESPONSE_FACTORS = tuple(llm.RESPONSE_SPECS)
UNIEVAL_FACTORS = ("fluency", "coherence")
_NEEDS_OUTPUT_FACTS = {"n_facts", *(f for f, s in llm.FACT_SPECS.items() if s.facts_of == "output")}
_CHARS_PER_TOKEN = 3.5
_TRUNC_MARK = "\n[text truncated]"


def _failure_row() -> dict[str, int]:
    return {"requests": 0, "failed": 0, "parse_failed": 0, "missing_values": 0, "items": 0, "items_failed": 0,
            "cached": 0, "prompt_tokens": 0, "completion_tokens": 0}


@dataclass
class ExtractionResult:
    """What :func:`extract_factors` returns (see the module doc for the stages)."""

    table: FactorTable
    details: pd.DataFrame
    answers: pd.DataFrame
    failures: dict[str, dict[str, int]]
    usage: dict[str, Any] | None = None
    timings: dict[str, float] = field(default_factory=dict)

    def report(self) -> pd.DataFrame:
        """Per factor: extractor, computed, missing, and the requests/failures/tokens of its prompt."""
        rows = []
        for r in self.table.summary().itertuples():
            prov = self.table.provenance.get(r.factor, {})
            pts = prov.get("prompt_types", "")
            agg = _failure_row()
            for pt in filter(None, pts.split(",")):
                for k, v in self.failures.get(pt, {}).items():
                    if k != "missing_values":
                        agg[k] += v
            rows.append({"factor": r.factor, "extractor": r.extractor, "computed": r.computed, "missing": r.missing,
                         "mean": r.mean, "requests": agg["requests"], "failed": agg["failed"],
                         "parse_failed": agg["parse_failed"], "items_failed": agg["items_failed"],
                         "prompt_tokens": agg["prompt_tokens"], "completion_tokens": agg["completion_tokens"]})
        return pd.DataFrame(rows)

    def failure_rate(self) -> float:
        """(failed + unparseable answers + failed items) / (requests + items) over all prompt types."""
        bad = sum(f["failed"] + f["parse_failed"] + f["items_failed"] for f in self.failures.values())
        tot = sum(f["requests"] + f["items"] for f in self.failures.values())
        return bad / tot if tot else 0.0


def _context_tokens(client: Any) -> int | None:
    backend = getattr(client, "backend", None)
    for obj in (backend, getattr(backend, "_llama_kwargs", None)):
        if isinstance(obj, dict) and obj.get("n_ctx"):
            return int(obj["n_ctx"])
        if obj is not None and getattr(obj, "n_ctx", None):
            return int(obj.n_ctx)
    return None


class _Run:
    def __init__(self, ds: Dataset, facs: list[Factor], client: Any, model_label: str, *, run_dir: RunDir | None,
                 unieval: ue.UniEvalScorer | None, context_tokens: int | None, fact_batch: int,
                 fact_order_seed: int | None, response_temperature: float | None, response_seed: int | None) -> None:
        self.ds, self.facs, self.client, self.model = ds, facs, client, model_label
        self.run_dir, self.unieval = run_dir, unieval
        self.fact_batch = max(1, fact_batch)
        self.fact_order_seed = fact_order_seed
        self.response_temperature, self.response_seed = response_temperature, response_seed
        self.examples = ds.example_map()
        self.names = [f.name for f in facs]  # computed in this run
        self.columns = list(self.names)      # columns of the table (requested order, skipped ones NaN)
        self.warnings: Counter = Counter()
        self.failures: dict[str, dict[str, int]] = defaultdict(_failure_row)
        self.answers: list[dict[str, Any]] = []
        self.details: list[dict[str, Any]] = []
        self.values: dict[str, dict[str, float | None]] = {}
        self.provenance: dict[str, dict[str, str]] = {}
        self.timings: dict[str, float] = {}
        self._truncated: set[tuple[str, str]] = set()
        ctx = context_tokens or _context_tokens(client) or 32768
        budget = max(512, ctx - 1400) * _CHARS_PER_TOKEN  # room for instructions and the longest answer
        self.source_limit = int(budget * 0.6)
        self.text_limit = int(budget * 0.25)
        self.ctx = ctx
        # distinct output texts: hash -> (first output id, text); output id -> hash
        self.out_hash: dict[str, str] = {}
        self.hash_text: dict[str, tuple[str, str]] = {}
        for o in ds.outputs:
            h = text_hash(o.text)
            self.out_hash[o.id] = h
            self.hash_text.setdefault(h, (o.id, o.text))
        self.output_facts: dict[str, list[str] | None] = {}
        self.source_facts: dict[str, list[str] | None] = {}

    # ------------------------------------------------------------------------------ helpers
    def fit(self, text: str, limit: int, what: str) -> str:
        if len(text) <= limit:
            return text
        key = (what, text_hash(text))
        if key not in self._truncated:
            self._truncated.add(key)
            self.warnings[f"{what}: text longer than {limit} characters truncated to fit the model context "
                          f"({self.ctx} tokens)"] += 1
        return text[:limit].rstrip() + _TRUNC_MARK

    def run(self, reqs: list[Any], desc: str) -> list[Response | RequestFailed]:
        if not reqs:
            return []
        return self.client.run_all(reqs, desc=desc)

    def account(self, req: Any, resp: Response | RequestFailed) -> dict[str, int]:
        f = self.failures[req.prompt_type]
        f["requests"] += 1
        if isinstance(resp, RequestFailed):
            f["failed"] += 1
        else:
            f["cached"] += int(bool(resp.cached))
            f["prompt_tokens"] += resp.usage.prompt_tokens
            f["completion_tokens"] += resp.usage.completion_tokens
        return f

    def answer_row(self, req: Any, resp: Response | RequestFailed, item_id: str, variant: str, answer: str | None,
                   valid: bool, echo: bool = False) -> None:
        ok = not isinstance(resp, RequestFailed)
        finish = resp.finish_reason if ok else "failed"
        if ok and is_scoring_request(req):
            finish = "logprobs"  # a one-token request read from its probabilities: cut off by design
        self.answers.append({
            "stage": "factors", "prompt_type": req.prompt_type, "model": self.model, "item_id": item_id,
            "input_key": self.client.key(req)[:16], "variant": variant, "answer": answer, "valid": bool(valid),
            "finish_reason": finish, "cached": bool(resp.cached) if ok else False,
            "echo": bool(echo),
        })

    def set_value(self, factor: str, key_of_output: dict[str, Any], results: dict[Any, tuple], extractor: str,
                  version: str, prompt_types: Sequence[str]) -> None:
        """Spread per-key results (value, detail, n_items, n_failed) over every output."""
        vals: dict[str, float | None] = {}
        for oid, key in key_of_output.items():
            value, detail, n_items, n_failed = results.get(key, (None, None, 0, 0))
            vals[oid] = value
            self.details.append({"output_id": oid, "factor": factor, "value": value, "extractor": extractor,
                                 "version": version, "detail": detail, "n_items": int(n_items),
                                 "n_failed": int(n_failed)})
        self.values[factor] = vals
        n_missing = sum(v is None for v in vals.values())
        if n_missing:
            self.failures[prompt_types[-1]]["missing_values"] += n_missing
        self.provenance[factor] = {"extractor": extractor, "version": version, "prompt_types": ",".join(prompt_types)}

    def source_of(self, example_id: str) -> str:
        return self.examples[example_id].source_text

    # ------------------------------------------------------------------------------ stages
    def stage_facts(self) -> None:
        want_out = any(n in _NEEDS_OUTPUT_FACTS for n in self.names)
        want_src = "source_coverage" in self.names
        system = load_prompt("atomic_facts").system.lower()
        reqs, keys = [], []
        if want_out:
            for h, (oid, text) in self.hash_text.items():
                if not text.strip():
                    self.output_facts[h] = []
                    self.warnings["n_facts: empty output text (no atomic facts)"] += 1
                    continue
                reqs.append(atomic.facts_request(self.fit(text, self.text_limit, "atomic facts of an output"),
                                                 max_items=40, max_tokens=1024))
                keys.append(("out", h, oid))
        if want_src:
            for ex in self.ds.examples:
                sh = text_hash(ex.source_text)
                if sh in self.source_facts:
                    continue
                if not ex.source_text.strip():
                    self.source_facts[sh] = []
                    continue
                self.source_facts[sh] = None
                reqs.append(atomic.facts_request(self.fit(ex.source_text, self.source_limit, "atomic facts of a source"),
                                                 max_items=60, max_tokens=1536, prompt_type="atomic_facts_source"))
                keys.append(("src", sh, ex.id))
        for (kind, h, item), req, resp in zip(keys, reqs, self.run(reqs, "atomic facts")):
            f = self.account(req, resp)
            facts = None
            if not isinstance(resp, RequestFailed):
                facts = atomic.parse_facts(resp.parsed)
                if facts is None:
                    f["parse_failed"] += 1
            echo = bool(facts) and any(len(x) > 12 and atomic.normalise_fact(x) in system for x in facts)
            self.answer_row(req, resp, item, "", None if facts is None else json.dumps(facts, ensure_ascii=False),
                            facts is not None, echo)
            (self.output_facts if kind == "out" else self.source_facts)[h] = facts
        if "n_facts" in self.names:
            res = {h: ((None if fs is None else float(len(fs))),
                       None if fs is None else json.dumps(fs, ensure_ascii=False), 0 if fs is None else len(fs), 0)
                   for h, fs in self.output_facts.items()}
            self.set_value("n_facts", self.out_hash, res, f"llm-fact:{self.model}", load_prompt("atomic_facts").tag,
                           ["atomic_facts"])

    def stage_fact_factors(self) -> None:
        for name in [n for n in self.names if n in llm.FACT_SPECS]:
            spec = llm.FACT_SPECS[name]
            prompt = load_prompt(spec.prompt)
            key_of_output: dict[str, tuple] = {}
            jobs: dict[tuple, dict[str, Any]] = {}
            for o in self.ds.outputs:
                ex = self.examples[o.example_id]
                h = self.out_hash[o.id]
                if spec.facts_of == "output":
                    facts = self.output_facts.get(h)
                    ctx_text = ex.source_text if spec.context == "source" else ex.input
                    key = (h, text_hash(ctx_text))
                else:
                    facts = self.source_facts.get(text_hash(ex.source_text))
                    ctx_text = o.text
                    key = (h, text_hash(ex.source_text))
                key_of_output[o.id] = key
                if key not in jobs:
                    jobs[key] = {"facts": facts, "context": ctx_text, "item": o.id}
            reqs, meta = [], []
            results: dict[tuple, tuple] = {}
            for key, job in jobs.items():
                facts = job["facts"]
                if facts is None:
                    results[key] = (None, None, 0, 0)  # the fact list itself is missing (counted there)
                    continue
                if not facts:
                    which = "output" if spec.facts_of == "output" else "source"
                    self.warnings[f"{name}: the {which} has no atomic facts (ratio undefined: missing)"] += 1
                    results[key] = (None, json.dumps([]), 0, 0)
                    continue
                limit, what = ((self.text_limit, f"{name}: output text") if spec.context == "text"
                               else (self.source_limit, f"{name}: {spec.context}"))
                context = self.fit(job["context"], limit, what)
                for start in range(0, len(facts), self.fact_batch):
                    chunk = facts[start:start + self.fact_batch]
                    seed = None if self.fact_order_seed is None else self.fact_order_seed + start
                    req, order = llm.fact_verdict_request(spec, chunk, context, order_seed=seed)
                    reqs.append(req)
                    meta.append((key, start, order, job["item"]))
            verdicts: dict[tuple, list[str | None]] = {k: [None] * len(j["facts"]) for k, j in jobs.items()
                                                       if j["facts"]}
            for req, (key, start, order, item), resp in zip(reqs, meta, self.run(reqs, f"{name} (per fact)")):
                f = self.account(req, resp)
                got: list[str | None] = [None] * len(order)
                if not isinstance(resp, RequestFailed):
                    if resp.parsed is None:
                        f["parse_failed"] += 1
                    else:
                        got = llm.parse_fact_verdicts(resp.parsed, order)
                f["items"] += len(order)
                f["items_failed"] += sum(v is None for v in got)
                for i, v in enumerate(got):
                    verdicts[key][start + i] = v
                    self.answer_row(req, resp, item, str(start + i), v, v is not None)
            for key, vs in verdicts.items():
                facts = jobs[key]["facts"]
                detail = json.dumps([{"fact": fa, "verdict": v} for fa, v in zip(facts, vs)], ensure_ascii=False)
                results[key] = (llm.fact_ratio(vs, spec.counted), detail, len(vs), sum(v is None for v in vs))
            src_tag = load_prompt("atomic_facts").tag
            self.set_value(name, key_of_output, results, f"llm-fact:{self.model}", f"{src_tag}+{prompt.tag}",
                           ["atomic_facts_source" if spec.facts_of == "source" else "atomic_facts", spec.prompt])

    def stage_response(self) -> None:
        for name in [n for n in self.names if n in llm.RESPONSE_SPECS]:
            spec = llm.RESPONSE_SPECS[name]
            key_of_output, jobs = {}, {}
            for o in self.ds.outputs:
                ex = self.examples[o.example_id]
                key = (self.out_hash[o.id], text_hash(ex.input))
                key_of_output[o.id] = key
                jobs.setdefault(key, (o.id, ex.input, o.text))
            keys = list(jobs)
            reqs = [llm.response_request(spec, self.fit(jobs[k][1], self.source_limit, f"{name}: input"),
                                         self.fit(jobs[k][2], self.text_limit, f"{name}: output text"),
                                         temperature=self.response_temperature, seed=self.response_seed)
                    for k in keys]
            results = {}
            for key, req, resp in zip(keys, reqs, self.run(reqs, name)):
                f = self.account(req, resp)
                label = just = None
                if not isinstance(resp, RequestFailed):
                    label, just = llm.parse_response_label(spec, resp.parsed)
                    if label is None:
                        f["parse_failed"] += 1
                self.answer_row(req, resp, jobs[key][0], "", label, label is not None)
                detail = json.dumps({"label": label, "justification": just}, ensure_ascii=False)
                results[key] = (None if label is None else spec.labels[label], detail, 1, int(label is None))
            self.set_value(name, key_of_output, results, f"llm-response:{self.model}",
                           load_prompt(spec.prompt).tag, [spec.prompt])

    def stage_unieval(self) -> None:
        dims = [n for n in self.names if n in UNIEVAL_FACTORS]
        if not dims:
            return
        if self.unieval is not None:
            self._unieval_real(dims)
            return
        for dim in dims:
            pt = f"unieval_{dim}"
            key_of_output, jobs = {}, {}
            for o in self.ds.outputs:
                ex = self.examples[o.example_id]
                key = (self.out_hash[o.id],) if dim == "fluency" else (self.out_hash[o.id], text_hash(ex.source_text))
                key_of_output[o.id] = key
                jobs.setdefault(key, (o.id, o.text, ex.source_text))
            reqs, meta, results = [], [], {}
            for key, (oid, text, source) in jobs.items():
                if dim == "fluency":
                    sents = ue.split_sentences(text)
                    if not sents:
                        self.warnings["fluency: output has no sentence (missing)"] += 1
                        results[key] = (None, json.dumps([]), 0, 0)
                        continue
                    for i, s in enumerate(sents):
                        reqs.append(ue.proxy_request("fluency", self.fit(s, self.text_limit, "fluency: sentence")))
                        meta.append((key, i, oid, len(sents)))
                else:
                    if not text.strip():
                        self.warnings["coherence: empty output text (missing)"] += 1
                        results[key] = (None, None, 0, 0)
                        continue
                    reqs.append(ue.proxy_request("coherence", self.fit(text, self.text_limit, "coherence: output text"),
                                                 self.fit(source, self.source_limit, "coherence: source")))
                    meta.append((key, 0, oid, 1))
            scores: dict[tuple, list[float | None]] = {}
            for req, (key, i, oid, n), resp in zip(reqs, meta, self.run(reqs, f"{dim} (UniEval proxy)")):
                f = self.account(req, resp)
                p = None if isinstance(resp, RequestFailed) else yes_probability_from_response(resp)
                if p is None and not isinstance(resp, RequestFailed):
                    f["parse_failed"] += 1  # neither yes nor no among the first token's alternatives
                f["items"] += 1
                f["items_failed"] += int(p is None)
                scores.setdefault(key, [None] * n)[i] = p
                # the answer is the value used, P(yes)/(P(yes)+P(no)) to 2 decimals, not the argmax token:
                # the diagnostics then see whether the scores vary, not whether "yes" is the likelier word
                self.answer_row(req, resp, oid, str(i) if dim == "fluency" else "",
                                None if p is None else f"{p:.2f}", p is not None)
            for key, ps in scores.items():
                valid = [p for p in ps if p is not None]
                results[key] = ((sum(valid) / len(valid)) if valid else None,
                                json.dumps([None if p is None else round(p, 6) for p in ps]), len(ps),
                                sum(p is None for p in ps))
            self.set_value(dim, key_of_output, results, f"unieval-proxy:{self.model}", load_prompt(pt).tag, [pt])

    def _unieval_real(self, dims: list[str]) -> None:
        scorer = self.unieval
        for dim in dims:
            key_of_output, results = {}, {}
            for o in self.ds.outputs:
                ex = self.examples[o.example_id]
                key = (self.out_hash[o.id],) if dim == "fluency" else (self.out_hash[o.id], text_hash(ex.source_text))
                key_of_output[o.id] = key
                if key in results:
                    continue
                if dim == "fluency":
                    v, per = scorer.fluency(o.text)
                    results[key] = (v, json.dumps(per), len(per), sum(p is None for p in per))
                else:
                    v = scorer.coherence(o.text, ex.source_text)
                    results[key] = (v, None, 1, int(v is None))
            self.set_value(dim, key_of_output, results, "unieval", scorer.version, [f"unieval_{dim}"])

    # ------------------------------------------------------------------------------ output
    def table(self, base: FactorTable) -> FactorTable:
        df = base.values.copy()
        for name in self.columns:
            if name in self.values:
                df[name] = pd.Series(self.values[name], dtype=float).reindex(df.index).astype(float)
            elif name not in df.columns:
                df[name] = np.nan
        df = df[[c for c in df.columns if c in ("example_id", "text_hash")] + self.columns]
        prov = {**base.provenance, **self.provenance}
        warnings = Counter(base.warnings)
        warnings.update(self.warnings)
        return FactorTable(df, prov, warnings)

    def details_frame(self, base: FactorTable) -> pd.DataFrame:
        rows = list(self.details)
        for name in base.factor_names:
            if name in self.values:
                continue
            p = base.provenance.get(name, {})
            for oid, v in base.values[name].items():
                rows.append({"output_id": oid, "factor": name, "value": None if pd.isna(v) else float(v),
                             "extractor": p.get("extractor", "rule"), "version": p.get("version", "1"),
                             "detail": None, "n_items": 0, "n_failed": 0})
        df = pd.DataFrame(rows, columns=list(DETAIL_COLUMNS))
        df["value"] = df["value"].astype(float)
        return df

    def answers_frame(self) -> pd.DataFrame:
        return pd.DataFrame(self.answers, columns=list(ANSWER_COLUMNS))

    def flush(self, base: FactorTable, status: str) -> None:
        if self.run_dir is None:
            return
        table = self.table(base)
        self.run_dir.write_factors(table)
        self.run_dir.write_table("factor_details", self.details_frame(base), csv=False)
        self.run_dir.replace_answers("factors", self.answers_frame())
        self.run_dir.update_manifest(factors={
            "names": self.columns, "status": status,
            "extractors": {f: table.provenance.get(f, {}).get("extractor", "not computed") for f in self.columns},
            "missing": {f: int(table.values[f].isna().sum()) for f in self.columns if table.values[f].isna().any()},
            "failures": {k: dict(v) for k, v in self.failures.items()},
        })


def extract_factors(
    dataset: Dataset,
    factors: Iterable[str | Factor] | None = None,
    *,
    client: Any = None,
    model: str | None = None,
    run_dir: str | Path | RunDir | None = None,
    unieval: ue.UniEvalScorer | str | None = None,
    progress: bool = True,
    cache: str | Path | None = None,
    context_tokens: int | None = None,
    fact_batch: int = 30,
    fact_order_seed: int | None = None,
    response_temperature: float | None = None,
    response_seed: int | None = None,
) -> ExtractionResult:
    """Extract ``factors`` (default: the dataset task's set) for every output of ``dataset``.

    Args:
        client: a :class:`~profile_align.backends.Client`; or ``model``: a model string to build one
            (its cache is ``cache`` or ``<run_dir>/cache.sqlite``). With neither, model-based factors are
            skipped and listed in ``result.table.warnings``.
        run_dir: write ``factors.parquet``, ``factor_details.parquet`` and the ``factors`` rows of
            ``answers.parquet`` after every stage (atomically).
        unieval: a :class:`~profile_align.factors.unieval.UniEvalScorer` or a UniEval model name/path for
            fluency and coherence; default: the UniEval protocol on the LLM (a proxy, recorded as such).
        context_tokens: the model's context window (read from a llama.cpp backend; 32768 if unknown);
            longer texts are truncated visibly, with a counted warning.
        fact_batch: most facts asked about in one request (longer fact lists are split).
        fact_order_seed: shuffle the order facts are shown in (self-consistency checks).
        response_temperature, response_seed: sampling of the response-level labels (default: greedy).
    """
    t_start = time.perf_counter()
    facs = resolve_factors(dataset.task, factors)
    rule = [f for f in facs if f.computable_without_model]
    model_facs = [f for f in facs if not f.computable_without_model]
    unknown = [f.name for f in model_facs
               if f.name not in (*FACT_FACTORS, *RESPONSE_FACTORS, *UNIEVAL_FACTORS, "n_facts")]
    if unknown:
        raise ValueError(f"no extractor for factor(s) {unknown}: register a rule function for them")
    rd = run_dir if isinstance(run_dir, RunDir) else (RunDir(run_dir, create=True) if run_dir is not None else None)
    if isinstance(unieval, str):
        unieval = ue.UniEvalScorer(unieval)
    own_client = False
    if client is None and model is not None:
        from ..backends.client import Client

        cache_path = cache or (rd.path / "cache.sqlite" if rd is not None else None)
        client = Client(model, cache=cache_path, progress=progress)
        own_client = True
    base = compute_factors(dataset, rule) if rule else FactorTable(
        pd.DataFrame({"output_id": [o.id for o in dataset.outputs],
                      "example_id": [o.example_id for o in dataset.outputs],
                      "text_hash": [text_hash(o.text) for o in dataset.outputs]}).set_index("output_id"))
    timings = {"rules": time.perf_counter() - t_start}
    llm_names = [f for f in model_facs if not (f.name in UNIEVAL_FACTORS and unieval is not None)]
    if client is None:
        for f in llm_names:
            base.warnings[f"{f.name}: needs a model backend ({f.extractor}); not computed (pass --model)"] += 1
        model_facs = [f for f in model_facs if f not in llm_names]
    label = model or (f"{client.backend.name}:{client.backend.model_id}" if client is not None else "none")
    runner = _Run(dataset, rule + model_facs, client, label, run_dir=rd, unieval=unieval,
                  context_tokens=context_tokens, fact_batch=fact_batch, fact_order_seed=fact_order_seed,
                  response_temperature=response_temperature, response_seed=response_seed)
    runner.columns = [f.name for f in facs]  # the requested order; skipped factors stay NaN columns
    old_progress = getattr(client, "progress", None)
    if client is not None:
        client.progress = progress
    try:
        runner.flush(base, "partial")
        stages = (("facts", runner.stage_facts), ("fact_factors", runner.stage_fact_factors),
                  ("response", runner.stage_response), ("unieval", runner.stage_unieval))
        needs = {f.name for f in model_facs}
        for stage_name, fn in stages:
            if not needs:
                break
            if client is None and stage_name != "unieval":
                continue
            t0 = time.perf_counter()
            fn()
            timings[stage_name] = time.perf_counter() - t0
            runner.flush(base, "partial")
        runner.flush(base, "complete")
    finally:
        if client is not None and old_progress is not None:
            client.progress = old_progress
        usage = client.accounting.to_dict() if client is not None else None
        if own_client:
            client.close()
    if rd is not None and usage is not None:
        rd.write_json("factors_usage.json", usage)
    timings["total"] = time.perf_counter() - t_start
    return ExtractionResult(runner.table(base), runner.details_frame(base), runner.answers_frame(),
                            {k: dict(v) for k, v in runner.failures.items()}, usage, timings)
