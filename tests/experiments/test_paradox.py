import json
import re

import pytest

from profile_align.backends import Client
from profile_align.backends.fake import FakeBackend
from profile_align.experiments.paradox import is_correct, load_trivia, normalize_answer, run_paradox
from profile_align.rundir import RunDir


@pytest.mark.parametrize("raw,norm", [
    ("The Beatles!", "beatles"),
    ("  A  Tale of Two Cities. ", "tale of two cities"),
    ("Rock 'n' Roll", "rock n roll"),
    ("Théâtre", "théâtre"),
    ("an", ""),
])
def test_normalize_answer(raw, norm):
    assert normalize_answer(raw) == norm


def test_is_correct_exact_and_contains():
    aliases = ["Tequila", "TEQUILA", "Tequilla"]
    assert is_correct("tequila.", aliases)
    assert is_correct("The Tequila", aliases)
    assert not is_correct("It is tequila", aliases)
    assert is_correct("It is tequila", aliases, match="contains")
    assert not is_correct("tequilas", aliases, match="contains")  # whole words only
    assert not is_correct("", aliases)


def test_load_trivia_shipped_and_errors(tmp_path):
    items = load_trivia()
    assert len(items) == 150 and items[0].gold == items[0].answers[0]
    assert len(load_trivia(limit=10, seed=1)) == 10
    bad = tmp_path / "t.jsonl"
    bad.write_text(json.dumps({"id": "q1", "question": "Why?", "answers": []}) + "\n")
    with pytest.raises(ValueError, match=r"line 1.*'answers'"):
        load_trivia(bad)


def fake_model(items, knows_when_generating, judge="perfect", seen=None, wrong="Zanzibar Quux"):
    """Answers correctly only the questions in ``knows_when_generating`` (else a wrong answer of its own);
    as a judge it is ``perfect`` (knows every answer) or a ``yes``-sayer. ``seen`` collects the
    (question id, candidate) pairs it was asked to judge."""
    by_q = {it.question: it for it in items}

    def rule(req):
        text = req.messages[-1]["content"]
        q = re.search(r"Question: (.*)", text).group(1).strip()
        it = by_q[q]
        if req.prompt_type == "paradox_answer":
            return {"answer": it.gold if it.id in knows_when_generating else f"{wrong} {it.id}"}
        cand = re.search(r"Proposed answer: (.*)", text).group(1).strip()
        if seen is not None:
            seen.append((it.id, cand))
        return {"correct": True if judge == "yes" else is_correct(cand, it.answers)}

    return FakeBackend(rule=rule)


def test_paradox_known_result(tmp_path):
    items = load_trivia(limit=20, seed=0)
    knows = {it.id for it in items[:5]}
    seen = []
    backend = fake_model(items, knows, seen=seen)
    client = Client(backend, cache=tmp_path / "c.sqlite", progress=False)
    res = run_paradox(client, run_dir=tmp_path / "run", limit=20, seed=0)
    s = res.summary
    assert s["generation_accuracy"]["k"] == 5 and s["generation_accuracy"]["n"] == 20
    # a perfect judge: every evaluation right, so every evaluation on a wrongly answered question is right
    assert s["evaluation_accuracy"]["value"] == 1.0
    assert (s["unfaithful_evaluation"]["k"], s["unfaithful_evaluation"]["n"]) == (30, 30)  # 15 questions x 2
    assert (s["unfaithful_evaluation_gold"]["k"], s["unfaithful_evaluation_gold"]["n"]) == (15, 15)
    assert s["failures"]["generation"] == 0 and s["failures"]["judgement"] == 0
    # the candidates of a question are its own answer and its gold answer, never another question's answer
    by_id = {it.id: it for it in items}
    own = dict(zip(res.per_question["id"], res.per_question["model_answer"]))
    assert all(c in (by_id[q].gold, own[q]) for q, c in seen)
    assert len(seen) == 35  # 40 requests; the 5 own answers equal to the gold are the same request, asked once
    assert s["candidates"] == ["own", "gold"] and "evaluation_accuracy_distractor" not in s
    rd = RunDir(tmp_path / "run")
    assert (rd / "experiments/paradox/summary.json").exists()
    assert (rd / "experiments/paradox/evaluations.csv").exists()
    ans = rd.read_answers()
    assert set(ans["prompt_type"]) == {"paradox_answer", "paradox_judge"} and len(ans) == 20 + 40
    # resume: a rerun is answered from the cache
    calls = backend.calls
    run_paradox(client, run_dir=tmp_path / "run", limit=20, seed=0)
    assert backend.calls == calls


def test_unfaithful_evaluation_per_candidate_with_a_yes_sayer(tmp_path):
    """A judge that calls every answer correct is right on the gold answer always and on its own answer
    only where that answer is correct: on the 15 wrongly answered questions, 15 of 30 evaluations."""
    items = load_trivia(limit=20, seed=0)
    knows = {it.id for it in items[:5]}
    client = Client(fake_model(items, knows, judge="yes"), cache=tmp_path / "c.sqlite", progress=False)
    s = run_paradox(client, limit=20, seed=0).summary
    assert (s["unfaithful_evaluation_own"]["k"], s["unfaithful_evaluation_own"]["n"]) == (0, 15)
    assert (s["unfaithful_evaluation_gold"]["k"], s["unfaithful_evaluation_gold"]["n"]) == (15, 15)
    assert s["unfaithful_evaluation"]["value"] == pytest.approx(0.5)
    assert s["evaluation_accuracy_own"]["value"] == pytest.approx(5 / 20)
    assert s["evaluation_accuracy"]["value"] == pytest.approx((5 + 20) / 40)


def test_other_models_answers_are_extra_candidates(tmp_path):
    items = load_trivia(limit=12, seed=1)
    ids = [it.id for it in items]
    seen = []
    main = Client(fake_model(items, set(ids[:3]), judge="yes", seen=seen), cache=tmp_path / "c.sqlite",
                  progress=False)
    other_backend = fake_model(items, set(ids[:9]), wrong="Quuxville")
    other_backend.model_id = "other-model"
    other = Client(other_backend, cache=tmp_path / "c.sqlite", progress=False, accounting=main.accounting)
    res = run_paradox(main, others=[other], limit=12, seed=1, run_dir=tmp_path / "run")
    s = res.summary
    assert s["candidates"] == ["own", "gold", "other:other-model"]
    other_answers = {f"Quuxville {i}" for i in ids[9:]}
    assert {c for _, c in seen} == {it.gold for it in items} | {f"Zanzibar Quux {i}" for i in ids[3:]} | other_answers
    assert s["generation_accuracy_other:other-model"]["value"] == pytest.approx(9 / 12)
    # the yes-sayer is right on the other model's answer exactly where that answer is correct
    assert (s["evaluation_accuracy_others"]["k"], s["evaluation_accuracy_others"]["n"]) == (9, 12)
    # wrongly answered by the main model: questions 4..12 (9); the other model got 4..9 (6) of them right
    assert (s["unfaithful_evaluation_others"]["k"], s["unfaithful_evaluation_others"]["n"]) == (6, 9)
    ev = res.evaluations
    assert set(ev["candidate"]) == {"own", "gold", "other:other-model"} and len(ev) == 36
    usage = json.loads((tmp_path / "run/experiments/paradox/usage.json").read_text())
    assert any("other-model" in r["model"] for r in usage["rows"])  # one usage record for both models


def test_paradox_counts_unparseable_answers(tmp_path):
    def rule(req):
        if req.prompt_type == "paradox_answer":
            return "I am not sure, sorry"  # no JSON at all
        return {"correct": False}

    client = Client(FakeBackend(rule=rule), cache=tmp_path / "c.sqlite", progress=False)
    res = run_paradox(client, limit=6)
    assert res.summary["failures"]["generation"] == 6
    assert res.summary["generation_accuracy"]["n"] == 0  # no guessing
    # only the gold answers are judged (no own answers); an always-"incorrect" judge is wrong on all of them
    assert res.summary["evaluation_accuracy_gold"]["value"] == 0.0 and res.summary["evaluation_accuracy_gold"]["n"] == 6
    assert res.summary["evaluation_accuracy_own"]["n"] == 0 and res.summary["unfaithful_evaluation"]["n"] == 0
    assert client.accounting.totals().unparseable >= 6
