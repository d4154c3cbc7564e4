"""The shipped copies of the project's sets: counts against shared/data/README.md and PROVENANCE.md."""

import gzip
import json
from collections import Counter

import pytest

import profile_align.data.loaders as loaders
from profile_align.data import Dataset, Verdict
from profile_align.data.loaders import load_dataset, read_shipped_rows, shipped_datasets


def _verdicts(ds):
    c = Counter(p.verdict for p in ds.preferences_of("human"))
    return c[Verdict.A], c[Verdict.B]


def test_shipped_registry():
    sets = shipped_datasets()
    assert set(sets) == {"summeval", "hh-rlhf", "llmbar", "mtbench", "triviaqa"}
    for name, s in sets.items():
        assert s.path.is_file() and s.path.suffixes[-2:] == [".jsonl", ".gz"], name
        assert s.licence and s.description
        with gzip.open(s.path, "rb") as fh:  # byte-stable gzip: no mtime, no file name
            assert fh.read(1)
        assert s.path.read_bytes()[4:8] == b"\0\0\0\0"
    assert (sets["llmbar"].path.parent / "PROVENANCE.md").is_file()


def test_llmbar_all_419():
    ds = load_dataset("llmbar")
    assert (ds.name, ds.task, ds.report.format) == ("llmbar", "helpful_response", "llmbar")
    assert ds.report.rows_read == 419 and len(ds.pairs) == 419 and ds.report.ties_dropped == 0
    assert _verdicts(ds) == (206, 213)
    assert Counter(e.metadata["subset"] for e in ds.examples)["Natural"] == 100


def test_mtbench_200():
    ds = load_dataset("mtbench")
    assert ds.report.format == "mtbench" and len(ds.pairs) == 200
    assert _verdicts(ds) == (101, 99)
    assert len({e.input for e in ds.examples}) == 75


def test_hh_rlhf_first_200():
    ds = load_dataset("hh-rlhf")
    assert ds.report.rows_read == 200 and len(ds.pairs) == 200
    assert _verdicts(ds) == (110, 90)
    ex = ds.examples[0]
    assert ex.id == "hh-harmless-base-test-00000" and ex.input.startswith("Human:")
    assert ex.metadata == {"subset": "harmless-base", "source_line": 0}
    assert ds.pairs[0].a == "hh-harmless-base-test-00000::a"


def test_summeval_20_docs():
    ds = load_dataset("summeval")
    r = ds.report
    assert (ds.task, r.rows_read, r.examples) == ("summarization", 320, 20)
    assert r.outputs == 302 and r.dropped[next(iter(r.dropped))] == 18  # identical summaries merged
    assert r.pairs_built + r.ties_dropped == sum(
        n * (n - 1) // 2 for n in Counter(o.example_id for o in ds.outputs).values())
    # Exact arithmetic: each rating is a mean of 3 experts (a multiple of 1/3), a merged output's the mean
    # of 2 to 4 such (1/6, 1/9, 1/12), so 36 x (sum of the four aspects) is an integer. Float averaging
    # made 39 exactly tied pairs preferences (2,079 pairs / 64 ties before).
    assert (r.pairs_built, r.ties_dropped) == (2040, 103)
    a, b = _verdicts(ds)
    assert 0.4 < a / (a + b) < 0.6  # orientation is not "better first"
    ex = ds.examples[0]
    assert ex.source_text == ex.input and len(ex.input) > 500 and "reference" in ex.metadata
    outs = ds.output_map()

    def sixths(o):
        x = 36 * sum(outs[o].metadata["ratings"].values())
        assert abs(x - round(x)) < 1e-9
        return round(x)

    for p in ds.preferences:
        pair = ds.pair_map()[p.pair_id]
        d = sixths(pair.a) - sixths(pair.b)
        assert d != 0 and p.verdict == (Verdict.A if d > 0 else Verdict.B)
        assert p.strength == pytest.approx(abs(d) / 144)
    all_pairs = [(x, y) for e in ds.examples for x in outs if outs[x].example_id == e.id
                 for y in outs if outs[y].example_id == e.id and x < y]
    assert sum(sixths(x) == sixths(y) for x, y in all_pairs) == 103


def test_summeval_equal_means_are_ties(tmp_path):
    """The issue's example: {4.0, 5, 5, 3.667} vs {3.667, 5, 5, 4.0} (float means differ in the last digit)."""
    t = 11 / 3
    rows = [{"doc_id": "d", "system": s, "source": "An article.", "summary": f"Summary {s}.",
             "ratings": dict(zip(("coherence", "consistency", "fluency", "relevance"), r))}
            for s, r in (("M1", (4.0, 5, 5, t)), ("M2", (t, 5, 5, 4.0)), ("M3", (1, 1, 1, 1)))]
    assert sum(rows[0]["ratings"].values()) / 4 != sum(rows[1]["ratings"].values()) / 4
    p = tmp_path / "s.jsonl"
    p.write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    ds = load_dataset(p)
    assert (ds.report.pairs_built, ds.report.ties_dropped) == (2, 1)


def test_summeval_aspect_counts_exact():
    got = {a: (lambda r: (r.pairs_built, r.ties_dropped))(load_dataset("summeval", aspect=a).report)
           for a in ("coherence", "consistency", "fluency", "relevance")}
    # float comparison gave coherence (1917, 226) and relevance (1865, 278): merged outputs' means
    assert got == {"coherence": (1914, 229), "consistency": (761, 1382), "fluency": (1074, 1069),
                   "relevance": (1861, 282)}


@pytest.mark.parametrize("aspect", ["coherence", "consistency", "fluency", "relevance"])
def test_summeval_aspects(aspect):
    ds = load_dataset("summeval", aspect=aspect)
    n_pairs = ds.report.pairs_built + ds.report.ties_dropped
    assert n_pairs == 2143  # every C(n,2) pair per document, ties or not
    outs = ds.output_map()
    p = ds.preferences[0]
    pair = ds.pair_map()[p.pair_id]
    assert p.strength == pytest.approx(abs(outs[pair.a].metadata["ratings"][aspect]
                                           - outs[pair.b].metadata["ratings"][aspect]))


def test_summeval_limit():
    ds = load_dataset("summeval", limit=3)
    assert ds.report.examples == 3 and ds.report.dropped["rows of examples beyond limit=3"] == 17 * 16


def test_triviaqa_rows():
    rows = list(read_shipped_rows("triviaqa"))
    assert len(rows) == 150 and {"id", "question", "answer", "answers"} <= rows[0].keys()
    with pytest.raises(ValueError, match="not a preference data set"):
        load_dataset("triviaqa")


def test_round_trip_shipped():
    ds = load_dataset("summeval", limit=2)
    back = Dataset.from_frames(ds.to_frames(), name=ds.name, task=ds.task)
    assert back.pairs == ds.pairs and back.outputs == ds.outputs
    assert [dict(o.metadata) for o in back.outputs] == [json.loads(json.dumps(dict(o.metadata))) for o in ds.outputs]


def test_package_does_not_read_shared_at_run_time():
    import inspect

    for mod in (loaders, loaders.shipped, loaders.shared, loaders.io):
        assert "shared/data" not in inspect.getsource(mod).replace("\\", "/")
