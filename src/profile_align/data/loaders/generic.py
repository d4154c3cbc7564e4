"""Any JSONL/CSV/TSV file of pairs, with a column mapping (role -> column name).

Roles: ``input``, ``output_a``, ``output_b``, ``preferred`` (required); ``id``, ``example_id``,
``title``, ``sources``, ``strength`` (optional; without ``id`` a row's id is ``line<N>``, its line
number in the file). ``preferred`` takes a/b/tie or 1/2/0 (see
:meth:`Verdict.parse`). Without ``example_id`` every row is its own example (id = the row id); with
it, rows of the same example share the example (its first input) and identical texts share one
output. ``sources`` is a list, a JSON list in a CSV cell, or one string. Row ids must be unique.
On the command line a mapping is written ``id=qid,input=prompt,output_a=r1,output_b=r2,preferred=label``.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from .io import Record, get_field
from .registry import LoadContext, register_format
from .shared import parse_verdict

__all__ = ["Generic", "parse_mapping", "REQUIRED_ROLES", "OPTIONAL_ROLES"]

REQUIRED_ROLES = ("input", "output_a", "output_b", "preferred")
OPTIONAL_ROLES = ("id", "example_id", "title", "sources", "strength")


def parse_mapping(spec: str | Mapping[str, str]) -> dict[str, str]:
    """``"id=qid,input=prompt,..."`` (or a dict) -> a checked role -> column mapping."""
    if isinstance(spec, str):
        pairs = [p for p in (x.strip() for x in spec.split(",")) if p]
        mapping: dict[str, str] = {}
        for p in pairs:
            role, sep, col = p.partition("=")
            if not sep or not role.strip() or not col.strip():
                raise ValueError(f"bad mapping item {p!r}: expected role=column")
            mapping[role.strip()] = col.strip()
    else:
        mapping = dict(spec)
    unknown = set(mapping) - set(REQUIRED_ROLES) - set(OPTIONAL_ROLES)
    if unknown:
        raise ValueError(f"unknown mapping roles {sorted(unknown)}; roles: {', '.join(REQUIRED_ROLES + OPTIONAL_ROLES)}")
    missing = [r for r in REQUIRED_ROLES if r not in mapping]
    if missing:
        raise ValueError(f"the column mapping lacks {', '.join(missing)} (required: {', '.join(REQUIRED_ROLES)})")
    return mapping


def _sources(rec: Record, col: str) -> list[str]:
    v = get_field(rec, col, (str, list), required=False, nonempty=False)
    if v is None or v == "":
        return []
    if isinstance(v, str) and v.lstrip().startswith("["):
        try:
            v = json.loads(v)
        except json.JSONDecodeError as e:
            raise rec.fail(col, f"invalid JSON list: {e.msg}") from None
    items = [v] if isinstance(v, str) else v
    if not all(isinstance(x, str) for x in items):
        raise rec.fail(col, "expected a list of strings")
    return [x for x in items if x.strip()]


def _strength(rec: Record, col: str) -> float | None:
    v = get_field(rec, col, (str, int, float), required=False, nonempty=False)
    if v is None or v == "":
        return None
    try:
        return float(v)
    except ValueError:
        raise rec.fail(col, f"expected a number, got {v!r}") from None


@register_format("generic", detect=None, task="generic",
                 description="any JSONL/CSV/TSV of pairs with a column mapping (input, output_a, output_b, preferred; optional id, example_id, title, sources, strength)")
class Generic:
    def parse(self, rec: Record, ctx: LoadContext) -> Any:
        m = ctx.options.mapping  # checked by parse_mapping before the first row
        if not m:
            raise ValueError("the generic format needs a column mapping (mapping=...)")
        if "id" in m:
            rid = str(get_field(rec, m["id"], (str, int)))
            ctx.claim(rec, m["id"], rid)
        else:
            rid = f"line{rec.line}"
        text = get_field(rec, m["input"], str)
        outs = [get_field(rec, m[r], str) for r in ("output_a", "output_b")]
        verdict = parse_verdict(rec, m["preferred"])
        ex_id = str(get_field(rec, m["example_id"], (str, int))) if "example_id" in m else rid
        title = get_field(rec, m["title"], str, required=False, nonempty=False) if "title" in m else None
        sources = _sources(rec, m["sources"]) if "sources" in m else []
        strength = _strength(rec, m["strength"]) if "strength" in m else None
        return rid, ex_id, text, title or None, sources, outs, verdict, strength, "example_id" in m

    def build(self, items: list[Any], ctx: LoadContext) -> None:
        b = ctx.builder
        for rid, ex_id, text, title, sources, (ta, tb), verdict, strength, grouped in items:
            ex = b.example(ex_id, text, title=title, sources=sources)
            if ex is None:
                continue
            if grouped:
                a, o = b.output(ex, ta), b.output(ex, tb)
                pid = f"{ex}::{rid}"
            else:
                a, o = b.output(ex, ta, key="a"), b.output(ex, tb, key="b")
                pid = None
            b.pair(ex, a, o, verdict, strength=strength, pair_id=pid)
