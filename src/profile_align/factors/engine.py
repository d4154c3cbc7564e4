"""The extraction engine: every factor of a task (or an explicit list) for every output of a dataset.

The engine knows no factor by name. It asks the extractor registry (:mod:`.registry`) for the requested
factors' extractors and everything they need (atomic facts before the fact-level factors that read them),
computes the model-free (rule) factors in one pass (:func:`~.table.compute_factors`), then runs every
other extractor in dependency order, each one batch through the backend layer with a progress bar.

Work is keyed by content hash: the same text (with the same source/input, where the factor depends on
it) is asked about once and the value shared by every output with that text. With a ``sink`` (the run
passes one that writes the run directory, :class:`.sink.RunDirSink`), the factor table, the details and
the factor answers are handed over after every extractor; every LLM answer is committed to the client's
SQLite cache as it arrives, so Ctrl-C and rerun continues without paying again for a finished request.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ..backends.base import RequestFailed, Response
from ..backends.records import Records
from ..diagnostics.answers import answer_row
from ..data.dataset import Dataset
from ..data.model import text_hash
from ..taxonomy import Factor
from . import unieval as ue
from .registry import Extractor, dependency_order
from .sink import FactorSink, FactorSnapshot
from .table import FactorTable, compute_factors, resolve_factors

__all__ = ["ExtractionResult", "ExtractionRun", "extract_factors", "DETAIL_COLUMNS", "ANSWER_FIELDS"]

DETAIL_COLUMNS = ("output_id", "factor", "value", "extractor", "version", "detail", "n_items", "n_failed")
# The keys of one factor answer row (diagnostics.answers.answer_row); the run directory's answers.parquet columns.
ANSWER_FIELDS = ("stage", "prompt_type", "model", "item_id", "input_key", "variant", "answer", "valid",
                 "finish_reason", "cached", "echo")
_CHARS_PER_TOKEN = 3.5
_TRUNC_MARK = "\n[text truncated]"


def _failure_row(records: Records, missing_values: int = 0) -> dict[str, int]:
    """Calls of one prompt type, from their call records, and the factor values left missing."""
    t = records.tally()
    return {"requests": t.requests, "failed": t.failed, "parse_failed": t.unparseable, "refused": t.refused,
            "cached": t.cached, "prompt_tokens": t.prompt_tokens + t.cached_prompt_tokens,
            "completion_tokens": t.completion_tokens + t.cached_completion_tokens, "missing_values": missing_values}


@dataclass
class ExtractionResult:
    """What :func:`extract_factors` returns (see the module doc for the stages)."""

    table: FactorTable
    details: pd.DataFrame
    answers: pd.DataFrame
    failures: dict[str, dict[str, int]]
    """Per prompt type: requests, failed, parse_failed (unparseable), refused, cached, tokens — derived from
    the call records of the extraction's calls — and missing_values (factor values left missing)."""
    usage: dict[str, Any] | None = None
    timings: dict[str, float] = field(default_factory=dict)
    unieval: dict[str, Any] = field(default_factory=dict)  # {"mode": "real"|"proxy", "warning": ..., ...}

    def report(self) -> pd.DataFrame:
        """Per factor: extractor, computed, missing, the calls/failures/tokens of its prompts (from the call
        records) and the items (e.g. facts) left without a verdict (from the factor details)."""
        rows = []
        det = self.details
        for r in self.table.summary().itertuples():
            prov = self.table.provenance.get(r.factor, {})
            pts = [pt for pt in prov.get("prompt_types", "").split(",") if pt]
            agg = {k: sum(self.failures.get(pt, {}).get(k, 0) for pt in pts)
                   for k in ("requests", "failed", "parse_failed", "prompt_tokens", "completion_tokens")}
            sub = det[det["factor"] == r.factor] if len(det) else det
            rows.append({"factor": r.factor, "extractor": r.extractor, "computed": r.computed, "missing": r.missing,
                         "mean": r.mean, **agg, "items": int(sub["n_items"].sum()) if len(sub) else 0,
                         "items_failed": int(sub["n_failed"].sum()) if len(sub) else 0})
        return pd.DataFrame(rows)

    def failure_rate(self) -> float:
        """(failed + unparseable + refused calls) / calls over all prompt types (from the call records)."""
        bad = sum(f["failed"] + f["parse_failed"] + f.get("refused", 0) for f in self.failures.values())
        tot = sum(f["requests"] for f in self.failures.values())
        return bad / tot if tot else 0.0


def _context_tokens(client: Any) -> int | None:
    backend = getattr(client, "backend", None)
    n_ctx = getattr(backend, "n_ctx", None)  # the context window of a local backend
    return int(n_ctx) if n_ctx else None


class _Run:
    """The state of one extraction, and what extractors use: the dataset and its distinct texts
    (``out_hash``, ``hash_text``, ``examples``), ``fit`` (visible truncation), ``run`` (one batch of
    requests), ``account`` (ties a call's record to the extraction; marks an unusable answer) and
    ``answer_row`` (its answers-table row), ``set_value`` (a factor's values),
    ``artifacts`` (what an extractor leaves for the ones that need it) and ``warnings``."""

    def __init__(self, ds: Dataset, facs: list[Factor], client: Any, model_label: str, *, sink: FactorSink | None,
                 unieval: ue.UniEvalScorer | None, context_tokens: int | None, fact_batch: int,
                 fact_order_seed: int | None, response_temperature: float | None, response_seed: int | None,
                 unieval_info: dict[str, Any] | None = None) -> None:
        self.ds, self.facs, self.client, self.model = ds, facs, client, model_label
        self.sink, self.unieval = sink, unieval
        self.unieval_info = unieval_info or {}
        self.artifacts: dict[str, Any] = {}
        self.fact_batch = max(1, fact_batch)
        self.fact_order_seed = fact_order_seed
        self.response_temperature, self.response_seed = response_temperature, response_seed
        self.examples = ds.example_map()
        self.names = [f.name for f in facs]  # computed in this run
        self.columns = list(self.names)      # columns of the table (requested order, skipped ones NaN)
        self.warnings: Counter = Counter()
        self.call_ids: list[str] = []          # the call records of this extraction's answers
        self.missing: Counter = Counter()      # prompt type -> factor values left missing
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
        return self.client.run_all(reqs, desc=desc, stage="factors")

    def account(self, req: Any, resp: Response | RequestFailed, usable: bool = True) -> None:
        """Tie a call to this extraction; ``usable=False`` marks an answer it could not read (``unparseable``
        on the call record, through ``Client.mark_unparseable``: the one place parse failures are counted)."""
        if resp.call_id:
            self.call_ids.append(resp.call_id)
        self.client.mark_usable(resp, usable)

    def failure_counts(self) -> dict[str, dict[str, int]]:
        """Per prompt type, from the call records of this extraction (see :func:`_failure_row`)."""
        recs = self.client.records().where(call_ids=self.call_ids) if self.client is not None else Records()
        groups = {k[0]: g for k, g in recs.group("prompt_type").items()}
        return {pt: _failure_row(groups.get(pt, Records()), self.missing.get(pt, 0))
                for pt in sorted(set(groups) | set(self.missing))}

    def answer_row(self, req: Any, resp: Response | RequestFailed, item_id: str, variant: str, answer: str | None,
                   valid: bool, echo: bool = False) -> None:
        # the model string of the call records (Client.model), so diagnostics join answers and records exactly
        self.answers.append(answer_row("factors", req, resp, item_id=item_id, variant=variant, answer=answer,
                                       valid=valid, model=getattr(self.client, "model", self.model), echo=echo))

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
            self.missing[prompt_types[-1]] += n_missing
        self.provenance[factor] = {"extractor": extractor, "version": version, "prompt_types": ",".join(prompt_types)}

    def example_of(self, output: Any) -> Any:
        """The example as ``output`` sees it (:meth:`Example.for_output`): with the output's own sources
        (a WebGPT answer's quotes) where it has them. Every extractor reads an output's input and source
        through here, never ``examples[...]`` directly, so source-based factors use each output's own
        references and their cache keys (the hash of the source) keep apart the same text cited with
        different references."""
        return self.examples[output.example_id].for_output(output)

    def source_of(self, output: Any) -> str:
        """The text that ``output``'s source-based factors compare against (its own sources, else its
        example's)."""
        return self.example_of(output).source_text

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
        return pd.DataFrame(self.answers, columns=list(ANSWER_FIELDS))

    def flush(self, base: FactorTable, status: str, usage: dict[str, Any] | None = None) -> None:
        if self.sink is None:
            return
        table = self.table(base)
        manifest: dict[str, Any] = {
            "names": self.columns, "status": status,
            "extractors": {f: table.provenance.get(f, {}).get("extractor", "not computed") for f in self.columns},
            "missing": {f: int(table.values[f].isna().sum()) for f in self.columns if table.values[f].isna().any()},
            "failures": self.failure_counts(),
        }
        if self.unieval_info:
            manifest["unieval"] = dict(self.unieval_info)
        self.sink.write(FactorSnapshot(table, self.details_frame(base), self.answers_frame(), manifest, status, usage))


ExtractionRun = _Run  # the public name extractors type against


def extract_factors(
    dataset: Dataset,
    factors: Iterable[str | Factor] | None = None,
    *,
    client: Any = None,
    model: str | None = None,
    sink: FactorSink | None = None,
    run_dir: Any = None,
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
        sink: receives the factor table, details, answers and a manifest entry after every extractor
            (:class:`~profile_align.factors.sink.FactorSink`). ``run_dir`` (a path or RunDir) is short for
            ``sink=RunDirSink(run_dir)``: ``factors.parquet``, ``factor_details.parquet``, the ``factors``
            rows of ``answers.parquet`` and the manifest's ``factors`` entry, written atomically.
        unieval: fluency/coherence scorer: ``"proxy"`` or None (UniEval's protocol on the LLM, the default
            here), ``"real"`` (the UniEval model; an error when the ``unieval`` extra is missing),
            ``"auto"`` (real when the extra is importable, else the proxy with a warning), a model
            name/path, or a :class:`~profile_align.factors.unieval.UniEvalScorer`. See
            :func:`~profile_align.factors.unieval.resolve_unieval`.
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
    try:
        order: list[Extractor] = dependency_order(f.name for f in model_facs)
    except ValueError as exc:
        raise ValueError(f"{exc}; declare one (register_factor for a rule function, llm_factor for an LLM "
                         "prompt; see docs/factors.md)") from None
    if sink is None and run_dir is not None:
        from .sink import RunDirSink

        sink = RunDirSink(run_dir)
    scorer, unieval_info = ue.resolve_unieval(unieval) if any(
        isinstance(e, ue.UniEvalExtractor) for e in order) else (None, {})
    own_client = False
    if client is None and model is not None:
        from ..backends.factory import make_client

        sink_dir = getattr(sink, "path", None)
        client = make_client(model, cache=cache, run_dir=sink_dir, progress=progress)
        own_client = True
    base = compute_factors(dataset, rule) if rule else FactorTable(
        pd.DataFrame({"output_id": [o.id for o in dataset.outputs],
                      "example_id": [o.example_id for o in dataset.outputs],
                      "text_hash": [text_hash(o.text) for o in dataset.outputs]}).set_index("output_id"))
    timings = {"rules": time.perf_counter() - t_start}
    label = model or (f"{client.backend.name}:{client.backend.model_id}" if client is not None else "none")
    runner = _Run(dataset, facs, client, label, sink=sink, unieval=scorer, context_tokens=context_tokens,
                  fact_batch=fact_batch, fact_order_seed=fact_order_seed,
                  response_temperature=response_temperature, response_seed=response_seed, unieval_info=unieval_info)
    runner.columns = [f.name for f in facs]  # the requested order; skipped factors stay NaN columns
    if unieval_info.get("warning"):
        runner.warnings[unieval_info["warning"]] += 1
    skipped = {e.name for e in order if not e.available(runner)}
    for e in order:
        if e.name in skipped and e.factor is not None:
            base.warnings[f"{e.name}: needs a model backend ({e.factor.extractor}); not computed (pass --model)"] += 1
    # an extractor runs only when it is available and every extractor it needs ran too
    ran: set[str] = set()
    old_progress = getattr(client, "progress", None)
    if client is not None:
        client.progress = progress
    usage = None
    try:
        runner.flush(base, "partial")
        for ext in order:
            if ext.name in skipped or any(d not in ran for d in ext.needs):
                continue
            t0 = time.perf_counter()
            ext.extract(runner)
            ran.add(ext.name)
            timings[ext.name] = time.perf_counter() - t0
            runner.flush(base, "partial")
    finally:
        if client is not None and old_progress is not None:
            client.progress = old_progress
        usage = client.accounting.to_dict() if client is not None else None
        if own_client:
            client.close()
    runner.flush(base, "complete", usage)
    timings["total"] = time.perf_counter() - t_start
    return ExtractionResult(runner.table(base), runner.details_frame(base), runner.answers_frame(),
                            runner.failure_counts(), usage, timings, dict(unieval_info))
