"""A model as *generator* (PROFILE's generation setting): for each example the model writes k outputs
aimed at quality scores 1..k; for every two of them the higher-targeted one is preferred (no ties).

The prompt is the paper's (Appendix D.1.1): the task description, then "write k outputs that would
each get a score of 1..k". It never says what a score means (that is what is measured) and sets no
length limit; ``max_words`` adds one (and a ``maxLength`` to the JSON schema) as a labelled deviation.
Two protocols, chosen in the config and recorded in the manifest (``variant``):

* ``one-call`` (the paper's, default): all k outputs in one JSON request
  ``{"outputs": [{"score", "text"}, ...]}``; a reply without JSON is read as labelled sections (``Score 3: ...``).
* ``per-level``: one request per target score (for models that cannot write k graded outputs in one
  call); its prompt names the target score on the 1..k scale and, again, carries no rubric.

A missing or duplicate score is a counted failure and that example's pairs are skipped; outputs are
never constructed programmatically. Two target scores that got the *same* text give no pair (counted).
Optionally one *direct* output per example (no score) for the generalizability check.
"""

from __future__ import annotations

import itertools
import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

from ..backends import Client, Request, RequestFailed, Response
from ..data.model import Example, Output, Pair, Preference, Verdict
from .base import JudgeContext, JudgeKind
from ..prompts import load_prompt
from .common import JudgeCalls, JudgeResult, answer_row, answers_frame, is_echo, parsed_json
from .wording import length_limit, render_context, task_wording

__all__ = ["GenerationJudge", "GradedParse", "parse_graded", "generation_schema", "level_schema",
           "VARIANTS", "output_id", "pair_id"]

Variant = Literal["one-call", "per-level"]
VARIANTS = ("one-call", "per-level")
STAGE = "generation"


def output_id(judge: str, example_id: str, score: int | str) -> str:
    return f"{judge}::{example_id}::s{score}"


def pair_id(judge: str, example_id: str, hi: int, lo: int) -> str:
    return f"{judge}::{example_id}::s{hi}>s{lo}"


def _text(max_chars: int | None) -> dict[str, Any]:
    text: dict[str, Any] = {"type": "string", "minLength": 1}
    if max_chars is not None:
        text["maxLength"] = max_chars
    return text


def level_schema(max_chars: int | None = None) -> dict[str, Any]:
    """``{"text": ...}``; a ``maxLength`` only when a length limit was set."""
    return {"type": "object", "properties": {"text": _text(max_chars)}, "required": ["text"],
            "additionalProperties": False}


def generation_schema(k: int, max_chars: int | None = None) -> dict[str, Any]:
    """``{"outputs": [k x {"score", "text"}]}``; a ``maxLength`` only when a length limit was set."""
    item = {"type": "object",
            "properties": {"score": {"type": "integer", "minimum": 1, "maximum": k}, "text": _text(max_chars)},
            "required": ["score", "text"], "additionalProperties": False}
    return {"type": "object", "properties": {"outputs": {"type": "array", "items": item, "minItems": k, "maxItems": k}},
            "required": ["outputs"], "additionalProperties": False}


@dataclass(frozen=True)
class GradedParse:
    """``texts``: score -> text for the scores found once; ``problems``: what was wrong (empty = usable)."""

    texts: dict[int, str]
    problems: tuple[str, ...]
    source: str  # json | sections | none

    @property
    def ok(self) -> bool:
        return not self.problems


_SECTION = re.compile(r"(?im)^\s*(?:[#*]+\s*)?(?:score|level|rating)\s*[:=#]?\s*(\d+)\s*(?:/\s*\d+)?\s*[*]*\s*[:.)\-]?\s*[*]*\s*")


def _items_from_json(obj: Any) -> list[tuple[Any, Any]] | None:
    if isinstance(obj, dict):
        for key in ("outputs", "summaries", "responses", "answers", "items"):
            if isinstance(obj.get(key), list):
                obj = obj[key]
                break
        else:  # {"1": "...", "2": "..."}
            if obj and all(re.fullmatch(r"\s*\d+\s*", str(k)) for k in obj):
                return [(k, v) for k, v in obj.items()]
            return None
    if not isinstance(obj, list):
        return None
    out = []
    for it in obj:
        if not isinstance(it, dict):
            return None
        out.append((it.get("score", it.get("level")), it.get("text", it.get("summary", it.get("output")))))
    return out


def parse_graded(reply: str | Any, k: int) -> GradedParse:
    """Read k graded outputs from a reply: JSON (list of {score, text}, or {"outputs": [...]}, or
    {"1": text, ...}) or labelled sections (``Score 1: ...``). Scores may come in any order; text around
    the JSON is ignored. Missing, duplicate, out-of-range scores and empty texts are reported as problems."""
    items: list[tuple[Any, Any]] | None = None
    source = "none"
    obj = reply
    if isinstance(reply, str):
        from ..backends import ParseError, extract_json

        try:
            obj = extract_json(reply)
        except ParseError:
            obj = None
    if obj is not None:
        items = _items_from_json(obj)
        source = "json" if items is not None else "none"
    if items is None and isinstance(reply, str):
        marks = list(_SECTION.finditer(reply))
        if marks:
            items = [(m.group(1), reply[m.end(): (marks[i + 1].start() if i + 1 < len(marks) else len(reply))])
                     for i, m in enumerate(marks)]
            source = "sections"
    if items is None:
        return GradedParse({}, ("no JSON list of scored outputs and no 'Score N:' sections",), "none")
    problems: list[str] = []
    seen: Counter = Counter()
    texts: dict[int, str] = {}
    for score, text in items:
        try:
            s = int(str(score).strip())
        except (TypeError, ValueError):
            problems.append(f"score {score!r} is not an integer")
            continue
        if not 1 <= s <= k:
            problems.append(f"score {s} outside 1..{k}")
            continue
        seen[s] += 1
        t = text.strip() if isinstance(text, str) else ""
        if not t:
            problems.append(f"empty text for score {s}")
            continue
        texts[s] = t
    for s, n in sorted(seen.items()):
        if n > 1:
            problems.append(f"duplicate score {s}")
            texts.pop(s, None)
    missing = [s for s in range(1, k + 1) if s not in seen]
    if missing:
        problems.append(f"missing score(s) {missing}")
    return GradedParse(texts, tuple(problems), source)


class GenerationJudge:
    """Builds the requests, runs them through ``client`` and turns the replies into outputs, pairs and
    preferences (judge ``<label>:generation``)."""

    kind = JudgeKind.GENERATION
    setting = "generation"

    def __init__(self, client: Client, *, label: str, task: str, model: str | None = None, k: int = 5,
                 variant: Variant = "one-call", max_words: int | None = None, max_chars: int | None = None,
                 direct: bool = False, temperature: float = 0.6, top_p: float = 0.9, max_tokens: int = 1024,
                 seed: int | None = 0) -> None:
        if variant not in VARIANTS:
            raise ValueError(f"generation variant must be one of {VARIANTS}, not {variant!r}")
        if k < 2:
            raise ValueError("generation needs k >= 2 target scores")
        self.client, self.label, self.task, self.k, self.variant = client, label, task, k, variant
        self.model = model or client.backend.model_id
        self.name = f"{label}:generation"
        self.max_words = max_words  # None: no length limit (the paper's); set: a labelled deviation
        self.max_chars = max_chars or (max_words * 9 if max_words is not None else None)
        self.direct = direct
        self.sampling = dict(temperature=temperature, top_p=top_p, seed=seed)
        self.max_tokens = max_tokens
        self.wording = task_wording(task)

    # ------------------------------------------------------------------ requests
    def _fields(self, ex: Example, which: str = "one") -> dict[str, Any]:
        w = self.wording
        return {"context": render_context(ex, self.task), "instruction": w["instruction"], "noun": w["noun"],
                "length_limit": length_limit(w["noun"], self.max_words, "each" if which == "each" else "one")}

    def _single_max_tokens(self) -> int:
        return self.max_tokens if self.max_chars is None else min(self.max_tokens, self.max_chars // 3 + 40)

    def one_call_request(self, ex: Example) -> Request:
        max_tokens = self.max_tokens if self.max_chars is None else max(self.max_tokens,
                                                                         self.k * (self.max_chars // 3 + 20))
        return load_prompt("generation_one_call", package=__package__).request(
            **self._fields(ex, "each"), nouns=self.wording["nouns"], k=self.k,
            json_schema=generation_schema(self.k, self.max_chars), max_tokens=max_tokens,
            prompt_type="scored_generation", **self.sampling)

    def level_request(self, ex: Example, score: int) -> Request:
        return load_prompt("generation_per_level", package=__package__).request(
            **self._fields(ex), k=self.k, score=score, json_schema=level_schema(self.max_chars),
            max_tokens=self._single_max_tokens(), prompt_type="scored_generation_level", **self.sampling)

    def direct_request(self, ex: Example) -> Request:
        return load_prompt("generation_direct", package=__package__).request(
            **self._fields(ex), json_schema=level_schema(self.max_chars), max_tokens=self._single_max_tokens(),
            prompt_type="direct_generation", **self.sampling)

    # ------------------------------------------------------------------ run
    def judge(self, ctx: JudgeContext) -> JudgeResult:
        """The :class:`~profile_align.judges.base.Judge` interface: k outputs for every example."""
        return self.run(ctx.dataset.examples)

    def run(self, examples: Sequence[Example]) -> JudgeResult:
        plan: list[tuple[str, Example, int | None, Request]] = []
        for ex in examples:
            if self.variant == "one-call":
                plan.append(("one-call", ex, None, self.one_call_request(ex)))
            else:
                plan.extend(("level", ex, s, self.level_request(ex, s)) for s in range(1, self.k + 1))
            if self.direct:
                plan.append(("direct", ex, None, self.direct_request(ex)))
        responses = self.client.run_all([p[3] for p in plan], desc=f"{self.name} ({self.variant})", stage=STAGE)
        res = JudgeResult(self.name, JudgeKind.GENERATION, self.model, "generation", label=self.label)
        fails: JudgeCalls = res.failures
        rows: list[dict[str, Any]] = []
        texts: dict[str, dict[int, str]] = {ex.id: {} for ex in examples}
        broken: dict[str, list[str]] = {}
        for (what, ex, score, req), resp in zip(plan, responses):
            instructions = [m["content"].replace(render_context(ex, self.task), "") for m in req.messages]
            if what == "one-call":
                obj = parsed_json(self.client, resp) if isinstance(resp, Response) else None
                gp = parse_graded(obj if obj is not None else (resp.text if isinstance(resp, Response) else ""), self.k) \
                    if isinstance(resp, Response) else GradedParse({}, ("request failed",), "none")
                fails.add(self.client, resp, gp.ok)
                for s in range(1, self.k + 1):
                    t = gp.texts.get(s)
                    rows.append(answer_row(STAGE, req, resp, item_id=ex.id, variant=str(s), answer=str(s) if t else None,
                                           valid=t is not None, model=self.model, echo=is_echo(t, instructions)))
                texts[ex.id] = dict(gp.texts)
                if not gp.ok:
                    broken[ex.id] = list(gp.problems)
                continue
            obj = parsed_json(self.client, resp)
            t = obj.get("text") if isinstance(obj, dict) else None
            t = t.strip() if isinstance(t, str) and t.strip() else None
            fails.add(self.client, resp, t is not None)
            variant = str(score) if what == "level" else "direct"
            rows.append(answer_row(STAGE, req, resp, item_id=ex.id, variant=variant, answer=variant if t else None,
                                   valid=t is not None, model=self.model, echo=is_echo(t, instructions)))
            if what == "direct":
                if t:
                    res.outputs.append(Output(f"{self.label}:direct::{ex.id}", ex.id, t, f"{self.label}:direct",
                                              {"direct": True}))
                continue
            if t is None:
                broken.setdefault(ex.id, []).append(f"missing score(s) [{score}]"
                                                    + (" (request failed)" if isinstance(resp, RequestFailed) else ""))
            else:
                texts[ex.id][score] = t  # type: ignore[index]
        n_dup_pairs = 0
        for ex in examples:
            if ex.id in broken:
                for p in broken[ex.id]:
                    fails.reason(f"example skipped: {re.sub(r'[0-9, ]+]', 'N]', p)}")
                continue
            got = texts[ex.id]
            for s, t in sorted(got.items()):
                res.outputs.append(Output(output_id(self.label, ex.id, s), ex.id, t, self.name,
                                          {"target_score": s, "variant": self.variant}))
            for hi, lo in itertools.combinations(sorted(got, reverse=True), 2):
                if got[hi].strip() == got[lo].strip():
                    n_dup_pairs += 1
                    continue
                pid = pair_id(self.label, ex.id, hi, lo)
                res.pairs.append(Pair(pid, ex.id, output_id(self.label, ex.id, hi), output_id(self.label, ex.id, lo)))
                res.preferences.append(Preference(pid, self.name, Verdict.A, float(hi - lo),
                                                  {"score_a": hi, "score_b": lo}))
        if n_dup_pairs:
            fails.reason("pair skipped: two target scores got the same text", n_dup_pairs)
        distinct = [len(set(v.values())) for k_, v in texts.items() if k_ not in broken and v]
        res.answers = answers_frame(rows)
        res.stats = {"variant": self.variant, "k": self.k, "direct": self.direct, "max_words": self.max_words,
                     "n_examples": len(examples), "n_examples_skipped": len(broken),
                     "n_identical_text_pairs": n_dup_pairs,
                     "mean_distinct_texts": (sum(distinct) / len(distinct)) if distinct else None,
                     "prompt_version": (self.one_call_request(examples[0]) if self.variant == "one-call"
                                        else self.level_request(examples[0], 1)).prompt_version if examples else None}
        return res
