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


def fake_model(items, knows_when_generating):
    """Answers correctly only the questions in ``knows_when_generating``; as a judge it knows every answer."""
    by_q = {it.question: it for it in items}

    def rule(req):
        text = req.messages[-1]["content"]
        q = re.search(r"Question: (.*)", text).group(1).strip()
        it = by_q[q]
        if req.prompt_type == "paradox_answer":
            return {"answer": it.gold if it.id in knows_when_generating else "Zanzibar Quux"}
        cand = re.search(r"Proposed answer: (.*)", text).group(1).strip()
        return {"correct": is_correct(cand, it.answers)}

    return FakeBackend(rule=rule)


def test_paradox_known_result(tmp_path):
    items = load_trivia(limit=20, seed=0)
    knows = {it.id for it in items[:5]}
    backend = fake_model(items, knows)
    client = Client(backend, cache=tmp_path / "c.sqlite", progress=False)
    res = run_paradox(client, run_dir=tmp_path / "run", limit=20, seed=0)
    s = res.summary
    assert s["generation_accuracy"]["k"] == 5 and s["generation_accuracy"]["n"] == 20
    # a perfect judge: every evaluation right, so every wrongly answered question is evaluated right
    assert s["evaluation_accuracy"]["value"] == 1.0
    assert s["unfaithful_evaluation"]["k"] == 15 and s["unfaithful_evaluation"]["n"] == 15
    assert s["failures"]["generation"] == 0 and s["failures"]["judgement"] == 0
    rd = RunDir(tmp_path / "run")
    assert (rd / "experiments/paradox/summary.json").exists()
    ans = rd.read_answers()
    assert set(ans["prompt_type"]) == {"paradox_answer", "paradox_judge"} and len(ans) == 20 + 60
    # resume: a rerun is answered from the cache
    calls = backend.calls
    run_paradox(client, run_dir=tmp_path / "run", limit=20, seed=0)
    assert backend.calls == calls


def test_paradox_counts_unparseable_answers(tmp_path):
    def rule(req):
        if req.prompt_type == "paradox_answer":
            return "I am not sure, sorry"  # no JSON at all
        return {"correct": False}

    client = Client(FakeBackend(rule=rule), cache=tmp_path / "c.sqlite", progress=False)
    res = run_paradox(client, limit=6)
    assert res.summary["failures"]["generation"] == 6
    assert res.summary["generation_accuracy"]["n"] == 0  # no guessing
    # an always-"incorrect" judge is right on distractors only
    assert res.summary["evaluation_accuracy_distractor"]["value"] == 1.0
    assert res.summary["evaluation_accuracy_gold"]["value"] == 0.0
    assert client.accounting.totals().parse_failures >= 6
