"""Atomic facts: decompose a text (an output, or a source once per example) into short self-contained
statements (FActScore's notion), as a JSON list; the count is the ``n_facts`` factor.

Two artifacts (extractors that provide no factor, only the fact lists the fact-level factors read):
``atomic_facts`` (one list per distinct output text) and ``atomic_facts_source`` (one list per
distinct source, keyed by its hash: an output's own sources where it has them, e.g. a WebGPT answer's
quotes, else its example's; see :meth:`ExtractionRun.source_of`); and the factor ``n_facts`` (needs
``atomic_facts``).

The prompt is zero-shot on purpose: a small local model copies example facts into its answer (see
``docs/factors.md``); precise rules take the place of the usual few-shot examples.
"""

from __future__ import annotations

import json
import re
from typing import TYPE_CHECKING, Any

from ..backends.base import Request, RequestFailed
from ..diagnostics.answers import is_echo
from ..data.model import text_hash
from ..taxonomy import Factor
from .registry import EXTRACTORS, declare_factor, make_factor, prompt_of

if TYPE_CHECKING:
    from .engine import ExtractionRun

__all__ = ["FACT_MAX_CHARS", "facts_schema", "facts_request", "parse_facts", "normalise_fact", "FactsExtractor",
           "FactCountExtractor", "OUTPUT_FACTS", "SOURCE_FACTS"]

OUTPUT_FACTS = "atomic_facts"
SOURCE_FACTS = "atomic_facts_source"

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
    return prompt_of("atomic_facts").request(text=text, json_schema=facts_schema(max_items),
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


class FactsExtractor:
    """Artifact ``atomic_facts`` (hash of an output text -> its facts) or ``atomic_facts_source`` (hash of
    a source -> its facts); None where the answer failed or had no fact list."""

    factor: Factor | None = None
    needs: tuple[str, ...] = ()
    model_free = False

    def __init__(self, name: str, of: str) -> None:
        self.name, self.of = name, of

    def available(self, run: ExtractionRun) -> bool:
        return run.client is not None

    def extract(self, run: ExtractionRun) -> None:
        facts_of: dict[str, list[str] | None] = {}
        reqs, keys = [], []
        if self.of == "output":
            for h, (oid, text) in run.hash_text.items():
                if not text.strip():
                    facts_of[h] = []
                    run.warnings["n_facts: empty output text (no atomic facts)"] += 1
                    continue
                reqs.append(facts_request(run.fit(text, run.text_limit, "atomic facts of an output"),
                                          max_items=40, max_tokens=1024))
                keys.append((h, oid))
        else:
            for o in run.ds.outputs:  # each output's own source (its references), else its example's
                source = run.source_of(o)
                sh = text_hash(source)
                if sh in facts_of:
                    continue
                if not source.strip():
                    facts_of[sh] = []
                    continue
                facts_of[sh] = None
                reqs.append(facts_request(run.fit(source, run.source_limit, "atomic facts of a source"),
                                          max_items=60, max_tokens=1536, prompt_type=self.name))
                keys.append((sh, o.example_id))
        system = prompt_of("atomic_facts").system.lower()
        desc = "atomic facts" if self.of == "output" else "atomic facts of sources"
        for (h, item), req, resp in zip(keys, reqs, run.run(reqs, desc)):
            facts = None if isinstance(resp, RequestFailed) else parse_facts(resp.parsed)
            run.account(req, resp, facts is not None)
            echo = facts is not None and any(is_echo(x, [system], min_chars=13) for x in facts)
            run.answer_row(req, resp, item, "", None if facts is None else json.dumps(facts, ensure_ascii=False),
                           facts is not None, echo)
            facts_of[h] = facts
        run.artifacts[self.name] = facts_of


class FactCountExtractor:
    """``n_facts``: the number of atomic facts of the output (missing where the fact list is)."""

    needs: tuple[str, ...] = (OUTPUT_FACTS,)
    model_free = False

    def __init__(self, factor: Factor) -> None:
        self.factor, self.name = factor, factor.name

    def available(self, run: ExtractionRun) -> bool:
        return run.client is not None

    def extract(self, run: ExtractionRun) -> None:
        res = {h: ((None if fs is None else float(len(fs))),
                   None if fs is None else json.dumps(fs, ensure_ascii=False), 0 if fs is None else len(fs), 0)
               for h, fs in run.artifacts[OUTPUT_FACTS].items()}
        run.set_value(self.name, run.out_hash, res, f"llm-fact:{run.model}", prompt_of("atomic_facts").tag,
                      [OUTPUT_FACTS])


EXTRACTORS.add(FactsExtractor(OUTPUT_FACTS, "output"), replace=True)
EXTRACTORS.add(FactsExtractor(SOURCE_FACTS, "source"), replace=True)
declare_factor(FactCountExtractor(make_factor(
    "n_facts", extractor="llm-fact", label="# facts", description="number of atomic facts in the output",
    level2="informativeness", level3="Output-Only", value_type="count", builtin=True)))
