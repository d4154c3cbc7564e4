"""LLM-extracted factors, each ONE declaration with :func:`llm_factor`: a prompt, a parser, a level and
the factor's metadata. Built-in and user factors are declared the same way (see docs/factors.md).

Levels:

* ``response`` — one request per distinct (output, context); the parser maps the JSON answer to a value
  (built-ins: :class:`Labels`, a label with a stored justification).
* ``fact`` — all atomic facts of the OUTPUT in one request (batched), a yes/no verdict per fact number;
  the parser maps the verdict list to a value (built-ins: :class:`ShareOf`, the share of the facts
  with a valid verdict that got the counted verdict). Needs ``atomic_facts``.
* ``source-fact`` — the same over the atomic facts of the SOURCE, asked against the output text.
  Needs ``atomic_facts_source``.

The prompt's placeholders say what fills it: ``$text`` (the output), ``$input``, ``$source``, and
``$facts`` (the numbered fact list) for the fact levels. Values are computed once per distinct output
text and distinct context (the hashes of the texts that fill the prompt).

Built-in factors (value = share of the facts with a valid verdict that have the property):

============== ============= ========================================= ==========================
factor         prompt        question per fact                          counted as the factor
============== ============= ========================================= ==========================
hallucination  fact_support  does the source support this output fact?  "no"
off_focus      fact_focus    is it about the main focus of the input?   "no"
helpfulness    fact_helpful  helpful information beyond the answer?     "yes"
misinformation fact_misinfo  potentially incorrect or misleading?       "yes"
source_coverage fact_coverage does the output contain this SOURCE fact? "yes"
============== ============= ========================================= ==========================

A fact whose verdict is missing or not yes/no is counted and left out of the ratio (never guessed);
when no fact has a valid verdict the value is missing.

Response-level: intent and formality alignment (aligned 1 / partially aligned 0.5 / not aligned 0)
and receptiveness (yes 1 / no 0).
"""

from __future__ import annotations

import inspect
import json
import random
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from ..backends.base import Request, RequestFailed
from ..data.model import text_hash
from ..taxonomy import Factor, FactorRegistry, Level3, ValueType
from .atomic import OUTPUT_FACTS, SOURCE_FACTS
from .registry import ExtractorRegistry, declare_factor, make_factor, prompt_of

if TYPE_CHECKING:
    from .engine import ExtractionRun

__all__ = [
    "llm_factor", "LLMLevel", "ParsedAnswer", "Labels", "ShareOf", "FactLevelExtractor", "ResponseLevelExtractor",
    "ALIGN_LABELS", "verdict_schema", "fact_verdict_request", "parse_fact_verdicts", "fact_ratio",
    "format_facts", "JUSTIFICATION_MAX_CHARS",
]

LLMLevel = Literal["response", "fact", "source-fact"]
JUSTIFICATION_MAX_CHARS = 300
_YES = {"yes", "y", "true", "supported", "1"}
_NO = {"no", "n", "false", "not supported", "unsupported", "0"}
_CONTEXT_FIELDS = ("input", "source", "text")


# ----------------------------------------------------------------------------------- parsers
@dataclass(frozen=True)
class ParsedAnswer:
    """A response-level parser's result: the value (None: unparseable), the label shown in the answers
    table, and a justification kept in the details."""

    value: float | None
    label: str | None = None
    justification: str | None = None


@dataclass(frozen=True)
class Labels:
    """Parser of a labelled answer ``{"justification": ..., key: label}``; ``labels`` maps each label to
    its value, ``aliases`` maps other spellings to a label."""

    key: str
    labels: Mapping[str, float]
    aliases: Mapping[str, str] = field(default_factory=dict)

    @property
    def schema(self) -> dict[str, Any]:
        return {
            "type": "object",
            "properties": {"justification": {"type": "string", "maxLength": JUSTIFICATION_MAX_CHARS},
                           self.key: {"type": "string", "enum": list(self.labels)}},
            "required": ["justification", self.key],
        }

    def __call__(self, parsed: Any) -> ParsedAnswer:
        if not isinstance(parsed, dict):
            return ParsedAnswer(None)
        just = parsed.get("justification")
        just = just if isinstance(just, str) else None
        raw = parsed.get(self.key, parsed.get("label", parsed.get("answer")))
        if not isinstance(raw, str):
            return ParsedAnswer(None, None, just)
        v = " ".join(raw.replace("_", " ").replace("-", " ").strip().strip(".").lower().split())
        v = self.aliases.get(v, v)
        return ParsedAnswer(self.labels[v], v, just) if v in self.labels else ParsedAnswer(None, None, just)


@dataclass(frozen=True)
class ShareOf:
    """Parser of per-fact verdicts: the share of facts with a valid verdict that got ``counted``."""

    counted: str

    def __call__(self, verdicts: Sequence[str | None]) -> float | None:
        return fact_ratio(verdicts, self.counted)


ALIGN_LABELS = Labels("label", {"aligned": 1.0, "partially aligned": 0.5, "not aligned": 0.0},
                      {"partially": "partially aligned", "partial": "partially aligned", "not": "not aligned",
                       "unaligned": "not aligned", "misaligned": "not aligned"})


# ----------------------------------------------------------------------------------- fact level helpers
def verdict_schema(n: int) -> dict[str, Any]:
    """One required key per fact number ("1".."n"), each "yes" or "no"."""
    props = {str(i): {"type": "string", "enum": ["yes", "no"]} for i in range(1, n + 1)}
    return {"type": "object", "properties": props, "required": list(props), "additionalProperties": False}


def format_facts(facts: Sequence[str]) -> str:
    return "\n".join(f"{i}. {f}" for i, f in enumerate(facts, 1))


def fact_verdict_request(prompt: Any, facts: Sequence[str], fields: Mapping[str, str], *,
                         order_seed: int | None = None) -> tuple[Request, list[int]]:
    """One request asking about all ``facts``; returns it with ``order``: shown number i+1 -> fact index.

    ``fields`` fill the prompt's other placeholders; ``order_seed`` shuffles the order the facts are
    shown in (for self-consistency checks).
    """
    prompt = prompt_of(prompt)
    order = list(range(len(facts)))
    if order_seed is not None:
        random.Random(order_seed).shuffle(order)
    shown = [facts[i] for i in order]
    # ~6 tokens per "n": "yes" entry, plus slack; never so few that the JSON is cut off
    req = prompt.request(json_schema=verdict_schema(len(facts)), max_tokens=64 + 8 * len(facts),
                         prompt_type=prompt.name, facts=format_facts(shown), **fields)
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


# ----------------------------------------------------------------------------------- extractors
class _LLMExtractor:
    model_free = False

    def __init__(self, factor: Factor, prompt: Any, parser: Callable[..., Any], needs: tuple[str, ...]) -> None:
        self.factor, self.name, self.prompt, self.parser, self.needs = factor, factor.name, prompt, parser, needs

    @property
    def prompt_obj(self) -> Any:
        return prompt_of(self.prompt)

    def available(self, run: ExtractionRun) -> bool:
        return run.client is not None

    def context_fields(self) -> list[str]:
        return [f for f in _CONTEXT_FIELDS if f in self.prompt_obj.fields()]

    def context(self, run: ExtractionRun, output: Any) -> dict[str, str]:
        ex = run.example_of(output)
        texts = {"input": ex.input, "source": ex.source_text, "text": output.text}
        return {f: texts[f] for f in self.context_fields()}

    def fit(self, run: ExtractionRun, fields: Mapping[str, str]) -> dict[str, str]:
        return {f: (run.fit(v, run.text_limit, f"{self.name}: output text") if f == "text"
                    else run.fit(v, run.source_limit, f"{self.name}: {f}")) for f, v in fields.items()}


class FactLevelExtractor(_LLMExtractor):
    """A verdict per atomic fact (of the output, or of the source for ``source-fact``), all facts of one
    text in one request (split beyond ``run.fact_batch``); the parser maps the verdicts to the value."""

    def __init__(self, factor: Factor, prompt: Any, parser: Callable[[Sequence[str | None]], float | None],
                 of: str, needs: tuple[str, ...] = ()) -> None:
        self.of = of
        self.facts_artifact = OUTPUT_FACTS if of == "output" else SOURCE_FACTS
        super().__init__(factor, prompt, parser, (self.facts_artifact, *needs))

    def extract(self, run: ExtractionRun) -> None:
        name, prompt = self.name, self.prompt_obj
        facts_by = run.artifacts[self.facts_artifact]
        key_of_output: dict[str, tuple] = {}
        jobs: dict[tuple, dict[str, Any]] = {}
        for o in run.ds.outputs:
            source_hash = text_hash(run.source_of(o))
            h = run.out_hash[o.id]
            fields = self.context(run, o)
            key = (h, *(text_hash(v) for f, v in fields.items() if f != "text"))
            if self.of == "output":
                facts = facts_by.get(h)
            else:
                facts = facts_by.get(source_hash)
                if "source" not in fields:
                    key = (*key, source_hash)
            key_of_output[o.id] = key
            if key not in jobs:
                jobs[key] = {"facts": facts, "fields": fields, "item": o.id}
        reqs, meta = [], []
        results: dict[tuple, tuple] = {}
        for key, job in jobs.items():
            facts = job["facts"]
            if facts is None:
                results[key] = (None, None, 0, 0)  # the fact list itself is missing (counted there)
                continue
            if not facts:
                run.warnings[f"{name}: the {self.of} has no atomic facts (ratio undefined: missing)"] += 1
                results[key] = (None, json.dumps([]), 0, 0)
                continue
            fields = self.fit(run, job["fields"])
            for start in range(0, len(facts), run.fact_batch):
                chunk = facts[start:start + run.fact_batch]
                seed = None if run.fact_order_seed is None else run.fact_order_seed + start
                req, order = fact_verdict_request(prompt, chunk, fields, order_seed=seed)
                reqs.append(req)
                meta.append((key, start, order, job["item"]))
        verdicts: dict[tuple, list[str | None]] = {k: [None] * len(j["facts"]) for k, j in jobs.items() if j["facts"]}
        for req, (key, start, order, item), resp in zip(reqs, meta, run.run(reqs, f"{name} (per fact)")):
            got: list[str | None] = [None] * len(order)
            if not isinstance(resp, RequestFailed) and resp.parsed is not None:
                got = parse_fact_verdicts(resp.parsed, order)
            # a reply that is not JSON is an unparseable call; verdicts missing from a JSON reply are items
            # without a verdict (n_failed in the details), not a failed call
            run.account(req, resp, isinstance(resp, RequestFailed) or resp.parsed is not None)
            for i, v in enumerate(got):
                verdicts[key][start + i] = v
                run.answer_row(req, resp, item, str(start + i), v, v is not None)
        for key, vs in verdicts.items():
            facts = jobs[key]["facts"]
            detail = json.dumps([{"fact": fa, "verdict": v} for fa, v in zip(facts, vs)], ensure_ascii=False)
            results[key] = (self.parser(vs), detail, len(vs), sum(v is None for v in vs))
        src_tag = prompt_of("atomic_facts").tag
        run.set_value(name, key_of_output, results, f"llm-fact:{run.model}", f"{src_tag}+{prompt.tag}",
                      [self.facts_artifact, prompt.name])


class ResponseLevelExtractor(_LLMExtractor):
    """One request per distinct (output, context); the parser maps the JSON answer to a value."""

    def __init__(self, factor: Factor, prompt: Any, parser: Callable[[Any], Any], *,
                 schema: dict[str, Any] | None = None, max_tokens: int = 256, needs: tuple[str, ...] = ()) -> None:
        super().__init__(factor, prompt, parser, needs)
        self.schema = schema if schema is not None else getattr(parser, "schema", None)
        self.max_tokens = max_tokens

    def request(self, run: ExtractionRun, fields: Mapping[str, str]) -> Request:
        kw: dict[str, Any] = {}
        if run.response_temperature is not None:
            kw.update(temperature=run.response_temperature, top_p=0.9)
        if run.response_seed is not None:
            kw["seed"] = run.response_seed
        if self.schema is not None:
            kw["json_schema"] = self.schema
        prompt = self.prompt_obj
        return prompt.request(max_tokens=self.max_tokens, prompt_type=prompt.name, **fields, **kw)

    def parse(self, parsed: Any) -> ParsedAnswer:
        got = self.parser(parsed)
        if isinstance(got, ParsedAnswer):
            return got
        return ParsedAnswer(None if got is None else float(got))

    def extract(self, run: ExtractionRun) -> None:
        key_of_output: dict[str, tuple] = {}
        jobs: dict[tuple, tuple[str, dict[str, str]]] = {}
        for o in run.ds.outputs:
            fields = self.context(run, o)
            key = (run.out_hash[o.id], *(text_hash(v) for f, v in fields.items() if f != "text"))
            key_of_output[o.id] = key
            jobs.setdefault(key, (o.id, fields))
        keys = list(jobs)
        reqs = [self.request(run, self.fit(run, jobs[k][1])) for k in keys]
        results = {}
        for key, req, resp in zip(keys, reqs, run.run(reqs, self.name)):
            ans = ParsedAnswer(None) if isinstance(resp, RequestFailed) else self.parse(resp.parsed)
            run.account(req, resp, ans.value is not None)
            shown = ans.label if ans.label is not None else (None if ans.value is None else f"{ans.value:g}")
            run.answer_row(req, resp, jobs[key][0], "", shown, ans.value is not None)
            detail = json.dumps({"label": shown, "justification": ans.justification}, ensure_ascii=False)
            results[key] = (ans.value, detail, 1, int(ans.value is None))
        run.set_value(self.name, key_of_output, results, f"llm-response:{run.model}", self.prompt_obj.tag,
                      [self.prompt_obj.name])


_DEFAULT_VALUE_TYPE = {"response": ValueType.ORDINAL, "fact": ValueType.RATIO, "source-fact": ValueType.RATIO}


def llm_factor(
    name: str,
    *,
    prompt: Any,
    level: LLMLevel,
    parser: Callable[..., Any] | None = None,
    value_type: ValueType | str | None = None,
    label: str | None = None,
    description: str = "",
    level2: str = "custom",
    level3: Level3 | str = Level3.OUTPUT_ONLY,
    polarity: int = 0,
    needs: Sequence[str] = (),
    schema: dict[str, Any] | None = None,
    max_tokens: int = 256,
    replace: bool = False,
    builtin: bool = False,
    registry: FactorRegistry | None = None,
) -> Any:
    """Declare an LLM-extracted factor in one place.

    Args:
        prompt: a package prompt name (``factors/prompts/<name>.txt``) or a prompt object with ``name``,
            ``tag``, ``system``, ``fields()`` and ``request(...)`` (e.g. a :class:`profile_align.prompts.Prompt`,
            which gets greedy decoding as its default).
        level: ``response``, ``fact`` (facts of the output) or ``source-fact`` (facts of the source).
        parser: response level: ``parsed JSON -> float | ParsedAnswer | None`` (default schema: its
            ``schema`` attribute, or ``schema``); fact levels: ``verdicts -> float | None`` (default
            ``ShareOf("yes")``). At the response level without a parser, ``llm_factor`` is a decorator
            for one (its docstring's first line is the default description).
        needs: further extractors to run first (the fact lists are added by the level).

    >>> @llm_factor("jargon", prompt=my_prompt, level="response", value_type="binary")
    ... def jargon(parsed):
    ...     return {"yes": 1.0, "no": 0.0}.get(str(parsed.get("answer")).lower())
    """
    if level not in _DEFAULT_VALUE_TYPE:
        raise ValueError(f"llm_factor level must be one of {list(_DEFAULT_VALUE_TYPE)}, not {level!r}")

    def declare(fn: Callable[..., Any]) -> Callable[..., Any]:
        doc = (fn.__doc__ or "").strip() if inspect.isfunction(fn) else ""  # not a parser class's docstring
        factor = make_factor(name, extractor="llm-response" if level == "response" else "llm-fact", label=label,
                             description=description or (doc.splitlines()[0] if doc else name), level2=level2,
                             level3=level3, value_type=value_type or _DEFAULT_VALUE_TYPE[level],
                             polarity=polarity, builtin=builtin)
        ext: Any
        if level == "response":
            ext = ResponseLevelExtractor(factor, prompt, fn, schema=schema, max_tokens=max_tokens, needs=tuple(needs))
        else:
            ext = FactLevelExtractor(factor, prompt, fn, "output" if level == "fact" else "source", tuple(needs))
        declare_factor(ext, replace=replace, registry=registry,
                       extractors=None if registry is None else ExtractorRegistry())
        return fn

    if parser is None and level != "response":
        parser = ShareOf("yes")
    if parser is None:
        return declare
    declare(parser)
    return parser


# ----------------------------------------------------------------------------------- built-in factors
llm_factor("hallucination", prompt="fact_support", level="fact", parser=ShareOf("no"), label="hallucination",
           description="share of output facts not supported by, or contradicting, the source",
           level2="faithfulness", level3=Level3.SOURCE_OUTPUT, polarity=-1, builtin=True)
llm_factor("off_focus", prompt="fact_focus", level="fact", parser=ShareOf("no"), label="off-focus",
           description="share of output facts not about the main focus of the input",
           level2="relevance", level3=Level3.INPUT_OUTPUT, polarity=-1, builtin=True)
llm_factor("helpfulness", prompt="fact_helpful", level="fact", parser=ShareOf("yes"), label="helpfulness",
           description="share of output facts that add helpful information beyond the strict answer",
           level2="informativeness", level3=Level3.OUTPUT_ONLY, polarity=+1, builtin=True)
llm_factor("misinformation", prompt="fact_misinfo", level="fact", parser=ShareOf("yes"), label="misinformation",
           description="share of output facts that are potentially incorrect or misleading (false claims, "
                       "unfounded assumptions about the user, risky advice, conspiracy, calls to action, and more)",
           level2="faithfulness", level3=Level3.OUTPUT_ONLY, polarity=-1, builtin=True)
llm_factor("source_coverage", prompt="fact_coverage", level="source-fact", parser=ShareOf("yes"), label="src-cov",
           description="share of the source's atomic facts that the output contains",
           level2="informativeness", level3=Level3.SOURCE_OUTPUT, polarity=+1, builtin=True)
llm_factor("intent_alignment", prompt="intent_alignment", level="response", parser=ALIGN_LABELS,
           label="intent-align", description="does the output serve the main intent of the input",
           level2="relevance", level3=Level3.INPUT_OUTPUT, value_type=ValueType.ORDINAL, polarity=+1, builtin=True)
llm_factor("formality_alignment", prompt="formality_alignment", level="response", parser=ALIGN_LABELS,
           label="formality-align", description="does the output's formality match the source's",
           level2="style", level3=Level3.INPUT_OUTPUT, value_type=ValueType.ORDINAL, polarity=+1, builtin=True)
llm_factor("receptiveness", prompt="receptiveness", level="response", parser=Labels("answer", {"yes": 1.0, "no": 0.0}),
           label="receptive", description="does the response clearly address the user's query",
           level2="relevance", level3=Level3.INPUT_OUTPUT, value_type=ValueType.BINARY, polarity=+1, builtin=True)
