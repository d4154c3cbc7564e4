"""The project's converted human-judgement sets (see ``data/shipped/PROVENANCE.md``).

- ``summeval``: one row per (document, system) with mean expert ratings; per document, all C(16,2)
  pairs of system summaries, preference by one aspect or the mean of the four, compared exactly
  (ratings are means of three experts' 1-5 scores, read as exact thirds; equal means are ties:
  dropped, counted), strength = rating difference, orientation a seeded coin per pair. The
  example input is the source article. Systems that wrote the very same summary for a document share
  one output (its ratings are the mean of theirs; the merge is counted under ``dropped``).
- ``hh_rlhf``: ``prompt``, ``response_a``, ``response_b``, ``preferred`` (a/b).
- ``llmbar`` and ``mtbench``: ``instruction``, ``output_a``, ``output_b``, ``preferred`` (a/b);
  the MT-Bench human set is told apart by its ``subset`` (``Processed/MT-Bench``).

In the pairwise sets every row is its own example (id = the row id); sides are kept as given.
"""

from __future__ import annotations

from collections.abc import Mapping
from fractions import Fraction
from typing import Any

from ..model import Verdict
from .builder import exact_rating
from .io import Record, get_field
from .labels import label_verdict
from .registry import ASPECTS, LoadContext, register_format

__all__ = ["SummEval", "HhRlhf", "LlmBar", "MtBench", "parse_verdict"]

RATING_ASPECTS = tuple(a for a in ASPECTS if a != "mean")


def parse_verdict(rec: Record, fieldname: str) -> Verdict:
    """The side label of a converted pairwise set: a, b or tie (see :mod:`.labels`; no numbers)."""
    value = get_field(rec, fieldname, (str, int, float))
    verdict = label_verdict(value)
    if verdict is None:
        raise rec.fail(fieldname, f"expected a, b or tie, got {value!r}")
    return verdict


def _summeval(row: Mapping[str, Any]) -> bool:
    return {"doc_id", "system", "summary", "ratings"} <= row.keys()


@register_format("summeval", detect=_summeval, task="summarization",
                 description="SummEval expert ratings (CNN/DM), per-document pairs by an aspect or the mean")
class SummEval:
    def parse(self, rec: Record, ctx: LoadContext) -> Any:
        rid = get_field(rec, "id", str, required=False)
        doc = get_field(rec, "doc_id", str)
        system = get_field(rec, "system", str)
        ctx.claim(rec, "id", rid or f"{doc}::{system}")
        source = get_field(rec, "source", str)
        ctx.same_input(rec, "source", doc, source, what="source")
        summary = get_field(rec, "summary", str)
        reference = get_field(rec, "reference", str, required=False)
        aspect = ctx.options.aspect
        need = RATING_ASPECTS if aspect == "mean" else (aspect,)
        ratings = {a: exact_rating(get_field(rec, f"ratings.{a}", float, lo=1, hi=5)) for a in need}
        score = sum(ratings.values()) / len(ratings)
        return doc, source, reference, system, summary, ratings, score

    def build(self, items: list[Any], ctx: LoadContext) -> None:
        b = ctx.builder
        per_doc: dict[str, dict[str, list[tuple[str, dict[str, Fraction], Fraction]]]] = {}
        for doc, source, reference, system, summary, ratings, score in items:
            ex = b.example(doc, source, metadata={"reference": reference} if reference else {})
            if ex is None:
                continue
            oid = b.output(ex, summary, key=system, producer=system)
            per_doc.setdefault(ex, {}).setdefault(oid, []).append((system, ratings, score))
        for ex, per_output in per_doc.items():
            scores = {}
            for oid, rated in per_output.items():
                if len(rated) > 1:
                    ctx.drop("summary identical to another system's for the same document (merged, ratings averaged)",
                             len(rated) - 1)
                mean = {a: float(sum(r[a] for _, r, _ in rated) / len(rated)) for a in rated[0][1]}
                b.set_output_metadata(oid, ratings=mean, systems=[s for s, _, _ in rated])
                scores[oid] = sum(x for _, _, x in rated) / len(rated)
            b.rated_pairs(ex, scores, ctx.options.seed)


class _Pairwise:
    """A row = one example with two outputs and a side label."""

    input_field = "prompt"
    output_fields = ("response_a", "response_b")
    meta_fields: tuple[str, ...] = ("subset",)

    def parse(self, rec: Record, ctx: LoadContext) -> Any:
        rid = get_field(rec, "id", str)
        ctx.claim(rec, "id", rid)
        text = get_field(rec, self.input_field, str)
        outs = [get_field(rec, f, str) for f in self.output_fields]
        verdict = parse_verdict(rec, "preferred")
        meta = {k: get_field(rec, k, (str, int), nonempty=False) for k in self.meta_fields
                if rec.data.get(k) is not None}
        return rid, text, outs, verdict, meta

    def build(self, items: list[Any], ctx: LoadContext) -> None:
        b = ctx.builder
        for rid, text, (ta, tb), verdict, meta in items:
            ex = b.example(rid, text, metadata=meta)
            if ex is None:
                continue
            b.pair(ex, b.output(ex, ta, key="a"), b.output(ex, tb, key="b"), verdict)


@register_format("hh_rlhf", detect=lambda r: {"prompt", "response_a", "response_b", "preferred"} <= r.keys(),
                 task="helpful_response", description="Anthropic hh-rlhf pairs (converted: prompt, response_a/b)")
class HhRlhf(_Pairwise):
    meta_fields = ("subset", "source_line")


def _instruction_pair(row: Mapping[str, Any]) -> bool:
    return {"instruction", "output_a", "output_b", "preferred"} <= row.keys()


def _is_mtbench(row: Mapping[str, Any]) -> bool:
    return _instruction_pair(row) and "MT-Bench" in str(row.get("subset", ""))


class _InstructionPairwise(_Pairwise):
    input_field = "instruction"
    output_fields = ("output_a", "output_b")


@register_format("mtbench", detect=_is_mtbench,
                 task="helpful_response", description="MT-Bench human pairs (LLMBar packaging, majority vote)")
class MtBench(_InstructionPairwise):
    pass


@register_format("llmbar", detect=lambda r: _instruction_pair(r) and not _is_mtbench(r), task="helpful_response",
                 description="LLMBar instruction-following pairs (gold label)")
class LlmBar(_InstructionPairwise):
    pass
