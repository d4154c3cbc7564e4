"""Any JSONL/CSV/TSV file of pairs, with a column mapping (role -> column name).

Roles: ``input``, ``output_a``, ``output_b``, ``preferred`` (required); ``id``, ``example_id``,
``title``, ``sources``, ``sources_a``, ``sources_b``, ``strength`` (optional; without ``id`` a row's id is ``line<N>``, its line
number in the file). ``preferred`` labels are declared, never guessed: without a label map only
a/b/tie and their unambiguous long forms are read (see :mod:`.labels`); numbers or any other values
need ``label_map="0=a,1=b,2=tie"`` (``--label-map``), and a column with values the map does not
declare is an error listing them. Without ``example_id`` every row is its own example (id = the row
id); with it, rows of the same example share the example and must carry the same input text (a
different one is an error naming both lines), and identical texts share one output. ``sources`` is a
list, a JSON list in a CSV cell, or one string: the example's sources. ``sources_a``/``sources_b``
(the same forms, mapped together) are each output's OWN references (``Output.sources``: source-based
factors and the evaluation prompt read output A against sources_a, B against sources_b; the same text
with other references is another output). ``strength`` must be a finite number. Row ids must
be unique. On the command line a mapping is written ``id=qid,input=prompt,output_a=r1,output_b=r2,preferred=label``.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from .columns import check_declared, declared_verdict, pair_extras
from .io import Record, check_number, get_field
from .registry import LoadContext, register_format

__all__ = ["Generic", "parse_mapping", "REQUIRED_ROLES", "OPTIONAL_ROLES"]

REQUIRED_ROLES = ("input", "output_a", "output_b", "preferred")
OPTIONAL_ROLES = ("id", "example_id", "title", "sources", "sources_a", "sources_b", "strength")


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
    if ("sources_a" in mapping) != ("sources_b" in mapping):
        raise ValueError("map sources_a and sources_b together (each output's own references)")
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
        x = float(v)
    except (ValueError, OverflowError):
        raise rec.fail(col, f"expected a number, got {v!r}") from None
    return check_number(rec, col, x)


@register_format("generic", detect=None, task="generic",
                 description="any JSONL/CSV/TSV of pairs with a column mapping (input, output_a, output_b, preferred; optional id, example_id, title, sources, sources_a, sources_b, strength)")
class Generic:
    label_columns = True
    judge_columns = True
    group_columns = True

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
        verdict = declared_verdict(rec, m["preferred"], ctx)
        judges, groups = pair_extras(rec, ctx)
        ex_id = str(get_field(rec, m["example_id"], (str, int))) if "example_id" in m else rid
        if "example_id" in m:
            ctx.same_input(rec, m["input"], ex_id, text)
        title = get_field(rec, m["title"], str, required=False, nonempty=False) if "title" in m else None
        sources = _sources(rec, m["sources"]) if "sources" in m else []
        strength = _strength(rec, m["strength"]) if "strength" in m else None
        own = [_sources(rec, m[r]) for r in ("sources_a", "sources_b")] if "sources_a" in m else [None, None]
        if verdict is None:  # an undeclared label, listed with the others at the end
            return None
        return rid, ex_id, text, title or None, sources, outs, own, verdict, strength, "example_id" in m, judges, groups

    def build(self, items: list[Any], ctx: LoadContext) -> None:
        check_declared(ctx)
        b = ctx.builder
        for rid, ex_id, text, title, sources, (ta, tb), (sa, sb), verdict, strength, grouped, judges, groups in items:
            ex = b.example(ex_id, text, title=title, sources=sources)
            if ex is None:
                continue
            if ta == tb:  # two identical texts are no comparison (dropped, counted by the builder)
                sa = sb = None
            if grouped:
                a, o = b.output(ex, ta, sources=sa), b.output(ex, tb, sources=sb)
                pid = f"{ex}::{rid}"
            else:
                a, o = b.output(ex, ta, key="a", sources=sa), b.output(ex, tb, key="b", sources=sb)
                pid = None
            b.pair(ex, a, o, verdict, strength=strength, pair_id=pid, judges=judges, groups=groups)
