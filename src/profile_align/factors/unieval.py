"""Fluency and coherence by UniEval's Boolean-QA protocol (Zhong et al. 2022, maszhongming/UniEval).

UniEval (``MingZhong/unieval-sum``, a T5 model) reads a question put before the text and scores it
``P(Yes) / (P(Yes) + P(No))`` from the first decoder step. For summarisation its code builds:

* fluency, per sentence, then averaged over the sentences of the output:
  ``question: Is this a fluent paragraph? </s> paragraph: <sentence>``
* coherence, whole output against the source:
  ``question: Is this a coherent summary to the document? </s> summary: <output> </s> document: <source>``

Two scorers:

* :class:`UniEvalScorer` — the real model via ``transformers`` (``pip install "profile-align[unieval]"``),
  from a local path or the hub; extractor ``"unieval"``.
* the default: the same questions put to the configured LLM, scored from its first generated token's
  top logprobs (:func:`~profile_align.backends.logprobs.yes_probability`); extractor
  ``"unieval-proxy:<model>"``. This is a proxy of UniEval, not UniEval.

Which scorer a run uses is :func:`resolve_unieval`'s choice (config ``factors.unieval: real | proxy``,
default ``real`` when the ``unieval`` extra is importable, else ``proxy`` with a warning). The proxy's
measured agreement with SummEval's expert ratings (:data:`PROXY_AGREEMENT`, README "validate-factors")
is attached to its values' provenance, so tables and the report show it next to the proxy's rows.

Sentences are split by a regular expression (UniEval uses nltk's ``sent_tokenize``; nltk is not a
dependency here): a sentence ends at ``.``, ``!`` or ``?`` (also after a space, as in tokenised
CNN/DM text) followed by white space, or at a line break.
"""

from __future__ import annotations

import importlib.util
import json
import math
import re
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, Optional

from ..backends.base import Request, RequestFailed
from ..backends.logprobs import yes_probability_from_response
from ..data.model import text_hash
from ..taxonomy import Factor, Level3
from .registry import declare_factor, make_factor, prompt_of

if TYPE_CHECKING:
    from .engine import ExtractionRun

__all__ = [
    "UNIEVAL_MODEL", "split_sentences", "unieval_input", "boolean_qa_score", "UniEvalScorer",
    "proxy_request", "UniEvalUnavailable", "UniEvalExtractor", "resolve_unieval", "unieval_importable",
    "PROXY_AGREEMENT", "UNIEVAL_MODES",
]

UNIEVAL_MODES = ("real", "proxy", "auto")
# The proxy's agreement with SummEval's expert ratings: summary-level Kendall tau and its 95% bootstrap
# interval, measured with `profile-align validate-factors` on the embedded local model (README,
# "Measured: the UniEval proxy vs SummEval experts").
PROXY_AGREEMENT: dict[str, str] = {
    "coherence": "tau +0.03 [-0.18, +0.34] with SummEval experts",
    "fluency": "tau +0.06 [-0.30, +0.31] with SummEval experts",
}

UNIEVAL_MODEL = "MingZhong/unieval-sum"
_SENT_END = re.compile(r"[.!?][\"'\u201d\u2019)\]]*(?=\s)|\n")


class UniEvalUnavailable(ImportError):
    """transformers/torch are missing or the model cannot be loaded."""


def split_sentences(text: str) -> list[str]:
    parts, start = [], 0
    for m in _SENT_END.finditer(text):
        parts.append(text[start:m.end()])
        start = m.end()
    parts.append(text[start:])
    return [p.strip() for p in parts if p.strip() and re.search(r"\w", p)]


def unieval_input(dimension: str, output: str, source: str | None = None) -> str:
    """UniEval's summarisation input for ``dimension`` (``fluency``: pass one sentence)."""
    if dimension == "fluency":
        return "question: Is this a fluent paragraph? </s> paragraph: " + output
    if dimension == "coherence":
        if source is None:
            raise ValueError("UniEval coherence needs the source document")
        return "question: Is this a coherent summary to the document? </s> summary: " + output + " </s> document: " + source
    raise ValueError(f"UniEval input for dimension {dimension!r} is not defined here (fluency, coherence)")


def boolean_qa_score(p_yes: float, p_no: float) -> float | None:
    """``P(Yes) / (P(Yes) + P(No))``; None when both are 0 (no evidence)."""
    if not (p_yes >= 0 and p_no >= 0) or math.isnan(p_yes) or math.isnan(p_no):
        raise ValueError(f"probabilities must be >= 0, got {p_yes}, {p_no}")
    total = p_yes + p_no
    return None if total <= 0 else p_yes / total


def proxy_request(dimension: str, output: str, source: str | None = None, *, top_logprobs: int = 20) -> Request:
    """The Boolean-QA question put to a chat LLM: one token, scored from its top logprobs."""
    if dimension == "fluency":
        prompt = prompt_of("unieval_fluency")
        fields = {"text": output}
    elif dimension == "coherence":
        if source is None:
            raise ValueError("coherence needs the source document")
        prompt = prompt_of("unieval_coherence")
        fields = {"text": output, "source": source}
    else:
        raise ValueError(f"no UniEval proxy for {dimension!r}")
    return prompt.request(max_tokens=1, logprobs=True, top_logprobs=top_logprobs,
                          prompt_type=f"unieval_{dimension}", **fields)


class UniEvalScorer:
    """The real UniEval model (T5) via transformers; imported and loaded lazily.

    ``model`` is a hub name (default ``MingZhong/unieval-sum``, needs network the first time) or a
    local directory. ``device`` defaults to CUDA when available, else CPU.
    """

    extractor = "unieval"

    def __init__(self, model: str = UNIEVAL_MODEL, *, device: str | None = None, max_length: int = 1024,
                 batch_size: int = 8) -> None:
        self.model_name = model
        self.device = device
        self.max_length = max_length
        self.batch_size = batch_size
        self._loaded: tuple[Any, Any, Any, int, int] | None = None

    @property
    def version(self) -> str:
        return self.model_name

    def _load(self) -> tuple[Any, Any, Any, int, int]:
        if self._loaded is None:
            try:
                import torch
                from transformers import AutoModelForSeq2SeqLM, AutoTokenizer
            except ImportError as exc:
                raise UniEvalUnavailable(
                    f'real UniEval needs transformers and torch: pip install "profile-align[unieval]" ({exc}). '
                    "Without it, fluency and coherence use the UniEval protocol on the configured LLM (a proxy)."
                ) from None
            try:
                tok = AutoTokenizer.from_pretrained(self.model_name)
                model = AutoModelForSeq2SeqLM.from_pretrained(self.model_name)
            except OSError as exc:
                raise UniEvalUnavailable(f"could not load UniEval model {self.model_name!r}: {exc}") from None
            device = self.device or ("cuda" if torch.cuda.is_available() else "cpu")
            model.eval().to(device)
            self.device = device
            yes_id, no_id = tok("Yes")["input_ids"][0], tok("No")["input_ids"][0]
            self._loaded = (torch, tok, model, yes_id, no_id)
        return self._loaded

    def score_inputs(self, inputs: Sequence[str]) -> list[float | None]:
        """Score UniEval inputs (from :func:`unieval_input`) as UniEval's scorer does."""
        torch, tok, model, yes_id, no_id = self._load()
        out: list[float | None] = []
        for i in range(0, len(inputs), self.batch_size):
            batch = list(inputs[i:i + self.batch_size])
            with torch.no_grad():
                enc = tok(batch, max_length=self.max_length, truncation=True, padding=True, return_tensors="pt")
                # T5's forward needs decoder input: a one-token target; its content does not affect step 1.
                tgt = tok(["No"] * len(batch), return_tensors="pt", padding=True)["input_ids"][:, :1]
                logits = model(input_ids=enc["input_ids"].to(self.device),
                               attention_mask=enc["attention_mask"].to(self.device),
                               labels=tgt.to(self.device)).logits[:, 0, :]
                probs = torch.softmax(logits.float(), dim=-1)
            for row in probs:
                out.append(boolean_qa_score(float(row[yes_id]), float(row[no_id])))
        return out

    def fluency(self, text: str) -> tuple[float | None, list[float | None]]:
        sents = split_sentences(text)
        if not sents:
            return None, []
        scores = self.score_inputs([unieval_input("fluency", s) for s in sents])
        valid = [s for s in scores if s is not None]
        return (sum(valid) / len(valid) if valid else None), scores

    def coherence(self, text: str, source: str) -> float | None:
        return self.score_inputs([unieval_input("coherence", text, source)])[0]


def unieval_importable() -> bool:
    """Whether the ``unieval`` extra (transformers and torch) can be imported."""
    return all(importlib.util.find_spec(m) is not None for m in ("transformers", "torch"))


_PROXY_WARNING = ("UniEval proxy: fluency and coherence are scored by UniEval's questions put to the factor LLM, "
                  "not by the UniEval model ({why}); its measured agreement with SummEval experts is "
                  "coherence {coherence}, fluency {fluency}")


def resolve_unieval(spec: UniEvalScorer | str | None) -> tuple[UniEvalScorer | None, dict[str, Any]]:
    """The scorer for fluency/coherence and what the manifest says about it.

    ``spec``: a scorer; ``"real"`` (the UniEval model; an error when the extra is missing); ``"proxy"``
    or None (the LLM proxy); ``"auto"`` (real when the extra is importable, else the proxy with a
    warning); any other string is a UniEval model name or path. Returns ``(scorer or None for the
    proxy, {"mode", "model", "warning", "agreement"})``.
    """
    if isinstance(spec, UniEvalScorer):
        return spec, {"mode": "real", "model": spec.version}
    if spec in (None, "proxy"):
        why = "factors.unieval: proxy" if spec == "proxy" else "no UniEval scorer given"
        return None, _proxy_info(why, warn=False)
    if spec == "auto":
        if not unieval_importable():
            return None, _proxy_info('the unieval extra is not installed: pip install "profile-align[unieval]"',
                                     warn=True)
        scorer = UniEvalScorer(UNIEVAL_MODEL)
        # "auto": a model that cannot be loaded (offline, no local copy) falls back to the proxy, with the warning
        return scorer, {"mode": "real", "model": scorer.version, "fallback": True}
    elif spec == "real":
        if not unieval_importable():
            raise UniEvalUnavailable('factors.unieval: real needs transformers and torch: '
                                     'pip install "profile-align[unieval]" (or set factors.unieval: proxy)')
        spec = UNIEVAL_MODEL
    scorer = UniEvalScorer(str(spec))
    return scorer, {"mode": "real", "model": scorer.version}


def _proxy_info(why: str, *, warn: bool) -> dict[str, Any]:
    info: dict[str, Any] = {"mode": "proxy", "model": None, "agreement": dict(PROXY_AGREEMENT), "reason": why}
    info["warning"] = _PROXY_WARNING.format(why=why, **{k: v.split(" with")[0] for k, v in PROXY_AGREEMENT.items()}) \
        if warn else None
    return info


_Result = tuple[Optional[float], Optional[str], int, int]  # (value, per-sentence detail as JSON, n items, n failed)


class UniEvalExtractor:
    """Fluency or coherence by UniEval's Boolean QA: the real model when the run has a scorer, else the
    question put to the factor LLM (one token, scored from its top logprobs).

    ``per_sentence``: score each sentence of the output and average (fluency); otherwise the whole
    output against the source (coherence).
    """

    needs: tuple[str, ...] = ()
    model_free = False

    def __init__(self, factor: Factor, dimension: str, prompt: str, *, per_sentence: bool) -> None:
        self.factor, self.name, self.dimension, self.prompt, self.per_sentence = (
            factor, factor.name, dimension, prompt, per_sentence)

    def available(self, run: ExtractionRun) -> bool:
        return run.unieval is not None or run.client is not None

    def _key(self, run: ExtractionRun, o: Any) -> tuple:
        h = run.out_hash[o.id]
        return (h,) if self.per_sentence else (h, text_hash(run.source_of(o)))

    def extract(self, run: ExtractionRun) -> None:
        if run.unieval is not None:
            try:
                self._real(run, run.unieval)
            except UniEvalUnavailable as exc:
                if not run.unieval_info.get("fallback"):
                    raise
                run.unieval = None
                run.unieval_info.clear()
                run.unieval_info.update(_proxy_info(str(exc), warn=True))
                run.warnings[run.unieval_info["warning"]] += 1
        if run.unieval is None:
            self._proxy(run)
        note = None if run.unieval is not None else PROXY_AGREEMENT.get(self.dimension)
        if note:
            run.provenance[self.name]["note"] = f"UniEval proxy: {note}"

    def _real(self, run: ExtractionRun, scorer: UniEvalScorer) -> None:
        key_of_output: dict[str, tuple] = {}
        results: dict[tuple, _Result] = {}
        for o in run.ds.outputs:
            key = self._key(run, o)
            key_of_output[o.id] = key
            if key in results:
                continue
            if self.per_sentence:
                v, per = scorer.fluency(o.text)
                results[key] = (v, json.dumps(per), len(per), sum(p is None for p in per))
            else:
                v = scorer.coherence(o.text, run.source_of(o))
                results[key] = (v, None, 1, int(v is None))
        run.set_value(self.name, key_of_output, results, "unieval", scorer.version, [self.prompt])

    def _proxy(self, run: ExtractionRun) -> None:
        dim, pt = self.dimension, self.prompt
        key_of_output: dict[str, tuple] = {}
        jobs: dict[tuple, tuple[str, str, str]] = {}
        for o in run.ds.outputs:
            key = self._key(run, o)
            key_of_output[o.id] = key
            jobs.setdefault(key, (o.id, o.text, run.source_of(o)))
        reqs, meta = [], []
        results: dict[tuple, _Result] = {}
        for key, (oid, text, source) in jobs.items():
            if self.per_sentence:
                sents = split_sentences(text)
                if not sents:
                    run.warnings[f"{dim}: output has no sentence (missing)"] += 1
                    results[key] = (None, json.dumps([]), 0, 0)
                    continue
                for i, s in enumerate(sents):
                    reqs.append(proxy_request(dim, run.fit(s, run.text_limit, f"{dim}: sentence")))
                    meta.append((key, i, oid, len(sents)))
            else:
                if not text.strip():
                    run.warnings[f"{dim}: empty output text (missing)"] += 1
                    results[key] = (None, None, 0, 0)
                    continue
                reqs.append(proxy_request(dim, run.fit(text, run.text_limit, f"{dim}: output text"),
                                          run.fit(source, run.source_limit, f"{dim}: source")))
                meta.append((key, 0, oid, 1))
        scores: dict[tuple, list[float | None]] = {}
        for req, (key, i, oid, n), resp in zip(reqs, meta, run.run(reqs, f"{dim} (UniEval proxy)")):
            p = None if isinstance(resp, RequestFailed) else yes_probability_from_response(resp)
            run.account(req, resp, p is not None)  # unusable: neither yes nor no among the first token's alternatives
            scores.setdefault(key, [None] * n)[i] = p
            # the answer is the value used, P(yes)/(P(yes)+P(no)) to 2 decimals, not the argmax token:
            # the diagnostics then see whether the scores vary, not whether "yes" is the likelier word
            run.answer_row(req, resp, oid, str(i) if self.per_sentence else "",
                           None if p is None else f"{p:.2f}", p is not None)
        for key, ps in scores.items():
            valid = [p for p in ps if p is not None]
            results[key] = ((sum(valid) / len(valid)) if valid else None,
                            json.dumps([None if p is None else round(p, 6) for p in ps]), len(ps),
                            sum(p is None for p in ps))
        run.set_value(self.name, key_of_output, results, f"unieval-proxy:{run.model}", prompt_of(pt).tag, [pt])


declare_factor(UniEvalExtractor(make_factor(
    "fluency", extractor="unieval", label="fluency",
    description="is each sentence well formed (UniEval Boolean QA, averaged over sentences)",
    level2="style", level3=Level3.OUTPUT_ONLY, value_type="probability", polarity=+1, builtin=True),
    "fluency", "unieval_fluency", per_sentence=True))
declare_factor(UniEvalExtractor(make_factor(
    "coherence", extractor="unieval", label="coherence",
    description="do the sentences form a coherent body (UniEval Boolean QA)",
    level2="discourse", level3=Level3.INTRA_OUTPUT, value_type="probability", polarity=+1, builtin=True),
    "coherence", "unieval_coherence", per_sentence=False))
