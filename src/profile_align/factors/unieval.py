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

Sentences are split by a regular expression (UniEval uses nltk's ``sent_tokenize``; nltk is not a
dependency here): a sentence ends at ``.``, ``!`` or ``?`` (also after a space, as in tokenised
CNN/DM text) followed by white space, or at a line break.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from typing import Any

from ..backends.base import Request
from .prompts import load_prompt

__all__ = [
    "UNIEVAL_MODEL", "split_sentences", "unieval_input", "boolean_qa_score", "UniEvalScorer",
    "proxy_request", "UniEvalUnavailable",
]

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
        prompt = load_prompt("unieval_fluency")
        fields = {"text": output}
    elif dimension == "coherence":
        if source is None:
            raise ValueError("coherence needs the source document")
        prompt = load_prompt("unieval_coherence")
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
