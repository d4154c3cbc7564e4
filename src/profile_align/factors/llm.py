"""LLM-extracted factors: fact-level verdicts (batched: all facts of one text in ONE request, a JSON
answer per fact number) and response-level labels with a stored justification.

Fact-level factors (value = share of the facts with a valid verdict that have the property):

============== ============= ========================================= ==========================
factor         prompt        question per fact                          counted as the factor
============== ============= ========================================= ==========================
hallucination  fact_support  does the source support this output fact?  "no"
off_focus      fact_focus    is it about the main focus of the input?   "no"
helpfulness    fact_helpful  helpful information beyond the answer?     "yes"
misinformation fact_misinfo  potentially misleading?                    "yes"
source_coverage fact_coverage does the output contain this SOURCE fact? "yes"
============== ============= ========================================= ==========================

A fact whose verdict is missing or not yes/no is counted and left out of the ratio (never guessed);
when no fact has a valid verdict the value is missing.

Response-level: intent and formality alignment (aligned 1 / partially aligned 0.5 / not aligned 0)
and receptiveness (yes 1 / no 0).
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from ..backends.base import Request
from .prompts import load_prompt

__all__ = [
    "FactSpec", "FACT_SPECS", "ResponseSpec", "RESPONSE_SPECS", "verdict_schema", "fact_verdict_request",
    "parse_fact_verdicts", "fact_ratio", "response_schema", "response_request", "parse_response_label",
    "format_facts",
]


@dataclass(frozen=True)
class FactSpec:
    factor: str
    prompt: str
    counted: str        # the verdict ("yes"/"no") that counts towards the factor
    facts_of: str       # "output": the output's facts; "source": the source's facts
    context: str        # which example text fills the prompt: "source" | "input" | "text" (the output)


FACT_SPECS: dict[str, FactSpec] = {s.factor: s for s in (
    FactSpec("hallucination", "fact_support", "no", "output", "source"),
    FactSpec("off_focus", "fact_focus", "no", "output", "input"),
    FactSpec("helpfulness", "fact_helpful", "yes", "output", "input"),
    FactSpec("misinformation", "fact_misinfo", "yes", "output", "input"),
    FactSpec("source_coverage", "fact_coverage", "yes", "source", "text"),
)}


@dataclass(frozen=True)
class ResponseSpec:
    factor: str
    prompt: str
    key: str                      # JSON key of the label
    labels: dict[str, float]      # normalised label -> value


_ALIGN = {"aligned": 1.0, "partially aligned": 0.5, "not aligned": 0.0}
RESPONSE_SPECS: dict[str, ResponseSpec] = {s.factor: s for s in (
    ResponseSpec("intent_alignment", "intent_alignment", "label", _ALIGN),
    ResponseSpec("formality_alignment", "formality_alignment", "label", _ALIGN),
    ResponseSpec("receptiveness", "receptiveness", "answer", {"yes": 1.0, "no": 0.0}),
)}

JUSTIFICATION_MAX_CHARS = 300
_YES = {"yes", "y", "true", "supported", "1"}
_NO = {"no", "n", "false", "not supported", "unsupported", "0"}


# ----------------------------------------------------------------------------------- fact level
def verdict_schema(n: int) -> dict[str, Any]:
    """One required key per fact number ("1".."n"), each "yes" or "no"."""
    props = {str(i): {"type": "string", "enum": ["yes", "no"]} for i in range(1, n + 1)}
    return {"type": "object", "properties": props, "required": list(props), "additionalProperties": False}


def format_facts(facts: Sequence[str]) -> str:
    return "\n".join(f"{i}. {f}" for i, f in enumerate(facts, 1))


def fact_verdict_request(spec: FactSpec, facts: Sequence[str], context: str, *, text: str | None = None,
                         order_seed: int | None = None) -> tuple[Request, list[int]]:
    """One request asking about all ``facts``; returns it with ``order``: shown number i+1 -> fact index.

    ``order_seed`` shuffles the order the facts are shown in (for self-consistency checks).
    """
    order = list(range(len(facts)))
    if order_seed is not None:
        random.Random(order_seed).shuffle(order)
    shown = [facts[i] for i in order]
    prompt = load_prompt(spec.prompt)
    fields: dict[str, str] = {"facts": format_facts(shown)}
    if spec.context == "text":
        fields["text"] = context
    else:
        fields[spec.context] = context
    # ~6 tokens per "n": "yes" entry, plus slack; never so few that the JSON is cut off
    req = prompt.request(json_schema=verdict_schema(len(facts)), max_tokens=64 + 8 * len(facts),
                         prompt_type=spec.prompt, **fields)
    return req, order


def _label(value: Any) -> str | None:
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, dict):  # {"answer": "yes"} style
        value = value.get("answer", value.get("verdict", value.get("label")))
    if not isinstance(value, str):
        return None
    v = value.strip().strip(".").lower()
    return "yes" if v in _YES else "no" if v in _NO else None


def parse_fact_verdicts(parsed: Any, order: Sequence[int]) -> list[str | None]:
    """Verdict per fact index (None = missing or unparseable), from ``{"1": "yes", ...}``.

    Also accepts a list of ``{"id": 1, "answer": "yes"}`` items or a bare list in the shown order.
    """
    n = len(order)
    shown: list[str | None] = [None] * n
    if isinstance(parsed, dict):
        inner = parsed.get("verdicts", parsed.get("answers"))
        if isinstance(inner, (dict, list)):
            parsed = inner
    if isinstance(parsed, dict):
        for k, v in parsed.items():
            try:
                i = int(str(k).strip().lstrip("#").rstrip(".")) - 1
            except ValueError:
                continue
            if 0 <= i < n:
                shown[i] = _label(v)
    elif isinstance(parsed, list):
        for pos, item in enumerate(parsed):
            if isinstance(item, dict) and "id" in item:
                try:
                    i = int(item["id"]) - 1
                except (TypeError, ValueError):
                    continue
            else:
                i = pos
            if 0 <= i < n:
                shown[i] = _label(item)
    out: list[str | None] = [None] * n
    for pos, idx in enumerate(order):
        out[idx] = shown[pos]
    return out


def fact_ratio(verdicts: Sequence[str | None], counted: str) -> float | None:
    valid = [v for v in verdicts if v is not None]
    if not valid:
        return None
    return sum(v == counted for v in valid) / len(valid)


# ----------------------------------------------------------------------------------- response level
def response_schema(spec: ResponseSpec) -> dict[str, Any]:
    return {
        "type": "object",
        "properties": {"justification": {"type": "string", "maxLength": JUSTIFICATION_MAX_CHARS},
                       spec.key: {"type": "string", "enum": list(spec.labels)}},
        "required": ["justification", spec.key],
    }


def response_request(spec: ResponseSpec, input_text: str, text: str, *, temperature: float | None = None,
                     seed: int | None = None) -> Request:
    kw: dict[str, Any] = {}
    if temperature is not None:
        kw.update(temperature=temperature, top_p=0.9)
    if seed is not None:
        kw["seed"] = seed
    return load_prompt(spec.prompt).request(input=input_text, text=text, json_schema=response_schema(spec),
                                            max_tokens=256, prompt_type=spec.prompt, **kw)


def parse_response_label(spec: ResponseSpec, parsed: Any) -> tuple[str | None, str | None]:
    """(normalised label or None, justification or None)."""
    if not isinstance(parsed, dict):
        return None, None
    just = parsed.get("justification")
    raw = parsed.get(spec.key, parsed.get("label", parsed.get("answer")))
    if not isinstance(raw, str):
        return None, just if isinstance(just, str) else None
    v = " ".join(raw.replace("_", " ").replace("-", " ").strip().strip(".").lower().split())
    if spec.labels is _ALIGN:
        v = {"partially": "partially aligned", "partial": "partially aligned", "not": "not aligned",
             "unaligned": "not aligned", "misaligned": "not aligned"}.get(v, v)
    return (v if v in spec.labels else None), (just if isinstance(just, str) else None)
