"""The Generative AI Paradox in evaluation (Oh et al. 2024, companion study) on TriviaQA.

A model *answers* each question (generation accuracy) and, separately, *judges* candidate answers to the
same question as correct or incorrect (evaluation accuracy). The candidates of a question are the model's
own answer and the gold answer, and, as an option, the answers other models gave to that question
(``others``) — never another question's answer. **Unfaithful evaluation** (spec section 7) is the share
of *correct evaluations* on the questions the model answered *wrongly*: it evaluates right what it could
not generate. It is reported over all candidates and per candidate (own, gold, others); the gold
candidate is the telling one (judging the gold answer correct on a question it got wrong).

Correctness of an answer = a SQuAD-normalised alias match (lower case, punctuation and articles removed,
white space collapsed): ``exact`` (normalised answer equals a normalised alias, the default) or
``contains`` (a normalised alias occurs as a whole-word span of the normalised answer).
"""

from __future__ import annotations

import json
import random
import re
import string
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import pandas as pd
from pydantic import BaseModel, Field

from ..diagnostics.answers import answer_row
from ..rundir import ANSWER_COLUMNS, RunDir
from ..stats.alignment import wilson_interval
from ..prompts import load_prompt
from .common import experiment_client, write_experiment

__all__ = ["TriviaItem", "normalize_answer", "is_correct", "load_trivia", "ParadoxResult", "run_paradox",
           "AnswerReply", "JudgeReply"]

Match = Literal["exact", "contains"]
_ARTICLES = re.compile(r"\b(a|an|the)\b", re.UNICODE)
_PUNCT = set(string.punctuation) | {"‘", "’", "“", "”", "–", "—", "…"}


def normalize_answer(s: str) -> str:
    """SQuAD normalisation: lower case, drop punctuation, drop articles, collapse white space."""
    s = s.lower()
    s = "".join(ch for ch in s if ch not in _PUNCT)
    s = _ARTICLES.sub(" ", s)
    return " ".join(s.split())


def is_correct(answer: str, aliases: Iterable[str], match: Match = "exact") -> bool:
    a = normalize_answer(answer)
    if not a:
        return False
    norm = {normalize_answer(x) for x in aliases} - {""}
    if match == "exact":
        return a in norm
    if match == "contains":
        padded = f" {a} "
        return any(f" {x} " in padded for x in norm)
    raise ValueError(f"match must be 'exact' or 'contains', got {match!r}")


@dataclass(frozen=True)
class TriviaItem:
    id: str
    question: str
    answers: tuple[str, ...]  # canonical answer first, then aliases

    @property
    def gold(self) -> str:
        return self.answers[0]


def load_trivia(source: str | Path | None = None, *, limit: int | None = None, seed: int = 0) -> list[TriviaItem]:
    """The shipped 150 TriviaQA questions (default) or a JSONL file with ``id``, ``question`` and
    ``answers`` (a list, canonical first) or ``answer``. ``limit`` keeps a seeded random sample."""
    from ..data.dataset import InvalidInputError

    if source is None or str(source) == "triviaqa":
        from ..data.loaders import read_shipped_rows

        rows, where = list(read_shipped_rows("triviaqa")), "shipped:triviaqa"
        numbered = list(enumerate(rows, start=1))
    else:
        where = str(source)
        numbered = []
        with open(source, encoding="utf-8") as fh:
            for i, text in enumerate(fh, start=1):
                if not text.strip():
                    continue
                try:
                    numbered.append((i, json.loads(text)))
                except json.JSONDecodeError as e:
                    raise InvalidInputError(where, i, None, f"invalid JSON: {e.msg}") from None
    items, seen = [], set()
    for line, row in numbered:
        for f in ("id", "question"):
            if not isinstance(row.get(f), str) or not row[f].strip():
                raise InvalidInputError(where, line, f, "missing or empty (expected a non-empty string)")
        answers = row.get("answers") or ([row["answer"]] if isinstance(row.get("answer"), str) else None)
        if not answers or not all(isinstance(a, str) for a in answers):
            raise InvalidInputError(where, line, "answers", "expected a non-empty list of strings (or 'answer')")
        if row["id"] in seen:
            raise InvalidInputError(where, line, "id", f"duplicate id {row['id']!r}")
        seen.add(row["id"])
        items.append(TriviaItem(row["id"], row["question"].strip(), tuple(a for a in answers if a.strip())))
    if limit is not None and limit < len(items):
        items = sorted(random.Random(seed).sample(items, limit), key=lambda it: it.id)
    return items


class AnswerReply(BaseModel):
    answer: str = Field(max_length=120, description="the answer only")


class JudgeReply(BaseModel):
    correct: bool


@dataclass
class ParadoxResult:
    model: str
    match: str
    per_question: pd.DataFrame
    summary: dict[str, Any]
    answers: pd.DataFrame = field(repr=False, default_factory=lambda: pd.DataFrame(columns=ANSWER_COLUMNS))
    evaluations: pd.DataFrame = field(repr=False, default_factory=pd.DataFrame)  # one row per judged candidate

    def to_frame(self) -> pd.DataFrame:
        return self.per_question

    def summary_frame(self) -> pd.DataFrame:
        rows = []
        for key, s in self.summary.items():
            if isinstance(s, dict) and {"value", "ci_low", "ci_high", "n"} <= set(s):
                rows.append({"measure": key, "value": s["value"], "ci_low": s["ci_low"], "ci_high": s["ci_high"],
                             "n": s["n"]})
        return pd.DataFrame(rows)


def _share(k: float, n: int) -> dict[str, Any]:
    lo, hi = wilson_interval(k, n)
    return {"value": (k / n) if n else float("nan"), "ci_low": lo, "ci_high": hi, "k": int(k), "n": int(n)}


def run_paradox(model: Any = "local", *, run_dir: str | Path | RunDir | None = None, source: str | Path | None = None,
                limit: int | None = None, seed: int = 0, match: Match = "exact", temperature: float = 0.6,
                top_p: float = 0.9, others: Sequence[Any] = (), cache_mode: str = "use",
                progress: bool = True) -> ParadoxResult:
    """Generation accuracy, evaluation accuracy and unfaithful evaluation of ``model`` on TriviaQA.

    ``others``: other models (model strings or clients) whose answers to the same questions are judged
    too, as extra candidates. Sampling follows the paper (temperature 0.6, top_p 0.9) with a fixed
    ``seed`` per request, so a rerun is answered from the cache. Results go to
    ``RUN_DIR/experiments/paradox/`` when ``run_dir`` is given.
    """
    from ..backends import RequestFailed

    rd = run_dir if isinstance(run_dir, RunDir) or run_dir is None else RunDir(run_dir, create=True)
    items = load_trivia(source, limit=limit, seed=seed)
    if not items:
        raise ValueError("no questions to ask")
    client = experiment_client(model, rd, cache_mode=cache_mode, progress=progress)
    model_name = getattr(client.backend, "model_id", str(model))
    other_clients = [experiment_client(o, rd, cache_mode=cache_mode, progress=progress, accounting=client.accounting)
                     for o in others]
    other_names = [getattr(c.backend, "model_id", str(o)) for c, o in zip(other_clients, others)]
    if len(set(other_names)) != len(other_names) or model_name in other_names:
        raise ValueError(f"other models must be distinct from each other and from {model_name!r}: {other_names}")
    p_ans, p_judge = (load_prompt(n, package=__package__) for n in ("paradox_answer", "paradox_judge"))
    common = dict(temperature=temperature, top_p=top_p, seed=seed, max_tokens=96)

    def req(prompt, fields, schema_model, ptype, max_tokens=96):
        return prompt.request(**fields, json_schema=schema_model.model_json_schema(), prompt_type=ptype,
                              **{**common, "max_tokens": max_tokens})

    answers_rows: list[dict[str, Any]] = []

    def answer_all(cl: Any, name: str) -> dict[str, str | None]:
        reqs = [req(p_ans, {"question": it.question}, AnswerReply, "paradox_answer") for it in items]
        got: dict[str, str | None] = {}
        for it, r, rq in zip(items, cl.run_all(reqs, desc=f"paradox: {name} answering"), reqs):
            parsed = None if isinstance(r, RequestFailed) else cl.parse(r, AnswerReply)
            got[it.id] = parsed.answer.strip() if parsed is not None and parsed.answer.strip() else None
            answers_rows.append(answer_row("paradox", rq, r, item_id=it.id, variant="answer", answer=got[it.id],
                                           valid=parsed is not None, model=name))
        return got

    own = answer_all(client, model_name)
    other_answers = {name: answer_all(c, name) for c, name in zip(other_clients, other_names)}

    # candidates: (item, kind, text, truth); kind = own | gold | other:<model>
    cand: list[tuple[TriviaItem, str, str, bool]] = []
    for it in items:
        if (mine := own[it.id]) is not None:
            cand.append((it, "own", mine, is_correct(mine, it.answers, match)))
        cand.append((it, "gold", it.gold, True))
        for name, ans in other_answers.items():
            if (theirs := ans[it.id]) is not None:
                cand.append((it, f"other:{name}", theirs, is_correct(theirs, it.answers, match)))
    judge_reqs = [req(p_judge, {"question": it.question, "candidate": c}, JudgeReply, "paradox_judge", 32)
                  for it, _, c, _t in cand]
    judge_resps = client.run_all(judge_reqs, desc="paradox: judging")
    evals = []
    for (it, kind, text, truth), r, rq in zip(cand, judge_resps, judge_reqs):
        parsed = None if isinstance(r, RequestFailed) else client.parse(r, JudgeReply)
        said = None if parsed is None else bool(parsed.correct)
        answers_rows.append(answer_row("paradox", rq, r, item_id=f"{it.id}:{kind}", variant=kind,
                                       answer=None if said is None else ("yes" if said else "no"),
                                       valid=parsed is not None, model=model_name))
        evals.append({"id": it.id, "candidate": kind, "text": text, "truly_correct": truth, "judged_correct": said,
                      "evaluation_right": None if said is None else said == truth})
    ev = pd.DataFrame(evals, columns=["id", "candidate", "text", "truly_correct", "judged_correct",
                                      "evaluation_right"])

    rows = []
    for it in items:
        o = own[it.id]
        mine = ev[ev["id"] == it.id].set_index("candidate")
        row = {"id": it.id, "question": it.question, "gold": it.gold, "model_answer": o,
               "generation_correct": None if o is None else is_correct(o, it.answers, match)}
        for kind in ("own", "gold", *(f"other:{n}" for n in other_names)):
            row[f"judged_{kind}_correct"] = mine.at[kind, "judged_correct"] if kind in mine.index else None
            row[f"eval_{kind}_right"] = mine.at[kind, "evaluation_right"] if kind in mine.index else None
        rows.append(row)
    df = pd.DataFrame(rows)

    def share(mask: pd.Series) -> dict[str, Any]:
        s = ev.loc[mask, "evaluation_right"].dropna().astype(bool)
        return _share(int(s.sum()), int(len(s)))

    gen = df["generation_correct"].dropna().astype(bool)
    wrong_ids = set(df.loc[df["generation_correct"] == False, "id"])  # noqa: E712 (None excluded)
    on_wrong = ev["id"].isin(wrong_ids)
    is_other = ev["candidate"].str.startswith("other:")
    n_judge_fail = int(ev["judged_correct"].isna().sum())
    summary: dict[str, Any] = {
        "model": model_name, "match": match, "n_questions": len(items), "seed": seed,
        "temperature": temperature, "top_p": top_p, "candidates": ["own", "gold", *(f"other:{n}" for n in other_names)],
        "generation_accuracy": _share(int(gen.sum()), int(len(gen))),
        "evaluation_accuracy": share(ev["candidate"].notna()),
        "evaluation_accuracy_own": share(ev["candidate"] == "own"),
        "evaluation_accuracy_gold": share(ev["candidate"] == "gold"),
        "unfaithful_evaluation": share(on_wrong),
        "unfaithful_evaluation_own": share(on_wrong & (ev["candidate"] == "own")),
        "unfaithful_evaluation_gold": share(on_wrong & (ev["candidate"] == "gold")),
        "failures": {"generation": int(sum(v is None for a in (own, *other_answers.values()) for v in a.values())),
                     "judgement": n_judge_fail,
                     "generation_requests": len(items) * (1 + len(other_names)),
                     "judgement_requests": len(judge_reqs),
                     **{f"generation_other:{n}": int(sum(v is None for v in a.values()))
                        for n, a in other_answers.items()}},
        "prompt_versions": {"paradox_answer": p_ans.tag, "paradox_judge": p_judge.tag},
    }
    if other_names:
        summary["evaluation_accuracy_others"] = share(is_other)
        summary["unfaithful_evaluation_others"] = share(on_wrong & is_other)
        for n, a in other_answers.items():
            ok = [is_correct(v, it.answers, match) for it in items if (v := a[it.id]) is not None]
            summary[f"generation_accuracy_other:{n}"] = _share(sum(ok), len(ok))
    answers = pd.DataFrame(answers_rows, columns=ANSWER_COLUMNS)
    result = ParadoxResult(model_name, match, df, summary, answers)
    result.evaluations = ev
    if rd is not None:
        write_experiment(rd, "paradox", summary, {"per_question": df, "evaluations": ev,
                                                  "summary": result.summary_frame()})
        rd.replace_answers("paradox", answers)
        client.accounting.write(rd / "experiments" / "paradox" / "usage.json")
        for k, oc in enumerate(other_clients, start=1):  # a client passed in with its own accounting
            if oc.accounting is not client.accounting:
                oc.accounting.write(rd / "experiments" / "paradox" / f"usage_other_{k}.json")
    return result
