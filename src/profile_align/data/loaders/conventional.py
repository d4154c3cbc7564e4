"""Conventional preference layouts, read in their original schemas and detected without ``--format``.

- ``pairwise``: ``prompt``, ``response_a``, ``response_b``, ``winner`` (optional ``id``, ``model_a``,
  ``model_b``). ``winner`` labels are declared (a/b/tie spellings, or ``--label-map 0=tie,1=a,2=b``).
- ``dpo``: ``prompt``, ``chosen``, ``rejected`` (texts, or chat message lists whose assistant turns are
  the response). A seeded coin per pair puts the chosen text in position A or B, so that position
  carries no information.
- ``arena``: Chatbot Arena battles: ``model_a``, ``model_b``, ``winner`` (``model_a``, ``model_b``,
  ``tie``, ``tie (bothbad)``), ``conversation_a``/``conversation_b`` (message lists; the user turns are
  the input, the assistant turns the output).
- ``arena_55k``: the Chatbot Arena human-preference-55k release: ``prompt``, ``response_a``,
  ``response_b`` (JSON lists of the turns' texts), ``winner_model_a``/``winner_model_b``/``winner_tie`` (0/1).
- ``alpaca_eval``: AlpacaEval annotations: ``instruction``, ``output_1``, ``output_2``, ``preference``
  (1 = output_1, 2 = output_2, 1.5 = tie; fractions in between from weighted annotators, strength
  ``|preference - 1.5| * 2``). Several annotations of the same two outputs are one pair, majority vote
  (a split vote is a tie). Rows with a null preference are dropped and counted.
- ``annotated_pairs``: the AnnotatedPairs JSON of Feedback Forensics / Inverse Constitutional AI: one
  object with ``metadata`` (``default_annotator``), ``annotators`` and ``comparisons`` (``prompt``,
  ``response_a.text``, ``response_b.text``, ``annotations.<annotator id>.pref`` a/b). The default
  annotator is judge ``human``; ``judges`` names others by annotator id or name.
- ``ultrafeedback``: UltraFeedback rated completions: ``instruction``, ``completions`` (each with
  ``response``, ``model`` and ``fine-grained_score``, or ``annotations.<aspect>.Rating``). Every two
  completions of an instruction form a pair ordered by rating; equal ratings are ties (dropped, counted).

Examples: one per row (id: ``id`` when given, else ``row<N>``, the row's ordinal in the file); AlpacaEval groups rows by instruction
(repeated annotations of a pair are votes). ``judges`` (more judges' label columns) and ``group_by`` (metadata columns) are
read where the docstring of each class says so.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from ..dataset import InvalidInputError
from ..model import Verdict, text_hash
from .builder import VoteTable, flip
from .columns import check_declared, declared_verdict, pair_extras, row_groups
from .io import Record, get_field
from .registry import LoadContext, register_format

__all__ = ["PairwiseWinner", "Dpo", "Arena", "Arena55k", "AlpacaEval", "AnnotatedPairs", "UltraFeedback"]


def _row_id(rec: Record, ctx: LoadContext, fieldname: str | None = "id") -> str:
    if fieldname is not None and rec.data.get(fieldname) not in (None, ""):
        rid = str(get_field(rec, fieldname, (str, int)))
        ctx.claim(rec, fieldname, rid)
        return rid
    return f"row{ctx.report.rows_read}"  # the row's ordinal: the same in a CSV and a JSONL copy


def _chat(rec: Record, fieldname: str, role: str) -> str:
    """A text cell, or the ``content`` of the ``role`` turns of a chat message list (joined)."""
    value = get_field(rec, fieldname, (str, list))
    if isinstance(value, str):
        return value
    turns = []
    for i, m in enumerate(value):
        if not isinstance(m, Mapping) or not isinstance(m.get("content"), str):
            raise rec.fail(f"{fieldname}.{i}", "expected a message {\"role\": ..., \"content\": \"...\"}")
        if m.get("role") == role:
            turns.append(m["content"])
    text = "\n\n".join(t for t in turns if t.strip())
    if not text:
        raise rec.fail(fieldname, f"no {role} turn with text in the message list")
    return text


class _SideLabelled:
    """Rows with a prompt, two responses in given positions and a declared winner label."""

    label_columns = True
    judge_columns = True
    group_columns = True
    winner = "winner"
    id_field: str | None  # set by each format

    def texts(self, rec: Record) -> tuple[str, str, str, str | None, str | None]:
        raise NotImplementedError

    def parse(self, rec: Record, ctx: LoadContext) -> Any:
        rid = _row_id(rec, ctx, self.id_field)
        prompt, ta, tb, ma, mb = self.texts(rec)
        verdict = declared_verdict(rec, self.winner, ctx)
        judges, groups = pair_extras(rec, ctx)
        if verdict is None:  # undeclared label: listed with the others at the end
            return None
        return rid, prompt, ta, tb, ma, mb, verdict, judges, groups

    def build(self, items: list[Any], ctx: LoadContext) -> None:
        check_declared(ctx)
        b = ctx.builder
        for rid, prompt, ta, tb, ma, mb, verdict, judges, groups in items:
            ex = b.example(rid, prompt)
            if ex is None:
                continue
            a = b.output(ex, ta, key="a", producer=ma)
            o = b.output(ex, tb, key="b", producer=mb)
            b.pair(ex, a, o, verdict, judges=judges, groups=groups)


def _pairwise(row: Mapping[str, Any]) -> bool:
    return {"prompt", "response_a", "response_b", "winner"} <= row.keys()


@register_format("pairwise", detect=_pairwise, task="helpful_response",
                 description="prompt, response_a, response_b, winner (declared labels; optional id, model_a, model_b)")
class PairwiseWinner(_SideLabelled):
    id_field = "id"

    def texts(self, rec: Record) -> tuple[str, str, str, str | None, str | None]:
        models = [get_field(rec, f, (str, int), required=False, nonempty=False) for f in ("model_a", "model_b")]
        return (get_field(rec, "prompt", str), get_field(rec, "response_a", str), get_field(rec, "response_b", str),
                *(str(m) if m not in (None, "") else None for m in models))


def _arena(row: Mapping[str, Any]) -> bool:
    return {"model_a", "model_b", "winner", "conversation_a", "conversation_b"} <= row.keys()


@register_format("arena", detect=_arena, task="helpful_response",
                 description="Chatbot Arena battles (model_a, model_b, winner incl. 'tie (bothbad)', conversation_a/b)")
class Arena(_SideLabelled):
    id_field = None  # question ids repeat across battles: rows are identified by their line

    def texts(self, rec: Record) -> tuple[str, str, str, str | None, str | None]:
        prompt = _chat(rec, "conversation_a", "user")
        if _chat(rec, "conversation_b", "user") != prompt:
            raise rec.fail("conversation_b", "the user turns differ from conversation_a's")
        return (prompt, _chat(rec, "conversation_a", "assistant"), _chat(rec, "conversation_b", "assistant"),
                str(get_field(rec, "model_a", (str, int))), str(get_field(rec, "model_b", (str, int))))


def _arena_55k(row: Mapping[str, Any]) -> bool:
    return {"prompt", "response_a", "response_b", "winner_model_a", "winner_model_b", "winner_tie"} <= row.keys()


def _turns(rec: Record, fieldname: str) -> str:
    """A cell of the 55k release: a JSON list of the turns' texts (``null`` for a missing turn), joined."""
    value = get_field(rec, fieldname, str)
    if not value.lstrip().startswith("["):
        return value
    try:
        turns = json.loads(value)
    except json.JSONDecodeError as e:
        raise rec.fail(fieldname, f"invalid JSON list of turns: {e.msg}") from None
    if not isinstance(turns, list) or not all(t is None or isinstance(t, str) for t in turns):
        raise rec.fail(fieldname, "expected a JSON list of strings")
    text = "\n\n".join(t for t in turns if t and t.strip())
    if not text:
        raise rec.fail(fieldname, "empty text")
    return text


@register_format("arena_55k", detect=_arena_55k, task="helpful_response",
                 description="Chatbot Arena human-preference-55k: prompt/response_a/response_b (JSON lists of turns), "
                             "winner_model_a/winner_model_b/winner_tie")
class Arena55k:
    judge_columns = False
    group_columns = True

    def parse(self, rec: Record, ctx: LoadContext) -> Any:
        rid = _row_id(rec, ctx)
        texts = [_turns(rec, f) for f in ("prompt", "response_a", "response_b")]
        models = [str(get_field(rec, f, (str, int))) for f in ("model_a", "model_b")] if {"model_a", "model_b"} <= \
            rec.data.keys() else [None, None]
        flags = {}
        for f in ("winner_model_a", "winner_model_b", "winner_tie"):
            v = get_field(rec, f, (str, int, float))
            if str(v).strip() not in ("0", "1", "0.0", "1.0"):
                raise rec.fail(f, f"expected 0 or 1, got {v!r}")
            flags[f] = float(v) == 1
        if sum(flags.values()) != 1:
            raise rec.fail("winner_tie", "exactly one of winner_model_a, winner_model_b, winner_tie must be 1")
        verdict = Verdict.A if flags["winner_model_a"] else Verdict.B if flags["winner_model_b"] else Verdict.TIE
        return rid, *texts, *models, verdict, row_groups(rec, ctx)

    def build(self, items: list[Any], ctx: LoadContext) -> None:
        b = ctx.builder
        for rid, prompt, ta, tb, ma, mb, verdict, groups in items:
            ex = b.example(rid, prompt)
            if ex is None:
                continue
            b.pair(ex, b.output(ex, ta, key="a", producer=ma), b.output(ex, tb, key="b", producer=mb), verdict,
                   groups=groups)


def _dpo(row: Mapping[str, Any]) -> bool:
    return {"prompt", "chosen", "rejected"} <= row.keys()


@register_format("dpo", detect=_dpo, task="helpful_response",
                 description="DPO pairs: prompt, chosen, rejected (texts or chat message lists); position by a seeded coin")
class Dpo:
    judge_columns = False
    group_columns = True

    def parse(self, rec: Record, ctx: LoadContext) -> Any:
        rid = _row_id(rec, ctx)
        prompt = get_field(rec, "prompt", (str, list))
        if isinstance(prompt, list):
            prompt = _chat(rec, "prompt", "user")
        return rid, prompt, _chat(rec, "chosen", "assistant"), _chat(rec, "rejected", "assistant"), row_groups(rec, ctx)

    def build(self, items: list[Any], ctx: LoadContext) -> None:
        b = ctx.builder
        for rid, prompt, chosen, rejected, groups in items:
            ex = b.example(rid, prompt)
            if ex is None:
                continue
            c, r = b.output(ex, chosen, key="chosen"), b.output(ex, rejected, key="rejected")
            pid = b.pair_id(ex, c, r)
            if flip(pid, ctx.options.seed):
                b.pair(ex, r, c, Verdict.B, pair_id=pid, groups=groups)
            else:
                b.pair(ex, c, r, Verdict.A, pair_id=pid, groups=groups)


def _alpaca(row: Mapping[str, Any]) -> bool:
    return {"instruction", "output_1", "output_2", "preference"} <= row.keys()


@register_format("alpaca_eval", detect=_alpaca, task="helpful_response",
                 description="AlpacaEval annotations: instruction, output_1, output_2, preference (1, 2, 1.5 = tie)")
class AlpacaEval:
    judge_columns = False
    group_columns = True

    def parse(self, rec: Record, ctx: LoadContext) -> Any:
        instruction = get_field(rec, "instruction", str)
        o1, o2 = get_field(rec, "output_1", str), get_field(rec, "output_2", str)
        groups = row_groups(rec, ctx)
        raw = get_field(rec, "preference", (str, int, float), required=False, nonempty=False)
        if raw is None or (isinstance(raw, str) and not raw.strip()):
            return instruction, o1, o2, None, [None, None], groups  # dropped (and counted) in build
        try:
            pref = float(raw)
        except ValueError:
            raise rec.fail("preference", f"expected a number from 1 to 2, got {raw!r}") from None
        if not 1 <= pref <= 2:
            raise rec.fail("preference", f"out of range: expected 1 (output_1) to 2 (output_2), got {raw!r}")
        gens = [get_field(rec, f, (str, int), required=False, nonempty=False) for f in ("generator_1", "generator_2")]
        return instruction, o1, o2, pref, gens, groups

    def build(self, items: list[Any], ctx: LoadContext) -> None:
        b, votes = ctx.builder, VoteTable()
        for instruction, o1, o2, pref, gens, groups in items:
            if pref is None:
                ctx.drop("AlpacaEval annotation without a preference (null)")
                continue
            ex = b.example("i" + text_hash(instruction), instruction)
            if ex is None:
                continue
            a = b.output(ex, o1, producer=str(gens[0]) if gens[0] not in (None, "") else None)
            o = b.output(ex, o2, producer=str(gens[1]) if gens[1] not in (None, "") else None)
            if a == o:
                b.identical += 1
                continue
            margin = (1.5 - pref) * 2  # +1: output_1, -1: output_2
            votes.add(ex, a, o, 1 if margin > 0 else -1 if margin < 0 else 0, margin, groups=groups)
        votes.emit(b)


@dataclass(frozen=True)
class _Sub(Record):
    """One comparison inside an AnnotatedPairs object: errors name ``comparisons.<i>.<field>``."""

    prefix: str = ""

    def fail(self, fieldname: str | None, reason: str) -> InvalidInputError:
        return InvalidInputError(self.path, self.line, f"{self.prefix}.{fieldname}" if fieldname else self.prefix,
                                 reason)


def _annotated(row: Mapping[str, Any]) -> bool:
    return {"metadata", "annotators", "comparisons"} <= row.keys() and isinstance(row["comparisons"], list)


@register_format("annotated_pairs", detect=_annotated, task="helpful_response",
                 description="AnnotatedPairs JSON (Feedback Forensics / Inverse Constitutional AI); more annotators via --judges")
class AnnotatedPairs:
    label_columns = True
    judge_columns = True
    group_columns = True

    def expand(self, rec: Record, ctx: LoadContext) -> Iterator[Record]:
        data = rec.data
        if rec.error is not None or not isinstance(data, Mapping) or not _annotated(data):
            yield rec  # reported as malformed by the row loop
            return
        annotators = data.get("annotators") or {}
        default = (data.get("metadata") or {}).get("default_annotator")
        if not isinstance(annotators, Mapping) or default not in annotators:
            raise rec.fail("metadata.default_annotator", f"not one of the annotators ({', '.join(map(str, annotators))})")
        by_name = {str(v.get("name")): k for k, v in annotators.items() if isinstance(v, Mapping) and v.get("name")}
        wanted = {}
        for judge, ref in (ctx.options.judges or {}).items():
            key = ref if ref in annotators else by_name.get(ref)
            if key is None:
                names = sorted(set(map(str, annotators)) | set(by_name))
                raise rec.fail("annotators", f"judge {judge!r}: no annotator {ref!r} (ids and names: {', '.join(names)})")
            wanted[judge] = key
        ctx.state["annotators"] = (default, wanted)
        for i, comp in enumerate(data["comparisons"]):
            yield _Sub(rec.path, rec.line, comp, prefix=f"comparisons.{i}")

    def _pref(self, rec: Record, ctx: LoadContext, annotator: str) -> Verdict | None | str:
        ann = get_field(rec, f"annotations.{annotator}", dict, required=False)
        if ann is None:
            return "absent"
        value = ann.get("pref")
        if value is None:
            return str(ann.get("no_pref_reason") or "no preference")
        return declared_verdict(rec, f"annotations.{annotator}.pref", ctx, value)

    def parse(self, rec: Record, ctx: LoadContext) -> Any:
        default, wanted = ctx.state["annotators"]
        cid = str(get_field(rec, "id", (str, int)))
        ctx.claim(rec, "id", cid)
        prompt = get_field(rec, "prompt", str, required=False) or ""
        ta, tb = get_field(rec, "response_a.text", str), get_field(rec, "response_b.text", str)
        ma = get_field(rec, "response_a.model", (str, int), required=False)
        mb = get_field(rec, "response_b.model", (str, int), required=False)
        human = self._pref(rec, ctx, default)
        judges = {}
        for judge, key in wanted.items():
            v = self._pref(rec, ctx, key)
            if isinstance(v, Verdict):
                judges[judge] = v
        groups = {col: str(get_field(rec, f"metadata.{col}", (str, int, float), nonempty=False))
                  for col in ctx.options.group_by}
        if human is None:
            return None
        return cid, prompt, ta, tb, ma, mb, human, judges, groups

    def build(self, items: list[Any], ctx: LoadContext) -> None:
        check_declared(ctx)
        b = ctx.builder
        for cid, prompt, ta, tb, ma, mb, verdict, judges, groups in items:
            if isinstance(verdict, str):
                ctx.drop(f"comparison without a preference of the default annotator ({verdict})")
                continue
            ex = b.example(cid, prompt)
            if ex is None:
                continue
            a = b.output(ex, ta, key="a", producer=str(ma) if ma is not None else None)
            o = b.output(ex, tb, key="b", producer=str(mb) if mb is not None else None)
            b.pair(ex, a, o, verdict, judges=judges, groups=groups)


def _ultrafeedback(row: Mapping[str, Any]) -> bool:
    return {"instruction", "completions"} <= row.keys() and isinstance(row["completions"], list)


def _rating(rec: Record, i: int) -> float | None:
    """A completion's rating: ``fine-grained_score``, else the mean of its aspect ratings (``N/A`` skipped)."""
    score = get_field(rec, f"completions.{i}.fine-grained_score", (int, float, str), required=False)
    if score is None:
        anns = get_field(rec, f"completions.{i}.annotations", dict)
        vals = []
        for aspect in anns:
            r = get_field(rec, f"completions.{i}.annotations.{aspect}.Rating", (int, float, str), required=False)
            if r is None or str(r).strip().upper() == "N/A":
                continue
            vals.append(r)
        if not vals:
            return None
        score_vals = []
        for r in vals:
            try:
                score_vals.append(float(r))
            except ValueError:
                raise rec.fail(f"completions.{i}.annotations", f"expected numeric ratings, got {r!r}") from None
        return sum(score_vals) / len(score_vals)
    try:
        return float(score)
    except ValueError:
        raise rec.fail(f"completions.{i}.fine-grained_score", f"expected a number, got {score!r}") from None


@register_format("ultrafeedback", detect=_ultrafeedback, task="helpful_response",
                 description="UltraFeedback rated completions: pairs by rating (fine-grained_score), equal ratings are ties")
class UltraFeedback:
    judge_columns = False
    group_columns = True

    def parse(self, rec: Record, ctx: LoadContext) -> Any:
        instruction = get_field(rec, "instruction", str)
        comps = get_field(rec, "completions", list)
        rated = []
        for i in range(len(comps)):
            text = get_field(rec, f"completions.{i}.response", str)
            model = get_field(rec, f"completions.{i}.model", (str, int), required=False)
            r = _rating(rec, i)
            if r is None:
                ctx.drop("UltraFeedback completion without a rating")
                continue
            rated.append((text, str(model) if model is not None else None, r))
        return _row_id(rec, ctx), instruction, rated, row_groups(rec, ctx)

    def build(self, items: list[Any], ctx: LoadContext) -> None:
        b = ctx.builder
        for rid, instruction, rated, groups in items:
            ex = b.example(rid, instruction)
            if ex is None:
                continue
            per_output: dict[str, list[float]] = {}
            for text, model, r in rated:
                oid = b.output(ex, text, key=model, producer=model)
                per_output.setdefault(oid, []).append(r)
            for oid, rs in per_output.items():
                if len(rs) > 1:
                    ctx.drop("completion identical to another of the same instruction (merged, ratings averaged)",
                             len(rs) - 1)
            b.rated_pairs(ex, {o: sum(rs) / len(rs) for o, rs in per_output.items()}, ctx.options.seed,
                          groups=groups)

