"""OpenAI summarize-from-feedback (Stiennon et al. 2020), Reddit TL;DR, in its original schemas.

- ``tldr_axis``: one row per (summary, worker) rating: ``info.{id,post,title,subreddit}``,
  ``summary.{text,policy,note,axes.{overall,accuracy,coverage,coherence}}``, ``worker``, ``batch``,
  ``split``. Ratings (1-7; NaN or out of range: an invalid row) of the same summary (same post, same
  text) are averaged across workers, exactly; all pairs of summaries of the same post are formed,
  preference by mean ``overall`` (equal means are human ties: dropped, counted), strength = the difference of means, orientation a seeded coin per pair.
  Rows whose ``overall`` is null are dropped and counted. CNN/DM rows (``info.article`` instead of
  ``info.post``) use the article as input.
- ``tldr_comparisons``: one row per worker judgement: ``info``, ``summaries`` (two ``{text, policy,
  note}``), ``choice`` (0/1: index of the preferred summary). Judgements of the same two summaries
  are aggregated by majority (a split vote is a tie: dropped, counted); the pair keeps the order in
  which it was first seen.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

from .builder import VoteTable, exact_rating
from .io import Record, get_field
from .registry import LoadContext, register_format

__all__ = ["TldrAxis", "TldrComparisons", "AXES"]

AXES = ("overall", "accuracy", "coverage", "coherence")


@dataclass(frozen=True)
class _Post:
    id: str
    text: str
    title: str | None
    subreddit: str | None


def _post(rec: Record, ctx: LoadContext) -> _Post:
    pid = get_field(rec, "info.id", str)
    info = get_field(rec, "info", dict)
    field = "info.post" if info.get("post") is not None or info.get("article") is None else "info.article"
    text = get_field(rec, field, str)
    ctx.same_input(rec, field, pid, text, what="post")
    title = get_field(rec, "info.title", str, required=False, nonempty=False)
    sub = get_field(rec, "info.subreddit", str, required=False, nonempty=False)
    return _Post(pid, text, title or None, sub or None)


def _add_post(ctx: LoadContext, p: _Post) -> str | None:
    meta = {"subreddit": p.subreddit} if p.subreddit else {}
    return ctx.builder.example(p.id, p.text, title=p.title, metadata=meta)


def _is_axis(row: Mapping[str, Any]) -> bool:
    return isinstance(row.get("info"), dict) and isinstance(row.get("summary"), dict) and "axes" in row["summary"]


def _is_comparison(row: Mapping[str, Any]) -> bool:
    return isinstance(row.get("info"), dict) and isinstance(row.get("summaries"), list) and "choice" in row


@register_format("tldr_axis", detect=_is_axis, task="summarization",
                 description="OpenAI summarize-from-feedback axis evaluations (Reddit TL;DR), pairs by mean overall")
class TldrAxis:
    def parse(self, rec: Record, ctx: LoadContext) -> Any:
        post = _post(rec, ctx)
        text = get_field(rec, "summary.text", str)
        policy = get_field(rec, "summary.policy", str, required=False, nonempty=False)
        get_field(rec, "summary.axes", dict, nonempty=False)
        axes = {a: get_field(rec, f"summary.axes.{a}", (int, float), required=False, lo=1, hi=7) for a in AXES}
        if axes["overall"] is None:
            ctx.drop("summary.axes.overall is null")
            return None
        return post, text, policy, axes

    def build(self, items: list[Any], ctx: LoadContext) -> None:
        ratings: dict[str, dict[str, list[dict[str, float | None]]]] = defaultdict(lambda: defaultdict(list))
        for post, text, policy, axes in items:
            ex = _add_post(ctx, post)
            if ex is None:
                continue
            oid = ctx.builder.output(ex, text, producer=policy or None)
            ratings[ex][oid].append(axes)
        for ex, per_output in ratings.items():
            overall: dict[str, Fraction] = {}
            for oid, rows in per_output.items():
                means = {a: _mean([r[a] for r in rows]) for a in AXES}
                ctx.builder.set_output_metadata(oid, ratings={a: None if m is None else float(m) for a, m in means.items()},
                                                n_ratings=len(rows))
                overall[oid] = means["overall"]  # type: ignore[assignment]
            ctx.builder.rated_pairs(ex, overall, ctx.options.seed)


def _mean(xs: list[float | None]) -> Fraction | None:
    """The exact mean of the ratings given (equal means must be ties, see :func:`exact_rating`)."""
    vals = [exact_rating(x) for x in xs if x is not None]
    return sum(vals, Fraction(0)) / len(vals) if vals else None


@register_format("tldr_comparisons", detect=_is_comparison, task="summarization",
                 description="OpenAI summarize-from-feedback comparisons (Reddit TL;DR), majority of workers")
class TldrComparisons:
    def parse(self, rec: Record, ctx: LoadContext) -> Any:
        post = _post(rec, ctx)
        summaries = get_field(rec, "summaries", list)
        if len(summaries) != 2:
            raise rec.fail("summaries", f"expected 2 summaries, got {len(summaries)}")
        texts = [get_field(rec, f"summaries.{i}.text", str) for i in (0, 1)]
        policies = [get_field(rec, f"summaries.{i}.policy", str, required=False, nonempty=False) for i in (0, 1)]
        choice = get_field(rec, "choice", int)
        if choice not in (0, 1):
            raise rec.fail("choice", f"expected 0 or 1 (index of the preferred summary), got {choice!r}")
        return post, texts, policies, choice

    def build(self, items: list[Any], ctx: LoadContext) -> None:
        votes = VoteTable()
        for post, texts, policies, choice in items:
            ex = _add_post(ctx, post)
            if ex is None:
                continue
            a, b = (ctx.builder.output(ex, t, producer=p or None) for t, p in zip(texts, policies))
            votes.add(ex, a, b, 1 if choice == 0 else -1)
        votes.emit(ctx.builder)
