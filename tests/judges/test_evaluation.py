import pytest

from profile_align.backends import Client
from profile_align.backends.fake import FakeBackend, last_user
from profile_align.data.loaders import load_dataset
from profile_align.data.model import Verdict
from profile_align.judges import (COMBINE_RULES, EvaluationJudge, combine_verdicts, parse_better, position_stats,
                                  verdict_from_position)


def test_position_mapping():
    assert verdict_from_position("1", "AB") == Verdict.A
    assert verdict_from_position("2", "AB") == Verdict.B
    assert verdict_from_position("1", "BA") == Verdict.B  # position 1 shows B in the swapped order
    assert verdict_from_position("2", "BA") == Verdict.A
    assert verdict_from_position("tie", "BA") == Verdict.TIE
    assert verdict_from_position(None, "AB") is None
    with pytest.raises(ValueError):
        verdict_from_position("1", "XY")


def test_combine_rules():
    A, B, T = Verdict.A, Verdict.B, Verdict.TIE
    assert combine_verdicts(A, A) == A and combine_verdicts(B, B) == B
    assert combine_verdicts(A, B) == T  # disagreement -> tie
    assert combine_verdicts(A, None) == A and combine_verdicts(None, B) == B
    assert combine_verdicts(None, None) is None
    assert combine_verdicts(A, None, "strict") is None and combine_verdicts(A, B, "strict") == T
    assert combine_verdicts(A, B, "first") == A
    with pytest.raises(ValueError, match="unknown combine rule"):
        combine_verdicts(A, A, "vote")
    assert set(COMBINE_RULES) >= {"tie", "strict", "first"}


def test_parse_better_variants():
    assert parse_better({"better": "1"}) == "1"
    assert parse_better({"better": 2}) == "2"
    assert parse_better({"better": "Tie", "justification": "x"}) == "tie"
    assert parse_better({"better": " tie. "}) == "tie"
    assert parse_better({"better": "3"}) is None
    assert parse_better({"verdict": "1"}) is None
    assert parse_better("1") is None
    assert parse_better({"better": True}) is None


def test_position_stats():
    # always "1": first position wins everything, every pair flips
    s = position_stats([("1", "1"), ("1", "1")])
    assert s["first_position_win_rate"] == 1.0 and s["flip_rate"] == 1.0
    # consistent judge: AB says 1 (A), BA says 2 (A)
    s = position_stats([("1", "2"), ("2", "1"), ("tie", "tie"), (None, "1")])
    assert s["flip_rate"] == 0.0
    assert s["first_position_win_rate"] == pytest.approx(3 / 5)
    assert s["answer_tie_rate"] == pytest.approx(2 / 7)
    assert s["n_pairs_both_orders"] == 3


@pytest.fixture(scope="module")
def ds():
    return load_dataset("summeval").subset([e.id for e in load_dataset("summeval").examples[:2]])


def _judge(rule, **kw):
    client = Client(FakeBackend("json", rule=rule, model_id="ev"), cache_mode="off", progress=False)
    return EvaluationJudge(client, label="m", task="summarization", **kw)


def _texts(req):
    u = last_user(req)
    return u.split("Summary 1:\n", 1)[1].split("\n\nSummary 2:")[0], u.split("Summary 2:\n", 1)[1].split("\n\nReply")[0]


def test_swap_logic_consistent_judge(ds):
    pairs = ds.pairs[:10]
    outs = ds.output_map()

    def longer(req):  # prefers the longer text whatever its position
        t1, t2 = _texts(req)
        return {"better": "1" if len(t1) > len(t2) else "2" if len(t2) > len(t1) else "Tie", "justification": "length"}

    res = _judge(longer).run(ds.examples, ds.outputs, pairs)
    assert res.name == "m:evaluation" and len(res.preferences) == 10
    for p, pr in zip(pairs, res.preferences):
        la, lb = len(outs[p.a].text.strip()), len(outs[p.b].text.strip())
        assert pr.verdict == (Verdict.A if la > lb else Verdict.B if lb > la else Verdict.TIE)
    assert res.stats["flip_rate"] == 0.0
    assert list(res.answers["variant"]).count("AB") == 10 and list(res.answers["variant"]).count("BA") == 10
    assert res.answers["valid"].all()


def test_position_biased_judge_becomes_ties(ds):
    res = _judge(lambda r: {"better": "1", "justification": "first"}).run(ds.examples, ds.outputs, ds.pairs[:6])
    assert all(p.verdict == Verdict.TIE for p in res.preferences)
    assert res.stats["first_position_win_rate"] == 1.0 and res.stats["flip_rate"] == 1.0
    assert res.stats["tie_rate"] == 1.0
    res1 = _judge(lambda r: {"better": "1", "justification": "first"}, both_orders=False).run(
        ds.examples, ds.outputs, ds.pairs[:6])
    assert all(p.verdict == Verdict.A for p in res1.preferences) and len(res1.answers) == 6


def test_invalid_answers_counted_and_pair_skipped(ds):
    pairs = ds.pairs[:4]
    outs = ds.output_map()
    bad_a, bad_b = outs[pairs[0].a].text.strip(), outs[pairs[0].b].text.strip()

    def rule(req):
        u = last_user(req)
        if bad_a in u and bad_b in u:
            return "I refuse to answer in JSON"
        return {"better": "2", "justification": "second"}

    res = _judge(rule).run(ds.examples, ds.outputs, pairs)
    assert res.failures.counts["evaluation/pairwise_eval"]["parse_failed"] == 2
    assert len(res.preferences) == 3 and res.stats["n_pairs_skipped"] == 1
    assert (~res.answers["valid"]).sum() == 2
    assert any("no valid verdict" in r for r in res.failures.reasons)


def test_guidance_goes_into_prompt(ds):
    seen = []
    _judge(lambda r: seen.append(last_user(r)) or {"better": "Tie", "justification": "same"},
           guidance="Prefer summaries that state facts from the article.").run(ds.examples, ds.outputs, ds.pairs[:1])
    assert all("Prefer summaries that state facts from the article." in u for u in seen) and len(seen) == 2
