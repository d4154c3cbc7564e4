"""A model as *evaluator* (PROFILE's evaluation setting): it sees two outputs of the same input and
answers JSON ``{"better": "1" | "2" | "Tie", "justification": ...}``.

Both orders (A,B) and (B,A) are asked by default. The two verdicts (mapped back to A/B) are combined by
a rule from :data:`COMBINE_RULES` (default ``tie``: agree -> that verdict, disagree -> Tie). The judge
reports its position bias (share of non-tie answers that chose the first position), its flip rate (pairs
whose two orders disagree) and invalid answers. An optional one-sentence guidance (the guidance
experiment) is added to the instruction.
"""

from __future__ import annotations

import functools

from collections.abc import Callable, Sequence
from typing import Any

from ..backends import Client, Request
from ..data.model import Example, Output, Pair, Preference, Verdict
from .base import JudgeContext, JudgeKind
from ..prompts import load_prompt
from .common import JudgeResult, answer_row, answers_frame, is_echo, parsed_json
from .wording import evaluation_layout, task_wording

__all__ = ["EvaluationJudge", "COMBINE_RULES", "combine_verdicts", "parse_better", "verdict_from_position",
           "evaluation_schema", "position_stats", "FIRST_ORDER"]

STAGE = "evaluation"
PROMPT_TYPE = "pairwise_eval"


def evaluation_schema(max_chars: int = 300) -> dict[str, Any]:
    return {"type": "object",
            "properties": {"better": {"type": "string", "enum": ["1", "2", "Tie"]},
                           "justification": {"type": "string", "maxLength": max_chars}},
            "required": ["better", "justification"], "additionalProperties": False}


_LABELS = {"1": "1", "2": "2", "tie": "tie", "one": "1", "two": "2", "first": "1", "second": "2",
           "equal": "tie", "neither": "tie", "both": "tie", "summary 1": "1", "summary 2": "2",
           "response 1": "1", "response 2": "2", "answer 1": "1", "answer 2": "2"}


def parse_better(obj: Any) -> str | None:
    """The positional label ``"1"``, ``"2"`` or ``"tie"`` from a parsed reply, or None (invalid)."""
    if not isinstance(obj, dict):
        return None
    v = obj.get("better", obj.get("Better"))
    if isinstance(v, bool) or v is None:
        return None
    return _LABELS.get(str(v).strip().strip(".").lower())


def verdict_from_position(label: str | None, order: str) -> Verdict | None:
    """Map a positional answer back to the pair's (A, B): in order ``BA`` position 1 shows B."""
    if label is None:
        return None
    if label == "tie":
        return Verdict.TIE
    first = label == "1"
    if order == "AB":
        return Verdict.A if first else Verdict.B
    if order == "BA":
        return Verdict.B if first else Verdict.A
    raise ValueError(f"order must be 'AB' or 'BA', not {order!r}")


def _tie(ab: Verdict | None, ba: Verdict | None) -> Verdict | None:
    if ab is None or ba is None:
        return ab if ba is None else ba
    return ab if ab == ba else Verdict.TIE


def _strict(ab: Verdict | None, ba: Verdict | None) -> Verdict | None:
    if ab is None or ba is None:
        return None
    return ab if ab == ba else Verdict.TIE


def _first(ab: Verdict | None, ba: Verdict | None) -> Verdict | None:
    return ab


COMBINE_RULES: dict[str, Callable[[Verdict | None, Verdict | None], Verdict | None]] = {
    "tie": _tie,        # agree -> verdict, disagree -> Tie; one order invalid -> the other one
    "strict": _strict,  # like tie, but both orders must be valid (else the pair is skipped)
    "first": _first,    # only the (A,B) order counts
}


def combine_verdicts(ab: Verdict | None, ba: Verdict | None, rule: str = "tie") -> Verdict | None:
    try:
        return COMBINE_RULES[rule](ab, ba)
    except KeyError:
        raise ValueError(f"unknown combine rule {rule!r}; known: {sorted(COMBINE_RULES)}") from None


def position_stats(labels: Sequence[tuple[str | None, str | None]]) -> dict[str, Any]:
    """From (label AB, label BA) per pair: first-position win rate over valid non-tie answers, flip rate
    over pairs with both orders valid (their A/B verdicts differ), tie answer rate, valid answers. (Invalid
    answers are counted from the answers table by the judge.)"""
    first = nontie = flips = both = ties = valid = 0
    for ab, ba in labels:
        for lab in (ab, ba):
            if lab is None:
                continue
            valid += 1
            if lab == "tie":
                ties += 1
            else:
                nontie += 1
                first += lab == "1"
        vab, vba = verdict_from_position(ab, "AB"), verdict_from_position(ba, "BA")
        if vab is not None and vba is not None:
            both += 1
            flips += vab != vba
    return {"first_position_win_rate": first / nontie if nontie else None,
            "flip_rate": flips / both if both else None,
            "answer_tie_rate": ties / valid if valid else None,
            "n_valid_answers": valid, "n_pairs_both_orders": both}


#: The protocol name of the paper's single-order verdict (only the (A, B) order counts), reported next to
#: the combined both-orders verdict so agreement is comparable with the paper's Table 1.
FIRST_ORDER = "first_order"


class EvaluationJudge:
    """Pairwise evaluator over a dataset's pairs (judge ``<label>:evaluation``)."""

    kind = JudgeKind.EVALUATION
    setting = "evaluation"

    def __init__(self, client: Client, *, label: str, task: str, model: str | None = None,
                 both_orders: bool = True, combine: str = "tie", guidance: str | None = None,
                 justification_max_chars: int = 300, temperature: float = 0.6, top_p: float = 0.9,
                 max_tokens: int = 1024, seed: int | None = 0, name: str | None = None) -> None:
        if combine not in COMBINE_RULES:
            raise ValueError(f"unknown combine rule {combine!r}; known: {sorted(COMBINE_RULES)}")
        if combine == "strict" and not both_orders:
            raise ValueError("combine 'strict' needs both_orders")
        self.client, self.label, self.task = client, label, task
        self.model = model or client.backend.model_id
        self.name = name or f"{label}:evaluation"
        self.both_orders, self.combine = both_orders, combine
        self.guidance = (guidance or "").strip() or None
        self.max_chars = justification_max_chars
        self.sampling = dict(temperature=temperature, top_p=top_p, seed=seed)
        self.max_tokens = min(max_tokens, self.max_chars // 2 + 60)
        self.wording = task_wording(task)

    def request(self, ex: Example, first: Output, second: Output) -> Request:
        guidance = f" {self.guidance}" if self.guidance else ""
        words = {k: self.wording[k] for k in ("noun", "nouns", "Noun", "criterion")}
        prompt, fields = evaluation_layout(ex, self.task, first, second)  # per-answer references: doc QA
        return load_prompt(prompt, package=__package__).request(
            **words, **fields, guidance=guidance, json_schema=evaluation_schema(self.max_chars),
            max_tokens=self.max_tokens, prompt_type=PROMPT_TYPE, **self.sampling)

    def judge(self, ctx: JudgeContext) -> JudgeResult:
        """The :class:`~profile_align.judges.base.Judge` interface: every pair of the dataset."""
        ds = ctx.dataset
        return self.run(ds.examples, ds.outputs, ds.pairs)

    def run(self, examples: Sequence[Example], outputs: Sequence[Output], pairs: Sequence[Pair]) -> JudgeResult:
        exs = {e.id: e for e in examples}
        outs = {o.id: o for o in outputs}
        orders = ("AB", "BA") if self.both_orders else ("AB",)
        plan: list[tuple[Pair, str, Request]] = []
        for p in sorted(pairs, key=lambda p: p.example_id):  # same article in a row: prompt-prefix reuse
            a, b = outs[p.a], outs[p.b]
            for order in orders:
                first, second = (a, b) if order == "AB" else (b, a)
                plan.append((p, order, self.request(exs[p.example_id], first, second)))
        responses = self.client.run_all([x[2] for x in plan], desc=f"{self.name} ({len(pairs)} pairs x {len(orders)})",
                                        stage=STAGE)
        res = JudgeResult(self.name, JudgeKind.EVALUATION, self.model, "evaluation", label=self.label)
        rows: list[dict[str, Any]] = []
        labels: dict[str, dict[str, str | None]] = {}
        for (p, order, req), resp in zip(plan, responses):
            obj = parsed_json(self.client, resp)
            lab = parse_better(obj)
            res.failures.add(self.client, resp, lab is not None)
            just = obj.get("justification") if isinstance(obj, dict) else None
            # the instructions alone: the context, both texts (and, per answer, their references) removed
            shown = evaluation_layout(exs[p.example_id], self.task, outs[p.a], outs[p.b])[1].values()
            instr = [functools.reduce(lambda c, v: c.replace(v, ""), shown, m["content"]) for m in req.messages]
            rows.append(answer_row(STAGE, req, resp, item_id=p.id, variant=order, answer=lab, model=self.model,
                                   echo=isinstance(just, str) and is_echo(just, instr)))
            labels.setdefault(p.id, {})[order] = lab
        n_skipped = 0
        n_single = 0
        for p in pairs:
            got = labels.get(p.id, {})
            vab = verdict_from_position(got.get("AB"), "AB")
            vba = verdict_from_position(got.get("BA"), "BA") if self.both_orders else None
            v = combine_verdicts(vab, vba, self.combine)
            if v is None:
                n_skipped += 1
                continue
            if self.both_orders and (vab is None) != (vba is None):
                n_single += 1
            res.preferences.append(Preference(p.id, self.name, v, None,
                                              {"ab": got.get("AB"), "ba": got.get("BA")}))
        # the paper's protocol on the same answers: the (A, B) order alone (= the verdicts of a single-order run)
        res.protocols[FIRST_ORDER] = [
            Preference(p.id, self.name, v, None, {"ab": labels[p.id].get("AB")}) for p in pairs
            if (v := verdict_from_position(labels.get(p.id, {}).get("AB"), "AB")) is not None]
        if n_skipped:
            res.failures.reason("pair skipped: no valid verdict", n_skipped)
        if n_single:
            res.failures.reason("pair judged from one order only (the other was invalid)", n_single)
        res.answers = answers_frame(rows)
        ps = position_stats([(labels.get(p.id, {}).get("AB"), labels.get(p.id, {}).get("BA")) for p in pairs])
        n_tie = sum(pr.verdict == Verdict.TIE for pr in res.preferences)
        res.stats = {"both_orders": self.both_orders, "combine": self.combine, "guidance": self.guidance,
                     "n_pairs_asked": len(pairs), "n_pairs_skipped": n_skipped, "n_single_order": n_single,
                     "tie_rate": n_tie / len(res.preferences) if res.preferences else None,
                     "n_invalid": int((~res.answers["valid"].astype(bool)).sum()) if len(res.answers) else 0,
                     "prompt_version": ",".join(sorted({req.prompt_version for _, _, req in plan}))
                     or load_prompt("evaluation", package=__package__).tag, **ps}
        return res
