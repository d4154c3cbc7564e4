"""Stanford Human Preferences, SHP and SHP-2 (Ethayarajh et al. 2022), in the original schema:
``post_id``, ``domain``, ``history``, ``c_root_id_A/B``, ``human_ref_A/B``, ``labels`` (1: A is
preferred), ``score_A/B``, ``score_ratio``, ...

``domain`` filters rows: ``"askacademia"`` keeps ``askacademia`` and ``askacademia_train`` etc.
(other rows are dropped and counted). Sides are kept as in the source; strength = the score
difference. The same comment in several rows of a post is one output (id ``<post>::<c_root_id>``).
A repeated (post, comment A, comment B) row is a duplicate id. Scores must be finite numbers (NaN or
Infinity: an invalid row naming the field).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ..model import Verdict
from .io import Record, get_field
from .registry import LoadContext, register_format

__all__ = ["Shp", "domain_matches"]


def domain_matches(domain: str, wanted: str) -> bool:
    d, w = domain.lower(), wanted.lower()
    return d == w or d.startswith(w + "_")


def _detect(row: Mapping[str, Any]) -> bool:
    return {"human_ref_A", "human_ref_B", "labels"} <= row.keys()


@register_format("shp", detect=_detect, task="helpful_response",
                 description="Stanford SHP / SHP-2 comment pairs (labels=1: A preferred), filter by domain")
class Shp:
    def parse(self, rec: Record, ctx: LoadContext) -> Any:
        domain = get_field(rec, "domain", str)
        wanted = ctx.options.domain
        if wanted and not domain_matches(domain, wanted):
            ctx.drop(f"domain is not {wanted}")
            return None
        post_id = get_field(rec, "post_id", str)
        history = get_field(rec, "history", str)
        ctx.same_input(rec, "history", post_id, history, what="history")
        refs = [get_field(rec, f"human_ref_{s}", str) for s in "AB"]
        ids = [get_field(rec, f"c_root_id_{s}", str, required=False) for s in "AB"]
        label = get_field(rec, "labels", int)
        if label not in (0, 1):
            raise rec.fail("labels", f"expected 1 (A preferred) or 0 (B preferred), got {label!r}")
        scores = [get_field(rec, f"score_{s}", (int, float), required=False) for s in "AB"]
        ctx.claim(rec, "post_id", (post_id, ids[0] or refs[0], ids[1] or refs[1]),
                  what="comparison (post_id, comment A, comment B)")
        ratio = get_field(rec, "score_ratio", (int, float), required=False)
        return domain, post_id, history, refs, ids, label, scores, ratio

    def build(self, items: list[Any], ctx: LoadContext) -> None:
        b = ctx.builder
        for domain, post_id, history, refs, ids, label, scores, ratio in items:
            ex = b.example(post_id, history, metadata={"domain": domain})
            if ex is None:
                continue
            a, o = (b.output(ex, t, key=k) for t, k in zip(refs, ids))
            strength = float(abs(scores[0] - scores[1])) if None not in scores else None
            meta = {"score_a": scores[0], "score_b": scores[1]}
            if ratio is not None:
                meta["score_ratio"] = ratio
            b.pair(ex, a, o, Verdict.A if label == 1 else Verdict.B, strength=strength, metadata=meta)
