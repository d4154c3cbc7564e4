import json
import re

import pytest

from profile_align.backends import Client
from profile_align.backends.fake import FakeBackend, last_user
from profile_align.data.loaders import load_dataset
from profile_align.data.model import Verdict
from profile_align.judges import GenerationJudge, parse_graded


# -- parsing -------------------------------------------------------------------------------------
def _items(scores):
    return {"outputs": [{"score": s, "text": f"text for {s}"} for s in scores]}


def test_parse_complete_json():
    gp = parse_graded(json.dumps(_items([1, 2, 3, 4, 5])), 5)
    assert gp.ok and gp.source == "json"
    assert gp.texts == {s: f"text for {s}" for s in range(1, 6)}


def test_parse_reordered_scores_are_mapped_by_score():
    gp = parse_graded(json.dumps(_items([4, 2, 5, 1, 3])), 5)
    assert gp.ok
    assert gp.texts[4] == "text for 4" and gp.texts[1] == "text for 1"


def test_parse_extra_text_and_fences_around_json():
    reply = "Sure, here they are:\n```json\n" + json.dumps(_items([1, 2, 3, 4, 5])) + "\n```\nHope it helps!"
    gp = parse_graded(reply, 5)
    assert gp.ok and len(gp.texts) == 5


def test_parse_missing_score_is_a_problem():
    gp = parse_graded(json.dumps(_items([1, 2, 4, 5])), 5)
    assert not gp.ok
    assert any("missing score(s) [3]" in p for p in gp.problems)


def test_parse_duplicate_score_is_a_problem_and_not_guessed():
    gp = parse_graded(json.dumps(_items([1, 2, 2, 4, 5])), 5)
    assert not gp.ok
    assert any("duplicate score 2" in p for p in gp.problems)
    assert 2 not in gp.texts
    assert any("missing score(s) [3]" in p for p in gp.problems)


def test_parse_out_of_range_and_empty_text():
    obj = {"outputs": [{"score": s, "text": "t"} for s in (1, 2, 3, 4)] + [{"score": 9, "text": "x"}]}
    assert any("outside 1..5" in p for p in parse_graded(obj, 5).problems)
    obj = {"outputs": [{"score": s, "text": "" if s == 3 else "t"} for s in range(1, 6)]}
    assert any("empty text for score 3" in p for p in parse_graded(obj, 5).problems)


def test_parse_labelled_sections_when_no_json():
    reply = "Here you go.\nScore 2: a weak one.\n**Score 1:** a bad one.\nScore 3 - ok one\nScore 5: best one\nScore 4: good one"
    gp = parse_graded(reply, 5)
    assert gp.ok and gp.source == "sections"
    assert gp.texts[1] == "a bad one." and gp.texts[3] == "ok one"


def test_parse_plain_dict_keyed_by_score_and_garbage():
    assert parse_graded({"1": "a", "2": "b", "3": "c"}, 3).ok
    gp = parse_graded("I cannot do that.", 5)
    assert not gp.ok and gp.source == "none"


# -- the judge -----------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def examples():
    return load_dataset("summeval").examples[:3]


def _client(rule):
    return Client(FakeBackend("json", rule=rule, model_id="gen"), cache_mode="off", progress=False)


def _score(req):
    return int(re.search(r"would get the score (\d+) on a scale", last_user(req)).group(1))


def test_per_level_pairs_and_preferences(examples):
    client = _client(lambda r: {"text": f"summary aimed at score {_score(r)} " + "w " * _score(r)})
    res = GenerationJudge(client, label="m", task="summarization", variant="per-level").run(examples)
    assert res.name == "m:generation" and res.policy == "generation"
    assert len(res.outputs) == 15 and len(res.pairs) == 30
    outs = {o.id: o for o in res.outputs}
    for p, pref in zip(res.pairs, res.preferences):
        assert pref.verdict == Verdict.A  # a = the higher target score
        assert outs[p.a].metadata["target_score"] > outs[p.b].metadata["target_score"]
    assert set(res.answers["variant"]) == {"1", "2", "3", "4", "5"}
    assert res.answers["valid"].all() and (res.answers["stage"] == "generation").all()
    assert res.n_failed == 0


def test_per_level_failed_level_skips_the_example(examples):
    def rule(req):
        s = _score(req)
        if s == 3 and examples[1].input[:60] in last_user(req):
            return "not json at all"
        return {"text": f"text {s}"}

    res = GenerationJudge(_client(rule), label="m", task="summarization", variant="per-level").run(examples)
    assert {o.example_id for o in res.outputs} == {examples[0].id, examples[2].id}
    assert len(res.pairs) == 20
    assert res.failures.counts["generation/scored_generation_level"]["parse_failed"] == 1
    assert res.stats["n_examples_skipped"] == 1
    assert any("example skipped" in r for r in res.failures.reasons)
    assert (~res.answers["valid"]).sum() == 1


def test_one_call_missing_score_skips_example_and_counts(examples):
    def rule(req):
        if examples[0].input[:50] in last_user(req):
            return {"outputs": [{"score": s, "text": f"t{s}"} for s in (1, 2, 4, 5, 5)]}
        return {"outputs": [{"score": s, "text": f"t{s}"} for s in (5, 3, 1, 2, 4)]}

    res = GenerationJudge(_client(rule), label="m", task="summarization", variant="one-call").run(examples)
    assert examples[0].id not in {o.example_id for o in res.outputs}
    assert len(res.pairs) == 20
    assert res.failures.counts["generation/scored_generation"] == {"requests": 3, "failed": 0, "parse_failed": 1}


def test_identical_texts_give_no_pair(examples):
    res = GenerationJudge(_client(lambda r: {"text": "same text" if _score(r) < 3 else f"t{_score(r)}"}),
                          label="m", task="summarization", variant="per-level").run(examples[:1])
    assert len(res.pairs) == 9  # 10 pairs minus (2 > 1)
    assert res.stats["n_identical_text_pairs"] == 1


def test_direct_output_is_not_in_pairs(examples):
    def rule(req):
        if req.prompt_type == "direct_generation":
            return {"text": "a direct summary"}
        return {"text": f"t{_score(req)}"}

    res = GenerationJudge(_client(rule), label="m", task="summarization", variant="per-level",
                          direct=True).run(examples[:1])
    direct = [o for o in res.outputs if o.metadata.get("direct")]
    assert len(direct) == 1 and direct[0].producer == "m:direct"
    assert all(direct[0].id not in (p.a, p.b) for p in res.pairs)


def test_bad_settings_raise():
    client = _client(lambda r: {})
    with pytest.raises(ValueError, match="variant"):
        GenerationJudge(client, label="m", task="summarization", variant="five")
    with pytest.raises(ValueError, match="k >= 2"):
        GenerationJudge(client, label="m", task="summarization", k=1)
