"""The Generative AI Paradox in evaluation (Oh et al. 2024, companion study) on TriviaQA.

A model *answers* each question (generation accuracy) and, separately, *judges* candidate answers as
correct or incorrect (evaluation accuracy). Three candidates per question: the model's own answer, the
gold answer and a distractor (the gold answer of another question that matches none of this question's
aliases). **Unfaithful evaluation** is the share of the questions the model answered *wrongly* on which it
nevertheless judged all candidates correctly — it "knows" the answer when evaluating but not when generating.

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
            for i, line in enumerate(fh, start=1):
                if not line.strip():
                    continue
                try:
                    numbered.append((i, json.loads(line)))
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


def _distractors(items: Sequence[TriviaItem], seed: int) -> dict[str, str]:
    """For each question, the gold answer of another question that is not one of its aliases."""
    rng = random.Random(seed)
    out = {}
    golds = [it.gold for it in items]
    for it in items:
        pool = [g for g in golds if not is_correct(g, it.answers, "exact")]
        out[it.id] = rng.choice(pool) if pool else ""
    return out


@dataclass
class ParadoxResult:
    model: str
    match: str
    per_question: pd.DataFrame
    summary: dict[str, Any]
    answers: pd.DataFrame = field(repr=False, default_factory=lambda: pd.DataFrame(columns=ANSWER_COLUMNS))

    def to_frame(self) -> pd.DataFrame:
        return self.per_question

    def summary_frame(self) -> pd.DataFrame:
        rows = []
        for key in ("generation_accuracy", "evaluation_accuracy", "evaluation_accuracy_own",
                    "evaluation_accuracy_gold", "evaluation_accuracy_distractor", "unfaithful_evaluation"):
            s = self.summary[key]
            rows.append({"measure": key, "value": s["value"], "ci_low": s["ci_low"], "ci_high": s["ci_high"],
                         "n": s["n"]})
        return pd.DataFrame(rows)


def _share(k: float, n: int) -> dict[str, Any]:
    lo, hi = wilson_interval(k, n)
    return {"value": (k / n) if n else float("nan"), "ci_low": lo, "ci_high": hi, "k": int(k), "n": int(n)}


def run_paradox(model: Any = "local", *, run_dir: str | Path | RunDir | None = None, source: str | Path | None = None,
                limit: int | None = None, seed: int = 0, match: Match = "exact", temperature: float = 0.6,
                top_p: float = 0.9, cache_mode: str = "use", progress: bool = True) -> ParadoxResult:
    """Generation accuracy, evaluation accuracy and unfaithful evaluation of ``model`` on TriviaQA.

    Sampling follows the paper (temperature 0.6, top_p 0.9) with a fixed ``seed`` per request, so a rerun
    is answered from the cache. Results go to ``RUN_DIR/experiments/paradox/`` when ``run_dir`` is given.
    """
    from ..backends import RequestFailed

    rd = run_dir if isinstance(run_dir, RunDir) or run_dir is None else RunDir(run_dir, create=True)
    items = load_trivia(source, limit=limit, seed=seed)
    if not items:
        raise ValueError("no questions to ask")
    client = experiment_client(model, rd, cache_mode=cache_mode, progress=progress)
    model_name = getattr(client.backend, "model_id", str(model))
    p_ans, p_judge = (load_prompt(n, package=__package__) for n in ("paradox_answer", "paradox_judge"))
    common = dict(temperature=temperature, top_p=top_p, seed=seed, max_tokens=96)

    def req(prompt, fields, schema_model, ptype, max_tokens=96):
        return prompt.request(**fields, json_schema=schema_model.model_json_schema(), prompt_type=ptype,
                              **{**common, "max_tokens": max_tokens})

    gen_reqs = [req(p_ans, {"question": it.question}, AnswerReply, "paradox_answer") for it in items]
    gen_resps = client.run_all(gen_reqs, desc="paradox: answering")
    answers_rows: list[dict[str, Any]] = []
    own: dict[str, str | None] = {}
    for it, r, rq in zip(items, gen_resps, gen_reqs):
        parsed = None if isinstance(r, RequestFailed) else client.parse(r, AnswerReply)
        own[it.id] = parsed.answer.strip() if parsed is not None and parsed.answer.strip() else None
        answers_rows.append(answer_row("paradox", rq, r, item_id=it.id, variant="answer", answer=own[it.id],
                                       valid=parsed is not None, model=model_name))

    distractor = _distractors(items, seed)
    cand: list[tuple[TriviaItem, str, str]] = []  # (item, kind, candidate text)
    for it in items:
        if own[it.id] is not None:
            cand.append((it, "own", own[it.id]))
        cand.append((it, "gold", it.gold))
        if distractor[it.id]:
            cand.append((it, "distractor", distractor[it.id]))
    judge_reqs = [req(p_judge, {"question": it.question, "candidate": c}, JudgeReply, "paradox_judge", 32)
                  for it, _, c in cand]
    judge_resps = client.run_all(judge_reqs, desc="paradox: judging")
    verdicts: dict[tuple[str, str], bool | None] = {}
    for (it, kind, _c), r, rq in zip(cand, judge_resps, judge_reqs):
        parsed = None if isinstance(r, RequestFailed) else client.parse(r, JudgeReply)
        verdicts[(it.id, kind)] = None if parsed is None else bool(parsed.correct)
        label = None if parsed is None else ("yes" if parsed.correct else "no")
        answers_rows.append(answer_row("paradox", rq, r, item_id=f"{it.id}:{kind}", variant=kind, answer=label,
                                       valid=parsed is not None, model=model_name))

    rows = []
    for it in items:
        o = own[it.id]
        gen_ok = None if o is None else is_correct(o, it.answers, match)
        truth = {"own": gen_ok, "gold": True, "distractor": False}
        judged = {}
        for kind in ("own", "gold", "distractor"):
            v = verdicts.get((it.id, kind))
            judged[kind] = None if v is None or truth[kind] is None else (v == truth[kind])
        n_valid = sum(v is not None for v in judged.values())
        expected = 1 + (o is not None) + bool(distractor[it.id])
        all_ok = None if n_valid < expected or n_valid == 0 else all(judged[k] for k in judged if judged[k] is not None)
        rows.append({
            "id": it.id, "question": it.question, "gold": it.gold, "model_answer": o,
            "generation_correct": gen_ok, "distractor": distractor[it.id] or None,
            "judged_own_correct": verdicts.get((it.id, "own")), "judged_gold_correct": verdicts.get((it.id, "gold")),
            "judged_distractor_correct": verdicts.get((it.id, "distractor")),
            "eval_own_right": judged["own"], "eval_gold_right": judged["gold"],
            "eval_distractor_right": judged["distractor"], "eval_all_right": all_ok,
        })
    df = pd.DataFrame(rows)

    def col(name):
        s = df[name].dropna().astype(bool)
        return int(s.sum()), int(len(s))

    eval_cols = ["eval_own_right", "eval_gold_right", "eval_distractor_right"]
    stacked = pd.concat([df[c] for c in eval_cols]).dropna().astype(bool)
    wrong = df[df["generation_correct"] == False]  # noqa: E712 (None excluded)
    unf = wrong["eval_all_right"].dropna().astype(bool)
    n_gen_fail = int(df["model_answer"].isna().sum())
    n_judge_fail = int(sum(v is None for v in verdicts.values()))
    summary = {
        "model": model_name, "match": match, "n_questions": len(items), "seed": seed,
        "temperature": temperature, "top_p": top_p,
        "generation_accuracy": _share(*col("generation_correct")),
        "evaluation_accuracy": _share(int(stacked.sum()), int(len(stacked))),
        "evaluation_accuracy_own": _share(*col("eval_own_right")),
        "evaluation_accuracy_gold": _share(*col("eval_gold_right")),
        "evaluation_accuracy_distractor": _share(*col("eval_distractor_right")),
        "unfaithful_evaluation": _share(int(unf.sum()), int(len(unf))),
        "failures": {"generation": n_gen_fail, "judgement": n_judge_fail,
                     "generation_requests": len(gen_reqs), "judgement_requests": len(judge_reqs)},
        "prompt_versions": {"paradox_answer": p_ans.tag, "paradox_judge": p_judge.tag},
    }
    answers = pd.DataFrame(answers_rows, columns=ANSWER_COLUMNS)
    result = ParadoxResult(model_name, match, df, summary, answers)
    if rd is not None:
        write_experiment(rd, "paradox", summary, {"per_question": df, "summary": result.summary_frame()})
        rd.replace_answers("paradox", answers)
        client.accounting.write(rd / "experiments" / "paradox" / "usage.json")
    return result
