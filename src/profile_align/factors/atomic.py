"""Atomic facts: decompose a text (an output, or a source once per example) into short self-contained
statements (FActScore's notion), as a JSON list; the count is the ``n_facts`` factor.

The prompt is zero-shot on purpose: a small local model copies example facts into its answer (see
``docs/factors.md``); precise rules take the place of the usual few-shot examples.
"""

from __future__ import annotations

import re
from typing import Any

from ..backends.base import Request
from .prompts import load_prompt

__all__ = ["FACT_MAX_CHARS", "facts_schema", "facts_request", "parse_facts", "normalise_fact"]

FACT_MAX_CHARS = 240


def facts_schema(max_items: int) -> dict[str, Any]:
    return {
        "type": "object",
        "properties": {"facts": {"type": "array", "maxItems": max_items,
                                 "items": {"type": "string", "minLength": 1, "maxLength": FACT_MAX_CHARS}}},
        "required": ["facts"],
    }


def facts_request(text: str, *, max_items: int = 40, max_tokens: int = 1024,
                  prompt_type: str = "atomic_facts") -> Request:
    """One request decomposing ``text``; ``max_tokens`` leaves room for ``max_items`` facts."""
    return load_prompt("atomic_facts").request(text=text, json_schema=facts_schema(max_items),
                                               max_tokens=max_tokens, prompt_type=prompt_type)


def normalise_fact(fact: str) -> str:
    """Key for de-duplication: case, white space and final punctuation ignored."""
    return re.sub(r"\s+", " ", fact).strip().strip(".!?;").strip().lower()


def parse_facts(parsed: Any) -> list[str] | None:
    """The de-duplicated fact list from a parsed JSON answer, or None when the answer has no usable list.

    Accepts ``{"facts": [...]}`` or a bare list; non-string or empty items are dropped. An empty list
    is a valid answer (the text states nothing).
    """
    items = parsed.get("facts") if isinstance(parsed, dict) else parsed
    if not isinstance(items, list):
        return None
    out, seen = [], set()
    for it in items:
        if isinstance(it, dict):  # {"fact": "..."} style items
            it = it.get("fact") or it.get("text")
        if not isinstance(it, str):
            continue
        fact = re.sub(r"\s+", " ", it).strip()
        key = normalise_fact(fact)
        if key and key not in seen:
            seen.add(key)
            out.append(fact)
    return out
