"""The three paper formats, from hand-written fixtures in their original schemas."""

from collections import Counter

import pytest

from profile_align.data import Dataset, Verdict
from profile_align.data.loaders import load_dataset


def _prefs(ds):
    return {p.pair_id: p for p in ds.preferences_of("human")}


def test_tldr_axis(fixtures):
    ds = load_dataset(fixtures / "tldr_axis.jsonl")
    r = ds.report
    assert (r.format, ds.task) == ("tldr_axis", "summarization")
    assert (r.rows_read, r.examples, r.outputs, r.pairs_built, r.ties_dropped) == (10, 2, 6, 5, 1)
    assert r.dropped == {"summary.axes.overall is null": 1}
    ex = ds.example_map()["t3_1abcde"]
    assert ex.title.startswith("My (24F)") and ex.metadata["subreddit"] == "relationships"
    assert ex.source_text == ex.input and "fridge" in ex.input
    outs = ds.output_map()
    # ratings of the same summary averaged across workers
    s1 = next(o for o in outs.values() if o.text.startswith("Roommate keeps"))
    assert s1.metadata["n_ratings"] == 2 and s1.metadata["ratings"]["overall"] == 5.0
    assert s1.producer == "sup4_6b_t0.7"
    for p in ds.pairs:
        pr = _prefs(ds)[p.id]
        ra, rb = outs[p.a].metadata["ratings"]["overall"], outs[p.b].metadata["ratings"]["overall"]
        assert pr.verdict == (Verdict.A if ra > rb else Verdict.B)
        assert pr.strength == pytest.approx(abs(ra - rb))
        assert pr.judge == "human"


def test_tldr_axis_orientation_is_seeded_and_deterministic(fixtures):
    a = load_dataset(fixtures / "tldr_axis.jsonl")
    b = load_dataset(fixtures / "tldr_axis.jsonl")
    assert a.pairs == b.pairs
    flips = [load_dataset(fixtures / "tldr_axis.jsonl", seed=s).pairs for s in range(6)]
    assert {p.id for p in flips[0]} == {p.id for f in flips for p in f}  # ids do not depend on the seed
    assert len({tuple((p.a, p.b) for p in f) for f in flips}) > 1      # orientation does


def test_tldr_comparisons_majority(fixtures):
    ds = load_dataset(fixtures / "tldr_comparisons.json")
    r = ds.report
    assert r.format == "tldr_comparisons"
    assert (r.rows_read, r.examples, r.outputs, r.pairs_built, r.ties_dropped) == (5, 2, 4, 2, 1)
    outs = ds.output_map()
    for p in ds.pairs:
        pr = _prefs(ds)[p.id]
        winner = outs[p.a] if pr.verdict == Verdict.A else outs[p.b]
        assert winner.text.startswith(("Roommate keeps", "Car loan"))
    by_ex = {p.example_id: _prefs(ds)[p.id] for p in ds.pairs}
    assert by_ex["t3_1abcde"].metadata["annotations"] == 2 and by_ex["t3_1abcde"].metadata["votes_a"] == 2
    # the repeated summary is one output
    assert sum(o.text.startswith("Roommate keeps") for o in ds.outputs) == 1


def test_shp_domains(fixtures):
    ds = load_dataset(fixtures / "shp.jsonl")
    assert (ds.report.format, ds.task, len(ds.pairs)) == ("shp", "helpful_response", 4)
    aa = load_dataset(fixtures / "shp.jsonl", domain="askacademia")
    r = aa.report
    assert (r.rows_read, r.examples, r.outputs, r.pairs_built, r.ties_dropped) == (4, 2, 5, 3, 0)
    assert r.dropped == {"domain is not askacademia": 1}
    assert {e.metadata["domain"] for e in aa.examples} == {"askacademia_train"}
    assert load_dataset(fixtures / "shp.jsonl", domain="askacademia_train").report.pairs_built == 3
    assert load_dataset(fixtures / "shp.jsonl", domain="askacad").report.pairs_built == 0
    # labels=1: A preferred; the comment c1 shared by two rows is one output
    prefs = _prefs(aa)
    assert prefs["ab12cd::c1~c2"].verdict == Verdict.A and prefs["ab12cd::c3~c1"].verdict == Verdict.B
    assert prefs["ab12cd::c1~c2"].strength == 36
    assert "ab12cd::c1" in aa.output_map()
    assert aa.pair_map()["ab12cd::c3~c1"].a == "ab12cd::c3"


def test_webgpt(fixtures):
    ds = load_dataset(fixtures / "webgpt.jsonl")
    r = ds.report
    assert (r.format, ds.task) == ("webgpt", "document_qa")
    assert (r.rows_read, r.examples, r.outputs, r.pairs_built, r.ties_dropped) == (3, 2, 4, 2, 1)
    q1 = ds.example_map()["eli5_q1"]
    assert q1.input == "Why do onions make you cry?"
    # quotes of both answers of every comparison, "title: extract", deduplicated
    assert len(q1.sources) == 3 and len(set(q1.sources)) == 3
    assert q1.sources[0].startswith("Why Onions Make You Cry - Library of Congress: Onions produce")
    assert q1.source_text != q1.input
    verdicts = Counter(p.verdict for p in ds.preferences)
    assert verdicts == {Verdict.A: 1, Verdict.B: 1}
    q2 = next(p for p in ds.preferences if p.pair_id.startswith("eli5_q2"))
    assert q2.verdict == Verdict.B and q2.strength == pytest.approx(4 / 3)


@pytest.mark.parametrize("name,fmt", [("tldr_axis.jsonl", "tldr_axis"), ("tldr_comparisons.json", "tldr_comparisons"),
                                      ("shp.jsonl", "shp"), ("webgpt.jsonl", "webgpt")])
def test_autodetect_matches_explicit(fixtures, name, fmt):
    auto = load_dataset(fixtures / name)
    explicit = load_dataset(fixtures / name, format=fmt)
    assert auto.report.format == fmt and auto.pairs == explicit.pairs


@pytest.mark.parametrize("name", ["tldr_axis.jsonl", "shp.jsonl", "webgpt.jsonl", "tldr_comparisons.json"])
def test_round_trip_frames(fixtures, name):
    ds = load_dataset(fixtures / name)
    back = Dataset.from_frames(ds.to_frames(), name=ds.name, task=ds.task)
    assert back.examples == ds.examples and back.outputs == ds.outputs and back.pairs == ds.pairs
    assert [(p.pair_id, p.verdict, p.strength) for p in back.preferences] == \
        [(p.pair_id, p.verdict, p.strength) for p in ds.preferences]
    assert [dict(e.metadata) for e in back.examples] == [dict(e.metadata) for e in ds.examples]


def test_limit_keeps_first_examples(fixtures):
    ds = load_dataset(fixtures / "tldr_axis.jsonl", limit=1)
    assert [e.id for e in ds.examples] == ["t3_1abcde"] and ds.report.pairs_built == 2
    assert ds.report.dropped["rows of examples beyond limit=1"] == 4  # + 1 row with a null rating


def test_task_override(fixtures):
    assert load_dataset(fixtures / "shp.jsonl", task="summary").task == "summarization"
