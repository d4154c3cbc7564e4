"""OpenAI WebGPT comparisons (Nakano et al. 2021) in the original schema: ``question.{id,full_text,
dataset}``, ``quotes_0/1.{title,extract}`` (parallel lists), ``answer_0/1``, ``tokens_0/1``,
``score_0/1``.

Scores must be finite numbers in -1..1 (the data set's scale); preference = sign of ``score_0 - score_1`` (equal scores are human ties: dropped, counted); strength
= the absolute difference. Each answer carries its OWN references (``Output.sources``): ``quotes_0`` for
``answer_0``, ``quotes_1`` for ``answer_1``, each quote as ``"title: extract"``; source-based factors
(novel words, hallucination, source coverage) read each answer against its own quotes, and the
evaluation prompt shows each answer followed by its own references (paper Appendix D.2.1). The same
answer text cited with different quotes is a different output. The example's ``sources`` are the
union of all quotes of the question, deduplicated (what a generator is shown in the generation
setting, and the source of outputs that have none of their own). Repeated comparisons of the same
two answers (same texts, same quotes) are aggregated by majority, as for TL;DR comparisons.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ..model import text_hash
from .builder import VoteTable
from .io import Record, get_field
from .registry import LoadContext, register_format

__all__ = ["WebGpt"]


def _detect(row: Mapping[str, Any]) -> bool:
    return {"question", "answer_0", "answer_1", "score_0", "score_1"} <= row.keys()


def _quotes(rec: Record, side: int) -> list[str]:
    name = f"quotes_{side}"
    get_field(rec, name, dict, nonempty=False)
    titles = get_field(rec, f"{name}.title", list, required=False, nonempty=False, default=[])
    extracts = get_field(rec, f"{name}.extract", list, required=False, nonempty=False, default=[])
    if len(titles) != len(extracts):
        raise rec.fail(name, f"{len(titles)} titles but {len(extracts)} extracts")
    out = []
    for i, (t, e) in enumerate(zip(titles, extracts)):
        for what, v in (("title", t), ("extract", e)):
            if not isinstance(v, str):
                raise rec.fail(f"{name}.{what}.{i}", f"expected string, got {type(v).__name__}")
        t, e = t.strip(), e.strip()
        if e:
            out.append(f"{t}: {e}" if t else e)
    return out


@register_format("webgpt", detect=_detect, task="document_qa",
                 description="OpenAI WebGPT comparisons (answers with quotes, score_0/score_1)")
class WebGpt:
    def parse(self, rec: Record, ctx: LoadContext) -> Any:
        question = get_field(rec, "question.full_text", str)
        qid = get_field(rec, "question.id", str, required=False) or f"q-{text_hash(question)}"
        ctx.same_input(rec, "question.full_text", qid, question, what="question")
        answers = [get_field(rec, f"answer_{i}", str) for i in (0, 1)]
        scores = [float(get_field(rec, f"score_{i}", float, lo=-1, hi=1)) for i in (0, 1)]
        quotes = [_quotes(rec, i) for i in (0, 1)]
        dataset = get_field(rec, "question.dataset", str, required=False, nonempty=False)
        return qid, question, dataset, answers, scores, quotes

    def build(self, items: list[Any], ctx: LoadContext) -> None:
        votes = VoteTable()
        b = ctx.builder
        for qid, question, dataset, answers, scores, quotes in items:
            ex = b.example(qid, question, sources=quotes[0] + quotes[1],
                           metadata={"dataset": dataset} if dataset else {})
            if ex is None:
                continue
            if answers[0] == answers[1]:  # two identical texts are no comparison (dropped, counted by the builder)
                quotes = [None, None]
            a, o = (b.output(ex, t, sources=q) for t, q in zip(answers, quotes))
            margin = scores[0] - scores[1]
            votes.add(ex, a, o, (margin > 0) - (margin < 0), margin)
        votes.emit(b)
